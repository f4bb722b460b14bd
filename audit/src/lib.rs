//! # mailcheck-audit
//!
//! The command-line front-end of [`mailcheck`]: one domain explained in a terminal, or a CSV of
//! thousands of client domains audited politely, with CSV/JSONL/JSON/HTML/Markdown reports. The
//! audit never decides a finding or a severity: it only renders the library's `Report`s.
//!
//! ## Layout
//! - [`cli`]: the flags (clap) and their translation into a `CheckConfig`.
//! - [`app`]: one invocation from flags to exit code (inputs, reports, engine, summary).
//! - [`input`]: domain arguments, CSV files and stdin, streamed row by row (headers, domain
//!   column, pass-through columns, malformed lines as `invalid` rows).
//! - [`run`]: the engine: bounded concurrency, duplicate rows checked once, results in input
//!   order through a bounded reorder buffer, rendering on rayon, progress bar.
//! - [`output`]: one renderer per format and the sinks (stdout, atomic files, JSONL appended).
//! - [`resume`]: `--resume` from a previous run's JSONL.
//! - [`history`]: the run history (SQLite or PostgreSQL), what changed since each domain's
//!   previous run, and the `history` subcommand.
//! - [`shard`]: `plan` and `merge`, shards for very large audits (no MX address in two shards,
//!   reports rebuilt in input order).
//! - [`summary`]: counts per verdict and per code.
//! - [`sanitize`]: untrusted text for terminals, HTML, spreadsheets and Markdown.
//! - [`demo`]: the offline demo lab.
//! - [`sender`]: the `sender` subcommand: a sending IP (or this machine, or a CSV of outbound
//!   gateways) checked as large receivers judge it, with its own report formats.
//! - [`error`]: [`AuditError`] (exit code 2).

pub mod app;
pub mod cli;
pub mod demo;
pub mod error;
pub mod history;
pub mod input;
pub mod output;
pub mod resume;
pub mod run;
pub mod sanitize;
pub mod sender;
pub mod shard;
pub mod summary;

pub use error::AuditError;
