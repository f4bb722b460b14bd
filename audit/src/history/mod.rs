//! The run history: every audit run recorded in a database, so each domain can be compared with
//! its previous run and `mailcheck-audit history` can list, show, diff, prune and export runs.
//!
//! - [`Location`]: where the history lives: an SQLite file (the default, at
//!   [`default_path`]) or a PostgreSQL URL.
//! - [`store`]: [`History`], the store: the same SQL on both backends (sqlx's `Any` driver).
//! - [`sqlite`] and [`postgres`]: opening each backend (WAL and pragmas; URL checks).
//! - [`schema`]: tables and migrations.
//! - [`changes`]: what changed for a domain since its previous run (pure).
//! - [`command`]: the `history` subcommand.
//! - [`time`]: Unix milliseconds shown in the user's local zone.
//!
//! What a kill leaves: the engine records each batch of results in one transaction *before*
//! writing it to any report, so every row a report shows is in the history.

pub mod changes;
pub mod command;
pub mod postgres;
pub mod schema;
pub mod sqlite;
pub mod store;
pub mod time;

use std::path::{Path, PathBuf};

pub use changes::{Baseline, Change, Changes, FindingKey, compare};
pub use store::{History, Past, RunMeta};

/// Earlier runs the HTML report's trend shows per domain (today's verdict comes on top).
pub const TREND_RUNS: i64 = 7;

/// The environment variable that sets the history location when `--history` is not given
/// (`off` disables it, like `--no-history`).
pub const ENV: &str = "MAILCHECK_HISTORY";

/// A problem with the history store (exit code 2 when it stops a run).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The location given cannot be used.
    #[error("--history {0}")]
    Location(String),
    /// No default location: neither `XDG_DATA_HOME` nor `HOME` is set.
    #[error(
        "no place for the run history: set HOME or XDG_DATA_HOME, or use --history PATH or \
         --no-history"
    )]
    NoDefault,
    /// The store could not be opened or created.
    #[error(
        "cannot open the run history at {location}: {source} (use --history PATH, or --no-history)"
    )]
    Open {
        /// Where.
        location: String,
        /// Why.
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot update the run history's schema at {location}: {source}")]
    Migrate {
        /// Where.
        location: String,
        /// Why.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("run history: {0}")]
    Query(#[from] sqlx::Error),
    /// Something recorded is not what this version writes.
    #[error("run history: {0}")]
    Corrupt(String),
    /// A run id that matches no run (or several).
    #[error("{0}")]
    NoSuchRun(String),
}

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file (created on first use, with its directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// Reads `--history`: a `postgres://` / `postgresql://` URL, a `sqlite:` URL or a path.
    pub fn parse(s: &str) -> Result<Self, HistoryError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(HistoryError::Location("is empty".to_owned()));
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return postgres::check_url(s).map(|()| Self::Postgres(s.to_owned()));
        }
        if let Some(rest) = lower.strip_prefix("sqlite:") {
            let path = &s[s.len() - rest.len()..];
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() || path.contains('?') {
                return Err(HistoryError::Location(format!(
                    "{s}: give the file as sqlite://PATH (no options) or just PATH"
                )));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if lower.contains("://") {
            return Err(HistoryError::Location(format!(
                "{s}: unknown scheme; use a path, sqlite://PATH or postgres://…"
            )));
        }
        Ok(Self::Sqlite(PathBuf::from(s)))
    }

    /// For messages: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(p) => p.display().to_string(),
            Self::Postgres(url) => postgres::redact(url),
        }
    }
}

/// The default SQLite file: `$XDG_DATA_HOME/mailcheck/history.sqlite3`, else
/// `$HOME/.local/share/mailcheck/history.sqlite3`.
pub fn default_path() -> Result<PathBuf, HistoryError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = var("XDG_DATA_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".local").join("share")))
        .ok_or(HistoryError::NoDefault)?;
    Ok(default_file_in(&base))
}

/// The history file under a data directory.
pub fn default_file_in(data_dir: &Path) -> PathBuf {
    data_dir.join("mailcheck").join("history.sqlite3")
}

/// An open run in the store: where the engine records rows and what it compares them with.
#[derive(Debug, Clone)]
pub struct ActiveRun {
    /// The store.
    pub store: History,
    /// The run's id.
    pub run_id: String,
    /// The run's start (Unix milliseconds): only earlier runs are baselines.
    pub started_at: i64,
}

/// How the flags and the environment choose the history: `--no-history` wins, then
/// `--history`, then `MAILCHECK_HISTORY` (`off`, `none`, `no`, `0` or empty disable it), then
/// the default file when `default_on` (a normal run; `--demo` and `--vantage` record nothing
/// unless asked).
pub fn choose(
    no_history: bool,
    flag: Option<&str>,
    env: Option<&str>,
    default_on: bool,
) -> Result<Option<Location>, HistoryError> {
    if no_history {
        return Ok(None);
    }
    if let Some(f) = flag {
        return Location::parse(f).map(Some);
    }
    match env.map(str::trim) {
        Some("" | "off" | "none" | "no" | "0") => Ok(None),
        Some(v) => Location::parse(v).map(Some),
        None if default_on => default_path().map(|p| Some(Location::Sqlite(p))),
        None => Ok(None),
    }
}

/// A new run id: the start time (UTC, to the second) and 32 random bits, e.g.
/// `20261130T221503Z-3f9a2c01`. Sorts by time; unique across machines writing one database.
pub fn new_run_id(started_at_ms: i64) -> String {
    use ring::rand::SecureRandom as _;
    let mut r = [0u8; 4];
    // The system RNG only fails where nothing would work; fall back to the clock's nanoseconds.
    if ring::rand::SystemRandom::new().fill(&mut r).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        r = nanos.to_be_bytes();
    }
    format!(
        "{}-{:02x}{:02x}{:02x}{:02x}",
        time::utc_compact(started_at_ms),
        r[0],
        r[1],
        r[2],
        r[3]
    )
}

/// The inputs' name (their names, comma-separated) and SHA-256 (hex) over each source's name
/// and content, as a run records them. Stdin is read only once, by the run: with stdin among
/// the inputs the hash is empty. Blocking (reads the files).
pub fn input_identity(sources: &[crate::input::Source]) -> (String, String) {
    use crate::input::Source;
    use std::io::Read as _;
    let name = sources
        .iter()
        .map(|s| match s {
            Source::Domains(d) => d.join(" "),
            other => other.name(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for s in sources {
        ctx.update(s.name().as_bytes());
        ctx.update(b"\0");
        match s {
            Source::Stdin => return (name, String::new()),
            Source::Domains(d) => {
                for x in d {
                    ctx.update(x.as_bytes());
                    ctx.update(b"\n");
                }
            }
            Source::Text { text, .. } => ctx.update(text.as_bytes()),
            Source::File(p) => {
                let Ok(mut f) = std::fs::File::open(p) else {
                    return (name, String::new());
                };
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => ctx.update(&buf[..n]),
                        Err(_) => return (name, String::new()),
                    }
                }
            }
        }
        ctx.update(b"\0");
    }
    let hash = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (name, hash)
}

/// The key a row is remembered under: the normalised domain, or the input as given when it is
/// not a domain (an `invalid` row).
pub fn domain_key(report: &mailcheck::Report) -> String {
    report.display_name().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("/tmp/h.sqlite3").unwrap(),
            Location::Sqlite("/tmp/h.sqlite3".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/h.db").unwrap(),
            Location::Sqlite("/tmp/h.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:rel.db").unwrap(),
            Location::Sqlite("rel.db".into())
        );
        assert!(matches!(
            Location::parse("postgres://u:secret@db.example/mc").unwrap(),
            Location::Postgres(_)
        ));
        assert!(Location::parse("mysql://x/y").is_err());
        assert!(Location::parse(" ").is_err());
        assert_eq!(
            Location::parse("postgresql://u:secret@db.example/mc")
                .unwrap()
                .display(),
            "postgresql://u:***@db.example/mc"
        );
    }

    #[test]
    fn choosing() {
        assert_eq!(choose(true, Some("/x"), Some("/y"), true).unwrap(), None);
        assert_eq!(
            choose(false, Some("/x"), Some("off"), true).unwrap(),
            Some(Location::Sqlite("/x".into()))
        );
        assert_eq!(choose(false, None, Some("off"), true).unwrap(), None);
        assert_eq!(
            choose(false, None, Some("/y"), false).unwrap(),
            Some(Location::Sqlite("/y".into()))
        );
        assert_eq!(choose(false, None, None, false).unwrap(), None);
        assert_eq!(
            default_file_in(Path::new("/d")),
            Path::new("/d/mailcheck/history.sqlite3")
        );
    }

    #[test]
    fn run_ids_sort_by_time() {
        let a = new_run_id(1_764_540_903_000);
        assert!(a.starts_with("20251130T221503Z-"), "{a}");
        assert_eq!(a.len(), "20251130T221503Z-".len() + 8);
        assert_ne!(a, new_run_id(1_764_540_903_000));
    }
}
