//! Pass 2 of `merge`: the files merged by input position (one line per file in memory), each
//! line turned back into the original input's row, its report, changes and run id, and
//! rendered to every `-o` report.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use mailcheck::Report;
use serde_json::Value;

use super::Scan;
use crate::error::AuditError;
use crate::history::{Changes, domain_key};
use crate::input::Row;
use crate::output::{Item, Sink, render_all};
use crate::shard::Origin;
use crate::summary::Summary;

/// One file's next line, parsed, with its input position.
#[derive(Debug)]
struct Cursor {
    path: PathBuf,
    reader: BufReader<File>,
    line_no: u64,
}

impl Cursor {
    fn next(&mut self) -> Result<Option<(u64, Value)>, AuditError> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = self.reader.read_until(b'\n', &mut buf).map_err(|e| {
                AuditError::input(&self.path, Some(self.line_no + 1), e.to_string())
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v: Value = serde_json::from_slice(&buf)
                .map_err(|e| AuditError::input(&self.path, Some(self.line_no), e.to_string()))?;
            let pos = v
                .pointer("/row/origin/row")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    AuditError::input(
                        &self.path,
                        Some(self.line_no),
                        "changed since it was checked",
                    )
                })?;
            return Ok(Some((pos, v)));
        }
    }
}

/// Pass 2: every row in input order to every sink.
pub(super) fn write(
    scan: &Scan,
    mut sinks: Vec<Sink>,
    started: Instant,
) -> Result<Summary, AuditError> {
    let renderers: Vec<_> = sinks.iter().map(Sink::renderer).collect();
    let mut cursors = Vec::new();
    let mut heads: Vec<Option<Value>> = Vec::new();
    let mut heap = BinaryHeap::new();
    for f in scan.files.iter().filter(|f| f.rows > 0) {
        let file = File::open(&f.path)
            .map_err(|e| AuditError::input(&f.path, None, format!("cannot read: {e}")))?;
        let mut c = Cursor {
            path: f.path.clone(),
            reader: BufReader::with_capacity(256 * 1024, file),
            line_no: 0,
        };
        if let Some((pos, v)) = c.next()? {
            heap.push(Reverse((pos, cursors.len())));
            heads.push(Some(v));
        } else {
            heads.push(None);
        }
        cursors.push(c);
    }
    let mut summary = Summary::default();
    let mut expected = 0u64;
    while let Some(Reverse((pos, i))) = heap.pop() {
        let Some(v) = heads[i].take() else { break };
        if pos != expected {
            return Err(AuditError::Shards(format!(
                "{}: input row {} where row {} was due: the file changed during the merge",
                cursors[i].path.display(),
                pos + 1,
                expected + 1
            )));
        }
        expected += 1;
        let (row, report, changes, run_id) = row_of(v, &scan.columns)
            .map_err(|m| AuditError::input(&cursors[i].path, Some(cursors[i].line_no), m))?;
        let item = Item {
            row: &row,
            report: &report,
            columns: &scan.columns,
            changes: changes.as_ref(),
            run_id: run_id.as_deref(),
            trend: &[],
        };
        let chunks = render_all(&renderers, item);
        for (sink, chunk) in sinks.iter_mut().zip(&chunks) {
            sink.write(chunk)?;
        }
        summary.add(&report);
        if let Some(c) = &changes {
            summary.add_changes(&domain_key(&report), &report, c);
        }
        if let Some((next, v)) = cursors[i].next()? {
            heads[i] = Some(v);
            heap.push(Reverse((next, i)));
        }
    }
    if expected != scan.rows {
        return Err(AuditError::Shards(format!(
            "{expected} of {} rows merged: a file changed during the merge",
            scan.rows
        )));
    }
    summary.elapsed = started.elapsed();
    for sink in sinks {
        sink.finish(&summary)?;
    }
    Ok(summary)
}

/// A shard's JSONL line as the original input's row, its report, changes and run id.
type Parts = (Row, Report, Option<Changes>, Option<String>);

fn row_of(mut v: Value, columns: &[String]) -> Result<Parts, String> {
    let Value::Object(map) = &mut v else {
        return Err("not a JSON object".to_owned());
    };
    let row = map.remove("row").unwrap_or(Value::Null);
    let run_id = map
        .remove("run_id")
        .and_then(|r| r.as_str().map(str::to_owned));
    let changes = match map.remove("changes") {
        Some(c) => Some(
            Changes::from_json(&c)
                .ok_or_else(|| "a `changes` object that cannot be read".to_owned())?,
        ),
        None => None,
    };
    let origin: Origin = row
        .get("origin")
        .cloned()
        .ok_or_else(|| "no row.origin".to_owned())
        .and_then(|o| serde_json::from_value(o).map_err(|e| e.to_string()))?;
    let cells = row.get("columns");
    let row = Row {
        source: Arc::from(origin.source.as_str()),
        line: origin.line,
        input: row
            .get("input")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        columns: columns
            .iter()
            .map(|c| {
                cells
                    .and_then(|m| m.get(c))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect(),
        problem: origin.malformed.map(|m| m.reason),
        origin: None,
    };
    let report: Report = serde_json::from_value(v).map_err(|e| format!("not a report: {e}"))?;
    Ok((row, report, changes, run_id))
}
