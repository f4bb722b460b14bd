//! `mailcheck-audit merge FILES… -o …`: the reports of a sharded audit, rebuilt from the shards'
//! JSONL in input order through the same renderers and sinks as a normal run.
//!
//! Two passes over the files, so nothing is written unless everything adds up:
//! 1. `scan` reads only each line's `row.origin`: one plan, one shard per file, each shard in
//!    one file, rows in ascending input order within a file, no row twice, every shard complete
//!    (its rows = its `shard_rows`) and, all together, every row of the input. An error names
//!    the shard and the file.
//! 2. The files are merged by input position (each is already in input order, as a run writes
//!    its rows) with one line per file in memory; each line becomes the input row (the original
//!    input's name, line and pass-through columns), the report, its `changes` and `run_id`,
//!    rendered to every `-o` report. The summary counts the rows as a run would.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use mailcheck::Report;
use serde::Deserialize;
use serde_json::Value;

use super::Origin;
use crate::app::{Exit, Reports, open_sinks, report_formats};
use crate::error::AuditError;
use crate::history::{Changes, domain_key};
use crate::input::Row;
use crate::output::{Item, Sink, render_all};
use crate::summary::Summary;

/// `mailcheck-audit merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' JSONL reports (e.g. out/shard-*.jsonl), in any order
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Write a report; format from the extension: .csv .jsonl .json .html .md .txt (repeatable)
    #[arg(short = 'o', long = "output", value_name = "PATH", required = true)]
    pub outputs: Vec<PathBuf>,

    /// No summary on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

/// What pass 1 learned about one file.
#[derive(Debug, Clone)]
struct FileScan {
    path: PathBuf,
    /// The shard, plan and counts (`None`: no rows).
    first: Option<Origin>,
    rows: u64,
    column_order: Vec<String>,
}

/// What pass 1 learned about the set.
#[derive(Debug)]
struct Scan {
    files: Vec<FileScan>,
    rows: u64,
    columns: Vec<String>,
    source: String,
    /// Some shard kept a run history (its rows carry changes).
    history: bool,
}

#[derive(Debug, Deserialize)]
struct PeekLine {
    row: Option<PeekRow>,
    /// Present when the shard kept a run history.
    changes: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct PeekRow {
    origin: Option<Origin>,
    #[serde(default)]
    column_order: Vec<String>,
}

/// Runs `merge`.
pub async fn main(args: &MergeArgs) -> Result<Exit, AuditError> {
    let formats = report_formats(&args.outputs)?;
    for (out, _) in &formats {
        if args.files.iter().any(|f| same_file(f, out)) {
            return Err(AuditError::Usage(format!(
                "-o {}: is one of the shard files being merged",
                out.display()
            )));
        }
    }
    let files = args.files.clone();
    let quiet = args.quiet;
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let scan = scan(&files)?;
        let sinks = open_sinks(&Reports {
            formats: &formats,
            stdout: None,
            columns: &scan.columns,
            title: "Mail delivery audit",
            detailed: false,
            single: false,
            resume: None,
            // Shard outputs carry each row's changes (not the history's trend).
            history: scan.history,
        })?;
        let mut summary = write(&scan, sinks, started)?;
        summary.elapsed = started.elapsed();
        if !quiet {
            let text = summary.to_text();
            eprintln!(
                "Merged {} row(s) of {} from {} shard file(s) in {:.1} s.",
                summary.rows,
                scan.source,
                scan.files.len(),
                summary.elapsed.as_secs_f64()
            );
            // The run summary without its first line (the shards' timings are not known here).
            for line in text.lines().skip(1) {
                eprintln!("{line}");
            }
        }
        Ok(Exit::Ok)
    })
    .await
    .map_err(|e| AuditError::Usage(format!("merge thread failed: {e}")))?
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads each line of `path` (a complete line, with its number), calling `each` until it
/// returns an error. A last line without its newline is a shard killed mid-write.
fn lines(
    path: &Path,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let f =
        File::open(path).map_err(|e| AuditError::input(path, None, format!("cannot read: {e}")))?;
    let mut reader = BufReader::with_capacity(256 * 1024, f);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::input(path, Some(line_no + 1), e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            return Err(AuditError::input(
                path,
                Some(line_no),
                "the last line is cut off: the shard was stopped while writing; run it again with \
                 --resume",
            ));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(line_no, &buf)?;
    }
}

fn shard_name(o: &Origin) -> String {
    format!("shard {} of {}", o.shard, o.shards)
}

/// Pass 1: checks that the files add up to one complete plan.
fn scan(paths: &[PathBuf]) -> Result<Scan, AuditError> {
    let mut files = Vec::new();
    let mut plan: Option<(Origin, PathBuf)> = None;
    let mut by_shard: HashMap<u32, PathBuf> = HashMap::new();
    let mut seen: Vec<u64> = Vec::new();
    let mut history = false;
    for path in paths {
        let mut file = FileScan {
            path: path.clone(),
            first: None,
            rows: 0,
            column_order: Vec::new(),
        };
        let mut last: Option<u64> = None;
        lines(path, |line_no, bytes| {
            let at = |m: String| AuditError::input(path, Some(line_no), m);
            let peek: PeekLine = serde_json::from_slice(bytes)
                .map_err(|e| at(format!("not a mailcheck-audit JSONL line: {e}")))?;
            history |= peek.changes.is_some();
            let row = peek
                .row
                .ok_or_else(|| at("not a mailcheck-audit JSONL line (no `row`)".to_owned()))?;
            let o = row.origin.ok_or_else(|| {
                at(
                    "no row.origin: not the JSONL of a shard (run the shard-<i>.csv files `plan` \
                    wrote, with -o shard-<i>.jsonl)"
                        .to_owned(),
                )
            })?;
            match &file.first {
                None => {
                    if let Some((p, p_path)) = &plan {
                        if p.plan != o.plan || p.shards != o.shards || p.rows != o.rows {
                            return Err(AuditError::Shards(format!(
                                "{} is from plan {} ({} shards) but {} is from plan {} \
                                 ({} shards): merge the shards of one plan",
                                path.display(),
                                o.plan,
                                o.shards,
                                p_path.display(),
                                p.plan,
                                p.shards
                            )));
                        }
                    } else {
                        plan = Some((o.clone(), path.clone()));
                        seen = vec![0; usize::try_from(o.rows.div_ceil(64)).unwrap_or(0)];
                    }
                    if let Some(other) = by_shard.insert(o.shard, path.clone()) {
                        return Err(AuditError::Shards(format!(
                            "{} is in two files, {} and {}: give each shard's JSONL once",
                            shard_name(&o),
                            other.display(),
                            path.display()
                        )));
                    }
                    file.column_order = row.column_order;
                    file.first = Some(o.clone());
                }
                Some(first) => {
                    if first.plan != o.plan || first.shard != o.shard {
                        return Err(at(format!(
                            "a row of {} (plan {}) in the file of {} (plan {}): one file per shard",
                            shard_name(&o),
                            o.plan,
                            shard_name(first),
                            first.plan
                        )));
                    }
                }
            }
            match last {
                Some(prev) if o.row == prev => {
                    return Err(at(format!(
                        "input row {} (line {} of {}) again: {} has it twice",
                        o.row + 1,
                        o.line,
                        o.source,
                        shard_name(&o)
                    )));
                }
                Some(prev) if o.row < prev => {
                    return Err(at(format!(
                        "rows out of input order in {} (row {} after row {}): was the file edited?",
                        shard_name(&o),
                        o.row + 1,
                        prev + 1
                    )));
                }
                _ => {}
            }
            last = Some(o.row);
            if o.row >= o.rows {
                return Err(at(format!(
                    "row {} of an input of {} rows: the origin is damaged",
                    o.row + 1,
                    o.rows
                )));
            }
            let (word, bit) = ((o.row / 64) as usize, 1u64 << (o.row % 64));
            if seen[word] & bit != 0 {
                return Err(AuditError::Shards(format!(
                    "input row {} (line {} of {}) is in two shards ({} in {} and another file): \
                     the files come from damaged plans",
                    o.row + 1,
                    o.line,
                    o.source,
                    shard_name(&o),
                    path.display()
                )));
            }
            seen[word] |= bit;
            file.rows += 1;
            Ok(())
        })?;
        files.push(file);
    }
    let Some((plan, _)) = plan else {
        return Err(AuditError::Shards(
            "none of the files has a row: did the shards run? \
             (an audit writes its JSONL row by row)"
                .to_owned(),
        ));
    };
    for f in &files {
        if let Some(o) = &f.first
            && f.rows != o.shard_rows
        {
            return Err(AuditError::Shards(format!(
                "{} ({}) has {} of its {} rows: the shard did not finish; run it again with \
                 --resume and merge again",
                shard_name(o),
                f.path.display(),
                f.rows,
                o.shard_rows
            )));
        }
    }
    let found: u64 = files.iter().map(|f| f.rows).sum();
    if found < plan.rows {
        let mut missing: Vec<u32> = (0..plan.shards)
            .filter(|s| !by_shard.contains_key(s))
            .collect();
        missing.sort_unstable();
        let names: Vec<String> = missing.iter().map(|s| format!("shard-{s}.jsonl")).collect();
        return Err(AuditError::Shards(format!(
            "missing shard(s) {} of {}: {} of the input's {} rows are in none of the files \
             (expected e.g. {})",
            missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            plan.shards,
            plan.rows - found,
            plan.rows,
            names.join(", ")
        )));
    }
    let columns = files
        .iter()
        .find(|f| f.first.is_some())
        .map(|f| f.column_order.clone())
        .unwrap_or_default();
    if let Some(f) = files
        .iter()
        .find(|f| f.first.is_some() && f.column_order != columns)
    {
        return Err(AuditError::input(
            &f.path,
            Some(1),
            "its columns differ from the other shards': the shards read different inputs",
        ));
    }
    Ok(Scan {
        rows: plan.rows,
        files,
        columns,
        source: plan.source,
        history,
    })
}

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
fn write(scan: &Scan, mut sinks: Vec<Sink>, started: Instant) -> Result<Summary, AuditError> {
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
