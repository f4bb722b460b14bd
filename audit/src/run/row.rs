//! One row's task in the engine: the duplicate memo ([`Dedupe`]), the report (checked, shared
//! with a duplicate, or taken from the JSONL being resumed), the comparison with the domain's
//! previous run, rendering on rayon, and what the history keeps of the row.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use mailcheck::{DomainName, Report};
use tokio::sync::{OnceCell, oneshot};

use super::{Ctx, Done, Origin};
use crate::error::AuditError;
use crate::history::store::Recorded;
use crate::history::{FindingKey, TREND_RUNS, compare, domain_key};
use crate::input::Row;
use crate::output::{Item, render_all};

/// Recently checked domains, shared by duplicate rows (also while the first check runs).
#[derive(Debug)]
pub(super) struct Dedupe {
    inner: Mutex<DedupeInner>,
    cap: usize,
}

#[derive(Debug, Default)]
pub(super) struct DedupeInner {
    map: HashMap<String, Arc<OnceCell<Arc<Report>>>>,
    order: VecDeque<String>,
}

impl Dedupe {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(DedupeInner::default()),
            cap: cap.max(1),
        }
    }

    /// The cell for `domain`, and whether it existed (a duplicate row).
    fn cell(&self, domain: &str) -> (Arc<OnceCell<Arc<Report>>>, bool) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = g.map.get(domain) {
            return (Arc::clone(c), true);
        }
        let c = Arc::new(OnceCell::new());
        g.map.insert(domain.to_owned(), Arc::clone(&c));
        g.order.push_back(domain.to_owned());
        while g.order.len() > self.cap {
            if let Some(old) = g.order.pop_front() {
                g.map.remove(&old);
            }
        }
        (c, false)
    }
}

/// What the history keeps of one row.
fn recorded(seq: u64, row: &Row, report: &Report, columns: &[String]) -> Recorded {
    Recorded {
        row_no: i64::try_from(seq).unwrap_or(i64::MAX),
        source: row.source.to_string(),
        line: i64::try_from(row.line).unwrap_or(i64::MAX),
        input: row.input.clone(),
        domain: domain_key(report),
        verdict: report.verdict,
        worst: report.worst.map(|s| s.as_str().to_owned()),
        checked_at: crate::history::time::now_ms(),
        row_json: crate::output::jsonl::row_value(row, columns).to_string(),
        report_json: serde_json::to_string(report).unwrap_or_default(),
        findings: FindingKey::of(report),
    }
}

impl Ctx {
    async fn report(&self, row: &Row) -> Result<(Arc<Report>, Origin), AuditError> {
        if let Some(problem) = &row.problem {
            return Ok((
                Arc::new(Report::invalid(&row.input, problem)),
                Origin::Checked,
            ));
        }
        if let Some(resume) = &self.resume
            && let Some(offset) = resume.row_offset(row)
        {
            let resume = Arc::clone(resume);
            let report = tokio::task::spawn_blocking(move || resume.read(offset))
                .await
                .map_err(|e| AuditError::Usage(format!("resume reader failed: {e}")))??;
            return Ok((Arc::new(report), Origin::Resumed));
        }
        let domain = match DomainName::parse(&row.input) {
            Ok(d) => d,
            Err(e) => return Ok((Arc::new(Report::invalid(&row.input, e)), Origin::Checked)),
        };
        let (cell, existed) = self.dedupe.cell(domain.as_str());
        let mut origin = if existed {
            Origin::Duplicate
        } else {
            Origin::Checked
        };
        let report = cell
            .get_or_try_init(|| async {
                if let Some(resume) = &self.resume
                    && let Some(offset) = resume.domain_offset(domain.as_str())
                {
                    let resume = Arc::clone(resume);
                    origin = Origin::ResumedDomain;
                    let r = tokio::task::spawn_blocking(move || resume.read(offset))
                        .await
                        .map_err(|e| AuditError::Usage(format!("resume reader failed: {e}")))??;
                    return Ok::<_, AuditError>(Arc::new(r));
                }
                Ok(Arc::new(self.checker.check(&domain).await))
            })
            .await?;
        let report = if report.input == row.input {
            Arc::clone(report)
        } else {
            let mut r = Report::clone(report);
            r.input.clone_from(&row.input);
            Arc::new(r)
        };
        Ok((report, origin))
    }

    pub(super) async fn process(self: Arc<Self>, seq: u64, row: Row) -> Result<Done, AuditError> {
        let (report, origin) = self.report(&row).await?;
        let (changes, trend) = match &self.history {
            Some(h) => {
                let key = domain_key(&report);
                let base = h.store.baseline(&h.run_id, &key, h.started_at).await?;
                let trend = h
                    .store
                    .recent(&h.run_id, &key, h.started_at, TREND_RUNS)
                    .await?;
                (Some(compare(base.as_ref(), &report)), trend)
            }
            None => (None, Vec::new()),
        };
        let (tx, rx) = oneshot::channel();
        let ctx = Arc::clone(&self);
        let rep = Arc::clone(&report);
        let ch = changes.clone();
        rayon::spawn(move || {
            let item = Item {
                row: &row,
                report: &rep,
                columns: &ctx.columns,
                changes: ch.as_ref(),
                run_id: ctx.history.as_ref().map(|h| h.run_id.as_str()),
                trend: &trend,
            };
            let chunks = render_all(&ctx.renderers, item);
            let record = ctx
                .history
                .is_some()
                .then(|| recorded(seq, &row, &rep, &ctx.columns));
            let _ = tx.send((chunks, record));
        });
        let (chunks, record) = rx
            .await
            .map_err(|_| AuditError::Usage("rendering failed".to_owned()))?;
        Ok(Done {
            seq,
            report,
            chunks,
            origin,
            changes,
            record,
        })
    }
}
