//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record, the policy served at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`, and whether every MX host matches the
//! policy's `mx:` patterns.
//!
//! - The record: TXT records that do not start with `v=STSv1` are ignored; when not exactly
//!   one remains, or it does not parse (`v=STSv1; id=<1–32 letters and digits>`), senders
//!   treat the domain as having no policy ([`parse_record`]).
//! - The fetch ([`MtaStsClient`]): reqwest on rustls with the ring provider, the webpki roots
//!   plus the configured extra CAs (labs). The name `mta-sts.<domain>` is resolved through the
//!   run's [`DnsSource`] (its caches, its resolver) and the connection pinned to those
//!   addresses. Strict, as senders are: no redirect followed (a 3xx is a failure), status 200
//!   only, `Content-Type: text/plain` (parameters allowed), at most [`MAX_POLICY_BYTES`], a
//!   timeout over the whole exchange, and a certificate valid for `mta-sts.<domain>`.
//! - The policy ([`parse_policy`]): `key: value` lines ending in CRLF or LF; `version: STSv1`,
//!   `mode: enforce|testing|none`, `mx:` patterns, `max_age` `0..=31557600`; unknown keys are
//!   ignored, and of a repeated key other than `mx` the first occurrence counts.
//! - The patterns ([`mx_matches`]): an exact host name, or `*.` standing for exactly one
//!   leftmost label.
//!
//! [`collect`] records every step in [`MtaStsFacts`]; the diagnosis (`diagnose::mtasts`) judges.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::facts::{AddressLookups, AddressScope, Lookup};
use crate::probe::dns::DnsSource;

/// Where the policy lives on the `mta-sts.<domain>` host (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// The largest policy body we read (RFC 8461 §3.3 lets senders limit it; 64 KiB is generous:
/// real policies are a few hundred bytes).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// The largest `max_age` allowed (RFC 8461 §3.2: about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The longest policy `id` in the TXT record (RFC 8461 §3.1).
const MAX_ID_LEN: usize = 32;

/// What was observed of a domain's MTA-STS set-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsFacts {
    /// The TXT lookup at `_mta-sts.<domain>` (every record, its strings joined).
    pub txt: Lookup<String>,
    /// The records that start with `v=STSv1` (the others are ignored, RFC 8461 §3.1).
    pub sts_records: Vec<String>,
    /// The record in force: `None` when no record starts with `v=STSv1`; an error when more
    /// than one does, or the one there does not parse.
    pub record: Option<Result<StsRecord, String>>,
    /// The policy fetch, made when the record is usable and an HTTPS client was given.
    pub fetch: Option<PolicyFetch>,
    /// The fetched policy, parsed (or why it does not parse), when the fetch succeeded.
    pub policy: Option<Result<StsPolicy, String>>,
    /// Every mail host of the domain against the policy's `mx:` patterns, when there is a
    /// policy.
    pub mx: Vec<MxMatch>,
}

impl MtaStsFacts {
    /// The policy senders apply: a usable record, a successful fetch and a policy that parses.
    pub fn policy_in_force(&self) -> Option<&StsPolicy> {
        match (&self.record, &self.fetch, &self.policy) {
            (Some(Ok(_)), Some(fetch), Some(Ok(policy))) if fetch.error.is_none() => Some(policy),
            _ => None,
        }
    }
}

/// A parsed `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsRecord {
    /// The policy id (1–32 letters and digits): senders refetch the policy when it changes.
    pub id: String,
    /// Other `key=value` fields, in order (ignored by senders).
    pub extensions: Vec<(String, String)>,
}

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StsMode {
    /// Senders deliver only to matching MX hosts over TLS with a valid certificate.
    Enforce,
    /// Senders deliver as usual and report failures (TLS-RPT).
    Testing,
    /// The policy is withdrawn.
    None,
}

impl StsMode {
    /// The policy file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        }
    }
}

impl fmt::Display for StsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsPolicy {
    /// `enforce`, `testing` or `none`.
    pub mode: StsMode,
    /// The `mx:` patterns, in order, as written.
    pub mx: Vec<String>,
    /// How long senders may cache the policy, in seconds.
    pub max_age: u64,
    /// Unknown `key: value` lines, in order (ignored).
    pub extensions: Vec<(String, String)>,
}

impl StsPolicy {
    /// The first `mx:` pattern that matches `host`.
    pub fn matching_pattern(&self, host: &str) -> Option<&str> {
        self.mx
            .iter()
            .map(String::as_str)
            .find(|p| mx_matches(p, host))
    }
}

/// The policy fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFetch {
    /// The URL asked (always `https://mta-sts.<domain>/.well-known/mta-sts.txt`).
    pub url: String,
    /// The A and AAAA lookups of `mta-sts.<domain>`.
    pub lookups: AddressLookups,
    /// The address that answered, when a connection was made.
    pub peer: Option<SocketAddr>,
    /// The HTTP status.
    pub status: Option<u16>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Location` header of a redirect (never followed).
    pub location: Option<String>,
    /// The body size in bytes: read, or announced by `Content-Length` when too large to read.
    pub size: Option<u64>,
    /// The body, when it was read (at most [`MAX_POLICY_BYTES`]; invalid UTF-8 replaced).
    pub body: Option<String>,
    /// What failed; `None` when the policy was fetched.
    pub error: Option<FetchError>,
    /// How long the fetch took, DNS included.
    pub ms: u64,
}

/// Why a policy fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchError {
    /// The class of failure.
    pub kind: FetchErrorKind,
    /// Details in plain words (the TLS library's text for certificate problems).
    pub detail: String,
}

/// The class of a policy fetch failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchErrorKind {
    /// The address lookups of `mta-sts.<domain>` failed (SERVFAIL, timeout): we cannot tell.
    DnsFailed,
    /// `mta-sts.<domain>` has no A/AAAA record.
    NoAddress,
    /// `mta-sts.<domain>` resolves only to loopback/private/reserved addresses.
    PrivateAddress,
    /// The TCP connection failed (refused, unreachable).
    Connect,
    /// No complete answer in time.
    Timeout,
    /// The certificate was refused (wrong name, unknown issuer, expired).
    Certificate,
    /// Another TLS failure (handshake, protocol version).
    Tls,
    /// A 3xx answer: senders do not follow redirects.
    Redirect,
    /// A status other than 200.
    Status,
    /// A `Content-Type` other than `text/plain`.
    ContentType,
    /// The body is larger than [`MAX_POLICY_BYTES`].
    TooLarge,
    /// Another HTTP failure (malformed answer, connection closed mid-body).
    Http,
}

/// One mail host against the policy's patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxMatch {
    /// The MX host.
    pub host: String,
    /// The first pattern that matches it; `None`: no pattern does.
    pub pattern: Option<String>,
}

/// Whether a TXT record is an MTA-STS record, i.e. starts with `v=STSv1` (followed by `;`,
/// white space or nothing). The others are ignored.
pub fn is_sts_record(txt: &str) -> bool {
    txt.strip_prefix("v=STSv1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// Parses an MTA-STS TXT record (RFC 8461 §3.1): `v=STSv1; id=<1–32 letters/digits>` plus
/// optional `key=value` extensions, fields separated by `;` with optional white space, an
/// optional trailing `;`. Of repeated fields the first counts.
pub fn parse_record(txt: &str) -> Result<StsRecord, String> {
    let rest = txt
        .strip_prefix("v=STSv1")
        .ok_or_else(|| "the record does not start with v=STSv1".to_owned())?;
    let mut fields = rest.split(';');
    if !fields
        .next()
        .unwrap_or_default()
        .trim_matches(is_wsp)
        .is_empty()
    {
        return Err("v=STSv1 must be followed by ';'".to_owned());
    }
    let fields: Vec<&str> = fields.map(|f| f.trim_matches(is_wsp)).collect();
    let mut id = None;
    let mut extensions = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() {
            // Only the trailing `;` may leave an empty field.
            if i + 1 == fields.len() {
                continue;
            }
            return Err("empty field between ';' separators".to_owned());
        }
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("field {field:?} is not key=value"))?;
        if key == "id" {
            if value.is_empty()
                || value.len() > MAX_ID_LEN
                || !value.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "id={value:?} must be 1 to {MAX_ID_LEN} letters and digits"
                ));
            }
            id.get_or_insert_with(|| value.to_owned());
        } else if key == "v" {
            return Err("v= appears more than once".to_owned());
        } else {
            if !is_ext_name(key) {
                return Err(format!("{key:?} is not a valid field name"));
            }
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
            {
                return Err(format!("the value of {key} is not valid: {value:?}"));
            }
            extensions.push((key.to_owned(), value.to_owned()));
        }
    }
    let id = id.ok_or_else(|| "the id= field is missing".to_owned())?;
    Ok(StsRecord { id, extensions })
}

const fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`
fn is_ext_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Parses an MTA-STS policy (RFC 8461 §3.2). Lines end in CRLF or LF; each is `key: value`
/// (white space allowed after the colon). `version: STSv1`, `mode` and `max_age` are required,
/// and at least one `mx` unless the mode is `none`. Unknown keys are ignored, empty lines
/// tolerated, and of a repeated key other than `mx` the first occurrence counts.
pub fn parse_policy(text: &str) -> Result<StsPolicy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    let mut extensions = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let at = |what: String| format!("line {}: {what}", n + 1);
        if line.trim_matches(is_wsp).is_empty() {
            continue;
        }
        if line.contains('\r') {
            return Err(at("a bare CR inside the line".to_owned()));
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| at(format!("{line:?} is not key: value")))?;
        let value = value.trim_matches(is_wsp);
        if !is_ext_name(key) {
            return Err(at(format!("{key:?} is not a valid key")));
        }
        match key {
            "version" => {
                if version.is_none() {
                    if value != "STSv1" {
                        return Err(at(format!("version {value:?} is not STSv1")));
                    }
                    version = Some(());
                }
            }
            "mode" => {
                if mode.is_none() {
                    mode = Some(match value {
                        "enforce" => StsMode::Enforce,
                        "testing" => StsMode::Testing,
                        "none" => StsMode::None,
                        other => {
                            return Err(at(format!(
                                "mode {other:?} is not enforce, testing or none"
                            )));
                        }
                    });
                }
            }
            "max_age" => {
                if max_age.is_none() {
                    let age = parse_max_age(value).map_err(at)?;
                    max_age = Some(age);
                }
            }
            "mx" => {
                check_pattern(value).map_err(at)?;
                mx.push(value.to_owned());
            }
            _ => {
                if value.is_empty() || value.chars().any(|c| c.is_ascii_control() && c != '\t') {
                    return Err(at(format!("the value of {key} is not valid")));
                }
                extensions.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    if version.is_none() {
        return Err("the version: STSv1 line is missing".to_owned());
    }
    let mode = mode.ok_or_else(|| "the mode: line is missing".to_owned())?;
    let max_age = max_age.ok_or_else(|| "the max_age: line is missing".to_owned())?;
    if mx.is_empty() && mode != StsMode::None {
        return Err(format!(
            "no mx: line: a policy in {mode} mode must list its MX hosts"
        ));
    }
    Ok(StsPolicy {
        mode,
        mx,
        max_age,
        extensions,
    })
}

/// `max_age`: 1 to 10 digits, at most [`MAX_AGE_LIMIT`].
fn parse_max_age(value: &str) -> Result<u64, String> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("max_age {value:?} is not a number of seconds"));
    }
    let age: u64 = value
        .parse()
        .map_err(|_| format!("max_age {value:?} is not a number of seconds"))?;
    if age > MAX_AGE_LIMIT {
        return Err(format!(
            "max_age {age} is above the maximum of {MAX_AGE_LIMIT} seconds (one year)"
        ));
    }
    Ok(age)
}

/// An `mx:` pattern: a host name, optionally preceded by `*.` (RFC 8461 §3.2).
fn check_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    let bad = || {
        format!(
            "mx pattern {pattern:?} is not a host name or *. followed by one (the wildcard may \
             only be the whole leftmost label)"
        )
    };
    if name.is_empty() || name.len() > 253 || name.ends_with('.') {
        return Err(bad());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// Whether an MX host matches a policy pattern (RFC 8461 §4.1): equal ignoring case (and a
/// trailing dot on the host), or `*.rest` where the host is exactly one label followed by
/// `.rest`: `*.example.com` matches `mx1.example.com` but neither `a.b.example.com` nor
/// `example.com`.
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(first, tail)| {
            !first.is_empty() && first != "*" && tail.eq_ignore_ascii_case(rest)
        }),
        None => !pattern.is_empty() && pattern.eq_ignore_ascii_case(host),
    }
}

/// Looks up the record, fetches and parses the policy (when `ctx.mta_sts` holds a client), and
/// matches every mail host against it.
pub async fn collect(ctx: &AuthContext<'_>) -> MtaStsFacts {
    let txt = ctx.dns.txt(&format!("_mta-sts.{}", ctx.domain)).await;
    let sts_records: Vec<String> = txt
        .records()
        .iter()
        .filter(|r| is_sts_record(r))
        .cloned()
        .collect();
    let record = match sts_records.as_slice() {
        [] => None,
        [one] => Some(parse_record(one)),
        many => Some(Err(format!(
            "{} records start with v=STSv1; there must be exactly one",
            many.len()
        ))),
    };
    let mut facts = MtaStsFacts {
        txt,
        sts_records,
        record,
        fetch: None,
        policy: None,
        mx: Vec::new(),
    };
    let (Some(Ok(_)), Some(client)) = (&facts.record, ctx.mta_sts) else {
        return facts;
    };
    let (fetch, body) = client.fetch(ctx.dns, ctx.domain).await;
    facts.fetch = Some(fetch);
    let Some(body) = body else { return facts };
    let policy = String::from_utf8(body)
        .map_err(|_| "the policy is not UTF-8 text".to_owned())
        .and_then(|text| parse_policy(&text));
    if let Ok(policy) = &policy {
        facts.mx = ctx
            .mx_hosts
            .iter()
            .map(|host| MxMatch {
                host: host.clone(),
                pattern: policy.matching_pattern(host).map(str::to_owned),
            })
            .collect();
    }
    facts.policy = Some(policy);
    facts
}

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
fn is_text_plain(content_type: Option<&str>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_recognised_and_parsed() {
        assert!(is_sts_record("v=STSv1; id=20240101"));
        assert!(is_sts_record("v=STSv1;id=1"));
        assert!(is_sts_record("v=STSv1"));
        assert!(!is_sts_record("v=STSv10; id=1"));
        assert!(!is_sts_record("v=spf1 -all"));
        assert!(!is_sts_record("v=stsv1; id=1"));
        assert!(!is_sts_record(" v=STSv1; id=1"));

        let r = parse_record("v=STSv1; id=20240101T000000").unwrap();
        assert_eq!(r.id, "20240101T000000");
        assert!(r.extensions.is_empty());
        assert_eq!(parse_record("v=STSv1;id=abc;").unwrap().id, "abc");
        assert_eq!(parse_record("v=STSv1 ;\tid=abc ; ").unwrap().id, "abc");
        let r = parse_record("v=STSv1; id=a1; ext_1=x-y").unwrap();
        assert_eq!(r.extensions, vec![("ext_1".to_owned(), "x-y".to_owned())]);
        // The first id counts.
        assert_eq!(parse_record("v=STSv1; id=a; id=b").unwrap().id, "a");
        let max = "a".repeat(32);
        assert_eq!(parse_record(&format!("v=STSv1; id={max}")).unwrap().id, max);

        for bad in [
            "v=STSv1",
            "v=STSv1;",
            "v=STSv1 id=1",
            "v=STSv1; id=",
            "v=STSv1; id=2024-01-01",
            "v=STSv1; id=2024.01",
            &format!("v=STSv1; id={}", "a".repeat(33)),
            "v=STSv1; id=1;; x=y",
            "v=STSv1; id=1; junk",
            "v=STSv1; id=1; v=STSv1",
            "v=STSv1; id=1; -x=y",
            "v=STSv1; id=1; x=",
            "v=STSv1; id=1; x=a b",
            "v=spf1 -all",
        ] {
            assert!(parse_record(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn policies_parse_with_crlf_or_lf() {
        let text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n";
        let p = parse_policy(text).unwrap();
        assert_eq!(p.mode, StsMode::Enforce);
        assert_eq!(p.mx, vec!["mail.example.com", "*.example.net"]);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(parse_policy(&text.replace("\r\n", "\n")).unwrap(), p);
        // No final line break, white space after the colon, unknown keys ignored, first of a
        // repeated key wins, empty lines tolerated.
        let p = parse_policy(
            "mode:testing\nversion:\tSTSv1\n\nmx: a.example\nfoo: bar baz\nmode: enforce\nmax_age:0",
        )
        .unwrap();
        assert_eq!(p.mode, StsMode::Testing);
        assert_eq!(p.max_age, 0);
        assert_eq!(p.extensions, vec![("foo".to_owned(), "bar baz".to_owned())]);
        // `none` needs no mx.
        assert_eq!(
            parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")
                .unwrap()
                .mode,
            StsMode::None
        );
        assert_eq!(
            parse_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600")
                .unwrap()
                .max_age,
            MAX_AGE_LIMIT
        );
    }

    #[test]
    fn bad_policies_say_why() {
        let base = |line: &str| {
            format!("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n{line}\n")
        };
        let cases: &[(String, &str)] = &[
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n".into(),
                "above the maximum",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n".into(),
                "not a number",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n".into(),
                "not a number",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\n".into(),
                "max_age: line is missing",
            ),
            (
                "mode: enforce\nmx: a.example\nmax_age: 1\n".into(),
                "version: STSv1 line is missing",
            ),
            (
                "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n".into(),
                "not STSv1",
            ),
            (
                "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n".into(),
                "not enforce, testing or none",
            ),
            (
                "version: STSv1\nmx: a.example\nmax_age: 1\n".into(),
                "mode: line is missing",
            ),
            (
                "version: STSv1\nmode: testing\nmax_age: 1\n".into(),
                "must list its MX hosts",
            ),
            (base("this is not a policy"), "line 5"),
            (base("mx: mail.*.example.com"), "wildcard"),
            (base("mx: *mail.example.com"), "wildcard"),
            (base("mx: *"), "wildcard"),
            (base("mx: mail.example.com."), "wildcard"),
            (base("mx: mx_1.example.com"), "wildcard"),
            (base("bad key: x"), "not a valid key"),
            ("{\"mode\": \"enforce\"}".into(), "not a valid key"),
        ];
        for (text, want) in cases {
            let err = parse_policy(text).expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn patterns_match_one_leftmost_label() {
        assert!(mx_matches("*.example.com", "mx1.example.com"));
        assert!(mx_matches("*.example.com", "MX1.Example.COM."));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("*.example.com", ".example.com"));
        assert!(!mx_matches("*.example.com", "mx1.example.org"));
        assert!(mx_matches("mail.example.com", "mail.example.com"));
        assert!(mx_matches("Mail.Example.com", "mail.example.com."));
        assert!(!mx_matches("mail.example.com", "mx.mail.example.com"));
        assert!(!mx_matches("example.com", "mail.example.com"));
        let p = parse_policy(
            "version: STSv1\nmode: enforce\nmx: mx.a.test\nmx: *.b.test\nmax_age: 60\n",
        )
        .unwrap();
        assert_eq!(p.matching_pattern("x.b.test"), Some("*.b.test"));
        assert_eq!(p.matching_pattern("mx.a.test"), Some("mx.a.test"));
        assert_eq!(p.matching_pattern("y.a.test"), None);
    }

    #[test]
    fn content_types() {
        assert!(is_text_plain(Some("text/plain")));
        assert!(is_text_plain(Some("Text/Plain; charset=utf-8")));
        assert!(is_text_plain(Some("text/plain ;charset=us-ascii")));
        assert!(!is_text_plain(Some("text/html")));
        assert!(!is_text_plain(Some("text/plainx")));
        assert!(!is_text_plain(Some("application/octet-stream")));
        assert!(!is_text_plain(None));
    }

    #[test]
    fn facts_round_trip_through_json() {
        let f = MtaStsFacts {
            txt: Lookup::Answer {
                records: vec!["v=STSv1; id=1".into()],
            },
            sts_records: vec!["v=STSv1; id=1".into()],
            record: Some(parse_record("v=STSv1; id=1")),
            fetch: Some(PolicyFetch {
                url: "https://mta-sts.a.test/.well-known/mta-sts.txt".into(),
                lookups: AddressLookups {
                    a: Lookup::Answer {
                        records: vec!["192.0.2.1".parse().unwrap()],
                    },
                    aaaa: Lookup::NoData,
                },
                peer: Some("192.0.2.1:443".parse().unwrap()),
                status: Some(200),
                content_type: Some("text/plain".into()),
                location: None,
                size: Some(10),
                body: Some("x".into()),
                error: None,
                ms: 3,
            }),
            policy: Some(Err("line 1: bad".into())),
            mx: vec![MxMatch {
                host: "mx.a.test".into(),
                pattern: None,
            }],
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<MtaStsFacts>(&json).unwrap(), f);
    }

    #[test]
    fn a_bad_extra_ca_is_a_config_error() {
        let e =
            MtaStsClient::new(443, Duration::from_secs(1), &["nope".into()], false).unwrap_err();
        assert!(e.to_string().contains("extra_ca_pem[0]"), "{e}");
    }
}
