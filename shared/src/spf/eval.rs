//! `check_host()` (RFC 7208 §4–§6) with an evaluation trace.
//!
//! The evaluation is lazy like a receiver's: terms are evaluated left to right and the first
//! match decides, so the DNS-querying terms (`include a mx ptr exists redirect`) and void
//! lookups are counted as they are reached, over the whole include/redirect tree, against the
//! limits of §4.6.4. The [`SpfTrace`] keeps that tree: per node the record, the lookup counts,
//! the term that matched and why it ended.
//!
//! Files: this one holds the evaluation's types and the `check_host()` entry points;
//! `eval/walk.rs` the walk over the tree (records, limits, macro targets, the explanation);
//! `eval/mechanisms.rs` whether each mechanism matches.

mod mechanisms;
#[cfg(test)]
mod tests;
mod walk;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::SpfResult;
use super::dns::SpfDns;
use super::record::{DomainSpec, ParseError};

/// What `check_host()` needs besides the identity: the values of the explanation-only macros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOptions {
    /// `%{r}`: the receiving host's name (`unknown` by default).
    pub receiver: String,
    /// `%{t}`: seconds since the epoch; the current time when `None`.
    pub timestamp: Option<u64>,
}

impl Default for SpfOptions {
    fn default() -> Self {
        Self {
            receiver: "unknown".to_owned(),
            timestamp: None,
        }
    }
}

/// How a node of the tree was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The domain checked.
    Root,
    /// An `include:` term.
    Include,
    /// A `redirect=` modifier.
    Redirect,
}

/// One `check_host()` call in the tree: a domain and its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceNode {
    /// The domain (after macro expansion).
    pub domain: String,
    /// How it was reached.
    pub via: Via,
    /// The term of the parent that led here (`include:_spf.example.com`); `None` at the root.
    pub term: Option<String>,
    /// How the TXT lookup went (`1 record(s)`, `NXDOMAIN`, `SERVFAIL (…)`); empty when no lookup
    /// was made.
    pub lookup: String,
    /// The `v=spf1` records found (one when all is well).
    pub records: Vec<String>,
    /// This node's result.
    pub result: SpfResult,
    /// The term that matched and decided the result here.
    pub matched: Option<String>,
    /// Why the result is what it is when no term matched, or what went wrong.
    pub reason: Option<String>,
    /// The syntax error of the record, for evidence.
    pub syntax_error: Option<ParseError>,
    /// What did not change the result but is worth knowing: a target name that cannot be
    /// queried (no match), a failed PTR lookup (no match, §5.5).
    pub notes: Vec<String>,
    /// DNS-querying terms evaluated in this record (not counting its children's).
    pub dns_terms: u32,
    /// Void lookups seen by this record's terms.
    pub void_lookups: u32,
    /// The includes and the redirect evaluated from here, in order.
    pub children: Vec<Self>,
}

impl TraceNode {
    fn new(domain: String, via: Via, term: Option<String>) -> Self {
        Self {
            domain,
            via,
            term,
            lookup: String::new(),
            records: Vec::new(),
            result: SpfResult::None,
            matched: None,
            reason: None,
            syntax_error: None,
            notes: Vec::new(),
            dns_terms: 0,
            void_lookups: 0,
            children: Vec::new(),
        }
    }

    /// DNS-querying terms of this node and everything below it.
    pub fn subtree_dns_terms(&self) -> u32 {
        self.children.iter().fold(self.dns_terms, |n, c| {
            n.saturating_add(c.subtree_dns_terms())
        })
    }
}

/// The evaluation trace: the include/redirect tree and the totals against the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfTrace {
    /// The checked domain, with the includes and redirects below it.
    pub root: TraceNode,
    /// DNS-querying terms evaluated (at most [`MAX_DNS_TERMS`](super::MAX_DNS_TERMS) unless it
    /// ended in permerror).
    pub dns_terms: u32,
    /// Void lookups seen (at most [`MAX_VOID_LOOKUPS`](super::MAX_VOID_LOOKUPS) unless it ended
    /// in permerror).
    pub void_lookups: u32,
}

/// The term that decided the result, and the domain whose record holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedTerm {
    /// The domain of the record.
    pub domain: String,
    /// The term as written.
    pub term: String,
}

/// The outcome of `check_host()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfEvaluation {
    /// The client address as given.
    pub ip: IpAddr,
    /// The domain checked.
    pub domain: String,
    /// The sender (`local@domain`).
    pub sender: String,
    /// The HELO/EHLO name.
    pub helo: String,
    /// The result.
    pub result: SpfResult,
    /// For `fail`, the domain's `exp=` explanation, macro-expanded; `None` when there is none or
    /// it could not be had (§6.2: errors are ignored).
    pub explanation: Option<String>,
    /// The term that decided (`None` for the default `neutral` and for errors).
    pub matched: Option<MatchedTerm>,
    /// Why: the error for permerror/temperror/none, the default for neutral.
    pub reason: Option<String>,
    /// The tree as evaluated.
    pub trace: SpfTrace,
}

/// The identity to check for a MAIL FROM (RFC 7208 §2.4): `(domain, sender)`. A null
/// reverse-path (`""` or `"<>"`) checks the HELO identity as `postmaster@<helo>`.
pub fn sender_identity(mail_from: &str, helo: &str) -> (String, String) {
    let mail_from = mail_from.trim();
    let mail_from = mail_from
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(mail_from);
    if mail_from.is_empty() {
        return (helo.to_owned(), format!("postmaster@{helo}"));
    }
    let domain = mail_from.rsplit_once('@').map_or(mail_from, |(_, d)| d);
    (domain.to_owned(), mail_from.to_owned())
}

/// `check_host()` for a MAIL FROM (empty or `<>` for a null sender) after `helo`.
pub async fn check_sender(
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    dns: &dyn SpfDns,
) -> SpfEvaluation {
    let (domain, sender) = sender_identity(mail_from, helo);
    check_host(ip, &domain, &sender, helo, dns).await
}

/// `check_host(<ip>, <domain>, <sender>)` (§4) with default [`SpfOptions`].
pub async fn check_host(
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    dns: &dyn SpfDns,
) -> SpfEvaluation {
    check_host_with(&SpfOptions::default(), ip, domain, sender, helo, dns).await
}

/// `check_host(<ip>, <domain>, <sender>)` (§4).
///
/// An IPv4-mapped IPv6 address is checked as the IPv4 address (§5). A sender without a
/// local-part is `postmaster` (§4.3). Never fails: every problem is a result.
pub async fn check_host_with(
    options: &SpfOptions,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    dns: &dyn SpfDns,
) -> SpfEvaluation {
    let effective = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let (local_part, sender_domain) = sender.rsplit_once('@').unwrap_or(("", sender));
    let local_part = if local_part.is_empty() {
        "postmaster"
    } else {
        local_part
    };
    let timestamp = options.timestamp.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut evaluator = Evaluator {
        dns,
        ip: effective,
        sender: format!("{local_part}@{sender_domain}"),
        local_part: local_part.to_owned(),
        sender_domain: sender_domain.to_owned(),
        helo: helo.to_owned(),
        receiver: options.receiver.clone(),
        timestamp,
        dns_terms: 0,
        void_lookups: 0,
        ptr: None,
        stack: Vec::new(),
    };
    let (root, outcome) = evaluator
        .evaluate_domain(domain.to_owned(), Via::Root, None)
        .await;
    let explanation = match (&outcome.result, &outcome.exp) {
        (SpfResult::Fail, Some((spec, exp_domain))) => {
            evaluator.explanation(spec, exp_domain).await
        }
        _ => None,
    };
    SpfEvaluation {
        ip,
        domain: domain.to_owned(),
        sender: evaluator.sender.clone(),
        helo: helo.to_owned(),
        result: outcome.result,
        explanation,
        matched: outcome.matched,
        reason: outcome.reason,
        trace: SpfTrace {
            root,
            dns_terms: evaluator.dns_terms,
            void_lookups: evaluator.void_lookups,
        },
    }
}

/// Why the evaluation stops early.
enum Abort {
    Temp(String),
    Perm(String),
}

/// What one node hands back to its parent.
struct Outcome {
    result: SpfResult,
    reason: Option<String>,
    /// For a fail: the `exp=` of the record that decided, with that record's domain.
    exp: Option<(DomainSpec, String)>,
    matched: Option<MatchedTerm>,
}

impl Outcome {
    fn with_reason(result: SpfResult, reason: String) -> Self {
        Self {
            result,
            reason: Some(reason),
            exp: None,
            matched: None,
        }
    }
}

impl From<Abort> for Outcome {
    fn from(abort: Abort) -> Self {
        match abort {
            Abort::Temp(why) => Self::with_reason(SpfResult::TempError, why),
            Abort::Perm(why) => Self::with_reason(SpfResult::PermError, why),
        }
    }
}

/// PTR names of the client, validated (§5.5), for `ptr` and `%{p}`.
#[derive(Clone, Default)]
struct PtrNames {
    /// The PTR lookup failed: `ptr` does not match, `%{p}` is `unknown`.
    failed: bool,
    /// NXDOMAIN or no PTR record.
    void: bool,
    /// The names (of the first ten) whose addresses include the client.
    validated: Vec<String>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Evaluator<'a> {
    dns: &'a dyn SpfDns,
    /// The client, an IPv4-mapped address already turned into IPv4.
    ip: IpAddr,
    sender: String,
    local_part: String,
    sender_domain: String,
    helo: String,
    receiver: String,
    timestamp: u64,
    dns_terms: u32,
    void_lookups: u32,
    ptr: Option<PtrNames>,
    /// Domains being evaluated, root first: a domain already here is a loop.
    stack: Vec<String>,
}
