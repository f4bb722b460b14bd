//! The envelope sender domain: `dns.nxdomain` / `dns.lookup_failed` for the domain itself, its
//! own `spf.*` and `dmarc.*` findings, and SPF's verdict on the sending IP (`sender.spf_*`,
//! temperror as `spf.lookup_failed`) with the evaluation trace as evidence.

use std::net::IpAddr;

use crate::auth::AuthFacts;
use crate::facts::{Facts, Lookup};
use crate::finding::{Code, Finding};
use crate::sender::{DomainAuthFacts, SenderFacts};
use crate::spf::{SpfEvaluation, SpfResult, TraceNode};

/// The most lines of the SPF evaluation trace shown as evidence.
const MAX_TRACE_LINES: usize = 24;

pub(super) fn sender_domain(f: &SenderFacts, d: &DomainAuthFacts, out: &mut Vec<Finding>) {
    let domain = &d.domain;
    match &d.mx {
        Lookup::NxDomain => out.push(
            Finding::new(
                Code::DnsNxdomain,
                domain,
                format!("the sender domain {domain} does not exist"),
            )
            .evidence(format!("MX {domain}: NXDOMAIN"))
            .advice(format!(
                "Receivers refuse mail whose envelope sender domain does not exist (Postfix \
                 reject_unknown_sender_domain: 550 5.1.8 Domain not found; Gmail and Outlook \
                 likewise), and bounces could not come back. Send as an address in a domain that \
                 exists, or register {domain} and publish its records."
            )),
        ),
        Lookup::Failed { .. } => out.push(
            Finding::new(
                Code::DnsLookupFailed,
                domain,
                format!("the MX lookup of the sender domain {domain} failed"),
            )
            .evidence(format!("MX {domain}: {}", d.mx.describe()))
            .advice(
                "Receivers whose lookups fail too defer the mail (450 4.1.8 Domain not found, \
                 temporarily). Check that all the domain's name servers answer; then check again.",
            ),
        ),
        _ => {}
    }
    // The domain's own record findings, exactly as the domain check reports them.
    let mut facts = Facts::new(
        domain.as_str(),
        f.observed_at,
        crate::facts::ProbeScope::default(),
    );
    facts.mx = d.mx.clone();
    facts.auth = Some(AuthFacts {
        spf: d.spf.clone(),
        spf_ips: d.spf_ips.clone(),
        dmarc: d.dmarc.clone(),
        ..AuthFacts::default()
    });
    crate::diagnose::spf_dmarc_findings(&facts, out);
    if let Some(e) = d.spf.as_ref().and_then(|s| s.evaluation.as_ref()) {
        spf_result(f, d, e, out);
    }
}

/// The evaluation as evidence: the call, the records, the tree as evaluated, what decided.
fn spf_evidence(e: &SpfEvaluation) -> Vec<String> {
    let mut lines = vec![format!(
        "check_host({}, {}, {}) = {}",
        e.ip, e.domain, e.sender, e.result
    )];
    for r in &e.trace.root.records {
        lines.push(format!("TXT {}: {r}", e.trace.root.domain));
    }
    if e.trace.root.records.is_empty() && !e.trace.root.lookup.is_empty() {
        lines.push(format!(
            "TXT {}: {}",
            e.trace.root.domain, e.trace.root.lookup
        ));
    }
    if let Some(m) = &e.matched {
        lines.push(format!(
            "decided by `{}` in the record of {}",
            m.term, m.domain
        ));
    }
    if let Some(r) = &e.reason {
        lines.push(format!("why: {r}"));
    }
    if let Some(x) = &e.explanation {
        lines.push(format!("the domain's explanation (exp=): {x}"));
    }
    if !e.trace.root.children.is_empty() {
        lines.push(format!(
            "evaluation: {} DNS-querying term(s), {} void lookup(s)",
            e.trace.dns_terms, e.trace.void_lookups
        ));
        let mut tree = Vec::new();
        trace_lines(&e.trace.root, 0, &mut tree);
        lines.extend(tree);
    }
    lines
}

fn trace_lines(node: &TraceNode, depth: usize, out: &mut Vec<String>) {
    if out.len() >= MAX_TRACE_LINES {
        return;
    }
    let indent = "  ".repeat(depth);
    let head = match &node.term {
        Some(term) => format!("{indent}{term} ({})", node.domain),
        None => format!("{indent}{}", node.domain),
    };
    let matched = node
        .matched
        .as_ref()
        .map_or_else(String::new, |m| format!(", matched `{m}`"));
    out.push(format!("{head}: {}{matched}", node.result));
    for child in &node.children {
        trace_lines(child, depth + 1, out);
    }
    if depth == 0 && out.len() >= MAX_TRACE_LINES {
        out.push("… (the tree goes on)".to_owned());
    }
}

/// The record with `ip4:`/`ip6:` of the sending address put first, as a suggestion.
fn suggested_record(ip: IpAddr, records: &[String]) -> Option<String> {
    let term = match ip {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => format!("ip6:{v6}"),
    };
    let [record] = records else {
        return None;
    };
    let rest = record.get(6..).unwrap_or_default();
    Some(format!("v=spf1 {term}{rest}"))
}

/// The DMARC policy receivers apply to mail from the domain, as evidence.
fn dmarc_line(d: &DomainAuthFacts) -> Option<String> {
    let dmarc = d.dmarc.as_ref()?;
    let lookup = dmarc.policy_lookup()?;
    let record = lookup.record.as_ref()?;
    let policy = record.policy_for(&d.domain, &lookup.domain);
    Some(format!(
        "DMARC of {} ({}): p={policy}",
        d.domain, lookup.name
    ))
}

fn spf_result(f: &SenderFacts, d: &DomainAuthFacts, e: &SpfEvaluation, out: &mut Vec<Finding>) {
    let ip = f.ip;
    let domain = &d.domain;
    let records = &e.trace.root.records;
    let authorize = match suggested_record(ip, records) {
        Some(r) => format!(
            "If {ip} is yours and sends {domain}'s mail, authorize it: put `{}:{ip}` into the \
             record before the `all` term — `{r}` — or, if it is a provider's server, the \
             `include:` its documentation names.",
            if ip.is_ipv4() { "ip4" } else { "ip6" }
        ),
        None => format!(
            "If {ip} is yours and sends {domain}'s mail, publish one SPF record at {domain} that \
             authorizes it: `v=spf1 {}:{ip} -all` (add `mx` and your provider's `include:` as \
             needed).",
            if ip.is_ipv4() { "ip4" } else { "ip6" }
        ),
    };
    let evidence = || {
        let mut lines = spf_evidence(e);
        lines.extend(dmarc_line(d));
        lines
    };
    match e.result {
        SpfResult::Pass => {}
        SpfResult::Fail => out.push(
            Finding::new(
                Code::SenderSpfFail,
                domain,
                format!("SPF fails for {ip} sending as {domain}"),
            )
            .evidence_lines(evidence())
            .advice(format!(
                "Receivers refuse mail that fails SPF when the domain's DMARC policy says so and \
                 no DKIM signature passes (Gmail 550-5.7.26, Outlook 550 5.7.509), and junk most \
                 of the rest. {authorize} If {ip} should not send for {domain}, route the mail \
                 through the server that is authorized."
            )),
        ),
        SpfResult::SoftFail => out.push(
            Finding::new(
                Code::SenderSpfSoftfail,
                domain,
                format!("SPF soft-fails for {ip} sending as {domain} (`~all`)"),
            )
            .evidence_lines(evidence())
            .advice(format!(
                "`~all` says \"probably not authorized\": receivers accept but mark the mail, and \
                 with DMARC quarantine/reject and no DKIM signature it goes to spam or is \
                 refused. {authorize}"
            )),
        ),
        SpfResult::Neutral | SpfResult::None => {
            let summary = if e.result == SpfResult::None {
                format!("{domain} has no SPF record that could authorize {ip}")
            } else {
                format!("SPF is neutral for {ip} sending as {domain}: it is not authorized")
            };
            out.push(
                Finding::new(Code::SenderSpfNeutral, domain, summary)
                    .evidence_lines(evidence())
                    .advice(format!(
                        "SPF does not vouch for {ip}, so the mail passes DMARC only with a DKIM \
                         signature of {domain}; with DMARC p=reject or p=quarantine and no DKIM \
                         it is refused or junked, and Gmail and Yahoo require SPF or DKIM from \
                         every sender. {authorize}"
                    )),
            );
        }
        SpfResult::PermError => out.push(
            Finding::new(
                Code::SenderSpfError,
                domain,
                format!("the SPF record of {domain} cannot be evaluated for {ip} (permerror)"),
            )
            .evidence_lines(evidence())
            .advice(format!(
                "Receivers treat a permanent SPF error like a failure (and DMARC may reject the \
                 mail). Fix the record of {domain} first — the spf.* finding says where it breaks \
                 — then check again."
            )),
        ),
        SpfResult::TempError => {
            let known = out
                .iter()
                .any(|x| x.code == Code::SpfLookupFailed && x.subject == *domain);
            if !known {
                out.push(
                    Finding::new(
                        Code::SpfLookupFailed,
                        domain,
                        format!(
                            "SPF could not be evaluated for {ip}: a lookup it needs failed \
                             (temperror)"
                        ),
                    )
                    .evidence_lines(spf_evidence(e))
                    .advice(
                        "Receivers defer mail on a temporary SPF error (451 4.7.24). Check that \
                         the name servers of every name the record reaches answer; then check \
                         again.",
                    ),
                );
            }
        }
    }
}
