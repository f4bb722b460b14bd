//! The sender report in a terminal: one sender in detail (findings with evidence and advice,
//! the checklist), or one line per row; colours only when asked.

use std::fmt::Write as _;

use mailcheck::{Severity, Verdict};

use super::{SenderItem, title};
use crate::sanitize::terminal;

const fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::Error => "\x1b[31m",
        Severity::Warning => "\x1b[33m",
        Severity::Inconclusive => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

const fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok | Verdict::NoMail => "\x1b[1;32m",
        Verdict::Degraded => "\x1b[1;33m",
        Verdict::Broken | Verdict::Invalid => "\x1b[1;31m",
        Verdict::Inconclusive => "\x1b[1;36m",
    }
}

/// Text for a terminal: one sender in detail (`detailed`), or one line per row.
pub fn text(items: &[SenderItem], detailed: bool, color: bool) -> String {
    let paint = |c: &str, s: &str| {
        if color {
            format!("{c}{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    if !detailed {
        for it in items {
            let r = &it.report;
            let issue = terminal(&r.top_issue()).into_owned();
            let _ = writeln!(
                out,
                "{:<13} {}  {}",
                paint(verdict_color(r.verdict), &r.verdict.as_str().to_uppercase()),
                terminal(&title(r)),
                issue
            );
        }
        return out;
    }
    for it in items {
        let r = &it.report;
        let _ = writeln!(
            out,
            "{}  {}",
            paint("\x1b[1m", &terminal(&title(r))),
            paint(verdict_color(r.verdict), &r.verdict.as_str().to_uppercase())
        );
        let _ = writeln!(out, "  {}", r.explain());
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  Why: {}\n", terminal(e));
            continue;
        }
        if let Some(learned) = r.facts.as_ref().and_then(|f| f.learned.as_ref()) {
            let how = match learned {
                mailcheck::facts::PublicIpSource::Configured => "configured".to_owned(),
                mailcheck::facts::PublicIpSource::Echoed { by } => {
                    format!("echoed by {}", terminal(by))
                }
                mailcheck::facts::PublicIpSource::Local => "our own address".to_owned(),
            };
            let _ = writeln!(out, "  This machine's public address ({how}).");
        }
        if let Some(p) = &r.partial {
            let _ = writeln!(out, "  Partial: {}", terminal(p));
        }
        let _ = writeln!(
            out,
            "  Checked in {} ms using {}.\n",
            r.elapsed_ms,
            terminal(&r.resolver)
        );
        let _ = writeln!(
            out,
            "{}",
            paint(
                "\x1b[1m",
                "What Gmail, Yahoo and Microsoft require of a sender"
            )
        );
        for i in &r.checklist {
            let _ = writeln!(
                out,
                "  [{}] {:<11} {} — {}",
                i.state.mark(),
                i.state.as_str(),
                i.requirement,
                terminal(&i.detail)
            );
        }
        out.push('\n');
        if r.findings.is_empty() {
            let _ = writeln!(out, "{}", paint("\x1b[1m", "Findings: none."));
        } else {
            let _ = writeln!(out, "{}", paint("\x1b[1m", "Findings, worst first"));
            for f in &r.findings {
                let tag = format!("{:<12}", f.severity.as_str().to_uppercase());
                let _ = writeln!(
                    out,
                    "  {} {}  ({})",
                    paint(severity_color(f.severity), &tag),
                    paint("\x1b[1m", f.code.as_str()),
                    terminal(&f.subject)
                );
                let _ = writeln!(out, "               {}", terminal(&f.summary));
                for e in &f.evidence {
                    let _ = writeln!(out, "               | {}", terminal(e));
                }
                if !f.advice.is_empty() {
                    let _ = writeln!(out, "               What to do: {}", terminal(&f.advice));
                }
            }
        }
        out.push('\n');
    }
    out
}
