//! `mailcheck-audit`: see the library crate (`mailcheck_audit`) for the layout. This binary only
//! parses flags, sets up logging and the runtime, and maps the outcome to an exit code.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use mailcheck_audit::app::{self, Exit};
use mailcheck_audit::cli::Cli;

/// mimalloc returns freed memory to the system and keeps little per thread: a run over a
/// million domains stays flat where glibc's per-thread arenas kept growing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<Result<Exit, mailcheck_audit::AuditError>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(app::main(cli)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(Ok(Exit::Ok)) => ExitCode::SUCCESS,
        Ok(Ok(Exit::Failed)) => ExitCode::from(1),
        Ok(Err(e)) => {
            eprintln!("mailcheck-audit: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mailcheck-audit: {e:#}");
            ExitCode::from(2)
        }
    }
}
