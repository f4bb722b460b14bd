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
//! The code, by job: the responses in `response`, one connection (handshake, request head,
//! answer) in `serve`; the builder, the routes and the certificate choice by SNI name here.
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

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::certs::{TestCert, ring_provider};

mod response;
mod serve;

pub use response::HttpResponse;
use serve::accept_loop;

/// Where an MTA-STS policy is served (RFC 8461 §3.2).
pub const MTA_STS_PATH: &str = "/.well-known/mta-sts.txt";

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
