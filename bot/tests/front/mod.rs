//! A stopgap in front of the Discord stand-in: it answers the per-command registration calls
//! the bot makes (`POST /api/v10/applications/{app}/commands` and
//! `POST /api/v10/applications/{app}/guilds/{g}/commands`), which the stand-in does not route
//! yet (it answers them 404), and passes every other connection through to the stand-in
//! untouched. Each POST is recorded with its body, so a test asserts what the bot sent; the
//! answer can be held until the test releases it, or be an error.
//!
//! Once the stand-in answers these routes itself, tests can talk to it directly.

#![allow(unreachable_pub, dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcheck_testkit::discord::{CommandScope, DiscordStandIn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Largest request head or body the front reads.
const MAX_REQUEST: usize = 1024 * 1024;

/// How the front answers a registration.
#[derive(Debug, Clone)]
pub enum Registration {
    /// `201` with the created command, as Discord answers a new command.
    Created,
    /// This status and JSON error body, e.g. `403 {"message":"Missing Access","code":50001}`.
    Refused(u16, Value),
}

/// One registration call as the bot sent it.
#[derive(Debug, Clone)]
pub struct Post {
    /// Global or the guild from the path.
    pub scope: CommandScope,
    /// The path, e.g. `/api/v10/applications/1/guilds/2/commands`.
    pub path: String,
    /// The JSON body: one command definition.
    pub body: Value,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    application_id: u64,
    answer: Registration,
    posts: Mutex<Vec<Post>>,
    /// Number of recorded posts; waiters wake when it changes.
    count: watch::Sender<usize>,
    /// Registrations are answered only while this is `true`.
    open: watch::Sender<bool>,
}

/// The front; dropping it stops it.
#[derive(Debug)]
pub struct CommandsFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for CommandsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CommandsFront {
    /// A front for `discord` that answers registrations at once with `answer`.
    pub async fn start(discord: &DiscordStandIn, answer: Registration) -> Self {
        Self::start_gated(discord, answer, true).await
    }

    /// A front whose registration answers wait until [`Self::release`] when `open` is false.
    pub async fn start_gated(discord: &DiscordStandIn, answer: Registration, open: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: discord.http_addr(),
            application_id: discord.application_id(),
            answer,
            posts: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            open: watch::Sender::new(open),
        });
        let task = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Self { addr, shared, task }
    }

    /// The REST base to give the bot instead of the stand-in's.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets held registrations be answered.
    pub fn release(&self) {
        self.shared.open.send_replace(true);
    }

    /// The registrations received so far.
    pub fn posts(&self) -> Vec<Post> {
        self.shared.posts.lock().unwrap().clone()
    }

    /// Waits until at least `n` registrations arrived (answered or held) and returns them all.
    pub async fn wait_posts(&self, n: usize, timeout: Duration) -> Vec<Post> {
        let mut count = self.shared.count.subscribe();
        let waited = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "{n} registration(s) awaited, got {:?}",
            self.posts()
        );
        self.posts()
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(connection(stream, Arc::clone(&shared)));
    }
}

async fn connection(mut client: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) if buf.len() + n <= MAX_REQUEST => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let (method, path) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default().to_owned(),
    );
    let scope = (method == "POST")
        .then(|| registration_scope(&path, shared.application_id))
        .flatten();
    let Some(scope) = scope else {
        // Anything else goes to the stand-in as it came.
        let Ok(mut upstream) = TcpStream::connect(shared.upstream).await else {
            return;
        };
        if upstream.write_all(&buf).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        return;
    };
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    {
        let mut posts = shared.posts.lock().unwrap();
        posts.push(Post {
            scope,
            path,
            body: body.clone(),
        });
        shared.count.send_replace(posts.len());
    }
    let mut open = shared.open.subscribe();
    if open.wait_for(|o| *o).await.is_err() {
        return;
    }
    let (status, answer) = match &shared.answer {
        Registration::Created => (201, created(&body, scope, shared.application_id)),
        Registration::Refused(status, error) => (*status, error.clone()),
    };
    let answer = answer.to_string();
    let response = format!(
        "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// The scope of a registration path of application `app`, if it is one.
fn registration_scope(path: &str, app: u64) -> Option<CommandScope> {
    let app = app.to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v10", "applications", a, "commands"] if *a == app => Some(CommandScope::Global),
        ["api", "v10", "applications", a, "guilds", g, "commands"] if *a == app => {
            g.parse().ok().map(CommandScope::Guild)
        }
        _ => None,
    }
}

/// The application command object Discord returns for a created command: the definition sent,
/// plus the ids Discord assigns.
fn created(body: &Value, scope: CommandScope, app: u64) -> Value {
    let mut command = body.clone();
    command["id"] = json!("1300000000000000001");
    command["application_id"] = json!(app.to_string());
    command["version"] = json!("1300000000000000002");
    if command.get("type").is_none() {
        command["type"] = json!(1);
    }
    if command.get("options").is_none() {
        command["options"] = json!([]);
    }
    if let CommandScope::Guild(g) = scope {
        command["guild_id"] = json!(g.to_string());
    }
    command
}
