//! [`History`]: the store. One code path for both backends: sqlx's `Any` driver with SQL that
//! SQLite and PostgreSQL both accept (`$N` placeholders, `ON CONFLICT … DO NOTHING`).
//!
//! This file holds the records and the writes (a run begun, its rows recorded, finished,
//! pruned); `read` beside it the reads (baselines, trends, runs, timelines, results, export).

mod read;

use mailcheck::Verdict;
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
                 checked_at, row_json, report) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
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
}

#[cfg(test)]
mod tests;
