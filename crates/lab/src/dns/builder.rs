//! [`DnsServerBuilder`]: the records, zones and faults of a DNS server written in code, and its
//! start-up (binding UDP and TCP on one port).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, TXT};
use hickory_server::proto::rr::{LowerName, Name, Record};

use super::server::{Handler, Shared};
use super::{
    DEFAULT_TTL, DEFAULT_ZONES, DNSBL_CANARY_LISTED, DnsServer, Fault, FaultRule, RData,
    RecordType, dnsbl_query_name, key_of, lock, name, reverse_name,
};

/// Builds a [`DnsServer`]. Start with [`DnsServer::builder`].
///
/// Name arguments are written without or with the trailing dot and may be internationalised
/// (they are converted to punycode). Invalid names panic: this is test code.
#[derive(Debug, Clone)]
pub struct DnsServerBuilder {
    pub(super) bind: SocketAddr,
    pub(super) default_ttl: u32,
    pub(super) zones: Vec<Name>,
    pub(super) records: Vec<(Name, Option<u32>, RData)>,
    pub(super) faults: Vec<FaultRule>,
    pub(super) dnssec: bool,
    pub(super) corrupt: Vec<(Name, RecordType)>,
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
}

/// Binds a UDP socket and a TCP listener on the same port. With port 0, retries a few times in
/// case the UDP port is taken for TCP.
pub(super) async fn bind_pair(
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

#[cfg(test)]
mod tests {
    use super::*;

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
