//! The sender's side: "my mail to Gmail/Outlook bounces". Given a sending IP (and optionally the
//! HELO name it uses and the envelope sender domain), judge them the way large receivers do —
//! reverse DNS and its forward confirmation, a generic/dynamic PTR name, the HELO name, the
//! blocklists (with the same RFC 5782 canary rules as everywhere), and SPF `check_host()` of
//! the IP for the domain with its evaluation trace — and say in plain words what to fix
//! (`sender.*` findings of the contract, plus the domain's own `spf.*`/`dmarc.*` findings).
//!
//! The same two halves as the domain check:
//! - [`probe`]: [`crate::Checker::check_sender`] records [`SenderFacts`] (I/O, through the
//!   checker's per-run caches);
//! - [`diagnose`]: [`diagnose_sender`] turns them into a [`SenderReport`] (pure); [`checklist`]
//!   marks "what Gmail, Yahoo and Microsoft require of a sender" item by item.
//!
//! The judgements of a PTR, a HELO name and a listing are the ones our own vantage check uses
//! ([`crate::identity`], [`crate::dnsbl::sending_listings`]).

pub mod checklist;
pub mod diagnose;
pub mod facts;
pub mod probe;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::DomainName;
use crate::finding::{Code, Finding, Severity};
use crate::report::Verdict;

pub use checklist::{ChecklistItem, ChecklistState};
pub use diagnose::diagnose_sender;
pub use facts::{DomainAuthFacts, SenderFacts};

/// The codes whose error makes a sender `broken`: the large receivers refuse such mail
/// outright (contract, "The sender's side").
pub const SENDER_BREAKERS: &[Code] = &[
    Code::SenderNoPtr,
    Code::SenderListed,
    Code::SenderSpfFail,
    Code::SenderSpfError,
];

/// What to check: a sending address, the HELO name it uses, its envelope sender domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderQuery {
    /// The sending address (an IPv4-mapped IPv6 address is taken as IPv4).
    pub ip: IpAddr,
    /// The HELO/EHLO name (lower case, no trailing dot).
    pub helo: Option<String>,
    /// The envelope sender (`MAIL FROM`) domain.
    pub domain: Option<DomainName>,
}

/// Why a sender query cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenderInputError {
    /// The address is not an IPv4 or IPv6 address.
    #[error("{0:?} is not an IP address (e.g. 203.0.113.25 or 2001:db8::25)")]
    BadIp(String),
    /// The HELO name cannot be a HELO name at all (spaces, control characters, too long).
    #[error("{0:?} is not a HELO name (a host name such as mail.example.com)")]
    BadHelo(String),
    /// The domain is not a domain.
    #[error("the domain {input:?}: {why}")]
    BadDomain {
        /// What was given.
        input: String,
        /// Why it is not a domain.
        why: String,
    },
}

impl SenderQuery {
    /// Reads what a user gave: an address (`203.0.113.25`, `[2001:db8::25]`), an optional HELO
    /// name and an optional domain (a domain, or an e-mail address whose domain is used). Empty
    /// strings are "not given".
    ///
    /// # Errors
    /// [`SenderInputError`] naming the part that is wrong.
    pub fn parse(
        ip: &str,
        helo: Option<&str>,
        domain: Option<&str>,
    ) -> Result<Self, SenderInputError> {
        let ip = parse_ip(ip)?;
        let helo = match helo.map(str::trim).filter(|h| !h.is_empty()) {
            None => None,
            Some(h) => Some(parse_helo(h)?),
        };
        let domain = match domain.map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => Some(
                DomainName::parse(d).map_err(|e| SenderInputError::BadDomain {
                    input: d.to_owned(),
                    why: e.to_string(),
                })?,
            ),
        };
        Ok(Self { ip, helo, domain })
    }
}

/// An address as typed: surrounding space and brackets allowed; IPv4-mapped IPv6 becomes IPv4.
pub fn parse_ip(text: &str) -> Result<IpAddr, SenderInputError> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    let t = t.strip_prefix("IPv6:").unwrap_or(t);
    match t.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => Ok(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        Ok(ip) => Ok(ip),
        Err(_) => Err(SenderInputError::BadIp(bounded(text, 80))),
    }
}

/// A HELO name as a server would send it: printable ASCII without spaces (an IDN is converted
/// to punycode), at most 255 characters; lower case, no trailing dot. Whether it is a *good*
/// name is for the diagnosis.
fn parse_helo(helo: &str) -> Result<String, SenderInputError> {
    let bad = || SenderInputError::BadHelo(bounded(helo, 80));
    let ascii = if helo.is_ascii() {
        helo.to_owned()
    } else {
        DomainName::parse(helo)
            .map_err(|_| bad())?
            .as_str()
            .to_owned()
    };
    let ok = !ascii.is_empty()
        && ascii.len() <= 255
        && ascii.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
    if !ok {
        return Err(bad());
    }
    Ok(ascii.trim_end_matches('.').to_ascii_lowercase())
}

/// Untrusted input cleaned of control characters and cut to `max` characters, for messages.
fn bounded(s: &str, max: usize) -> String {
    crate::sanitize::truncate(&crate::sanitize::clean(s), max).0
}

/// The result of checking one sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderReport {
    /// The sending address (as given, when it is not an address).
    pub ip: String,
    /// The HELO name checked.
    pub helo: Option<String>,
    /// The sender domain checked.
    pub domain: Option<String>,
    /// `broken`, `degraded`, `inconclusive`, `ok` (or `invalid` for input that cannot be
    /// checked).
    pub verdict: Verdict,
    /// The worst fault severity among the findings, if any.
    pub worst: Option<Severity>,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// What Gmail, Yahoo and Microsoft require of a sender, item by item.
    pub checklist: Vec<ChecklistItem>,
    /// Why the input was not checked (verdict `invalid`).
    pub error: Option<String>,
    /// The resolver used.
    pub resolver: String,
    /// Milliseconds the check took.
    pub elapsed_ms: u64,
    /// Everything observed (absent for invalid input).
    pub facts: Option<SenderFacts>,
    /// The check stopped at its deadline: what did not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

impl SenderReport {
    /// The report for input that is not checked: `ip`, `helo`, `domain` as given, and why.
    pub fn invalid(
        ip: &str,
        helo: Option<&str>,
        domain: Option<&str>,
        error: impl std::fmt::Display,
    ) -> Self {
        let keep = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| bounded(s, 300))
        };
        Self {
            ip: bounded(ip.trim(), 300),
            helo: keep(helo),
            domain: keep(domain),
            verdict: Verdict::Invalid,
            worst: None,
            findings: Vec::new(),
            checklist: Vec::new(),
            error: Some(error.to_string()),
            resolver: String::new(),
            elapsed_ms: 0,
            facts: None,
            partial: None,
        }
    }

    /// One line a newcomer understands, for the verdict.
    pub const fn explain(&self) -> &'static str {
        explain(self.verdict)
    }

    /// The one-line headline in tables: why the input was not checked, else the first (worst)
    /// finding as `code: summary`, else empty (as [`crate::Report::top_issue`]).
    pub fn top_issue(&self) -> String {
        crate::report::top_issue(self.error.as_deref(), &self.findings)
    }

    /// The finding codes, worst first.
    pub fn codes(&self) -> Vec<Code> {
        self.findings.iter().map(|f| f.code).collect()
    }
}

/// What a sender verdict means.
pub const fn explain(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Invalid => "This cannot be checked as a sender (see why).",
        Verdict::Broken => {
            "Large receivers (Gmail, Outlook, Yahoo) refuse mail from this sender outright."
        }
        Verdict::Degraded => {
            "Mail from this sender may be junked or refused by strict receivers: fix the findings."
        }
        Verdict::Inconclusive => "Nothing wrong found, but some lookups failed: check again.",
        Verdict::NoMail | Verdict::Ok => "This sender looks the way large receivers want it.",
    }
}

/// The sender verdict from its findings, first match wins (contract, "The sender's side"):
/// `broken` for an error of [`SENDER_BREAKERS`]; `degraded` for any other error or warning;
/// `inconclusive` when something a receiver would look at could not be looked up (an
/// inconclusive finding, or the deadline came first); `ok`.
pub fn verdict(findings: &[Finding], partial: bool) -> Verdict {
    if findings
        .iter()
        .any(|f| f.severity == Severity::Error && SENDER_BREAKERS.contains(&f.code))
    {
        return Verdict::Broken;
    }
    if findings.iter().any(|f| f.severity.is_fault()) {
        return Verdict::Degraded;
    }
    if partial
        || findings
            .iter()
            .any(|f| f.severity == Severity::Inconclusive)
    {
        return Verdict::Inconclusive;
    }
    Verdict::Ok
}
