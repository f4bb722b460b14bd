//! `check_host()` (RFC 7208 §4–§6) with an evaluation trace.
//!
//! The evaluation is lazy like a receiver's: terms are evaluated left to right and the first
//! match decides, so the DNS-querying terms (`include a mx ptr exists redirect`) and void
//! lookups are counted as they are reached, over the whole include/redirect tree, against the
//! limits of §4.6.4. The [`SpfTrace`] keeps that tree: per node the record, the lookup counts,
//! the term that matched and why it ended.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::dns::SpfDns;
use super::macros::{ExpansionTooLong, MacroLetter, MacroString, MacroUse, MacroValues};
use super::name::{check_domain, is_same_or_subdomain, target_name};
use super::record::{DomainSpec, DualCidr, Mechanism, ParseError, Record, Term, is_spf_record};
use super::{MAX_DNS_TERMS, MAX_NAME_LOOKUPS, MAX_VOID_LOOKUPS, SpfResult, parse_record};
use crate::facts::Lookup;

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
    /// DNS-querying terms evaluated (at most [`MAX_DNS_TERMS`] unless it ended in permerror).
    pub dns_terms: u32,
    /// Void lookups seen (at most [`MAX_VOID_LOOKUPS`] unless it ended in permerror).
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

impl Evaluator<'_> {
    /// One `check_host()` on `domain`: its node and outcome.
    fn evaluate_domain(
        &mut self,
        domain: String,
        via: Via,
        term: Option<String>,
    ) -> BoxFuture<'_, (TraceNode, Outcome)> {
        Box::pin(async move {
            let mut node = TraceNode::new(domain, via, term);
            let outcome = self.evaluate_node(&mut node).await;
            node.result = outcome.result;
            node.reason.clone_from(&outcome.reason);
            (node, outcome)
        })
    }

    async fn evaluate_node(&mut self, node: &mut TraceNode) -> Outcome {
        let domain = node.domain.clone();
        if let Err(problem) = check_domain(&domain) {
            return Outcome::with_reason(
                SpfResult::None,
                format!("{domain:?} is not a domain SPF can check: {problem}"),
            );
        }
        if self.stack.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            return Abort::Perm(format!("loop: {} → {domain}", self.stack.join(" → "))).into();
        }
        let lookup = self.dns.txt(&domain).await;
        node.lookup = lookup.describe();
        let records: Vec<String> = match lookup {
            Lookup::Failed { .. } => {
                return Abort::Temp(format!("TXT lookup of {domain}: {}", node.lookup)).into();
            }
            Lookup::NxDomain | Lookup::NoData => {
                return Outcome::with_reason(
                    SpfResult::None,
                    format!("no SPF record at {domain} (TXT: {})", node.lookup),
                );
            }
            Lookup::Answer { records } => {
                records.into_iter().filter(|r| is_spf_record(r)).collect()
            }
        };
        node.records.clone_from(&records);
        let text = match records.as_slice() {
            [] => {
                return Outcome::with_reason(
                    SpfResult::None,
                    format!("no v=spf1 record among the TXT records of {domain}"),
                );
            }
            [one] => one,
            several => {
                return Abort::Perm(format!(
                    "{} v=spf1 records at {domain} (exactly one is allowed)",
                    several.len()
                ))
                .into();
            }
        };
        let record = match parse_record(text) {
            Ok(record) => record,
            Err(e) => {
                let why = format!("syntax error in the record of {domain}: {e}");
                node.syntax_error = Some(e);
                return Abort::Perm(why).into();
            }
        };
        self.stack.push(domain);
        let outcome = self.evaluate_record(&record, node).await;
        self.stack.pop();
        outcome
    }

    async fn evaluate_record(&mut self, record: &Record, node: &mut TraceNode) -> Outcome {
        let domain = node.domain.clone();
        for term in &record.terms {
            let Some(directive) = term.directive() else {
                continue;
            };
            if directive.mechanism.queries_dns()
                && let Err(abort) = self.count_dns_term(node)
            {
                return abort.into();
            }
            match self.matches(&directive.mechanism, term, node).await {
                Ok(false) => {}
                Ok(true) => {
                    let result = directive.qualifier.result();
                    node.matched = Some(term.text.clone());
                    let exp = match (result, record.explanation()) {
                        (SpfResult::Fail, Some(spec)) => Some((spec.clone(), domain.clone())),
                        _ => None,
                    };
                    return Outcome {
                        result,
                        reason: None,
                        exp,
                        matched: Some(MatchedTerm {
                            domain,
                            term: term.text.clone(),
                        }),
                    };
                }
                Err(abort) => return abort.into(),
            }
        }
        // An `all` always matches, so a redirect is only reached in a record without one (§6.1).
        if let Some((term, target)) = record.redirect() {
            if let Err(abort) = self.count_dns_term(node) {
                return abort.into();
            }
            let name = match self.target(target, &domain).await {
                Ok(name) => name,
                Err(why) => return Abort::Perm(format!("{}: {why}", term.text)).into(),
            };
            let (child, outcome) = self
                .evaluate_domain(name.clone(), Via::Redirect, Some(term.text.clone()))
                .await;
            node.children.push(child);
            if outcome.result == SpfResult::None {
                return Abort::Perm(format!("{}: {name} has no SPF record", term.text)).into();
            }
            return outcome;
        }
        Outcome::with_reason(
            SpfResult::Neutral,
            format!("no term of {domain} matched (default result)"),
        )
    }

    fn count_dns_term(&mut self, node: &mut TraceNode) -> Result<(), Abort> {
        self.dns_terms += 1;
        node.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(Abort::Perm(format!(
                "more than {MAX_DNS_TERMS} DNS-querying terms (include, a, mx, ptr, exists, \
                 redirect)"
            )));
        }
        Ok(())
    }

    fn count_void(&mut self, node: &mut TraceNode, what: &str) -> Result<(), Abort> {
        self.void_lookups += 1;
        node.void_lookups += 1;
        if self.void_lookups > MAX_VOID_LOOKUPS {
            return Err(Abort::Perm(format!(
                "more than {MAX_VOID_LOOKUPS} void lookups (the last: {what})"
            )));
        }
        Ok(())
    }

    async fn matches(
        &mut self,
        mechanism: &Mechanism,
        term: &Term,
        node: &mut TraceNode,
    ) -> Result<bool, Abort> {
        let domain = node.domain.clone();
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V4(*network), *prefix))
            }
            Mechanism::Ip6 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V6(*network), *prefix))
            }
            Mechanism::Include(spec) => {
                let name = self
                    .target(spec, &domain)
                    .await
                    .map_err(|why| Abort::Perm(format!("{}: {why}", term.text)))?;
                let (child, outcome) = self
                    .evaluate_domain(name.clone(), Via::Include, Some(term.text.clone()))
                    .await;
                node.children.push(child);
                let why = || {
                    format!(
                        "{}: {}",
                        term.text,
                        outcome.reason.as_deref().unwrap_or_default()
                    )
                };
                match outcome.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(Abort::Temp(why())),
                    SpfResult::PermError => Err(Abort::Perm(why())),
                    SpfResult::None => Err(Abort::Perm(format!(
                        "{}: {name} has no SPF record",
                        term.text
                    ))),
                }
            }
            Mechanism::A { domain: spec, cidr } => {
                let Some(name) = self.optional_target(spec.as_ref(), node, &term.text).await else {
                    return Ok(false);
                };
                let lookup = self.addresses(&name).await;
                self.address_match(lookup, *cidr, node, &term.text, &name)
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let Some(name) = self.optional_target(spec.as_ref(), node, &term.text).await else {
                    return Ok(false);
                };
                self.mx_match(&name, *cidr, node, &term.text).await
            }
            Mechanism::Ptr(spec) => {
                let Some(target) = self.optional_target(spec.as_ref(), node, &term.text).await
                else {
                    return Ok(false);
                };
                let names = self.ptr_names().await;
                if names.failed {
                    node.notes.push(format!(
                        "{}: the PTR lookup of {} failed; no match",
                        term.text, self.ip
                    ));
                    return Ok(false);
                }
                if names.void {
                    self.count_void(node, &format!("{}: no PTR for {}", term.text, self.ip))?;
                    return Ok(false);
                }
                Ok(names
                    .validated
                    .iter()
                    .any(|n| is_same_or_subdomain(n, &target)))
            }
            Mechanism::Exists(spec) => {
                let Some(name) = self.optional_target(Some(spec), node, &term.text).await else {
                    return Ok(false);
                };
                match self.dns.a(&name).await {
                    Lookup::Answer { records } if !records.is_empty() => Ok(true),
                    failed @ Lookup::Failed { .. } => Err(Abort::Temp(format!(
                        "{}: A lookup of {name}: {}",
                        term.text,
                        failed.describe()
                    ))),
                    _ => {
                        self.count_void(node, &format!("{}: {name}", term.text))?;
                        Ok(false)
                    }
                }
            }
        }
    }

    /// `a`: any address of the target within the prefix.
    fn address_match(
        &mut self,
        lookup: Lookup<IpAddr>,
        cidr: DualCidr,
        node: &mut TraceNode,
        term: &str,
        name: &str,
    ) -> Result<bool, Abort> {
        match lookup {
            Lookup::Answer { records } if !records.is_empty() => {
                let prefix = self.prefix(cidr);
                Ok(records.iter().any(|a| in_network(self.ip, *a, prefix)))
            }
            failed @ Lookup::Failed { .. } => Err(Abort::Temp(format!(
                "{term}: address lookup of {name}: {}",
                failed.describe()
            ))),
            _ => {
                self.count_void(node, &format!("{term}: {name}"))?;
                Ok(false)
            }
        }
    }

    /// `mx`: any address of any exchange (10 at most, §4.6.4) within the prefix.
    async fn mx_match(
        &mut self,
        name: &str,
        cidr: DualCidr,
        node: &mut TraceNode,
        term: &str,
    ) -> Result<bool, Abort> {
        let records = match self.dns.mx(name).await {
            Lookup::Answer { records } if !records.is_empty() => records,
            failed @ Lookup::Failed { .. } => {
                return Err(Abort::Temp(format!(
                    "{term}: MX lookup of {name}: {}",
                    failed.describe()
                )));
            }
            _ => {
                self.count_void(node, &format!("{term}: {name}"))?;
                return Ok(false);
            }
        };
        if records.len() > MAX_NAME_LOOKUPS {
            return Err(Abort::Perm(format!(
                "{term}: {name} has {} MX records, more than {MAX_NAME_LOOKUPS}",
                records.len()
            )));
        }
        let prefix = self.prefix(cidr);
        for mx in records {
            if mx.exchange == "." || mx.exchange.is_empty() {
                continue;
            }
            match self.addresses(&mx.exchange).await {
                Lookup::Answer { records } => {
                    if records.iter().any(|a| in_network(self.ip, *a, prefix)) {
                        return Ok(true);
                    }
                }
                failed @ Lookup::Failed { .. } => {
                    return Err(Abort::Temp(format!(
                        "{term}: address lookup of {}: {}",
                        mx.exchange,
                        failed.describe()
                    )));
                }
                Lookup::NxDomain | Lookup::NoData => {}
            }
        }
        Ok(false)
    }

    const fn prefix(&self, cidr: DualCidr) -> u8 {
        match self.ip {
            IpAddr::V4(_) => cidr.v4,
            IpAddr::V6(_) => cidr.v6,
        }
    }

    /// A or AAAA by the client's family.
    async fn addresses(&self, name: &str) -> Lookup<IpAddr> {
        match self.ip {
            IpAddr::V4(_) => self.dns.a(name).await,
            IpAddr::V6(_) => self.dns.aaaa(name).await,
        }
    }

    /// The PTR names of the client, validated, looked up once per check.
    async fn ptr_names(&mut self) -> PtrNames {
        if let Some(names) = &self.ptr {
            return names.clone();
        }
        let names = match self.dns.ptr(self.ip).await {
            Lookup::Failed { .. } => PtrNames {
                failed: true,
                ..PtrNames::default()
            },
            Lookup::Answer { records } if !records.is_empty() => {
                let mut validated = Vec::new();
                // Only the first ten names are considered (§4.6.4); a failed lookup skips the
                // name (§5.5).
                for name in records.iter().take(MAX_NAME_LOOKUPS) {
                    if let Lookup::Answer { records: addrs } = self.addresses(name).await
                        && addrs.contains(&self.ip)
                    {
                        validated.push(name.clone());
                    }
                }
                PtrNames {
                    validated,
                    ..PtrNames::default()
                }
            }
            _ => PtrNames {
                void: true,
                ..PtrNames::default()
            },
        };
        self.ptr = Some(names.clone());
        names
    }

    /// The target of `a`, `mx`, `ptr`, `exists` (`None` spec: the current domain); `None` when
    /// the expanded name cannot be queried, which is a no-match (noted in the trace).
    async fn optional_target(
        &mut self,
        spec: Option<&DomainSpec>,
        node: &mut TraceNode,
        term: &str,
    ) -> Option<String> {
        let Some(spec) = spec else {
            return Some(node.domain.clone());
        };
        match self.target(spec, &node.domain.clone()).await {
            Ok(name) => Some(name),
            Err(why) => {
                node.notes.push(format!("{term}: {why}; no match"));
                None
            }
        }
    }

    /// Expands a domain-spec into a name to query (§7.3, §4.8).
    async fn target(&mut self, spec: &DomainSpec, domain: &str) -> Result<String, String> {
        let expanded = self
            .expand(spec.macros(), domain)
            .await
            .map_err(|e| format!("{spec}: {e}"))?;
        target_name(&expanded).map_err(|p| format!("{expanded:?} cannot be queried: {p}"))
    }

    async fn expand(
        &mut self,
        macros: &MacroString,
        domain: &str,
    ) -> Result<String, ExpansionTooLong> {
        let validated = if macros.uses(MacroLetter::ValidatedName) {
            let names = self.ptr_names().await;
            pick_validated(&names.validated, domain)
        } else {
            None
        };
        macros.expand(&MacroValues {
            sender: &self.sender,
            local_part: &self.local_part,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: &self.helo,
            validated_name: validated.as_deref(),
            receiver: &self.receiver,
            timestamp: self.timestamp,
        })
    }

    /// §6.2: the explanation for a fail. Any problem (no name, DNS error, not exactly one TXT
    /// record, a syntax error, non-ASCII text) means no explanation. Not counted in the limits.
    async fn explanation(&mut self, spec: &DomainSpec, domain: &str) -> Option<String> {
        let name = self.target(spec, domain).await.ok()?;
        let Lookup::Answer { records } = self.dns.txt(&name).await else {
            return None;
        };
        let [text] = records.as_slice() else {
            return None;
        };
        let macros = MacroString::parse(text, MacroUse::Explanation).ok()?;
        self.expand(&macros, domain).await.ok()
    }
}

/// `%{p}` (§7.3): the domain itself if validated, else a subdomain of it, else any validated
/// name.
fn pick_validated(validated: &[String], domain: &str) -> Option<String> {
    validated
        .iter()
        .find(|n| n.eq_ignore_ascii_case(domain))
        .or_else(|| validated.iter().find(|n| is_same_or_subdomain(n, domain)))
        .or_else(|| validated.first())
        .cloned()
}

/// Whether `ip` is in `network/prefix` (same family only).
fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
