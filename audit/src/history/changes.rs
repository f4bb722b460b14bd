//! What changed for one domain since its previous recorded run: pure, no I/O.
//!
//! [`compare`] takes the domain's [`Baseline`] (what the store remembers of the run it is
//! compared with) and the current report, and gives [`Changes`]: the previous verdict, the
//! [`Change`] (`new`, `worse`, `better`, `same`), and the findings that appeared and went away,
//! matched by code and subject.
//!
//! The rules, in order:
//! - No baseline: `new` (the first recorded run of this domain).
//! - Today `inconclusive` ("could not check"): `same`, never `worse` or `better`, and no finding
//!   is called resolved (it may only have gone unchecked). Its new findings are still listed.
//! - Verdicts are compared by the library's order ([`Verdict`]'s `Ord`: ok < no_mail <
//!   inconclusive < degraded < broken < invalid), except that `broken` and `invalid` count as
//!   equal ([`compare_verdicts`]): from `ok` to `no_mail` is `worse` (mail that was delivered no
//!   longer is). Worse is `worse`, better `better`, equal `same`; new or resolved findings under
//!   an unchanged verdict are listed but keep it `same`.
//! - The baseline is the domain's latest earlier run that could check it, so inconclusive nights
//!   are skipped: ok, inconclusive, broken says `worse` on the third night (nobody was told on
//!   the second). Only when every earlier run was inconclusive is the baseline inconclusive; then
//!   degraded or broken is `worse` (the first night it is known) and ok is `same`.
//!
//! "New broken" ([`Changes::new_broken`]) is a broken (or invalid) verdict today whose baseline
//! was not broken, or which has no baseline at all.

use mailcheck::{Report, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A finding as the history keeps it (enough to match and to say what it was).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingKey {
    /// The finding code, e.g. `smtp.refused`.
    pub code: String,
    /// What it is about (domain, host, address, `this machine`).
    pub subject: String,
    /// Its severity when it was seen.
    pub severity: String,
    /// Its one-line summary when it was seen.
    pub summary: String,
}

impl FindingKey {
    /// The findings of a report, in the report's order, one per (code, subject).
    pub fn of(report: &Report) -> Vec<Self> {
        let mut out: Vec<Self> = Vec::with_capacity(report.findings.len());
        for f in &report.findings {
            if !out
                .iter()
                .any(|k| k.code == f.code.as_str() && k.subject == f.subject)
            {
                out.push(Self {
                    code: f.code.as_str().to_owned(),
                    subject: f.subject.clone(),
                    severity: f.severity.as_str().to_owned(),
                    summary: f.summary.clone(),
                });
            }
        }
        out
    }

    fn same_as(&self, other: &Self) -> bool {
        self.code == other.code && self.subject == other.subject
    }

    /// `code (subject)`, as the CSV and text reports list it.
    pub fn label(&self) -> String {
        format!("{} ({})", self.code, self.subject)
    }
}

/// What the store remembers of the run a domain is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// The run's id.
    pub run_id: String,
    /// When that run started (Unix milliseconds, UTC).
    pub started_at: i64,
    /// The domain's verdict then.
    pub verdict: Verdict,
    /// The domain's findings then.
    pub findings: Vec<FindingKey>,
}

/// How a domain's verdict moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Worse than before.
    Worse,
    /// First recorded run of this domain.
    New,
    /// Better than before.
    Better,
    /// Same verdict (or today could not check).
    Same,
}

impl Change {
    /// The contract's spelling: `new`, `worse`, `better`, `same`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Worse => "worse",
            Self::Better => "better",
            Self::Same => "same",
        }
    }

    /// Every value, in the order summaries list them.
    pub const ALL: &'static [Self] = &[Self::Worse, Self::Better, Self::New, Self::Same];
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The run a domain was compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Previous {
    /// Its run id.
    pub run_id: String,
    /// When it started (Unix milliseconds, UTC).
    pub started_at: i64,
    /// The domain's verdict then.
    pub verdict: Verdict,
}

/// What changed for one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The run compared with (`None`: first recorded run of this domain).
    pub previous: Option<Previous>,
    /// How the verdict moved.
    pub change: Change,
    /// Broken (or invalid) now, and not at the baseline (or no baseline).
    pub new_broken: bool,
    /// Findings now that the baseline did not have (by code and subject).
    pub new_findings: Vec<FindingKey>,
    /// Findings of the baseline that are gone (none when today is inconclusive).
    pub resolved_findings: Vec<FindingKey>,
}

impl Changes {
    /// Whether anything is worth showing: the verdict moved or findings came or went.
    pub fn is_change(&self) -> bool {
        matches!(self.change, Change::Worse | Change::Better)
            || (self.previous.is_some()
                && (!self.new_findings.is_empty() || !self.resolved_findings.is_empty()))
    }
}

impl Changes {
    /// The JSONL `changes` object: `previous_run`, `previous_at` (RFC 3339, local offset),
    /// `previous_verdict` (all `null` for a new domain), `change`, `new_broken`,
    /// `new_findings` and `resolved_findings` (each `{code, subject, severity, summary}`).
    pub fn to_json(&self) -> serde_json::Value {
        let p = self.previous.as_ref();
        serde_json::json!({
            "previous_run": p.map(|p| p.run_id.as_str()),
            "previous_at": p.map(|p| super::time::rfc3339(p.started_at)),
            "previous_verdict": p.map(|p| p.verdict.as_str()),
            "change": self.change.as_str(),
            "new_broken": self.new_broken,
            "new_findings": self.new_findings,
            "resolved_findings": self.resolved_findings,
        })
    }

    /// Reads back a JSONL `changes` object that [`Changes::to_json`] wrote (`merge` renders a
    /// shard's rows again); `None` when it is not one.
    pub fn from_json(v: &Value) -> Option<Self> {
        let change = Change::ALL
            .iter()
            .copied()
            .find(|c| v.get("change").and_then(Value::as_str) == Some(c.as_str()))?;
        let previous = match v.get("previous_run").and_then(Value::as_str) {
            Some(run_id) => Some(Previous {
                run_id: run_id.to_owned(),
                started_at: chrono::DateTime::parse_from_rfc3339(v.get("previous_at")?.as_str()?)
                    .ok()?
                    .timestamp_millis(),
                verdict: v.get("previous_verdict")?.as_str()?.parse().ok()?,
            }),
            None => None,
        };
        Some(Self {
            previous,
            change,
            new_broken: v.get("new_broken")?.as_bool()?,
            new_findings: serde_json::from_value(v.get("new_findings")?.clone()).ok()?,
            resolved_findings: serde_json::from_value(v.get("resolved_findings")?.clone()).ok()?,
        })
    }

    /// `code (subject)` of each new finding, `; `-separated (the CSV cell).
    pub fn new_labels(&self) -> String {
        labels(&self.new_findings)
    }

    /// `code (subject)` of each resolved finding, `; `-separated (the CSV cell).
    pub fn resolved_labels(&self) -> String {
        labels(&self.resolved_findings)
    }
}

fn labels(keys: &[FindingKey]) -> String {
    keys.iter()
        .map(FindingKey::label)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the history compares two verdicts it can rank: the library's order (`Ord`, worse is
/// greater), except that `broken` and `invalid` are the same level (neither gets mail through).
/// `Greater`: `is` is worse than `was`.
pub fn compare_verdicts(was: Verdict, is: Verdict) -> std::cmp::Ordering {
    let level = |v: Verdict| {
        if v == Verdict::Invalid {
            Verdict::Broken
        } else {
            v
        }
    };
    level(is).cmp(&level(was))
}

/// Compares the current report with the domain's baseline (see the module doc for the rules).
pub fn compare(baseline: Option<&Baseline>, current: &Report) -> Changes {
    compare_findings(baseline, current.verdict, FindingKey::of(current))
}

/// [`compare`] from a verdict and its findings (as the history keeps them).
pub fn compare_findings(
    baseline: Option<&Baseline>,
    verdict: Verdict,
    now: Vec<FindingKey>,
) -> Changes {
    let new_broken_now = verdict >= Verdict::Broken;
    let Some(base) = baseline else {
        return Changes {
            previous: None,
            change: Change::New,
            new_broken: new_broken_now,
            new_findings: now,
            resolved_findings: Vec::new(),
        };
    };
    let new_findings: Vec<FindingKey> = now
        .iter()
        .filter(|k| !base.findings.iter().any(|b| b.same_as(k)))
        .cloned()
        .collect();
    let resolved_findings: Vec<FindingKey> = if verdict == Verdict::Inconclusive {
        Vec::new()
    } else {
        base.findings
            .iter()
            .filter(|b| !now.iter().any(|k| k.same_as(b)))
            .cloned()
            .collect()
    };
    let change = match (base.verdict, verdict) {
        (_, Verdict::Inconclusive) => Change::Same,
        (Verdict::Inconclusive, v) if v >= Verdict::Degraded => Change::Worse,
        (Verdict::Inconclusive, _) => Change::Same,
        (was, is) => match compare_verdicts(was, is) {
            std::cmp::Ordering::Greater => Change::Worse,
            std::cmp::Ordering::Less => Change::Better,
            std::cmp::Ordering::Equal => Change::Same,
        },
    };
    Changes {
        previous: Some(Previous {
            run_id: base.run_id.clone(),
            started_at: base.started_at,
            verdict: base.verdict,
        }),
        change,
        new_broken: new_broken_now && base.verdict < Verdict::Broken,
        new_findings,
        resolved_findings,
    }
}

/// The baseline for the entry at `index` of a domain's timeline (oldest first), by the same
/// rule as the store's: the latest earlier entry that could check it, else the latest earlier.
pub fn timeline_baseline<T>(earlier: &[T], verdict_of: impl Fn(&T) -> Verdict) -> Option<&T> {
    earlier
        .iter()
        .rev()
        .find(|e| verdict_of(e) != Verdict::Inconclusive)
        .or_else(|| earlier.last())
}

#[cfg(test)]
mod tests;
