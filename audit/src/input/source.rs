//! What a command-line argument names ([`Source`]): domain names (consecutive ones in one
//! source), a CSV file, or `-` for stdin.

use std::path::PathBuf;

use crate::error::AuditError;

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A CSV file.
    File(PathBuf),
    /// CSV on stdin (`-`).
    Stdin,
    /// CSV text in memory (the demo's list), with a name for reports.
    Text {
        /// Shown as the row's source.
        name: String,
        /// The CSV.
        text: String,
    },
    /// Domains given on the command line.
    Domains(Vec<String>),
}

impl Source {
    /// Sorts command-line inputs: `-` is stdin, an existing file is a CSV, something that looks
    /// like a file name but does not exist is an error, anything else is a domain.
    pub fn classify(inputs: &[String]) -> Result<Vec<Self>, AuditError> {
        let mut out = Vec::new();
        let mut domains = Vec::new();
        let mut stdin_seen = false;
        for input in inputs {
            if input == "-" {
                if stdin_seen {
                    return Err(AuditError::Usage("`-` (stdin) given twice".to_owned()));
                }
                stdin_seen = true;
                flush_domains(&mut out, &mut domains);
                out.push(Self::Stdin);
                continue;
            }
            let path = PathBuf::from(input);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    return Err(AuditError::input(path, None, "is a directory, not a CSV"));
                }
                Ok(_) => {
                    flush_domains(&mut out, &mut domains);
                    out.push(Self::File(path));
                }
                Err(e) if looks_like_path(input) => {
                    return Err(AuditError::input(path, None, format!("cannot open: {e}")));
                }
                Err(_) => domains.push(input.clone()),
            }
        }
        flush_domains(&mut out, &mut domains);
        Ok(out)
    }

    /// The name rows from this source carry.
    pub fn name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "-".to_owned(),
            Self::Text { name, .. } => name.clone(),
            Self::Domains(_) => "argument".to_owned(),
        }
    }
}

fn flush_domains(out: &mut Vec<Source>, domains: &mut Vec<String>) {
    if !domains.is_empty() {
        out.push(Source::Domains(std::mem::take(domains)));
    }
}

fn looks_like_path(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.contains('/')
        || s.contains('\\')
        || [".csv", ".txt", ".tsv", ".lst"]
            .iter()
            .any(|e| lower.ends_with(e))
}
