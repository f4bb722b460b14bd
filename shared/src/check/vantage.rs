//! The check of our own vantage point: the egress canaries per address family (their EHLO
//! replies teach our public address), the reverse DNS and blocklist status of our public
//! addresses, our EHLO name and our sender domain; once per run.

use futures::future::join_all;

use super::{Checker, RunState};
use crate::facts::{
    AddressScope, ConnectOutcome, Facts, Family, Lookup, PublicIp, PublicIpSource,
    SenderDomainFacts, VantageFacts,
};
use crate::probe::dns::DnsSource;
use crate::probe::egress::check_egress;
use crate::probe::mx::resolve_host;

impl Checker {
    /// Checks our own vantage point now, for both address families: the egress canaries
    /// (their EHLO replies teach our public address), our EHLO name, our sender domain, the
    /// reverse DNS and blocklist status of our public address(es). What `--vantage` shows and
    /// the bot logs at start-up. Cached for the run like every other vantage fact.
    pub async fn vantage(&self) -> (VantageFacts, Vec<crate::facts::ZoneHealth>) {
        let st = self.state();
        if st.smtp.is_some() && self.config.egress.enabled {
            tokio::join!(
                self.egress(&st, Family::Ipv4),
                self.egress(&st, Family::Ipv6)
            );
        }
        let zones = match &st.dnsbl {
            Some(engine) => engine.health().await,
            None => Vec::new(),
        };
        (self.vantage_snapshot(&st).await, zones)
    }

    /// After a domain's probes: learns our public address from what servers echoed, checks the
    /// egress of every family a connect failed over, and returns the run's vantage facts.
    pub(super) async fn vantage_after(&self, st: &RunState, facts: &Facts) -> VantageFacts {
        let mut failed_families = Vec::new();
        for (host, addr) in facts.addresses() {
            let Some(smtp) = &addr.smtp else { continue };
            if let Some(ip) = smtp.echoed_ip {
                st.vantage.learn(
                    ip,
                    PublicIpSource::Echoed {
                        by: host.host.clone(),
                    },
                );
            }
            if let Some(local) = smtp.local_addr()
                && AddressScope::of(local.ip()) == AddressScope::Public
            {
                st.vantage.learn(local.ip(), PublicIpSource::Local);
            }
            let family = Family::of(addr.ip);
            if !matches!(smtp.connect, ConnectOutcome::Connected { .. })
                && !failed_families.contains(&family)
            {
                failed_families.push(family);
            }
        }
        if self.config.egress.enabled {
            join_all(failed_families.into_iter().map(|f| self.egress(st, f))).await;
        }
        if st.smtp.is_none() {
            return VantageFacts::default();
        }
        self.vantage_snapshot(st).await
    }

    /// The egress check of one family, once per run (per cache lifetime).
    async fn egress(&self, st: &RunState, family: Family) {
        let Some(prober) = &st.smtp else { return };
        let facts = st
            .vantage
            .egress_cell(family)
            .get_or_init(|| {
                check_egress(
                    &self.config.egress,
                    family,
                    self.dns.as_ref(),
                    prober.client(),
                )
            })
            .await;
        for canary in &facts.canaries {
            if let Some(ip) = canary.echoed_ip {
                st.vantage.learn(
                    ip,
                    PublicIpSource::Echoed {
                        by: canary.target.clone(),
                    },
                );
            }
        }
    }

    /// Everything known about our vantage point so far (lookups of our own names and
    /// addresses are made once and cached).
    async fn vantage_snapshot(&self, st: &RunState) -> VantageFacts {
        let Some(prober) = &st.smtp else {
            return VantageFacts::default();
        };
        let client = prober.client();
        let helo_name = client.helo_name().to_owned();
        let mail_from = client.mail_from().to_owned();
        let public = st.vantage.public();
        let public_ips = join_all(public.into_iter().map(|(ip, source)| async move {
            let dnsbl = async {
                match &st.dnsbl {
                    Some(engine) => engine.check(ip).await,
                    None => Vec::new(),
                }
            };
            let (ptr, dnsbl) = tokio::join!(st.rdns.lookup(ip), dnsbl);
            PublicIp {
                ip,
                source,
                ptr: Some(ptr),
                dnsbl,
            }
        }));
        let helo = async {
            if crate::identity::worth_resolving(&helo_name) {
                Some(st.mx.host_addresses(&helo_name).await.lookups)
            } else {
                None
            }
        };
        let sender = st
            .vantage
            .sender
            .get_or_init(|| sender_domain(self.dns.as_ref(), &mail_from));
        let (public_ips, helo_lookups, sender) = tokio::join!(public_ips, helo, sender);
        let egress = [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .filter_map(|f| st.vantage.egress_cell(f).get().cloned())
            .collect();
        VantageFacts {
            egress,
            public_ips,
            helo_name,
            helo_lookups,
            mail_from,
            sender_domain: sender.clone(),
        }
    }
}

/// The DNS of our sender domain: its MX, and its A/AAAA when it has none.
async fn sender_domain(dns: &dyn DnsSource, mail_from: &str) -> Option<SenderDomainFacts> {
    let domain = mail_from.rsplit_once('@')?.1.trim().to_ascii_lowercase();
    if domain.is_empty() {
        return None;
    }
    let mx = dns.mx(&domain).await;
    let addresses = match &mx {
        Lookup::Answer { records } if !records.is_empty() => None,
        Lookup::Failed { .. } | Lookup::NxDomain => None,
        _ => Some(resolve_host(dns, &domain).await.lookups),
    };
    Some(SenderDomainFacts {
        domain,
        mx,
        addresses,
    })
}
