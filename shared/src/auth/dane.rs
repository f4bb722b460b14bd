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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::ResolverConfig;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{LowerName, Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::config::{AuthConfig, DnsConfig, ResolverChoice};
use crate::facts::{DnsFailure, Lookup, MxRecord};

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
    /// Each MX host (the first [`MAX_HOSTS`], IP literals left out).
    pub hosts: Vec<DaneHost>,
}

/// A validating resolver for a run: hickory with validation on, the run's servers, the IANA
/// root keys plus the configured trust anchors. Cheap to share (`Arc`).
pub struct Validator {
    resolver: Result<TokioResolver, String>,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    attempts: usize,
    label: String,
    /// The name whose DNSKEY RRset must validate before anything is judged.
    probe: Name,
    ready: tokio::sync::OnceCell<Option<String>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator asking the servers of `dns.resolver` (with its timeout and attempts), trusting
    /// the IANA root keys and `auth.trust_anchor`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when the configured trust anchor cannot be read or parsed. A
    /// resolver that cannot be built (no system configuration) is not an error: every lookup
    /// then records it as the reason validation is unavailable.
    pub fn new(dns: &DnsConfig, auth: &AuthConfig) -> Result<Self, crate::Error> {
        let (anchors, configured) = trust_anchors(auth.trust_anchor.as_deref())?;
        let probe = configured
            .first()
            .map_or_else(Name::root, |n| Name::from(n.clone()));
        let mut anchor_label = "IANA root keys".to_owned();
        if !configured.is_empty() {
            let owners: Vec<String> = configured.iter().map(ToString::to_string).collect();
            anchor_label.push_str(&format!(" and configured keys for {}", owners.join(", ")));
        }
        let servers = upstreams(&dns.resolver);
        let (resolver, upstreams, label) = match servers {
            Ok(list) => {
                let label = list
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let resolver = build_resolver(&list, dns, anchors);
                (resolver, list, label)
            }
            Err(e) => (Err(e), Vec::new(), dns.resolver.label()),
        };
        Ok(Self {
            resolver,
            upstreams,
            timeout: dns.timeout,
            attempts: dns.attempts,
            label: format!("validating resolver {label}; trust anchors: {anchor_label}"),
            probe,
            ready: tokio::sync::OnceCell::new(),
        })
    }

    /// Which servers and trust anchors, for the record.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// `None` when the servers hand out validatable DNSSEC records; the reason otherwise.
    /// Checked once (the DNSKEY RRset of the first trust anchor, normally the root).
    pub async fn unavailable(&self) -> Option<String> {
        self.ready
            .get_or_init(|| async {
                let resolver = match &self.resolver {
                    Ok(r) => r,
                    Err(e) => return Some(e.clone()),
                };
                let mut last = String::new();
                // One retry: a lost packet must not turn DANE off for the whole run.
                for _ in 0..2 {
                    match resolver
                        .lookup(self.probe.clone(), RecordType::DNSKEY)
                        .await
                    {
                        Ok(lookup) => {
                            let keys: Vec<&Record> = lookup
                                .answers()
                                .iter()
                                .filter(|r| r.record_type() == RecordType::DNSKEY)
                                .collect();
                            if !keys.is_empty() && keys.iter().all(|r| r.proof == Proof::Secure) {
                                return None;
                            }
                            last = format!(
                                "the DNSKEY records of {} did not validate \
                                 against the trust anchor",
                                self.probe
                            );
                        }
                        Err(e) => last = e.to_string(),
                    }
                }
                Some(format!(
                    "the resolver does not hand out DNSSEC records we can validate (DNSKEY {}: \
                     {last}); DNSSEC and DANE were not checked",
                    self.probe
                ))
            })
            .await
            .clone()
    }

    /// Looks `name`/`rtype` up with validation; `pick` takes the wanted records.
    async fn validated<T>(
        &self,
        name: &Name,
        rtype: RecordType,
        pick: fn(&RData) -> Option<T>,
    ) -> Validated<T> {
        let Ok(resolver) = &self.resolver else {
            return unknown(DnsFailure::Other, "no validating resolver");
        };
        let mut outcome = resolver.lookup(name.clone(), rtype).await;
        let servfail = |e: &NetError| {
            matches!(
                e,
                NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))
            )
        };
        if matches!(&outcome, Err(e) if is_bogus(e) || servfail(e)) {
            // Once more: a validation chain broken by a lost packet, or an upstream's passing
            // SERVFAIL, is not the zone's fault.
            outcome = resolver.lookup(name.clone(), rtype).await;
        }
        match outcome {
            Ok(lookup) => {
                let answers: Vec<&Record> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .collect();
                let records: Vec<T> = answers.iter().filter_map(|r| pick(&r.data)).collect();
                let dnssec = combine(answers.iter().map(|r| r.proof));
                Validated {
                    lookup: if records.is_empty() {
                        Lookup::NoData
                    } else {
                        Lookup::Answer { records }
                    },
                    dnssec,
                }
            }
            Err(e) if is_bogus(&e) => self.explain(name, rtype, pick, None).await,
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                let lookup = match nr.response_code {
                    ResponseCode::NXDomain => Lookup::NxDomain,
                    ResponseCode::NoError => Lookup::NoData,
                    other => {
                        return unknown(DnsFailure::Other, &format!("response code {other}"));
                    }
                };
                let secure = nr.authorities.as_deref().is_some_and(|auth| {
                    auth.iter().any(|r| {
                        r.proof == Proof::Secure
                            && matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3)
                    })
                });
                Validated {
                    lookup,
                    dnssec: if secure {
                        DnssecState::Secure
                    } else {
                        DnssecState::Insecure
                    },
                }
            }
            Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))) => {
                // A validating upstream answers SERVFAIL for bogus data: ask with CD=1.
                self.explain(name, rtype, pick, Some("SERVFAIL")).await
            }
            Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused))) => {
                unknown(DnsFailure::Refused, "REFUSED")
            }
            Err(NetError::Timeout) => unknown(DnsFailure::Timeout, "no answer in time"),
            Err(e) => unknown(DnsFailure::Other, &e.to_string()),
        }
    }

    /// Why `name`/`rtype` did not validate, from the same query with checking disabled and the
    /// signer's DNSKEY and DS records. `servfail` is set when our upstream (a validating
    /// resolver) answered SERVFAIL rather than our validator failing.
    async fn explain<T>(
        &self,
        name: &Name,
        rtype: RecordType,
        pick: fn(&RData) -> Option<T>,
        servfail: Option<&str>,
    ) -> Validated<T> {
        let response = match self.raw(name, rtype).await {
            Ok(m) => m,
            Err((failure, detail)) => {
                let what = servfail.map_or_else(
                    || {
                        format!(
                            "validation failed, and asking again with checking \
                             disabled failed too: {detail}"
                        )
                    },
                    |code| format!("{code}, and {detail} with checking disabled too"),
                );
                return unknown(failure, &what);
            }
        };
        let code = response.metadata.response_code;
        if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
            let detail = servfail.map_or_else(
                || format!("validation failed; with checking disabled: {code}"),
                |c| format!("{c}; with checking disabled: {code}"),
            );
            return unknown(DnsFailure::ServFail, &detail);
        }
        let records: Vec<T> = response
            .answers
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
            .filter_map(|r| pick(&r.data))
            .collect();
        let lookup = if !records.is_empty() {
            Lookup::Answer { records }
        } else if code == ResponseCode::NXDomain {
            Lookup::NxDomain
        } else {
            Lookup::NoData
        };
        let reason = self.reason(name, rtype, &response).await;
        let reason = match servfail {
            Some(code) => format!(
                "the resolver answers {code}, but returns the records with \
                 checking disabled: {reason}"
            ),
            None => reason,
        };
        Validated {
            lookup,
            dnssec: DnssecState::Bogus { reason },
        }
    }

    /// The first defect found in a response fetched with checking disabled.
    async fn reason(&self, name: &Name, rtype: RecordType, response: &Message) -> String {
        let now = u32::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
        .unwrap_or(u32::MAX);
        let positive = response
            .answers
            .iter()
            .any(|r| r.record_type() == rtype && r.record_type() != RecordType::RRSIG);
        // The signatures that should prove the answer (or the denial).
        let section = if positive {
            &response.answers
        } else {
            &response.authorities
        };
        let sigs: Vec<&RRSIG> = section
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig))
                    if !positive || sig.input().type_covered == rtype =>
                {
                    Some(sig)
                }
                _ => None,
            })
            .collect();
        if sigs.is_empty() {
            return if positive {
                format!("the {rtype} records of {name} carry no signature (RRSIG)")
            } else {
                format!(
                    "the answer that {name} has no {rtype} records carries no signed \
                     proof (NSEC/NSEC3 with RRSIG)"
                )
            };
        }
        let current: Vec<&&RRSIG> = sigs
            .iter()
            .filter(|s| {
                let input = s.input();
                input.sig_inception.get() <= now && now <= input.sig_expiration.get()
            })
            .collect();
        let Some(sig) = current.first() else {
            let input = sigs[0].input();
            return if input.sig_expiration.get() < now {
                format!(
                    "the signature over {name} {rtype} expired at {} (Unix time)",
                    input.sig_expiration.get()
                )
            } else {
                format!(
                    "the signature over {name} {rtype} is not valid before {} (Unix time)",
                    input.sig_inception.get()
                )
            };
        };
        let signer = sig.input().signer_name.clone();
        let tag = sig.input().key_tag;
        let keys = match self.raw(&signer, RecordType::DNSKEY).await {
            Ok(m) => m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                    _ => None,
                })
                .collect::<Vec<DNSKEY>>(),
            Err((_, detail)) => {
                return format!(
                    "the signer {signer}'s DNSKEY records cannot be fetched ({detail})"
                );
            }
        };
        if keys.is_empty() {
            return format!("the signer {signer} publishes no DNSKEY records");
        }
        let tags: Vec<u16> = keys
            .iter()
            .filter_map(|k| k.calculate_key_tag().ok())
            .collect();
        if !tags.contains(&tag) {
            return format!(
                "{name} {rtype} is signed with key tag {tag}, which is not in {signer}'s \
                 DNSKEY set (tags {})",
                join(&tags)
            );
        }
        if !signer.is_root()
            && let Ok(m) = self.raw(&signer, RecordType::DS).await
        {
            let ds: Vec<&DS> = m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DS(d)) => Some(d),
                    _ => None,
                })
                .collect();
            let matched = ds
                .iter()
                .any(|d| keys.iter().any(|k| d.covers(&signer, k).unwrap_or(false)));
            if !ds.is_empty() && !matched {
                let ds_tags: Vec<u16> = ds.iter().map(|d| d.key_tag()).collect();
                return format!(
                    "none of {signer}'s DNSKEYs (tags {}) matches its DS records in \
                     the parent zone (tags {})",
                    join(&tags),
                    join(&ds_tags)
                );
            }
        }
        format!(
            "the signatures over {name} {rtype} are current and the keys of {signer} match its \
             DS records, yet validation fails: a signature does not verify, or the chain of \
             trust above {signer} is broken"
        )
    }

    /// One query with DO=1 and CD=1 to the upstreams in turn (UDP, then TCP when truncated).
    async fn raw(&self, name: &Name, rtype: RecordType) -> Result<Message, (DnsFailure, String)> {
        let mut query = Message::query();
        query.add_query(Query::query(name.clone(), rtype));
        query.metadata.recursion_desired = true;
        query.metadata.checking_disabled = true;
        let mut edns = Edns::new();
        edns.enable_dnssec();
        edns.set_max_payload(4096);
        query.edns = Some(edns);
        let id = query.metadata.id;
        let bytes = query
            .to_vec()
            .map_err(|e| (DnsFailure::Other, e.to_string()))?;
        let mut last = (DnsFailure::Other, "no server to ask".to_owned());
        for server in &self.upstreams {
            for _ in 0..=self.attempts {
                match exchange(*server, &bytes, id, self.timeout).await {
                    Ok(m) => return Ok(m),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }
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

/// The trust anchors: the IANA root keys plus the configured DNSKEY records, and the owner
/// names of the configured ones (in order).
///
/// `configured` is DNSKEY records in zone-file syntax (`lab. 3600 IN DNSKEY 257 3 15 …`), or
/// the path of a file holding them: a value that contains `DNSKEY` is the records themselves.
/// hickory's trust-anchor reader takes DNSKEY records only, not DS.
fn trust_anchors(
    configured: Option<&str>,
) -> Result<(Arc<TrustAnchors>, Vec<LowerName>), crate::Error> {
    use hickory_resolver::proto::serialize::txt::trust_anchor::{Entry, Parser};
    let mut anchors = TrustAnchors::default();
    let mut owners = Vec::new();
    let Some(configured) = configured.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok((Arc::new(anchors), owners));
    };
    let text = if configured.to_ascii_uppercase().contains("DNSKEY") {
        configured.to_owned()
    } else {
        std::fs::read_to_string(configured).map_err(|e| {
            crate::Error::Config(format!(
                "auth.trust_anchor: cannot read {configured:?}: {e}"
            ))
        })?
    };
    let entries = Parser::new(text.as_str()).parse().map_err(|e| {
        crate::Error::Config(format!(
            "auth.trust_anchor: not DNSKEY records in zone-file syntax: {e}"
        ))
    })?;
    for entry in entries {
        if let Entry::DNSKEY(record) = entry {
            let owner = LowerName::from(record.name());
            anchors.insert_with_name(record.data().public_key(), owner.clone());
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
    }
    if owners.is_empty() {
        return Err(crate::Error::Config(
            "auth.trust_anchor: no DNSKEY record found".to_owned(),
        ));
    }
    Ok((Arc::new(anchors), owners))
}

/// The servers the run's resolver asks (the system's from `/etc/resolv.conf`).
fn upstreams(choice: &ResolverChoice) -> Result<Vec<SocketAddr>, String> {
    match choice {
        ResolverChoice::Servers(list) if !list.is_empty() => Ok(list.clone()),
        ResolverChoice::Servers(_) => Err("no DNS server given".to_owned()),
        ResolverChoice::System => {
            let (sys, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?;
            let list: Vec<SocketAddr> = sys
                .name_servers()
                .iter()
                .map(|ns| SocketAddr::new(ns.ip, ns.connections.first().map_or(53, |c| c.port)))
                .collect();
            if list.is_empty() {
                Err("the system DNS configuration names no server".to_owned())
            } else {
                Ok(list)
            }
        }
    }
}

fn build_resolver(
    servers: &[SocketAddr],
    dns: &DnsConfig,
    anchors: Arc<TrustAnchors>,
) -> Result<TokioResolver, String> {
    let name_servers = servers
        .iter()
        .map(|sa| crate::probe::dns::name_server(*sa))
        .collect();
    let mut opts = crate::probe::dns::resolver_opts(dns);
    opts.validate = true;
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .with_trust_anchor(anchors)
    .build()
    .map_err(|e| format!("cannot build the validating resolver: {e}"))
}

/// Whether hickory says the answer failed validation.
fn is_bogus(e: &NetError) -> bool {
    match e {
        NetError::Dns(DnsError::DnssecBogus) => true,
        NetError::Dns(DnsError::Nsec { proof, .. }) => *proof == Proof::Bogus,
        _ => false,
    }
}

/// The state of a set of answer records: bogus if any is, secure if all are, else insecure.
fn combine(proofs: impl Iterator<Item = Proof>) -> DnssecState {
    let mut all_secure = true;
    let mut any = false;
    for proof in proofs {
        any = true;
        match proof {
            Proof::Secure => {}
            Proof::Bogus => {
                return DnssecState::Bogus {
                    reason: "a record failed validation".to_owned(),
                };
            }
            _ => all_secure = false,
        }
    }
    if any && all_secure {
        DnssecState::Secure
    } else {
        DnssecState::Insecure
    }
}

fn unknown<T>(failure: DnsFailure, detail: &str) -> Validated<T> {
    Validated {
        lookup: Lookup::Failed {
            failure,
            detail: detail.to_owned(),
        },
        dnssec: DnssecState::Unknown,
    }
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

fn join(tags: &[u16]) -> String {
    tags.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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

/// One DNS exchange with `server`: UDP, and TCP when the UDP answer is truncated.
async fn exchange(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message, (DnsFailure, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = |e: std::io::Error| (DnsFailure::Other, e.to_string());
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || (DnsFailure::Timeout, "no answer in time".to_owned());
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    let udp = loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(io(e)),
            Err(_) => return Err(timed_out()),
        };
        if let Ok(msg) = Message::from_vec(&buf[..n])
            && msg.metadata.id == id
        {
            break msg;
        }
    };
    if !udp.metadata.truncation {
        return Ok(udp);
    }
    let tcp = async {
        let mut stream = tokio::net::TcpStream::connect(server).await.map_err(io)?;
        let len = u16::try_from(query.len())
            .map_err(|_| (DnsFailure::Other, "query too long".to_owned()))?;
        stream.write_all(&len.to_be_bytes()).await.map_err(io)?;
        stream.write_all(query).await.map_err(io)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(io)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.map_err(io)?;
        Message::from_vec(&body).map_err(|e| (DnsFailure::Other, e.to_string()))
    };
    tokio::time::timeout_at(deadline, tcp)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_combine() {
        assert_eq!(
            combine([Proof::Secure, Proof::Secure].into_iter()),
            DnssecState::Secure
        );
        assert_eq!(
            combine([Proof::Secure, Proof::Insecure].into_iter()),
            DnssecState::Insecure
        );
        assert!(matches!(
            combine([Proof::Secure, Proof::Bogus].into_iter()),
            DnssecState::Bogus { .. }
        ));
        assert_eq!(combine(std::iter::empty()), DnssecState::Insecure);
    }

    #[test]
    fn trust_anchor_text_and_errors() {
        let (anchors, owners) = trust_anchors(None).unwrap();
        assert_eq!(anchors.len(), 2, "the IANA root keys");
        assert!(owners.is_empty());
        // An Ed25519 key (32 bytes) for a lab zone.
        let text = "lab.test. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";
        let (anchors, owners) = trust_anchors(Some(text)).unwrap();
        assert_eq!(
            anchors.len(),
            2,
            "still the root keys, plus one for lab.test."
        );
        assert_eq!(
            owners,
            vec![LowerName::from(Name::from_ascii("lab.test.").unwrap())]
        );
        assert!(matches!(
            trust_anchors(Some("/nonexistent/anchor.key")),
            Err(crate::Error::Config(_))
        ));
        assert!(matches!(
            trust_anchors(Some("lab.test. IN DNSKEY nonsense")),
            Err(crate::Error::Config(_))
        ));
    }

    #[test]
    fn tlsa_presentation() {
        let r = TlsaRecord {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "ab".repeat(32),
        };
        assert_eq!(r.describe(), "3 1 1 abababababababab…");
        assert!(r.is_dane_usage());
    }
}
