//! `history show` (a domain's timeline, run by run) and `history diff` (what changed between
//! two runs): the verdict changes and the findings that came and went, in text or JSON.

use std::fmt::Write as _;

use mailcheck::DomainName;
use serde_json::{Value, json};

use super::{pretty, run_json};
use crate::error::AuditError;
use crate::history::changes::{Change, Changes, compare_findings, timeline_baseline};
use crate::history::store::DomainResult;
use crate::history::{History, HistoryError, time};
use crate::sanitize::terminal;

/// Domains missing from the later run that `diff` lists in text.
const MAX_GONE: usize = 20;

/// One step of a timeline or a diff: a result and how it compares with its baseline.
fn step_json(d: &DomainResult, c: &Changes) -> Value {
    json!({
        "run_id": d.run_id,
        "started_at": time::rfc3339(d.started_at),
        "domain": d.domain,
        "verdict": d.verdict.as_str(),
        "findings": d.findings,
        "changes": c.to_json(),
    })
}

fn finding_lines(out: &mut String, c: &Changes, indent: &str) {
    for k in &c.new_findings {
        let _ = writeln!(out, "{indent}+ {}", terminal(&k.label()));
    }
    for k in &c.resolved_findings {
        let _ = writeln!(out, "{indent}- {}", terminal(&k.label()));
    }
}

pub(super) async fn show(
    store: &History,
    domain: &str,
    limit: i64,
    json: bool,
) -> Result<String, AuditError> {
    let key = DomainName::parse(domain)
        .map_or_else(|_| domain.trim().to_owned(), |d| d.as_str().to_owned());
    let timeline = store.timeline(&key, limit).await?;
    let steps: Vec<(&DomainResult, Changes)> = timeline
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let base = timeline_baseline(&timeline[..i], |e| e.verdict).map(DomainResult::baseline);
            (
                d,
                compare_findings(base.as_ref(), d.verdict, d.findings.clone()),
            )
        })
        .collect();
    if json {
        return Ok(pretty(&json!({
            "domain": key,
            "runs": steps.iter().map(|(d, c)| step_json(d, c)).collect::<Vec<_>>(),
        })));
    }
    if steps.is_empty() {
        return Ok(format!("{}: not in the history.\n", terminal(&key)));
    }
    let mut out = format!(
        "{}: {} recorded run(s), oldest first\n",
        terminal(&key),
        steps.len()
    );
    for (d, c) in &steps {
        let was = c
            .previous
            .as_ref()
            .filter(|_| matches!(c.change, Change::Worse | Change::Better))
            .map(|p| format!(" (was {})", p.verdict))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}  {:<12} {}{was}",
            time::local(d.started_at),
            d.run_id,
            d.verdict.as_str(),
            c.change
        );
        finding_lines(&mut out, c, "      ");
    }
    Ok(out)
}

pub(super) async fn diff(
    store: &History,
    a: &str,
    b: Option<&str>,
    json: bool,
) -> Result<String, AuditError> {
    let first = store.run(a).await?;
    let (base, target) = match b {
        Some(b) => {
            let second = store.run(b).await?;
            if (second.meta.started_at, &second.meta.run_id)
                < (first.meta.started_at, &first.meta.run_id)
            {
                (second, first)
            } else {
                (first, second)
            }
        }
        None => {
            let before = store.run_before(&first).await?.ok_or_else(|| {
                HistoryError::NoSuchRun(format!(
                    "run {} is the first one recorded: nothing to diff with",
                    first.meta.run_id
                ))
            })?;
            (before, first)
        }
    };
    let old = store.results(&base.meta.run_id).await?;
    let new = store.results(&target.meta.run_id).await?;
    let steps: Vec<(&DomainResult, Changes)> = new
        .iter()
        .map(|d| {
            let b = old
                .iter()
                .find(|o| o.domain == d.domain)
                .map(DomainResult::baseline);
            (
                d,
                compare_findings(b.as_ref(), d.verdict, d.findings.clone()),
            )
        })
        .collect();
    let gone: Vec<&DomainResult> = old
        .iter()
        .filter(|o| !new.iter().any(|d| d.domain == o.domain))
        .collect();
    let count = |c: Change| steps.iter().filter(|(_, s)| s.change == c).count();
    if json {
        let counts: serde_json::Map<String, Value> = Change::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), json!(count(*c))))
            .collect();
        return Ok(pretty(&json!({
            "from": run_json(&base),
            "to": run_json(&target),
            "counts": counts,
            "domains": steps.iter().map(|(d, c)| step_json(d, c)).collect::<Vec<_>>(),
            "gone": gone
                .iter()
                .map(|g| json!({"domain": g.domain, "verdict": g.verdict.as_str()}))
                .collect::<Vec<_>>(),
        })));
    }
    let mut out = format!(
        "From {} ({}) to {} ({}): {}, {} gone\n",
        time::local(base.meta.started_at),
        base.meta.run_id,
        time::local(target.meta.started_at),
        target.meta.run_id,
        Change::ALL
            .iter()
            .map(|c| format!("{} {c}", count(*c)))
            .collect::<Vec<_>>()
            .join(", "),
        gone.len()
    );
    let mut changed: Vec<&(&DomainResult, Changes)> =
        steps.iter().filter(|(_, c)| c.is_change()).collect();
    changed.sort_by_key(|(_, c)| c.change);
    for (d, c) in changed {
        let _ = writeln!(
            out,
            "  {:<7} {}  {} → {}",
            c.change.as_str(),
            terminal(&d.domain),
            c.previous.as_ref().map_or("", |p| p.verdict.as_str()),
            d.verdict
        );
        finding_lines(&mut out, c, "          ");
    }
    for (d, _) in steps.iter().filter(|(_, c)| c.change == Change::New) {
        let _ = writeln!(out, "  new     {}  {}", terminal(&d.domain), d.verdict);
    }
    for g in gone.iter().take(MAX_GONE) {
        let _ = writeln!(
            out,
            "  gone    {}  (was {})",
            terminal(&g.domain),
            g.verdict
        );
    }
    if gone.len() > MAX_GONE {
        let _ = writeln!(
            out,
            "  … {} more gone (--format json lists them all)",
            gone.len() - MAX_GONE
        );
    }
    Ok(out)
}
