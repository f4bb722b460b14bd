//! How Discord answers an interaction: the callback (types 4 to 7, within the callback window,
//! once) and the interaction webhook (original response and follow-ups, while the token lives),
//! each payload checked against Discord's limits and applied to the stored messages, which a
//! test reads back by interaction token or message id.

use std::time::Instant;

use serde_json::{Value, json};

use super::events::Upload;
use super::http::Response;
use super::state::{Interaction, Shared, World};
use super::validate::check_message;
use super::{
    CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE_MESSAGE,
    CALLBACK_UPDATE_MESSAGE, DiscordStandIn,
};

fn unknown_interaction() -> Response {
    Response::error(404, 10062, "Unknown interaction")
}

pub(super) fn callback(
    shared: &Shared,
    interaction_id: u64,
    token: &str,
    body: &Value,
    files: &[Upload],
) -> Response {
    let settings = shared.settings();
    let now = Instant::now();
    let mut world = shared.lock_world();
    let Some(interaction) = world.interactions.get(token).cloned() else {
        return unknown_interaction();
    };
    if interaction.id != interaction_id
        || interaction.callback_is_late(settings.interaction_deadline, now)
    {
        return unknown_interaction();
    }
    if interaction.acknowledged {
        return Response::error(400, 40060, "Interaction has already been acknowledged.");
    }
    let kind = body.get("type").and_then(Value::as_u64);
    let data = body.get("data").cloned().unwrap_or_else(|| json!({}));
    let is_component = interaction.source_message.is_some();
    let original = match kind {
        Some(CALLBACK_CHANNEL_MESSAGE) => {
            if let Err(refused) =
                check_message(&data, files, interaction.attachment_size_limit, &["data"])
            {
                return refused;
            }
            let id = shared.next_snowflake();
            let message = shared.message_json(id, &interaction, &data, files);
            world.messages.insert(id, message);
            Some(id)
        }
        Some(CALLBACK_DEFERRED_CHANNEL_MESSAGE) => {
            // The "…is thinking" placeholder; its flags decide ephemerality.
            let flags = data.get("flags").cloned().unwrap_or(json!(0));
            let id = shared.next_snowflake();
            let message = shared.message_json(id, &interaction, &json!({ "flags": flags }), &[]);
            world.messages.insert(id, message);
            Some(id)
        }
        Some(CALLBACK_DEFERRED_UPDATE_MESSAGE) if is_component => interaction.source_message,
        Some(CALLBACK_UPDATE_MESSAGE) if is_component => {
            if let Err(refused) =
                check_message(&data, files, interaction.attachment_size_limit, &["data"])
            {
                return refused;
            }
            let source = interaction.source_message.unwrap_or_default();
            update_message(shared, &mut world, source, &interaction, &data, files);
            Some(source)
        }
        Some(CALLBACK_DEFERRED_UPDATE_MESSAGE | CALLBACK_UPDATE_MESSAGE) => {
            return invalid_type("This callback type is only valid for component interactions");
        }
        // PONG, autocomplete result, modal, premium required, launch activity: acknowledged,
        // no message.
        Some(1 | 8 | 9 | 10 | 12) => None,
        _ => return invalid_type("Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}."),
    };
    if let Some(state) = world.interactions.get_mut(token) {
        state.acknowledged = true;
        state.original = original;
    }
    Response::no_content()
}

fn invalid_type(message: &str) -> Response {
    Response::json(
        400,
        json!({
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": { "type": { "_errors": [
                { "code": "INTERACTION_CALLBACK_TYPE_INVALID", "message": message }
            ] } },
        }),
    )
}

/// Replaces the fields the payload sets in a stored message.
fn update_message(
    shared: &Shared,
    world: &mut World,
    id: u64,
    interaction: &Interaction,
    payload: &Value,
    files: &[Upload],
) -> Option<Value> {
    let existing = world.messages.get(&id)?;
    let merged = shared.merge_edit(existing, interaction, payload, files);
    world.messages.insert(id, merged.clone());
    Some(merged)
}

/// The interaction behind a webhook token: 404 10015 if unknown, 401 50027 if expired.
fn webhook(shared: &Shared, world: &World, token: &str) -> Result<Interaction, Response> {
    let lifetime = shared.settings().token_lifetime;
    match world.interactions.get(token) {
        None => Err(Response::error(404, 10015, "Unknown Webhook")),
        Some(i) if i.token_is_expired(lifetime, Instant::now()) => {
            Err(Response::error(401, 50027, "Invalid Webhook Token"))
        }
        Some(i) => Ok(i.clone()),
    }
}

fn unknown_message() -> Response {
    Response::error(404, 10008, "Unknown Message")
}

pub(super) fn edit_original(
    shared: &Shared,
    token: &str,
    body: &Value,
    files: &[Upload],
) -> Response {
    let mut world = shared.lock_world();
    let interaction = match webhook(shared, &world, token) {
        Ok(i) => i,
        Err(refused) => return refused,
    };
    let Some(id) = interaction.original else {
        return unknown_message();
    };
    if let Err(refused) = check_message(body, files, interaction.attachment_size_limit, &[]) {
        return refused;
    }
    match update_message(shared, &mut world, id, &interaction, body, files) {
        Some(merged) => Response::json(200, merged),
        None => unknown_message(),
    }
}

/// GET or DELETE of the original response.
pub(super) fn original(shared: &Shared, token: &str, delete: bool) -> Response {
    let mut world = shared.lock_world();
    let interaction = match webhook(shared, &world, token) {
        Ok(i) => i,
        Err(refused) => return refused,
    };
    let Some(id) = interaction.original else {
        return unknown_message();
    };
    if !delete {
        return world
            .messages
            .get(&id)
            .map_or_else(unknown_message, |m| Response::json(200, m.clone()));
    }
    world.messages.remove(&id);
    if let Some(state) = world.interactions.get_mut(token) {
        state.original = None;
    }
    Response::no_content()
}

pub(super) fn followup(shared: &Shared, token: &str, body: &Value, files: &[Upload]) -> Response {
    let mut world = shared.lock_world();
    let interaction = match webhook(shared, &world, token) {
        Ok(i) if i.acknowledged => i,
        Ok(_) => return Response::error(404, 10015, "Unknown Webhook"),
        Err(refused) => return refused,
    };
    if let Err(refused) = check_message(body, files, interaction.attachment_size_limit, &[]) {
        return refused;
    }
    let id = shared.next_snowflake();
    let message = shared.message_json(id, &interaction, body, files);
    world.messages.insert(id, message.clone());
    if let Some(state) = world.interactions.get_mut(token) {
        state.followups.push(id);
    }
    Response::json(200, message)
}

/// GET, PATCH or DELETE of a follow-up message (or of the original by its id).
pub(super) fn followup_message(
    shared: &Shared,
    method: &str,
    token: &str,
    id: u64,
    body: &Value,
    files: &[Upload],
) -> Response {
    let mut world = shared.lock_world();
    let interaction = match webhook(shared, &world, token) {
        Ok(i) if i.acknowledged => i,
        Ok(_) => return Response::error(404, 10015, "Unknown Webhook"),
        Err(refused) => return refused,
    };
    if !interaction.followups.contains(&id) && interaction.original != Some(id) {
        return unknown_message();
    }
    match method {
        "PATCH" => {
            if let Err(refused) = check_message(body, files, interaction.attachment_size_limit, &[])
            {
                return refused;
            }
            update_message(shared, &mut world, id, &interaction, body, files)
                .map_or_else(unknown_message, |m| Response::json(200, m))
        }
        "GET" => world
            .messages
            .get(&id)
            .map_or_else(unknown_message, |m| Response::json(200, m.clone())),
        _ => {
            world.messages.remove(&id);
            if let Some(state) = world.interactions.get_mut(token) {
                state.followups.retain(|f| *f != id);
                if state.original == Some(id) {
                    state.original = None;
                }
            }
            Response::no_content()
        }
    }
}

impl DiscordStandIn {
    /// The original response of an interaction as the stand-in holds it now (a Message object,
    /// after every edit), if it has one.
    pub fn original_message(&self, token: &str) -> Option<Value> {
        let world = self.shared.lock_world();
        let id = world.interactions.get(token)?.original?;
        world.messages.get(&id).cloned()
    }

    /// The id of an interaction's original response message, if it has one.
    pub fn original_message_id(&self, token: &str) -> Option<u64> {
        self.shared.lock_world().interactions.get(token)?.original
    }

    /// The follow-up messages of an interaction, oldest first.
    pub fn followup_messages(&self, token: &str) -> Vec<Value> {
        let world = self.shared.lock_world();
        world.interactions.get(token).map_or_else(Vec::new, |i| {
            i.followups
                .iter()
                .filter_map(|id| world.messages.get(id).cloned())
                .collect()
        })
    }

    /// A message the bot posted (original response or follow-up), by id, as it is now.
    pub fn message(&self, id: u64) -> Option<Value> {
        self.shared.lock_world().messages.get(&id).cloned()
    }
}
