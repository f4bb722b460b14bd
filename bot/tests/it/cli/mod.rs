//! The `mailcheck-bot` binary, run as a child process against the Discord stand-in.
//!
//! - `offline`: `--help` explains setup and names `preview`; `preview --lab` prints the exact
//!   embed JSON for a lab domain without Discord or the internet.
//! - `register`: `run` against the Discord stand-in registers `/mailcheck` without replacing
//!   other commands, serves `/healthz` (503 until registered), and stops with exit 1 when
//!   Discord refuses the registration.
//! - `run`: it answers, shuts down gracefully on SIGTERM, runs forced shards and logs JSON on
//!   request.
//! - `child`: starting the bot against the stand-in, reading its logs as they come, SIGTERM,
//!   `/healthz`, and what it registered.

mod child;
mod offline;
mod register;
mod run;

use std::process::Command;
use std::time::Duration;

/// Generous: a wait ends as soon as the awaited event or line arrives.
const WAIT: Duration = Duration::from_secs(40);

/// The built binary, with no `MAILCHECK_*` or `DISCORD_TOKEN` from the environment of whoever
/// runs the tests, logging warnings only.
pub(crate) fn bot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcheck-bot"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MAILCHECK_") || key == "DISCORD_TOKEN" {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}
