//! The DNSSEC [`Validator`]: a hickory resolver with validation on, built once per run from
//! the run's servers and trust anchors; the once-per-run check that the servers hand out
//! DNSSEC records; and the validated lookup that turns hickory's outcome into [`Validated`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::ResolverConfig;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::{DnssecState, Validated};
use crate::config::{AuthConfig, DnsConfig, ResolverChoice};
use crate::facts::{DnsFailure, Lookup};

/// A validating resolver for a run: hickory with validation on, the run's servers, the IANA
/// root keys plus the configured trust anchors. Cheap to share (`Arc`).
pub struct Validator {
    pub(super) resolver: Result<TokioResolver, String>,
    pub(super) upstreams: Vec<SocketAddr>,
    pub(super) timeout: Duration,
    pub(super) attempts: usize,
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
    pub(super) async fn validated<T>(
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
}

/// The trust anchors: the IANA root keys plus the configured DNSKEY records, and the owner
/// names of the configured ones (in order).
///
/// `configured` is DNSKEY records in zone-file syntax (`lab. 3600 IN DNSKEY 257 3 15 …`), or
/// the path of a file holding them: a value that contains `DNSKEY` is the records themselves.
/// hickory's trust-anchor reader takes DNSKEY records only, not DS.
pub(super) fn trust_anchors(
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
pub(super) fn combine(proofs: impl Iterator<Item = Proof>) -> DnssecState {
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

pub(super) fn unknown<T>(failure: DnsFailure, detail: &str) -> Validated<T> {
    Validated {
        lookup: Lookup::Failed {
            failure,
            detail: detail.to_owned(),
        },
        dnssec: DnssecState::Unknown,
    }
}
