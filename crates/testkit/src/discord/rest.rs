//! The REST routes: a request is classified, then answered by a scripted fault, a 429 of an
//! empty bucket, or the route (interaction routes in `webhook.rs`); every answer carries the
//! bucket's headers and every request is recorded with the status it got.

use std::time::Instant;

use serde_json::json;

use super::body::{Decoded, decode_body};
use super::events::{CommandScope, DiscordEvent};
use super::http::{Request, Response};
use super::limits::{Bucket, Hit};
use super::state::Shared;
use super::webhook::{callback, edit_original, followup, followup_message, original};

/// The route a request addresses.
#[derive(Debug)]
enum Route<'a> {
    Gateway,
    GatewayBot,
    Me,
    GlobalCommands,
    GuildCommands(&'a str),
    CreateGlobalCommand,
    CreateGuildCommand(&'a str),
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
            Self::GlobalCommands
            | Self::GuildCommands(_)
            | Self::CreateGlobalCommand
            | Self::CreateGuildCommand(_) => (Bucket::Commands, ""),
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
        ("POST", ["applications", a, "commands"]) if *a == app => Route::CreateGlobalCommand,
        ("POST", ["applications", a, "guilds", g, "commands"]) if *a == app => {
            Route::CreateGuildCommand(g)
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

/// Discord's answer to a created (or, by name, updated) command: the definition as sent, with
/// the ids and defaults serenity needs.
fn created_command(
    shared: &Shared,
    body: &serde_json::Value,
    guild: Option<u64>,
) -> serde_json::Value {
    let mut command = body.clone();
    if let Some(map) = command.as_object_mut() {
        let name = map
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let id = 900_000_000_000_000_000u64 + name.bytes().map(u64::from).sum::<u64>();
        map.insert("id".into(), json!(id.to_string()));
        map.insert(
            "application_id".into(),
            json!(shared.application_id.to_string()),
        );
        map.insert("version".into(), json!("1"));
        map.entry("type").or_insert(json!(1));
        map.entry("options").or_insert(json!([]));
        map.entry("description").or_insert(json!(""));
        if let Some(g) = guild {
            map.insert("guild_id".into(), json!(g.to_string()));
        }
    }
    command
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
    let scripted = shared.lock_faults().take(&req.method, &path);
    let limited = {
        let mut limits = shared.lock_limits();
        match scripted {
            Some(fault) => Err((
                fault.response(bucket, limits.limit(bucket).limit),
                fault,
                true,
            )),
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
        Route::CreateGlobalCommand => (
            DiscordEvent::CreateCommand {
                scope: CommandScope::Global,
                command: body.clone(),
            },
            Response::json(201, created_command(shared, &body, None)),
        ),
        Route::CreateGuildCommand(g) => match g.parse::<u64>() {
            Ok(guild) => (
                DiscordEvent::CreateCommand {
                    scope: CommandScope::Guild(guild),
                    command: body.clone(),
                },
                Response::json(201, created_command(shared, &body, Some(guild))),
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
