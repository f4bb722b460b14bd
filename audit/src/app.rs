//! One invocation, from parsed flags to the exit code: choose the inputs (or start the demo lab),
//! open the reports, run the engine, print the summary, apply `--fail-on`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailcheck::{CheckConfig, Checker};

use crate::cli::{Cli, Command, FailOn, StdoutFormat};
use crate::error::AuditError;
use crate::history::{self, ActiveRun, History, RunMeta};
use crate::input::{Inputs, Source};
use crate::output::csv::CsvRender;
use crate::output::html::HtmlRender;
use crate::output::jsonl::{JsonRender, JsonlRender};
use crate::output::markdown::MarkdownRender;
use crate::output::text::TextRender;
use crate::output::{Format, Render, Sink};
use crate::resume::Resume;
use crate::run::{self, Options};
use crate::summary::Summary;

/// How the run ended (usage and input errors are [`AuditError`]s: exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit 0.
    Ok,
    /// Exit 1: `--fail-on` reached.
    Failed,
}

/// Runs the whole invocation: a subcommand, `--vantage`, or an audit, step by step.
pub async fn main(cli: Cli) -> Result<Exit, AuditError> {
    match &cli.command {
        Some(Command::History(args)) => return history::command::main(&cli, args).await,
        Some(Command::Plan(args)) => return crate::shard::plan::main(args).await,
        Some(Command::Merge(args)) => return crate::shard::merge::main(args).await,
        Some(Command::Sender(args)) => return crate::sender::main(args).await,
        None => {}
    }
    let formats = report_formats(&cli.outputs)?;
    let resume_path = resume_target(&cli, &formats)?;
    if cli.vantage {
        return vantage(&cli).await;
    }
    let history_location = history_location(&cli)?;
    let plan = Plan::new(&cli).await?;
    let want_progress = !cli.no_progress
        && !cli.quiet
        && !plan.single
        && std::io::stderr().is_terminal()
        && std::env::var("TERM").is_ok_and(|t| t != "dumb");
    let (inputs, expected_rows, identity) = open_inputs(
        plan.sources.clone(),
        want_progress,
        history_location.is_some(),
    )
    .await?;
    let columns = inputs.columns().to_vec();
    let resume = load_resume(resume_path.as_ref(), cli.quiet).await?;
    let active = match &history_location {
        Some(location) => Some(
            open_run(
                location,
                resume.as_ref().and_then(Resume::run_id),
                identity.unwrap_or_default(),
                cli.quiet,
            )
            .await?,
        ),
        None => None,
    };
    let title = if cli.demo {
        "Mail delivery audit (offline demo)"
    } else {
        "Mail delivery audit"
    };
    let stdout_format = match (cli.format, cli.outputs.is_empty()) {
        (Some(f), _) => Some(f),
        (None, true) => Some(StdoutFormat::Text),
        (None, false) => None,
    };
    let sinks = open_sinks(&Reports {
        formats: &formats,
        stdout: stdout_format,
        columns: &columns,
        title,
        detailed: plan.only_domains,
        single: plan.single,
        resume: resume_path.as_deref(),
        history: active.is_some(),
    })?;

    let checker = Arc::new(Checker::new(plan.config)?);
    let mut opts = Options::new(cli.concurrency);
    opts.progress = want_progress;
    opts.expected_rows = expected_rows;
    let result = run::run(
        Arc::clone(&checker),
        inputs,
        sinks,
        resume,
        active.clone(),
        &opts,
    )
    .await;
    checker.shutdown().await;
    drop(plan.demo);
    let summary = result?;
    if let Some(a) = &active {
        finish_run(a, &summary).await?;
    }
    if !cli.quiet && !plan.single {
        eprint!("{}", summary.to_text());
        if cli.demo && cli.outputs.is_empty() {
            eprintln!(
                "Try `mailcheck-audit --demo -o demo.html -o demo.csv` for the reports, or \
                 `mailcheck-audit --demo --format jsonl` for the full JSON."
            );
        }
    }
    let fail_on = cli.fail_on.unwrap_or(if cli.demo {
        FailOn::Never
    } else {
        FailOn::Broken
    });
    Ok(exit_for(&summary, fail_on))
}

/// Where the run history is kept, if anywhere; `--fail-on worse|new-broken` needs one.
fn history_location(cli: &Cli) -> Result<Option<history::Location>, AuditError> {
    let location = cli.history_location()?;
    if let Some(f) = cli.fail_on
        && f.needs_history()
        && location.is_none()
    {
        return Err(AuditError::Usage(format!(
            "--fail-on {}: compares with previous runs, so it needs the history{}",
            if f == FailOn::Worse {
                "worse"
            } else {
                "new-broken"
            },
            if cli.demo {
                " (--demo records only with --history PATH)"
            } else {
                " (drop --no-history / MAILCHECK_HISTORY=off)"
            }
        )));
    }
    Ok(location)
}

/// What an audit checks and how: the library configuration, the sources, and the demo lab
/// that must outlive the run (`--demo`).
struct Plan {
    demo: Option<crate::demo::Demo>,
    config: CheckConfig,
    sources: Vec<Source>,
    /// Only domains were given (no file): text reports show each in detail.
    only_domains: bool,
    /// Exactly one domain.
    single: bool,
}

impl Plan {
    async fn new(cli: &Cli) -> Result<Self, AuditError> {
        let (demo, mut config, sources) = if cli.demo {
            let demo = crate::demo::start()
                .await
                .map_err(|e| AuditError::Usage(format!("cannot start the demo lab: {e}")))?;
            let mut config = demo.config.clone();
            apply_demo_overrides(cli, &mut config);
            // `--demo healthy.test` shows one lab domain in detail; no INPUT audits the whole
            // list.
            let sources = if cli.inputs.is_empty() {
                vec![demo.source.clone()]
            } else {
                Source::classify(&cli.inputs)?
            };
            (Some(demo), config, sources)
        } else {
            (None, cli.check_config()?, Source::classify(&cli.inputs)?)
        };
        let only_domains = sources.iter().all(|s| matches!(s, Source::Domains(_)));
        let domains: usize = sources
            .iter()
            .map(|s| match s {
                Source::Domains(d) => d.len(),
                _ => 0,
            })
            .sum();
        let single = only_domains && domains == 1;
        // One domain: nothing to share a session with, so close it at once and show the QUIT
        // in the transcript, as the seed's telnet session does.
        if single {
            config.smtp.reuse_idle = std::time::Duration::ZERO;
        }
        Ok(Self {
            demo,
            config,
            sources,
            only_domains,
            single,
        })
    }
}

/// Opens the sources (off the async threads), with a row estimate for the progress bar and
/// the input's identity for the history.
async fn open_inputs(
    sources: Vec<Source>,
    want_estimate: bool,
    want_identity: bool,
) -> Result<(Inputs, Option<u64>, Option<(String, String)>), AuditError> {
    tokio::task::spawn_blocking(move || {
        let estimate = if want_estimate {
            estimate_rows(&sources)
        } else {
            None
        };
        let identity = want_identity.then(|| history::input_identity(&sources));
        Inputs::open(sources).map(|i| (i, estimate, identity))
    })
    .await
    .map_err(|e| AuditError::Usage(format!("input thread failed: {e}")))?
}

/// The rows a resumed run already has.
async fn load_resume(path: Option<&PathBuf>, quiet: bool) -> Result<Option<Resume>, AuditError> {
    let Some(p) = path.cloned() else {
        return Ok(None);
    };
    let resume = tokio::task::spawn_blocking(move || Resume::load(&p))
        .await
        .map_err(|e| AuditError::Usage(format!("resume thread failed: {e}")))??;
    if !quiet {
        eprintln!("Resuming: {} row(s) already done.", resume.done());
    }
    Ok(Some(resume))
}

/// Records the run's vantage facts and its end in the history.
async fn finish_run(a: &ActiveRun, summary: &Summary) -> Result<(), AuditError> {
    if let Some((vantage, zones)) = &summary.vantage {
        let json = serde_json::json!({ "vantage": vantage, "dnsbl_zones": zones });
        a.store.set_vantage(&a.run_id, &json.to_string()).await?;
    }
    a.store
        .finish_run(&a.run_id, history::time::now_ms())
        .await?;
    a.store.close().await;
    Ok(())
}

/// The report format of each `-o` path, by extension.
pub fn report_formats(outputs: &[PathBuf]) -> Result<Vec<(PathBuf, Format)>, AuditError> {
    outputs
        .iter()
        .map(|path| {
            let f = Format::from_path(path).ok_or_else(|| {
                AuditError::Usage(format!(
                    "-o {}: unknown report format; use .csv .jsonl .json .html .md",
                    path.display()
                ))
            })?;
            Ok((path.clone(), f))
        })
        .collect()
}

/// The reports to open for a run (or a merge).
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    /// The `-o` files and their formats.
    pub formats: &'a [(PathBuf, Format)],
    /// The stdout format, if anything goes to stdout.
    pub stdout: Option<StdoutFormat>,
    /// The pass-through column names.
    pub columns: &'a [String],
    /// The HTML and Markdown title.
    pub title: &'a str,
    /// Text reports show each domain in detail (only domains were given).
    pub detailed: bool,
    /// One domain: JSON on stdout is the bare report.
    pub single: bool,
    /// The JSONL being resumed (appended to, not truncated).
    pub resume: Option<&'a Path>,
    /// A run history is kept: the HTML report shows the change and trend columns.
    pub history: bool,
}

/// Opens every report's sink, stdout first, with its renderer: the one output layer of runs
/// and merges.
pub fn open_sinks(r: &Reports<'_>) -> Result<Vec<Sink>, AuditError> {
    let mut sinks = Vec::new();
    if let Some(f) = r.stdout {
        let color = f == StdoutFormat::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let render: Arc<dyn Render> = match f {
            StdoutFormat::Text => Arc::new(TextRender {
                detailed: r.detailed,
                color,
            }),
            StdoutFormat::Json => Arc::new(JsonRender { single: r.single }),
            StdoutFormat::Jsonl => Arc::new(JsonlRender),
            StdoutFormat::Csv => Arc::new(CsvRender),
        };
        sinks.push(Sink::stdout(render, r.columns)?);
    }
    for (path, format) in r.formats {
        let render: Arc<dyn Render> = match format {
            Format::Text => Arc::new(TextRender {
                detailed: r.detailed,
                color: false,
            }),
            Format::Json => Arc::new(JsonRender { single: false }),
            Format::Jsonl => Arc::new(JsonlRender),
            Format::Csv => Arc::new(CsvRender),
            Format::Html => Arc::new(HtmlRender {
                columns: r.columns.to_vec(),
                title: r.title.to_owned(),
                history: r.history,
            }),
            Format::Markdown => Arc::new(MarkdownRender {
                columns: r.columns.to_vec(),
                title: r.title.to_owned(),
            }),
        };
        let is_resume = r.resume == Some(path.as_path());
        let mut sink = Sink::file(path, *format, render, r.columns, is_resume)?;
        sink.resume_source = is_resume;
        sinks.push(sink);
    }
    Ok(sinks)
}

/// `--vantage`: checks this machine's vantage point and prints the "From here" block (or its
/// JSON with `--format json`); exit 1 when outbound port 25 is blocked.
async fn vantage(cli: &Cli) -> Result<Exit, AuditError> {
    let (demo, config) = if cli.demo {
        let demo = crate::demo::start()
            .await
            .map_err(|e| AuditError::Usage(format!("cannot start the demo lab: {e}")))?;
        let mut config = demo.config.clone();
        apply_demo_overrides(cli, &mut config);
        (Some(demo), config)
    } else {
        (None, cli.check_config()?)
    };
    if !config.smtp.enabled {
        return Err(AuditError::Usage(
            "--vantage checks outbound SMTP: it cannot run with --no-smtp".to_owned(),
        ));
    }
    let checker = Checker::new(config)?;
    let (facts, zones) = checker.vantage().await;
    checker.shutdown().await;
    drop(demo);
    let here = mailcheck::diagnose::vantage::view(&facts, &zones);
    match cli.format {
        Some(StdoutFormat::Json | StdoutFormat::Jsonl) => {
            let json =
                serde_json::json!({ "vantage": facts, "dnsbl_zones": zones, "from_here": here });
            println!("{json}");
        }
        _ => print!("{}", crate::summary::from_here_text(&here)),
    }
    Ok(if here.port25_blocked {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// The exit for a summary under a `--fail-on` level.
pub fn exit_for(summary: &Summary, fail_on: FailOn) -> Exit {
    let changes = summary.changes.as_ref();
    let failed = match fail_on {
        FailOn::Worse => changes.is_some_and(|c| c.count(history::Change::Worse) > 0),
        FailOn::NewBroken => changes.is_some_and(|c| c.new_broken > 0),
        other => other
            .threshold()
            .is_some_and(|t| summary.worst.is_some_and(|w| w >= t)),
    };
    if failed { Exit::Failed } else { Exit::Ok }
}

/// Opens the history and starts this run in it, or continues the run a resumed JSONL names.
async fn open_run(
    location: &history::Location,
    resume_run: Option<&str>,
    (input_name, input_hash): (String, String),
    quiet: bool,
) -> Result<ActiveRun, AuditError> {
    let store = History::open(location).await?;
    if let Some(id) = resume_run
        && let Some(run) = store.continue_run(id).await?
    {
        if !quiet {
            eprintln!(
                "History: continuing run {id} ({} row(s) recorded) in {}.",
                run.rows,
                location.display()
            );
        }
        return Ok(ActiveRun {
            store,
            run_id: run.meta.run_id,
            started_at: run.meta.started_at,
        });
    }
    let started_at = history::time::now_ms();
    let meta = RunMeta {
        run_id: history::new_run_id(started_at),
        started_at,
        input_name,
        input_hash,
        host: mailcheck::probe::smtp::default_helo_name(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    store.begin_run(&meta).await?;
    Ok(ActiveRun {
        store,
        run_id: meta.run_id,
        started_at,
    })
}

fn resume_target(cli: &Cli, formats: &[(PathBuf, Format)]) -> Result<Option<PathBuf>, AuditError> {
    if !cli.resume {
        return Ok(None);
    }
    let jsonl: Vec<&PathBuf> = formats
        .iter()
        .filter(|(_, f)| *f == Format::Jsonl)
        .map(|(p, _)| p)
        .collect();
    match jsonl.as_slice() {
        [one] => Ok(Some((*one).clone())),
        [] => Err(AuditError::Usage(
            "--resume needs a JSONL report to continue: -o run.jsonl".to_owned(),
        )),
        _ => Err(AuditError::Usage(
            "--resume: give exactly one -o .jsonl report".to_owned(),
        )),
    }
}

/// Flags that still matter with `--demo` (everything else points at the lab).
fn apply_demo_overrides(cli: &Cli, config: &mut CheckConfig) {
    if cli.no_smtp {
        config.smtp.enabled = false;
    }
    if cli.no_dnsbl {
        config.dnsbl.enabled = false;
    }
    if cli.no_auth {
        config.auth.enabled = false;
    }
    cli.apply_timeouts(config);
}

/// Rows to expect, for the progress bar (files are counted by lines: an upper bound).
fn estimate_rows(sources: &[Source]) -> Option<u64> {
    let mut total = 0u64;
    for s in sources {
        total += match s {
            Source::Domains(d) => d.len() as u64,
            Source::Text { text, .. } => text.lines().count().saturating_sub(1) as u64,
            Source::File(p) => count_lines(p)?,
            Source::Stdin => return None,
        };
    }
    Some(total)
}

fn count_lines(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    let mut last = b'\n';
    loop {
        let k = f.read(&mut buf).ok()?;
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[k - 1];
    }
    if last != b'\n' {
        n += 1;
    }
    // The header line, if any, is not a row: an upper bound is fine for an ETA.
    Some(n)
}
