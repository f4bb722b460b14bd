//! A Discord API stand-in: REST over plain HTTP/1.1 and a gateway WebSocket, both on loopback.
//!
//! It speaks just enough of Discord's API v10 for a real serenity 0.12 client (with poise on top)
//! to connect, register slash commands, receive an `INTERACTION_CREATE` and answer it, so a bot
//! can be tested end to end without the internet. Every REST call is recorded, in arrival order
//! and with a timestamp, as a [`DiscordEvent`]; tests wait for the ones they expect with
//! [`DiscordStandIn::wait_for`] or an [`EventCursor`], which wake on arrival instead of polling.
//!
//! # Pointing serenity at it
//!
//! (The same code runs for real in `crates/testkit/tests/discord_standin.rs`.)
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
//! # Routes
//!
//! | route | answer | recorded as |
//! |---|---|---|
//! | `GET /api/v10/gateway`, `GET /api/v10/gateway/bot` | the gateway URL | [`DiscordEvent::Other`] |
//! | `GET /api/v10/users/@me` | the bot user | [`DiscordEvent::Other`] |
//! | `PUT /api/v10/applications/{app}/commands` | `[]` | [`DiscordEvent::RegisterCommands`] |
//! | `PUT /api/v10/applications/{app}/guilds/{g}/commands` | `[]` | [`DiscordEvent::RegisterCommands`] |
//! | `POST /api/v10/interactions/{id}/{token}/callback` | 204 | [`DiscordEvent::Callback`] |
//! | `PATCH /api/v10/webhooks/{app}/{token}/messages/@original` | a Message | [`DiscordEvent::EditOriginal`] |
//! | `GET /api/v10/webhooks/{app}/{token}/messages/@original` | a Message | [`DiscordEvent::GetOriginal`] |
//! | `DELETE /api/v10/webhooks/{app}/{token}/messages/@original` | 204 | [`DiscordEvent::DeleteOriginal`] |
//! | `POST /api/v10/webhooks/{app}/{token}` | a Message | [`DiscordEvent::Followup`] |
//! | `PATCH /api/v10/webhooks/{app}/{token}/messages/{id}` | a Message | [`DiscordEvent::EditFollowup`] |
//! | anything else | 404 `{"message":"404: Not Found","code":0}` | [`DiscordEvent::Other`] |
//!
//! Like Discord, the stand-in refuses a second acknowledgement of one interaction (400, code
//! 40060), a callback for an interaction it never sent (404, code 10062), and a webhook call for a
//! token whose interaction was not yet acknowledged (404, code 10015). Those calls are still
//! recorded, so a test can see what the bot tried.
//!
//! Bodies may be JSON or `multipart/form-data` (serenity sends attachments that way): the
//! `payload_json` part becomes the event's payload and every part with a file name becomes an
//! [`Upload`]. `Content-Length` and `Transfer-Encoding: chunked` bodies are both accepted; each
//! response closes its connection.
//!
//! # Gateway
//!
//! The gateway sends HELLO (op 10), waits for IDENTIFY (op 2, recorded as
//! [`DiscordEvent::Identify`]), sends READY, answers heartbeats (op 1) with op 11 and a RESUME
//! (op 6) with "invalid session" (op 9), after which serenity identifies afresh. Dispatches are
//! text frames of plain JSON. [`DiscordStandIn::send_interaction`] pushes an `INTERACTION_CREATE`
//! for `/mailcheck domain:<value>` to the connected client; [`DiscordStandIn::send_command`] does
//! the same for any command and options.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

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
/// Interaction callback type of a deferred response ("thinking…").
pub const CALLBACK_DEFERRED_CHANNEL_MESSAGE: u64 = 5;
/// Interaction callback type of an immediate message.
pub const CALLBACK_CHANNEL_MESSAGE: u64 = 4;
/// Message flag bit of an ephemeral message.
pub const FLAG_EPHEMERAL: u64 = 1 << 6;

/// Largest request body the stand-in accepts (bigger ones get 413 and are recorded as `Other`).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest request head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// Errors of the stand-in.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Binding a loopback listener failed.
    #[error("cannot bind the stand-in on loopback: {0}")]
    Bind(#[source] std::io::Error),
    /// No gateway session has finished IDENTIFY yet (or the client disconnected).
    #[error("no serenity client is connected to the stand-in gateway")]
    NotConnected,
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

/// A file sent in a `multipart/form-data` body.
#[derive(Clone, PartialEq, Eq)]
pub struct Upload {
    /// The form field name, e.g. `files[0]`.
    pub field: String,
    /// The file name the client gave.
    pub filename: String,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl Upload {
    /// The bytes as text (lossy UTF-8), handy for transcripts.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("field", &self.field)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// Where commands were registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandScope {
    /// `PUT /applications/{app}/commands`.
    Global,
    /// `PUT /applications/{app}/guilds/{guild}/commands`.
    Guild(u64),
}

/// One thing the client did, as the stand-in saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscordEvent {
    /// The client identified on the gateway (op 2).
    Identify {
        /// The token as sent (serenity sends `Bot …`).
        token: String,
        /// The gateway intents bits.
        intents: u64,
    },
    /// Commands were registered (bulk overwrite).
    RegisterCommands {
        /// Global or for one guild.
        scope: CommandScope,
        /// The JSON array of command definitions as sent.
        commands: Value,
    },
    /// An interaction callback (`POST /interactions/{id}/{token}/callback`).
    Callback {
        /// The interaction id from the path.
        interaction_id: u64,
        /// The interaction token from the path.
        token: String,
        /// The callback body (or its `payload_json` part when multipart), e.g. `{"type":5}`.
        body: Value,
        /// Files sent with the callback.
        files: Vec<Upload>,
    },
    /// The original response was edited (`PATCH /webhooks/{app}/{token}/messages/@original`).
    EditOriginal {
        /// The interaction token from the path.
        token: String,
        /// The JSON body, or the `payload_json` part of a multipart body.
        payload_json: Value,
        /// Files sent with the edit.
        files: Vec<Upload>,
    },
    /// The original response was fetched.
    GetOriginal {
        /// The interaction token from the path.
        token: String,
    },
    /// The original response was deleted.
    DeleteOriginal {
        /// The interaction token from the path.
        token: String,
    },
    /// A follow-up message (`POST /webhooks/{app}/{token}`).
    Followup {
        /// The interaction token from the path.
        token: String,
        /// The JSON body, or the `payload_json` part of a multipart body.
        payload_json: Value,
        /// Files sent with the follow-up.
        files: Vec<Upload>,
    },
    /// A follow-up message was edited (`PATCH /webhooks/{app}/{token}/messages/{id}`).
    EditFollowup {
        /// The interaction token from the path.
        token: String,
        /// The message id from the path.
        message_id: u64,
        /// The JSON body, or the `payload_json` part of a multipart body.
        payload_json: Value,
        /// Files sent with the edit.
        files: Vec<Upload>,
    },
    /// Any other request, including the ones the stand-in answers (gateway URL, `users/@me`) and
    /// the ones it does not know (answered 404).
    Other {
        /// The HTTP method.
        method: String,
        /// The path with its query string.
        path: String,
        /// The response status the stand-in gave.
        status: u16,
        /// The body (lossy UTF-8; empty when there was none).
        body: String,
    },
}

impl DiscordEvent {
    /// The interaction token this event concerns, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::Callback { token, .. }
            | Self::EditOriginal { token, .. }
            | Self::GetOriginal { token }
            | Self::DeleteOriginal { token }
            | Self::Followup { token, .. }
            | Self::EditFollowup { token, .. } => Some(token),
            Self::Identify { .. } | Self::RegisterCommands { .. } | Self::Other { .. } => None,
        }
    }

    /// The message payload this event carries: the callback's `data`, an edit's or a
    /// follow-up's payload.
    pub fn message_payload(&self) -> Option<&Value> {
        match self {
            Self::Callback { body, .. } => body.get("data"),
            Self::EditOriginal { payload_json, .. }
            | Self::Followup { payload_json, .. }
            | Self::EditFollowup { payload_json, .. } => Some(payload_json),
            _ => None,
        }
    }

    /// The files this event carries.
    pub fn files(&self) -> &[Upload] {
        match self {
            Self::Callback { files, .. }
            | Self::EditOriginal { files, .. }
            | Self::Followup { files, .. }
            | Self::EditFollowup { files, .. } => files,
            _ => &[],
        }
    }

    /// The callback type (`5` = deferred, `4` = message, …) when this is a callback.
    pub fn callback_type(&self) -> Option<u64> {
        match self {
            Self::Callback { body, .. } => body.get("type").and_then(Value::as_u64),
            _ => None,
        }
    }

    /// Whether the message payload has the ephemeral flag (64).
    pub fn is_ephemeral(&self) -> bool {
        self.message_payload()
            .and_then(|p| p.get("flags"))
            .and_then(Value::as_u64)
            .is_some_and(|f| f & FLAG_EPHEMERAL != 0)
    }

    /// Whether this is a deferred-response callback (`{"type":5}`) for `token`.
    pub fn is_defer_of(&self, token: &str) -> bool {
        self.token() == Some(token)
            && self.callback_type() == Some(CALLBACK_DEFERRED_CHANNEL_MESSAGE)
    }

    /// Whether this is an edit of the original response for `token`.
    pub fn is_edit_original_of(&self, token: &str) -> bool {
        matches!(self, Self::EditOriginal { token: t, .. } if t == token)
    }

    /// The embeds of the message payload (empty when none).
    pub fn embeds(&self) -> &[Value] {
        self.message_payload()
            .and_then(|p| p.get("embeds"))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The `content` of the message payload, if any.
    pub fn content(&self) -> Option<&str> {
        self.message_payload()
            .and_then(|p| p.get("content"))
            .and_then(Value::as_str)
    }

    /// A one-line summary, used in timeout messages.
    pub fn summary(&self) -> String {
        match self {
            Self::Identify { intents, .. } => format!("IDENTIFY intents={intents}"),
            Self::RegisterCommands { scope, commands } => format!(
                "register {} command(s) {scope:?}",
                commands.as_array().map_or(0, Vec::len)
            ),
            Self::Callback {
                interaction_id,
                body,
                ..
            } => {
                format!("callback {interaction_id} {body}")
            }
            Self::EditOriginal { token, files, .. } => {
                format!("edit @original {token} ({} file(s))", files.len())
            }
            Self::GetOriginal { token } => format!("get @original {token}"),
            Self::DeleteOriginal { token } => format!("delete @original {token}"),
            Self::Followup { token, files, .. } => {
                format!("follow-up {token} ({} file(s))", files.len())
            }
            Self::EditFollowup {
                token, message_id, ..
            } => {
                format!("edit follow-up {message_id} {token}")
            }
            Self::Other {
                method,
                path,
                status,
                ..
            } => format!("{method} {path} -> {status}"),
        }
    }
}

/// A recorded event with its position and arrival time.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Position in arrival order, from 0.
    pub index: usize,
    /// When the stand-in finished reading the request.
    pub at: Instant,
    /// Time since the stand-in started.
    pub since_start: Duration,
    /// What happened.
    pub event: DiscordEvent,
}

/// What [`DiscordStandIn::send_interaction`] sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInteraction {
    /// The interaction id.
    pub id: u64,
    /// The interaction token (used in the callback and webhook routes).
    pub token: String,
    /// When it was handed to the gateway connection.
    pub at: Instant,
}

/// A slash-command invocation to push with [`DiscordStandIn::send_command`].
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The command name, e.g. `mailcheck`.
    pub name: String,
    /// The command id.
    pub command_id: u64,
    /// The options array, e.g. `[{"name":"domain","type":3,"value":"example.test"}]`.
    pub options: Value,
    /// The invoking user's id.
    pub user_id: u64,
    /// The invoking user's name.
    pub username: String,
    /// The guild, or `None` for a DM.
    pub guild_id: Option<u64>,
    /// The channel.
    pub channel_id: u64,
}

impl CommandSpec {
    /// `/mailcheck domain:<domain>` from `user_id`, in `guild_id` or a DM.
    pub fn mailcheck(user_id: u64, guild_id: Option<u64>, domain: &str) -> Self {
        Self {
            name: "mailcheck".to_owned(),
            command_id: MAILCHECK_COMMAND_ID,
            options: json!([{ "name": "domain", "type": 3, "value": domain }]),
            user_id,
            username: format!("user{user_id}"),
            guild_id,
            channel_id: DEFAULT_CHANNEL_ID,
        }
    }
}

/// The Discord stand-in. Dropping it stops both servers.
#[derive(Debug)]
pub struct DiscordStandIn {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    gateway_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DiscordStandIn {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.lock_gateway().sessions.clear();
    }
}

/// The state shared by the servers and the handle.
#[derive(Debug)]
struct Shared {
    application_id: u64,
    bot_user_id: u64,
    started: Instant,
    gateway_url: String,
    http_base: String,
    events: Mutex<Vec<Recorded>>,
    /// Number of recorded events; waiters wake when it changes.
    count: watch::Sender<usize>,
    interactions: Mutex<HashMap<String, InteractionState>>,
    gateway: Mutex<GatewayState>,
    /// Number of sessions that finished IDENTIFY and got READY.
    ready: watch::Sender<usize>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct GatewayState {
    /// Senders to the live sessions, newest last.
    sessions: Vec<mpsc::UnboundedSender<Value>>,
}

#[derive(Debug, Clone)]
struct InteractionState {
    id: u64,
    channel_id: u64,
    guild_id: Option<u64>,
    acknowledged: bool,
    original: Option<Value>,
}

impl Shared {
    fn lock_events(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_gateway(&self) -> MutexGuard<'_, GatewayState> {
        self.gateway
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_interactions(&self) -> MutexGuard<'_, HashMap<String, InteractionState>> {
        self.interactions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, event: DiscordEvent) {
        let at = Instant::now();
        let len = {
            let mut events = self.lock_events();
            let index = events.len();
            events.push(Recorded {
                index,
                at,
                since_start: at - self.started,
                event,
            });
            events.len()
        };
        self.count.send_replace(len);
    }

    fn next_snowflake(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_user_id.to_string(),
            "username": "mailcheck-standin-bot",
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
        })
    }

    fn summary(&self) -> String {
        let events = self.lock_events();
        if events.is_empty() {
            return "nothing".to_owned();
        }
        events
            .iter()
            .map(|r| format!("[{} +{:?}] {}", r.index, r.since_start, r.event.summary()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl DiscordStandIn {
    /// Binds the REST server and the gateway on `127.0.0.1:0` and starts serving.
    pub async fn start() -> Result<Self, StandInError> {
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StandInError::Bind)?;
        let gateway = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StandInError::Bind)?;
        let http_addr = http.local_addr().map_err(StandInError::Bind)?;
        let gateway_addr = gateway.local_addr().map_err(StandInError::Bind)?;
        let shared = Arc::new(Shared {
            application_id: DEFAULT_APPLICATION_ID,
            bot_user_id: DEFAULT_BOT_USER_ID,
            started: Instant::now(),
            gateway_url: format!("ws://{gateway_addr}"),
            http_base: format!("http://{http_addr}"),
            events: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            interactions: Mutex::new(HashMap::new()),
            gateway: Mutex::new(GatewayState::default()),
            ready: watch::Sender::new(0),
            next_id: AtomicU64::new(1_200_000_000_000_000_000),
        });
        let tasks = vec![
            tokio::spawn(serve_http(http, Arc::clone(&shared))),
            tokio::spawn(serve_gateway(gateway, Arc::clone(&shared))),
        ];
        Ok(Self {
            shared,
            http_addr,
            gateway_addr,
            tasks,
        })
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

    /// Waits until a client has identified and been sent READY.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), StandInError> {
        let mut rx = self.shared.ready.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            // The sender lives in `shared`, which we hold: it cannot be dropped.
            Ok(Err(_)) | Err(_) => Err(self.timeout_error(timeout, "gateway READY")),
        }
    }

    /// Pushes an `INTERACTION_CREATE` for `/mailcheck domain:<domain>` from `user_id`, in
    /// `guild_id` (as a member) or in a DM (as a user).
    pub fn send_interaction(
        &self,
        user_id: u64,
        guild_id: Option<u64>,
        domain: &str,
    ) -> Result<SentInteraction, StandInError> {
        self.send_command(&CommandSpec::mailcheck(user_id, guild_id, domain))
    }

    /// Pushes an `INTERACTION_CREATE` for any slash command.
    pub fn send_command(&self, spec: &CommandSpec) -> Result<SentInteraction, StandInError> {
        let id = self.shared.next_snowflake();
        let token = format!("standin-token-{id}");
        let user = json!({
            "id": spec.user_id.to_string(),
            "username": spec.username,
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
        });
        let mut d = json!({
            "id": id.to_string(),
            "application_id": self.shared.application_id.to_string(),
            "type": 2,
            "token": token,
            "version": 1,
            "channel_id": spec.channel_id.to_string(),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "data": {
                "id": spec.command_id.to_string(),
                "name": spec.name,
                "type": 1,
                "options": spec.options,
            },
        });
        if let Some(guild_id) = spec.guild_id {
            d["guild_id"] = json!(guild_id.to_string());
            d["guild_locale"] = json!("en-US");
            d["member"] = json!({
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00Z",
                "deaf": false,
                "mute": false,
                "flags": 0,
                "permissions": "2248473465835073",
            });
        } else {
            d["user"] = user;
        }
        // Register the interaction before the client can possibly answer it.
        self.shared.lock_interactions().insert(
            token.clone(),
            InteractionState {
                id,
                channel_id: spec.channel_id,
                guild_id: spec.guild_id,
                acknowledged: false,
                original: None,
            },
        );
        self.dispatch("INTERACTION_CREATE", d)?;
        Ok(SentInteraction {
            id,
            token,
            at: Instant::now(),
        })
    }

    /// Sends any dispatch event (op 0) to the newest connected gateway session.
    pub fn dispatch(&self, event_name: &str, d: Value) -> Result<(), StandInError> {
        let frame = json!({ "op": 0, "t": event_name, "d": d });
        let mut gateway = self.shared.lock_gateway();
        while let Some(session) = gateway.sessions.last() {
            if session.send(frame.clone()).is_ok() {
                return Ok(());
            }
            gateway.sessions.pop();
        }
        Err(StandInError::NotConnected)
    }

    /// A snapshot of everything recorded so far, in arrival order.
    pub fn events(&self) -> Vec<Recorded> {
        self.shared.lock_events().clone()
    }

    /// The events concerning one interaction token, in arrival order.
    pub fn events_for(&self, token: &str) -> Vec<Recorded> {
        self.shared
            .lock_events()
            .iter()
            .filter(|r| r.event.token() == Some(token))
            .cloned()
            .collect()
    }

    /// The original response of an interaction as the stand-in holds it now (a Message object,
    /// after every edit), if it has one.
    pub fn original_message(&self, token: &str) -> Option<Value> {
        self.shared
            .lock_interactions()
            .get(token)
            .and_then(|s| s.original.clone())
    }

    /// A cursor at the current end of the record: it sees only events that arrive from now on.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            shared: Arc::clone(&self.shared),
            next: self.shared.lock_events().len(),
        }
    }

    /// A cursor at the start of the record: it sees every event.
    pub fn cursor_from_start(&self) -> EventCursor {
        EventCursor {
            shared: Arc::clone(&self.shared),
            next: 0,
        }
    }

    /// Waits for the first event (already recorded or still to come) that `pred` accepts.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        self.cursor_from_start().wait_for(timeout, pred).await
    }

    fn timeout_error(&self, after: Duration, what: &str) -> StandInError {
        StandInError::Timeout {
            after,
            what: what.to_owned(),
            recorded: self.shared.summary(),
        }
    }
}

/// A position in the record of events; each call moves it past what it returns.
#[derive(Debug)]
pub struct EventCursor {
    shared: Arc<Shared>,
    next: usize,
}

impl EventCursor {
    /// Returns the next event, waiting up to `timeout` for it.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Recorded, StandInError> {
        self.wait_for_inner(timeout, "the next event", |_| true)
            .await
    }

    /// Skips events until one that `pred` accepts, waiting up to `timeout` in all.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        self.wait_for_inner(timeout, "a matching event", pred).await
    }

    /// The events recorded since the cursor's position, without waiting; moves past them.
    pub fn drain(&mut self) -> Vec<Recorded> {
        let events = self.shared.lock_events();
        let out = events.get(self.next..).unwrap_or_default().to_vec();
        self.next = events.len();
        out
    }

    async fn wait_for_inner(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut count = self.shared.count.subscribe();
        loop {
            // Mark the current count as seen before scanning, so an event recorded after the
            // scan wakes `changed()` below.
            count.borrow_and_update();
            if let Some(found) = self.scan(&mut pred) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return Err(StandInError::Timeout {
                        after: timeout,
                        what: what.to_owned(),
                        recorded: self.shared.summary(),
                    });
                }
            }
        }
    }

    fn scan(&mut self, pred: &mut impl FnMut(&DiscordEvent) -> bool) -> Option<Recorded> {
        let events = self.shared.lock_events();
        while let Some(r) = events.get(self.next) {
            self.next += 1;
            if pred(&r.event) {
                return Some(r.clone());
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway

async fn serve_gateway(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = gateway_session(stream, shared).await {
                tracing::debug!("stand-in gateway session ended: {e}");
            }
        });
    }
}

async fn gateway_session(
    stream: TcpStream,
    shared: Arc<Shared>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let text = |v: Value| WsMessage::Text(v.to_string());
    ws.send(text(
        json!({ "op": 10, "d": { "heartbeat_interval": 45_000 } }),
    ))
    .await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let mut seq: u64 = 0;
    let mut identified = false;
    loop {
        tokio::select! {
            incoming = ws.next() => {
                let Some(msg) = incoming else { break };
                let payload: Value = match msg? {
                    WsMessage::Text(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
                    WsMessage::Binary(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
                    WsMessage::Close(_) => break,
                    _ => continue,
                };
                match payload.get("op").and_then(Value::as_u64) {
                    Some(1) => ws.send(text(json!({ "op": 11 }))).await?,
                    Some(2) => {
                        let d = &payload["d"];
                        shared.record(DiscordEvent::Identify {
                            token: d["token"].as_str().unwrap_or_default().to_owned(),
                            intents: d["intents"].as_u64().unwrap_or_default(),
                        });
                        seq += 1;
                        let ready = json!({
                            "op": 0, "s": seq, "t": "READY",
                            "d": {
                                "v": 10,
                                "user": shared.bot_user(),
                                "guilds": [],
                                "session_id": format!("standin-session-{}", shared.next_snowflake()),
                                "resume_gateway_url": shared.gateway_url,
                                "application": { "id": shared.application_id.to_string(), "flags": 0 },
                            },
                        });
                        ws.send(text(ready)).await?;
                        if !identified {
                            identified = true;
                            shared.lock_gateway().sessions.push(tx.clone());
                            shared.ready.send_modify(|n| *n += 1);
                        }
                    }
                    // RESUME: not supported; tell the client to identify afresh.
                    Some(6) => ws.send(text(json!({ "op": 9, "d": false }))).await?,
                    _ => {}
                }
            }
            Some(mut frame) = rx.recv() => {
                seq += 1;
                frame["s"] = json!(seq);
                ws.send(text(frame)).await?;
            }
        }
    }
    if identified {
        shared
            .lock_gateway()
            .sessions
            .retain(|s| !s.same_channel(&tx));
        shared.ready.send_modify(|n| *n = n.saturating_sub(1));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// REST

async fn serve_http(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = http_connection(stream, shared).await {
                tracing::debug!("stand-in HTTP connection failed: {e}");
            }
        });
    }
}

/// A parsed HTTP request.
#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response to write.
#[derive(Debug)]
struct Response {
    status: u16,
    body: Option<Value>,
}

impl Response {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }

    fn error(status: u16, code: u64, message: &str) -> Self {
        Self::json(status, json!({ "message": message, "code": code }))
    }
}

async fn http_connection(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let response = match read_request(&mut reader).await {
        Ok(req) => route(&shared, req),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            shared.record(DiscordEvent::Other {
                method: String::new(),
                path: String::new(),
                status: 400,
                body: e.to_string(),
            });
            Response::error(400, 0, "400: Bad Request")
        }
        Err(e) => return Err(e),
    };
    let body = response.body.map(|b| b.to_string()).unwrap_or_default();
    let reason = match response.status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Unknown",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nConnection: close\r\n",
        response.status
    );
    if response.status != 204 {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut stream = reader.into_inner();
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    budget: &mut usize,
) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = reader.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    *budget = budget
        .checked_sub(n)
        .ok_or_else(|| invalid("request head too large"))?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("request head is not UTF-8"))
}

async fn read_request<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Request> {
    let mut budget = MAX_HEAD;
    let request_line = read_line(reader, &mut budget).await?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("bad header line {line:?}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader, &mut budget).await?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(reader, &mut budget).await?.is_empty() {}
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            reader.read_exact(&mut req.body[start..]).await?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).await?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        req.body.resize(len, 0);
        reader.read_exact(&mut req.body).await?;
    }
    Ok(req)
}

/// A body decoded as JSON or multipart.
#[derive(Debug, Default)]
struct Decoded {
    json: Value,
    files: Vec<Upload>,
}

fn decode_body(req: &Request) -> Result<Decoded, String> {
    let content_type = req.header("content-type").unwrap_or_default();
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
            .ok_or("multipart without boundary")?;
        let mut decoded = Decoded {
            json: Value::Null,
            files: Vec::new(),
        };
        for part in parse_multipart(&req.body, &boundary)? {
            if part.name == "payload_json" {
                decoded.json = serde_json::from_slice(&part.data)
                    .map_err(|e| format!("payload_json is not JSON: {e}"))?;
            } else if let Some(filename) = part.filename {
                decoded.files.push(Upload {
                    field: part.name,
                    filename,
                    content_type: part.content_type,
                    data: part.data,
                });
            }
        }
        Ok(decoded)
    } else if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(Decoded::default())
    } else {
        let json =
            serde_json::from_slice(&req.body).map_err(|e| format!("body is not JSON: {e}"))?;
        Ok(Decoded {
            json,
            files: Vec::new(),
        })
    }
}

#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts.
fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let start = find(body, delimiter.as_bytes()).ok_or("multipart: no opening boundary")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("multipart: boundary not followed by CRLF")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("multipart: part without header end")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let after_head = &rest[head_end + 4..];
        let data_end = find(after_head, next_delimiter.as_bytes())
            .ok_or("multipart: part without closing boundary")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: Vec::new(),
        };
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    let Some((k, v)) = param.trim().split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(v),
                        _ => {}
                    }
                }
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            }
        }
        part.data = after_head[..data_end].to_vec();
        parts.push(part);
        rest = &after_head[data_end + next_delimiter.len()..];
    }
}

/// Routes one request, records it and builds the answer.
fn route(shared: &Shared, req: Request) -> Response {
    let path = req.target.split('?').next().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let app = shared.application_id.to_string();
    let Some(["api", "v10", rest @ ..]) = Some(segments.as_slice()) else {
        return other(shared, &req, Response::error(404, 0, "404: Not Found"));
    };
    let decoded = match decode_body(&req) {
        Ok(d) => d,
        Err(e) => return other(shared, &req, Response::error(400, 50109, &e)),
    };
    match (req.method.as_str(), rest) {
        ("GET", ["gateway"]) => other(
            shared,
            &req,
            Response::json(200, json!({ "url": shared.gateway_url })),
        ),
        ("GET", ["gateway", "bot"]) => other(
            shared,
            &req,
            Response::json(
                200,
                json!({
                    "url": shared.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1,
                    },
                }),
            ),
        ),
        ("GET", ["users", "@me"]) => other(shared, &req, Response::json(200, shared.bot_user())),
        ("PUT", ["applications", a, "commands"]) if *a == app => {
            shared.record(DiscordEvent::RegisterCommands {
                scope: CommandScope::Global,
                commands: decoded.json,
            });
            Response::json(200, json!([]))
        }
        ("PUT", ["applications", a, "guilds", g, "commands"]) if *a == app => {
            let Ok(guild) = g.parse() else {
                return other(shared, &req, Response::error(404, 10004, "Unknown Guild"));
            };
            shared.record(DiscordEvent::RegisterCommands {
                scope: CommandScope::Guild(guild),
                commands: decoded.json,
            });
            Response::json(200, json!([]))
        }
        ("POST", ["interactions", id, token, "callback"]) => callback(shared, id, token, decoded),
        ("PATCH", ["webhooks", a, token, "messages", "@original"]) if *a == app => {
            let token = (*token).to_owned();
            let answer = edit_original(shared, &token, &decoded);
            shared.record(DiscordEvent::EditOriginal {
                token,
                payload_json: decoded.json,
                files: decoded.files,
            });
            answer
        }
        ("GET", ["webhooks", a, token, "messages", "@original"]) if *a == app => {
            let answer = match shared.lock_interactions().get(*token) {
                Some(InteractionState {
                    original: Some(m), ..
                }) => Response::json(200, m.clone()),
                Some(_) => Response::error(404, 10008, "Unknown Message"),
                None => Response::error(404, 10015, "Unknown Webhook"),
            };
            shared.record(DiscordEvent::GetOriginal {
                token: (*token).to_owned(),
            });
            answer
        }
        ("DELETE", ["webhooks", a, token, "messages", "@original"]) if *a == app => {
            let answer = match shared.lock_interactions().get_mut(*token) {
                Some(state) => match state.original.take() {
                    Some(_) => Response::no_content(),
                    None => Response::error(404, 10008, "Unknown Message"),
                },
                None => Response::error(404, 10015, "Unknown Webhook"),
            };
            shared.record(DiscordEvent::DeleteOriginal {
                token: (*token).to_owned(),
            });
            answer
        }
        ("POST", ["webhooks", a, token]) if *a == app => {
            let token = (*token).to_owned();
            let answer = followup(shared, &token, &decoded);
            shared.record(DiscordEvent::Followup {
                token,
                payload_json: decoded.json,
                files: decoded.files,
            });
            answer
        }
        ("PATCH", ["webhooks", a, token, "messages", id]) if *a == app => {
            let token = (*token).to_owned();
            let message_id = id.parse().unwrap_or_default();
            let answer = match shared.lock_interactions().get(&token) {
                Some(state) if state.acknowledged => Response::json(
                    200,
                    message_json(shared, message_id, state, &decoded.json, &decoded.files),
                ),
                _ => Response::error(404, 10015, "Unknown Webhook"),
            };
            shared.record(DiscordEvent::EditFollowup {
                token,
                message_id,
                payload_json: decoded.json,
                files: decoded.files,
            });
            answer
        }
        _ => other(shared, &req, Response::error(404, 0, "404: Not Found")),
    }
}

fn other(shared: &Shared, req: &Request, response: Response) -> Response {
    shared.record(DiscordEvent::Other {
        method: req.method.clone(),
        path: req.target.clone(),
        status: response.status,
        body: String::from_utf8_lossy(&req.body).into_owned(),
    });
    response
}

fn callback(shared: &Shared, id: &str, token: &str, decoded: Decoded) -> Response {
    let interaction_id = id.parse().unwrap_or_default();
    let answer = {
        let mut interactions = shared.lock_interactions();
        match interactions.get_mut(token) {
            Some(state) if state.id != interaction_id => {
                Response::error(404, 10062, "Unknown interaction")
            }
            Some(state) if state.acknowledged => {
                Response::error(400, 40060, "Interaction has already been acknowledged.")
            }
            Some(state) => {
                state.acknowledged = true;
                let kind = decoded.json.get("type").and_then(Value::as_u64);
                let data = decoded
                    .json
                    .get("data")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let message_id = shared.next_snowflake();
                state.original = match kind {
                    Some(CALLBACK_CHANNEL_MESSAGE) => Some(message_json(
                        shared,
                        message_id,
                        state,
                        &data,
                        &decoded.files,
                    )),
                    Some(CALLBACK_DEFERRED_CHANNEL_MESSAGE) => {
                        // The "…is thinking" placeholder; its flags decide ephemerality.
                        let flags = data.get("flags").cloned().unwrap_or(json!(0));
                        Some(message_json(
                            shared,
                            message_id,
                            state,
                            &json!({ "flags": flags }),
                            &[],
                        ))
                    }
                    _ => None,
                };
                Response::no_content()
            }
            None => Response::error(404, 10062, "Unknown interaction"),
        }
    };
    shared.record(DiscordEvent::Callback {
        interaction_id,
        token: token.to_owned(),
        body: decoded.json,
        files: decoded.files,
    });
    answer
}

fn edit_original(shared: &Shared, token: &str, decoded: &Decoded) -> Response {
    let mut interactions = shared.lock_interactions();
    let Some(state) = interactions.get_mut(token) else {
        return Response::error(404, 10015, "Unknown Webhook");
    };
    let Some(original) = state.original.clone() else {
        return Response::error(404, 10008, "Unknown Message");
    };
    let id = original["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let mut merged = original.as_object().cloned().unwrap_or_default();
    let edit = message_json(shared, id, state, &decoded.json, &decoded.files);
    if let Some(fields) = decoded.json.as_object() {
        for key in ["content", "embeds", "components", "flags"] {
            if fields.contains_key(key) {
                merged.insert(key.to_owned(), edit[key].clone());
            }
        }
    }
    if !decoded.files.is_empty() || decoded.json.get("attachments").is_some() {
        merged.insert("attachments".to_owned(), edit["attachments"].clone());
    }
    merged.insert("edited_timestamp".to_owned(), json!("2024-01-01T00:00:01Z"));
    let merged = Value::Object(merged);
    state.original = Some(merged.clone());
    Response::json(200, merged)
}

fn followup(shared: &Shared, token: &str, decoded: &Decoded) -> Response {
    let interactions = shared.lock_interactions();
    match interactions.get(token) {
        Some(state) if state.acknowledged => Response::json(
            200,
            message_json(
                shared,
                shared.next_snowflake(),
                state,
                &decoded.json,
                &decoded.files,
            ),
        ),
        _ => Response::error(404, 10015, "Unknown Webhook"),
    }
}

/// A Message object echoing a payload, as Discord returns from webhook calls.
fn message_json(
    shared: &Shared,
    id: u64,
    state: &InteractionState,
    payload: &Value,
    files: &[Upload],
) -> Value {
    let attachments: Vec<Value> = files
        .iter()
        .map(|f| {
            let attachment_id = shared.next_snowflake();
            let url = format!(
                "{}/attachments/{attachment_id}/{}",
                shared.http_base, f.filename
            );
            json!({
                "id": attachment_id.to_string(),
                "filename": f.filename,
                "size": f.data.len(),
                "url": url,
                "proxy_url": url,
                "content_type": f.content_type,
            })
        })
        .collect();
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": state.channel_id.to_string(),
        "author": shared.bot_user(),
        "content": payload.get("content").and_then(Value::as_str).unwrap_or_default(),
        "timestamp": "2024-01-01T00:00:00Z",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments,
        "embeds": payload.get("embeds").cloned().unwrap_or_else(|| json!([])),
        "components": payload.get("components").cloned().unwrap_or_else(|| json!([])),
        "pinned": false,
        "type": 20,
        "flags": payload.get("flags").cloned().unwrap_or(json!(0)),
        "application_id": shared.application_id.to_string(),
        "webhook_id": shared.application_id.to_string(),
    });
    if let Some(guild_id) = state.guild_id {
        message["guild_id"] = json!(guild_id.to_string());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_and_files() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"t.txt\"\r\n\
Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ\r\nContent-Disposition: form-data; \
name=\"payload_json\"\r\n\r\n{\"content\":\"hi\"}\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "files[0]");
        assert_eq!(parts[0].filename.as_deref(), Some("t.txt"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].data, b"line1\r\nline2");
        assert_eq!(parts[1].name, "payload_json");
        assert_eq!(parts[1].data, b"{\"content\":\"hi\"}");
    }

    #[test]
    fn multipart_without_closing_boundary_is_an_error() {
        assert!(
            parse_multipart(
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nabc",
                "b"
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn chunked_and_sized_bodies() {
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        let mut reader = BufReader::new(&raw[..]);
        let req = read_request(&mut reader).await.unwrap();
        assert_eq!(req.body, b"Wikipedia");
        let raw = b"PUT /y HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcdef";
        let mut reader = BufReader::new(&raw[..]);
        let req = read_request(&mut reader).await.unwrap();
        assert_eq!((req.method.as_str(), req.target.as_str()), ("PUT", "/y"));
        assert_eq!(req.body, b"abc");
    }
}
