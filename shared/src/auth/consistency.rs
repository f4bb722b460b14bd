//! DNS consistency: the domain's delegated name servers asked directly, and other resolvers.
//!
//! The seed's advice, "make sure you're checking the same DNS server that the sender's email
//! server would be using", cuts both ways: a sender's resolver asks one of the domain's name
//! servers, picked more or less at random, and caches what it got. So when the name servers
//! disagree on the MX set, or one of them does not answer for the zone (a lame delegation),
//! senders see different mail hosts, or delays, depending on which server they hit.
//!
//! [`collect`] finds the zone that holds the domain (the closest enclosing name with NS records,
//! asked through the run's resolver), resolves each name server's addresses (through the run's
//! resolver too), and asks each address for the domain's MX records **directly, without
//! recursion** (RD=0), recording the answer, the AA bit, and REFUSED/SERVFAIL/timeouts. It also
//! asks each resolver of [`AuthConfig::compare_resolvers`](crate::config::AuthConfig) (with
//! recursion). The answer of the resolver in use is already in [`crate::Facts::mx`]; the
//! diagnosis (`diagnose::consistency`) compares them all.
//!
//! The work is bounded: at most [`MAX_NAME_SERVERS`] name servers and
//! [`MAX_ADDRESSES_PER_SERVER`] addresses each, every query sent concurrently, each waiting
//! [`ns_timeout`](crate::config::AuthConfig::ns_timeout) and sent twice at most.

use std::net::{IpAddr, SocketAddr};

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::facts::{AddressLookups, AddressScope, Lookup};
use crate::probe::dns::{DirectMx, direct_mx};

/// At most this many name servers are asked (the others are listed as not checked).
pub const MAX_NAME_SERVERS: usize = 8;

/// At most this many addresses of one name server are asked (one of each family when it has
/// both).
pub const MAX_ADDRESSES_PER_SERVER: usize = 2;

/// Each direct query is sent this many times before it counts as a timeout.
const TRIES: usize = 2;

/// At most this many NS lookups are made to find the zone (the domain and its parents).
const MAX_ZONE_WALK: usize = 8;

/// What was observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsistencyFacts {
    /// The zone that holds the domain: the closest enclosing name (the domain itself when it
    /// is a zone apex) whose NS records the run's resolver returned; empty when none was found.
    pub zone: String,
    /// The NS lookups made to find it, from the domain upwards, through the run's resolver.
    pub ns_lookups: Vec<NsLookup>,
    /// The zone's name servers that were asked (sorted by name, at most
    /// [`MAX_NAME_SERVERS`]).
    pub servers: Vec<NameServerFacts>,
    /// Name servers beyond the cap, not asked.
    pub not_checked: Vec<String>,
    /// The resolvers given to compare, asked with recursion, in the order given.
    pub resolvers: Vec<AskedServer>,
}

/// One NS lookup through the run's resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsLookup {
    /// The name asked (lower case, no trailing dot).
    pub name: String,
    /// The NS names it has.
    pub lookup: Lookup<String>,
}

/// One delegated name server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameServerFacts {
    /// Its name (lower case, no trailing dot).
    pub name: String,
    /// Its A and AAAA lookups through the run's resolver.
    pub lookups: AddressLookups,
    /// What each of its addresses answered (at most [`MAX_ADDRESSES_PER_SERVER`]).
    pub answers: Vec<AskedServer>,
}

/// One server asked directly for the domain's MX records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskedServer {
    /// The address and port asked.
    pub server: SocketAddr,
    /// What it said.
    pub reply: DirectMx,
}

/// Finds the domain's name servers and asks each of them, and each resolver to compare, for
/// the domain's MX records.
pub async fn collect(ctx: &AuthContext<'_>) -> ConsistencyFacts {
    let config = ctx.config;
    let domain = ctx.domain.trim_end_matches('.').to_ascii_lowercase();
    let resolvers = async {
        join_all(config.compare_resolvers.iter().map(|server| async {
            AskedServer {
                server: *server,
                reply: direct_mx(*server, &domain, true, config.ns_timeout, TRIES).await,
            }
        }))
        .await
    };
    let servers = async {
        let (zone, ns_lookups, mut names) = find_zone(ctx, &domain).await;
        names.sort();
        names.dedup();
        let not_checked = names.split_off(names.len().min(MAX_NAME_SERVERS));
        let servers = join_all(
            names
                .into_iter()
                .map(|name| ask_name_server(ctx, &domain, name)),
        )
        .await;
        (zone, ns_lookups, servers, not_checked)
    };
    let (resolvers, (zone, ns_lookups, servers, not_checked)) = tokio::join!(resolvers, servers);
    ConsistencyFacts {
        zone,
        ns_lookups,
        servers,
        not_checked,
        resolvers,
    }
}

/// Asks NS at the domain, then at each parent, until one has NS records. A failed lookup ends
/// the walk (we cannot tell where the zone is), and so does [`MAX_ZONE_WALK`]; a single-label
/// name is asked only when it is the domain itself (a top-level domain is never taken for the
/// domain's zone).
async fn find_zone(ctx: &AuthContext<'_>, domain: &str) -> (String, Vec<NsLookup>, Vec<String>) {
    let mut lookups = Vec::new();
    let mut name = domain;
    loop {
        let lookup = ctx.dns.ns(name).await;
        let found = match &lookup {
            Lookup::Answer { records } if !records.is_empty() => Some(records.clone()),
            _ => None,
        };
        let go_on = matches!(lookup, Lookup::NoData | Lookup::NxDomain);
        lookups.push(NsLookup {
            name: name.to_owned(),
            lookup,
        });
        if let Some(names) = found {
            return (name.to_owned(), lookups, names);
        }
        match name.split_once('.') {
            Some((_, parent)) if go_on && parent.contains('.') && lookups.len() < MAX_ZONE_WALK => {
                name = parent;
            }
            _ => return (String::new(), lookups, Vec::new()),
        }
    }
}

/// Resolves one name server and asks its addresses (one of each family first).
async fn ask_name_server(ctx: &AuthContext<'_>, domain: &str, name: String) -> NameServerFacts {
    let (a, aaaa) = tokio::join!(ctx.dns.a(&name), ctx.dns.aaaa(&name));
    let lookups = AddressLookups {
        a: a.lookup,
        aaaa: aaaa.lookup,
    };
    let allowed = |ip: &IpAddr| ctx.allow_private || AddressScope::of(*ip) == AddressScope::Public;
    let answers = join_all(
        pick_addresses(&lookups, allowed)
            .into_iter()
            .map(|ip| async move {
                let server = SocketAddr::new(ip, ctx.config.ns_port);
                AskedServer {
                    server,
                    reply: direct_mx(server, domain, false, ctx.config.ns_timeout, TRIES).await,
                }
            }),
    )
    .await;
    NameServerFacts {
        name,
        lookups,
        answers,
    }
}

/// The addresses to ask, among the `allowed` ones: the first IPv4 and the first IPv6 address
/// when there are both, otherwise the first ones of the family there is; at most
/// [`MAX_ADDRESSES_PER_SERVER`].
fn pick_addresses(lookups: &AddressLookups, allowed: impl Fn(&IpAddr) -> bool) -> Vec<IpAddr> {
    let v4 = lookups
        .a
        .records()
        .iter()
        .filter(|ip| ip.is_ipv4() && allowed(ip));
    let v6 = lookups
        .aaaa
        .records()
        .iter()
        .filter(|ip| ip.is_ipv6() && allowed(ip));
    let mut picked: Vec<IpAddr> = v4
        .clone()
        .take(1)
        .chain(v6.clone().take(1))
        .copied()
        .collect();
    for ip in v4.chain(v6) {
        if picked.len() >= MAX_ADDRESSES_PER_SERVER {
            break;
        }
        if !picked.contains(ip) {
            picked.push(*ip);
        }
    }
    picked.truncate(MAX_ADDRESSES_PER_SERVER);
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookups(a: &[&str], aaaa: &[&str]) -> AddressLookups {
        let l = |ips: &[&str]| {
            if ips.is_empty() {
                Lookup::NoData
            } else {
                Lookup::Answer {
                    records: ips.iter().map(|s| s.parse().unwrap()).collect(),
                }
            }
        };
        AddressLookups {
            a: l(a),
            aaaa: l(aaaa),
        }
    }

    fn pick_addresses_any(l: &AddressLookups) -> Vec<IpAddr> {
        pick_addresses(l, |_| true)
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn one_address_of_each_family_first() {
        assert_eq!(
            pick_addresses_any(&lookups(&["192.0.2.1", "192.0.2.2"], &["2001:db8::1"])),
            ips(&["192.0.2.1", "2001:db8::1"])
        );
        assert_eq!(
            pick_addresses_any(&lookups(&["192.0.2.1", "192.0.2.2", "192.0.2.3"], &[])),
            ips(&["192.0.2.1", "192.0.2.2"])
        );
        assert_eq!(
            pick_addresses_any(&lookups(&[], &["2001:db8::1", "2001:db8::2"])),
            ips(&["2001:db8::1", "2001:db8::2"])
        );
        assert!(pick_addresses_any(&lookups(&[], &[])).is_empty());
        let public = |ip: &IpAddr| AddressScope::of(*ip) == AddressScope::Public;
        assert_eq!(
            pick_addresses(&lookups(&["10.0.0.53", "9.9.9.9"], &["::1"]), public),
            ips(&["9.9.9.9"])
        );
    }
}
