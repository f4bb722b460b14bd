//! A Discord API stand-in: REST (plain HTTP/1.1, and HTTPS as `discord.com` in TLS mode) and a
//! gateway WebSocket, all on loopback.
//!
//! It speaks enough of Discord's API v10 for a real serenity 0.12 client (with poise on top) to
//! connect, register slash commands, receive interactions and button clicks and answer them, and
//! it behaves like Discord where a bot can get it wrong: rate limits with their headers and 429s,
//! payload limits, the 3 s callback window, token expiry, gateway heartbeats, reconnects and
//! resumes. Every REST call and gateway event is recorded, in arrival order, with a timestamp and
//! the status it was answered with, as a [`Recorded`] [`DiscordEvent`]; tests wait for the ones
//! they expect with [`DiscordStandIn::wait_for`] or an [`EventCursor`], which wake on arrival
//! instead of polling.
//!
//! # Pointing serenity at it
//!
//! Plain HTTP through serenity's proxy option (the rate limiter must be off: it ignores the
//! proxy). The same code runs for real in `crates/testkit/tests/it/discord_standin.rs`.
//!
//! ```text
//! let discord = DiscordStandIn::start().await?;
//! let http = serenity::HttpBuilder::new("Bot test-token")
//!     .proxy(discord.http_base())      // replaces https://discord.com in every route
//!     .ratelimiter_disabled(true)      // the ratelimiter ignores the proxy
//!     .build();
//! let mut client = serenity::ClientBuilder::new_with_http(http, intents).framework(fw).await?;
//! tokio::spawn(async move { client.start().await }); // one shard: no GET /gateway/bot
//! discord.wait_ready(Duration::from_secs(10)).await?;
//! let sent = discord.send_interaction(42, Some(7), "example.test")?;
//! let edit = discord
//!     .wait_for(Duration::from_secs(10), |e| e.is_edit_original_of(&sent.token))
//!     .await?;
//! ```
//!
//! With poise, also call `initialize_owners(false)`, or the framework asks for
//! `GET /oauth2/applications/@me` at startup (the stand-in answers 404).
//!
//! # TLS mode: serenity with its rate limiter on
//!
//! [`DiscordStandIn::start_tls`] (or `builder().tls(true)`) also serves REST over rustls with a
//! leaf for `discord.com` signed by a fresh test CA. [`DiscordStandIn::reqwest_client`] builds the
//! reqwest 0.12 client serenity uses, resolving `discord.com` to the stand-in and trusting only
//! that CA, so serenity's own URLs reach it and its rate limiter runs (tested in
//! `crates/testkit/tests/it/discord_rest.rs`). The gateway stays `ws://127.0.0.1:P`.
//!
//! ```text
//! let discord = DiscordStandIn::start_tls().await?;           // installs nothing global
//! let http = serenity::HttpBuilder::new("Bot test-token")
//!     .client(discord.reqwest_client()?)                      // installs the ring provider
//!     .build();                                               // rate limiter ON, no proxy
//! let client = serenity::ClientBuilder::new_with_http(http, intents).event_handler(h).await?;
//! discord.fail_next(RouteMatch::edit_original(), 3,
//!     Fault::RateLimited { retry_after: Duration::from_millis(50), global: false });
//! ```
//!
//! # Test controls at a glance
//!
//! ```text
//! let discord = DiscordStandIn::builder()
//!     .interaction_deadline(Duration::ZERO)             // every callback is late: 404 10062
//!     .heartbeat_interval(Duration::from_secs(3))
//!     .rate_limit(Bucket::Webhook, RateLimit::new(1, Duration::from_millis(300)))
//!     .start().await?;
//! discord.expire_token(&sent.token);                   // webhook calls: 401 50027
//! let hold = discord.hold(RouteMatch::create_command()); // registrations wait unanswered
//! hold.wait_arrived(1, wait).await?; hold.release();     // until the test lets them go
//! discord.drop_gateway()?;                             // serenity resumes; queued events replay
//! discord.request_reconnect()?; discord.invalidate_session(false)?;   // op 7, op 9
//! let id = discord.original_message_id(&sent.token).unwrap();
//! let click = discord.click(id, "retry", 42, Some(guild))?;          // INTERACTION_CREATE type 3
//! let faults = discord.events().iter().filter(|r| r.event.is_fault_on(&sent.token)).count();
//! ```
//!
//! # Routes
//!
//! Paths are under `/api/v10`; `{hook}` stands for `webhooks/{app}/{token}`, the webhook of
//! one interaction.
//!
//! | route | answer | recorded as [`DiscordEvent`]`::` |
//! |---|---|---|
//! | `GET /gateway`, `GET /gateway/bot` | the gateway URL | [`Other`] |
//! | `GET /users/@me` | the bot user | [`Other`] |
//! | `PUT /applications/{app}/commands` | `[]` | [`RegisterCommands`] |
//! | `PUT /applications/{app}/guilds/{g}/commands` | `[]` | [`RegisterCommands`] |
//! | `POST /applications/{app}/commands` | 201, the command and its ids | [`CreateCommand`] |
//! | `POST /applications/{app}/guilds/{g}/commands` | the same | [`CreateCommand`] |
//! | `POST /interactions/{id}/{token}/callback` | 204 | [`Callback`] |
//! | `PATCH /{hook}/messages/@original` | a Message | [`EditOriginal`] |
//! | `GET /{hook}/messages/@original` | a Message | [`GetOriginal`] |
//! | `DELETE /{hook}/messages/@original` | 204 | [`DeleteOriginal`] |
//! | `POST /{hook}` | a Message | [`Followup`] |
//! | `PATCH /{hook}/messages/{id}` | a Message | [`EditFollowup`] |
//! | `GET`/`DELETE /{hook}/messages/{id}` | a Message / 204 | [`Other`] |
//! | anything else | 404 `{"message":"404: Not Found","code":0}` | [`Other`] |
//!
//! [`Other`]: DiscordEvent::Other
//! [`RegisterCommands`]: DiscordEvent::RegisterCommands
//! [`CreateCommand`]: DiscordEvent::CreateCommand
//! [`Callback`]: DiscordEvent::Callback
//! [`EditOriginal`]: DiscordEvent::EditOriginal
//! [`GetOriginal`]: DiscordEvent::GetOriginal
//! [`DeleteOriginal`]: DiscordEvent::DeleteOriginal
//! [`Followup`]: DiscordEvent::Followup
//! [`EditFollowup`]: DiscordEvent::EditFollowup
//!
//! Callback types 4 (message; flags 64 = ephemeral), 5 (deferred), 6 (deferred update) and 7
//! (update) are understood; 6 and 7 only for component interactions, where `@original` is the
//! clicked message. Messages are stored under stable ids ([`DiscordStandIn::message`]) with their
//! components, so a test can [`click`](DiscordStandIn::click) a button of the final answer.
//!
//! Like Discord, the stand-in refuses (and still records, with the status in
//! [`Recorded::status`] and the body in [`Recorded::error`]):
//! - a callback after the callback window ([`DiscordStandInBuilder::interaction_deadline`],
//!   default 3 s from the moment the `INTERACTION_CREATE` went out on a live connection, or
//!   [`DiscordStandIn::expire_interaction`]), or for an interaction it never sent: 404, 10062;
//! - a second acknowledgement: 400, 40060;
//! - a webhook call after the token lifetime (default 15 min, or
//!   [`DiscordStandIn::expire_token`]): 401, 50027; for an unknown token, or a follow-up before
//!   the acknowledgement: 404, 10015; an edit of a message that does not exist: 404, 10008;
//! - a payload over Discord's limits (content 2000; 10 embeds; title 256, description 4096,
//!   25 fields, field name 256 and value 1024 and both non-empty, footer 2048, author 256,
//!   6000 in all; 5 action rows of at most 5 buttons, `custom_id` 100 and unique, label 80, link
//!   buttons with `url` and no `custom_id`): 400, 50035 "Invalid Form Body" with Discord's
//!   nested `errors` tree; a file over the interaction's `attachment_size_limit`: 413, 40005.
//!   Lengths count Unicode code points.
//!
//! Bodies may be JSON or `multipart/form-data` (serenity sends attachments that way): the
//! `payload_json` part becomes the event's payload and every part with a file name becomes an
//! [`Upload`]. `Content-Length` and `Transfer-Encoding: chunked` bodies are both accepted; each
//! response closes its connection.
//!
//! # Rate limits, faults and holds
//!
//! Every REST answer carries `x-ratelimit-limit`, `-remaining`, `-reset`, `-reset-after` and
//! `-bucket` for its [`Bucket`] (one per route group and major parameter; 1000 per second unless
//! [`DiscordStandIn::set_rate_limit`] says otherwise). An empty bucket answers 429
//! `{"message":"You are being rate limited.","retry_after":<secs>,"global":false}` with
//! `retry-after`. [`DiscordStandIn::fail_next`] scripts [`Fault`]s for the next requests a
//! [`RouteMatch`] accepts: 429s (per route, or global with `x-ratelimit-global: true`), 5xx,
//! any JSON error, or a hang-up. Each fault is recorded as [`DiscordEvent::Fault`].
//! [`DiscordStandIn::hold`] holds the requests a [`RouteMatch`] accepts unanswered until the
//! test releases the [`Hold`] (e.g. a command registration, to see a bot before Discord
//! confirms it); [`Hold::wait_arrived`] returns them as sent.
//!
//! # Gateway
//!
//! The gateway sends HELLO (op 10, `heartbeat_interval` from
//! [`DiscordStandInBuilder::heartbeat_interval`], default 45 s), waits for IDENTIFY (op 2,
//! [`DiscordEvent::Identify`]) and sends READY with a `session_id` and `resume_gateway_url`.
//! Heartbeats (op 1, [`DiscordEvent::Heartbeat`]) get op 11; a client silent for 1.5 intervals is
//! closed with 4009. (serenity looks at its heartbeat timer only every ~0.5 s: keep the interval
//! at 3 s or more with serenity clients.) Each session keeps its numbered dispatches; a RESUME
//! (op 6, [`DiscordEvent::Resume`]) of a known session replays those after the client's `seq`
//! and sends RESUMED, an unknown one gets op 9 `false`. Dispatches pushed while the session has
//! no connection are queued for that replay. Disruptions: [`DiscordStandIn::request_reconnect`]
//! (op 7), [`DiscordStandIn::invalidate_session`] (op 9), [`DiscordStandIn::drop_gateway`] (cut
//! without a close frame), [`DiscordStandIn::close_gateway`] (close code). Each ended connection
//! is recorded as [`DiscordEvent::GatewayClosed`]. Dispatches are text frames of plain JSON.
//! [`DiscordStandIn::send_interaction`] pushes an `INTERACTION_CREATE` for
//! `/mailcheck domain:<value>`; [`DiscordStandIn::send_command`] does the same for any command.

mod body;
mod builder;
mod cursor;
mod events;
mod faults;
mod gateway;
mod hold;
mod http;
mod interactions;
mod limits;
mod rest;
mod state;
mod tls;
mod validate;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use builder::DiscordStandInBuilder;
pub use cursor::EventCursor;
pub use events::{CloseCause, CommandScope, DiscordEvent, Recorded, Upload};
pub use faults::{Fault, RouteMatch};
pub use hold::{HeldRequest, Hold};
pub use interactions::{CommandSpec, MessageRef, SentInteraction};
pub use limits::{Bucket, RateLimit};
pub use tls::{DISCORD_HOST, install_ring_provider};

use state::Shared;

/// The application id the stand-in reports in READY and expects in webhook routes.
pub const DEFAULT_APPLICATION_ID: u64 = 1_100_000_000_000_000_001;
/// The bot user's id.
pub const DEFAULT_BOT_USER_ID: u64 = 1_100_000_000_000_000_002;
/// The channel interactions come from unless a [`CommandSpec`] says otherwise.
pub const DEFAULT_CHANNEL_ID: u64 = 1_100_000_000_000_000_004;
/// The id Discord would give the `/mailcheck` command (sent in `INTERACTION_CREATE`).
pub const MAILCHECK_COMMAND_ID: u64 = 1_100_000_000_000_000_003;
/// The attachment size limit announced in each interaction (8 MiB, Discord's base limit).
pub const ATTACHMENT_SIZE_LIMIT: u32 = 8 * 1024 * 1024;
/// Interaction callback type of an immediate message (CHANNEL_MESSAGE_WITH_SOURCE).
pub const CALLBACK_CHANNEL_MESSAGE: u64 = 4;
/// Interaction callback type of a deferred response ("thinking…").
pub const CALLBACK_DEFERRED_CHANNEL_MESSAGE: u64 = 5;
/// Interaction callback type acknowledging a component interaction without a visible change.
pub const CALLBACK_DEFERRED_UPDATE_MESSAGE: u64 = 6;
/// Interaction callback type updating the message a component belongs to.
pub const CALLBACK_UPDATE_MESSAGE: u64 = 7;
/// Message flag bit of an ephemeral message.
pub const FLAG_EPHEMERAL: u64 = 1 << 6;
/// Discord's callback window.
pub const DEFAULT_INTERACTION_DEADLINE: Duration = Duration::from_secs(3);
/// Discord's interaction token lifetime.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The default HELLO `heartbeat_interval`.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(45);

/// Errors of the stand-in.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Binding a loopback listener failed.
    #[error("cannot bind the stand-in on loopback: {0}")]
    Bind(#[source] std::io::Error),
    /// No gateway session exists (no client identified, or its session was invalidated), or no
    /// connection is live for an operation that needs one.
    #[error("no serenity client is connected to the stand-in gateway")]
    NotConnected,
    /// A TLS-mode operation on a stand-in started without TLS.
    #[error("the stand-in was started without TLS")]
    NotTls,
    /// Building the reqwest client failed.
    #[error("cannot build the reqwest client: {0}")]
    Client(String),
    /// [`DiscordStandIn::click`] named a message the stand-in does not hold.
    #[error("no such message: {0}")]
    UnknownMessage(String),
    /// [`DiscordStandIn::click`] named a component the message does not have (or a disabled
    /// one).
    #[error("message {message} has no enabled component with custom_id {custom_id:?}")]
    UnknownComponent {
        /// The message id.
        message: u64,
        /// The custom id asked for.
        custom_id: String,
    },
    /// A wait ran out of time. The text says what was awaited and what had been recorded.
    #[error("timed out after {after:?} waiting for {what}; recorded so far: {recorded}")]
    Timeout {
        /// How long the wait lasted.
        after: Duration,
        /// What was awaited.
        what: String,
        /// A one-line summary of each recorded event.
        recorded: String,
    },
}

/// The Discord stand-in. Dropping it stops every server.
#[derive(Debug)]
pub struct DiscordStandIn {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    gateway_addr: SocketAddr,
    tls: Option<tls::TlsMode>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DiscordStandIn {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.lock_gateway().clear();
    }
}

impl DiscordStandIn {
    /// Binds the REST server and the gateway on `127.0.0.1:0` and starts serving.
    pub async fn start() -> Result<Self, StandInError> {
        Self::builder().start().await
    }

    /// Like [`start`](Self::start), and also serves REST over HTTPS as `discord.com`.
    pub async fn start_tls() -> Result<Self, StandInError> {
        Self::builder().tls(true).start().await
    }

    /// The REST base URL, e.g. `http://127.0.0.1:PORT`, for `HttpBuilder::proxy`.
    pub fn http_base(&self) -> String {
        self.shared.http_base.clone()
    }

    /// The REST server's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gateway URL, e.g. `ws://127.0.0.1:PORT` (what `GET /api/v10/gateway` answers).
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url.clone()
    }

    /// The gateway's address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway_addr
    }

    /// The application id (sent in READY and in interactions).
    pub fn application_id(&self) -> u64 {
        self.shared.application_id
    }

    /// The bot user's id.
    pub fn bot_user_id(&self) -> u64 {
        self.shared.bot_user_id
    }

    /// The bot user object as sent in READY.
    pub fn bot_user(&self) -> Value {
        self.shared.bot_user()
    }
}
