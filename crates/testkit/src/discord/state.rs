//! The state the servers and the handle share: settings, the record of events, the interactions
//! sent and the messages that answer them (by id, so a test can click their buttons later).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::events::{DiscordEvent, Recorded, Upload};
use super::faults::Faults;
use super::gateway::GatewayState;
use super::hold::Gate;
use super::limits::Limits;

/// Settings a test may change while the stand-in runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// How long after delivery the callback may come (Discord: 3 s).
    pub(super) interaction_deadline: Duration,
    /// How long an interaction token works for webhook calls (Discord: 15 min).
    pub(super) token_lifetime: Duration,
    /// The `heartbeat_interval` sent in HELLO.
    pub(super) heartbeat_interval: Duration,
}

/// The state shared by the servers and the handle.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) application_id: u64,
    pub(super) bot_user_id: u64,
    pub(super) started: Instant,
    pub(super) gateway_url: String,
    pub(super) http_base: String,
    settings: Mutex<Settings>,
    events: Mutex<Vec<Recorded>>,
    /// Number of recorded events; waiters wake when it changes.
    pub(super) count: watch::Sender<usize>,
    world: Mutex<World>,
    gateway: Mutex<GatewayState>,
    /// Number of live gateway connections that identified or resumed.
    pub(super) ready: watch::Sender<usize>,
    limits: Mutex<Limits>,
    faults: Mutex<Faults>,
    /// Scripted holds, oldest first; released ones are pruned when requests look.
    holds: Mutex<Vec<Arc<Gate>>>,
    next_id: AtomicU64,
}

/// Interactions by token and the messages answering them by id.
#[derive(Debug, Default)]
pub(super) struct World {
    pub(super) interactions: HashMap<String, Interaction>,
    pub(super) messages: HashMap<u64, Value>,
}

/// One interaction the stand-in pushed.
#[derive(Debug, Clone)]
pub(super) struct Interaction {
    pub(super) id: u64,
    /// 2 = application command, 3 = message component.
    pub(super) kind: u8,
    /// The command's name (for a component: the command that posted the message).
    pub(super) command: String,
    pub(super) channel_id: u64,
    pub(super) guild_id: Option<u64>,
    /// The invoking user object.
    pub(super) user: Value,
    /// For a component interaction: the message whose component was used.
    pub(super) source_message: Option<u64>,
    pub(super) attachment_size_limit: u32,
    pub(super) acknowledged: bool,
    /// The id of the original response message, once there is one.
    pub(super) original: Option<u64>,
    pub(super) followups: Vec<u64>,
    pub(super) created: Instant,
    /// When the `INTERACTION_CREATE` went out on a live connection.
    pub(super) delivered: Option<Instant>,
    /// Marked by `expire_interaction`: the callback window is over.
    pub(super) expired: bool,
    /// Marked by `expire_token`: the webhook token no longer works.
    pub(super) token_expired: bool,
}

impl Interaction {
    fn clock_start(&self) -> Instant {
        self.delivered.unwrap_or(self.created)
    }

    /// Whether a callback now comes too late. A zero deadline makes every callback late.
    pub(super) fn callback_is_late(&self, deadline: Duration, now: Instant) -> bool {
        self.expired
            || deadline.is_zero()
            || now.saturating_duration_since(self.clock_start()) > deadline
    }

    /// Whether the webhook token has expired.
    pub(super) fn token_is_expired(&self, lifetime: Duration, now: Instant) -> bool {
        self.token_expired
            || lifetime.is_zero()
            || now.saturating_duration_since(self.clock_start()) > lifetime
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(
        gateway_url: String,
        http_base: String,
        settings: Settings,
        limits: Limits,
    ) -> Self {
        Self {
            application_id: super::DEFAULT_APPLICATION_ID,
            bot_user_id: super::DEFAULT_BOT_USER_ID,
            started: Instant::now(),
            gateway_url,
            http_base,
            settings: Mutex::new(settings),
            events: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            world: Mutex::new(World::default()),
            gateway: Mutex::new(GatewayState::default()),
            ready: watch::Sender::new(0),
            limits: Mutex::new(limits),
            faults: Mutex::new(Faults::default()),
            holds: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1_200_000_000_000_000_000),
        }
    }

    pub(super) fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    pub(super) fn update_settings(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut lock(&self.settings));
    }

    pub(super) fn lock_events(&self) -> MutexGuard<'_, Vec<Recorded>> {
        lock(&self.events)
    }

    pub(super) fn lock_gateway(&self) -> MutexGuard<'_, GatewayState> {
        lock(&self.gateway)
    }

    pub(super) fn lock_world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub(super) fn lock_limits(&self) -> MutexGuard<'_, Limits> {
        lock(&self.limits)
    }

    pub(super) fn lock_faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub(super) fn lock_holds(&self) -> MutexGuard<'_, Vec<Arc<Gate>>> {
        lock(&self.holds)
    }

    /// Records a gateway event (no HTTP answer).
    pub(super) fn record(&self, event: DiscordEvent) {
        self.record_answer(event, None, None);
    }

    /// Records an event with the HTTP status and error body it was answered with.
    pub(super) fn record_answer(
        &self,
        event: DiscordEvent,
        status: Option<u16>,
        error: Option<Value>,
    ) {
        let at = Instant::now();
        let len = {
            let mut events = self.lock_events();
            let index = events.len();
            events.push(Recorded {
                index,
                at,
                since_start: at - self.started,
                event,
                status,
                error,
            });
            events.len()
        };
        self.count.send_replace(len);
    }

    pub(super) fn next_snowflake(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_user_id.to_string(),
            "username": "mailcheck-standin-bot",
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
        })
    }

    pub(super) fn summary(&self) -> String {
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

    /// A Message object echoing a payload, as Discord returns from webhook calls; it carries
    /// the interaction's metadata so a component interaction on it parses in serenity.
    pub(super) fn message_json(
        &self,
        id: u64,
        interaction: &Interaction,
        payload: &Value,
        files: &[Upload],
    ) -> Value {
        let attachments: Vec<Value> = files
            .iter()
            .map(|f| {
                let attachment_id = self.next_snowflake();
                let url = format!(
                    "{}/attachments/{attachment_id}/{}",
                    self.http_base, f.filename
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
        let mut metadata = json!({
            "type": interaction.kind,
            "id": interaction.id.to_string(),
            "user": interaction.user,
            "authorizing_integration_owners": {},
        });
        if let Some(source) = interaction.source_message {
            metadata["interacted_message_id"] = json!(source.to_string());
        }
        let mut message = json!({
            "id": id.to_string(),
            "channel_id": interaction.channel_id.to_string(),
            "author": self.bot_user(),
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
            "application_id": self.application_id.to_string(),
            "webhook_id": self.application_id.to_string(),
            "interaction_metadata": metadata,
            "interaction": {
                "id": interaction.id.to_string(),
                "type": interaction.kind,
                "name": interaction.command,
                "user": interaction.user,
            },
        });
        if let Some(guild_id) = interaction.guild_id {
            message["guild_id"] = json!(guild_id.to_string());
        }
        message
    }

    /// `existing` with the fields an edit payload sets replaced (content, embeds, components,
    /// flags; attachments when files or `attachments` were sent).
    pub(super) fn merge_edit(
        &self,
        existing: &Value,
        interaction: &Interaction,
        payload: &Value,
        files: &[Upload],
    ) -> Value {
        let id = existing["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let mut merged = existing.as_object().cloned().unwrap_or_default();
        let edit = self.message_json(id, interaction, payload, files);
        if let Some(fields) = payload.as_object() {
            for key in ["content", "embeds", "components", "flags"] {
                if fields.contains_key(key) {
                    merged.insert(key.to_owned(), edit[key].clone());
                }
            }
        }
        if !files.is_empty() || payload.get("attachments").is_some() {
            merged.insert("attachments".to_owned(), edit["attachments"].clone());
        }
        merged.insert("edited_timestamp".to_owned(), json!("2024-01-01T00:00:01Z"));
        Value::Object(merged)
    }
}
