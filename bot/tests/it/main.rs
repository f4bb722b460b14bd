//! The bot's integration tests, in one binary (one link instead of one per file): each module holds
//! one topic.
//!
//! `tests/cli.rs` runs the built binary under signals in its own process: tokio's child-process
//! reaping is shared by every runtime in a process, and with the other tests' runtimes coming
//! and going a child's exit was missed (a hang seen only in the shared binary).

mod common;
mod deploy;
mod discord_e2e;
mod lab_e2e;
mod sender_e2e;
