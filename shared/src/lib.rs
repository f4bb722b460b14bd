//! # mailcheck
//!
//! What a senior mail admin does by hand when "my mail doesn't arrive" — look up the MX, resolve
//! it, connect to port 25, read the banner, EHLO, STARTTLS, MAIL FROM, RCPT TO, read the reply
//! codes, check reverse DNS and blocklists — and then say what is wrong and how to fix it.
//!
//! Two halves that never mix:
//! - **Probing** (I/O, in [`probe`]) records what it observes in [`Facts`]: DNS outcomes told
//!   apart (answer, NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout), SMTP replies and transcripts,
//!   TLS certificates and every verification problem.
//! - **Diagnosing** ([`diagnose()`]) is a pure function `(&Facts, &Policy) -> Report`: finding
//!   codes, severities and the verdict exactly as in the finding-code contract. Front-ends never
//!   decide a severity; they render a [`Report`].
//!
//! [`Checker`] composes the two, with per-run caches so an address shared by many domains is
//! probed once.
//!
//! ## Layout
//! - [`domain`]: input normalisation (IDN, e-mail addresses, URLs) into a [`DomainName`].
//! - [`finding`]: the contract's [`Code`]s, [`Severity`] and the [`Finding`] record.
//! - [`facts`]: everything observed about one domain (serde round-trip).
//! - [`report`]: [`Report`], [`Verdict`] and the per-MX summary.
//! - [`ladder`]: the seed's step ladder per probed address (MX → port 25 → … → RCPT), for
//!   front-ends that explain a result step by step.
//! - [`diagnose`](mod@diagnose): the pure diagnosis, one module per area (DNS/MX, rDNS, SMTP, TLS,
//!   blocklists, verdict).
//! - [`dnsbl`]: the blocklist catalogue and the pure classification of answers (also what a
//!   listing means for the mail an address sends).
//! - [`identity`]: judging a sending identity (PTR, forward confirmation, generic PTR names,
//!   the HELO name), shared by our own vantage check and the sender check.
//! - [`sender`]: the sender's side — [`Checker::check_sender`] judges any sending IP, its HELO
//!   name and its envelope sender domain as large receivers do (`sender.*` findings, SPF
//!   `check_host()` with its trace, a Gmail/Yahoo/Microsoft checklist).
//! - [`spf`]: SPF (RFC 7208) as a building block: the record parser with macros, `check_host()`
//!   with its include/redirect trace and limits, the lookup count over a domain's whole tree,
//!   and [`spf::SpfFacts`] ready to be stored.
//! - [`auth`]: DMARC, TLS-RPT, MTA-STS, DNSSEC/DANE and name-server consistency facts (with
//!   [`spf`] the authentication checks).
//! - [`classify`]: what an SMTP refusal is about (the domain, the mailbox, or us), shared by
//!   the probe (null-sender retry) and the diagnosis.
//! - [`config`]: [`CheckConfig`] and the diagnosis [`Policy`].
//! - [`setting`]: the settings a finding's advice may ask to change; front-ends add their own
//!   hint of where (a flag, a config key).
//! - [`probe`]: all network I/O: DNS ([`probe::dns`]), MX collection, reverse DNS, blocklist
//!   queries, the SMTP conversation ([`probe::smtp`]: a sans-I/O core, sessions over any stream,
//!   batched transactions and the per-address pool), TLS, and our own vantage point.
//! - [`check`](mod@check): the [`Checker`] that runs the probes and the diagnosis.
//! - [`error`]: [`Error`] for configuration and input problems (never for findings).
//! - [`sanitize`]: the one set of rules for untrusted text (what servers, DNS zones and users
//!   say): removal of control and format characters, combining-mark cap, bounds, defanged
//!   links, hidden private addresses, and the per-target forms (Discord, terminal, HTML,
//!   Markdown, spreadsheet) every front-end uses.
//!
//! ## Example
//! ```no_run
//! # async fn run() -> Result<(), mailcheck::Error> {
//! let checker = mailcheck::Checker::new(mailcheck::CheckConfig::default())?;
//! let domain = mailcheck::DomainName::parse("example.com")?;
//! let report = checker.check(&domain).await;
//! println!("{}: {}", report.domain, report.verdict);
//! for f in &report.findings {
//!     println!("{} {} {}: {}", f.severity, f.code, f.subject, f.summary);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod check;
pub mod classify;
pub mod config;
pub mod diagnose;
pub mod dnsbl;
pub mod domain;
pub mod error;
pub mod facts;
pub mod finding;
pub mod identity;
pub mod ladder;
pub mod probe;
pub mod report;
pub mod sanitize;
pub mod sender;
pub mod setting;
pub mod spf;

pub use check::{CheckOptions, Checker};
pub use config::{CheckConfig, Policy};
pub use diagnose::diagnose;
pub use domain::{DomainName, InputError};
pub use error::Error;
pub use facts::Facts;
pub use finding::{Code, Finding, Severity};
pub use report::{Report, Verdict};
pub use sender::{SenderQuery, SenderReport};
