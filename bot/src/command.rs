//! The `/mailcheck domain:<text> [private:<bool>]` slash command.

use mailcheck::DomainName;
use poise::CreateReply;

use crate::answer::{self, Asker, Request, Target};
use crate::sanitize::untrusted;
use crate::{Error, HasMailcheck};

pub use crate::answer::{BUSY_TEXT, cooldown_text, no_mentions};

/// The user-facing text for input that is not a domain.
pub fn invalid_input_text(error: &mailcheck::InputError) -> String {
    format!(
        "I can't check that: {}.\nGive a domain (`example.com`), an e-mail address \
         (`someone@example.com`) or a URL (`https://example.com/`).",
        untrusted(&error.to_string())
    )
}

/// Answers privately with `text` (input problems, cooldowns, a busy bot).
pub(crate) async fn ephemeral<U: HasMailcheck>(
    ctx: poise::Context<'_, U, Error>,
    text: String,
) -> Result<(), Error> {
    ctx.send(
        CreateReply::default()
            .ephemeral(true)
            .content(text)
            .allowed_mentions(no_mentions()),
    )
    .await?;
    Ok(())
}

/// Check a domain's mail delivery: MX, DNS, port 25, TLS, blocklists.
///
/// Accepts a domain, an e-mail address or a URL (IDN included). The answer is public in the
/// channel unless the asker (or the server's default) makes it private; problems with the
/// input, cooldowns and a busy bot are answered privately.
#[poise::command(slash_command, rename = "mailcheck")]
#[allow(unreachable_pub)] // the macro wraps this function in `mailcheck()`, which is exported
pub async fn mailcheck<U: HasMailcheck>(
    ctx: poise::Context<'_, U, Error>,
    #[description = "A domain, e-mail address or URL, e.g. example.com"]
    #[max_length = 300]
    domain: String,
    #[description = "Only you see the answer (default: this server's setting)"] private: Option<
        bool,
    >,
) -> Result<(), Error> {
    let data = ctx.data().mailcheck();
    let guild = ctx.guild_id().map(|g| g.get());
    if !data.config.allowed_in(guild) {
        return ephemeral(ctx, answer::NOT_HERE_TEXT.to_owned()).await;
    }
    let domain = match DomainName::parse(&domain) {
        Ok(d) => d,
        Err(e) => return ephemeral(ctx, invalid_input_text(&e)).await,
    };
    let poise::Context::Application(actx) = ctx else {
        return Ok(());
    };
    let asker = Asker {
        user: ctx.author().id.get(),
        guild,
    };
    let request = Request {
        domain,
        private: private.unwrap_or_else(|| data.config.private_default(guild)),
        fresh: false,
        answer_id: None,
    };
    answer::answer(
        ctx.http(),
        data,
        Target::Command(actx.interaction),
        asker,
        request,
    )
    .await
}
