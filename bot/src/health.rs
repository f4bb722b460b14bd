//! `GET /healthz`: whether the bot is connected to Discord and answering, for an orchestrator's
//! probe (Docker `HEALTHCHECK`, a Kubernetes HTTP probe, a monitoring check).
//!
//! [`HealthState`] is the shared state (held in [`crate::Data::health`]); [`serve`] answers on a
//! listener the binary binds (`mailcheck-bot run --health-addr 127.0.0.1:8080`); [`probe`] asks
//! it (`mailcheck-bot health`, the image's `HEALTHCHECK`).
//!
//! The answer is `200` with `"status":"ok"` when every shard is connected, else `503` with
//! `"status":"degraded"` and the same fields:
//!
//! ```json
//! {"status":"ok","gateway_connected":true,"shards":1,"shards_connected":1,
//!  "checks_running":0,"last_check_age_secs":null,"uptime_secs":42}
//! ```
//!
//! A shard counts as connected when its READY (or RESUMED) has gone through the framework —
//! which happens only after `/mailcheck` was registered — and the shard manager still reports
//! it connected. So `200` means "registered, connected, answering", and a shard that drops or
//! reconnects turns the answer to `503` until it is back. Any other path is `404`.
//!
//! The responder is a small HTTP/1.1 server: one request per connection, a request head of at
//! most 8 KiB read within 5 s, at most 32 connections at once; it never reads a body.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serenity::all::{ConnectionStage, ShardManager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::guard::ConcurrencyCap;

/// Largest request head (request line and headers) the responder reads.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// Largest answer [`probe`] reads.
const MAX_ANSWER: usize = 64 * 1024;

/// The bot's health, shared by the command, the gateway events and the `/healthz` responder.
/// Cheap to clone: every clone sees the same state.
#[derive(Clone)]
pub struct HealthState {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    cap: ConcurrencyCap,
    last_check: Mutex<Option<Instant>>,
    expected_shards: AtomicU32,
    /// Shards whose READY or RESUMED went through the framework.
    ready: Mutex<BTreeSet<u32>>,
    shard_manager: OnceLock<Arc<ShardManager>>,
    fatal: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthState")
            .field("uptime", &self.inner.started.elapsed())
            .field("expected_shards", &self.expected_shards())
            .field("ready", &*lock(&self.inner.ready))
            .field("last_check", &*lock(&self.inner.last_check))
            .field("fatal", &*lock(&self.inner.fatal))
            .finish_non_exhaustive()
    }
}

impl HealthState {
    /// A fresh state: started now, no shard connected, no check finished. `cap` is the
    /// command's concurrency cap, whose taken slots are the running checks.
    pub fn new(cap: ConcurrencyCap) -> Self {
        Self {
            inner: Arc::new(Inner {
                started: Instant::now(),
                cap,
                last_check: Mutex::new(None),
                expected_shards: AtomicU32::new(0),
                ready: Mutex::new(BTreeSet::new()),
                shard_manager: OnceLock::new(),
                fatal: Mutex::new(None),
            }),
        }
    }

    /// Records that a check has just finished, whatever its verdict (a partial report or one
    /// cut off by the deadline counts too). Call it once per diagnosis the bot ran; an answer
    /// served from the result cache is not a check. `/healthz` shows the time since then as
    /// `last_check_age_secs`.
    pub fn check_finished(&self) {
        *lock(&self.inner.last_check) = Some(Instant::now());
    }

    /// The number of shards this process runs (from `--shards` or Discord's recommendation).
    /// Until it is set, the count is learned from READY events.
    pub fn set_expected_shards(&self, total: u32) {
        self.inner.expected_shards.store(total, Ordering::Relaxed);
    }

    fn expected_shards(&self) -> u32 {
        self.inner.expected_shards.load(Ordering::Relaxed)
    }

    /// Lets the state read each shard's live connection stage from serenity's shard manager
    /// (the framework does this once it is set up). Later calls are ignored.
    pub fn attach_shard_manager(&self, manager: Arc<ShardManager>) {
        let _ = self.inner.shard_manager.set(manager);
    }

    /// Records that `shard` got READY or RESUMED through the framework. `total` is the shard
    /// count READY announced, if any.
    pub fn shard_ready(&self, shard: u32, total: Option<u32>) {
        if let Some(total) = total {
            let _ = self.inner.expected_shards.compare_exchange(
                0,
                total,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        lock(&self.inner.ready).insert(shard);
    }

    /// Records why the bot is stopping on its own (e.g. the command could not be registered);
    /// `mailcheck-bot run` returns it as its error. The first reason is kept.
    pub fn set_fatal(&self, reason: String) {
        lock(&self.inner.fatal).get_or_insert(reason);
    }

    /// Why the bot is stopping on its own, if it is.
    pub fn fatal(&self) -> Option<String> {
        lock(&self.inner.fatal).clone()
    }

    /// The report `/healthz` answers with, as of now.
    pub async fn report(&self) -> HealthReport {
        let ready = lock(&self.inner.ready).clone();
        let live = match self.inner.shard_manager.get() {
            Some(manager) => Some(
                manager
                    .runners
                    .lock()
                    .await
                    .iter()
                    .filter(|(_, runner)| runner.stage == ConnectionStage::Connected)
                    .map(|(id, _)| id.0)
                    .collect::<BTreeSet<u32>>(),
            ),
            None => None,
        };
        let last_check = *lock(&self.inner.last_check);
        HealthReport::new(
            self.expected_shards(),
            &ready,
            live.as_ref(),
            self.fatal().is_some(),
            self.inner.cap.running(),
            last_check.map(|t| t.elapsed().as_secs()),
            self.inner.started.elapsed().as_secs(),
        )
    }
}

/// What `/healthz` answers, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// `ok` when every shard is connected, else `degraded`.
    pub status: &'static str,
    /// Every shard is connected (and the command registered).
    pub gateway_connected: bool,
    /// Shards this process runs (0 until known).
    pub shards: u32,
    /// Shards connected now.
    pub shards_connected: u32,
    /// Checks running now.
    pub checks_running: usize,
    /// Seconds since the last check finished; `None` (JSON `null`) before the first one.
    pub last_check_age_secs: Option<u64>,
    /// Seconds since the process started.
    pub uptime_secs: u64,
}

impl HealthReport {
    /// `ready`: shards whose READY went through the framework; `live`: shards the shard manager
    /// reports connected (`None`: no shard manager known, trust `ready`).
    fn new(
        expected: u32,
        ready: &BTreeSet<u32>,
        live: Option<&BTreeSet<u32>>,
        fatal: bool,
        checks_running: usize,
        last_check_age_secs: Option<u64>,
        uptime_secs: u64,
    ) -> Self {
        let connected = ready
            .iter()
            .filter(|id| live.is_none_or(|live| live.contains(id)))
            .count();
        let shards_connected = u32::try_from(connected).unwrap_or(u32::MAX);
        let shards = expected.max(u32::try_from(ready.len()).unwrap_or(u32::MAX));
        let gateway_connected = !fatal && shards > 0 && shards_connected >= shards;
        Self {
            status: if gateway_connected { "ok" } else { "degraded" },
            gateway_connected,
            shards,
            shards_connected,
            checks_running,
            last_check_age_secs,
            uptime_secs,
        }
    }

    /// Whether the answer is `200` (every shard connected).
    pub fn is_ok(&self) -> bool {
        self.gateway_connected
    }
}

/// Answers `GET /healthz` on `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, state: HealthState) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("health endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &state).await {
                tracing::debug!("health endpoint: connection failed: {e}");
            }
            drop(slot);
        });
    }
}

/// One request head, or why there is none.
enum Head {
    /// The request line's method and path (query string removed).
    Request { method: String, path: String },
    /// Longer than [`MAX_HEAD`].
    TooLarge,
    /// Not HTTP, or the client closed early.
    Bad,
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&buf) {
            return Ok(parse_request_line(&buf[..end]));
        }
        if buf.len() >= MAX_HEAD {
            return Ok(Head::TooLarge);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Head::Bad);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The end of the head: the first empty line.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_request_line(head: &[u8]) -> Head {
    let Ok(head) = std::str::from_utf8(head) else {
        return Head::Bad;
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_ascii_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Head::Request {
                method: method.to_owned(),
                path: target.split('?').next().unwrap_or_default().to_owned(),
            }
        }
        _ => Head::Bad,
    }
}

async fn answer(mut stream: TcpStream, state: &HealthState) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()),
    };
    let (status, extra, body, send_body) = match head {
        Head::Request { method, path } if path == "/healthz" => match method.as_str() {
            "GET" | "HEAD" => {
                let report = state.report().await;
                let status = if report.is_ok() { 200 } else { 503 };
                let body = serde_json::to_string(&report).unwrap_or_default();
                (status, "", body, method == "GET")
            }
            _ => (
                405,
                "Allow: GET, HEAD\r\n",
                r#"{"error":"method not allowed"}"#.to_owned(),
                true,
            ),
        },
        Head::Request { .. } => (404, "", r#"{"error":"not found"}"#.to_owned(), true),
        Head::TooLarge => (
            431,
            "",
            r#"{"error":"request head too large"}"#.to_owned(),
            true,
        ),
        Head::Bad => (400, "", r#"{"error":"bad request"}"#.to_owned(), true),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    if send_body {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// Asks the `/healthz` endpoint at `addr` (an unspecified address such as `0.0.0.0` means this
/// host) and returns the status code and the body. Used by `mailcheck-bot health`.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER as u64)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))??;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_ref(), ""));
    let status = head
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer")
        })?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> BTreeSet<u32> {
        v.iter().copied().collect()
    }

    #[test]
    fn ok_only_when_every_shard_is_ready_and_live() {
        let r = HealthReport::new(0, &ids(&[]), None, false, 0, None, 3);
        assert_eq!((r.status, r.shards, r.shards_connected), ("degraded", 0, 0));
        let r = HealthReport::new(2, &ids(&[0]), Some(&ids(&[0, 1])), false, 1, Some(5), 9);
        assert_eq!((r.status, r.shards, r.shards_connected), ("degraded", 2, 1));
        let r = HealthReport::new(2, &ids(&[0, 1]), Some(&ids(&[0, 1])), false, 0, None, 9);
        assert!(r.is_ok() && r.status == "ok");
        // A shard the manager no longer reports connected (reconnecting) is not counted.
        let r = HealthReport::new(2, &ids(&[0, 1]), Some(&ids(&[1])), false, 0, None, 9);
        assert_eq!((r.is_ok(), r.shards_connected), (false, 1));
        // Without a known total, READY events tell it; without a manager, READY is trusted.
        let r = HealthReport::new(0, &ids(&[0]), None, false, 0, None, 9);
        assert!(r.is_ok());
        // Stopping on its own: never ok.
        let r = HealthReport::new(1, &ids(&[0]), None, true, 0, None, 9);
        assert!(!r.is_ok());
    }

    #[test]
    fn report_json_has_the_documented_fields() {
        let r = HealthReport::new(1, &ids(&[0]), None, false, 2, None, 7);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": "ok", "gateway_connected": true, "shards": 1, "shards_connected": 1,
                "checks_running": 2, "last_check_age_secs": null, "uptime_secs": 7,
            })
        );
    }

    #[test]
    fn request_lines() {
        let Head::Request { method, path } =
            parse_request_line(b"GET /healthz?x=1 HTTP/1.1\r\nHost: a")
        else {
            panic!("not parsed");
        };
        assert_eq!((method.as_str(), path.as_str()), ("GET", "/healthz"));
        assert!(matches!(parse_request_line(b"hello"), Head::Bad));
        assert!(matches!(parse_request_line(b"GET / SMTP/1"), Head::Bad));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\nrest"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\n"), Some(20));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    async fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn serves_healthz_and_nothing_else() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = HealthState::new(ConcurrencyCap::new(4));
        let server = tokio::spawn(serve(listener, state.clone()));

        let (status, body) = probe(addr, Duration::from_secs(5)).await.unwrap();
        assert_eq!(status, 503);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["last_check_age_secs"], serde_json::Value::Null);

        state.set_expected_shards(1);
        state.shard_ready(0, None);
        state.check_finished();
        let (status, body) = probe(addr, Duration::from_secs(5)).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["last_check_age_secs"], 0);

        let answer = raw(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
        let answer = raw(addr, b"POST /healthz HTTP/1.1\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.1 405 ") && answer.contains("Allow: GET, HEAD"),
            "{answer}"
        );
        let answer = raw(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("\r\n\r\n"),
            "{answer}"
        );
        // Exactly the limit, with no end of head: all of it is read (so closing sends no
        // reset), and the head is still too large.
        let mut huge = b"GET /healthz HTTP/1.1\r\nX: ".to_vec();
        huge.resize(MAX_HEAD, b'a');
        let answer = raw(addr, &huge).await;
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        server.abort();
    }
}
