//! Mail authentication, transport policy and DNS consistency: what TLS-enforcing and
//! authenticating senders look up besides the MX — SPF ([`crate::spf`]), DMARC, TLS-RPT,
//! MTA-STS, DNSSEC and DANE, and whether the domain's name servers agree. Probes record
//! [`AuthFacts`]; the diagnosis (`diagnose::{spf, dmarc, mtasts, dane, consistency}`) judges them.
//!
//! - [`dmarc`]: the DMARC record (RFC 7489), its organizational domain, report authorization.
//! - [`tlsrpt`]: the TLS-RPT record (RFC 8460).
//! - [`spf_ips`]: SPF `check_host()` for each MX address (does the domain's own record
//!   authorize it directly?) and for an address no record lists (void lookups).
//! - [`mtasts`]: the MTA-STS record and policy (RFC 8461), fetched over HTTPS.
//! - [`dane`]: DNSSEC validation of the mail records and the TLSA records (RFC 7672).
//! - [`consistency`]: the authoritative name servers asked directly, and other resolvers.

pub mod consistency;
pub mod dane;
pub mod dmarc;
pub mod mtasts;
pub mod spf_ips;
pub mod tlsrpt;

use serde::{Deserialize, Serialize};

/// Everything the authentication checks observed for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthFacts {
    /// The SPF record tree (and its lookup count).
    pub spf: Option<crate::spf::SpfFacts>,
    /// SPF for each MX address and for an unlisted sender.
    pub spf_ips: Option<spf_ips::SpfIpFacts>,
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
    /// Private/loopback/reserved name server addresses are asked directly too
    /// ([`crate::CheckConfig::allow_private`]); otherwise such a name server counts as lame:
    /// nobody on the Internet can reach it.
    pub allow_private: bool,
    /// The domain (ASCII, normalised).
    pub domain: &'a str,
    /// The domain's mail hosts, by preference (the MX targets, or the domain for an implicit
    /// MX).
    pub mx_hosts: &'a [String],
    /// The addresses of the mail hosts (each once), for the SPF "MX IP that sends" rule.
    pub mx_ips: &'a [std::net::IpAddr],
    /// The run's HTTPS client for MTA-STS policies (pooled, built once per run with
    /// [`mtasts::MtaStsClient::from_config`]); `None`: the record is looked up but no policy
    /// is fetched.
    pub mta_sts: Option<&'a mtasts::MtaStsClient>,
    /// The run's validating resolver (one per run: it checks once that the servers give out
    /// DNSSEC records). `None`: DNSSEC and DANE are recorded as not checked.
    pub dnssec: Option<&'a dane::Validator>,
}

/// Runs every authentication lookup for one domain, concurrently.
pub async fn collect(ctx: &AuthContext<'_>) -> AuthFacts {
    let adapter = crate::spf::DnsSourceAdapter(ctx.dns);
    let spf_dns = spf_ips::CachedSpfDns::new(&adapter);
    let spf = async {
        let tree = crate::spf::SpfFacts::collect(ctx.domain, &spf_dns).await;
        let ips = spf_ips::collect(ctx.domain, ctx.mx_ips, &spf_dns).await;
        (tree, ips)
    };
    let ((spf, spf_ips), dmarc, tls_rpt, mta_sts, dane, consistency) = tokio::join!(
        spf,
        dmarc::collect(ctx),
        tlsrpt::collect(ctx),
        mtasts::collect(ctx),
        dane::collect(ctx),
        consistency::collect(ctx)
    );
    AuthFacts {
        spf: Some(spf),
        spf_ips: Some(spf_ips),
        dmarc: Some(dmarc),
        tls_rpt: Some(tls_rpt),
        mta_sts: Some(mta_sts),
        dane: Some(dane),
        consistency: Some(consistency),
    }
}

/// The TXT records at a policy name sorted the way receivers do: the ones that start with the
/// version tag are kept, the others ignored; the one kept record is parsed (or, when none was
/// kept, the first ignored one that looks like an attempt at this kind of record, to say why it
/// is not one — an unrelated record, such as an SPF record a wildcard puts at every name, is
/// only ignored).
#[derive(Debug)]
pub(crate) struct KeptRecords<R, E> {
    /// The records receivers keep.
    pub(crate) records: Vec<String>,
    /// The records they discard.
    pub(crate) ignored: Vec<String>,
    /// The parsed record, when exactly one was kept and it parses.
    pub(crate) record: Option<R>,
    /// Why the record to parse does not.
    pub(crate) error: Option<E>,
}

/// Sorts and parses a TXT answer; see [`KeptRecords`].
pub(crate) fn keep_records<R, E>(
    lookup: &crate::facts::Lookup<String>,
    is_record: impl Fn(&str) -> bool,
    attempt: &str,
    parse: impl Fn(&str) -> Result<R, E>,
) -> KeptRecords<R, E> {
    let (records, ignored): (Vec<String>, Vec<String>) =
        lookup.records().iter().cloned().partition(|r| is_record(r));
    let looks_like = |r: &&String| r.to_ascii_lowercase().contains(attempt);
    let to_parse = match (records.as_slice(), ignored.iter().find(looks_like)) {
        ([one], _) | ([], Some(one)) => Some(one),
        _ => None,
    };
    let (record, error) = match to_parse.map(|r| parse(r)) {
        Some(Ok(r)) => (Some(r), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    KeptRecords {
        records,
        ignored,
        record,
        error,
    }
}
