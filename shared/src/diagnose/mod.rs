//! The pure diagnosis: `(&Facts, &Policy) -> Report`. Deterministic, no I/O, no clock (the
//! observation time is in the facts). One module per area; each adds [`Finding`]s.
//!
//! - `dns`: the MX query and mail hosts (`dns.*`, `mx.*`).
//! - `rdns`: reverse DNS of every MX address (`rdns.*`).
//! - `smtp`: the SMTP conversation (`smtp.*`) and the vantage findings that bear on it
//!   (`probe.*`), with each address's result for the verdict.
//! - `tls`: the certificate and TLS version after STARTTLS (`tls.*`).
//! - `spf`, `dmarc`, `tlsrpt`, `mtasts`, `dane`, `consistency`: the authentication,
//!   transport policy and DNS consistency findings (`spf.*`, `dmarc.*`, `mtasts.*`, `tlsrpt.*`,
//!   `dane.*`, `dns.dnssec_bogus`, `dns.inconsistent`, `dns.lame_delegation`); MTA-STS and DANE
//!   also adjust the severity of certificate findings on the hosts they cover.
//! - `dnsbl`: blocklist answers (`dnsbl.listed`; `dnsbl.unavailable` once per zone).
//! - [`vantage`]: the "From here" view of our own vantage point, for `--vantage` and reports.
//! - `verdict`: the domain verdict from the findings (first match wins).
//! - `summary`: the per-MX summary table of the report.

mod consistency;
mod dane;
mod dmarc;
mod dns;
mod dnsbl;
mod mtasts;
mod rdns;
mod smtp;
mod spf;
mod summary;
mod tls;
mod tlsrpt;
pub mod vantage;
mod verdict;

use crate::config::Policy;
use crate::facts::Facts;
use crate::finding::{Finding, Severity};
use crate::report::Report;

/// Diagnoses recorded facts into a report. `input` is what the user typed; `elapsed_ms` how long
/// the probing took.
pub fn diagnose(facts: &Facts, policy: &Policy, input: &str, elapsed_ms: u64) -> Report {
    let (findings, results) = findings_and_results(facts, policy);
    let verdict = verdict::verdict(facts, &findings, &results);
    let auth = summary::auth_summary(facts, &findings);
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .filter(|s| s.is_fault() || *s == Severity::Info)
        .max();
    Report {
        domain: facts.domain.clone(),
        input: input.to_owned(),
        verdict,
        worst,
        mx: summary::mx_summary(facts),
        findings,
        error: None,
        resolver: facts.resolver.clone(),
        elapsed_ms,
        facts: Some(facts.clone()),
        auth,
        partial: facts.partial.clone(),
    }
}

/// All findings for the facts, worst first (stable within a severity: in the order found).
pub fn findings(facts: &Facts, policy: &Policy) -> Vec<Finding> {
    findings_and_results(facts, policy).0
}

fn findings_and_results(
    facts: &Facts,
    policy: &Policy,
) -> (Vec<Finding>, Vec<smtp::AddressResult>) {
    let mut out = Vec::new();
    dns::check(facts, &mut out);
    rdns::check(facts, &mut out);
    let results = smtp::check(facts, policy, &mut out);
    tls::check(facts, policy, &mut out);
    dnsbl::check(facts, &mut out);
    if let Some(auth) = &facts.auth {
        spf::check(facts, auth, &mut out);
        dmarc::check(facts, auth, &mut out);
        tlsrpt::check(facts, auth, &mut out);
        mtasts::check(facts, auth, &mut out);
        dane::check(facts, auth, &mut out);
        consistency::check(facts, auth, &mut out);
        // Transport policies change what a certificate problem means: under a validated
        // DANE-EE/TA match DANE senders deliver anyway; under an enforced MTA-STS policy
        // MTA-STS senders (which do not use DANE) do not. MTA-STS goes last, so a problem that
        // stops MTA-STS senders stays an error even where DANE would let others through.
        dane::adjust(facts, auth, &mut out);
        mtasts::adjust(facts, auth, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    (out, results)
}

/// The domain's own SPF and DMARC findings (`spf.*`, `dmarc.*`) for facts that hold a domain's
/// MX lookup and its SPF/DMARC facts: the sender check reports them for the envelope sender
/// domain, exactly as the domain check does.
pub(crate) fn spf_dmarc_findings(facts: &Facts, out: &mut Vec<Finding>) {
    if let Some(auth) = &facts.auth {
        spf::check(facts, auth, out);
        dmarc::check(facts, auth, out);
    }
}

/// The addresses of an answer (`192.0.2.1, 192.0.2.2`), or what the lookup said instead.
fn describe_ips(lookup: &crate::facts::Lookup<std::net::IpAddr>) -> String {
    match lookup {
        crate::facts::Lookup::Answer { records } if !records.is_empty() => records
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.describe(),
    }
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
