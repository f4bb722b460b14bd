//! [`AuditError`]: what stops a run before or outside the checks (usage, unreadable input,
//! unwritable output). Findings are never errors; a bad CSV row is an `invalid` row, not an error.

use std::path::PathBuf;

/// A problem that ends the run with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Flags that do not fit together, or a value that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// An input file could not be opened or read.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The line, when the problem is at one.
        line: Option<u64>,
        /// What went wrong.
        message: String,
    },
    /// A report could not be written.
    #[error("{}: {source}", path.display())]
    Output {
        /// The report file (`-` for stdout).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The check configuration was refused by the library.
    #[error("{0}")]
    Config(#[from] mailcheck::Error),
    /// The run history could not be opened, read or written.
    #[error("{0}")]
    History(#[from] crate::history::HistoryError),
    /// `merge`: the shard outputs do not add up to their plan (a shard missing or cut short, a
    /// row twice, two plans mixed).
    #[error("{0}")]
    Shards(String),
}

impl AuditError {
    /// An input problem at a file, optionally at a line.
    pub fn input(path: impl Into<PathBuf>, line: Option<u64>, message: impl Into<String>) -> Self {
        Self::Input {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// A write problem at a report.
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Output {
            path: path.into(),
            source,
        }
    }
}
