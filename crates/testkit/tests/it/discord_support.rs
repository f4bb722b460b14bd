//! Shared by the Discord stand-in tests: a serenity client (TLS mode with the rate limiter on,
//! or plain HTTP through the proxy) whose handler answers commands and button clicks by name,
//! and a raw gateway client for checks serenity cannot be made to do (stay silent, resume with
//! a chosen seq).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mailcheck_testkit::discord::{CommandSpec, DEFAULT_CHANNEL_ID, DiscordStandIn};
use serde_json::{Value, json};
use serenity::all as sy;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous: every wait ends as soon as what it waits for arrives.
pub const WAIT: Duration = Duration::from_secs(30);
pub const GUILD: u64 = 777_000_000_000_000_002;
pub const TOKEN: &str = "Bot standin-test-token";

/// A command with no options from user 42 in [`GUILD`].
pub fn command(name: &str) -> CommandSpec {
    CommandSpec {
        name: name.to_owned(),
        command_id: 1_300_000_000_000_000_001,
        options: json!([]),
        user_id: 42,
        username: "user42".to_owned(),
        guild_id: Some(GUILD),
        channel_id: DEFAULT_CHANNEL_ID,
    }
}

/// How serenity reaches the stand-in's REST side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `https://discord.com` through the stand-in's reqwest client; rate limiter on.
    Tls,
    /// `HttpBuilder::proxy(http_base)`; rate limiter off.
    Proxy,
}

/// serenity's `Http` for the stand-in.
pub fn http(discord: &DiscordStandIn, mode: Mode) -> sy::Http {
    match mode {
        Mode::Tls => sy::HttpBuilder::new(TOKEN)
            .client(discord.reqwest_client().unwrap())
            .build(),
        Mode::Proxy => sy::HttpBuilder::new(TOKEN)
            .proxy(discord.http_base())
            .ratelimiter_disabled(true)
            .build(),
    }
}

/// Answers commands and clicks by name, and reports what it saw on `seen`.
struct Handler {
    seen: mpsc::UnboundedSender<String>,
}

fn buttons(ids: &[&str]) -> Vec<sy::CreateActionRow> {
    let mut row: Vec<sy::CreateButton> = ids
        .iter()
        .map(|id| sy::CreateButton::new(*id).label(*id))
        .collect();
    row.push(sy::CreateButton::new_link("https://example.test/docs").label("Docs"));
    vec![sy::CreateActionRow::Buttons(row)]
}

impl Handler {
    async fn command(&self, ctx: &sy::Context, cmd: &sy::CommandInteraction) -> sy::Result<()> {
        let http = &ctx.http;
        match cmd.data.name.as_str() {
            "defer_edit" => {
                cmd.defer(http).await?;
                cmd.edit_response(http, sy::EditInteractionResponse::new().content("done"))
                    .await?;
            }
            "big_embed" => {
                let embed = sy::CreateEmbed::new().title("x".repeat(300));
                let message = sy::CreateInteractionResponseMessage::new().embed(embed);
                cmd.create_response(http, sy::CreateInteractionResponse::Message(message))
                    .await?;
            }
            "buttons" => {
                let message = sy::CreateInteractionResponseMessage::new()
                    .content("pick one")
                    .components(buttons(&["update", "ack", "reply"]));
                cmd.create_response(http, sy::CreateInteractionResponse::Message(message))
                    .await?;
            }
            "followup_buttons" => {
                cmd.defer(http).await?;
                let followup = sy::CreateInteractionResponseFollowup::new()
                    .content("just for you")
                    .ephemeral(true)
                    .components(buttons(&["fu"]));
                cmd.create_followup(http, followup).await?;
            }
            other => {
                let _ = self.seen.send(format!("unknown command {other}"));
            }
        }
        Ok(())
    }

    async fn click(&self, ctx: &sy::Context, c: &sy::ComponentInteraction) -> sy::Result<()> {
        let http = &ctx.http;
        let _ = self.seen.send(format!(
            "click {} on {} by {}",
            c.data.custom_id, c.message.id, c.user.id
        ));
        let update = |content: &str| {
            sy::CreateInteractionResponse::UpdateMessage(
                sy::CreateInteractionResponseMessage::new().content(content),
            )
        };
        match c.data.custom_id.as_str() {
            "update" => c.create_response(http, update("updated")).await?,
            "fu" => c.create_response(http, update("fu clicked")).await?,
            "ack" => {
                c.create_response(http, sy::CreateInteractionResponse::Acknowledge)
                    .await?;
                c.edit_response(http, sy::EditInteractionResponse::new().content("acked"))
                    .await?;
            }
            "reply" => {
                let message = sy::CreateInteractionResponseMessage::new()
                    .content("only you see this")
                    .ephemeral(true);
                c.create_response(http, sy::CreateInteractionResponse::Message(message))
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[sy::async_trait]
impl sy::EventHandler for Handler {
    async fn interaction_create(&self, ctx: sy::Context, interaction: sy::Interaction) {
        let result = match &interaction {
            sy::Interaction::Command(cmd) => self.command(&ctx, cmd).await,
            sy::Interaction::Component(c) => self.click(&ctx, c).await,
            _ => Ok(()),
        };
        if let Err(e) = result {
            let _ = self.seen.send(format!("error {e}"));
        }
    }
}

/// A running serenity client; it stops when this is dropped.
pub struct Client {
    task: JoinHandle<()>,
    /// What the handler saw ("click … on …", "error …").
    pub seen: mpsc::UnboundedReceiver<String>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// The next line the handler reported.
    pub async fn next_seen(&mut self) -> String {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("the handler reports in time")
            .expect("the handler lives")
    }
}

/// Connects a serenity client with the scripted handler and waits until it is ready.
pub async fn start_client(discord: &DiscordStandIn, mode: Mode) -> Client {
    let (tx, seen) = mpsc::unbounded_channel();
    let mut client =
        sy::ClientBuilder::new_with_http(http(discord, mode), sy::GatewayIntents::GUILDS)
            .event_handler(Handler { seen: tx })
            .await
            .expect("serenity client builds against the stand-in");
    let task = tokio::spawn(async move {
        if let Err(e) = client.start().await {
            eprintln!("serenity client stopped: {e}");
        }
    });
    discord.wait_ready(WAIT).await.unwrap();
    Client { task, seen }
}

/// A hand-driven gateway connection.
pub struct RawGateway {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The HELLO payload.
    pub hello: Value,
}

impl RawGateway {
    /// Connects and reads HELLO.
    pub async fn connect(discord: &DiscordStandIn) -> Self {
        let url = format!("{}/?v=10&encoding=json", discord.gateway_url());
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut raw = Self {
            ws,
            hello: Value::Null,
        };
        raw.hello = raw.recv().await.expect("HELLO");
        assert_eq!(raw.hello["op"], 10);
        raw
    }

    pub async fn send(&mut self, payload: Value) {
        self.ws
            .send(Message::Text(payload.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON; `Err(close code)` when the connection ends instead.
    pub async fn next(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the gateway says something in time");
            match msg {
                Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// The next text frame, which must come.
    pub async fn recv(&mut self) -> Option<Value> {
        self.next().await.ok()
    }

    /// Sends IDENTIFY and returns READY's payload.
    pub async fn identify(&mut self) -> Value {
        self.send(json!({ "op": 2, "d": { "token": TOKEN, "intents": 1, "properties": {} } }))
            .await;
        let ready = self.recv().await.expect("READY");
        assert_eq!(ready["t"], "READY", "{ready}");
        ready
    }
}

/// A plain HTTP client for acting as the bot by hand (installs the ring provider first).
pub fn plain_client() -> reqwest::Client {
    mailcheck_testkit::discord::install_ring_provider();
    reqwest::Client::new()
}
