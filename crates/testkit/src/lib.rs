//! # mailcheck-testkit
//!
//! An in-process lab for mailcheck's tests, benchmarks and the offline demo. Everything binds to
//! `127.0.0.1:0` (or an address you choose on loopback) and lives as long as the handle you hold.
//!
//! ## Layout
//! - [`dns`]: an authoritative DNS server (hickory-server) built from records in code, with
//!   per-name faults (SERVFAIL, REFUSED, never answer), and DNSBL zones.
//! - [`smtp`]: scriptable SMTP servers: greeting text and delay, replies per command, drops,
//!   STARTTLS, hostile behaviours, and a connection counter.
//! - [`https`]: an HTTPS server (tokio-rustls, a minimal HTTP/1.1 responder) for MTA-STS
//!   policies: responses per host and path, redirects, certificates per SNI name.
//! - [`certs`]: a lab CA and certificates (valid, self-signed, expired, wrong name) made with rcgen.
//! - [`discord`]: a Discord API stand-in (REST over HTTP or HTTPS as discord.com, gateway
//!   WebSocket) for driving serenity end to end: rate limits and faults, Discord's payload limits
//!   and deadlines, buttons, heartbeats, reconnects and resumes.
//! - [`lab`]: a ready-made lab of sample domains, each with a typical fault, used by the demo.

pub mod certs;
pub mod discord;
pub mod dns;
pub mod https;
pub mod lab;
pub mod smtp;
