//! The auditor's integration tests, in one binary (one link instead of one per file): each module
//! holds one topic.

mod common;
mod dedupe;
mod deploy;
mod e2e;
mod history;
mod props;
mod sender;
mod shards;
