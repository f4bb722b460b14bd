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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailcheck::{Checker, DomainName, Report};
use tokio::sync::{OnceCell, mpsc, oneshot};

use crate::error::AuditError;
use crate::history::store::Recorded;
use crate::history::{ActiveRun, Changes, FindingKey, TREND_RUNS, compare, domain_key};
use crate::input::{Inputs, Row};
use crate::output::{Chunk, Item, Render, Sink, render_all};
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

/// Recently checked domains, shared by duplicate rows (also while the first check runs).
#[derive(Debug)]
struct Dedupe {
    inner: Mutex<DedupeInner>,
    cap: usize,
}

#[derive(Debug, Default)]
struct DedupeInner {
    map: HashMap<String, Arc<OnceCell<Arc<Report>>>>,
    order: VecDeque<String>,
}

impl Dedupe {
    fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(DedupeInner::default()),
            cap: cap.max(1),
        }
    }

    /// The cell for `domain`, and whether it existed (a duplicate row).
    fn cell(&self, domain: &str) -> (Arc<OnceCell<Arc<Report>>>, bool) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = g.map.get(domain) {
            return (Arc::clone(c), true);
        }
        let c = Arc::new(OnceCell::new());
        g.map.insert(domain.to_owned(), Arc::clone(&c));
        g.order.push_back(domain.to_owned());
        while g.order.len() > self.cap {
            if let Some(old) = g.order.pop_front() {
                g.map.remove(&old);
            }
        }
        (c, false)
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

/// What the history keeps of one row.
fn recorded(seq: u64, row: &Row, report: &Report, columns: &[String]) -> Recorded {
    Recorded {
        row_no: i64::try_from(seq).unwrap_or(i64::MAX),
        source: row.source.to_string(),
        line: i64::try_from(row.line).unwrap_or(i64::MAX),
        input: row.input.clone(),
        domain: domain_key(report),
        verdict: report.verdict,
        worst: report.worst.map(|s| s.as_str().to_owned()),
        checked_at: crate::history::time::now_ms(),
        row_json: crate::output::jsonl::row_value(row, columns).to_string(),
        report_json: serde_json::to_string(report).unwrap_or_default(),
        findings: FindingKey::of(report),
    }
}

impl Ctx {
    async fn report(&self, row: &Row) -> Result<(Arc<Report>, Origin), AuditError> {
        if let Some(problem) = &row.problem {
            return Ok((
                Arc::new(Report::invalid(&row.input, problem)),
                Origin::Checked,
            ));
        }
        if let Some(resume) = &self.resume
            && let Some(offset) = resume.row_offset(row)
        {
            let resume = Arc::clone(resume);
            let report = tokio::task::spawn_blocking(move || resume.read(offset))
                .await
                .map_err(|e| AuditError::Usage(format!("resume reader failed: {e}")))??;
            return Ok((Arc::new(report), Origin::Resumed));
        }
        let domain = match DomainName::parse(&row.input) {
            Ok(d) => d,
            Err(e) => return Ok((Arc::new(Report::invalid(&row.input, e)), Origin::Checked)),
        };
        let (cell, existed) = self.dedupe.cell(domain.as_str());
        let mut origin = if existed {
            Origin::Duplicate
        } else {
            Origin::Checked
        };
        let report = cell
            .get_or_try_init(|| async {
                if let Some(resume) = &self.resume
                    && let Some(offset) = resume.domain_offset(domain.as_str())
                {
                    let resume = Arc::clone(resume);
                    origin = Origin::ResumedDomain;
                    let r = tokio::task::spawn_blocking(move || resume.read(offset))
                        .await
                        .map_err(|e| AuditError::Usage(format!("resume reader failed: {e}")))??;
                    return Ok::<_, AuditError>(Arc::new(r));
                }
                Ok(Arc::new(self.checker.check(&domain).await))
            })
            .await?;
        let report = if report.input == row.input {
            Arc::clone(report)
        } else {
            let mut r = Report::clone(report);
            r.input.clone_from(&row.input);
            Arc::new(r)
        };
        Ok((report, origin))
    }

    async fn process(self: Arc<Self>, seq: u64, row: Row) -> Result<Done, AuditError> {
        let (report, origin) = self.report(&row).await?;
        let (changes, trend) = match &self.history {
            Some(h) => {
                let key = domain_key(&report);
                let base = h.store.baseline(&h.run_id, &key, h.started_at).await?;
                let trend = h
                    .store
                    .recent(&h.run_id, &key, h.started_at, TREND_RUNS)
                    .await?;
                (Some(compare(base.as_ref(), &report)), trend)
            }
            None => (None, Vec::new()),
        };
        let (tx, rx) = oneshot::channel();
        let ctx = Arc::clone(&self);
        let rep = Arc::clone(&report);
        let ch = changes.clone();
        rayon::spawn(move || {
            let item = Item {
                row: &row,
                report: &rep,
                columns: &ctx.columns,
                changes: ch.as_ref(),
                run_id: ctx.history.as_ref().map(|h| h.run_id.as_str()),
                trend: &trend,
            };
            let chunks = render_all(&ctx.renderers, item);
            let record = ctx
                .history
                .is_some()
                .then(|| recorded(seq, &row, &rep, &ctx.columns));
            let _ = tx.send((chunks, record));
        });
        let (chunks, record) = rx
            .await
            .map_err(|_| AuditError::Usage("rendering failed".to_owned()))?;
        Ok(Done {
            seq,
            report,
            chunks,
            origin,
            changes,
            record,
        })
    }
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

/// The writer thread: takes every row that is waiting (up to [`MAX_HISTORY_BATCH`]), records
/// them in the history in one transaction, then writes them to the sinks, flushing each.
fn write_loop(
    mut rx: mpsc::Receiver<WriterMsg>,
    mut sinks: Vec<Sink>,
    history: Option<&ActiveRun>,
    handle: &tokio::runtime::Handle,
) -> Result<(), AuditError> {
    let mut held: Option<WriterMsg> = None;
    loop {
        let Some(msg) = held.take().or_else(|| rx.blocking_recv()) else {
            return Ok(());
        };
        match msg {
            WriterMsg::Row {
                chunks,
                resumed,
                record,
            } => {
                let mut batch = vec![(chunks, resumed)];
                let mut records: Vec<Recorded> = record.into_iter().map(|r| *r).collect();
                while batch.len() < MAX_HISTORY_BATCH {
                    match rx.try_recv() {
                        Ok(WriterMsg::Row {
                            chunks,
                            resumed,
                            record,
                        }) => {
                            batch.push((chunks, resumed));
                            records.extend(record.map(|r| *r));
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(h) = history {
                    handle.block_on(h.store.record(&h.run_id, &records))?;
                }
                for (chunks, resumed) in &batch {
                    for (sink, chunk) in sinks.iter_mut().zip(chunks) {
                        if !(*resumed && sink.resume_source) {
                            sink.write(chunk)?;
                        }
                    }
                }
            }
            WriterMsg::Finish(summary) => {
                for sink in sinks.drain(..) {
                    sink.finish(&summary)?;
                }
            }
        }
    }
}
