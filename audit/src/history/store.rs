//! [`History`]: the store. One code path for both backends: sqlx's `Any` driver with SQL that
//! SQLite and PostgreSQL both accept (`$N` placeholders, `ON CONFLICT … DO NOTHING`).

use futures::TryStreamExt as _;
use mailcheck::Verdict;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row as _};

use super::changes::{Baseline, FindingKey};
use super::{HistoryError, Location, schema};

/// What a run is, as recorded when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    /// The run id ([`super::new_run_id`]).
    pub run_id: String,
    /// Start (Unix milliseconds).
    pub started_at: i64,
    /// The inputs' names (files, `-`, `argument`, the demo list).
    pub input_name: String,
    /// SHA-256 of the inputs (hex); empty for stdin, which is read only once.
    pub input_hash: String,
    /// This machine's name.
    pub host: String,
    /// `mailcheck-audit` version.
    pub tool_version: String,
}

/// A recorded run, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// What was recorded at the start.
    pub meta: RunMeta,
    /// End (Unix milliseconds); `None` while running, or when it was killed.
    pub finished_at: Option<i64>,
    /// Rows recorded.
    pub rows: i64,
    /// Rows per verdict, worst first.
    pub verdicts: Vec<(Verdict, i64)>,
}

/// One row of a run, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Position in the input (0-based, the engine's sequence number).
    pub row_no: i64,
    /// The input's name.
    pub source: String,
    /// Line in the input.
    pub line: i64,
    /// The input cell as given.
    pub input: String,
    /// The key ([`super::domain_key`]).
    pub domain: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The worst severity, if any finding.
    pub worst: Option<String>,
    /// When the row was reported (Unix milliseconds).
    pub checked_at: i64,
    /// The JSONL `row` object (source, line, input, pass-through columns).
    pub row_json: String,
    /// The full `Report` JSON.
    pub report_json: String,
    /// Its findings.
    pub findings: Vec<FindingKey>,
}

/// One domain in one run (for timelines and diffs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainResult {
    /// The run.
    pub run_id: String,
    /// The run's start.
    pub started_at: i64,
    /// The domain key.
    pub domain: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its findings.
    pub findings: Vec<FindingKey>,
}

impl DomainResult {
    /// As the baseline of a later comparison.
    pub fn baseline(&self) -> Baseline {
        Baseline {
            run_id: self.run_id.clone(),
            started_at: self.started_at,
            verdict: self.verdict,
            findings: self.findings.clone(),
        }
    }
}

/// One earlier verdict of a domain, for the HTML report's trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    /// The run.
    pub run_id: String,
    /// The run's start (Unix milliseconds).
    pub started_at: i64,
    /// The domain's verdict in it.
    pub verdict: Verdict,
}

/// What `prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Runs deleted.
    pub runs: u64,
    /// Result rows deleted.
    pub results: u64,
}

/// The history store (cheap to clone: a connection pool).
#[derive(Debug, Clone)]
pub struct History {
    pool: AnyPool,
    location: Location,
}

fn verdict(s: &str) -> Result<Verdict, HistoryError> {
    s.parse()
        .map_err(|e: String| HistoryError::Corrupt(format!("recorded {e}")))
}

const RUN_COLUMNS: &str = "run_id, started_at, finished_at, input_name, input_hash, host, \
                           tool_version, (SELECT COUNT(*) FROM results r WHERE r.run_id = runs.run_id) AS n";

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
    /// Opens (creating) the store and brings its schema up to date.
    pub async fn open(location: &Location) -> Result<Self, HistoryError> {
        sqlx::any::install_default_drivers();
        let pool = match location {
            Location::Sqlite(path) => super::sqlite::open(path).await?,
            Location::Postgres(url) => super::postgres::open(url).await?,
        };
        let migrator = schema::migrator()
            .await
            .map_err(|source| HistoryError::Migrate {
                location: location.display(),
                source,
            })?;
        migrator
            .run(&pool)
            .await
            .map_err(|source| HistoryError::Migrate {
                location: location.display(),
                source,
            })?;
        Ok(Self {
            pool,
            location: location.clone(),
        })
    }

    /// Where it is.
    pub const fn location(&self) -> &Location {
        &self.location
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records the start of a run.
    pub async fn begin_run(&self, meta: &RunMeta) -> Result<(), HistoryError> {
        sqlx::query(
            "INSERT INTO runs (run_id, started_at, finished_at, input_name, input_hash, host, \
             tool_version, vantage, row_count) VALUES ($1, $2, NULL, $3, $4, $5, $6, NULL, 0)",
        )
        .bind(&meta.run_id)
        .bind(meta.started_at)
        .bind(&meta.input_name)
        .bind(&meta.input_hash)
        .bind(&meta.host)
        .bind(&meta.tool_version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reopens a recorded run to continue it (`--resume`): `None` if there is no such run.
    pub async fn continue_run(&self, run_id: &str) -> Result<Option<RunInfo>, HistoryError> {
        let Some(run) = self.find_run(run_id).await? else {
            return Ok(None);
        };
        sqlx::query("UPDATE runs SET finished_at = NULL WHERE run_id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(Some(run))
    }

    /// Records a batch of rows in one transaction (rows already there are left as they are).
    pub async fn record(&self, run_id: &str, rows: &[Recorded]) -> Result<(), HistoryError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for r in rows {
            let inserted = sqlx::query(
                "INSERT INTO results (run_id, row_no, source, line, input, domain, verdict, worst, \
                 checked_at, row_json, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (run_id, row_no) DO NOTHING",
            )
            .bind(run_id)
            .bind(r.row_no)
            .bind(&r.source)
            .bind(r.line)
            .bind(&r.input)
            .bind(&r.domain)
            .bind(r.verdict.as_str())
            .bind(r.worst.as_deref())
            .bind(r.checked_at)
            .bind(&r.row_json)
            .bind(&r.report_json)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                continue;
            }
            for f in &r.findings {
                sqlx::query(
                    "INSERT INTO findings (run_id, row_no, code, subject, severity, summary) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (run_id, row_no, code, subject) DO NOTHING",
                )
                .bind(run_id)
                .bind(r.row_no)
                .bind(&f.code)
                .bind(&f.subject)
                .bind(&f.severity)
                .bind(&f.summary)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records our vantage point (the `Summary`'s JSON), once known.
    pub async fn set_vantage(&self, run_id: &str, vantage: &str) -> Result<(), HistoryError> {
        sqlx::query("UPDATE runs SET vantage = $1 WHERE run_id = $2")
            .bind(vantage)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the end of a run.
    pub async fn finish_run(&self, run_id: &str, finished_at: i64) -> Result<(), HistoryError> {
        sqlx::query(
            "UPDATE runs SET finished_at = $1, \
             row_count = (SELECT COUNT(*) FROM results r WHERE r.run_id = $2) WHERE run_id = $2",
        )
        .bind(finished_at)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

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
    /// earlier run that could check it, else its latest earlier run (see [`super::changes`]).
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

    async fn find_run(&self, run_id: &str) -> Result<Option<RunInfo>, HistoryError> {
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
                                "no run {spec:?} in the history (see `mailcheck-audit history runs`)"
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

    /// Deletes the runs that started before `cutoff` (Unix milliseconds), except the newest run
    /// of all, so the next run still has something to compare with.
    pub async fn prune(&self, cutoff: i64) -> Result<Pruned, HistoryError> {
        let mut tx = self.pool.begin().await?;
        let newest: Option<String> =
            sqlx::query("SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("run_id"))
                .transpose()?;
        let newest = newest.unwrap_or_default();
        let old = "SELECT run_id FROM runs WHERE started_at < $1 AND run_id <> $2";
        sqlx::query(&format!("DELETE FROM findings WHERE run_id IN ({old})"))
            .bind(cutoff)
            .bind(&newest)
            .execute(&mut *tx)
            .await?;
        let results = sqlx::query(&format!("DELETE FROM results WHERE run_id IN ({old})"))
            .bind(cutoff)
            .bind(&newest)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let runs = sqlx::query("DELETE FROM runs WHERE started_at < $1 AND run_id <> $2")
            .bind(cutoff)
            .bind(&newest)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned { runs, results })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, started_at: i64) -> RunMeta {
        RunMeta {
            run_id: id.to_owned(),
            started_at,
            input_name: "list.csv".to_owned(),
            input_hash: "00".to_owned(),
            host: "h".to_owned(),
            tool_version: "0".to_owned(),
        }
    }

    fn row(row_no: i64, domain: &str, verdict: Verdict, codes: &[&str]) -> Recorded {
        Recorded {
            row_no,
            source: "list.csv".to_owned(),
            line: row_no + 2,
            input: domain.to_owned(),
            domain: domain.to_owned(),
            verdict,
            worst: None,
            checked_at: 0,
            row_json: "{}".to_owned(),
            report_json: format!("{{\"domain\":\"{domain}\"}}"),
            findings: codes
                .iter()
                .map(|c| FindingKey {
                    code: (*c).to_owned(),
                    subject: domain.to_owned(),
                    severity: "error".to_owned(),
                    summary: "s".to_owned(),
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn record_compare_list_prune() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&Location::Sqlite(dir.path().join("h.sqlite3")))
            .await
            .unwrap();
        let day = 86_400_000;
        let runs = [
            ("r1", day, Verdict::Ok, &[][..]),
            (
                "r2",
                2 * day,
                Verdict::Inconclusive,
                &["dns.lookup_failed"][..],
            ),
            ("r3", 3 * day, Verdict::Broken, &["smtp.refused"][..]),
        ];
        for (id, at, v, codes) in runs {
            h.begin_run(&meta(id, at)).await.unwrap();
            let rows = [
                row(0, "a.test", v, codes),
                row(1, "b.test", Verdict::Ok, &[]),
            ];
            h.record(id, &rows).await.unwrap();
            // Recording again (a resumed run) changes nothing.
            h.record(id, &rows).await.unwrap();
            h.finish_run(id, at + 1000).await.unwrap();
        }
        // r3 compares a.test with r1 (r2 could not check it).
        let b = h.baseline("r3", "a.test", 3 * day).await.unwrap().unwrap();
        assert_eq!((b.run_id.as_str(), b.verdict), ("r1", Verdict::Ok));
        let b = h.baseline("r2", "a.test", 2 * day).await.unwrap().unwrap();
        assert_eq!(b.run_id, "r1");
        assert!(h.baseline("r1", "a.test", day).await.unwrap().is_none());
        let b = h.baseline("r4", "a.test", 4 * day).await.unwrap().unwrap();
        assert_eq!(b.findings[0].code, "smtp.refused");

        let listed = h.runs(10).await.unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0].meta.run_id, "r3");
        assert_eq!(listed[0].rows, 2);
        assert_eq!(listed[0].verdicts, [(Verdict::Broken, 1), (Verdict::Ok, 1)]);
        assert_eq!(h.run("latest").await.unwrap().meta.run_id, "r3");
        assert_eq!(h.run("previous").await.unwrap().meta.run_id, "r2");
        assert!(h.run("r").await.is_err(), "ambiguous prefix");
        assert!(h.run("zz").await.is_err());
        let r3 = h.run("r3").await.unwrap();
        assert_eq!(h.run_before(&r3).await.unwrap().unwrap().meta.run_id, "r2");

        let past = h.recent("r4", "a.test", 4 * day, 2).await.unwrap();
        let seen: Vec<(&str, Verdict)> = past
            .iter()
            .map(|p| (p.run_id.as_str(), p.verdict))
            .collect();
        assert_eq!(
            seen,
            [("r2", Verdict::Inconclusive), ("r3", Verdict::Broken)],
            "the latest two, oldest first"
        );
        assert_eq!(h.recent("r3", "a.test", 3 * day, 7).await.unwrap().len(), 2);
        assert!(h.recent("r1", "a.test", day, 7).await.unwrap().is_empty());

        let t = h.timeline("a.test", 10).await.unwrap();
        let ids: Vec<&str> = t.iter().map(|d| d.run_id.as_str()).collect();
        assert_eq!(ids, ["r1", "r2", "r3"]);
        assert_eq!(h.timeline("a.test", 2).await.unwrap().len(), 2);
        assert_eq!(h.results("r2").await.unwrap().len(), 2);
        let mut n = 0;
        h.export(None, |_, _, _, _| {
            n += 1;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(n, 6);

        // Everything is older than the cutoff: all but the newest run go.
        let p = h.prune(10 * day).await.unwrap();
        assert_eq!(
            p,
            Pruned {
                runs: 2,
                results: 4
            }
        );
        assert_eq!(h.runs(10).await.unwrap().len(), 1);
        assert_eq!(h.timeline("a.test", 10).await.unwrap().len(), 1);
    }
}
