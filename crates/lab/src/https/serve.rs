//! One HTTPS connection: the TLS handshake, the request head (read with a size cap and a
//! deadline, then parsed), the routed answer, and its entry in the request log.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::{HttpResponse, RequestLog, State};

/// The largest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// Time allowed for the TLS handshake and the request head.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>) {
    let mut tasks = JoinSet::new();
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while tasks.try_join_next().is_some() {}
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        tasks.spawn(async move {
            let entry = serve(tcp, peer, acceptor, &state).await;
            State::lock(&state.log).push(entry);
        });
    }
}

async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    state: &State,
) -> RequestLog {
    let mut entry = RequestLog {
        peer,
        sni: None,
        method: String::new(),
        path: String::new(),
        host: None,
        status: None,
        error: None,
    };
    let _ = tcp.set_nodelay(true);
    let mut tls = match tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            entry.error = Some(format!("TLS handshake failed: {e}"));
            return entry;
        }
        Err(_) => {
            entry.error = Some("TLS handshake timed out".to_owned());
            return entry;
        }
    };
    entry.sni = tls.get_ref().1.server_name().map(str::to_ascii_lowercase);
    let head = match tokio::time::timeout(CLIENT_TIMEOUT, read_head(&mut tls)).await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => {
            entry.error = Some(format!("reading the request: {e}"));
            return entry;
        }
        Err(_) => {
            entry.error = Some("the request did not arrive in time".to_owned());
            return entry;
        }
    };
    let response = match parse_head(&head) {
        Some((method, path, host)) => {
            entry.method = method;
            entry.path = path;
            entry.host = host;
            if entry.method == "GET" {
                let host = entry.host.as_deref().or(entry.sni.as_deref());
                state.respond(host, &entry.path)
            } else {
                HttpResponse::new(405)
                    .header("Allow", "GET")
                    .header("Content-Type", "text/plain")
                    .body("only GET\n")
            }
        }
        None => {
            entry.error = Some("malformed request head".to_owned());
            HttpResponse::new(400)
        }
    };
    entry.status = Some(response.status);
    let _ = tls.write_all(&response.wire_head()).await;
    let _ = tls.write_all(&response.body).await;
    let _ = tls.shutdown().await;
    entry
}

/// Reads up to the blank line that ends the head.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the end of the head",
            ));
        }
        head.extend_from_slice(&buf[..n]);
    }
}

/// `(method, target, host)` of a request head.
fn parse_head(head: &[u8]) -> Option<(String, String, Option<String>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.lines();
    let mut parts = lines.next()?.split_whitespace();
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let host = lines
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| strip_port(value.trim()).to_ascii_lowercase());
    Some((method.to_owned(), target.to_owned(), host))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let (m, p, h) = parse_head(
            b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: MTA-STS.a.test:8443\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), p.as_str(), h.as_deref()),
            ("GET", "/.well-known/mta-sts.txt", Some("mta-sts.a.test"))
        );
        assert_eq!(parse_head(b"GET / HTTP/1.0\n\n").unwrap().2, None);
        assert!(parse_head(b"hello\r\n\r\n").is_none());
        assert_eq!(strip_port("[::1]:443"), "::1");
        assert_eq!(strip_port("a.test"), "a.test");
    }
}
