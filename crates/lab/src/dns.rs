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
//! The code, by job: the records and start-up in `builder`, answering queries (the zones, the
//! faults, the query log) in `server`, signing in `dnssec`; [`signed`] is a separate server for
//! whole signed delegation trees.
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

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::{LowerName, Name, Record};

pub use hickory_server::proto::rr::{RData, RecordType};

mod builder;
mod dnssec;
mod server;
pub mod signed;

pub use builder::DnsServerBuilder;

use server::{Handler, Shared};

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
}
