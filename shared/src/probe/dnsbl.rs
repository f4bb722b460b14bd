//! Blocklist queries: the RFC 5782 canary self-test per zone (once per run) and the query of
//! each address in each zone (once per run per address, all zones at once). Records the answers
//! only; [`crate::dnsbl::classify`] and the diagnosis judge them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use futures::future::join_all;
use tokio::sync::OnceCell;

use super::dns::DnsSource;
use super::memo::Memo;
use crate::dnsbl;
use crate::facts::{DnsblCheck, ZoneHealth};

/// RFC 5782 §5: every IPv4 list must list this test point.
pub(crate) const CANARY_LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// RFC 5782 §5: no IPv4 list may list this test point.
pub(crate) const CANARY_UNLISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// RFC 5782 §5: every IPv6 list must list this test point (`::ffff:7f00:2`).
pub(crate) const CANARY_LISTED_V6: Ipv6Addr = Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped();

/// RFC 5782 §5: no IPv6 list may list this test point (`::ffff:7f00:1`).
pub(crate) const CANARY_UNLISTED_V6: Ipv6Addr = Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped();

/// Queries blocklists. Share one per run: it caches the zone self-tests and the answers per IP.
#[derive(Debug)]
pub struct DnsblEngine {
    dns: Arc<dyn DnsSource>,
    zones: Vec<String>,
    health: OnceCell<Vec<ZoneHealth>>,
    checks: Memo<IpAddr, Vec<DnsblCheck>>,
}

impl DnsblEngine {
    /// An engine for these zones (normalised: lower case, no trailing dot, duplicates dropped).
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the zone when a zone is not a valid DNS name or is a
    /// known dead list ([`dnsbl::is_dead`]): a dead list may wildcard and "list" everyone.
    pub fn new(dns: Arc<dyn DnsSource>, zones: &[String]) -> Result<Self, crate::Error> {
        let mut normalised: Vec<String> = Vec::new();
        for zone in zones {
            let zone = normalise_zone(zone)?;
            if !normalised.contains(&zone) {
                normalised.push(zone);
            }
        }
        Ok(Self {
            dns,
            zones: normalised,
            health: OnceCell::new(),
            checks: Memo::new(),
        })
    }

    /// The zones queried, in order.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// The RFC 5782 self-test of every zone (127.0.0.2 must be listed, 127.0.0.1 must not; for
    /// lists that cover IPv6 also `::ffff:7f00:2` and `::ffff:7f00:1` in nibble form), run once
    /// per engine; all zones and test points concurrently.
    pub async fn health(&self) -> Vec<ZoneHealth> {
        self.health
            .get_or_init(|| async {
                join_all(self.zones.iter().map(|zone| async move {
                    let positive = dnsbl::query_name(IpAddr::V4(CANARY_LISTED), zone);
                    let negative = dnsbl::query_name(IpAddr::V4(CANARY_UNLISTED), zone);
                    let v6 = async {
                        if !dnsbl::covers(
                            zone,
                            IpAddr::V6(Ipv6Addr::new(0x2001, 0x4860, 0, 0, 0, 0, 0, 1)),
                        ) {
                            return (None, None);
                        }
                        let positive = dnsbl::nibble_query_name(CANARY_LISTED_V6, zone);
                        let negative = dnsbl::nibble_query_name(CANARY_UNLISTED_V6, zone);
                        let (p, n) =
                            tokio::join!(self.dns.dnsbl_a(&positive), self.dns.dnsbl_a(&negative));
                        (Some(p), Some(n))
                    };
                    let ((positive, negative), (positive_v6, negative_v6)) = tokio::join!(
                        async {
                            tokio::join!(self.dns.dnsbl_a(&positive), self.dns.dnsbl_a(&negative))
                        },
                        v6
                    );
                    ZoneHealth {
                        zone: zone.clone(),
                        positive,
                        negative,
                        positive_v6,
                        negative_v6,
                    }
                }))
                .await
            })
            .await
            .clone()
    }

    /// One answer per zone for `ip`, in zone order, looked up once per engine. A zone that does
    /// not cover the address family gets `answer: None` and no query. The TXT record is fetched
    /// only when the A query returned codes.
    pub async fn check(&self, ip: IpAddr) -> Vec<DnsblCheck> {
        self.checks
            .get_or_init(ip, || {
                join_all(self.zones.iter().map(|zone| self.check_zone(zone, ip)))
            })
            .await
    }

    /// Forgets the answers for `ip` (a fresh check asks again).
    pub(crate) fn forget(&self, ip: IpAddr) {
        self.checks.remove(&ip);
    }

    async fn check_zone(&self, zone: &str, ip: IpAddr) -> DnsblCheck {
        if !dnsbl::covers(zone, ip) {
            return DnsblCheck {
                zone: zone.to_owned(),
                query: String::new(),
                answer: None,
                txt: Vec::new(),
            };
        }
        let query = dnsbl::query_name(ip, zone);
        let answer = self.dns.dnsbl_a(&query).await;
        let txt = if answer.records().is_empty() {
            Vec::new()
        } else {
            self.dns.txt(&query).await.records().to_vec()
        };
        DnsblCheck {
            zone: zone.to_owned(),
            query: query.trim_end_matches('.').to_owned(),
            answer: Some(answer),
            txt,
        }
    }
}

/// Lower case, no trailing dot, a valid DNS name, not a dead list.
fn normalise_zone(zone: &str) -> Result<String, crate::Error> {
    let z = zone.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| crate::Error::Config(format!("dnsbl zone {zone:?}: {why}"));
    if z.is_empty() {
        return Err(bad("empty zone name"));
    }
    // Room for the 72 characters of a reversed IPv6 address in front.
    if z.len() > 253 - 72 {
        return Err(bad("too long"));
    }
    for label in z.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("not a DNS name (empty or over-long label)"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("not a DNS name (letters, digits, '-' and '_' only)"));
        }
    }
    if dnsbl::is_dead(&z) {
        return Err(bad(
            "this list is dead (shut down; dead lists may answer \"listed\" for every address): \
             remove it",
        ));
    }
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_normalised_and_dead_ones_rejected() {
        assert_eq!(
            normalise_zone(" ZEN.Spamhaus.org. ").unwrap(),
            "zen.spamhaus.org"
        );
        let err = normalise_zone("dnsbl.sorbs.net").unwrap_err().to_string();
        assert!(
            err.contains("dnsbl.sorbs.net") && err.contains("dead"),
            "{err}"
        );
        assert!(normalise_zone("").is_err());
        assert!(normalise_zone("bad zone.test").is_err());
        assert!(normalise_zone("a..test").is_err());
    }
}
