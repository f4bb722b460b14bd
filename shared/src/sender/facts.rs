//! What the sender check observed: plain serde data, so a real case can be saved as JSON and
//! replayed in a test (`tests/fixtures/sender/`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::auth::dmarc::DmarcFacts;
use crate::auth::spf_ips::SpfIpFacts;
use crate::facts::{
    AddressLookups, AddressScope, DnsblCheck, Lookup, MxRecord, PtrFacts, PublicIpSource,
    ZoneHealth,
};
use crate::spf::SpfFacts;

/// Everything observed about one sending IP, its HELO name and its envelope sender domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderFacts {
    /// The sending address.
    pub ip: IpAddr,
    /// Public, or loopback/private/reserved (only checked when private targets are allowed).
    pub scope: AddressScope,
    /// Seconds since the epoch when it was observed.
    pub observed_at: i64,
    /// The resolver that answered.
    pub resolver: String,
    /// How the address was learned, when it was not given (`--ip self`: configured, or echoed
    /// by a server in its EHLO reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<PublicIpSource>,
    /// Its PTR and the forward check of each PTR name; `None` when the lookup did not finish.
    pub ptr: Option<PtrFacts>,
    /// The HELO name the sender uses (lower case, no trailing dot), when given.
    pub helo: Option<String>,
    /// Its A and AAAA lookups; `None` when not looked up (no HELO, not a dotted name, or the
    /// lookup did not finish).
    pub helo_lookups: Option<AddressLookups>,
    /// Blocklists were queried (they are configured and on).
    pub dnsbl_enabled: bool,
    /// One answer per blocklist zone.
    pub dnsbl: Vec<DnsblCheck>,
    /// The zones' RFC 5782 self-tests.
    pub dnsbl_zones: Vec<ZoneHealth>,
    /// The envelope sender domain's DNS, SPF and DMARC, when a domain was given.
    pub domain: Option<DomainAuthFacts>,
    /// What did not finish before the deadline (the findings are those of what was checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

impl SenderFacts {
    /// Facts with nothing looked up yet.
    pub fn new(ip: IpAddr, observed_at: i64) -> Self {
        Self {
            ip,
            scope: AddressScope::of(ip),
            observed_at,
            resolver: String::new(),
            learned: None,
            ptr: None,
            helo: None,
            helo_lookups: None,
            dnsbl_enabled: false,
            dnsbl: Vec::new(),
            dnsbl_zones: Vec::new(),
            domain: None,
            partial: None,
        }
    }
}

/// The envelope sender domain as receivers look it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainAuthFacts {
    /// The domain (ASCII, lower case).
    pub domain: String,
    /// Its MX query: does it exist, can it receive bounces (a null MX says it sends no mail).
    pub mx: Lookup<MxRecord>,
    /// Its SPF record tree, with `check_host()` of the sending IP (`evaluation`, with the
    /// whole evaluation trace); `None` when the lookup did not finish.
    pub spf: Option<SpfFacts>,
    /// `check_host()` for an address no record lists (the void lookups and failed lookups the
    /// domain's own `spf.*` findings need).
    pub spf_ips: Option<SpfIpFacts>,
    /// Its DMARC record (or the organizational domain's).
    pub dmarc: Option<DmarcFacts>,
}
