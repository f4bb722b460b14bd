//! Terminal text. One domain: the verdict with its explanation, a table of mail hosts, the
//! findings with advice (worst first) and the SMTP conversation as a telnet session would show
//! it. A batch: one line per row. Everything that came from the network is cleaned of control
//! characters and escape sequences; colour only when asked (a TTY without `NO_COLOR`).
//!
//! With the history on, a detailed report leads with what changed since the domain's previous
//! run, a batch line ends with `[worse, was ok]` / `[better, was broken]`, and a text file report
//! (`-o audit.txt`) leads with the run's "Changed since" block (on a terminal that block is in
//! the summary on stderr).

use std::fmt::Write as _;

use mailcheck::report::AddressSummary;
use mailcheck::{Report, Severity, Verdict};

use super::{Chunk, Finish, Item, Render};
use crate::history::{Change, Changes};
use crate::sanitize::terminal;
use crate::summary::Summary;

/// Renders text.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextRender {
    /// The full report per domain (otherwise one line per row).
    pub detailed: bool,
    /// ANSI colour.
    pub color: bool,
}

const RESET: &str = "\x1b[0m";

fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "\x1b[1;32m",
        Verdict::Degraded => "\x1b[1;33m",
        Verdict::Broken | Verdict::Invalid => "\x1b[1;31m",
        Verdict::NoMail | Verdict::Inconclusive => "\x1b[1;36m",
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::Error => "\x1b[31m",
        Severity::Warning => "\x1b[33m",
        Severity::Inconclusive => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

impl TextRender {
    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint("\x1b[1m", text)
    }

    /// What changed since the domain's previous run, for the top of a detailed report.
    pub fn changes_block(&self, report: &Report, changes: &Changes) -> String {
        let mut out = String::new();
        let Some(p) = &changes.previous else {
            let _ = writeln!(
                out,
                "First recorded run of this domain: nothing to compare with yet.\n"
            );
            return out;
        };
        let when = crate::history::time::local(p.started_at);
        let head = match changes.change {
            Change::Worse => self.paint("\x1b[1;31m", "WORSE"),
            Change::Better => self.paint("\x1b[1;32m", "BETTER"),
            Change::New | Change::Same => "same verdict".to_owned(),
        };
        if changes.is_change() {
            let _ = writeln!(
                out,
                "{} {head}: was {}, now {}",
                self.bold(&format!("Changed since {when}:")),
                p.verdict,
                report.verdict
            );
        } else {
            let _ = writeln!(
                out,
                "Unchanged since {when}: {}, the same findings.",
                report.verdict
            );
        }
        for (label, keys) in [
            ("new", &changes.new_findings),
            ("resolved", &changes.resolved_findings),
        ] {
            for k in keys {
                let _ = writeln!(out, "  {label}: {}", terminal(&k.label()));
            }
        }
        out.push('\n');
        out
    }

    /// The full report of one domain.
    pub fn detailed(&self, report: &Report) -> String {
        let mut out = String::new();
        let name = terminal(report.display_name()).into_owned();
        let verdict = report.verdict.as_str().to_uppercase();
        let _ = writeln!(
            out,
            "{}  {}",
            self.bold(&name),
            self.paint(verdict_color(report.verdict), &verdict)
        );
        let _ = writeln!(out, "  {}", report.verdict.explain());
        if let Some(e) = &report.error {
            let _ = writeln!(out, "  Why: {}", terminal(e));
            out.push('\n');
            return out;
        }
        if let Some(facts) = report
            .facts
            .as_ref()
            .filter(|f| f.scope.smtp && !f.vantage.helo_name.is_empty())
        {
            let here = mailcheck::diagnose::vantage::view(&facts.vantage, &facts.dnsbl_zones);
            out.push('\n');
            for line in crate::summary::from_here_text(&here).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(
            out,
            "  Checked in {} ms using {}.",
            report.elapsed_ms,
            terminal(&report.resolver)
        );
        out.push('\n');

        if !report.mx.is_empty() {
            let _ = writeln!(out, "{}", self.bold("Mail servers (MX)"));
            let mut rows = vec![
                [
                    "PREF",
                    "HOST",
                    "ADDRESS",
                    "PTR",
                    "FCrDNS",
                    "SMTP",
                    "STARTTLS",
                    "TLS",
                    "CERT",
                    "BLOCKLISTS",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            for mx in &report.mx {
                let pref = if mx.implicit {
                    "(A)".to_owned()
                } else {
                    mx.preference.to_string()
                };
                if mx.addresses.is_empty() {
                    rows.push(vec![
                        pref.clone(),
                        terminal(&mx.host).into_owned(),
                        "(no address)".to_owned(),
                    ]);
                }
                for (i, a) in mx.addresses.iter().enumerate() {
                    let (p, h) = if i == 0 {
                        (pref.clone(), terminal(&mx.host).into_owned())
                    } else {
                        (String::new(), String::new())
                    };
                    let mut row = vec![p, h];
                    row.extend(address_cells(a));
                    rows.push(row);
                }
            }
            out.push_str(&table(&rows));
            for mx in &report.mx {
                for a in &mx.addresses {
                    if let Some(note) = &a.smtp.note {
                        let _ =
                            writeln!(out, "  {} {}: {}", terminal(&mx.host), a.ip, terminal(note));
                    }
                }
            }
            out.push('\n');
        }
        if let Some(a) = &report.auth {
            let _ = writeln!(out, "{}", self.bold("Authentication and TLS policy"));
            let _ = writeln!(
                out,
                "  SPF {}   DMARC {}   MTA-STS {}   DANE {}\n",
                a.spf, a.dmarc, a.mta_sts, a.dane
            );
        }

        if report.findings.is_empty() {
            let _ = writeln!(out, "{}", self.bold("Findings: none."));
        } else {
            let _ = writeln!(out, "{}", self.bold("Findings, worst first"));
            for f in &report.findings {
                let tag = format!("{:<12}", f.severity.as_str().to_uppercase());
                let _ = writeln!(
                    out,
                    "  {} {}  ({})",
                    self.paint(severity_color(f.severity), &tag),
                    self.bold(f.code.as_str()),
                    terminal(&f.subject)
                );
                let _ = writeln!(out, "               {}", terminal(&f.summary));
                for e in &f.evidence {
                    let _ = writeln!(out, "               | {}", terminal(e));
                }
                if !f.advice.is_empty() {
                    let _ = writeln!(
                        out,
                        "               What to do: {}{}",
                        terminal(&f.advice),
                        crate::cli::settings_hint(f.code)
                    );
                }
            }
        }
        out.push('\n');

        let transcript = report.transcript_text();
        if !transcript.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                self.bold("SMTP conversation (S: server, C: us, *: note)")
            );
            for line in transcript.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "  {}", terminal(line));
                }
            }
        }
        out
    }

    /// One line for a batch.
    pub fn line(&self, item: Item<'_>) -> String {
        let r = item.report;
        let name = terminal(r.display_name()).into_owned();
        let issue = terminal(&r.top_issue()).into_owned();
        let more = r.findings.len().saturating_sub(1);
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        let verdict = format!("{:<12}", r.verdict.as_str());
        let change = match item.changes {
            Some(c) if matches!(c.change, Change::Worse | Change::Better) => c
                .previous
                .as_ref()
                .map(|p| format!(" [{}, was {}]", c.change, p.verdict))
                .unwrap_or_default(),
            _ => String::new(),
        };
        format!(
            "{} {:<32} {issue}{more}{change}\n",
            self.paint(verdict_color(r.verdict), &verdict),
            name
        )
    }
}

fn address_cells(a: &AddressSummary) -> Vec<String> {
    let opt = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let ptr = if a.ptr.is_empty() {
        "-".to_owned()
    } else {
        a.ptr.join(" ")
    };
    let bl = if a.dnsbl.is_empty() {
        "-".to_owned()
    } else {
        a.dnsbl
            .iter()
            .map(|d| format!("{} {}", d.zone, d.status.word()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    [
        a.ip.to_string(),
        ptr,
        opt(a.fcrdns).to_owned(),
        a.smtp.status.as_str().to_owned(),
        opt(a.smtp.starttls).to_owned(),
        a.smtp.tls_version.clone().unwrap_or_else(|| "-".to_owned()),
        match a.smtp.cert_ok {
            Some(true) => "ok".to_owned(),
            Some(false) => "problem".to_owned(),
            None => "-".to_owned(),
        },
        bl,
    ]
    .into_iter()
    .map(|c| terminal(&c).into_owned())
    .collect()
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        out.push(' ');
        for (i, c) in r.iter().enumerate() {
            let _ = write!(out, " {c:<w$}", w = widths[i]);
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

impl Render for TextRender {
    fn start(&self, _columns: &[String]) -> String {
        String::new()
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let body = if self.detailed {
            let lead = item
                .changes
                .map(|c| self.changes_block(item.report, c))
                .unwrap_or_default();
            lead + &self.detailed(item.report)
        } else {
            self.line(item)
        };
        Chunk {
            body,
            details: String::new(),
        }
    }

    fn separator(&self) -> &'static str {
        if self.detailed { "\n" } else { "" }
    }

    fn finish(&self, summary: &Summary) -> Finish {
        match (&summary.changes, self.detailed) {
            (Some(cs), false) => Finish::Document {
                head: crate::summary::changes_text(cs, crate::summary::MAX_CHANGED) + "\n",
                middle: String::new(),
                tail: String::new(),
            },
            _ => Finish::Append(String::new()),
        }
    }
}
