//! The bot's integration tests, in one binary (one link instead of one per file): each module holds
//! one topic.

mod cli;
mod common;
mod deploy;
mod discord_e2e;
mod front;
mod lab_e2e;
mod sender_e2e;
