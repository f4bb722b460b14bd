//! The bot's integration tests, in one binary (one link instead of one per file): each module holds
//! one topic.
//!
//! `cli` runs the built binary as a child process (signals, logs, `/healthz`, registration).

mod cli;
mod common;
mod deploy;
mod discord_e2e;
mod lab_e2e;
mod sender_e2e;
