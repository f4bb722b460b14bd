//! SPF findings (RFC 7208): `spf.missing`, `spf.multiple`, `spf.invalid`,
//! `spf.too_many_lookups`, `spf.permissive`, `spf.lookup_failed`, `spf.ptr_used`, all about
//! the domain; and the "MX IP that sends" test other findings use ([`sends_for_domain`]).
//!
//! The record tree ([`crate::spf::SpfTree`]) says what each record is and how many
//! DNS-querying terms a receiver reaches; the check of an address no record lists
//! ([`crate::auth::spf_ips`]) adds the void lookups and the `a`/`mx` lookups that failed.
//!
//! The rules and the findings about the domain's own record are here; the findings about the
//! include/redirect tree as a whole (a broken record in it, failed lookups, too many lookups)
//! and the tree shown as evidence are in [`tree`].

mod tree;

use std::net::IpAddr;

use crate::auth::AuthFacts;
use crate::facts::{Facts, Lookup};
use crate::finding::{Code, Finding};
use crate::spf::record::{Mechanism, Qualifier, TermKind};
use crate::spf::{
    MAX_VOID_LOOKUPS, NodeStatus, PolicyNode, SpfFacts, SpfResult, Via, parse_record,
};
use tree::{broken_tree, lookup_failed, too_many_lookups};

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    if !domain_resolves(facts) {
        return;
    }
    let Some(spf) = &auth.spf else { return };
    let domain = &facts.domain;
    let root = &spf.tree.root;
    let unlisted = auth.spf_ips.as_ref().and_then(|s| s.unlisted.as_ref());
    match root.status {
        NodeStatus::Ok => {}
        NodeStatus::LookupFailed => {
            out.push(lookup_failed(domain, &[root], None));
            return;
        }
        NodeStatus::NoRecord => {
            out.push(missing(facts, root));
            return;
        }
        NodeStatus::MultipleRecords => {
            out.push(
                Finding::new(
                    Code::SpfMultiple,
                    domain,
                    format!(
                        "{domain} publishes {} SPF records: receivers treat \
                         that as a permanent error",
                        root.records.len()
                    ),
                )
                .evidence_lines(
                    root.records
                        .iter()
                        .enumerate()
                        .map(|(i, r)| format!("TXT {domain} #{}: {r}", i + 1)),
                )
                .advice(format!(
                    "With two or more `v=spf1` records SPF fails (permerror) for all mail from \
                     {domain}. Merge them into one TXT record — one `v=spf1`, every mechanism \
                     of both, one `all` at the end (e.g. `v=spf1 mx include:<provider> -all`) \
                     — and delete the others."
                )),
            );
            return;
        }
        NodeStatus::SyntaxError => {
            out.push(invalid_syntax(domain, root));
            return;
        }
        // Not reachable at the root (a valid domain, nothing above it).
        NodeStatus::MalformedName
        | NodeStatus::Loop
        | NodeStatus::DependsOnMacros
        | NodeStatus::NotFollowed => return,
    }

    let nodes = root.walk();
    let broken: Vec<&PolicyNode> = nodes
        .iter()
        .copied()
        .filter(|n| {
            matches!(
                n.status,
                NodeStatus::NoRecord
                    | NodeStatus::MultipleRecords
                    | NodeStatus::SyntaxError
                    | NodeStatus::MalformedName
                    | NodeStatus::Loop
            )
        })
        .collect();
    if !broken.is_empty() {
        out.push(broken_tree(domain, spf, &broken));
    }
    let failed: Vec<&PolicyNode> = nodes
        .iter()
        .copied()
        .filter(|n| n.status == NodeStatus::LookupFailed)
        .collect();
    let temperror = unlisted.filter(|u| u.result == SpfResult::TempError);
    if !failed.is_empty() || temperror.is_some() {
        out.push(lookup_failed(domain, &failed, temperror));
    }
    let too_many_terms = spf.lookups.exceeded();
    let too_many_voids = unlisted.is_some_and(|u| u.void_lookups > MAX_VOID_LOOKUPS);
    if too_many_terms || too_many_voids {
        out.push(too_many_lookups(domain, spf, unlisted, too_many_terms));
    }
    // A permerror the tree does not explain (e.g. an `mx` with more than 10 names).
    if let Some(u) = unlisted
        && u.result == SpfResult::PermError
        && broken.is_empty()
        && !too_many_terms
        && !too_many_voids
    {
        out.push(
            Finding::new(
                Code::SpfInvalid,
                domain,
                format!(
                    "the SPF record of {domain} ends in a permanent error for \
                     senders it does not list"
                ),
            )
            .evidence(format!("TXT {domain}: {}", root.records.join(" | ")))
            .evidence(format!(
                "check_host for a sender no record lists ({}): permerror: {}",
                u.ip,
                u.reason.as_deref().unwrap_or("no reason given")
            ))
            .advice(
                "Receivers treat a permanent error like a failure (and DMARC may reject the mail). \
                 Fix the term the evidence names.",
            ),
        );
    }
    permissive(domain, spf, out);
    ptr_used(domain, &nodes, out);
}

/// Whether the domain itself resolves: when it does not (`dns.nxdomain`, or `dns.lookup_failed`
/// on its MX query) the DNS finding says it all and no authentication finding is reported.
pub(super) fn domain_resolves(facts: &Facts) -> bool {
    !matches!(facts.mx, Lookup::NxDomain | Lookup::Failed { .. })
}

/// The term of the domain's own SPF record that authorizes `ip` directly (`a`, `mx`, `ip4`,
/// `ip6` at the top level, not through `include` or `redirect`), from the recorded
/// `check_host()` of that MX address.
pub(super) fn sending_term(facts: &Facts, ip: IpAddr) -> Option<&str> {
    let check = facts.auth.as_ref()?.spf_ips.as_ref()?.for_ip(ip)?;
    if check.direct {
        check.matched.as_deref()
    } else {
        None
    }
}

/// The contract's "MX IP that sends" rule: the domain's own SPF record authorizes `ip`
/// directly, so that address sends the domain's mail.
pub(super) fn sends_for_domain(facts: &Facts, ip: IpAddr) -> bool {
    sending_term(facts, ip).is_some()
}

/// The evidence line for an address that sends the domain's mail.
pub(super) fn sends_evidence(facts: &Facts, ip: IpAddr) -> Option<String> {
    sending_term(facts, ip).map(|term| {
        format!(
            "the SPF record of {} authorizes {ip} directly (`{term}`): this address \
             sends the domain's mail",
            facts.domain
        )
    })
}

fn missing(facts: &Facts, root: &PolicyNode) -> Finding {
    let domain = &facts.domain;
    let null_mx = {
        let mx = facts.mx.records();
        !mx.is_empty() && mx.iter().all(|m| m.exchange == ".")
    };
    let evidence = match root.lookup.as_str() {
        "" => format!("TXT {domain}: not asked"),
        l if l.ends_with("record(s)") => {
            format!("TXT {domain}: {l}, none of them starts with `v=spf1`")
        }
        l => format!("TXT {domain}: {l}"),
    };
    let advice = if null_mx {
        format!(
            "{domain} receives no mail (null MX); say that it sends none either: publish the TXT \
             record `v=spf1 -all` at {domain}, so receivers refuse mail forged in its name."
        )
    } else {
        format!(
            "Without SPF, receivers cannot tell your servers from forgers, and large providers \
             (Gmail, Microsoft, Yahoo) junk or refuse such mail. Publish one TXT record at \
             {domain} that lists the servers sending its mail: `v=spf1 mx -all` when the MX hosts \
             send it; add `include:` with your mail provider's SPF domain (its documentation names \
             it) or `ip4:`/`ip6:` for other senders. `-all` says everything else fails (use `~all` \
             while testing). A domain that sends no mail publishes `v=spf1 -all`."
        )
    };
    Finding::new(
        Code::SpfMissing,
        domain,
        format!("{domain} publishes no SPF record"),
    )
    .evidence(evidence)
    .advice(advice)
}

fn invalid_syntax(domain: &str, node: &PolicyNode) -> Finding {
    let record = node.records.first().cloned().unwrap_or_default();
    let mut f = Finding::new(
        Code::SpfInvalid,
        domain,
        format!(
            "the SPF record of {domain} does not parse: receivers treat it as a permanent error"
        ),
    )
    .evidence(format!("TXT {}: {record}", node.domain));
    if let Some(e) = &node.syntax_error {
        let at = if e.term.is_empty() {
            format!("at byte {}", e.position)
        } else {
            format!("at byte {}, the term `{}`", e.position, e.term)
        };
        f = f.evidence(format!("it breaks {at}: {}", e.kind));
    }
    f.advice(format!(
        "A record that does not parse makes SPF fail (permerror) for all mail from {domain}. \
         Fix the term named above. The record is `v=spf1`, then mechanisms (`a`, `mx`, \
         `ip4:`, `ip6:`, `include:`, `exists:`, each with an optional `+ - ~ ?` in front) and \
         modifiers (`redirect=`, `exp=`, at most once each), separated by single spaces; e.g. \
         `v=spf1 mx ip4:192.0.2.0/24 include:_spf.provider.example -all`."
    ))
}

/// `+all`/`?all` in the record that decides (the domain's own, or where its `redirect=`
/// leads when it has no `all`), or neither `all` nor `redirect`.
fn permissive(domain: &str, spf: &SpfFacts, out: &mut Vec<Finding>) {
    let mut node = &spf.tree.root;
    loop {
        let Some(text) = node.records.first() else {
            return;
        };
        let Ok(record) = parse_record(text) else {
            return;
        };
        let all = record.terms.iter().find_map(|t| match &t.kind {
            TermKind::Directive(d) if d.mechanism == Mechanism::All => Some((t, d.qualifier)),
            _ => None,
        });
        let evidence = format!("TXT {}: {text}", node.domain);
        let (summary, why) = match all {
            Some((_, Qualifier::Fail | Qualifier::SoftFail)) => return,
            Some((term, Qualifier::Pass)) => (
                format!(
                    "the SPF record of {domain} ends with `{}`: any server may send as {domain}",
                    term.text
                ),
                format!(
                    "`{}` makes SPF pass for every server on the Internet, so it protects nothing.",
                    term.text
                ),
            ),
            Some((term, Qualifier::Neutral)) => (
                format!(
                    "the SPF record of {domain} ends with `{}`: servers it \
                     does not list are neutral",
                    term.text
                ),
                format!(
                    "`{}` says nothing about servers not listed, so forged mail is not failed.",
                    term.text
                ),
            ),
            None => {
                if record.redirect().is_some() {
                    match node.children.iter().find(|c| c.via == Via::Redirect) {
                        Some(next) if next.status == NodeStatus::Ok => {
                            node = next;
                            continue;
                        }
                        _ => return,
                    }
                }
                (
                    format!(
                        "the SPF record of {domain} has no `all`: servers it \
                         does not list are neutral"
                    ),
                    "Without `all` (or `redirect=`) a server the record does not list gets \
                     `neutral`, so forged mail is not failed."
                        .to_owned(),
                )
            }
        };
        out.push(
            Finding::new(Code::SpfPermissive, domain, summary)
                .evidence(evidence)
                .advice(format!(
                    "{why} End the record with `-all` (mail from servers not listed fails \
                     SPF) or `~all` (softfail, while you make sure every sending service is \
                     listed), e.g. `v=spf1 mx -all`."
                )),
        );
        return;
    }
}

/// Every `ptr` term in the tree's records.
fn ptr_used(domain: &str, nodes: &[&PolicyNode], out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    for n in nodes.iter().filter(|n| n.status == NodeStatus::Ok) {
        let Some(record) = n.records.first().and_then(|r| parse_record(r).ok()) else {
            continue;
        };
        for t in &record.terms {
            if t.directive()
                .is_some_and(|d| matches!(d.mechanism, Mechanism::Ptr(_)))
            {
                found.push(format!("`{}` in the record of {}", t.text, n.domain));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    out.push(
        Finding::new(
            Code::SpfPtrUsed,
            domain,
            format!("the SPF record of {domain} uses the deprecated `ptr` mechanism"),
        )
        .evidence_lines(found)
        .advice(
            "`ptr` is slow and unreliable, RFC 7208 §5.5 says not to use it, and some receivers \
             skip it, so the servers it stands for may fail SPF there. List those servers with \
             `ip4:`/`ip6:` (or `a:` their host name) instead.",
        ),
    );
}
