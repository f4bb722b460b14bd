//! All network I/O. Each probe records what it observes in [`crate::facts`] types and never
//! decides what is wrong: that is [`crate::diagnose()`]'s job.
//!
//! - [`dns`]: the DNS layer over hickory-resolver behind the narrow [`dns::DnsSource`] trait.
//! - `memo`: per-run memoisation so shared addresses are queried once.
//! - [`mx`]: MX resolution per RFC 5321 §5.1 and RFC 7505 into [`crate::facts::HostFacts`].
//! - [`rdns`]: PTR and forward-confirmed reverse DNS.
//! - [`dnsbl`]: blocklist queries and the per-zone canary self-test.
//! - [`smtp`]: the SMTP conversation (greeting, EHLO, STARTTLS, MAIL, RCPT, RSET, QUIT),
//!   session reuse and per-address politeness.
//! - [`tls`]: the rustls client that records certificate problems instead of aborting.
//! - [`tls_version`]: our own minimal ClientHello, to see which old TLS version a server rustls
//!   cannot talk to would choose.
//! - [`egress`]: is our own outbound port 25 open?
//!
//! Public here is what the front-ends use (the DNS source and resolver, the MX collector, the
//! SMTP and TLS clients, our default EHLO name) and what the library's integration tests drive
//! directly (the prober, sessions, the reply parser, the TLS verifier, the version probe, the
//! blocklist engine, reverse DNS, the egress check); the rest is `pub(crate)`.

pub mod dns;
pub mod dnsbl;
pub mod egress;
pub(crate) mod memo;
pub mod mx;
pub mod rdns;
pub mod smtp;
pub mod tls;
pub mod tls_version;
