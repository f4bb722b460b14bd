//! The responder's HTTP/1.1 side ([`serve`]: one request per connection, a bounded head read
//! in time, a bounded number of connections, only `GET /healthz`) and the client that asks it
//! ([`probe`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::HealthState;

/// Largest request head (request line and headers) the responder reads.
pub(super) const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// Largest answer [`probe`] reads.
const MAX_ANSWER: usize = 64 * 1024;

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
pub(super) enum Head {
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
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn parse_request_line(head: &[u8]) -> Head {
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
