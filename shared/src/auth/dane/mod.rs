//! DNSSEC validation of the mail records and the TLSA records of each MX host (RFC 7672).
//!
//! We validate ourselves instead of trusting a resolver's AD bit: a [`Validator`] is a
//! hickory resolver with validation on, asking the same servers as the run's resolver, with the
//! IANA root keys built in plus any trust anchors configured for labs
//! ([`crate::config::AuthConfig::trust_anchor`]). Build one per run and share it.
//!
//! For a domain, [`collect`] records the DNSSEC state of its MX RRset, and for each MX host the
//! state of its A and AAAA RRsets and of its TLSA RRset at `_25._tcp.<host>`, with the TLSA
//! records. A state is secure, insecure (provably unsigned, or not validated), bogus (with the
//! reason we found), or unknown (the lookup itself failed).
//!
//! Before it blames a domain, the validator checks once per run that the servers it asks hand
//! out DNSSEC records at all (the DNSKEY RRset of the first trust anchor validates): a resolver
//! that strips signatures, or a lab server that is not authoritative for the anchor, would
//! otherwise make every domain look bogus. When that check fails, the facts say why
//! ([`DaneFacts::unavailable`]) and nothing else is recorded.
//!
//! A bogus answer is explained by asking again with checking disabled (CD=1, DO=1): no data,
//! no signature, a signature out of its validity period, a signature by a key that is not in the
//! signer's DNSKEY set, or a DNSKEY set that matches none of the parent's DS records. A
//! validating upstream answers SERVFAIL for bogus data; when the same query with checking
//! disabled does return the data, that SERVFAIL is a validation failure too.
//!
//! Files: this one holds the facts and [`collect`]; `validator.rs` the [`Validator`] (its
//! set-up, the once-per-run check and the validated lookup); `explain.rs` why an answer is
//! bogus (the query with checking disabled, our own DNS exchange).

mod explain;
#[cfg(test)]
mod tests;
mod validator;

use std::net::IpAddr;

use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::facts::{DnsFailure, Lookup, MxRecord};
use validator::unknown;

pub use validator::Validator;

/// At most this many MX hosts get their TLSA records looked up.
const MAX_HOSTS: usize = 10;

/// One TLSA record (RFC 6698), as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaRecord {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// Selector: 0 the full certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 the data itself, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The certificate association data, lower-case hex.
    pub data: String,
}

impl TlsaRecord {
    /// Presentation form, `3 1 1 ab12…` (the data cut after 16 hex digits).
    pub fn describe(&self) -> String {
        let data = if self.data.len() > 16 {
            format!("{}…", &self.data[..16])
        } else {
            self.data.clone()
        };
        format!("{} {} {} {data}", self.usage, self.selector, self.matching)
    }

    /// DANE-TA (2) or DANE-EE (3): the usages SMTP senders apply (RFC 7672 §3.1).
    pub const fn is_dane_usage(&self) -> bool {
        matches!(self.usage, 2 | 3)
    }
}

/// The DNSSEC state of one lookup, as our validator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DnssecState {
    /// Signed and validated up to a trust anchor (records, or the proof that there are none).
    Secure,
    /// Not signed: the zone is provably unsigned (no DS at its delegation), or not validated.
    Insecure,
    /// Validation failed.
    Bogus {
        /// What is wrong, as far as we could tell.
        reason: String,
    },
    /// The lookup failed before validation could tell (timeout, SERVFAIL, REFUSED).
    Unknown,
}

impl DnssecState {
    /// How it is shown in evidence.
    pub fn describe(&self) -> String {
        match self {
            Self::Secure => "secure".to_owned(),
            Self::Insecure => "insecure (unsigned)".to_owned(),
            Self::Bogus { reason } => format!("bogus: {reason}"),
            Self::Unknown => "unknown (lookup failed)".to_owned(),
        }
    }
}

/// One lookup through the validator: what it returned and its DNSSEC state. For a bogus
/// answer the records are those fetched with checking disabled (what the zone publishes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated<T> {
    /// The answer.
    pub lookup: Lookup<T>,
    /// Its DNSSEC state.
    pub dnssec: DnssecState,
}

impl<T> Validated<T> {
    /// `secure, 2 record(s)`, `bogus: …, NXDOMAIN`.
    pub fn describe(&self) -> String {
        format!("{}; {}", self.dnssec.describe(), self.lookup.describe())
    }

    /// The bogus reason, if the state is bogus.
    pub fn bogus(&self) -> Option<&str> {
        match &self.dnssec {
            DnssecState::Bogus { reason } => Some(reason),
            _ => None,
        }
    }
}

/// One MX host's addresses and TLSA records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneHost {
    /// The MX host (lower case, no trailing dot).
    pub host: String,
    /// Its A RRset.
    pub a: Validated<IpAddr>,
    /// Its AAAA RRset.
    pub aaaa: Validated<IpAddr>,
    /// Where its TLSA records live: `_25._tcp.<host>`.
    pub tlsa_name: String,
    /// Its TLSA RRset.
    pub tlsa: Validated<TlsaRecord>,
}

impl DaneHost {
    /// The TLSA records (of an answer; none otherwise).
    pub fn tlsa_records(&self) -> &[TlsaRecord] {
        self.tlsa.lookup.records()
    }
}

/// What was observed: the validator used, and each validated lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DaneFacts {
    /// The validating resolver: its servers and trust anchors.
    pub validator: String,
    /// Why nothing could be validated (no validator, or its servers give no DNSSEC records):
    /// then `mx` is `None` and `hosts` is empty. A fact about us, not about the domain.
    pub unavailable: Option<String>,
    /// The domain's MX RRset.
    pub mx: Option<Validated<MxRecord>>,
    /// Each MX host (the first `MAX_HOSTS`, IP literals left out).
    pub hosts: Vec<DaneHost>,
}

/// Lookups of one domain through the run's validator.
pub async fn collect(ctx: &AuthContext<'_>) -> DaneFacts {
    let Some(validator) = ctx.dnssec else {
        return DaneFacts {
            unavailable: Some("DNSSEC validation is not set up for this run".to_owned()),
            ..DaneFacts::default()
        };
    };
    let mut facts = DaneFacts {
        validator: validator.label(),
        ..DaneFacts::default()
    };
    if let Some(reason) = validator.unavailable().await {
        facts.unavailable = Some(reason);
        return facts;
    }
    let Ok(domain) = absolute(ctx.domain) else {
        facts.unavailable = Some(format!("{:?} is not a DNS name", ctx.domain));
        return facts;
    };
    let hosts = ctx
        .mx_hosts
        .iter()
        .filter(|h| h.as_str() != "." && h.parse::<IpAddr>().is_err())
        .take(MAX_HOSTS)
        .filter_map(|h| absolute(h).ok().map(|n| (h.clone(), n)));
    let host_lookups = futures::future::join_all(hosts.map(|(host, name)| async move {
        let tlsa_name = Name::from_ascii("_25._tcp")
            .ok()
            .and_then(|p| p.append_domain(&name).ok());
        let tlsa = async {
            match &tlsa_name {
                Some(n) => validator.validated(n, RecordType::TLSA, pick_tlsa).await,
                None => unknown(DnsFailure::Other, "the TLSA name is too long"),
            }
        };
        let (a, aaaa, tlsa) = tokio::join!(
            validator.validated(&name, RecordType::A, pick_a),
            validator.validated(&name, RecordType::AAAA, pick_aaaa),
            tlsa
        );
        DaneHost {
            tlsa_name: format!("_25._tcp.{host}"),
            host,
            a,
            aaaa,
            tlsa,
        }
    }));
    let (mx, hosts) = tokio::join!(
        validator.validated(&domain, RecordType::MX, pick_mx),
        host_lookups
    );
    facts.mx = Some(mx);
    facts.hosts = hosts;
    facts
}

fn absolute(name: &str) -> Result<Name, String> {
    let name = name.trim();
    let fqdn = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fqdn).map_err(|e| e.to_string())
}

fn lower(name: &Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    let s = name.to_lowercase().to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_owned()
}

fn pick_mx(data: &RData) -> Option<MxRecord> {
    match data {
        RData::MX(mx) => Some(MxRecord {
            preference: mx.preference,
            exchange: lower(&mx.exchange),
        }),
        _ => None,
    }
}

fn pick_a(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        _ => None,
    }
}

fn pick_aaaa(data: &RData) -> Option<IpAddr> {
    match data {
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

fn pick_tlsa(data: &RData) -> Option<TlsaRecord> {
    match data {
        RData::TLSA(t) => Some(TlsaRecord {
            usage: t.cert_usage.into(),
            selector: t.selector.into(),
            matching: t.matching.into(),
            data: crate::probe::tls::hex(&t.cert_data),
        }),
        _ => None,
    }
}
