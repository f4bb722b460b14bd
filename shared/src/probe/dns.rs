//! The DNS layer: a narrow, object-safe [`DnsSource`] trait returning our own outcome type
//! ([`Lookup`]), and [`HickoryDns`], its implementation over hickory-resolver 0.26.
//!
//! Every method answers with a [`Lookup`] that tells apart an answer, NXDOMAIN, NODATA and the
//! failures (SERVFAIL, REFUSED, timeout, other). Names are given with or without the trailing dot
//! and are always queried as fully qualified names (no search list). Names in answers come back in
//! lower case without the trailing dot (the root is `"."`).
//!
//! At most `dns.max_in_flight` queries are outstanding at once (a burst beyond what the
//! resolver's socket holds is dropped, and each drop costs a retransmission timeout).
//! Identical queries in flight at the same time are sent once (`InFlight`); answers are
//! cached by hickory for their TTL (`dns.cache_size` entries, negative answers at most
//! `NEGATIVE_MAX_TTL`), as a recursive resolver would. Memoisation per run of derived facts
//! is done by the callers (`memo::Memo`).

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup as HickoryLookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use serde::{Deserialize, Serialize};

use super::memo::InFlight;
use crate::config::{DnsConfig, ResolverChoice};
use crate::facts::{DnsFailure, Lookup, MxRecord};

/// A boxed future as returned by [`DnsSource`] methods (object-safe async).
pub(crate) type DnsFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The A or AAAA lookup of one name, with the aliases followed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressAnswer {
    /// The lookup; only addresses of the asked family are in the records.
    pub lookup: Lookup<IpAddr>,
    /// The CNAME targets the resolver followed, in order (lower case, no trailing dot); empty
    /// when the name is not an alias.
    pub cname_chain: Vec<String>,
}

/// The DNS queries the probes need. Object-safe, so an `Arc<dyn DnsSource>` can be shared by all
/// probes and replaced by a fake in tests.
pub trait DnsSource: Send + Sync + fmt::Debug {
    /// MX records of `name`, sorted by preference (ties keep the answer order). The exchange is
    /// lower case without the trailing dot, `"."` for a null MX.
    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>>;

    /// IPv4 addresses of `name`, following CNAMEs.
    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer>;

    /// IPv6 addresses of `name`, following CNAMEs.
    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer>;

    /// The CNAME record at `name` itself (not followed): the alias target, if any.
    fn cname<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>>;

    /// PTR names of `ip` (lower case, no trailing dot).
    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>>;

    /// TXT records of `name`; the character-strings of one record are joined.
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>>;

    /// The A records of a blocklist query name (`2.0.0.127.zone.`), as return codes.
    fn dnsbl_a<'a>(&'a self, query_name: &'a str) -> DnsFuture<'a, Lookup<Ipv4Addr>>;

    /// Which resolver answers, for the record: `system (IP:PORT, …)` or `IP:PORT, …`.
    fn label(&self) -> String;

    /// Forgets cached answers, so the next queries ask the servers (a long-lived checker's
    /// caches expired). The default has nothing to forget.
    fn clear_cache(&self) {}

    /// NS names at `name` itself (lower case, no trailing dot): where the zone that holds a
    /// domain is delegated. The default answers "not supported" (a failed lookup), so DNS
    /// sources that never need it (fakes in tests) do not have to implement it.
    fn ns<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        let _ = name;
        Box::pin(async { failed(DnsFailure::Other, "NS lookups are not supported here") })
    }
}

/// What one server said when asked directly for a name's MX records (one UDP exchange, no
/// resolver in between), with the header bits that tell an authoritative answer from a cached
/// one or a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMx {
    /// The outcome: the MX records (sorted by preference, ties in answer order), NODATA,
    /// NXDOMAIN, or the failure (REFUSED, SERVFAIL, timeout, another response code or an I/O
    /// error).
    pub mx: Lookup<MxRecord>,
    /// The reply's response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, …); `None` when
    /// no reply came (timeout, I/O error).
    pub response_code: Option<u16>,
    /// The AA (authoritative answer) bit of the reply; `false` when there was no reply.
    pub authoritative: bool,
    /// The alias target when the answer holds a CNAME for the name (lower case, no trailing
    /// dot): a server asked without recursion does not follow it.
    pub cname: Option<String>,
    /// The smallest TTL of the MX records in the answer (from a resolver: what is left of its
    /// cached copy).
    pub ttl: Option<u32>,
    /// The reply had the TC bit set: its answer is incomplete (TCP is not tried).
    pub truncated: bool,
}

/// Asks `server` directly for the MX records of `name`: one UDP query, with the RD (recursion
/// desired) bit as given — unset to ask an authoritative name server about its own zone, set to
/// ask a resolver. A query that gets no reply in `timeout` is sent again, `tries` times in all
/// (at least once).
pub(crate) async fn direct_mx(
    server: SocketAddr,
    name: &str,
    recursion_desired: bool,
    timeout: std::time::Duration,
    tries: usize,
) -> DirectMx {
    use hickory_resolver::proto::op::{Edns, Message, Query};
    let no_reply = |mx| DirectMx {
        mx,
        response_code: None,
        authoritative: false,
        cname: None,
        ttl: None,
        truncated: false,
    };
    let qname = match parse_name(name) {
        Ok(n) => n,
        Err(detail) => return no_reply(failed(DnsFailure::Other, &detail)),
    };
    let mut query = Message::query();
    query.metadata.recursion_desired = recursion_desired;
    query.add_query(Query::query(qname, RecordType::MX));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    query.set_edns(edns);
    let id = query.metadata.id;
    let Ok(bytes) = query.to_vec() else {
        return no_reply(failed(DnsFailure::Other, "cannot encode the MX query"));
    };
    let mut last = failed(DnsFailure::Timeout, "no answer");
    for _ in 0..tries.max(1) {
        match direct_exchange(server, &bytes, id, timeout).await {
            Ok(response) => return direct_mx_answer(&response),
            Err(
                e @ Lookup::Failed {
                    failure: DnsFailure::Timeout,
                    ..
                },
            ) => last = e,
            Err(e) => return no_reply(e),
        }
    }
    no_reply(last)
}

fn direct_mx_answer(response: &hickory_resolver::proto::op::Message) -> DirectMx {
    let meta = &response.metadata;
    let mut ttl = None;
    let mut cname = None;
    let mx = match meta.response_code {
        ResponseCode::NoError => {
            let mut records: Vec<MxRecord> = Vec::new();
            for rec in &response.answers {
                match &rec.data {
                    RData::MX(mx) => {
                        ttl = Some(ttl.map_or(rec.ttl, |t: u32| t.min(rec.ttl)));
                        records.push(MxRecord {
                            preference: mx.preference,
                            exchange: name_to_string(&mx.exchange),
                        });
                    }
                    RData::CNAME(c) if cname.is_none() => cname = Some(name_to_string(&c.0)),
                    _ => {}
                }
            }
            records.sort_by_key(|r| r.preference);
            answer(records)
        }
        ResponseCode::NXDomain => Lookup::NxDomain,
        ResponseCode::ServFail => failed(DnsFailure::ServFail, ""),
        ResponseCode::Refused => failed(DnsFailure::Refused, ""),
        other => failed(
            DnsFailure::Other,
            &format!("response code {} ({other})", u16::from(other)),
        ),
    };
    DirectMx {
        mx,
        response_code: Some(u16::from(meta.response_code)),
        authoritative: meta.authoritative,
        cname,
        ttl,
        truncated: meta.truncation,
    }
}

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
    servers: Vec<SocketAddr>,
    timeout: std::time::Duration,
    attempts: usize,
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

    /// PTR of a loopback address asked directly of the configured servers.
    ///
    /// hickory-resolver answers every PTR under `127.in-addr.arpa.` and for `::1` itself with
    /// `localhost.` (RFC 6761) and never asks the server. A lab or an internal audit that serves
    /// its own reverse zone for loopback addresses (with `allow_private`) needs the real answer,
    /// so for those addresses we send one plain UDP query to the explicit servers.
    async fn direct_ptr(&self, ip: IpAddr) -> Lookup<String> {
        use hickory_resolver::proto::op::{Message, Query};
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(Name::from(ip), RecordType::PTR));
        let id = query.metadata.id;
        let Ok(bytes) = query.to_vec() else {
            return failed(DnsFailure::Other, "cannot encode the PTR query");
        };
        let mut last = failed(DnsFailure::Timeout, "no answer");
        for server in &self.servers {
            for _ in 0..=self.attempts {
                match direct_exchange(*server, &bytes, id, self.timeout).await {
                    Ok(response) => return direct_answer(&response),
                    Err(e) => last = e,
                }
            }
        }
        last
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

/// Records of the asked type; none (only aliases, or other types) is NODATA.
fn answer<T>(records: Vec<T>) -> Lookup<T> {
    if records.is_empty() {
        Lookup::NoData
    } else {
        Lookup::Answer { records }
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

/// Parses a name as absolute (a trailing dot is added when missing).
fn parse_name(name: &str) -> Result<Name, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty name".to_owned());
    }
    let fqdn = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fqdn).map_err(|e| format!("{name:?} is not a valid DNS name: {e}"))
}

/// Lower case, no trailing dot; the root is `"."`.
fn name_to_string(name: &Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    let s = name.to_lowercase().to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_owned()
}

/// Tells the hickory errors apart: NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout, other.
fn classify<T>(error: &NetError) -> Lookup<T> {
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

fn failed<T>(failure: DnsFailure, detail: &str) -> Lookup<T> {
    Lookup::Failed {
        failure,
        detail: detail.to_owned(),
    }
}

/// One UDP exchange with a DNS server: the decoded response with our query id.
async fn direct_exchange<T>(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: std::time::Duration,
) -> Result<hickory_resolver::proto::op::Message, Lookup<T>> {
    use hickory_resolver::proto::op::Message;
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| failed(DnsFailure::Other, &e.to_string());
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(io(e)),
            Err(_) => return Err(failed(DnsFailure::Timeout, "no answer")),
        };
        if let Ok(msg) = Message::from_vec(&buf[..n])
            && msg.metadata.id == id
        {
            return Ok(msg);
        }
    }
}

fn direct_answer(response: &hickory_resolver::proto::op::Message) -> Lookup<String> {
    match response.metadata.response_code {
        ResponseCode::NoError => answer(
            response
                .answers
                .iter()
                .filter_map(|rec| match &rec.data {
                    RData::PTR(p) => Some(name_to_string(&p.0)),
                    _ => None,
                })
                .collect(),
        ),
        ResponseCode::NXDomain => Lookup::NxDomain,
        ResponseCode::ServFail => failed(DnsFailure::ServFail, ""),
        ResponseCode::Refused => failed(DnsFailure::Refused, ""),
        other => failed(DnsFailure::Other, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(name_to_string(&Name::root()), ".");
        assert_eq!(
            name_to_string(&Name::from_ascii("MX1.Example.TEST.").unwrap()),
            "mx1.example.test"
        );
        assert!(parse_name("example.test").unwrap().is_fqdn());
        assert!(parse_name("example.test.").unwrap().is_fqdn());
        assert!(parse_name("").is_err());
        assert!(parse_name("a..b").is_err());
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            classify::<()>(&NetError::Timeout),
            Lookup::Failed {
                failure: DnsFailure::Timeout,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Dns(DnsError::ResponseCode(
                ResponseCode::ServFail
            ))),
            Lookup::Failed {
                failure: DnsFailure::ServFail,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Dns(DnsError::ResponseCode(
                ResponseCode::Refused
            ))),
            Lookup::Failed {
                failure: DnsFailure::Refused,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Msg("boom".to_owned())),
            Lookup::Failed {
                failure: DnsFailure::Other,
                ..
            }
        ));
    }

    #[test]
    fn empty_answers_are_nodata() {
        assert_eq!(answer::<u8>(vec![]), Lookup::NoData);
        assert_eq!(answer(vec![1]), Lookup::Answer { records: vec![1] });
    }
}
