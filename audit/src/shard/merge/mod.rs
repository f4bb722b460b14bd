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
//!
//! Pass 1 is `scan` beside this file, pass 2 `write`.

mod scan;
mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::Origin;
use crate::app::{Exit, Reports, open_sinks, report_formats};
use crate::error::AuditError;

use scan::scan;
use write::write;

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
