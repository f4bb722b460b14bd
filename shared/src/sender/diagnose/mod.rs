//! The pure sender diagnosis: [`SenderFacts`] in, [`SenderReport`] out, no I/O, no clock.
//!
//! - Reverse DNS: `sender.no_ptr`, `sender.ptr_mismatch`, `sender.ptr_generic` (a failed lookup
//!   is `dns.lookup_failed`, inconclusive — never "missing").
//! - The HELO name: `sender.helo_unresolvable`, `sender.helo_mismatch`.
//! - Blocklists: `sender.listed` (error for abuse lists and for policy lists that forbid
//!   direct-to-MX sending, warning for other policy listings); a list that cannot answer us is
//!   `dnsbl.unavailable` about this machine.
//! - The envelope sender domain: `dns.nxdomain` / `dns.lookup_failed` for the domain itself,
//!   its own `spf.*` and `dmarc.*` findings, and `check_host()` of the IP:
//!   `sender.spf_fail`, `sender.spf_softfail`, `sender.spf_neutral`, `sender.spf_error`
//!   (temperror is `spf.lookup_failed`).
//!
//! The entry points and the name to suggest for the server are here; each group of findings
//! has its own file: `ptr` (reverse DNS), `helo` (the HELO name), `listings` (blocklists) and
//! `domain` (the envelope sender domain and SPF's verdict on the IP).

mod domain;
mod helo;
mod listings;
mod ptr;

use std::net::IpAddr;

use super::checklist::checklist;
use super::facts::SenderFacts;
use super::{SenderReport, verdict};
use crate::finding::{Finding, Severity};
use crate::identity::{HeloForm, PtrState, generic_ptr, helo_form, ptr_state};

/// Diagnoses recorded sender facts; `elapsed_ms` is how long the probing took.
pub fn diagnose_sender(facts: &SenderFacts, elapsed_ms: u64) -> SenderReport {
    let findings = findings(facts);
    let verdict = verdict(&findings, facts.partial.is_some());
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .filter(|s| s.is_fault() || *s == Severity::Info)
        .max();
    SenderReport {
        ip: facts.ip.to_string(),
        helo: facts.helo.clone(),
        domain: facts.domain.as_ref().map(|d| d.domain.clone()),
        verdict,
        worst,
        checklist: checklist(facts),
        findings,
        error: None,
        resolver: facts.resolver.clone(),
        elapsed_ms,
        facts: Some(facts.clone()),
        partial: facts.partial.clone(),
    }
}

/// Every finding for the facts, worst first (stable within a severity: in the order found).
pub fn findings(facts: &SenderFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    ptr::reverse_dns(facts, &mut out);
    helo::helo(facts, &mut out);
    listings::listings(facts, &mut out);
    if let Some(domain) = &facts.domain {
        domain::sender_domain(facts, domain, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// `A` for an IPv4 address, `AAAA` for IPv6.
const fn address_record(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "A" } else { "AAAA" }
}

/// The name to suggest for the server: its forward-confirmed, non-generic PTR name, else the
/// HELO name when it is a name, else `mail.<domain>`.
fn suggested_name(f: &SenderFacts) -> String {
    if let Some(ptr) = &f.ptr
        && ptr_state(ptr, f.ip) == PtrState::Confirmed
        && let Some(name) = ptr
            .forward
            .iter()
            .find(|c| c.lookup.records().contains(&f.ip) && generic_ptr(&c.name, f.ip).is_none())
    {
        return name.name.clone();
    }
    if let Some(helo) = &f.helo
        && helo_form(helo) == HeloForm::Name
    {
        return helo.clone();
    }
    match &f.domain {
        Some(d) => format!("mail.{}", d.domain),
        None => "mail.example.com".to_owned(),
    }
}
