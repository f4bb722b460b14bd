//! The audit engine: rows in, reports out, with bounded memory.
//!
//! ```text
//! reader thread ──rows (bounded channel)──▶ async loop ──spawn──▶ check + render (rayon)
//!                                              │ reorder buffer (≤ window rows)
//!                                              ▼ in input order
//!                                   summary, progress ──chunks (bounded)──▶ writer thread
//! ```
//!
//! - At most `concurrency` domains are in flight, and at most `window` rows between the oldest
//!   unfinished one and the newest started, so the reorder buffer (and memory) is bounded while a
//!   slow domain does not stall the others until the window fills.
//! - Duplicates: the first row of a domain runs the check, later rows (also while it is still
//!   running) share its report. The memo keeps the last [`Options::dedupe_memory`] domains, so
//!   duplicates further apart than that are checked again (cheaply: the library's per-IP caches
//!   still hold the MX hosts' results).
//! - Politeness (one connection per IP, session reuse, remembered failures, PTR/DNSBL caches) is
//!   the [`Checker`]'s; one checker serves the whole run.
//! - Rendering (JSON, CSV, HTML) is CPU work: it runs on rayon, handed over with a oneshot, never
//!   on a tokio worker.
//!
//! Beside this file: `row` (one row's task: the duplicate memo, the check or the shared report,
//! the comparison with the history, rendering) and `writer` (the writer thread).

mod row;
mod writer;

use row::Dedupe;
use writer::write_loop;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailcheck::{Checker, Report};
use tokio::sync::mpsc;

use crate::error::AuditError;
use crate::history::store::Recorded;
use crate::history::{ActiveRun, Changes, domain_key};
use crate::input::{Inputs, Row};
use crate::output::{Chunk, Render, Sink};
use crate::resume::Resume;
use crate::summary::Summary;

/// Most rows recorded in the history in one transaction.
pub const MAX_HISTORY_BATCH: usize = 256;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Domains in flight.
    pub concurrency: usize,
    /// Rows between the oldest unfinished and the newest started (≥ concurrency).
    pub window: usize,
    /// Distinct domains remembered for duplicate rows.
    pub dedupe_memory: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Expected number of rows, for the bar's ETA (unknown for stdin).
    pub expected_rows: Option<u64>,
}

impl Options {
    /// Defaults for a concurrency.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            concurrency,
            window: concurrency.saturating_mul(4).max(64),
            dedupe_memory: concurrency.saturating_mul(4).max(1024),
            progress: false,
            expected_rows: None,
        }
    }
}

/// Shared by every row task.
#[derive(Debug)]
struct Ctx {
    checker: Arc<Checker>,
    dedupe: Dedupe,
    resume: Option<Arc<Resume>>,
    renderers: Vec<Arc<dyn Render>>,
    columns: Arc<[String]>,
    history: Option<Arc<ActiveRun>>,
}

/// How a row's report was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Checked,
    Duplicate,
    /// This very row is in the JSONL being resumed: not written there again.
    Resumed,
    /// Another row of the same domain is in the JSONL being resumed: not probed again, but this
    /// row is new and written everywhere.
    ResumedDomain,
}

#[derive(Debug)]
struct Done {
    seq: u64,
    report: Arc<Report>,
    chunks: Vec<Chunk>,
    origin: Origin,
    changes: Option<Changes>,
    record: Option<Recorded>,
}

enum WriterMsg {
    Row {
        chunks: Vec<Chunk>,
        resumed: bool,
        record: Option<Box<Recorded>>,
    },
    Finish(Box<Summary>),
}

fn progress_bar(opts: &Options) -> ProgressBar {
    let target = if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(opts.expected_rows, target);
    let template = if opts.expected_rows.is_some() {
        "{spinner:.green} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} \
         ({per_sec}, eta {eta}) {msg}"
    } else {
        "{spinner:.green} [{elapsed_precise}] {pos} rows ({per_sec}) {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    if opts.progress {
        pb.enable_steady_tick(Duration::from_millis(120));
    }
    pb
}

/// Audits every row of `inputs` with `checker`, writing each result to every sink in input
/// order as it completes. Returns the summary. The caller shuts the checker down.
///
/// With a `history` run, each row is compared with its domain's previous run (the reports show
/// the changes), and the writer records every batch of rows in the history in one transaction
/// *before* it writes them to any report: a killed run loses no row that a report shows.
pub async fn run(
    checker: Arc<Checker>,
    inputs: Inputs,
    sinks: Vec<Sink>,
    resume: Option<Resume>,
    history: Option<ActiveRun>,
    opts: &Options,
) -> Result<Summary, AuditError> {
    let history = history.map(Arc::new);
    let started = Instant::now();
    let columns: Arc<[String]> = inputs.columns().to_vec().into();
    let ctx = Arc::new(Ctx {
        checker,
        dedupe: Dedupe::new(opts.dedupe_memory),
        resume: resume.map(Arc::new),
        renderers: sinks.iter().map(Sink::renderer).collect(),
        columns,
        history: history.clone(),
    });

    // Reader thread: blocking file/stdin reads, bounded channel.
    let (row_tx, mut row_rx) = mpsc::channel::<Row>(opts.concurrency.max(16));
    let reader = std::thread::Builder::new()
        .name("mailcheck-input".to_owned())
        .spawn(move || inputs.for_each_row(|row| row_tx.blocking_send(row).is_ok()))
        .map_err(|e| AuditError::Usage(format!("cannot start the input thread: {e}")))?;

    // Writer thread: blocking file writes, bounded channel.
    let (out_tx, out_rx) = mpsc::channel::<WriterMsg>(64);
    let handle = tokio::runtime::Handle::current();
    let writer = std::thread::Builder::new()
        .name("mailcheck-output".to_owned())
        .spawn(move || write_loop(out_rx, sinks, history.as_deref(), &handle))
        .map_err(|e| AuditError::Usage(format!("cannot start the output thread: {e}")))?;

    let pb = progress_bar(opts);
    let mut summary = Summary::default();
    let mut pending = FuturesUnordered::new();
    let mut ready: BTreeMap<u64, Done> = BTreeMap::new();
    let (mut next_seq, mut emitted) = (0u64, 0u64);
    let mut input_open = true;
    let mut failure: Option<AuditError> = None;
    let window = opts.window.max(opts.concurrency) as u64;

    'run: loop {
        let admit = input_open && pending.len() < opts.concurrency && next_seq - emitted < window;
        tokio::select! {
            row = row_rx.recv(), if admit => match row {
                Some(row) => {
                    pending.push(tokio::spawn(Arc::clone(&ctx).process(next_seq, row)));
                    next_seq += 1;
                }
                None => input_open = false,
            },
            Some(joined) = pending.next(), if !pending.is_empty() => {
                let done = match joined {
                    Ok(Ok(done)) => done,
                    Ok(Err(e)) => { failure = Some(e); break 'run; }
                    Err(e) => {
                        failure = Some(AuditError::Usage(format!("a check task failed: {e}")));
                        break 'run;
                    }
                };
                ready.insert(done.seq, done);
                while let Some(done) = ready.remove(&emitted) {
                    emitted += 1;
                    summary.add(&done.report);
                    if let Some(changes) = &done.changes {
                        summary.add_changes(&domain_key(&done.report), &done.report, changes);
                    }
                    match done.origin {
                        Origin::Resumed | Origin::ResumedDomain => summary.resumed += 1,
                        Origin::Duplicate => summary.duplicates += 1,
                        Origin::Checked => {}
                    }
                    pb.inc(1);
                    let msg = WriterMsg::Row {
                        chunks: done.chunks,
                        resumed: done.origin == Origin::Resumed,
                        record: done.record.map(Box::new),
                    };
                    if out_tx.send(msg).await.is_err() {
                        break 'run;
                    }
                }
            },
            else => break 'run,
        }
    }
    drop(row_rx);
    pb.finish_and_clear();
    summary.elapsed = started.elapsed();
    let _ = out_tx
        .send(WriterMsg::Finish(Box::new(summary.clone())))
        .await;
    drop(out_tx);
    let written = tokio::task::spawn_blocking(move || writer.join())
        .await
        .ok()
        .and_then(Result::ok);
    let read = tokio::task::spawn_blocking(move || reader.join())
        .await
        .ok()
        .and_then(Result::ok);
    if let Some(e) = failure {
        return Err(e);
    }
    match written {
        Some(Err(e)) => return Err(e),
        None => return Err(AuditError::Usage("the output thread failed".to_owned())),
        Some(Ok(())) => {}
    }
    match read {
        Some(Err(e)) => Err(e),
        None => Err(AuditError::Usage("the input thread failed".to_owned())),
        Some(Ok(())) => Ok(summary),
    }
}
