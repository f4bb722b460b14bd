//! Pass 1 of `merge`: only each line's `row.origin` is read, and the files must add up (one
//! plan, one file per shard, rows in input order, no row twice, every shard complete, every
//! input row present); an error names the shard and the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{FileScan, Scan};
use crate::error::AuditError;
use crate::shard::Origin;

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
pub(super) fn scan(paths: &[PathBuf]) -> Result<Scan, AuditError> {
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
