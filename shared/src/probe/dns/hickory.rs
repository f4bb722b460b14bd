//! [`HickoryDns`]: the [`DnsSource`] over hickory-resolver, with at most `max_in_flight`
//! queries outstanding, identical queries in flight sent once, negative answers cached briefly,
//! and hickory's errors told apart as [`Lookup`] outcomes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup as HickoryLookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::{AddressAnswer, DnsFuture, DnsSource, answer, name_to_string, parse_name};
use crate::config::{DnsConfig, ResolverChoice};
use crate::facts::{DnsFailure, Lookup, MxRecord};
use crate::probe::memo::InFlight;

/// One explicit server for a hickory resolver, over UDP and TCP on its port (non-53 ports
/// work: labs and internal resolvers).
pub(crate) fn name_server(sa: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = sa.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = sa.port();
    NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
}

/// [`DnsSource`] over hickory-resolver: the system configuration or explicit servers.
#[derive(Clone)]
pub struct HickoryDns {
    resolver: TokioResolver,
    /// Queries being asked now, by name (lower case, absolute) and type.
    flight: std::sync::Arc<Flight>,
    /// One permit per query that may be outstanding at the resolver.
    outstanding: std::sync::Arc<tokio::sync::Semaphore>,
    label: String,
    /// Explicit servers, for the loopback PTR path (see [`HickoryDns::ptr`]).
    pub(super) servers: Vec<SocketAddr>,
    pub(super) timeout: std::time::Duration,
    pub(super) attempts: usize,
}

impl fmt::Debug for HickoryDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryDns")
            .field("resolver", &self.label)
            .finish_non_exhaustive()
    }
}

impl HickoryDns {
    /// A resolver for this configuration.
    ///
    /// [`ResolverChoice::System`] reads `/etc/resolv.conf` (its name servers; our timeout and
    /// attempts win over its options). [`ResolverChoice::Servers`] uses exactly those servers,
    /// each over UDP and TCP on its own port. In both cases hickory's cache is off, names are
    /// always absolute (`ndots = 0`, no search list) and the hosts file is never consulted: the
    /// diagnosis must see what DNS says, as other senders do.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when the system configuration cannot be read, no server is
    /// given, or the resolver cannot be built.
    pub fn new(config: &DnsConfig) -> Result<Self, crate::Error> {
        let (resolver_config, label) = match &config.resolver {
            ResolverChoice::System => {
                let (sys, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                    crate::Error::Config(format!(
                        "dns.resolver: cannot read the system DNS configuration: {e}"
                    ))
                })?;
                let servers: Vec<String> = sys
                    .name_servers()
                    .iter()
                    .map(|ns| {
                        let port = ns.connections.first().map_or(53, |c| c.port);
                        SocketAddr::new(ns.ip, port).to_string()
                    })
                    .collect();
                let label = format!("system ({})", servers.join(", "));
                if sys.name_servers().is_empty() {
                    return Err(crate::Error::Config(
                        "dns.resolver: the system DNS configuration names no server".to_owned(),
                    ));
                }
                (
                    ResolverConfig::from_name_servers(sys.name_servers().to_vec()),
                    label,
                )
            }
            ResolverChoice::Servers(list) => {
                if list.is_empty() {
                    return Err(crate::Error::Config(
                        "dns.resolver: no DNS server given".to_owned(),
                    ));
                }
                let servers = list.iter().map(|sa| name_server(*sa)).collect();
                let label = list
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                (ResolverConfig::from_name_servers(servers), label)
            }
        };
        let opts = resolver_opts(config);
        let resolver =
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| crate::Error::Config(format!("dns.resolver: {e}")))?;
        let servers = match &config.resolver {
            ResolverChoice::Servers(list) => list.clone(),
            ResolverChoice::System => Vec::new(),
        };
        Ok(Self {
            resolver,
            flight: std::sync::Arc::default(),
            outstanding: std::sync::Arc::new(tokio::sync::Semaphore::new(
                config.max_in_flight.max(1),
            )),
            label,
            servers,
            timeout: config.timeout,
            attempts: config.attempts,
        })
    }

    /// Which resolver answers: `system (IP:PORT, …)` or `IP:PORT, …`.
    pub(crate) fn label(&self) -> String {
        self.label.clone()
    }

    async fn query<T>(&self, name: &str, rtype: RecordType) -> Result<HickoryLookup, Lookup<T>> {
        let name = parse_name(name).map_err(|detail| Lookup::Failed {
            failure: DnsFailure::Other,
            detail,
        })?;
        let key = (name.to_ascii().to_ascii_lowercase(), rtype);
        let result = self
            .flight
            .run(key, || async {
                let _permit = self.outstanding.acquire().await;
                self.resolver
                    .lookup(name, rtype)
                    .await
                    .map_err(|e| classify(&e))
            })
            .await;
        result.map_err(negative)
    }

    async fn addresses(&self, name: &str, rtype: RecordType) -> AddressAnswer {
        match self.query(name, rtype).await {
            Ok(lookup) => {
                let mut cname_chain = Vec::new();
                let mut records = Vec::new();
                for rec in lookup.answers() {
                    match &rec.data {
                        RData::CNAME(c) => cname_chain.push(name_to_string(&c.0)),
                        RData::A(a) if rtype == RecordType::A => records.push(IpAddr::V4(a.0)),
                        RData::AAAA(a) if rtype == RecordType::AAAA => {
                            records.push(IpAddr::V6(a.0));
                        }
                        _ => {}
                    }
                }
                AddressAnswer {
                    lookup: answer(records),
                    cname_chain,
                }
            }
            Err(negative) => AddressAnswer {
                lookup: negative,
                cname_chain: Vec::new(),
            },
        }
    }

    async fn names(&self, name: &str, rtype: RecordType) -> Lookup<String> {
        match self.query(name, rtype).await {
            Ok(lookup) => {
                let records = lookup
                    .answers()
                    .iter()
                    .filter_map(|rec| match &rec.data {
                        RData::PTR(p) if rtype == RecordType::PTR => Some(name_to_string(&p.0)),
                        RData::NS(ns) if rtype == RecordType::NS => Some(name_to_string(&ns.0)),
                        RData::CNAME(c) if rtype == RecordType::CNAME => Some(name_to_string(&c.0)),
                        RData::TXT(t) if rtype == RecordType::TXT => Some(
                            t.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s))
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect();
                answer(records)
            }
            Err(negative) => negative,
        }
    }
}

/// Queries in flight, by name (lower case, absolute) and type, with their shared outcome.
type Flight = InFlight<(String, RecordType), Result<HickoryLookup, Lookup<()>>>;

/// How long a negative answer (NXDOMAIN, NODATA) is cached at most: a record just added shows
/// within this time.
pub(crate) const NEGATIVE_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The resolver options every resolver of ours uses (the validating one adds `validate`): the
/// configured timeout, attempts and cache, negative answers cached at most
/// [`NEGATIVE_MAX_TTL`], names always absolute, no hosts file, aliases kept in answers.
pub(crate) fn resolver_opts(config: &DnsConfig) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.timeout = config.timeout;
    opts.attempts = config.attempts;
    opts.cache_size = config.cache_size;
    opts.negative_max_ttl = Some(NEGATIVE_MAX_TTL);
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    opts
}

/// A negative outcome for any record type.
fn negative<T>(outcome: Lookup<()>) -> Lookup<T> {
    match outcome {
        Lookup::Answer { .. } | Lookup::NoData => Lookup::NoData,
        Lookup::NxDomain => Lookup::NxDomain,
        Lookup::Failed { failure, detail } => Lookup::Failed { failure, detail },
    }
}

impl DnsSource for HickoryDns {
    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>> {
        Box::pin(async move {
            match self.query(name, RecordType::MX).await {
                Ok(lookup) => {
                    let mut records: Vec<MxRecord> = lookup
                        .answers()
                        .iter()
                        .filter_map(|rec| match &rec.data {
                            RData::MX(mx) => Some(MxRecord {
                                preference: mx.preference,
                                exchange: name_to_string(&mx.exchange),
                            }),
                            _ => None,
                        })
                        .collect();
                    // Stable: equal preferences keep the answer order.
                    records.sort_by_key(|r| r.preference);
                    answer(records)
                }
                Err(negative) => negative,
            }
        })
    }

    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer> {
        Box::pin(self.addresses(name, RecordType::A))
    }

    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer> {
        Box::pin(self.addresses(name, RecordType::AAAA))
    }

    fn cname<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        Box::pin(self.names(name, RecordType::CNAME))
    }

    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>> {
        Box::pin(async move {
            if ip.is_loopback() && !self.servers.is_empty() {
                return self.direct_ptr(ip).await;
            }
            let rname = Name::from(ip).to_ascii();
            self.names(&rname, RecordType::PTR).await
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        Box::pin(self.names(name, RecordType::TXT))
    }

    fn dnsbl_a<'a>(&'a self, query_name: &'a str) -> DnsFuture<'a, Lookup<Ipv4Addr>> {
        Box::pin(async move {
            let answer = self.addresses(query_name, RecordType::A).await;
            answer.lookup.map(|ip| match ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            })
        })
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn clear_cache(&self) {
        self.resolver.clear_cache();
    }

    fn ns<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        Box::pin(self.names(name, RecordType::NS))
    }
}

/// Tells the hickory errors apart: NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout, other.
pub(super) fn classify<T>(error: &NetError) -> Lookup<T> {
    let failed = |failure| Lookup::Failed {
        failure,
        detail: error.to_string(),
    };
    match error {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            Lookup::NxDomain
        }
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NoError =>
        {
            Lookup::NoData
        }
        NetError::Dns(DnsError::NoRecordsFound(nr)) => Lookup::Failed {
            failure: DnsFailure::Other,
            detail: format!("no records, response code {}", nr.response_code),
        },
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            failed(DnsFailure::ServFail)
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => failed(DnsFailure::Refused),
        NetError::Timeout => Lookup::Failed {
            failure: DnsFailure::Timeout,
            detail: "no answer in time".to_owned(),
        },
        _ => failed(DnsFailure::Other),
    }
}
