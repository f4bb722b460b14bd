//! Where an answer goes ([`Target`]: a slash command or a button press) and how each Discord
//! call is made: the acknowledgement, edits and follow-ups, private replies, and the retries
//! on 5xx/429 ([`with_retries`]).

use std::future::Future;
use std::time::Duration;

use serenity::all::{
    CommandInteraction, ComponentInteraction, CreateAttachment, CreateEmbed,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse, Http,
};
use tracing::warn;

use super::no_mentions;
use crate::Error;

/// The interaction being answered.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `/mailcheck`: the answer is the command's own response.
    Command(&'a CommandInteraction),
    /// A button: the answer is the message the button is on.
    Component(&'a ComponentInteraction),
}

impl Target<'_> {
    /// Answers at once with a private text (nothing else follows).
    pub async fn private_text(&self, http: &Http, text: String) -> Result<(), Error> {
        let message = CreateInteractionResponseMessage::new()
            .ephemeral(true)
            .content(text)
            .allowed_mentions(no_mentions());
        self.respond(http, CreateInteractionResponse::Message(message))
            .await
    }

    /// Answers at once, privately, with an embed and an optional file.
    pub async fn private_embed(
        &self,
        http: &Http,
        embed: CreateEmbed,
        file: Option<CreateAttachment>,
    ) -> Result<(), Error> {
        let mut message = CreateInteractionResponseMessage::new()
            .ephemeral(true)
            .embed(embed)
            .allowed_mentions(no_mentions());
        if let Some(file) = file {
            message = message.add_file(file);
        }
        self.respond(http, CreateInteractionResponse::Message(message))
            .await
    }

    pub(super) async fn respond(
        &self,
        http: &Http,
        response: CreateInteractionResponse,
    ) -> Result<(), Error> {
        match self {
            Self::Command(i) => i.create_response(http, response).await?,
            Self::Component(i) => i.create_response(http, response).await?,
        }
        Ok(())
    }

    /// The acknowledgement within Discord's 3 seconds: a "thinking…" answer (private or not)
    /// for the command, a silent one for a button (its message is then edited in place).
    pub(super) async fn acknowledge(&self, http: &Http, private: bool) -> Result<(), Error> {
        match self {
            Self::Command(i) => {
                let defer = CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(private),
                );
                i.create_response(http, defer).await?;
            }
            Self::Component(i) => {
                i.create_response(http, CreateInteractionResponse::Acknowledge)
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn edit(
        &self,
        http: &Http,
        builder: EditInteractionResponse,
    ) -> serenity::Result<()> {
        let builder = builder.allowed_mentions(no_mentions());
        match self {
            Self::Command(i) => i.edit_response(http, builder).await.map(drop),
            Self::Component(i) => i.edit_response(http, builder).await.map(drop),
        }
    }

    pub(super) async fn followup(
        &self,
        http: &Http,
        builder: CreateInteractionResponseFollowup,
    ) -> serenity::Result<()> {
        let builder = builder.allowed_mentions(no_mentions());
        match self {
            Self::Command(i) => i.create_followup(http, builder).await.map(drop),
            Self::Component(i) => i.create_followup(http, builder).await.map(drop),
        }
    }
}

/// Whether a failed Discord call is worth another try: a 5xx, a 429 the rate limiter passed
/// on, or a network error.
pub fn retryable(e: &serenity::Error) -> bool {
    use serenity::all::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.is_server_error() || r.status_code.as_u16() == 429
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        _ => false,
    }
}

/// Tries `call` up to four times, backing off 0.5, 1 and 2 s between tries, while it fails in
/// a way worth retrying.
pub async fn with_retries<F, Fut>(what: &str, mut call: F) -> serenity::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = serenity::Result<()>>,
{
    let mut wait = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 4 && retryable(&e) => {
                warn!(attempt, "{what} failed, retrying in {wait:?}: {e}");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
