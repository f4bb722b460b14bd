//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record, the policy served at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`, and whether every MX host matches the
//! policy's `mx:` patterns.
//!
//! - The record: TXT records that do not start with `v=STSv1` are ignored; when not exactly
//!   one remains, or it does not parse (`v=STSv1; id=<1–32 letters and digits>`), senders
//!   treat the domain as having no policy ([`parse_record`]).
//! - The fetch ([`MtaStsClient`]): reqwest on rustls with the ring provider, the webpki roots
//!   plus the configured extra CAs (labs). The name `mta-sts.<domain>` is resolved through the
//!   run's [`DnsSource`](crate::probe::dns::DnsSource) (its caches, its resolver) and the
//!   connection pinned to those addresses. Strict, as senders are: no redirect followed (a 3xx
//!   is a failure), status 200 only, `Content-Type: text/plain` (parameters allowed), at most
//!   [`MAX_POLICY_BYTES`], a timeout over the whole exchange, and a certificate valid for
//!   `mta-sts.<domain>`.
//! - The policy ([`parse_policy`]): `key: value` lines ending in CRLF or LF; `version: STSv1`,
//!   `mode: enforce|testing|none`, `mx:` patterns, `max_age` `0..=31557600`; unknown keys are
//!   ignored, and of a repeated key other than `mx` the first occurrence counts.
//! - The patterns ([`mx_matches`]): an exact host name, or `*.` standing for exactly one
//!   leftmost label.
//!
//! [`collect`] records every step in [`MtaStsFacts`]; the diagnosis (`diagnose::mtasts`) judges.
//!
//! Files: this one holds the facts and [`collect`]; `parse.rs` the pure parsers of the record,
//! the policy and the patterns; `client.rs` the HTTPS client and its pinned resolver.

mod client;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::facts::{AddressLookups, Lookup};

pub use client::MtaStsClient;
pub use parse::{is_sts_record, mx_matches, parse_policy, parse_record};

/// Where the policy lives on the `mta-sts.<domain>` host (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// The largest policy body we read (RFC 8461 §3.3 lets senders limit it; 64 KiB is generous:
/// real policies are a few hundred bytes).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// The largest `max_age` allowed (RFC 8461 §3.2: about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

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
