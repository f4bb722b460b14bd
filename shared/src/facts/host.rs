//! The domain's mail hosts and what was observed about each address: its scope (public,
//! private…), reverse DNS with forward confirmation, blocklist answers (and each zone's
//! self-test), and its SMTP conversation.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{AddressLookups, Lookup, SmtpFacts};

/// One mail host of the domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The host name (lower case, no trailing dot).
    pub host: String,
    /// Its MX preference (0 for an implicit MX).
    pub preference: u16,
    /// True when there is no MX and the domain itself is the mail host (RFC 5321 §5.1).
    pub implicit: bool,
    /// The name is an IP address written as a name (`MX 10 192.0.2.1`).
    pub ip_literal: bool,
    /// The CNAME chain if the host is an alias (names the resolver followed), else empty.
    pub cname_chain: Vec<String>,
    /// Its A and AAAA lookups.
    pub lookups: AddressLookups,
    /// Every address found, with what was observed about it.
    pub addresses: Vec<AddressFacts>,
}

/// How an address may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressScope {
    /// A public, routable address.
    Public,
    /// Loopback (127.0.0.0/8, ::1).
    Loopback,
    /// RFC 1918 / unique local.
    Private,
    /// Link-local.
    LinkLocal,
    /// Documentation (including IPv6 2001:db8::/32 and 3fff::/20), benchmarking, shared,
    /// multicast, unspecified or otherwise reserved.
    Reserved,
}

impl AddressScope {
    /// Classifies an address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_loopback() {
                    Self::Loopback
                } else if v4.is_private() {
                    Self::Private
                } else if v4.is_link_local() {
                    Self::LinkLocal
                } else if v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.is_documentation()
                    || o[0] == 0
                    || o[0] >= 240
                    || (o[0] == 100 && (o[1] & 0xc0) == 64)
                    || (o[0] == 198 && (o[1] & 0xfe) == 18)
                    || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Self::of(IpAddr::V4(v4));
                }
                let seg = v6.segments();
                if v6.is_loopback() {
                    Self::Loopback
                } else if (seg[0] & 0xfe00) == 0xfc00 {
                    Self::Private
                } else if (seg[0] & 0xffc0) == 0xfe80 {
                    Self::LinkLocal
                } else if v6.is_unspecified()
                    || v6.is_multicast()
                    || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                    || (seg[0] == 0x3fff && seg[1] < 0x1000)
                    || (seg[0] & 0xe000) != 0x2000
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
        }
    }

    /// Whether the address is not publicly routable.
    pub const fn is_private(self) -> bool {
        !matches!(self, Self::Public)
    }

    /// Human spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Reserved => "reserved",
        }
    }
}

/// What was observed about one address of a mail host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressFacts {
    /// The address.
    pub ip: IpAddr,
    /// Public, private, loopback…
    pub scope: AddressScope,
    /// Reverse DNS, if looked up.
    pub ptr: Option<PtrFacts>,
    /// Blocklist answers for this address, one per zone.
    pub dnsbl: Vec<DnsblCheck>,
    /// The SMTP conversation, if one was attempted.
    pub smtp: Option<SmtpFacts>,
    /// Why no SMTP conversation was attempted, when it was not.
    pub smtp_skipped: Option<String>,
    /// Why the probe of this address did not finish (the check's deadline came first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
}

impl AddressFacts {
    /// A record for an address with nothing observed yet.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            scope: AddressScope::of(ip),
            ptr: None,
            dnsbl: Vec::new(),
            smtp: None,
            smtp_skipped: None,
            unfinished: None,
        }
    }
}

/// Reverse DNS of an address and the forward check of each PTR name (FCrDNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrFacts {
    /// The PTR query (names lower case, no trailing dot).
    pub lookup: Lookup<String>,
    /// For each PTR name, its A (IPv4) or AAAA (IPv6) lookup.
    pub forward: Vec<ForwardCheck>,
}

impl PtrFacts {
    /// The PTR names.
    pub fn names(&self) -> &[String] {
        self.lookup.records()
    }

    /// `Some(true)` when a PTR name resolves back to `ip`, `Some(false)` when none does (and
    /// all forward lookups answered), `None` when it cannot be told.
    pub fn confirms(&self, ip: IpAddr) -> Option<bool> {
        if self
            .forward
            .iter()
            .any(|f| f.lookup.records().contains(&ip))
        {
            return Some(true);
        }
        if self.names().is_empty() || self.forward.iter().any(|f| f.lookup.is_failed()) {
            return None;
        }
        Some(false)
    }
}

/// A forward lookup of one PTR name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardCheck {
    /// The PTR name.
    pub name: String,
    /// Its A or AAAA lookup (the family of the address being checked).
    pub lookup: Lookup<IpAddr>,
}

/// The RFC 5782 self-test of one blocklist zone, made once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneHealth {
    /// The zone, e.g. `zen.spamhaus.org`.
    pub zone: String,
    /// The positive test point (127.0.0.2) lookup: must be listed.
    pub positive: Lookup<std::net::Ipv4Addr>,
    /// The negative test point (127.0.0.1) lookup: must not be listed.
    pub negative: Lookup<std::net::Ipv4Addr>,
    /// The IPv6 positive test point (`::ffff:7f00:2`), for lists that cover IPv6.
    #[serde(default)]
    pub positive_v6: Option<Lookup<std::net::Ipv4Addr>>,
    /// The IPv6 negative test point (`::ffff:7f00:1`), for lists that cover IPv6.
    #[serde(default)]
    pub negative_v6: Option<Lookup<std::net::Ipv4Addr>>,
}

/// One blocklist query for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblCheck {
    /// The zone.
    pub zone: String,
    /// The name queried (reversed address + zone), empty when not queried.
    pub query: String,
    /// The A answer; `None` when the list does not cover this address family.
    pub answer: Option<Lookup<std::net::Ipv4Addr>>,
    /// TXT explanation, if the address is listed and the list publishes one.
    pub txt: Vec<String>,
}
