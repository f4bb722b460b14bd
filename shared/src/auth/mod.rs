//! Mail authentication, transport policy and DNS consistency: what TLS-enforcing and
//! authenticating senders look up besides the MX — SPF ([`crate::spf`]), DMARC, TLS-RPT,
//! MTA-STS, DNSSEC and DANE, and whether the domain's name servers agree. Probes record
//! [`AuthFacts`]; the diagnosis (`diagnose::{spf, dmarc, mtasts, dane, consistency}`) judges them.
//!
//! - [`dmarc`]: the DMARC record (RFC 7489), its organizational domain, report authorization.
//! - [`tlsrpt`]: the TLS-RPT record (RFC 8460).
//! - [`mtasts`]: the MTA-STS record and policy (RFC 8461), fetched over HTTPS.
//! - [`dane`]: DNSSEC validation of the mail records and the TLSA records (RFC 7672).
//! - [`consistency`]: the authoritative name servers asked directly, and other resolvers.

pub mod consistency;
pub mod dane;
pub mod dmarc;
pub mod mtasts;
pub mod tlsrpt;

use serde::{Deserialize, Serialize};

/// Everything the authentication checks observed for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthFacts {
    /// The SPF record tree (and its lookup count).
    pub spf: Option<crate::spf::SpfFacts>,
    /// The DMARC record.
    pub dmarc: Option<dmarc::DmarcFacts>,
    /// The TLS-RPT record.
    pub tls_rpt: Option<tlsrpt::TlsRptFacts>,
    /// The MTA-STS record and policy.
    pub mta_sts: Option<mtasts::MtaStsFacts>,
    /// DNSSEC validation of the domain's mail records and each MX host's TLSA records.
    pub dane: Option<dane::DaneFacts>,
    /// The authoritative name servers' answers, and other resolvers'.
    pub consistency: Option<consistency::ConsistencyFacts>,
}

/// What the authentication checks need from the run.
#[derive(Debug, Clone, Copy)]
pub struct AuthContext<'a> {
    /// The resolver (the run's, with its caches).
    pub dns: &'a dyn crate::probe::dns::DnsSource,
    /// The settings.
    pub config: &'a crate::config::AuthConfig,
    /// The domain (ASCII, normalised).
    pub domain: &'a str,
    /// The domain's mail hosts, by preference (the MX targets, or the domain for an implicit
    /// MX).
    pub mx_hosts: &'a [String],
}

/// Runs every authentication lookup for one domain, concurrently.
pub async fn collect(ctx: &AuthContext<'_>) -> AuthFacts {
    let spf_dns = crate::spf::DnsSourceAdapter(ctx.dns);
    let (spf, consistency) = tokio::join!(
        crate::spf::SpfFacts::collect(ctx.domain, &spf_dns),
        consistency::collect(ctx)
    );
    AuthFacts {
        spf: Some(spf),
        consistency: Some(consistency),
        ..AuthFacts::default()
    }
}
