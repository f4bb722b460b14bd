//! The domain verdict, first match wins (`spec/findings.md`).

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::report::Verdict;

/// Codes whose error makes the whole domain undeliverable.
const DOMAIN_BREAKERS: &[Code] = &[
    Code::DnsNxdomain,
    Code::MxNoMailHost,
    Code::MxAllUnusable,
    Code::MxNullMixed,
];

/// SMTP codes that mean an address failed to take mail (not merely inconclusive).
const ADDRESS_FAILURES: &[Code] = &[
    Code::SmtpRefused,
    Code::SmtpUnreachable,
    Code::SmtpNoGreeting,
    Code::SmtpGreetingRejected,
    Code::SmtpHeloRejected,
    Code::SmtpMailRejected,
    Code::SmtpDisconnectAfterMail,
    Code::SmtpRelayDenied,
    Code::SmtpRcptRejected,
];

/// The verdict for a valid domain's facts and findings.
pub fn verdict(facts: &Facts, findings: &[Finding]) -> Verdict {
    let has = |sev: Severity| findings.iter().any(|f| f.severity == sev);
    if has(Severity::Critical) {
        return Verdict::Broken;
    }
    if findings.iter().any(|f| {
        f.severity == Severity::Error
            && f.subject == facts.domain
            && DOMAIN_BREAKERS.contains(&f.code)
    }) {
        return Verdict::Broken;
    }
    if facts.scope.smtp {
        let probed: Vec<_> = facts
            .addresses()
            .filter_map(|(_, a)| a.smtp.as_ref())
            .collect();
        let accepted = probed.iter().any(|s| s.accepted_postmaster());
        let failed = findings
            .iter()
            .any(|f| f.severity == Severity::Error && ADDRESS_FAILURES.contains(&f.code));
        if !probed.is_empty() && !accepted && failed {
            return Verdict::Broken;
        }
    }
    let faults = findings.iter().any(|f| f.severity.is_fault());
    if findings.iter().any(|f| f.code == Code::MxNull) && !faults {
        return Verdict::NoMail;
    }
    if faults {
        return Verdict::Degraded;
    }
    if has(Severity::Inconclusive) {
        return Verdict::Inconclusive;
    }
    Verdict::Ok
}
