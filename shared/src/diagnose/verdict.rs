//! The domain verdict, first match wins (`spec/findings.md`, version 2).

use super::smtp::AddressResult;
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity, THIS_MACHINE};
use crate::report::Verdict;

/// Codes whose error makes the whole domain undeliverable.
const DOMAIN_BREAKERS: &[Code] = &[
    Code::DnsNxdomain,
    Code::MxNoMailHost,
    Code::MxAllUnusable,
    Code::DnsDnssecBogus,
];

/// The verdict for a valid domain's facts, findings and per-address SMTP results.
pub(super) fn verdict(facts: &Facts, findings: &[Finding], results: &[AddressResult]) -> Verdict {
    let has = |sev: Severity| findings.iter().any(|f| f.severity == sev);
    if has(Severity::Critical) {
        return Verdict::Broken;
    }
    let accepted = results.contains(&AddressResult::Accepted);
    let domain_error = |code: Code| {
        findings
            .iter()
            .any(|f| f.code == code && f.severity == Severity::Error && f.subject == facts.domain)
    };
    if DOMAIN_BREAKERS.iter().any(|c| domain_error(*c))
        || (domain_error(Code::MxNullMixed) && !accepted)
    {
        return Verdict::Broken;
    }
    // Every probed address failed hard: no acceptance, no deferral, nothing inconclusive.
    if facts.scope.smtp
        && !results.is_empty()
        && results.iter().all(|r| *r == AddressResult::HardFail)
    {
        return Verdict::Broken;
    }
    let faults = findings.iter().any(|f| f.severity.is_fault());
    if findings.iter().any(|f| f.code == Code::MxNull) && !faults {
        return Verdict::NoMail;
    }
    if faults {
        return Verdict::Degraded;
    }
    // Something that decides delivery could not be checked. Findings about this machine alone
    // (a blocklist zone refusing our resolver, our own listing or identity) do not count. An
    // address we could not judge (blocked egress, refused us, greylisted, a stall) matters
    // only while no other address accepted the mail.
    let smtp_undecided = !accepted
        && (results.contains(&AddressResult::Inconclusive)
            || findings
                .iter()
                .any(|f| f.severity == Severity::Inconclusive && ADDRESS_LEVEL.contains(&f.code)));
    let other_undecided = findings.iter().any(|f| {
        f.severity == Severity::Inconclusive
            && f.subject != THIS_MACHINE
            && !ADDRESS_LEVEL.contains(&f.code)
    });
    if smtp_undecided || other_undecided {
        return Verdict::Inconclusive;
    }
    Verdict::Ok
}

/// Inconclusive SMTP outcomes of one address: they leave delivery open only when no other
/// address accepted the mail.
const ADDRESS_LEVEL: &[Code] = &[
    Code::SmtpProbeBlocked,
    Code::SmtpGreylisted,
    Code::SmtpIncomplete,
    Code::SmtpDisconnectAfterMail,
];
