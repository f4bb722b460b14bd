//! MX resolution per RFC 5321 §5.1 and RFC 7505: the MX query, null MX, the implicit MX (only on
//! an empty MX answer), IP-literal and CNAME targets, and the A and AAAA of every mail host. Only
//! records what DNS said; [`crate::diagnose()`] decides what is wrong.
//!
//! [`MxCollector`] memoises host address lookups for a run, so a thousand domains sharing one MX
//! host resolve it once.

use std::net::IpAddr;
use std::sync::Arc;

use futures::future::join_all;

use super::dns::DnsSource;
use super::memo::Memo;
use crate::domain::DomainName;
use crate::facts::{AddressFacts, AddressLookups, Facts, HostFacts, Lookup, MxRecord};

/// The A and AAAA lookups of one host name and the aliases followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddresses {
    /// The A and AAAA lookups.
    pub lookups: AddressLookups,
    /// The CNAME targets followed (lower case, no trailing dot); empty when the name is not an
    /// alias.
    pub cname_chain: Vec<String>,
}

impl HostAddresses {
    /// Every address found, A first, without duplicates, in resolver order.
    pub fn ips(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for ip in self.lookups.ips() {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        out
    }
}

/// What the MX side of one domain looks like: the parts of [`Facts`] this module fills.
#[derive(Debug, Clone, PartialEq)]
pub struct MailHosts {
    /// The MX query (records sorted by preference).
    pub mx: Lookup<MxRecord>,
    /// The domain's own A/AAAA, looked up only when the MX answer is empty (NODATA).
    pub implicit: Option<AddressLookups>,
    /// The mail hosts by preference: the MX targets other than `.` (each name once), or the
    /// domain itself for an implicit MX with addresses.
    pub hosts: Vec<HostFacts>,
}

impl MailHosts {
    /// Stores the parts into `facts` (`mx`, `implicit`, `hosts`).
    pub(crate) fn apply(self, facts: &mut Facts) {
        facts.mx = self.mx;
        facts.implicit = self.implicit;
        facts.hosts = self.hosts;
    }
}

/// Resolves A and AAAA of `host` concurrently (no memo). When neither gives an address nor
/// shows an alias, the CNAME at `host` is asked for, because hickory drops the alias from a
/// negative answer (an MX target aliased to a name without addresses).
pub(crate) async fn resolve_host(dns: &dyn DnsSource, host: &str) -> HostAddresses {
    let (a, aaaa) = tokio::join!(dns.a(host), dns.aaaa(host));
    let mut cname_chain = if a.cname_chain.is_empty() {
        aaaa.cname_chain
    } else {
        a.cname_chain
    };
    let lookups = AddressLookups {
        a: a.lookup,
        aaaa: aaaa.lookup,
    };
    if cname_chain.is_empty()
        && lookups.ips().is_empty()
        && !lookups.any_failed()
        && let Lookup::Answer { records } = dns.cname(host).await
    {
        cname_chain = records;
    }
    HostAddresses {
        lookups,
        cname_chain,
    }
}

/// The MX picture of `domain`, every host resolved afresh (no memo).
pub(crate) async fn collect_mail_hosts_fresh(
    dns: &dyn DnsSource,
    domain: &DomainName,
) -> MailHosts {
    collect(dns, None, domain).await
}

/// Collects the mail hosts of `domain` into `facts` (`mx`, `implicit`, `hosts`), without a
/// memo. Prefer [`MxCollector`] when checking many domains.
pub async fn collect_mail_hosts(dns: &dyn DnsSource, domain: &DomainName, facts: &mut Facts) {
    collect(dns, None, domain).await.apply(facts);
}

/// MX collection with a per-run memo of host address lookups. Share one per run.
#[derive(Debug)]
pub struct MxCollector {
    dns: Arc<dyn DnsSource>,
    hosts: Memo<String, HostAddresses>,
}

impl MxCollector {
    /// A collector asking `dns`.
    pub fn new(dns: Arc<dyn DnsSource>) -> Self {
        Self {
            dns,
            hosts: Memo::new(),
        }
    }

    /// The DNS source.
    pub fn dns(&self) -> &Arc<dyn DnsSource> {
        &self.dns
    }

    /// A and AAAA of `host` (lower case, no trailing dot), once per run.
    pub async fn host_addresses(&self, host: &str) -> HostAddresses {
        lookup_host(self.dns.as_ref(), Some(&self.hosts), host).await
    }

    /// Forgets the addresses of `host` (a fresh check resolves it again).
    pub(crate) fn forget_host(&self, host: &str) {
        self.hosts.remove(&normalise(host));
    }

    /// The MX picture of `domain`.
    pub async fn collect(&self, domain: &DomainName) -> MailHosts {
        collect(self.dns.as_ref(), Some(&self.hosts), domain).await
    }

    /// The MX picture of `domain`, stored into `facts`.
    pub async fn collect_into(&self, domain: &DomainName, facts: &mut Facts) {
        self.collect(domain).await.apply(facts);
    }
}

async fn lookup_host(
    dns: &dyn DnsSource,
    memo: Option<&Memo<String, HostAddresses>>,
    host: &str,
) -> HostAddresses {
    let host = normalise(host);
    match memo {
        Some(memo) => {
            memo.get_or_init(host.clone(), || resolve_host(dns, &host))
                .await
        }
        None => resolve_host(dns, &host).await,
    }
}

fn normalise(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// An MX target written as an address (`192.0.2.1`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`).
fn ip_literal(exchange: &str) -> Option<IpAddr> {
    let inner = exchange
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(exchange);
    let inner = inner
        .strip_prefix("ipv6:")
        .or_else(|| inner.strip_prefix("IPv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

async fn collect(
    dns: &dyn DnsSource,
    memo: Option<&Memo<String, HostAddresses>>,
    domain: &DomainName,
) -> MailHosts {
    let mx = dns.mx(domain.as_str()).await;
    match &mx {
        Lookup::Answer { records } if !records.is_empty() => {
            let mut targets: Vec<&MxRecord> = Vec::new();
            for record in records {
                // A null MX ("." target) names no host, whatever its preference.
                if record.exchange == "." || record.exchange.is_empty() {
                    continue;
                }
                if !targets.iter().any(|t| t.exchange == record.exchange) {
                    targets.push(record);
                }
            }
            let hosts = join_all(targets.into_iter().map(|record| async move {
                if ip_literal(&record.exchange).is_some() {
                    // Not resolved: senders look the text up as a host name, which has no
                    // address; the diagnosis reports the literal itself.
                    return HostFacts {
                        host: record.exchange.clone(),
                        preference: record.preference,
                        implicit: false,
                        ip_literal: true,
                        cname_chain: Vec::new(),
                        lookups: AddressLookups {
                            a: Lookup::NoData,
                            aaaa: Lookup::NoData,
                        },
                        addresses: Vec::new(),
                    };
                }
                let resolved = lookup_host(dns, memo, &record.exchange).await;
                host_facts(&record.exchange, record.preference, false, resolved)
            }))
            .await;
            MailHosts {
                mx,
                implicit: None,
                hosts,
            }
        }
        // RFC 5321 §5.1: only an empty MX answer (NODATA) makes the domain its own mail host.
        Lookup::Answer { .. } | Lookup::NoData => {
            let resolved = lookup_host(dns, memo, domain.as_str()).await;
            let implicit = resolved.lookups.clone();
            let hosts = if resolved.ips().is_empty() {
                Vec::new()
            } else {
                vec![host_facts(domain.as_str(), 0, true, resolved)]
            };
            MailHosts {
                mx,
                implicit: Some(implicit),
                hosts,
            }
        }
        // NXDOMAIN or a failed lookup: no fallback.
        Lookup::NxDomain | Lookup::Failed { .. } => MailHosts {
            mx,
            implicit: None,
            hosts: Vec::new(),
        },
    }
}

fn host_facts(host: &str, preference: u16, implicit: bool, resolved: HostAddresses) -> HostFacts {
    let addresses = resolved.ips().into_iter().map(AddressFacts::new).collect();
    HostFacts {
        host: host.to_owned(),
        preference,
        implicit,
        ip_literal: false,
        cname_chain: resolved.cname_chain,
        lookups: resolved.lookups,
        addresses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals() {
        assert!(ip_literal("192.0.2.1").is_some());
        assert!(ip_literal("[192.0.2.1]").is_some());
        assert!(ip_literal("[ipv6:2001:db8::1]").is_some());
        assert!(ip_literal("mx1.example.test").is_none());
        assert!(ip_literal("192.0.2.1.example.test").is_none());
    }

    #[test]
    fn ips_are_deduped_a_first() {
        let h = HostAddresses {
            lookups: AddressLookups {
                a: Lookup::Answer {
                    records: vec!["192.0.2.1".parse().unwrap(), "192.0.2.1".parse().unwrap()],
                },
                aaaa: Lookup::Answer {
                    records: vec!["2001:db8::1".parse().unwrap()],
                },
            },
            cname_chain: vec![],
        };
        assert_eq!(
            h.ips(),
            vec![
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
    }
}
