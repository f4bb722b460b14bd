//! `--resume`: what a previous (killed) run already wrote to its JSONL report.
//!
//! The file is scanned once: each complete line is indexed by its input row (source, line, input)
//! and by domain, keeping only byte offsets, so memory is a few dozen bytes per finished row, not
//! the reports. A torn last line (no newline: the run was killed mid-write) is cut off so the
//! appended lines stay well-formed. A broken line elsewhere is an input error naming the line.
//! Reports are read back on demand, for the other outputs and for duplicates of finished domains.
//! The lines' `run_id` names the history run that `--resume` continues.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mailcheck::Report;
use serde_json::Value;

use crate::error::AuditError;
use crate::input::Row;

/// The finished rows of a previous run.
#[derive(Debug, Default)]
pub struct Resume {
    path: PathBuf,
    rows: HashMap<(String, u64, String), u64>,
    domains: HashMap<String, u64>,
    run_id: Option<String>,
}

impl Resume {
    /// Scans `path` (a missing file means nothing is done yet). Blocking.
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let mut me = Self {
            path: path.to_path_buf(),
            ..Self::default()
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(me),
            Err(e) => return Err(AuditError::input(path, None, format!("cannot read: {e}"))),
        };
        let mut reader = BufReader::new(file);
        let mut offset = 0u64;
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        let mut torn_at = None;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| AuditError::input(path, Some(line_no + 1), e.to_string()))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let start = offset;
            offset += n as u64;
            if buf.last() != Some(&b'\n') {
                torn_at = Some(start);
                break;
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let value: Value = serde_json::from_slice(&buf).map_err(|e| {
                AuditError::input(
                    path,
                    Some(line_no),
                    format!("not a mailcheck JSONL line: {e}"),
                )
            })?;
            let row = value.get("row");
            let source = row.and_then(|r| r.get("source")).and_then(Value::as_str);
            let line = row.and_then(|r| r.get("line")).and_then(Value::as_u64);
            let input = row
                .and_then(|r| r.get("input"))
                .or_else(|| value.get("input"))
                .and_then(Value::as_str);
            let (Some(source), Some(line), Some(input), Some(_)) =
                (source, line, input, value.get("verdict"))
            else {
                return Err(AuditError::input(
                    path,
                    Some(line_no),
                    "not a mailcheck-audit JSONL line (no verdict or row)",
                ));
            };
            me.rows
                .insert((source.to_owned(), line, input.to_owned()), start);
            if let Some(id) = value.get("run_id").and_then(Value::as_str) {
                me.run_id = Some(id.to_owned());
            }
            if let Some(d) = value.get("domain").and_then(Value::as_str)
                && !d.is_empty()
            {
                me.domains.entry(d.to_owned()).or_insert(start);
            }
        }
        if let Some(at) = torn_at {
            tracing::warn!("{}: cutting off a torn last line", path.display());
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| AuditError::input(path, None, format!("cannot repair: {e}")))?;
            f.set_len(at)
                .map_err(|e| AuditError::input(path, None, format!("cannot repair: {e}")))?;
        }
        Ok(me)
    }

    /// Rows already done.
    pub fn done(&self) -> usize {
        self.rows.len()
    }

    /// The history run the file's rows were recorded in (the last line's `run_id`), which
    /// `--resume` continues; `None` when it was written without a history.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Where the finished report of this input row is.
    pub fn row_offset(&self, row: &Row) -> Option<u64> {
        self.rows
            .get(&(row.source.to_string(), row.line, row.input.clone()))
            .copied()
    }

    /// Where a finished report for this domain is.
    pub fn domain_offset(&self, domain: &str) -> Option<u64> {
        self.domains.get(domain).copied()
    }

    /// Reads the report at `offset` back. Blocking.
    pub fn read(&self, offset: u64) -> Result<Report, AuditError> {
        let err = |m: String| AuditError::input(&self.path, None, m);
        let mut f = File::open(&self.path).map_err(|e| err(e.to_string()))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| err(e.to_string()))?;
        let mut line = Vec::new();
        BufReader::new(f)
            .read_until(b'\n', &mut line)
            .map_err(|e| err(e.to_string()))?;
        let mut v: Value = serde_json::from_slice(&line).map_err(|e| err(e.to_string()))?;
        if let Value::Object(m) = &mut v {
            m.remove("row");
            m.remove("run_id");
            m.remove("changes");
        }
        serde_json::from_value(v).map_err(|e| err(format!("report at byte {offset}: {e}")))
    }
}
