//! An HTTPS server on loopback, for MTA-STS policies (RFC 8461) and anything else fetched over
//! HTTPS: tokio-rustls and a minimal hand-written HTTP/1.1 responder.
//!
//! It answers `GET` only (other methods get `405`), one request per connection
//! (`Connection: close`). Each response is configured in full: status, headers, body, a
//! redirect, or a body without `Content-Length` (delimited by closing the connection). Routes
//! are chosen by host (the `Host` header without its port, else the TLS SNI name) and path;
//! unmatched requests get the fallback (`404`). The certificate comes from
//! [`crate::certs`]: one certificate for every name ([`HttpsServerBuilder::cert`]), or one per
//! SNI name ([`HttpsServerBuilder::sni`]), so one server can serve the policies of many
//! domains.
//!
//! ```no_run
//! # async fn demo() {
//! use mailcheck_lab::certs::TestCa;
//! use mailcheck_lab::https::{HttpResponse, HttpsServer};
//!
//! let ca = TestCa::new();
//! let server = HttpsServer::builder()
//!     .bind("127.0.0.5:0".parse().unwrap())
//!     .cert(&ca.leaf(&["mta-sts.good.test", "mta-sts.moved.test"]))
//!     .mta_sts_policy(
//!         "good.test",
//!         HttpResponse::text("version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400\n"),
//!     )
//!     .mta_sts_policy(
//!         "moved.test",
//!         HttpResponse::redirect(301, "https://www.moved.test/mta-sts.txt"),
//!     )
//!     .build()
//!     .await;
//! let port = server.addr().port(); // the client's `auth.mta_sts_port`
//! # let _ = port;
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::certs::{TestCert, ring_provider};

/// Where an MTA-STS policy is served (RFC 8461 §3.2).
pub const MTA_STS_PATH: &str = "/.well-known/mta-sts.txt";

/// The largest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// Time allowed for the TLS handshake and the request head.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: bool,
}

impl HttpResponse {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
        }
    }

    /// `200 OK`, `Content-Type: text/plain`, this body: how a policy is served.
    pub fn text(body: &str) -> Self {
        Self::new(200)
            .header("Content-Type", "text/plain")
            .body(body)
    }

    /// `404 Not Found` with a short text body.
    pub fn not_found() -> Self {
        Self::new(404)
            .header("Content-Type", "text/plain")
            .body("not found\n")
    }

    /// A redirect (`301`, `302`, `307`, `308`) to `location`, with a short HTML body.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::new(status)
            .header("Location", location)
            .header("Content-Type", "text/html")
            .body(format!("<a href=\"{location}\">moved</a>\n"))
    }

    /// Adds a header (sent in the order added). A `Content-Length` given here replaces the
    /// computed one, true or not.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends no `Content-Length`: the body ends when the server closes the connection (a
    /// client must cap what it reads by itself).
    #[must_use]
    pub fn without_content_length(mut self) -> Self {
        self.content_length = false;
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn wire_head(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let mut has_length = false;
        for (name, value) in &self.headers {
            has_length |= name.eq_ignore_ascii_case("content-length");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.content_length && !has_length {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// One request the server received (or a connection that failed before one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The client's address.
    pub peer: SocketAddr,
    /// The SNI name the client sent, lower case.
    pub sni: Option<String>,
    /// The request method (`GET`); empty when no request arrived.
    pub method: String,
    /// The request target (`/.well-known/mta-sts.txt`); empty when no request arrived.
    pub path: String,
    /// The `Host` header, lower case, without the port.
    pub host: Option<String>,
    /// The status answered; `None` when no request arrived.
    pub status: Option<u16>,
    /// Why the connection ended without a request (the TLS handshake failed, e.g. because
    /// the client refused the certificate, or the head was malformed or too slow).
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct Route {
    host: Option<String>,
    path: String,
    response: HttpResponse,
}

#[derive(Debug)]
struct State {
    routes: Mutex<Vec<Route>>,
    fallback: Mutex<HttpResponse>,
    log: Mutex<Vec<RequestLog>>,
}

impl State {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A host route first, then an any-host route, then the fallback.
    fn respond(&self, host: Option<&str>, path: &str) -> HttpResponse {
        let routes = Self::lock(&self.routes);
        routes
            .iter()
            .rev()
            .find(|r| r.path == path && r.host.is_some() && r.host.as_deref() == host)
            .or_else(|| {
                routes
                    .iter()
                    .rev()
                    .find(|r| r.path == path && r.host.is_none())
            })
            .map_or_else(
                || Self::lock(&self.fallback).clone(),
                |r| r.response.clone(),
            )
    }
}

/// Builds an [`HttpsServer`]. Start with [`HttpsServer::builder`].
#[derive(Debug)]
pub struct HttpsServerBuilder {
    bind: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    routes: Vec<Route>,
    fallback: HttpResponse,
}

impl Default for HttpsServerBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            routes: Vec::new(),
            fallback: HttpResponse::not_found(),
        }
    }
}

impl HttpsServerBuilder {
    /// Binds to this address instead of `127.0.0.1:0` (e.g. `127.0.0.N:0`, or a fixed port).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Serves with this rustls configuration.
    #[must_use]
    pub fn tls(mut self, config: impl Into<Arc<ServerConfig>>) -> Self {
        self.tls = Some(config.into());
        self
    }

    /// Presents this certificate to every client, whatever name it asks for.
    #[must_use]
    pub fn cert(self, cert: &TestCert) -> Self {
        self.tls(cert.server_config())
    }

    /// Presents a certificate per SNI name (`by_name`, names matched ignoring case), and
    /// `default` to clients that ask for another name or none (without one they fail the
    /// handshake). The certificates are served as given: one issued for another name tests a
    /// name mismatch.
    #[must_use]
    pub fn sni(self, default: Option<&TestCert>, by_name: &[(&str, &TestCert)]) -> Self {
        self.tls(sni_server_config(default, by_name))
    }

    /// Answers `path` with `response` whatever the host.
    #[must_use]
    pub fn route(mut self, path: &str, response: HttpResponse) -> Self {
        self.routes.push(Route {
            host: None,
            path: path.to_owned(),
            response,
        });
        self
    }

    /// Answers `path` on `host` (matched against the `Host` header, else the SNI name).
    #[must_use]
    pub fn host_route(mut self, host: &str, path: &str, response: HttpResponse) -> Self {
        self.routes.push(Route {
            host: Some(host.to_ascii_lowercase()),
            path: path.to_owned(),
            response,
        });
        self
    }

    /// Answers `https://mta-sts.<domain>/.well-known/mta-sts.txt` with `response`.
    #[must_use]
    pub fn mta_sts_policy(self, domain: &str, response: HttpResponse) -> Self {
        self.host_route(&format!("mta-sts.{domain}"), MTA_STS_PATH, response)
    }

    /// What unmatched requests get (default: `404`).
    #[must_use]
    pub fn fallback(mut self, response: HttpResponse) -> Self {
        self.fallback = response;
        self
    }

    /// Binds and starts serving.
    ///
    /// # Panics
    /// If no certificate was configured or the address cannot be bound.
    pub async fn build(self) -> HttpsServer {
        self.try_build().await.expect("start the test HTTPS server")
    }

    /// Binds and starts serving.
    ///
    /// # Errors
    /// If the address cannot be bound, or no certificate was configured.
    pub async fn try_build(self) -> io::Result<HttpsServer> {
        let tls = self.tls.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the HTTPS server needs a certificate: .cert(), .sni() or .tls()",
            )
        })?;
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            routes: Mutex::new(self.routes),
            fallback: Mutex::new(self.fallback),
            log: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            Arc::clone(&state),
        ));
        Ok(HttpsServer { addr, state, task })
    }
}

/// A running HTTPS server. It serves until dropped.
pub struct HttpsServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl fmt::Debug for HttpsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpsServer {
    /// Starts a builder.
    pub fn builder() -> HttpsServerBuilder {
        HttpsServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every connection so far: its request, or why it had none.
    pub fn requests(&self) -> Vec<RequestLog> {
        State::lock(&self.state.log).clone()
    }

    /// Sets (or replaces) the response for `path` on `host` while serving.
    pub fn set_host_route(&self, host: &str, path: &str, response: HttpResponse) {
        let host = host.to_ascii_lowercase();
        let mut routes = State::lock(&self.state.routes);
        routes.retain(|r| !(r.host.as_deref() == Some(host.as_str()) && r.path == path));
        routes.push(Route {
            host: Some(host),
            path: path.to_owned(),
            response,
        });
    }

    /// Sets (or replaces) the MTA-STS policy response of `domain` while serving.
    pub fn set_mta_sts_policy(&self, domain: &str, response: HttpResponse) {
        self.set_host_route(&format!("mta-sts.{domain}"), MTA_STS_PATH, response);
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>) {
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

/// A rustls server configuration (ring, TLS 1.2 and 1.3) that picks the certificate by SNI
/// name, falling back to `default`. Certificates are served as given, matching name or not.
pub fn sni_server_config(
    default: Option<&TestCert>,
    by_name: &[(&str, &TestCert)],
) -> ServerConfig {
    let certified = |cert: &TestCert| {
        let key = ring_provider()
            .key_provider
            .load_private_key(cert.key_der())
            .expect("a test key loads");
        Arc::new(CertifiedKey::new(vec![cert.cert_der()], key))
    };
    let resolver = SniCerts {
        default: default.map(certified),
        by_name: by_name
            .iter()
            .map(|(name, cert)| (name.to_ascii_lowercase(), certified(cert)))
            .collect(),
    };
    ServerConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .expect("ring supports the default versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver))
}

#[derive(Debug)]
struct SniCerts {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
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

    #[test]
    fn responses_render() {
        let r = HttpResponse::text("x");
        assert_eq!(
            String::from_utf8(r.wire_head()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"
        );
        let r = HttpResponse::redirect(301, "https://b.test/").without_content_length();
        let head = String::from_utf8(r.wire_head()).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 301 Moved Permanently\r\nLocation: https://b.test/\r\n")
        );
        assert!(!head.contains("Content-Length"));
    }
}
