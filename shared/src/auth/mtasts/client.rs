//! The HTTPS client that fetches MTA-STS policies with RFC 8461's rules (no redirect, status
//! 200, `text/plain`, a size limit), its errors told apart, and the resolver hook that pins
//! `mta-sts.<domain>` to the addresses the run's DNS gave.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::{FetchError, FetchErrorKind, MAX_POLICY_BYTES, POLICY_PATH, PolicyFetch};
use crate::facts::{AddressLookups, AddressScope};
use crate::probe::dns::DnsSource;

/// The HTTPS client that fetches policies: build one per run and share it (connections are
/// pooled). Cheap to clone.
#[derive(Clone)]
pub struct MtaStsClient {
    http: reqwest::Client,
    pins: Arc<Pins>,
    port: u16,
    allow_private: bool,
}

impl fmt::Debug for MtaStsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtaStsClient")
            .field("port", &self.port)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl MtaStsClient {
    /// A client that connects to `port` (443; labs use another), gives up after `timeout`
    /// (connection, TLS and body together), trusts the webpki roots plus `extra_ca_pem` (each
    /// entry one or more PEM certificates, as `smtp.extra_ca_pem`) and, unless
    /// `allow_private`, connects only to public addresses.
    pub fn new(
        port: u16,
        timeout: Duration,
        extra_ca_pem: &[String],
        allow_private: bool,
    ) -> Result<Self, crate::Error> {
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| crate::Error::Config(format!("MTA-STS TLS set-up: {e}")))?
                .with_root_certificates(crate::probe::tls::root_store(extra_ca_pem)?)
                .with_no_client_auth();
        let pins = Arc::new(Pins::default());
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .dns_resolver(pins.clone())
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .no_proxy()
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_max_idle_per_host(1)
            .user_agent(concat!("mailcheck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::Error::Config(format!("MTA-STS HTTPS client: {e}")))?;
        Ok(Self {
            http,
            pins,
            port,
            allow_private,
        })
    }

    /// The [`crate::config::AuthConfig`] settings with the SMTP probe's extra CAs and the
    /// check's private-address choice ([`crate::CheckConfig::allow_private`]).
    pub fn from_config(config: &crate::config::CheckConfig) -> Result<Self, crate::Error> {
        Self::new(
            config.auth.mta_sts_port,
            config.auth.https_timeout,
            &config.smtp.extra_ca_pem,
            config.allow_private,
        )
    }

    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt`, resolving the host through
    /// `dns`. Returns what was observed and, on success, the body.
    pub async fn fetch(&self, dns: &dyn DnsSource, domain: &str) -> (PolicyFetch, Option<Vec<u8>>) {
        let started = Instant::now();
        let host = format!("mta-sts.{domain}");
        let (a, aaaa) = tokio::join!(dns.a(&host), dns.aaaa(&host));
        let mut fetch = PolicyFetch {
            url: format!("https://{host}{POLICY_PATH}"),
            lookups: AddressLookups {
                a: a.lookup,
                aaaa: aaaa.lookup,
            },
            peer: None,
            status: None,
            content_type: None,
            location: None,
            size: None,
            body: None,
            error: None,
            ms: 0,
        };
        let body = match self.addresses(&host, &fetch.lookups) {
            Ok(addrs) => {
                let _pin = self.pins.pin(&host, addrs);
                self.get(&mut fetch).await
            }
            Err(error) => {
                fetch.error = Some(error);
                None
            }
        };
        fetch.ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        (fetch, body)
    }

    /// The addresses to connect to, or why there are none.
    fn addresses(
        &self,
        host: &str,
        lookups: &AddressLookups,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let all: Vec<IpAddr> = lookups
            .a
            .records()
            .iter()
            .chain(lookups.aaaa.records())
            .copied()
            .collect();
        if all.is_empty() {
            let failed = lookups.a.is_failed() || lookups.aaaa.is_failed();
            return Err(FetchError {
                kind: if failed {
                    FetchErrorKind::DnsFailed
                } else {
                    FetchErrorKind::NoAddress
                },
                detail: format!(
                    "{host}: A {}; AAAA {}",
                    lookups.a.describe(),
                    lookups.aaaa.describe()
                ),
            });
        }
        let usable: Vec<SocketAddr> = all
            .iter()
            .filter(|ip| self.allow_private || !AddressScope::of(**ip).is_private())
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect();
        if usable.is_empty() {
            return Err(FetchError {
                kind: FetchErrorKind::PrivateAddress,
                detail: format!(
                    "{host} resolves only to non-public addresses ({}): senders cannot reach it",
                    all.iter()
                        .map(|ip| format!("{ip} {}", AddressScope::of(*ip).as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(usable)
    }

    /// The GET itself, with RFC 8461's rules; fills `fetch` and returns the body on success.
    async fn get(&self, fetch: &mut PolicyFetch) -> Option<Vec<u8>> {
        let fail = |fetch: &mut PolicyFetch, kind, detail: String| {
            fetch.error = Some(FetchError { kind, detail });
            None
        };
        let mut response = match self.http.get(&fetch.url).send().await {
            Ok(r) => r,
            Err(e) => {
                let (kind, detail) = classify(&e);
                return fail(fetch, kind, detail);
            }
        };
        fetch.peer = response.remote_addr();
        let status = response.status();
        fetch.status = Some(status.as_u16());
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        fetch.content_type = header(reqwest::header::CONTENT_TYPE);
        fetch.location = header(reqwest::header::LOCATION);
        if status.is_redirection() {
            let to = fetch.location.as_deref().unwrap_or("no Location header");
            return fail(
                fetch,
                FetchErrorKind::Redirect,
                format!("HTTP {status} redirect to {to}: redirects must not be followed"),
            );
        }
        if status != reqwest::StatusCode::OK {
            return fail(
                fetch,
                FetchErrorKind::Status,
                format!("HTTP {status}: the policy must be served with status 200"),
            );
        }
        if !is_text_plain(fetch.content_type.as_deref()) {
            let got = fetch.content_type.as_deref().map_or_else(
                || "no Content-Type header".to_owned(),
                |ct| format!("Content-Type {ct}"),
            );
            return fail(
                fetch,
                FetchErrorKind::ContentType,
                format!("{got}: the policy must be served as text/plain"),
            );
        }
        if let Some(len) = response.content_length()
            && len > MAX_POLICY_BYTES as u64
        {
            fetch.size = Some(len);
            return fail(
                fetch,
                FetchErrorKind::TooLarge,
                format!("Content-Length {len} is above the {MAX_POLICY_BYTES}-byte limit"),
            );
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_POLICY_BYTES {
                        fetch.size = Some((body.len() + chunk.len()) as u64);
                        return fail(
                            fetch,
                            FetchErrorKind::TooLarge,
                            format!("the body exceeds the {MAX_POLICY_BYTES}-byte limit"),
                        );
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    fetch.size = Some(body.len() as u64);
                    let (kind, detail) = classify(&e);
                    return fail(fetch, kind, format!("reading the body: {detail}"));
                }
            }
        }
        fetch.size = Some(body.len() as u64);
        fetch.body = Some(String::from_utf8_lossy(&body).into_owned());
        Some(body)
    }
}

/// `text/plain`, with or without parameters, any case.
pub(super) fn is_text_plain(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/plain"))
    })
}

/// The failure class of a reqwest error, and its text (the whole cause chain).
fn classify(e: &reqwest::Error) -> (FetchErrorKind, String) {
    let detail = cause_chain(e);
    if let Some(tls) = find_rustls_error(e) {
        let kind = if matches!(tls, rustls::Error::InvalidCertificate(_)) {
            FetchErrorKind::Certificate
        } else {
            FetchErrorKind::Tls
        };
        return (kind, tls.to_string());
    }
    let kind = if e.is_timeout() {
        FetchErrorKind::Timeout
    } else if e.is_connect() {
        FetchErrorKind::Connect
    } else {
        FetchErrorKind::Http
    };
    (kind, detail)
}

/// The rustls error somewhere in the chain. hyper-rustls wraps it in an `io::Error` (itself
/// wrapped in another), and `io::Error::source()` skips the wrapped error, so an `io::Error`
/// is looked into with `get_ref()` instead.
fn find_rustls_error<'e>(e: &'e (dyn StdError + 'static)) -> Option<&'e rustls::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    None
}

/// `outer: inner: innermost`, without repeating a message its wrapper already contains.
fn cause_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// The addresses each `mta-sts.<domain>` host was resolved to by the run's resolver, for the
/// duration of its fetches: reqwest's resolver hook reads them, so the HTTPS client connects
/// exactly where the run's DNS said, with the configured port.
#[derive(Debug, Default)]
struct Pins {
    map: Mutex<HashMap<String, (Vec<SocketAddr>, usize)>>,
}

impl Pins {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<SocketAddr>, usize)>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins `host` to `addrs` until the guard is dropped (nested pins of one host count).
    fn pin(self: &Arc<Self>, host: &str, addrs: Vec<SocketAddr>) -> PinGuard {
        let key = host.to_ascii_lowercase();
        let mut map = self.lock();
        let entry = map.entry(key.clone()).or_insert_with(|| (Vec::new(), 0));
        entry.0 = addrs;
        entry.1 += 1;
        PinGuard {
            pins: Arc::clone(self),
            host: key,
        }
    }
}

struct PinGuard {
    pins: Arc<Pins>,
    host: String,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut map = self.pins.lock();
        if let Some(entry) = map.get_mut(&self.host) {
            entry.1 -= 1;
            if entry.1 == 0 {
                map.remove(&self.host);
            }
        }
    }
}

impl reqwest::dns::Resolve for Pins {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let found = self.lock().get(&host).map(|(addrs, _)| addrs.clone());
        Box::pin(async move {
            match found {
                Some(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                None => Err(format!("{host} was not resolved by the run's resolver").into()),
            }
        })
    }
}
