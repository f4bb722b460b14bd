//! [`Summary`]: counts per verdict and per finding code over a run, printed on stderr at the end
//! and shown at the top of HTML and Markdown reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mailcheck::diagnose::vantage::{VantageView, view};
use mailcheck::facts::{VantageFacts, ZoneHealth};
use mailcheck::{Code, Report, Verdict};

use crate::history::{Change, Changes};
use crate::sanitize;

/// Changed rows a summary keeps for the reports' "Changed since" sections (the counts cover
/// every row).
pub const MAX_CHANGED: usize = 1000;

/// A row whose verdict or findings changed since its previous run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedRow {
    /// The domain (or the input, for an invalid row).
    pub name: String,
    /// Its verdict now.
    pub verdict: Verdict,
    /// What changed.
    pub changes: Changes,
}

/// What changed since the previous runs, over a run (only with the history on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Rows per kind of change.
    pub counts: BTreeMap<Change, u64>,
    /// Rows broken now and not before (or never seen before).
    pub new_broken: u64,
    /// The runs compared with, by (start, run id), and how many rows each.
    pub baselines: BTreeMap<(i64, String), u64>,
    /// Changed rows in input order, at most [`MAX_CHANGED`].
    pub changed: Vec<ChangedRow>,
    /// Changed rows in all.
    pub changed_total: u64,
}

impl ChangeSummary {
    /// Rows of one kind of change.
    pub fn count(&self, change: Change) -> u64 {
        self.counts.get(&change).copied().unwrap_or(0)
    }

    /// The run most rows were compared with (start, id), and whether some rows were compared
    /// with other runs. `None` when every row is new.
    pub fn since(&self) -> Option<(i64, &str, bool)> {
        let ((start, id), _) = self
            .baselines
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(a.0.0.cmp(&b.0.0)))?;
        Some((*start, id.as_str(), self.baselines.len() > 1))
    }

    /// `1 worse, 0 better, 40 same, 2 new`.
    pub fn counts_text(&self) -> String {
        Change::ALL
            .iter()
            .map(|c| format!("{} {c}", self.count(*c)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The heading of the reports' section: `Changed since 2026-11-29 22:00` (local time), or
    /// `First recorded run` when no row had a previous run.
    pub fn heading(&self) -> String {
        match self.since() {
            Some((start, _, others)) => format!(
                "Changed since {}{}",
                crate::history::time::local(start),
                if others {
                    " (some domains since an earlier run)"
                } else {
                    ""
                }
            ),
            None => "First recorded run: nothing to compare with yet".to_owned(),
        }
    }
}

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
    /// The worst verdict seen (`None`: no rows).
    pub worst: Option<Verdict>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Our vantage point as the latest report saw it (the run learns as it goes), with the
    /// blocklist self-tests.
    pub vantage: Option<(VantageFacts, Vec<ZoneHealth>)>,
    /// What changed since the previous runs (`None`: no history).
    pub changes: Option<ChangeSummary>,
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
        self.worst = self.worst.max(Some(report.verdict));
        if let Some(facts) = &report.facts
            && facts.scope.smtp
            && !facts.vantage.helo_name.is_empty()
        {
            self.vantage = Some((facts.vantage.clone(), facts.dnsbl_zones.clone()));
        }
    }

    /// Counts one row's changes (history on).
    pub fn add_changes(&mut self, name: &str, report: &Report, changes: &Changes) {
        let cs = self.changes.get_or_insert_with(ChangeSummary::default);
        *cs.counts.entry(changes.change).or_default() += 1;
        cs.new_broken += u64::from(changes.new_broken);
        if let Some(p) = &changes.previous {
            *cs.baselines
                .entry((p.started_at, p.run_id.clone()))
                .or_default() += 1;
        }
        if changes.is_change() {
            cs.changed_total += 1;
            if cs.changed.len() < MAX_CHANGED {
                cs.changed.push(ChangedRow {
                    name: name.to_owned(),
                    verdict: report.verdict,
                    changes: changes.clone(),
                });
            }
        }
    }

    /// The "From here" view of the run's vantage point, when SMTP probing ran.
    pub fn from_here(&self) -> Option<VantageView> {
        self.vantage.as_ref().map(|(v, zones)| view(v, zones))
    }

    /// Verdicts with their counts, worst first (only those that occur).
    pub fn verdict_counts(&self) -> Vec<(Verdict, u64)> {
        self.verdicts.iter().rev().map(|(v, n)| (*v, *n)).collect()
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
        if let Some(cs) = &self.changes {
            out.push_str(&changes_text(cs, 20));
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
                    sanitize::terminal(c.fires_when())
                );
            }
        }
        out
    }
}

/// The "Changed since" block as plain text (stderr summary, text reports): the counts, then up
/// to `max` changed rows, worst change first.
pub fn changes_text(cs: &ChangeSummary, max: usize) -> String {
    let mut out = format!("{}: {}", cs.heading(), cs.counts_text());
    if cs.new_broken > 0 {
        let _ = write!(out, "; {} newly broken", cs.new_broken);
    }
    out.push('\n');
    let mut rows: Vec<&ChangedRow> = cs.changed.iter().collect();
    rows.sort_by_key(|r| r.changes.change);
    for r in rows.iter().take(max) {
        let _ = writeln!(out, "  {}", change_line(r));
    }
    if cs.changed_total > max.min(rows.len()) as u64 {
        let _ = writeln!(
            out,
            "  … {} more changed row(s) in the reports",
            cs.changed_total - max.min(rows.len()) as u64
        );
    }
    out
}

/// One changed row in a line: `worse   healthy.test  ok → broken; new: smtp.refused (mx…)`.
pub fn change_line(r: &ChangedRow) -> String {
    let c = &r.changes;
    let mut line = format!("{:<7} {}", c.change.as_str(), sanitize::terminal(&r.name));
    if let Some(p) = &c.previous {
        let _ = write!(line, "  {} → {}", p.verdict, r.verdict);
    }
    let list = |keys: &[crate::history::FindingKey]| {
        keys.iter()
            .map(|k| sanitize::terminal(&k.label()).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !c.new_findings.is_empty() {
        let _ = write!(line, "; new: {}", list(&c.new_findings));
    }
    if !c.resolved_findings.is_empty() {
        let _ = write!(line, "; resolved: {}", list(&c.resolved_findings));
    }
    line
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
