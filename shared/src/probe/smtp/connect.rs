//! Opening connections: the TCP connect (from a chosen source address, its failures told
//! apart) and the raw reconnect of the TLS version probe.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::reply::{Parsed, ReplyParser};
use super::wire::READ_CHUNK;
use crate::facts::{ConnectOutcome, Reply};

/// A TCP connect under `timeout`, optionally from `source_ip`, with the outcome told apart:
/// refused, timed out, unreachable, other error.
pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    source_ip: Option<IpAddr>,
    timeout: Duration,
) -> (ConnectOutcome, Option<TcpStream>) {
    let start = Instant::now();
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(s) => s,
        Err(e) => {
            let detail = format!("socket: {e}");
            return (ConnectOutcome::Error { detail }, None);
        }
    };
    if let Some(src) = source_ip {
        if src.is_ipv4() != addr.is_ipv4() {
            let detail = format!("source address {src} is not of the same family as {addr}");
            return (ConnectOutcome::Error { detail }, None);
        }
        if let Err(e) = socket.bind(SocketAddr::new(src, 0)) {
            let detail = format!("binding source address {src}: {e}");
            return (ConnectOutcome::Error { detail }, None);
        }
    }
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => {
            let local = stream
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::new(source_ip.unwrap_or(addr.ip()), 0));
            let ms = ms_since(start);
            (ConnectOutcome::Connected { local, ms }, Some(stream))
        }
        Ok(Err(e)) => {
            use std::io::ErrorKind as K;
            let outcome = match e.kind() {
                K::ConnectionRefused => ConnectOutcome::Refused,
                K::HostUnreachable => ConnectOutcome::Unreachable {
                    detail: e.to_string(),
                },
                // Our own routing table has no route (typically: no IPv6 on this machine).
                // That is about our vantage point, not the target.
                K::NetworkUnreachable => ConnectOutcome::Error {
                    detail: format!("no route from this machine to {addr} ({e})"),
                },
                K::TimedOut => ConnectOutcome::TimedOut {
                    ms: ms_since(start),
                },
                _ => ConnectOutcome::Error {
                    detail: e.to_string(),
                },
            };
            (outcome, None)
        }
        Err(_) => (ConnectOutcome::TimedOut { ms: timeout_ms }, None),
    }
}

pub(crate) fn describe_connect(outcome: &ConnectOutcome) -> String {
    match outcome {
        ConnectOutcome::Connected { local, .. } => format!("connected from {}", local.ip()),
        ConnectOutcome::Refused => "connection refused".to_owned(),
        ConnectOutcome::TimedOut { ms } => format!("connect timed out after {ms} ms"),
        ConnectOutcome::Unreachable { detail } => format!("unreachable: {detail}"),
        ConnectOutcome::Error { detail } => format!("connect failed: {detail}"),
    }
}

/// Reads one reply on a raw stream for the version probe; it must be of class `class` (2xx).
pub(crate) async fn raw_reply(
    stream: &mut TcpStream,
    parser: &mut ReplyParser,
    buf: &mut Vec<u8>,
    what: &str,
    class: u16,
) -> Result<Reply, String> {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match parser.feed(buf) {
            Parsed::Reply(reply) if reply.code / 100 == class => return Ok(reply),
            Parsed::Reply(reply) => return Err(format!("{what}: {}", reply.one_line())),
            Parsed::Broken(detail) => return Err(format!("{what}: broken reply: {detail}")),
            Parsed::Incomplete => {}
        }
        match stream.read(&mut chunk).await {
            Ok(0) => return Err(format!("{what}: the server closed the connection")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
