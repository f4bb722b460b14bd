//! # mailcheck-lab
//!
//! The in-process demo lab: sample domains, each showing one typical fault, served by real
//! servers on loopback inside the calling process. `mailcheck-audit --demo` and
//! `mailcheck-bot preview --lab` run against it, and so do the end-to-end tests. Everything binds
//! to `127.0.0.1:0` (or an address you choose on loopback) and lives as long as the handle you
//! hold.
//!
//! Not to be confused with the interop lab in `tests/lab/` (shell scripts that run Postfix,
//! Exim, Knot, Unbound and others in a network namespace, for the interop tier): that one is
//! made of third-party servers, this one of our own, and it needs no root.
//!
//! ## Layout
//! - [`lab`]: the ready-made lab of sample domains (and sender cases), with the verdict and
//!   finding codes mailcheck must report for each, and
//!   [`Lab::check_config`](lab::Lab::check_config), the one configuration that points a checker
//!   at it (front-ends adjust only what is theirs).
//! - [`dns`]: an authoritative DNS server (hickory-server) built from records in code, with
//!   per-name faults (SERVFAIL, REFUSED, never answer), DNSBL zones and DNSSEC signing.
//! - [`smtp`]: scriptable SMTP servers: greeting text and delay, replies per command, drops,
//!   STARTTLS, hostile behaviours, and a connection counter.
//! - [`https`]: an HTTPS server (tokio-rustls, a minimal HTTP/1.1 responder) for MTA-STS
//!   policies: responses per host and path, redirects, certificates per SNI name.
//! - [`certs`]: a lab CA and certificates (valid, self-signed, expired, wrong name) made with
//!   rcgen.
//!
//! The Discord API stand-in and other test-only helpers are in `mailcheck-testkit`, which
//! re-exports these modules for the tests.

pub mod certs;
pub mod dns;
pub mod https;
pub mod lab;
pub mod smtp;
