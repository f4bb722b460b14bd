//! `mailcheck-audit history …`: the recorded runs, read back. Text for people (times in the
//! local zone), `--format json` for machines (RFC 3339 times with the local offset).
//!
//! - `runs [--limit N]`: the latest runs, newest first, with their verdict counts.
//! - `show DOMAIN [--limit N]`: the domain's timeline, oldest first: each run's verdict, the
//!   change from the run before (by the rules of [`super::changes`]) and the findings that
//!   appeared and went away.
//! - `diff RUN [RUN]`: what changed between two runs (the earlier one is the base); with one
//!   RUN, since the run before it. RUN is an id, a unique prefix, `latest` or `previous`.
//! - `prune --keep-days N`: delete the runs that started more than N days ago (never the newest
//!   run, so the next one still has a baseline).
//! - `export [--run RUN]`: every recorded row as a JSON line: the audit's JSONL line (report and
//!   `row`) plus `run_id` and `run_started_at`.
//!
//! `show` and `diff`, the two views of what changed, are in `timeline` beside this file.

mod timeline;

use std::fmt::Write as _;
use std::io::Write as _;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::store::RunInfo;
use super::{History, HistoryError, Location, time};
use crate::app::Exit;
use crate::cli::Cli;
use crate::error::AuditError;
use crate::sanitize::terminal;

use timeline::{diff, show};

/// `mailcheck-audit history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// What to do
    #[command(subcommand)]
    pub action: Action,

    /// Output: text (local times), or json for scripts
    #[arg(
        id = "history_format",
        long = "format",
        value_enum,
        value_name = "F",
        default_value_t = HistoryFormat::Text,
        global = true
    )]
    pub format: HistoryFormat,
}

/// Output formats of the `history` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// Readable text, times in the local zone.
    Text,
    /// JSON (`export` always writes JSON lines).
    Json,
}

/// The `history` subcommands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// List the recorded runs, newest first
    Runs {
        /// How many
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: i64,
    },
    /// A domain's timeline: its verdict and the findings that came and went, run by run
    Show {
        /// The domain (or the input as given, for an invalid row)
        domain: String,
        /// How many of its latest runs
        #[arg(long, value_name = "N", default_value_t = 30)]
        limit: i64,
    },
    /// What changed between two runs (one RUN: since the run before it); a RUN is an id, a
    /// unique prefix of one, `latest` or `previous`
    Diff {
        /// A run
        run: String,
        /// Another run (the earlier of the two is the base)
        other: Option<String>,
    },
    /// Delete the runs older than N days (the newest run is always kept)
    Prune {
        /// Keep the runs of the last N days
        #[arg(long, value_name = "N")]
        keep_days: u32,
    },
    /// Every recorded row as JSON lines (report, row, run_id, run_started_at)
    Export {
        /// Only this run
        #[arg(long, value_name = "RUN")]
        run: Option<String>,
    },
}

/// Runs a `history` subcommand.
pub async fn main(cli: &Cli, args: &HistoryArgs) -> Result<Exit, AuditError> {
    let location = cli.history_location()?.ok_or_else(|| {
        AuditError::Usage(format!(
            "no history to read: {}=off; give --history PATH|URL",
            super::ENV
        ))
    })?;
    if let Location::Sqlite(path) = &location
        && !path.exists()
    {
        return Err(HistoryError::NoSuchRun(format!(
            "no run history at {} yet: runs record there by default (or give --history PATH|URL)",
            path.display()
        ))
        .into());
    }
    let store = History::open(&location).await?;
    let json = args.format == HistoryFormat::Json;
    let out = match &args.action {
        Action::Runs { limit } => runs(&store, (*limit).max(1), json).await?,
        Action::Show { domain, limit } => show(&store, domain, (*limit).max(1), json).await?,
        Action::Diff { run, other } => diff(&store, run, other.as_deref(), json).await?,
        Action::Prune { keep_days } => prune(&store, *keep_days, json).await?,
        Action::Export { run } => {
            export(&store, run.as_deref()).await?;
            String::new()
        }
    };
    store.close().await;
    print!("{out}");
    Ok(Exit::Ok)
}

pub(super) fn run_json(r: &RunInfo) -> Value {
    let verdicts: serde_json::Map<String, Value> = r
        .verdicts
        .iter()
        .map(|(v, n)| (v.as_str().to_owned(), json!(n)))
        .collect();
    json!({
        "run_id": r.meta.run_id,
        "started_at": time::rfc3339(r.meta.started_at),
        "finished_at": r.finished_at.map(time::rfc3339),
        "input_name": r.meta.input_name,
        "input_hash": r.meta.input_hash,
        "host": r.meta.host,
        "version": r.meta.tool_version,
        "rows": r.rows,
        "verdicts": verdicts,
    })
}

fn verdicts_text(r: &RunInfo) -> String {
    r.verdicts
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

async fn runs(store: &History, limit: i64, json: bool) -> Result<String, AuditError> {
    let runs = store.runs(limit).await?;
    if json {
        return Ok(pretty(&Value::Array(runs.iter().map(run_json).collect())));
    }
    if runs.is_empty() {
        return Ok("No runs recorded yet.\n".to_owned());
    }
    let mut out = format!(
        "{:<26} {:<16} {:<16} {:>6}  {:<24} VERDICTS\n",
        "RUN", "STARTED", "FINISHED", "ROWS", "INPUT"
    );
    for r in &runs {
        let mut input: String = terminal(&r.meta.input_name).chars().take(24).collect();
        if r.meta.input_name.chars().count() > 24 {
            input.pop();
            input.push('…');
        }
        let _ = writeln!(
            out,
            "{:<26} {:<16} {:<16} {:>6}  {input:<24} {}",
            r.meta.run_id,
            time::local(r.meta.started_at),
            r.finished_at
                .map_or_else(|| "(unfinished)".to_owned(), time::local),
            r.rows,
            verdicts_text(r)
        );
    }
    Ok(out)
}

async fn prune(store: &History, keep_days: u32, json: bool) -> Result<String, AuditError> {
    let cutoff = time::now_ms() - i64::from(keep_days) * 86_400_000;
    let p = store.prune(cutoff).await?;
    Ok(if json {
        pretty(&json!({
            "runs_deleted": p.runs,
            "rows_deleted": p.results,
            "cutoff": time::rfc3339(cutoff),
        }))
    } else {
        format!(
            "Deleted {} run(s) ({} row(s)) started before {} (the newest run is always kept).\n",
            p.runs,
            p.results,
            time::local(cutoff)
        )
    })
}

async fn export(store: &History, run: Option<&str>) -> Result<(), AuditError> {
    let run_id = match run {
        Some(spec) => Some(store.run(spec).await?.meta.run_id),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    store
        .export(run_id.as_deref(), |run, started, row, report| {
            let mut v: Value = serde_json::from_str(report).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert(
                    "row".to_owned(),
                    serde_json::from_str(row).unwrap_or(Value::Null),
                );
                map.insert("run_id".to_owned(), json!(run));
                map.insert("run_started_at".to_owned(), json!(time::rfc3339(started)));
            }
            serde_json::to_writer(&mut w, &v)?;
            w.write_all(b"\n")
        })
        .await?;
    w.flush().map_err(|e| AuditError::output("-", e))
}
