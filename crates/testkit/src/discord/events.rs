//! What the stand-in records: each [`DiscordEvent`] with its position, arrival time and the
//! status it was answered with.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::faults::Fault;
use super::{CALLBACK_DEFERRED_CHANNEL_MESSAGE, FLAG_EPHEMERAL};

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

/// Why a gateway connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// The client sent a close frame (with this close code, if it gave one).
    ClientClosed(Option<u16>),
    /// The connection ended without a close frame, or failed.
    ConnectionLost,
    /// The client did not heartbeat for 1.5 heartbeat intervals; the stand-in closed with 4009.
    HeartbeatTimeout,
    /// [`DiscordStandIn::drop_gateway`](super::DiscordStandIn::drop_gateway) cut the connection
    /// without a close frame.
    Dropped,
    /// [`DiscordStandIn::close_gateway`](super::DiscordStandIn::close_gateway) closed it with
    /// this code.
    ClosedByStandIn(u16),
    /// Another connection resumed this connection's session.
    Replaced,
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
    /// The client asked to resume a session (op 6).
    Resume {
        /// The session id it sent.
        session_id: String,
        /// The last sequence number it had seen.
        seq: u64,
        /// Whether the session was known: if so the missed dispatches were replayed and RESUMED
        /// sent, otherwise the client got op 9 (invalid session, not resumable).
        accepted: bool,
        /// How many missed dispatches were replayed.
        replayed: usize,
    },
    /// The client sent a heartbeat (op 1); the stand-in answered op 11.
    Heartbeat {
        /// The sequence number it carried (`null` before the first dispatch).
        seq: Option<u64>,
    },
    /// A gateway connection ended.
    GatewayClosed {
        /// The session the connection carried, if it had identified or resumed.
        session_id: Option<String>,
        /// Who ended it and how.
        cause: CloseCause,
    },
    /// One command was created, or updated by name (`POST …/commands`), leaving the
    /// application's other commands alone.
    CreateCommand {
        /// Global or for one guild.
        scope: CommandScope,
        /// The command definition as sent.
        command: Value,
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
    /// A request was answered with a fault instead of being served: one scripted with
    /// [`DiscordStandIn::fail_next`](super::DiscordStandIn::fail_next), or a 429 because its
    /// rate-limit bucket was empty.
    Fault {
        /// The HTTP method.
        method: String,
        /// The path with its query string.
        path: String,
        /// The fault the stand-in answered with.
        fault: Fault,
        /// `true` for a scripted fault, `false` for an empty bucket.
        scripted: bool,
    },
    /// Any other request, including the ones the stand-in answers (gateway URL, `users/@me`,
    /// follow-up reads and deletes) and the ones it does not know (answered 404).
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
            _ => None,
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

    /// The callback type (`5` = deferred, `4` = message, `6` = deferred update, `7` = update)
    /// when this is a callback.
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

    /// Whether this is a fault answer (scripted, or an empty bucket) to a request whose path
    /// contains `fragment`.
    pub fn is_fault_on(&self, fragment: &str) -> bool {
        matches!(self, Self::Fault { path, .. } if path.contains(fragment))
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
            Self::Resume {
                session_id,
                seq,
                accepted,
                replayed,
            } => format!("RESUME {session_id} seq={seq} accepted={accepted} replayed={replayed}"),
            Self::Heartbeat { seq } => format!("heartbeat seq={seq:?}"),
            Self::GatewayClosed { session_id, cause } => {
                format!("gateway closed {session_id:?} {cause:?}")
            }
            Self::CreateCommand { scope, command } => format!(
                "create command {} {scope:?}",
                command["name"].as_str().unwrap_or("?")
            ),
            Self::RegisterCommands { scope, commands } => format!(
                "register {} command(s) {scope:?}",
                commands.as_array().map_or(0, Vec::len)
            ),
            Self::Callback {
                interaction_id,
                body,
                ..
            } => format!("callback {interaction_id} {body}"),
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
            } => format!("edit follow-up {message_id} {token}"),
            Self::Fault {
                method,
                path,
                fault,
                scripted,
            } => format!("{method} {path} -> fault {fault:?} (scripted: {scripted})"),
            Self::Other {
                method,
                path,
                status,
                ..
            } => format!("{method} {path} -> {status}"),
        }
    }
}

/// A recorded event with its position, arrival time and answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Position in arrival order, from 0.
    pub index: usize,
    /// When the stand-in finished reading the request (or the gateway message).
    pub at: Instant,
    /// Time since the stand-in started.
    pub since_start: Duration,
    /// What happened.
    pub event: DiscordEvent,
    /// The HTTP status the stand-in answered a REST request with; `None` for gateway events.
    pub status: Option<u16>,
    /// The JSON error body of a 4xx/5xx answer, e.g.
    /// `{"code":50035,"message":"Invalid Form Body","errors":{…}}`.
    pub error: Option<Value>,
}

impl Recorded {
    /// Whether the REST request was answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The Discord error code of a refused request (`10062`, `50035`, …).
    pub fn error_code(&self) -> Option<u64> {
        self.error
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(Value::as_u64)
    }
}
