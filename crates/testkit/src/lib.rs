//! # mailcheck-testkit
//!
//! Test-only helpers for mailcheck's tests and benchmarks: a dev-dependency, never a normal one.
//!
//! ## Layout
//! - [`discord`]: a Discord API stand-in (REST over HTTP or HTTPS as discord.com, gateway
//!   WebSocket) for driving serenity end to end: rate limits and faults, Discord's payload limits
//!   and deadlines, buttons, heartbeats, reconnects and resumes.
//! - [`certs`], [`dns`], [`smtp`], [`https`], [`lab`]: re-exported from `mailcheck-lab` (the
//!   in-process demo lab and its servers: DNS, SMTP fault servers, HTTPS for MTA-STS,
//!   certificates), so tests reach everything through one crate.

pub mod discord;

pub use mailcheck_lab::{certs, dns, https, lab, smtp};
