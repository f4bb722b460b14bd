//! The history schema and its migrations: the same SQL on SQLite and PostgreSQL (plain `TEXT`
//! and `BIGINT` columns, no autoincrement, no backend-specific types), applied in order by
//! sqlx's migrator, which records them in `_sqlx_migrations` and, on PostgreSQL, holds an
//! advisory lock meanwhile, so machines starting at once do not race.
//!
//! Times are Unix milliseconds (UTC) in `BIGINT` columns; reports are the library's `Report`
//! JSON as `TEXT`. A migration is never edited once released: add the next one.
//!
//! | table | one row per | key |
//! |---|---|---|
//! | `runs` | audit run: start and end, input name and SHA-256, host, version, vantage facts (JSON) | `run_id` |
//! | `results` | input row of a run: source, line, input, domain, verdict, worst, the input row with its pass-through columns (JSON), the full report (JSON) | `run_id`, `row_no` |
//! | `findings` | finding of a result (code, subject, severity, summary), for timelines and diffs | `run_id`, `row_no`, `code`, `subject` |

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// Version 1: runs, results, findings.
const V1: &str = "\
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    input_name TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    host TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    vantage TEXT,
    row_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_started_at ON runs (started_at);
CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    row_no BIGINT NOT NULL,
    source TEXT NOT NULL,
    line BIGINT NOT NULL,
    input TEXT NOT NULL,
    domain TEXT NOT NULL,
    verdict TEXT NOT NULL,
    worst TEXT,
    checked_at BIGINT NOT NULL,
    row_json TEXT NOT NULL,
    report TEXT NOT NULL,
    PRIMARY KEY (run_id, row_no)
);
CREATE INDEX results_domain ON results (domain);
CREATE TABLE findings (
    run_id TEXT NOT NULL,
    row_no BIGINT NOT NULL,
    code TEXT NOT NULL,
    subject TEXT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (run_id, row_no, code, subject),
    FOREIGN KEY (run_id, row_no) REFERENCES results (run_id, row_no)
);
";

/// Every migration, in order.
pub fn migrations() -> Vec<Migration> {
    vec![Migration::new(
        1,
        Cow::Borrowed("runs, results, findings"),
        MigrationType::Simple,
        Cow::Borrowed(V1),
        false,
    )]
}

/// The migrations compiled into the binary, as a source for sqlx's migrator.
#[derive(Debug, Clone, Copy)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async { Ok(migrations()) })
    }
}

/// The migrator for [`migrations`].
pub async fn migrator() -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded).await
}
