//! The REST routes: scripted faults and rate-limit buckets first, then the route itself, with
//! Discord's answers for late callbacks, expired tokens, double acknowledgements and invalid
//! payloads. Every request is recorded with the status it got.

use std::time::Instant;

use serde_json::{Value, json};

use super::events::{CommandScope, DiscordEvent};
use super::http::{Decoded, Request, Response, decode_body};
use super::limits::{Bucket, Hit};
use super::state::{Interaction, Shared, World};
use super::validate::check_message;
use super::{
    CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE_MESSAGE,
    CALLBACK_UPDATE_MESSAGE,
};

/// The route a request addresses.
#[derive(Debug)]
enum Route<'a> {
    Gateway,
    GatewayBot,
    Me,
    GlobalCommands,
    GuildCommands(&'a str),
    Callback { id: &'a str, token: &'a str },
    Original { token: &'a str },
    Execute { token: &'a str },
    Message { token: &'a str, id: &'a str },
    Unknown,
}

impl Route<'_> {
    fn bucket(&self) -> (Bucket, &str) {
        match self {
            Self::Gateway | Self::GatewayBot => (Bucket::Gateway, ""),
            Self::Me => (Bucket::User, ""),
            Self::GlobalCommands | Self::GuildCommands(_) => (Bucket::Commands, ""),
            Self::Callback { id, .. } => (Bucket::Callback, id),
            Self::Original { token } | Self::Execute { token } | Self::Message { token, .. } => {
                (Bucket::Webhook, token)
            }
            Self::Unknown => (Bucket::Other, ""),
        }
    }
}

fn classify<'a>(shared: &Shared, method: &str, segments: &[&'a str]) -> Route<'a> {
    let app = shared.application_id.to_string();
    let Some(["api", "v10", rest @ ..]) = Some(segments) else {
        return Route::Unknown;
    };
    match (method, rest) {
        ("GET", ["gateway"]) => Route::Gateway,
        ("GET", ["gateway", "bot"]) => Route::GatewayBot,
        ("GET", ["users", "@me"]) => Route::Me,
        ("PUT", ["applications", a, "commands"]) if *a == app => Route::GlobalCommands,
        ("PUT", ["applications", a, "guilds", g, "commands"]) if *a == app => {
            Route::GuildCommands(g)
        }
        ("POST", ["interactions", id, token, "callback"]) => Route::Callback { id, token },
        ("GET" | "PATCH" | "DELETE", ["webhooks", a, token, "messages", "@original"])
            if *a == app =>
        {
            Route::Original { token }
        }
        ("POST", ["webhooks", a, token]) if *a == app => Route::Execute { token },
        ("GET" | "PATCH" | "DELETE", ["webhooks", a, token, "messages", id]) if *a == app => {
            Route::Message { token, id }
        }
        _ => Route::Unknown,
    }
}

fn other(req: &Request, status: u16) -> DiscordEvent {
    DiscordEvent::Other {
        method: req.method.clone(),
        path: req.target.clone(),
        status,
        body: String::from_utf8_lossy(&req.body).into_owned(),
    }
}

/// Answers one request and records it.
pub(super) fn handle(shared: &Shared, req: &Request) -> Response {
    let path = req.path().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let route = classify(shared, &req.method, &segments);
    let (bucket, major) = route.bucket();
    let limited = {
        let mut limits = shared.lock_limits();
        match limits.take_fault(&req.method, &path) {
            Some(fault) => Err((limits.fault_response(&fault, bucket), fault, true)),
            None => match limits.hit(bucket, major, Instant::now()) {
                Hit::Allowed(headers) => Ok(headers),
                Hit::Limited {
                    retry_after,
                    response,
                } => {
                    let fault = super::Fault::RateLimited {
                        retry_after,
                        global: false,
                    };
                    Err((response, fault, false))
                }
            },
        }
    };
    let headers = match limited {
        Ok(headers) => headers,
        Err((response, fault, scripted)) => {
            let status = fault.status();
            shared.record_answer(
                DiscordEvent::Fault {
                    method: req.method.clone(),
                    path: req.target.clone(),
                    fault,
                    scripted,
                },
                status,
                response.error_body(),
            );
            return response;
        }
    };
    let (event, response) = match decode_body(req) {
        Ok(decoded) => serve(shared, req, &route, decoded),
        Err(e) => (
            other(req, 400),
            Response::error(
                400,
                50109,
                &format!("The request body contains invalid JSON: {e}"),
            ),
        ),
    };
    let response = response.with_headers(headers);
    shared.record_answer(event, Some(response.status), response.error_body());
    response
}

fn serve(
    shared: &Shared,
    req: &Request,
    route: &Route<'_>,
    decoded: Decoded,
) -> (DiscordEvent, Response) {
    let Decoded { json: body, files } = decoded;
    match *route {
        Route::Gateway => (
            other(req, 200),
            Response::json(200, json!({ "url": shared.gateway_url })),
        ),
        Route::GatewayBot => (
            other(req, 200),
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
        Route::Me => (other(req, 200), Response::json(200, shared.bot_user())),
        Route::GlobalCommands => (
            DiscordEvent::RegisterCommands {
                scope: CommandScope::Global,
                commands: body,
            },
            Response::json(200, json!([])),
        ),
        Route::GuildCommands(g) => match g.parse() {
            Ok(guild) => (
                DiscordEvent::RegisterCommands {
                    scope: CommandScope::Guild(guild),
                    commands: body,
                },
                Response::json(200, json!([])),
            ),
            Err(_) => (
                other(req, 404),
                Response::error(404, 10004, "Unknown Guild"),
            ),
        },
        Route::Callback { id, token } => {
            let interaction_id = id.parse().unwrap_or_default();
            let response = callback(shared, interaction_id, token, &body, &files);
            let event = DiscordEvent::Callback {
                interaction_id,
                token: token.to_owned(),
                body,
                files,
            };
            (event, response)
        }
        Route::Original { token } => {
            let token = token.to_owned();
            match req.method.as_str() {
                "PATCH" => {
                    let response = edit_original(shared, &token, &body, &files);
                    let event = DiscordEvent::EditOriginal {
                        token,
                        payload_json: body,
                        files,
                    };
                    (event, response)
                }
                "GET" => (
                    DiscordEvent::GetOriginal {
                        token: token.clone(),
                    },
                    original(shared, &token, false),
                ),
                _ => (
                    DiscordEvent::DeleteOriginal {
                        token: token.clone(),
                    },
                    original(shared, &token, true),
                ),
            }
        }
        Route::Execute { token } => {
            let response = followup(shared, token, &body, &files);
            let event = DiscordEvent::Followup {
                token: token.to_owned(),
                payload_json: body,
                files,
            };
            (event, response)
        }
        Route::Message { token, id } => {
            let message_id = id.parse().unwrap_or_default();
            let response = followup_message(shared, &req.method, token, message_id, &body, &files);
            let event = if req.method == "PATCH" {
                DiscordEvent::EditFollowup {
                    token: token.to_owned(),
                    message_id,
                    payload_json: body,
                    files,
                }
            } else {
                other(req, response.status)
            };
            (event, response)
        }
        Route::Unknown => (other(req, 404), Response::error(404, 0, "404: Not Found")),
    }
}

fn unknown_interaction() -> Response {
    Response::error(404, 10062, "Unknown interaction")
}

fn callback(
    shared: &Shared,
    interaction_id: u64,
    token: &str,
    body: &Value,
    files: &[super::Upload],
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
    files: &[super::Upload],
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

fn edit_original(shared: &Shared, token: &str, body: &Value, files: &[super::Upload]) -> Response {
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
fn original(shared: &Shared, token: &str, delete: bool) -> Response {
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

fn followup(shared: &Shared, token: &str, body: &Value, files: &[super::Upload]) -> Response {
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
fn followup_message(
    shared: &Shared,
    method: &str,
    token: &str,
    id: u64,
    body: &Value,
    files: &[super::Upload],
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
