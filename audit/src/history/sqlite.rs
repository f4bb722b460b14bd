//! Opening the SQLite history: the file (and its directory) created on first use, WAL mode so
//! readers never block the writer and a committed batch survives a killed process,
//! `synchronous = NORMAL` (durable against a crash of the process; a power cut may lose the last
//! batches), foreign keys on and a busy timeout for a second process on the same file.

use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor as _};

use super::HistoryError;

/// How long a writer waits for another process's transaction on the same file.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating) the database file at `path` as an `Any` pool.
pub async fn open(path: &Path) -> Result<AnyPool, HistoryError> {
    let open_err = |source| HistoryError::Open {
        location: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
    }
    // The Any driver takes a URL; let the SQLite driver write it (it percent-encodes the path).
    let url = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .to_url_lossy();
    let opts = AnyConnectOptions::from_url(&url)
        .map_err(open_err)?
        .disable_statement_logging();
    let busy_ms = BUSY_TIMEOUT.as_millis();
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(format!("PRAGMA busy_timeout = {busy_ms}").as_str())
                    .await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(open_err)?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use sqlx::Row as _;

    #[tokio::test]
    async fn wal_mode_really_takes_effect() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub dir?#").join("h.sqlite3");
        let pool = super::open(&path).await.unwrap();
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "wal");
        assert!(path.is_file(), "created with its directory");
    }
}
