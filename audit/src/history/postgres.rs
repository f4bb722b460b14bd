//! Opening the PostgreSQL history (`--history postgres://user[:password]@host[:port]/db`): for
//! teams, and for shards writing one history from many machines. TLS is rustls with the
//! webpki roots (`sslmode=require`, `verify-full`, `sslrootcert=…` in the URL, as libpq reads
//! them); the schema and migrations are the SQLite ones.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use super::HistoryError;

/// Checks that a `postgres://` URL parses (connecting happens later).
pub fn check_url(url: &str) -> Result<(), HistoryError> {
    url::Url::parse(url)
        .map(|_| ())
        .map_err(|e| HistoryError::Location(format!("{}: {e}", redact(url))))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(a postgres URL)".to_owned(),
    }
}

/// Connects to the database at `url` as an `Any` pool.
pub async fn open(url: &str) -> Result<AnyPool, HistoryError> {
    let open_err = |source| HistoryError::Open {
        location: redact(url),
        source,
    };
    let opts: AnyConnectOptions = url.parse().map_err(open_err)?;
    AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(opts.disable_statement_logging())
        .await
        .map_err(open_err)
}
