//! An authoritative DNS server on loopback, built from records written in code.
//!
//! The server is [hickory-server](hickory_server) with an in-memory zone per apex, wrapped in a
//! handler that logs every query and can inject faults (SERVFAIL, REFUSED, never answer, delay,
//! truncation, no AA bit) per name.
//!
//! # Zones
//! Every server is authoritative for `test.`, `in-addr.arpa.` and `ip6.arpa.`, so a query for an
//! unknown name under one of them gets **NXDOMAIN**, and a query for a name that exists but has no
//! record of the asked type gets **NODATA** (NOERROR with an empty answer and the SOA in the
//! authority section). More apexes can be added with [`DnsServerBuilder::zone`]; a record whose
//! name falls outside every apex gets a zone at its last two labels (`mx.example.com.` →
//! `example.com.`). A name outside all zones gets **REFUSED**; add the root zone
//! (`.zone(".")`) to answer NXDOMAIN for everything instead.
//!
//! Names under the RFC 6761 special-use TLDs (`.invalid`, `.localhost`) never reach a server,
//! because the resolver answers them itself: use `.test`. The same holds for loopback reverse
//! names: hickory-resolver answers every PTR query under `127.in-addr.arpa.` (and for `::1`)
//! with `localhost.` without asking, so PTR records for `127.0.0.N` served here are only seen
//! by clients that send the query themselves. Use documentation addresses (`192.0.2.0/24`,
//! `2001:db8::/32`) for reverse-DNS scenarios.
//!
//! ```no_run
//! # async fn demo() {
//! use std::net::Ipv4Addr;
//! use mailcheck_lab::dns::DnsServer;
//!
//! let dns = DnsServer::builder()
//!     .mx("example.test", 10, "mx1.example.test")
//!     .a("mx1.example.test", Ipv4Addr::new(127, 0, 0, 1))
//!     .servfail("broken.test")
//!     .dnsbl_zone("bl.test")
//!     .build()
//!     .await;
//! let addr = dns.addr(); // UDP and TCP on the same port
//! # let _ = addr;
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::dnssec::rdata::DNSSECRData;
use hickory_server::proto::dnssec::{DnssecSigner, PublicKeyBuf};
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, Record, RrKey};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponse, MessageResponseBuilder, ZoneHandler, ZoneType,
};

pub use hickory_server::proto::rr::{RData, RecordType};

pub mod signed;

/// TTL given to records added without an explicit TTL.
pub const DEFAULT_TTL: u32 = 300;

/// The negative-caching TTL (SOA minimum) of every zone the server creates.
pub const NEGATIVE_TTL: u32 = 60;

/// The zones every server is authoritative for.
const DEFAULT_ZONES: [&str; 3] = ["test.", "in-addr.arpa.", "ip6.arpa."];

/// The RFC 5782 §5 test entry every DNSBL must list.
pub const DNSBL_CANARY_LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The RFC 5782 §5 test entry no DNSBL may list.
pub const DNSBL_CANARY_UNLISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// A fault the server injects for queries at or below a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer SERVFAIL.
    ServFail,
    /// Answer REFUSED.
    Refused,
    /// Never answer (the resolver times out).
    Hang,
    /// Answer normally, after this delay.
    Delay(Duration),
    /// Over UDP, answer with an empty response that has the TC (truncated) bit set, so the
    /// resolver retries over TCP; over TCP, answer normally.
    TruncateUdp,
    /// Answer normally but without the AA (authoritative answer) bit, as a server that does
    /// not really serve the zone does (a lame delegation).
    NotAuthoritative,
}

/// One query the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLogEntry {
    /// The query name, lowercase, with the trailing dot (`mx1.example.test.`).
    pub name: String,
    /// The query type.
    pub record_type: RecordType,
    /// Whether the query came over TCP (otherwise UDP).
    pub tcp: bool,
    /// The RD (recursion desired) bit: clear when a client asks an authoritative server about
    /// its own zone directly.
    pub recursion_desired: bool,
    /// The client's address.
    pub src: SocketAddr,
}

#[derive(Debug, Clone)]
struct FaultRule {
    name: LowerName,
    record_type: Option<RecordType>,
    fault: Fault,
}

impl FaultRule {
    fn matches(&self, qname: &LowerName, qtype: RecordType) -> bool {
        self.name.zone_of(qname) && self.record_type.is_none_or(|t| t == qtype)
    }
}

/// Parses a domain name written in code; a missing trailing dot is added. `"."` is the root.
///
/// # Panics
/// If the name is not a valid domain name.
pub fn name(s: &str) -> Name {
    if s == "." || s.is_empty() {
        return Name::root();
    }
    let fqdn = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_utf8(&fqdn).unwrap_or_else(|e| panic!("invalid domain name {s:?}: {e}"))
}

/// The lowercase presentation form with a trailing dot, used as the key of the query log.
fn key_of(name: &Name) -> String {
    name.to_lowercase().to_ascii()
}

/// The reverse-DNS name of an address: `4.3.2.1.in-addr.arpa.` or the 32-nibble `ip6.arpa.` name.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{}in-addr.arpa.", reversed_v4(v4)),
        IpAddr::V6(v6) => format!("{}ip6.arpa.", reversed_v6(v6)),
    }
}

/// The name a DNSBL client queries for `ip` in `zone`: reversed octets (IPv4) or reversed
/// nibbles (IPv6) followed by the zone, with a trailing dot.
pub fn dnsbl_query_name(ip: IpAddr, zone: &str) -> String {
    let zone = key_of(&name(zone));
    match ip {
        IpAddr::V4(v4) => format!("{}{zone}", reversed_v4(v4)),
        IpAddr::V6(v6) => format!("{}{zone}", reversed_v6(v6)),
    }
}

fn reversed_v4(ip: Ipv4Addr) -> String {
    ip.octets().iter().rev().map(|o| format!("{o}.")).collect()
}

fn reversed_v6(ip: Ipv6Addr) -> String {
    ip.octets()
        .iter()
        .rev()
        .map(|b| format!("{:x}.{:x}.", b & 0x0f, b >> 4))
        .collect()
}

/// Builds a [`DnsServer`]. Start with [`DnsServer::builder`].
///
/// Name arguments are written without or with the trailing dot and may be internationalised
/// (they are converted to punycode). Invalid names panic: this is test code.
#[derive(Debug, Clone)]
pub struct DnsServerBuilder {
    bind: SocketAddr,
    default_ttl: u32,
    zones: Vec<Name>,
    records: Vec<(Name, Option<u32>, RData)>,
    faults: Vec<FaultRule>,
    dnssec: bool,
    corrupt: Vec<(Name, RecordType)>,
}

impl Default for DnsServerBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            default_ttl: DEFAULT_TTL,
            zones: DEFAULT_ZONES.iter().map(|z| name(z)).collect(),
            records: Vec::new(),
            faults: Vec::new(),
            dnssec: false,
            corrupt: Vec::new(),
        }
    }
}

impl DnsServerBuilder {
    /// Binds UDP and TCP to this address instead of `127.0.0.1:0`. With port 0 a free port is
    /// chosen that is free for both protocols.
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The TTL of records added without an explicit TTL (default [`DEFAULT_TTL`]).
    #[must_use]
    pub fn default_ttl(mut self, ttl: u32) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Makes the server authoritative for `apex` (with an SOA), so unknown names under it get
    /// NXDOMAIN. `"."` makes it authoritative for everything.
    #[must_use]
    pub fn zone(mut self, apex: &str) -> Self {
        let apex = name(apex);
        if !self.zones.contains(&apex) {
            self.zones.push(apex);
        }
        self
    }

    /// Adds any record, with the default TTL.
    #[must_use]
    pub fn record(mut self, owner: &str, rdata: RData) -> Self {
        self.records.push((name(owner), None, rdata));
        self
    }

    /// Adds any record with an explicit TTL.
    #[must_use]
    pub fn record_with_ttl(mut self, owner: &str, ttl: u32, rdata: RData) -> Self {
        self.records.push((name(owner), Some(ttl), rdata));
        self
    }

    /// Adds an A record.
    #[must_use]
    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Self {
        self.record(owner, RData::A(A(ip)))
    }

    /// Adds an AAAA record.
    #[must_use]
    pub fn aaaa(self, owner: &str, ip: Ipv6Addr) -> Self {
        self.record(owner, RData::AAAA(AAAA(ip)))
    }

    /// Adds an A or AAAA record, depending on the address family.
    #[must_use]
    pub fn ip(self, owner: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => self.a(owner, v4),
            IpAddr::V6(v6) => self.aaaa(owner, v6),
        }
    }

    /// Adds an MX record. `exchange` may be `"."` (with preference 0 this is an RFC 7505 null MX).
    #[must_use]
    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Self {
        self.record(owner, RData::MX(MX::new(preference, name(exchange))))
    }

    /// Adds an NS record. To delegate a zone to name servers (asked directly by tests), declare
    /// the zone with [`zone`](Self::zone) first so the NS records sit at its apex; NS records
    /// below an apex make a referral instead.
    #[must_use]
    pub fn ns(self, owner: &str, target: &str) -> Self {
        self.record(owner, RData::NS(NS(name(target))))
    }

    /// Adds a CNAME record.
    #[must_use]
    pub fn cname(self, owner: &str, target: &str) -> Self {
        self.record(owner, RData::CNAME(CNAME(name(target))))
    }

    /// Adds a TXT record holding `text`; text longer than 255 bytes is split into several
    /// character-strings (clients join them back).
    #[must_use]
    pub fn txt(self, owner: &str, text: &str) -> Self {
        self.record(owner, txt_rdata(&[text]))
    }

    /// Adds a TXT record made of exactly these character-strings (each at most 255 bytes).
    #[must_use]
    pub fn txt_strings(self, owner: &str, strings: &[&str]) -> Self {
        let strings = strings.iter().map(|s| (*s).to_owned()).collect();
        self.record(owner, RData::TXT(TXT::new(strings)))
    }

    /// Adds a PTR record for `ip` (at its `in-addr.arpa.` / `ip6.arpa.` name) pointing to `target`.
    #[must_use]
    pub fn ptr(self, ip: IpAddr, target: &str) -> Self {
        self.record(&reverse_name(ip), RData::PTR(PTR(name(target))))
    }

    /// Injects a fault for every query at or below `owner` (any type).
    #[must_use]
    pub fn fault(mut self, owner: &str, fault: Fault) -> Self {
        self.faults.push(FaultRule {
            name: LowerName::new(&name(owner)),
            record_type: None,
            fault,
        });
        self
    }

    /// Injects a fault for queries of one type at or below `owner`.
    #[must_use]
    pub fn fault_for_type(mut self, owner: &str, record_type: RecordType, fault: Fault) -> Self {
        self.faults.push(FaultRule {
            name: LowerName::new(&name(owner)),
            record_type: Some(record_type),
            fault,
        });
        self
    }

    /// Answers SERVFAIL for every query at or below `owner`.
    #[must_use]
    pub fn servfail(self, owner: &str) -> Self {
        self.fault(owner, Fault::ServFail)
    }

    /// Answers REFUSED for every query at or below `owner`.
    #[must_use]
    pub fn refused(self, owner: &str) -> Self {
        self.fault(owner, Fault::Refused)
    }

    /// Never answers queries at or below `owner`.
    #[must_use]
    pub fn hang(self, owner: &str) -> Self {
        self.fault(owner, Fault::Hang)
    }

    /// Declares a working DNSBL zone: it lists the RFC 5782 canary 127.0.0.2 (and its IPv6 form
    /// `::ffff:7f00:2`) with A 127.0.0.2 and a TXT, and does not list 127.0.0.1.
    #[must_use]
    pub fn dnsbl_zone(self, zone: &str) -> Self {
        let txt = "RFC 5782 test entry";
        let canary = [DNSBL_CANARY_LISTED];
        self.dnsbl_zone_broken_canary(zone)
            .dnsbl_listing(zone, IpAddr::V4(DNSBL_CANARY_LISTED), &canary, Some(txt))
            .dnsbl_listing(
                zone,
                IpAddr::V6(DNSBL_CANARY_LISTED.to_ipv6_mapped()),
                &canary,
                Some(txt),
            )
    }

    /// Declares a DNSBL zone that does **not** list its 127.0.0.2 canary (a dead or
    /// misconfigured list).
    #[must_use]
    pub fn dnsbl_zone_broken_canary(self, zone: &str) -> Self {
        self.zone(zone)
    }

    /// Declares a DNSBL zone that lists every address, 127.0.0.1 included, with 127.0.0.2 (a
    /// list that was shut down by "listing the world").
    #[must_use]
    pub fn dnsbl_zone_listing_world(self, zone: &str) -> Self {
        let wildcard = format!("*.{}", key_of(&name(zone)));
        self.zone(zone)
            .a(&wildcard, DNSBL_CANARY_LISTED)
            .txt(&wildcard, "listed: the whole world")
    }

    /// Lists `ip` in the DNSBL `zone` with these return codes (A records) and an optional TXT
    /// reason. The zone is declared if it was not.
    #[must_use]
    pub fn dnsbl_listing(
        mut self,
        zone: &str,
        ip: IpAddr,
        codes: &[Ipv4Addr],
        txt: Option<&str>,
    ) -> Self {
        self = self.zone(zone);
        let owner = dnsbl_query_name(ip, zone);
        for code in codes {
            self = self.a(&owner, *code);
        }
        if let Some(txt) = txt {
            self = self.txt(&owner, txt);
        }
        self
    }

    /// Signs every zone (Ed25519, NSEC) under a signed lab root `.` (added): each zone's DS is
    /// published in the zone above it (the root for the top ones), so a validating resolver
    /// trusting [`DnsServer::trust_anchor`] sees every answer as **secure**. `DS` queries at a
    /// zone apex are answered from the parent zone. No NS records are added (name-server
    /// checks still see only the NS records given). Records are signed once, at build: runtime
    /// changes ([`DnsServer::set`] and friends) are not signed.
    #[must_use]
    pub fn dnssec(mut self) -> Self {
        self.dnssec = true;
        self
    }

    /// With [`dnssec`](Self::dnssec): breaks the signatures over the `record_type` RRset at
    /// `owner` (one byte flipped), so that RRset validates as bogus.
    #[must_use]
    pub fn corrupt_signature(mut self, owner: &str, record_type: RecordType) -> Self {
        self.corrupt.push((name(owner), record_type));
        self
    }

    /// Binds UDP and TCP and starts serving.
    ///
    /// # Panics
    /// If the sockets cannot be bound; use [`try_build`](Self::try_build) to get the error.
    pub async fn build(self) -> DnsServer {
        self.try_build().await.expect("bind the test DNS server")
    }

    /// Binds UDP and TCP and starts serving.
    ///
    /// # Errors
    /// If the sockets cannot be bound.
    pub async fn try_build(self) -> io::Result<DnsServer> {
        let shared = Arc::new(Shared::default());
        let mut anchor = None;
        if self.dnssec {
            anchor = Some(self.install_signed(&shared).await?);
            shared
                .dnssec
                .store(true, std::sync::atomic::Ordering::Relaxed);
        } else {
            for apex in &self.zones {
                shared.ensure_zone(apex).await;
            }
            for (owner, ttl, rdata) in self.records {
                let record = Record::from_rdata(owner, ttl.unwrap_or(self.default_ttl), rdata);
                shared.insert(record, false).await?;
            }
        }
        *lock(&shared.faults) = self.faults;

        let (udp, tcp) = bind_pair(self.bind).await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(Handler(Arc::clone(&shared)));
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 32);
        Ok(DnsServer {
            addr,
            shared,
            anchor,
            _server: server,
        })
    }

    /// [`dnssec`](Self::dnssec): builds, signs and installs every zone; returns the root's
    /// trust anchor.
    async fn install_signed(&self, shared: &Shared) -> io::Result<String> {
        let err = |e: &dyn fmt::Display| io::Error::other(e.to_string());
        let mut apexes: Vec<Name> = vec![Name::root()];
        for z in &self.zones {
            if !apexes.contains(z) {
                apexes.push(z.clone());
            }
        }
        // Zones made for records outside every apex (at their last two labels).
        for (owner, _, _) in &self.records {
            if !apexes.iter().any(|a| a.zone_of(owner) && !a.is_root()) {
                let apex = if owner.num_labels() > 2 {
                    owner.trim_to(2)
                } else {
                    owner.clone()
                };
                if !apexes.contains(&apex) {
                    apexes.push(apex);
                }
            }
        }
        type Keys = Option<(DnssecSigner, PublicKeyBuf)>;
        let mut zones: BTreeMap<LowerName, (Zone, Keys)> = BTreeMap::new();
        for apex in &apexes {
            let keys = Some(signed::new_key_for(apex).map_err(|e| err(&e))?);
            let mut zone = Zone::empty(
                apex.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                keys.as_ref().map(|_| NxProofKind::Nsec),
            );
            zone.upsert_mut(soa_record(apex), 1);
            zones.insert(LowerName::new(apex), (zone, keys));
        }
        for apex in apexes.iter().filter(|a| !a.is_root()) {
            let parent = signed::holder(&apexes, &apex.base_name());
            let rdata = match &zones[&LowerName::new(apex)].1 {
                Some((_, public)) => RData::DNSSEC(DNSSECRData::DS(signed::ds_for(public, apex)?)),
                None => RData::NS(NS(Name::from_ascii("ns")
                    .expect("label")
                    .append_domain(apex)
                    .expect("ns name"))),
            };
            let zone = &mut zones.get_mut(&LowerName::new(&parent)).expect("parent").0;
            zone.upsert_mut(Record::from_rdata(apex.clone(), DEFAULT_TTL, rdata), 1);
        }
        for (owner, ttl, rdata) in &self.records {
            let apex = signed::holder(&apexes, owner);
            let zone = &mut zones.get_mut(&LowerName::new(&apex)).expect("a zone").0;
            let what = format!("{owner} {}", rdata.record_type());
            let record = Record::from_rdata(
                owner.clone(),
                ttl.unwrap_or(self.default_ttl),
                rdata.clone(),
            );
            if !zone.upsert_mut(record, 1) {
                return Err(io::Error::other(format!(
                    "the zone refused the record {what}"
                )));
            }
        }
        let mut anchor = String::new();
        let mut signed_zones = BTreeMap::new();
        for (apex, (mut zone, keys)) in zones {
            let Some((signer, public)) = keys else {
                signed_zones.insert(apex, zone);
                continue;
            };
            if apex.is_root() {
                anchor = signed::root_anchor(&public);
            }
            zone.add_zone_signing_key_mut(signer).map_err(|e| err(&e))?;
            zone.secure_zone_mut().map_err(|e| err(&e))?;
            signed_zones.insert(apex, zone);
        }
        for (owner, record_type) in &self.corrupt {
            let apex = signed::holder(&apexes, owner);
            let zone = signed_zones
                .get_mut(&LowerName::new(&apex))
                .expect("a zone");
            signed::corrupt(zone, owner, *record_type)?;
        }
        let mut catalog = shared.catalog.write().await;
        for (apex, zone) in signed_zones {
            let zone = Arc::new(zone);
            catalog.upsert(
                apex.clone(),
                vec![Arc::clone(&zone) as Arc<dyn ZoneHandler>],
            );
            lock(&shared.zones).insert(apex, zone);
        }
        Ok(anchor)
    }
}

/// The SOA record every zone the server creates gets.
fn soa_record(apex: &Name) -> Record {
    let ns = Name::from_ascii("ns")
        .expect("label")
        .append_domain(apex)
        .expect("ns name");
    let rname = Name::from_ascii("hostmaster")
        .expect("label")
        .append_domain(apex)
        .expect("rname");
    let soa = SOA::new(ns, rname, 1, 3600, 600, 86_400, NEGATIVE_TTL);
    Record::from_rdata(apex.clone(), NEGATIVE_TTL, RData::SOA(soa))
}

/// Binds a UDP socket and a TCP listener on the same port. With port 0, retries a few times in
/// case the UDP port is taken for TCP.
async fn bind_pair(
    addr: SocketAddr,
) -> io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut last_err = None;
    for _ in 0..16 {
        let udp = tokio::net::UdpSocket::bind(addr).await?;
        let local = udp.local_addr()?;
        match tokio::net::TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn txt_rdata(texts: &[&str]) -> RData {
    let mut strings = Vec::new();
    for text in texts {
        let mut rest = *text;
        if rest.is_empty() {
            strings.push(String::new());
        }
        while !rest.is_empty() {
            let mut cut = rest.len().min(255);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            strings.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
    }
    RData::TXT(TXT::new(strings))
}

type Zone = InMemoryZoneHandler;

/// State shared between the handle and the request handler.
#[derive(Default)]
struct Shared {
    catalog: tokio::sync::RwLock<Catalog>,
    zones: Mutex<BTreeMap<LowerName, Arc<Zone>>>,
    faults: Mutex<Vec<FaultRule>>,
    log: Mutex<Vec<QueryLogEntry>>,
    /// Whether the zones are signed ([`DnsServerBuilder::dnssec`]).
    dnssec: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Creates the zone `apex` (with SOA) if it does not exist yet.
    async fn ensure_zone(&self, apex: &Name) -> Arc<Zone> {
        let key = LowerName::new(apex);
        if let Some(zone) = lock(&self.zones).get(&key) {
            return Arc::clone(zone);
        }
        let mut catalog = self.catalog.write().await;
        // Re-check under the catalog lock: another task may have created it meanwhile.
        if let Some(zone) = lock(&self.zones).get(&key) {
            return Arc::clone(zone);
        }
        let mut zone = Zone::empty(apex.clone(), ZoneType::Primary, AxfrPolicy::Deny, None);
        zone.upsert_mut(soa_record(apex), 1);
        let zone = Arc::new(zone);
        catalog.upsert(key.clone(), vec![Arc::clone(&zone) as Arc<dyn ZoneHandler>]);
        lock(&self.zones).insert(key, Arc::clone(&zone));
        zone
    }

    /// The zone `owner` belongs to (the longest apex that contains it), created at the last two
    /// labels of `owner` if there is none.
    async fn zone_for(&self, owner: &Name) -> Arc<Zone> {
        let lower = LowerName::new(owner);
        let found = lock(&self.zones)
            .iter()
            .filter(|(apex, _)| apex.zone_of(&lower))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(_, zone)| Arc::clone(zone));
        match found {
            Some(zone) => zone,
            None => {
                let labels = owner.num_labels();
                let apex = if labels > 2 {
                    owner.trim_to(2)
                } else {
                    owner.clone()
                };
                self.ensure_zone(&apex).await
            }
        }
    }

    /// Adds `record`; with `replace`, first removes the records of the same name and type.
    async fn insert(&self, record: Record, replace: bool) -> io::Result<()> {
        let zone = self.zone_for(&record.name).await;
        if replace {
            let key = RrKey::new(LowerName::new(&record.name), record.record_type());
            zone.records_mut().await.remove(&key);
        }
        let serial = zone.serial().await;
        let what = format!("{} {}", record.name, record.record_type());
        if zone.upsert(record, serial).await {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the zone refused the record {what}"
            )))
        }
    }

    /// When `qname` does not exist in a signed zone: the records of the NXDOMAIN answer's
    /// authority section (SOA, the NSEC covering `qname` and the one covering the wildcard at
    /// the closest encloser, each with its RRSIG). hickory-server proves the wildcard's absence
    /// at `qname`'s parent rather than at the closest encloser, so a name two labels below an
    /// existing one (`_25._tcp.host`) could validate as bogus.
    async fn nxdomain_in_signed_zone(&self, qname: &LowerName) -> Option<Vec<Record>> {
        let zone = {
            let zones = lock(&self.zones);
            zones
                .iter()
                .filter(|(apex, _)| apex.zone_of(qname))
                .max_by_key(|(apex, _)| apex.num_labels())
                .map(|(_, zone)| Arc::clone(zone))?
        };
        let records = zone.records().await;
        let exists = |n: &LowerName| records.keys().any(|k| n.zone_of(&k.name));
        if exists(qname) {
            return None;
        }
        let nsecs: Vec<&Arc<hickory_server::proto::rr::RecordSet>> = records
            .values()
            .filter(|r| r.record_type() == RecordType::NSEC)
            .collect();
        if nsecs.is_empty() {
            return None; // not signed
        }
        let mut encloser = qname.base_name();
        while !exists(&encloser) && !encloser.is_root() {
            encloser = encloser.base_name();
        }
        let wildcard = Name::from_ascii("*")
            .ok()
            .and_then(|w| w.append_domain(&Name::from(&encloser)).ok())
            .map(|w| LowerName::new(&w))?;
        let cover = |target: &LowerName| {
            nsecs
                .iter()
                .filter(|r| LowerName::new(r.name()) <= *target)
                .max_by(|a, b| LowerName::new(a.name()).cmp(&LowerName::new(b.name())))
                .or_else(|| nsecs.iter().max_by(|a, b| a.name().cmp(b.name())))
                .map(|r| Arc::clone(r))
        };
        let mut out: Vec<Record> = Vec::new();
        let soa_key = RrKey::new(zone.origin().clone(), RecordType::SOA);
        if let Some(soa) = records.get(&soa_key) {
            out.extend(soa.records(true).cloned());
        }
        let a = cover(qname);
        let b = cover(&wildcard);
        for set in [
            a.clone(),
            b.filter(|b| Some(b.name()) != a.as_ref().map(|a| a.name())),
        ]
        .into_iter()
        .flatten()
        {
            out.extend(set.records(true).cloned());
        }
        Some(out)
    }

    /// When `qname` is the apex of a zone other than the root: the zone above it (its apex and
    /// handler), where its DS records live.
    fn parent_of_apex(&self, qname: &LowerName) -> Option<(LowerName, Arc<Zone>)> {
        if !self.dnssec.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let zones = lock(&self.zones);
        if qname.is_root() || !zones.contains_key(qname) {
            return None;
        }
        zones
            .iter()
            .filter(|(apex, _)| *apex != qname && apex.zone_of(qname))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(apex, zone)| (apex.clone(), Arc::clone(zone)))
    }

    async fn remove(&self, owner: &Name, record_type: RecordType) -> bool {
        let zone = self.zone_for(owner).await;
        let key = RrKey::new(LowerName::new(owner), record_type);
        zone.records_mut().await.remove(&key).is_some()
    }
}

/// The request handler: logs the query, applies faults, then asks the catalog.
struct Handler(Arc<Shared>);

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let tcp = request.protocol() == Protocol::Tcp;
        let mut fault = None;
        if let Some(query) = request.queries.queries().first() {
            let qname = query.name().clone();
            let qtype = query.query_type();
            lock(&self.0.log).push(QueryLogEntry {
                name: key_of(&Name::from(&qname)),
                record_type: qtype,
                tcp,
                recursion_desired: request.metadata.recursion_desired,
                src: request.src(),
            });
            fault = lock(&self.0.faults)
                .iter()
                .rev()
                .find(|rule| rule.matches(&qname, qtype))
                .map(|rule| rule.fault);
            if fault.is_none()
                && request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
                && let Some(info) = self.0.nxdomain_in_signed_zone(&qname).await
            {
                return send_nxdomain(request, response_handle, &info).await;
            }
            if fault.is_none()
                && qtype == RecordType::DS
                && let Some(parent) = self.0.parent_of_apex(&qname)
            {
                // The DS of a zone lives in its parent, which the catalog would not ask.
                let mut catalog = Catalog::new();
                catalog.upsert(parent.0, vec![parent.1 as Arc<dyn ZoneHandler>]);
                return catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await;
            }
        }
        match fault {
            Some(Fault::ServFail) => {
                return send_code(request, response_handle, ResponseCode::ServFail).await;
            }
            Some(Fault::Refused) => {
                return send_code(request, response_handle, ResponseCode::Refused).await;
            }
            Some(Fault::Hang) => std::future::pending::<()>().await,
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::TruncateUdp) if !tcp => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.truncation = true;
                let response = MessageResponseBuilder::from_message_request(request)
                    .build_no_records(metadata);
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => failed(request),
                };
            }
            Some(Fault::NotAuthoritative) => {
                let catalog = self.0.catalog.read().await;
                return catalog
                    .handle_request::<_, T>(request, NotAuthoritative(response_handle))
                    .await;
            }
            Some(Fault::TruncateUdp) | None => {}
        }
        let catalog = self.0.catalog.read().await;
        catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// Sends the catalog's response with the AA bit cleared ([`Fault::NotAuthoritative`]).
#[derive(Clone)]
struct NotAuthoritative<R>(R);

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for NotAuthoritative<R> {
    async fn send_response<'a>(
        &mut self,
        mut response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        response.metadata_mut().authoritative = false;
        self.0.send_response(response).await
    }
}

async fn send_code<R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    code: ResponseCode,
) -> ResponseInfo {
    let response =
        MessageResponseBuilder::from_message_request(request).error_msg(&request.metadata, code);
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => failed(request),
    }
}

/// An authoritative NXDOMAIN answer with these authority records.
async fn send_nxdomain<R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    authority: &[Record],
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::NXDomain;
    metadata.authoritative = true;
    let response = MessageResponseBuilder::from_message_request(request).build(
        metadata,
        std::iter::empty(),
        authority.iter(),
        std::iter::empty(),
        std::iter::empty(),
    );
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => failed(request),
    }
}

fn failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// A running authoritative DNS server on loopback (UDP and TCP on the same port). It serves
/// until dropped. Build one with [`DnsServer::builder`].
pub struct DnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    anchor: Option<String>,
    _server: Server<Handler>,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .field(
                "zones",
                &lock(&self.shared.zones)
                    .keys()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts a builder with the default zones (`test.`, `in-addr.arpa.`, `ip6.arpa.`).
    pub fn builder() -> DnsServerBuilder {
        DnsServerBuilder::default()
    }

    /// The address the server listens on, for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// With [`DnsServerBuilder::dnssec`]: the lab root's DNSKEY in zone-file syntax
    /// (`. 3600 IN DNSKEY 257 3 15 <base64>`), the trust anchor a validating resolver needs.
    pub fn trust_anchor(&self) -> Option<&str> {
        self.anchor.as_deref()
    }

    /// How many queries the server received (answered or not).
    pub fn queries(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// How many queries for `owner` (any type) the server received.
    pub fn queries_for(&self, owner: &str) -> usize {
        let key = key_of(&name(owner));
        lock(&self.shared.log)
            .iter()
            .filter(|e| e.name == key)
            .count()
    }

    /// How many queries for `owner` and this type the server received.
    pub fn queries_for_type(&self, owner: &str, record_type: RecordType) -> usize {
        let key = key_of(&name(owner));
        lock(&self.shared.log)
            .iter()
            .filter(|e| e.name == key && e.record_type == record_type)
            .count()
    }

    /// Every query received so far, in order of arrival.
    pub fn query_log(&self) -> Vec<QueryLogEntry> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the queries received so far (the counters restart at 0).
    pub fn reset_queries(&self) {
        lock(&self.shared.log).clear();
    }

    /// Adds a record at runtime (next to any existing records of the same name and type).
    ///
    /// # Errors
    /// If the zone refuses the record (e.g. a CNAME next to other data).
    pub async fn upsert(&self, owner: &str, ttl: u32, rdata: RData) -> io::Result<()> {
        self.shared
            .insert(Record::from_rdata(name(owner), ttl, rdata), false)
            .await
    }

    /// Replaces the records of `owner` with the type of `rdata` by this one record, at runtime.
    ///
    /// # Errors
    /// If the zone refuses the record.
    pub async fn set(&self, owner: &str, ttl: u32, rdata: RData) -> io::Result<()> {
        self.shared
            .insert(Record::from_rdata(name(owner), ttl, rdata), true)
            .await
    }

    /// Removes the records of `owner` with this type at runtime; returns whether there were any.
    pub async fn remove(&self, owner: &str, record_type: RecordType) -> bool {
        self.shared.remove(&name(owner), record_type).await
    }

    /// Adds a zone at runtime.
    pub async fn add_zone(&self, apex: &str) {
        self.shared.ensure_zone(&name(apex)).await;
    }

    /// Injects a fault at runtime for every query at or below `owner`; the newest matching rule
    /// wins.
    pub fn set_fault(&self, owner: &str, fault: Fault) {
        lock(&self.shared.faults).push(FaultRule {
            name: LowerName::new(&name(owner)),
            record_type: None,
            fault,
        });
    }

    /// Removes every fault rule for exactly `owner` (rules for other names stay).
    pub fn clear_faults(&self, owner: &str) {
        let target = LowerName::new(&name(owner));
        lock(&self.shared.faults).retain(|rule| rule.name != target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa."
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.ip6.arpa."), "{v6}");
        assert_eq!(v6.split('.').count(), 32 + 3);
        assert_eq!(
            dnsbl_query_name("127.0.0.2".parse().unwrap(), "bl.test"),
            "2.0.0.127.bl.test."
        );
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            key_of(&Name::from(IpAddr::from([192, 0, 2, 1])))
        );
    }

    #[test]
    fn txt_is_split() {
        let long = "x".repeat(600);
        let RData::TXT(txt) = txt_rdata(&[&long]) else {
            panic!()
        };
        let lens: Vec<usize> = txt.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(lens, [255, 255, 90]);
    }
}
