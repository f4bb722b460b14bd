//! One invocation, from parsed flags to the exit code: choose the inputs (or start the demo lab),
//! open the reports, run the engine, print the summary, apply `--fail-on`.
//!
//! Beside this file: `reports` (each report's renderer and sink, shared with `merge`), `inputs`
//! (the sources opened, the row estimate, `--resume`'s rows) and `recording` (the run in the
//! history: where, begun or continued, finished).

mod inputs;
mod recording;
mod reports;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use mailcheck::{CheckConfig, Checker};

use crate::cli::{Cli, Command, FailOn, StdoutFormat};
use crate::error::AuditError;
use crate::history;
use crate::input::Source;
use crate::output::Format;
use crate::resume::Resume;
use crate::run::{self, Options};
use crate::summary::Summary;

pub use reports::{Reports, open_sinks, report_formats};

use inputs::{load_resume, open_inputs};
use recording::{finish_run, history_location, open_run};

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
