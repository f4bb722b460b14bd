//! Interactions the stand-in pushes: slash commands ([`CommandSpec`]) and button clicks on a
//! message the bot posted, each as an `INTERACTION_CREATE` that serenity 0.12 parses; plus the
//! handles a test uses to make them late or their tokens expire.

use std::time::Instant;

use serde_json::{Value, json};

use super::state::Interaction;
use super::{
    ATTACHMENT_SIZE_LIMIT, DEFAULT_CHANNEL_ID, DiscordStandIn, MAILCHECK_COMMAND_ID, StandInError,
};

/// What [`DiscordStandIn::send_interaction`], [`DiscordStandIn::send_command`] or
/// [`DiscordStandIn::click`] sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInteraction {
    /// The interaction id.
    pub id: u64,
    /// The interaction token (used in the callback and webhook routes).
    pub token: String,
    /// When it was handed to the gateway.
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

/// A message the bot posted, named by the interaction it answered (its original response) or
/// by its id (e.g. a follow-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageRef {
    /// The original response to the interaction with this token.
    Original(String),
    /// The message with this id.
    Id(u64),
}

impl From<&str> for MessageRef {
    fn from(token: &str) -> Self {
        Self::Original(token.to_owned())
    }
}

impl From<&String> for MessageRef {
    fn from(token: &String) -> Self {
        Self::Original(token.clone())
    }
}

impl From<&SentInteraction> for MessageRef {
    fn from(sent: &SentInteraction) -> Self {
        Self::Original(sent.token.clone())
    }
}

impl From<u64> for MessageRef {
    fn from(id: u64) -> Self {
        Self::Id(id)
    }
}

fn user_json(user_id: u64, username: &str) -> Value {
    json!({
        "id": user_id.to_string(),
        "username": username,
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
    })
}

/// Whether a message's components hold an enabled, non-link component with `custom_id`.
fn has_component(message: &Value, custom_id: &str) -> bool {
    message["components"].as_array().is_some_and(|rows| {
        rows.iter().any(|row| {
            row["components"].as_array().is_some_and(|children| {
                children.iter().any(|c| {
                    c["custom_id"] == custom_id && !c["disabled"].as_bool().unwrap_or(false)
                })
            })
        })
    })
}

/// The parts of an `INTERACTION_CREATE` for one user.
struct Push<'a> {
    kind: u8,
    command: String,
    user_id: u64,
    username: &'a str,
    guild_id: Option<u64>,
    channel_id: u64,
    data: Value,
    message: Option<(u64, Value)>,
}

impl DiscordStandIn {
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
        self.push(Push {
            kind: 2,
            command: spec.name.clone(),
            user_id: spec.user_id,
            username: &spec.username,
            guild_id: spec.guild_id,
            channel_id: spec.channel_id,
            data: json!({
                "id": spec.command_id.to_string(),
                "name": spec.name,
                "type": 1,
                "options": spec.options,
            }),
            message: None,
        })
    }

    /// Clicks the button `custom_id` on a message the bot posted, as `user_id` in `guild_id`
    /// (or a DM): pushes an `INTERACTION_CREATE` of type 3 (message component) carrying the
    /// message as the stand-in holds it. The bot may answer with callback type 4 or 5 (a new
    /// message), 6 (acknowledge; `@original` then edits the clicked message) or 7 (update the
    /// clicked message).
    pub fn click(
        &self,
        message: impl Into<MessageRef>,
        custom_id: &str,
        user_id: u64,
        guild_id: Option<u64>,
    ) -> Result<SentInteraction, StandInError> {
        let message = message.into();
        let (id, json, command) = {
            let world = self.shared.lock_world();
            let (id, command) = match &message {
                MessageRef::Original(token) => {
                    let i = world.interactions.get(token);
                    (i.and_then(|i| i.original), i.map(|i| i.command.clone()))
                }
                MessageRef::Id(id) => (Some(*id), None),
            };
            let found = id.and_then(|id| world.messages.get(&id).map(|m| (id, m.clone())));
            let Some((id, json)) = found else {
                return Err(StandInError::UnknownMessage(format!("{message:?}")));
            };
            let command = command
                .or_else(|| json["interaction"]["name"].as_str().map(str::to_owned))
                .unwrap_or_default();
            (id, json, command)
        };
        if !has_component(&json, custom_id) {
            return Err(StandInError::UnknownComponent {
                message: id,
                custom_id: custom_id.to_owned(),
            });
        }
        let channel_id = json["channel_id"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(DEFAULT_CHANNEL_ID);
        self.push(Push {
            kind: 3,
            command,
            user_id,
            username: &format!("user{user_id}"),
            guild_id,
            channel_id,
            data: json!({ "custom_id": custom_id, "component_type": 2 }),
            message: Some((id, json)),
        })
    }

    fn push(&self, push: Push<'_>) -> Result<SentInteraction, StandInError> {
        let shared = &self.shared;
        let id = shared.next_snowflake();
        let token = format!("standin-token-{id}");
        let user = user_json(push.user_id, push.username);
        let mut d = json!({
            "id": id.to_string(),
            "application_id": shared.application_id.to_string(),
            "type": push.kind,
            "token": token,
            "version": 1,
            "channel_id": push.channel_id.to_string(),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "data": push.data,
        });
        if let Some((_, message)) = &push.message {
            d["message"] = message.clone();
        }
        if let Some(guild_id) = push.guild_id {
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
            d["user"] = user.clone();
        }
        // Register the interaction before the client can possibly answer it.
        shared.lock_world().interactions.insert(
            token.clone(),
            Interaction {
                id,
                kind: push.kind,
                command: push.command,
                channel_id: push.channel_id,
                guild_id: push.guild_id,
                user,
                source_message: push.message.map(|(id, _)| id),
                attachment_size_limit: ATTACHMENT_SIZE_LIMIT,
                acknowledged: false,
                original: None,
                followups: Vec::new(),
                created: Instant::now(),
                delivered: None,
                expired: false,
                token_expired: false,
            },
        );
        if let Err(e) = self.dispatch("INTERACTION_CREATE", d) {
            shared.lock_world().interactions.remove(&token);
            return Err(e);
        }
        Ok(SentInteraction {
            id,
            token,
            at: Instant::now(),
        })
    }

    /// Ends the callback window of an interaction now: its callback gets 404 (10062).
    pub fn expire_interaction(&self, token: &str) {
        if let Some(i) = self.shared.lock_world().interactions.get_mut(token) {
            i.expired = true;
        }
    }

    /// Expires an interaction's webhook token now: webhook calls with it get 401 (50027).
    pub fn expire_token(&self, token: &str) {
        if let Some(i) = self.shared.lock_world().interactions.get_mut(token) {
            i.token_expired = true;
        }
    }
}
