//! Our own vantage point, recorded once per run: outbound port 25 per address family (the
//! canaries), our public addresses with their reverse DNS and blocklist answers, our EHLO
//! name and our sender domain.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::{AddressLookups, ConnectOutcome, DnsblCheck, Lookup, MxRecord, PtrFacts};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub const fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::Ipv4,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Self::Ipv4,
            IpAddr::V6(_) => Self::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        }
    }
}

/// One canary connection made to check our own outbound port 25.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryProbe {
    /// `host:port` as configured.
    pub target: String,
    /// The address tried, when the name resolved to one of this family.
    #[serde(default)]
    pub addr: Option<SocketAddr>,
    /// How the connect ended (a failed name resolution is `Error`).
    pub outcome: ConnectOutcome,
    /// The greeting line, when the canary greeted.
    #[serde(default)]
    pub greeting: Option<String>,
    /// Our address as the canary echoed it in its EHLO reply.
    #[serde(default)]
    pub echoed_ip: Option<IpAddr>,
}

/// Outbound port 25 over one address family, from canary hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressFacts {
    /// The family checked.
    pub family: Family,
    /// The canaries tried over that family.
    pub canaries: Vec<CanaryProbe>,
}

impl EgressFacts {
    /// Port 25 looks blocked over this family: canaries were tried and none connected.
    pub fn blocked(&self) -> bool {
        let tried: Vec<_> = self.canaries.iter().filter(|c| c.addr.is_some()).collect();
        !tried.is_empty()
            && tried
                .iter()
                .all(|c| !matches!(c.outcome, ConnectOutcome::Connected { .. }))
    }

    /// Whether a canary connected over this family.
    pub fn open(&self) -> bool {
        self.canaries
            .iter()
            .any(|c| matches!(c.outcome, ConnectOutcome::Connected { .. }))
    }
}

/// How we know one of our public addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublicIpSource {
    /// Configured by the operator (`public_ip`).
    Configured,
    /// A server echoed it in its EHLO reply (`Hello name [IP]`).
    Echoed {
        /// Which server (MX host or canary).
        by: String,
    },
    /// The local address of our connections is itself public (no NAT).
    Local,
}

/// One of our public egress addresses and what receivers see when they look it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIp {
    /// The address.
    pub ip: IpAddr,
    /// How we know it.
    pub source: PublicIpSource,
    /// Its reverse DNS and the forward check of each PTR name.
    pub ptr: Option<PtrFacts>,
    /// Its blocklist answers, one per configured zone.
    pub dnsbl: Vec<DnsblCheck>,
}

/// Whether our sender domain can receive the bounces strict receivers verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderDomainFacts {
    /// The domain part of our `MAIL FROM`.
    pub domain: String,
    /// Its MX query.
    pub mx: Lookup<MxRecord>,
    /// Its own A/AAAA (looked up when it has no MX).
    pub addresses: Option<AddressLookups>,
}

impl SenderDomainFacts {
    /// `Some(true)` when the domain has an MX or an address, `Some(false)` when DNS says it has
    /// neither, `None` when a lookup failed.
    pub fn resolves(&self) -> Option<bool> {
        match &self.mx {
            Lookup::Answer { records }
                if records.iter().all(|r| r.exchange == ".") && !records.is_empty() =>
            {
                return Some(false);
            }
            Lookup::Answer { records } if !records.is_empty() => return Some(true),
            Lookup::Failed { .. } => return None,
            Lookup::NxDomain => return Some(false),
            _ => {}
        }
        let a = self.addresses.as_ref()?;
        if !a.ips().is_empty() {
            Some(true)
        } else if a.any_failed() {
            None
        } else {
            Some(false)
        }
    }
}

/// Our own vantage point: what the probe knows about itself, recorded once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VantageFacts {
    /// Outbound port 25, per address family checked (a family is checked when a connect over
    /// it failed, or by `--vantage`).
    pub egress: Vec<EgressFacts>,
    /// Our public egress addresses, configured or learned.
    pub public_ips: Vec<PublicIp>,
    /// Our EHLO name.
    pub helo_name: String,
    /// Its A and AAAA lookups.
    pub helo_lookups: Option<AddressLookups>,
    /// Our `MAIL FROM` address (empty: the null sender).
    pub mail_from: String,
    /// Our sender domain's DNS.
    pub sender_domain: Option<SenderDomainFacts>,
}

impl VantageFacts {
    /// The egress check of a family, when it was made.
    pub fn egress(&self, family: Family) -> Option<&EgressFacts> {
        self.egress.iter().find(|e| e.family == family)
    }

    /// Whether outbound port 25 is known to be blocked over `family`.
    pub fn egress_blocked(&self, family: Family) -> bool {
        self.egress(family).is_some_and(EgressFacts::blocked)
    }

    /// Our public addresses.
    pub fn public_addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.public_ips.iter().map(|p| p.ip)
    }
}
