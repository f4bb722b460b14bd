//! The store's reads: a domain's baseline and recent verdicts, the runs (by id, prefix,
//! `latest`/`previous`), a domain's timeline, a run's results, and the export.

use futures::TryStreamExt as _;
use mailcheck::Verdict;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{DomainResult, History, Past, RunInfo, RunMeta};
use crate::history::HistoryError;
use crate::history::changes::{Baseline, FindingKey};

fn verdict(s: &str) -> Result<Verdict, HistoryError> {
    s.parse()
        .map_err(|e: String| HistoryError::Corrupt(format!("recorded {e}")))
}

const RUN_COLUMNS: &str = "run_id, started_at, finished_at, input_name, input_hash, host, \
                           tool_version, (SELECT COUNT(*) FROM results r \
                           WHERE r.run_id = runs.run_id) AS n";

fn run_info(row: &AnyRow) -> Result<RunInfo, HistoryError> {
    Ok(RunInfo {
        meta: RunMeta {
            run_id: row.try_get("run_id")?,
            started_at: row.try_get("started_at")?,
            input_name: row.try_get("input_name")?,
            input_hash: row.try_get("input_hash")?,
            host: row.try_get("host")?,
            tool_version: row.try_get("tool_version")?,
        },
        finished_at: row.try_get("finished_at")?,
        rows: row.try_get("n")?,
        verdicts: Vec::new(),
    })
}

impl History {
    async fn findings(&self, run_id: &str, row_no: i64) -> Result<Vec<FindingKey>, HistoryError> {
        let rows = sqlx::query(
            "SELECT code, subject, severity, summary FROM findings \
             WHERE run_id = $1 AND row_no = $2",
        )
        .bind(run_id)
        .bind(row_no)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<FindingKey> = rows
            .iter()
            .map(|r| {
                Ok(FindingKey {
                    code: r.try_get("code")?,
                    subject: r.try_get("subject")?,
                    severity: r.try_get("severity")?,
                    summary: r.try_get("summary")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        out.sort_by(|a, b| (&a.code, &a.subject).cmp(&(&b.code, &b.subject)));
        Ok(out)
    }

    /// The run `domain` is compared with in run `run_id` (started at `before`): its latest
    /// earlier run that could check it, else its latest earlier run (see
    /// [`crate::history::changes`]).
    pub async fn baseline(
        &self,
        run_id: &str,
        domain: &str,
        before: i64,
    ) -> Result<Option<Baseline>, HistoryError> {
        let row = sqlx::query(
            "SELECT r.run_id, r.row_no, r.verdict, runs.started_at FROM results r \
             JOIN runs ON runs.run_id = r.run_id \
             WHERE r.domain = $1 AND r.run_id <> $2 AND runs.started_at < $3 \
             ORDER BY CASE WHEN r.verdict = 'inconclusive' THEN 1 ELSE 0 END, \
             runs.started_at DESC, r.row_no LIMIT 1",
        )
        .bind(domain)
        .bind(run_id)
        .bind(before)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let run_id: String = row.try_get("run_id")?;
        let row_no: i64 = row.try_get("row_no")?;
        let findings = self.findings(&run_id, row_no).await?;
        Ok(Some(Baseline {
            verdict: verdict(&row.try_get::<String, _>("verdict")?)?,
            started_at: row.try_get("started_at")?,
            run_id,
            findings,
        }))
    }

    /// The domain's verdicts in its latest `limit` runs before run `run_id` (started at
    /// `before`), oldest first: one per run (a run's duplicate rows share one report).
    pub async fn recent(
        &self,
        run_id: &str,
        domain: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Past>, HistoryError> {
        let rows = sqlx::query(
            "SELECT r.run_id, runs.started_at, r.verdict FROM results r \
             JOIN runs ON runs.run_id = r.run_id \
             WHERE r.domain = $1 AND r.run_id <> $2 AND runs.started_at < $3 \
             ORDER BY runs.started_at DESC, r.run_id DESC, r.row_no LIMIT $4",
        )
        .bind(domain)
        .bind(run_id)
        .bind(before)
        // Duplicate rows of one run come one after the other: fetch a few more than asked.
        .bind(limit.saturating_mul(2))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Past> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("run_id")?;
            if out.last().is_some_and(|p| p.run_id == id) {
                continue;
            }
            if out.len() as i64 >= limit {
                break;
            }
            out.push(Past {
                run_id: id,
                started_at: r.try_get("started_at")?,
                verdict: verdict(&r.try_get::<String, _>("verdict")?)?,
            });
        }
        out.reverse();
        Ok(out)
    }

    async fn verdict_counts(&self, run: &mut RunInfo) -> Result<(), HistoryError> {
        let rows = sqlx::query(
            "SELECT verdict, COUNT(*) AS n FROM results WHERE run_id = $1 GROUP BY verdict",
        )
        .bind(&run.meta.run_id)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = Vec::new();
        for r in &rows {
            counts.push((
                verdict(&r.try_get::<String, _>("verdict")?)?,
                r.try_get::<i64, _>("n")?,
            ));
        }
        counts.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        run.verdicts = counts;
        Ok(())
    }

    /// The latest `limit` runs, newest first, with their verdict counts.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunInfo>, HistoryError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, run_id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut run = run_info(r)?;
            self.verdict_counts(&mut run).await?;
            out.push(run);
        }
        Ok(out)
    }

    pub(super) async fn find_run(&self, run_id: &str) -> Result<Option<RunInfo>, HistoryError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_info).transpose()
    }

    /// A run by id, unique id prefix, `latest`, or `previous` (the one before the latest).
    pub async fn run(&self, spec: &str) -> Result<RunInfo, HistoryError> {
        let spec = spec.trim();
        let mut run = match spec {
            "latest" | "previous" => {
                let offset: i64 = if spec == "latest" { 0 } else { 1 };
                let row = sqlx::query(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, run_id DESC \
                     LIMIT 1 OFFSET $1"
                ))
                .bind(offset)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(run_info).transpose()?.ok_or_else(|| {
                    HistoryError::NoSuchRun(format!("no {spec} run in the history"))
                })?
            }
            _ => {
                if let Some(run) = self.find_run(spec).await? {
                    run
                } else {
                    let rows = sqlx::query(&format!(
                        "SELECT {RUN_COLUMNS} FROM runs WHERE run_id LIKE $1 \
                         ORDER BY started_at DESC LIMIT 2"
                    ))
                    .bind(format!("{}%", spec.replace(['%', '_'], "")))
                    .fetch_all(&self.pool)
                    .await?;
                    match rows.as_slice() {
                        [one] => run_info(one)?,
                        [] => {
                            return Err(HistoryError::NoSuchRun(format!(
                                "no run {spec:?} in the history \
                                 (see `mailcheck-audit history runs`)"
                            )));
                        }
                        _ => {
                            return Err(HistoryError::NoSuchRun(format!(
                                "{spec:?} matches several runs: give more of the id"
                            )));
                        }
                    }
                }
            }
        };
        self.verdict_counts(&mut run).await?;
        Ok(run)
    }

    /// The run that started last before `run`.
    pub async fn run_before(&self, run: &RunInfo) -> Result<Option<RunInfo>, HistoryError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE started_at < $1 \
             ORDER BY started_at DESC, run_id DESC LIMIT 1"
        ))
        .bind(run.meta.started_at)
        .fetch_optional(&self.pool)
        .await?;
        match row.as_ref().map(run_info).transpose()? {
            Some(mut r) => {
                self.verdict_counts(&mut r).await?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }

    async fn domain_results(&self, rows: Vec<AnyRow>) -> Result<Vec<DomainResult>, HistoryError> {
        let mut out: Vec<DomainResult> = Vec::with_capacity(rows.len());
        for r in &rows {
            let run_id: String = r.try_get("run_id")?;
            let domain: String = r.try_get("domain")?;
            // Duplicate rows of a domain in one run share its report: keep the first.
            if out.iter().any(|d| d.run_id == run_id && d.domain == domain) {
                continue;
            }
            let row_no: i64 = r.try_get("row_no")?;
            out.push(DomainResult {
                findings: self.findings(&run_id, row_no).await?,
                started_at: r.try_get("started_at")?,
                verdict: verdict(&r.try_get::<String, _>("verdict")?)?,
                run_id,
                domain,
            });
        }
        Ok(out)
    }

    /// A domain's results in its latest `limit` runs, oldest first.
    pub async fn timeline(
        &self,
        domain: &str,
        limit: i64,
    ) -> Result<Vec<DomainResult>, HistoryError> {
        let run_ids: Vec<String> = sqlx::query(
            "SELECT DISTINCT r.run_id, runs.started_at FROM results r \
             JOIN runs ON runs.run_id = r.run_id WHERE r.domain = $1 \
             ORDER BY runs.started_at DESC, r.run_id DESC LIMIT $2",
        )
        .bind(domain)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("run_id"))
        .collect::<Result<_, _>>()?;
        let Some(oldest) = run_ids.last() else {
            return Ok(Vec::new());
        };
        let oldest_start: i64 = self
            .find_run(oldest)
            .await?
            .map_or(0, |r| r.meta.started_at);
        let rows = sqlx::query(
            "SELECT r.run_id, r.row_no, r.domain, r.verdict, runs.started_at FROM results r \
             JOIN runs ON runs.run_id = r.run_id WHERE r.domain = $1 AND runs.started_at >= $2 \
             ORDER BY runs.started_at, r.run_id, r.row_no",
        )
        .bind(domain)
        .bind(oldest_start)
        .fetch_all(&self.pool)
        .await?;
        self.domain_results(rows).await
    }

    /// Every domain of a run (first row of each), in input order.
    pub async fn results(&self, run_id: &str) -> Result<Vec<DomainResult>, HistoryError> {
        let rows = sqlx::query(
            "SELECT r.run_id, r.row_no, r.domain, r.verdict, runs.started_at FROM results r \
             JOIN runs ON runs.run_id = r.run_id WHERE r.run_id = $1 ORDER BY r.row_no",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        self.domain_results(rows).await
    }

    /// Streams every recorded row (of one run, or all), oldest run first, in input order, to
    /// `each` as (run id, run start, `row` JSON, report JSON).
    pub async fn export(
        &self,
        run_id: Option<&str>,
        mut each: impl FnMut(&str, i64, &str, &str) -> std::io::Result<()>,
    ) -> Result<u64, HistoryError> {
        let sql = format!(
            "SELECT r.run_id, runs.started_at, r.row_json, r.report FROM results r \
             JOIN runs ON runs.run_id = r.run_id {} ORDER BY runs.started_at, r.run_id, r.row_no",
            if run_id.is_some() {
                "WHERE r.run_id = $1"
            } else {
                ""
            }
        );
        let mut query = sqlx::query(&sql);
        if let Some(id) = run_id {
            query = query.bind(id);
        }
        let mut rows = query.fetch(&self.pool);
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            let run: String = r.try_get("run_id")?;
            let started: i64 = r.try_get("started_at")?;
            let row: String = r.try_get("row_json")?;
            let report: String = r.try_get("report")?;
            each(&run, started, &row, &report)
                .map_err(|e| HistoryError::Query(sqlx::Error::Io(e)))?;
            n += 1;
        }
        Ok(n)
    }
}
