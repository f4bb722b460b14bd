//! The harness shared by the bot's end-to-end tests: the loopback Discord stand-in of the test
//! kit with a real serenity client of the bot connected to it, and the waits for what the bot
//! sent back. Each test file is its own crate doing `mod common;`.

#![allow(unreachable_pub)]

use std::time::Duration;

use mailcheck_bot::Data;
use mailcheck_testkit::discord::{
    DiscordStandIn, DiscordStandInBuilder, Recorded, SentInteraction,
};
use tokio::task::JoinHandle;

/// The bot connected to a Discord stand-in; the client stops when this is dropped.
pub struct Bot {
    pub discord: DiscordStandIn,
    /// How long each wait of this harness may take (it ends as soon as the event arrives).
    wait: Duration,
    client: JoinHandle<()>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.client.abort();
    }
}

impl Bot {
    /// Starts a stand-in (as `discord.com` over TLS, so serenity's own rate limiter runs, as
    /// against Discord), connects a bot client with `data` to it and waits until it is ready.
    pub async fn start(data: Data, wait: Duration) -> Self {
        Self::start_with(DiscordStandIn::builder().tls(true), data, wait).await
    }

    /// [`Bot::start`] with a stand-in of these settings (deadlines, heartbeats, rate limits).
    pub async fn start_with(builder: DiscordStandInBuilder, data: Data, wait: Duration) -> Self {
        let discord = builder.tls(true).start().await.unwrap();
        let http = serenity::all::HttpBuilder::new("standin-token")
            .client(discord.reqwest_client().unwrap())
            .build();
        let mut client = serenity::all::ClientBuilder::new_with_http(
            http,
            serenity::all::GatewayIntents::GUILDS,
        )
        .framework(mailcheck_bot::framework(data))
        .await
        .unwrap();
        let client = tokio::spawn(async move {
            let _ = client.start().await;
        });
        discord.wait_ready(wait).await.unwrap();
        Self {
            discord,
            wait,
            client,
        }
    }

    /// Sends `/mailcheck <input>` as `user` (in `guild`, or a DM).
    pub fn send(&self, user: u64, guild: Option<u64>, input: &str) -> SentInteraction {
        self.discord.send_interaction(user, guild, input).unwrap()
    }

    /// The first answer to the interaction `token` (the defer, or a private message).
    pub async fn answer(&self, token: &str) -> Recorded {
        self.discord
            .wait_for(self.wait, |e| e.token() == Some(token))
            .await
            .unwrap()
    }

    /// The final edit of the answer to `token`: the one that carries the report file.
    pub async fn final_edit(&self, token: &str) -> Recorded {
        self.discord
            .wait_for(self.wait, |e| {
                e.is_edit_original_of(token) && !e.files().is_empty()
            })
            .await
            .unwrap()
    }

    /// Reading from the first event on: the first answer to `token`, then the first edit of it
    /// whose embed description contains `progress`.
    pub async fn first_answer_and_progress(
        &self,
        token: &str,
        progress: &str,
    ) -> (Recorded, Recorded) {
        let mut cursor = self.discord.cursor_from_start();
        let first = cursor
            .wait_for(self.wait, |e| e.token() == Some(token))
            .await
            .unwrap();
        let edit = cursor
            .wait_for(self.wait, |e| {
                e.is_edit_original_of(token)
                    && e.embeds().first().is_some_and(|m| {
                        m["description"]
                            .as_str()
                            .is_some_and(|d| d.contains(progress))
                    })
            })
            .await
            .unwrap();
        (first, edit)
    }
}

/// A hostile greeting arrived neutralized in `text`: none of `bad` is left, mentions are broken
/// with a zero-width space and markdown is escaped.
pub fn assert_neutralized(text: &str, bad: &[&str]) {
    for bad in bad {
        assert!(!text.contains(bad), "{bad} leaked: {text}");
    }
    assert!(
        text.contains("@\u{200B}everyone") && text.contains("<\u{200B}@123>"),
        "{text}"
    );
    assert!(
        text.contains("\\\\*\\\\*x\\\\*\\\\*"),
        "markdown escaped: {text}"
    );
}
