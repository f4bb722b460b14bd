//! DMARC (RFC 7489): the policy record at `_dmarc.<domain>`, or at the organizational domain
//! (Public Suffix List) when the domain has none (§6.6.3); a pure parser of the record (§6.3,
//! §6.4) that says where it breaks; and the authorization of reports sent to another
//! organizational domain (§7.1).
//!
//! Receivers keep only the TXT records that start with `v=DMARC1`; when none is left they ask
//! the organizational domain; when more than one is left, no policy applies. [`DmarcLookup`]
//! records exactly that, plus the TXT records receivers throw away (a record that starts with
//! `p=`, a lower-case `v=dmarc1`), so the diagnosis can say why a published record is ignored.
//!
//! Files: this one holds the discovery (the lookups receivers make, the organizational domain,
//! the report authorizations) and [`collect`]; `record.rs` the parsed record and its errors;
//! `parse.rs` the pure parser.

mod parse;
mod record;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::facts::Lookup;
use crate::probe::dns::DnsSource;

pub use parse::{is_dmarc_record, parse_record};
pub use record::{Alignment, DmarcErrorKind, DmarcParseError, DmarcPolicy, DmarcRecord, ReportUri};

/// The version every record starts with: `v=DMARC1`, the value case-sensitive (§6.4).
pub const VERSION: &str = "DMARC1";

/// The longest record we parse, in bytes.
pub const MAX_RECORD_LEN: usize = 8 * 1024;

/// The organizational domain of `name` (RFC 7489 §3.2): the public suffix (PSL, private
/// section included) plus one label; the name itself when it is a public suffix or not a
/// name the list can place. Lower case, no trailing dot.
pub fn organizational_domain(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    match psl::domain_str(&name) {
        Some(org) => org.to_owned(),
        None => name,
    }
}

/// The DMARC lookup at one domain (`_dmarc.<domain>`), as receivers select records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcLookup {
    /// The domain whose policy this is (the checked domain, or its organizational domain).
    pub domain: String,
    /// The name asked: `_dmarc.<domain>`.
    pub name: String,
    /// The TXT lookup.
    pub lookup: Lookup<String>,
    /// The TXT records that start with `v=DMARC1`: the ones receivers keep (§6.6.3). One when
    /// all is well; several means no policy applies.
    pub records: Vec<String>,
    /// The other TXT records at the name: receivers discard them, so a policy written there
    /// (a missing or misspelt `v=DMARC1` first) is not seen.
    pub ignored: Vec<String>,
    /// The parsed record, when there is exactly one and it parses.
    pub record: Option<DmarcRecord>,
    /// Why the record does not parse: the one kept record, or, when none was kept, the first
    /// ignored one that mentions DMARC.
    pub error: Option<DmarcParseError>,
}

impl DmarcLookup {
    /// Sorts and parses the answer of the TXT lookup at `_dmarc.<domain>`. Pure.
    pub fn from_answer(domain: &str, lookup: Lookup<String>) -> Self {
        let domain = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        let super::KeptRecords {
            records,
            ignored,
            record,
            error,
        } = super::keep_records(&lookup, is_dmarc_record, "dmarc", parse_record);
        Self {
            name: format!("_dmarc.{domain}"),
            domain,
            lookup,
            records,
            ignored,
            record,
            error,
        }
    }

    /// Receivers found at least one `v=DMARC1` record here (and stop looking).
    pub fn found(&self) -> bool {
        !self.records.is_empty()
    }
}

/// The §7.1 check for one destination host of `rua`/`ruf` addresses in another organizational
/// domain: the TXT at `<policy domain>._report._dmarc.<destination>` must start with `v=DMARC1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAuthorization {
    /// The destination host (the domain of the addresses).
    pub destination: String,
    /// The addresses that go there, with their tag (`rua=mailto:…`).
    pub uris: Vec<String>,
    /// The name asked.
    pub name: String,
    /// The TXT lookup.
    pub lookup: Lookup<String>,
    /// `Some(true)` when a record starts with `v=DMARC1`, `Some(false)` when the answer has
    /// none (NXDOMAIN and NODATA included), `None` when the lookup failed.
    pub authorized: Option<bool>,
}

impl ReportAuthorization {
    /// Judges the answer for `name`. Pure.
    pub fn from_answer(
        destination: &str,
        uris: Vec<String>,
        name: String,
        lookup: Lookup<String>,
    ) -> Self {
        let authorized = match &lookup {
            Lookup::Failed { .. } => None,
            other => Some(other.records().iter().any(|r| is_dmarc_record(r))),
        };
        Self {
            destination: destination.to_owned(),
            uris,
            name,
            lookup,
            authorized,
        }
    }
}

/// Whether reports for `policy_domain` sent to `destination` need the §7.1 authorization: the
/// two are in different organizational domains.
pub fn needs_authorization(policy_domain: &str, destination: &str) -> bool {
    organizational_domain(policy_domain) != organizational_domain(destination)
}

/// What DMARC discovery found for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DmarcFacts {
    /// The checked domain (lower case, no trailing dot).
    pub domain: String,
    /// Its organizational domain.
    pub organizational_domain: String,
    /// The lookups in the order receivers make them: `_dmarc.<domain>`, then, when it kept no
    /// record (and did not fail) and the domain is not its own organizational domain,
    /// `_dmarc.<organizational domain>`.
    pub lookups: Vec<DmarcLookup>,
    /// The §7.1 checks of the applied record's report addresses in other organizational
    /// domains, one per destination host.
    pub report_authorizations: Vec<ReportAuthorization>,
}

impl DmarcFacts {
    /// The lookup whose records receivers use: the first that kept a record.
    pub fn policy_lookup(&self) -> Option<&DmarcLookup> {
        self.lookups.iter().find(|l| l.found())
    }

    /// The policy record receivers apply, when there is exactly one and it parses.
    pub fn record(&self) -> Option<&DmarcRecord> {
        self.policy_lookup().and_then(|l| l.record.as_ref())
    }
}

/// Discovers the domain's DMARC record (§6.6.3) and checks the report authorizations (§7.1).
pub async fn collect(ctx: &AuthContext<'_>) -> DmarcFacts {
    collect_from(ctx.domain, ctx.dns).await
}

async fn collect_from(domain: &str, dns: &dyn DnsSource) -> DmarcFacts {
    let domain = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let org = organizational_domain(&domain);
    let ask = |d: String| async move {
        let lookup = dns.txt(&format!("_dmarc.{d}")).await;
        DmarcLookup::from_answer(&d, lookup)
    };
    let own = ask(domain.clone()).await;
    let mut lookups = vec![own];
    if org != domain && !lookups[0].found() && !lookups[0].lookup.is_failed() {
        lookups.push(ask(org.clone()).await);
    }
    let mut facts = DmarcFacts {
        domain,
        organizational_domain: org,
        lookups,
        report_authorizations: Vec::new(),
    };
    let Some(policy) = facts.policy_lookup() else {
        return facts;
    };
    let Some(record) = &policy.record else {
        return facts;
    };
    // One check per destination host, in the order the addresses are written.
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    for (tag, uri) in record.report_uris() {
        let Some(dest) = &uri.destination else {
            continue;
        };
        if !needs_authorization(&policy.domain, dest) {
            continue;
        }
        let label = format!("{tag}={}", uri.uri);
        match wanted.iter_mut().find(|(d, _)| d == dest) {
            Some((_, uris)) => uris.push(label),
            None => wanted.push((dest.clone(), vec![label])),
        }
    }
    let policy_domain = policy.domain.clone();
    let checks = wanted.into_iter().map(|(dest, uris)| {
        let name = format!("{policy_domain}._report._dmarc.{dest}");
        async move {
            let lookup = dns.txt(&name).await;
            ReportAuthorization::from_answer(&dest, uris, name, lookup)
        }
    });
    facts.report_authorizations = futures::future::join_all(checks).await;
    facts
}
