//! [`Summary`]: counts per verdict and per finding code over a run, printed on stderr at the end
//! and shown at the top of HTML and Markdown reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mailcheck::diagnose::vantage::{VantageView, view};
use mailcheck::facts::{VantageFacts, ZoneHealth};
use mailcheck::{Code, Report, Verdict};

use crate::sanitize;

/// What a run found, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows reported.
    pub rows: u64,
    /// Rows whose report came from `--resume` (not probed again).
    pub resumed: u64,
    /// Rows whose domain was already checked earlier in this run (duplicates).
    pub duplicates: u64,
    /// Rows per verdict.
    pub verdicts: BTreeMap<Verdict, u64>,
    /// Rows with at least one finding of each code.
    pub codes: BTreeMap<Code, u64>,
    /// The worst `Verdict::badness` seen.
    pub worst_badness: u8,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Our vantage point as the latest report saw it (the run learns as it goes), with the
    /// blocklist self-tests.
    pub vantage: Option<(VantageFacts, Vec<ZoneHealth>)>,
}

impl Summary {
    /// Counts one row.
    pub fn add(&mut self, report: &Report) {
        self.rows += 1;
        *self.verdicts.entry(report.verdict).or_default() += 1;
        let mut codes: Vec<Code> = report.findings.iter().map(|f| f.code).collect();
        codes.sort_unstable();
        codes.dedup();
        for c in codes {
            *self.codes.entry(c).or_default() += 1;
        }
        self.worst_badness = self.worst_badness.max(report.verdict.badness());
        if let Some(facts) = &report.facts
            && facts.scope.smtp
            && !facts.vantage.helo_name.is_empty()
        {
            self.vantage = Some((facts.vantage.clone(), facts.dnsbl_zones.clone()));
        }
    }

    /// The "From here" view of the run's vantage point, when SMTP probing ran.
    pub fn from_here(&self) -> Option<VantageView> {
        self.vantage.as_ref().map(|(v, zones)| view(v, zones))
    }

    /// Verdicts with their counts, worst first (only those that occur).
    pub fn verdict_counts(&self) -> Vec<(Verdict, u64)> {
        Verdict::ALL
            .iter()
            .filter_map(|v| self.verdicts.get(v).map(|n| (*v, *n)))
            .collect()
    }

    /// Codes with their counts, most frequent first.
    pub fn code_counts(&self) -> Vec<(Code, u64)> {
        let mut v: Vec<(Code, u64)> = self.codes.iter().map(|(c, n)| (*c, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Plain text for stderr.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "Audited {} row(s) in {:.1} s ({:.1}/s){}{}",
            self.rows,
            secs,
            rate,
            if self.duplicates > 0 {
                format!(", {} duplicate(s) checked once", self.duplicates)
            } else {
                String::new()
            },
            if self.resumed > 0 {
                format!(", {} resumed from the previous run", self.resumed)
            } else {
                String::new()
            },
        );
        let verdicts: Vec<String> = self
            .verdict_counts()
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        if !verdicts.is_empty() {
            let _ = writeln!(out, "Verdicts: {}", verdicts.join(", "));
        }
        if let Some(here) = self.from_here() {
            out.push_str(&from_here_text(&here));
        }
        let codes = self.code_counts();
        if !codes.is_empty() {
            let _ = writeln!(out, "Findings (rows with each code):");
            for (c, n) in codes {
                let _ = writeln!(
                    out,
                    "  {:>6}  {:<26} {}",
                    n,
                    c.as_str(),
                    sanitize::terminal(c.describe())
                );
            }
        }
        out
    }
}

/// The "From here" block as plain text: what the probe knows about itself, then what is wrong
/// with it (findings about this machine), sanitised for a terminal.
pub fn from_here_text(here: &VantageView) -> String {
    let mut out = String::from("From here (this machine, not the domains):\n");
    for line in &here.lines {
        let _ = writeln!(out, "  {}", sanitize::terminal(line));
    }
    for f in &here.findings {
        let _ = writeln!(
            out,
            "  ! {} {}: {}",
            f.severity,
            f.code,
            sanitize::terminal(&f.summary)
        );
        let _ = writeln!(out, "    → {}", sanitize::terminal(&f.advice));
    }
    if here.port25_blocked {
        out.push_str(
            "  Outbound port 25 is blocked here: SMTP results from this host mean nothing.\n",
        );
    }
    out
}
