//! The words and colours: verdicts, severities, SMTP statuses, durations, domains as shown.

use std::time::Duration;

use mailcheck::finding::THIS_MACHINE;
use mailcheck::report::{AddressSummary, SmtpStatus};
use mailcheck::{Code, DomainName, Finding, Report, Severity, Verdict};

use crate::sanitize::untrusted;

/// Colour of a verdict.
pub const fn verdict_colour(verdict: Verdict) -> u32 {
    match verdict {
        Verdict::Ok => 0x1F_8B_4C,           // dark green
        Verdict::Degraded => 0xE6_7E_22,     // orange
        Verdict::Broken => 0xE7_4C_3C,       // red
        Verdict::Inconclusive => 0xF1_C4_0F, // gold
        Verdict::NoMail => 0x34_98_DB,       // blue
        Verdict::Invalid => 0x95_A5_A6,      // grey
    }
}

/// Emoji and word for a verdict.
pub const fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "✅ OK",
        Verdict::Degraded => "⚠️ Degraded",
        Verdict::Broken => "❌ Broken",
        Verdict::Inconclusive => "❔ Inconclusive",
        Verdict::NoMail => "📭 Accepts no mail",
        Verdict::Invalid => "🚫 Invalid input",
    }
}

/// Emoji for a severity.
pub const fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🛑",
        Severity::Error => "🔴",
        Severity::Warning => "🟠",
        Severity::Inconclusive => "❔",
        Severity::Info => "ℹ️",
    }
}

/// A severity as a capitalised word for field titles.
pub const fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::Error => "Error",
        Severity::Warning => "Warning",
        Severity::Inconclusive => "Could not check",
        Severity::Info => "Note",
    }
}

/// How the domain is shown: Unicode form, with the punycode form when it differs.
pub fn display_domain(domain: &str) -> String {
    match DomainName::parse(domain) {
        Ok(d) => {
            let unicode = d.to_unicode();
            if unicode == d.as_str() {
                untrusted(d.as_str())
            } else {
                format!("{} ({})", untrusted(&unicode), d.as_str())
            }
        }
        Err(_) => untrusted(domain),
    }
}

/// Short human form of a duration: `850 ms`, `4.2 s`, `3 min`, `2 h`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} h", d.as_secs() / 3600)
    }
}

/// What an SMTP status means, in words a support volunteer can repeat.
pub const fn smtp_status_text(status: SmtpStatus) -> &'static str {
    match status {
        SmtpStatus::Accepted => "accepts mail for the domain ✓",
        SmtpStatus::Rejected => "answers, but refuses mail for the domain",
        SmtpStatus::Tempfail => "answers, but says \"try again later\" (temporary failure)",
        SmtpStatus::Refused => "connection refused: no mail server listening",
        SmtpStatus::Unreachable => "no answer: timed out or unreachable (firewall?)",
        SmtpStatus::EgressBlocked => {
            "not reachable from the bot's host: its own outbound port 25 is \
             blocked (not the domain's fault)"
        }
        SmtpStatus::NoGreeting => "connects, but the server never says hello",
        SmtpStatus::GreetingRejected => "the server turns connections away",
        SmtpStatus::Greeted => "answers",
        SmtpStatus::Error => "the conversation failed",
        SmtpStatus::Skipped | SmtpStatus::NotProbed => "not tested",
        SmtpStatus::Unfinished => "not finished: the check's time ran out first",
    }
}

/// Whether a finding is about the bot's own host rather than the checked domain.
pub fn about_this_machine(f: &Finding) -> bool {
    f.subject == THIS_MACHINE
}

/// What an address's SMTP status means, read together with the findings about it: a refusal
/// the diagnosis pins on us (or greylisting, or our own blocked port 25) is not worded as the
/// target refusing mail.
pub fn address_status_text(addr: &AddressSummary, report: &Report) -> String {
    let status = addr.smtp.status;
    if status == SmtpStatus::Accepted {
        return smtp_status_text(status).to_owned();
    }
    let subject = addr.ip.to_string();
    let has = |code: Code| {
        report
            .findings
            .iter()
            .any(|f| f.code == code && f.subject == subject)
    };
    let text = if has(Code::SmtpProbeBlocked) {
        "answers, but refuses the bot itself (its address, name or sender), not the domain"
    } else if has(Code::SmtpDisconnectAfterMail) {
        "answers, but hung up after MAIL FROM (usually about the sending address: the bot's)"
    } else if has(Code::SmtpGreylisted) {
        "answers, but greylists (\"try again later\"): real senders retry and deliver"
    } else if has(Code::SmtpNoPostmaster) {
        "answers for the domain, but postmaster@ does not exist"
    } else if has(Code::SmtpIncomplete) {
        "the conversation stopped before the recipient could be tested"
    } else {
        return smtp_status_text(status).to_owned();
    };
    text.to_owned()
}

/// How a non-public address is shown in chat.
pub const PRIVATE_ADDRESS: &str = "private address";

/// The label of findings about the bot's own host.
pub const THIS_MACHINE_LABEL: &str = "about the bot's host, not the domain";

/// Findings sorted for display: worst first, then by code and subject, stable.
pub fn sorted_findings(report: &Report) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.code.cmp(&b.code))
            .then(a.subject.cmp(&b.subject))
    });
    findings
}
