//! Step 4 of `plan`: the shard files, written in passes of at most [`FILES_PER_PASS`] files:
//! each row cell for cell with its hidden [`ORIGIN_COLUMN`], each file replaced atomically, and
//! the stale files of an earlier, larger plan removed.

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;

use super::FILES_PER_PASS;
use crate::error::AuditError;
use crate::input::{Inputs, Layout, Source};
use crate::shard::{Malformed, ORIGIN_COLUMN, Origin, shard_file_name};

/// Pass 2: the shard files.
#[derive(Debug)]
pub(super) struct WriteJob {
    pub(super) input: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) layout: Layout,
    pub(super) name: String,
    pub(super) plan: String,
    pub(super) shards: u32,
    pub(super) row_shard: Vec<u32>,
    pub(super) shard_rows: Vec<u64>,
}

type ShardWriter = csv::Writer<BufWriter<tempfile::NamedTempFile>>;

impl WriteJob {
    /// Writes every shard file (blocking); returns the stale shard files it removed.
    pub(super) fn write(self) -> Result<Vec<String>, AuditError> {
        let mut first = 0;
        while first < self.shards {
            let last = (first + FILES_PER_PASS).min(self.shards);
            self.write_pass(first..last)?;
            first = last;
        }
        self.remove_stale()
    }

    fn header(&self) -> Vec<String> {
        let mut header = self.layout.header.clone().unwrap_or_else(|| {
            (1..=self.layout.width)
                .map(|i| format!("column{i}"))
                .collect()
        });
        header.resize(self.layout.width, String::new());
        header.push(ORIGIN_COLUMN.to_owned());
        header
    }

    fn write_pass(&self, range: std::ops::Range<u32>) -> Result<(), AuditError> {
        let mut writers: Vec<ShardWriter> = Vec::new();
        let header = self.header();
        for i in range.clone() {
            let path = self.dir.join(shard_file_name(i));
            let tmp = tempfile::Builder::new()
                .prefix(".mailcheck-")
                .suffix(".part")
                .tempfile_in(&self.dir)
                .map_err(|e| AuditError::output(&path, e))?;
            let mut w = csv::WriterBuilder::new()
                // The audit skips lines starting with `#`: a cell with one is quoted.
                .comment(Some(b'#'))
                .from_writer(BufWriter::new(tmp));
            w.write_record(&header)
                .map_err(|e| AuditError::output(&path, e.into()))?;
            writers.push(w);
        }
        let inputs = Inputs::open(vec![Source::File(self.input.clone())])?;
        let mut pos = 0usize;
        let mut failure: Option<AuditError> = None;
        inputs.for_each_record(|row, cells| {
            let Some(&shard) = self.row_shard.get(pos) else {
                failure = Some(AuditError::input(
                    &self.name,
                    Some(row.line),
                    "has more rows than when it was read first; plan it again",
                ));
                return false;
            };
            let at = pos as u64;
            pos += 1;
            if !range.contains(&shard) {
                return true;
            }
            let origin = Origin {
                plan: self.plan.clone(),
                row: at,
                rows: self.row_shard.len() as u64,
                source: self.name.clone(),
                line: row.line,
                shard,
                shards: self.shards,
                shard_rows: self.shard_rows[shard as usize],
                malformed: match (&cells, &row.problem) {
                    (None, Some(reason)) => Some(Malformed {
                        input: row.input.clone(),
                        reason: reason.clone(),
                    }),
                    _ => None,
                },
            };
            let mut record = cells.unwrap_or_default();
            record.resize(self.layout.width, String::new());
            record.push(origin.to_cell());
            let w = &mut writers[(shard - range.start) as usize];
            if let Err(e) = w.write_record(&record) {
                failure = Some(AuditError::output(
                    self.dir.join(shard_file_name(shard)),
                    e.into(),
                ));
                return false;
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if pos != self.row_shard.len() {
            return Err(AuditError::input(
                &self.name,
                None,
                "has fewer rows than when it was read first; plan it again",
            ));
        }
        for (w, i) in writers.into_iter().zip(range) {
            let path = self.dir.join(shard_file_name(i));
            let err = |e: std::io::Error| AuditError::output(&path, e);
            let buf = w.into_inner().map_err(|e| err(e.into_error()))?;
            let mut tmp = buf.into_inner().map_err(|e| err(e.into_error()))?;
            tmp.flush().map_err(err)?;
            tmp.as_file().sync_all().map_err(err)?;
            let tmp = tmp.into_temp_path();
            crate::output::set_readable(&tmp);
            tmp.persist(&path).map_err(|e| err(e.error))?;
        }
        Ok(())
    }

    /// Removes `shard-<k>.csv` for k ≥ N, left by an earlier plan with more shards.
    fn remove_stale(&self) -> Result<Vec<String>, AuditError> {
        let mut removed = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| AuditError::output(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_prefix("shard-")
                .and_then(|n| n.strip_suffix(".csv"))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|k| k >= u64::from(self.shards));
            if stale {
                std::fs::remove_file(entry.path())
                    .map_err(|e| AuditError::output(entry.path(), e))?;
                removed.push(name);
            }
        }
        removed.sort();
        Ok(removed)
    }
}
