//! Collecting one domain's facts: the MX hosts (fresh or from the run's memo), each address's
//! PTR, blocklist answers and SMTP conversation, the authentication checks, the fan-out caps,
//! and what the check's deadline cut off.

use std::future::Future;
use std::net::IpAddr;

use futures::future::join_all;

use super::{CheckOptions, Checker, MailHost, Progress, RunState, unix_now};
use crate::domain::DomainName;
use crate::facts::{AddressFacts, Facts, HostFacts, Lookup, ProbeScope, SmtpFacts};
use crate::probe::smtp::SmtpProber;

/// `work`, unless `until` comes first (then `None`).
async fn by<T>(until: Option<tokio::time::Instant>, work: impl Future<Output = T>) -> Option<T> {
    match until {
        Some(t) => tokio::time::timeout_at(t, work).await.ok(),
        None => Some(work.await),
    }
}

impl Checker {
    pub(super) async fn collect_with(
        &self,
        domain: &DomainName,
        options: CheckOptions,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Facts {
        let until = options.deadline.map(|d| tokio::time::Instant::now() + d);
        let st = self.state();
        if options.fresh {
            self.dns.clear_cache();
        }
        let scope = ProbeScope {
            smtp: st.smtp.is_some(),
            dnsbl: st.dnsbl.is_some(),
            open_relay_test: self.config.smtp.open_relay_test,
            allow_private: self.config.allow_private,
            smtp_port: self.config.smtp.port,
        };
        let mut facts = Facts::new(domain.as_str(), unix_now(), scope);
        facts.resolver = self.resolver_label.clone();
        let health = async {
            match &st.dnsbl {
                Some(engine) => engine.health().await,
                None => Vec::new(),
            }
        };
        let mx = async {
            if options.fresh {
                // Not from the run's memo of host addresses: the user may just have fixed them.
                let hosts =
                    crate::probe::mx::collect_mail_hosts_fresh(self.dns.as_ref(), domain).await;
                for host in &hosts.hosts {
                    st.mx.forget_host(&host.host);
                }
                hosts
            } else {
                st.mx.collect(domain).await
            }
        };
        let Some((hosts, zones)) = by(until, async { tokio::join!(mx, health) }).await else {
            facts.mx = Lookup::Failed {
                failure: crate::facts::DnsFailure::Timeout,
                detail: "the check's deadline came before the MX lookup finished".to_owned(),
            };
            facts.partial = Some("the deadline came during the MX lookup".to_owned());
            return facts;
        };
        hosts.apply(&mut facts);
        facts.dnsbl_zones = zones;
        progress(Progress::MailHosts {
            hosts: facts
                .hosts
                .iter()
                .map(|h| MailHost {
                    host: h.host.clone(),
                    preference: h.preference,
                    addresses: h.addresses.iter().map(|a| a.ip).collect(),
                })
                .collect(),
        });

        facts.not_checked = apply_fan_out(&mut facts.hosts, &self.config.fan_out);
        let jobs = facts.hosts.iter().flat_map(|h| {
            let host = h.host.clone();
            h.addresses
                .iter()
                .filter(|a| a.smtp_skipped.is_none())
                .map(move |a| (host.clone(), a.ip))
        });
        let probes = join_all(jobs.map(|(host, ip)| {
            let st = &st;
            async move {
                if options.fresh {
                    st.forget(ip).await;
                }
                by(until, self.address(st, domain, host, ip))
                    .await
                    .unwrap_or_else(|| {
                        let mut addr = AddressFacts::new(ip);
                        addr.unfinished = Some(
                            "the check's deadline came before the conversation with this \
                             address finished"
                                .to_owned(),
                        );
                        addr
                    })
            }
        }));
        let (results, auth) = tokio::join!(probes, by(until, self.auth(&st, domain, &facts)));
        let mut unfinished = Vec::new();
        match auth {
            Some(auth) => facts.auth = auth,
            None => unfinished.push("the authentication checks (SPF, DMARC, MTA-STS, DANE)"),
        }
        let mut results = results.into_iter();
        for host in &mut facts.hosts {
            for addr in host
                .addresses
                .iter_mut()
                .filter(|a| a.smtp_skipped.is_none())
            {
                if let Some(done) = results.next() {
                    *addr = done;
                }
            }
        }
        if facts.addresses().any(|(_, a)| a.unfinished.is_some()) {
            unfinished.insert(0, "the SMTP conversation with some addresses");
        }
        match by(until, self.vantage_after(&st, &facts)).await {
            Some(vantage) => facts.vantage = vantage,
            None => unfinished.push("the check of our own vantage point"),
        }
        if !unfinished.is_empty() {
            facts.partial = Some(format!(
                "the check's deadline came first: {} did not finish",
                unfinished.join(", ")
            ));
        }
        facts
    }

    /// The authentication checks, unless turned off or the domain itself does not resolve (then
    /// the DNS finding says it all).
    async fn auth(
        &self,
        st: &RunState,
        domain: &DomainName,
        facts: &Facts,
    ) -> Option<crate::auth::AuthFacts> {
        if !self.config.auth.enabled || matches!(facts.mx, Lookup::NxDomain) {
            return None;
        }
        if let Lookup::Failed { failure, .. } = &facts.mx {
            // A validating resolver (most public ones) answers SERVFAIL for a DNSSEC-bogus
            // zone. Our own validator tells that apart from a broken name server; the other
            // checks have nothing to look at.
            if *failure != crate::facts::DnsFailure::ServFail {
                return None;
            }
            let ctx = crate::auth::AuthContext {
                dns: self.dns.as_ref(),
                config: &self.config.auth,
                allow_private: self.config.allow_private,
                domain: domain.as_str(),
                mx_hosts: &[],
                mx_ips: &[],
                mta_sts: None,
                dnssec: st.dnssec.as_ref(),
            };
            let dane = crate::auth::dane::collect(&ctx).await;
            let bogus = dane
                .mx
                .as_ref()
                .is_some_and(|m| matches!(m.dnssec, crate::auth::dane::DnssecState::Bogus { .. }));
            return bogus.then(|| crate::auth::AuthFacts {
                dane: Some(dane),
                ..crate::auth::AuthFacts::default()
            });
        }
        let mx_hosts: Vec<String> = facts.hosts.iter().map(|h| h.host.clone()).collect();
        let mut mx_ips: Vec<std::net::IpAddr> = Vec::new();
        for (_, a) in facts.addresses() {
            if !mx_ips.contains(&a.ip) {
                mx_ips.push(a.ip);
            }
        }
        let ctx = crate::auth::AuthContext {
            dns: self.dns.as_ref(),
            config: &self.config.auth,
            allow_private: self.config.allow_private,
            domain: domain.as_str(),
            mx_hosts: &mx_hosts,
            mx_ips: &mx_ips,
            mta_sts: st.mta_sts.as_ref(),
            dnssec: st.dnssec.as_ref(),
        };
        Some(crate::auth::collect(&ctx).await)
    }

    async fn address(
        &self,
        st: &RunState,
        domain: &DomainName,
        host: String,
        ip: IpAddr,
    ) -> AddressFacts {
        let mut addr = AddressFacts::new(ip);
        if addr.scope.is_private() && !self.config.allow_private {
            addr.smtp_skipped = Some(format!(
                "{} address: not probed (only allowed for labs and internal audits)",
                addr.scope.as_str()
            ));
            return addr;
        }
        let ptr = st.rdns.lookup(ip);
        let dnsbl = async {
            match &st.dnsbl {
                Some(engine) => engine.check(ip).await,
                None => Vec::new(),
            }
        };
        let smtp = async {
            match &st.smtp {
                Some(prober) => Some(Self::smtp_with_banner(st, prober, ip, &host, domain).await),
                None => None,
            }
        };
        let (ptr, dnsbl, smtp) = tokio::join!(ptr, dnsbl, smtp);
        addr.ptr = Some(ptr);
        addr.dnsbl = dnsbl;
        if smtp.is_none() {
            addr.smtp_skipped = Some("SMTP probing is off".to_owned());
        }
        addr.smtp = smtp;
        addr
    }

    async fn smtp_with_banner(
        st: &RunState,
        prober: &SmtpProber,
        ip: IpAddr,
        host: &str,
        domain: &DomainName,
    ) -> SmtpFacts {
        let mut facts = prober.probe(ip, host, domain.as_str()).await;
        if let Some(greeting) = facts.greeting.as_mut()
            && let Some(name) = greeting.hostname.clone()
        {
            greeting.hostname_lookups = Some(st.mx.host_addresses(&name).await.lookups);
        }
        facts
    }
}

/// Marks the hosts and addresses over the configured caps as not probed and says which.
fn apply_fan_out(hosts: &mut [HostFacts], caps: &crate::config::FanOut) -> Vec<String> {
    let mut skipped = Vec::new();
    let mut probed = 0usize;
    let mut seen: Vec<(std::net::IpAddr, String)> = Vec::new();
    for (i, host) in hosts.iter_mut().enumerate() {
        for (j, addr) in host.addresses.iter_mut().enumerate() {
            if i < caps.max_hosts
                && let Some((_, first)) = seen.iter().find(|(ip, _)| *ip == addr.ip)
            {
                addr.smtp_skipped = Some(format!(
                    "same address as MX host {first}: probed once, under that name"
                ));
                continue;
            }
            let why = if i >= caps.max_hosts {
                Some(format!(
                    "MX host {} over the cap of {} hosts",
                    host.host, caps.max_hosts
                ))
            } else if j >= caps.max_addresses_per_host {
                Some(format!(
                    "address {} of {} over the cap of {} addresses per host",
                    addr.ip, host.host, caps.max_addresses_per_host
                ))
            } else if probed >= caps.max_addresses {
                Some(format!(
                    "address {} of {} over the cap of {} addresses per domain",
                    addr.ip, host.host, caps.max_addresses
                ))
            } else {
                None
            };
            match why {
                Some(why) => {
                    addr.smtp_skipped = Some(format!("not checked: {why}"));
                    skipped.push(why);
                }
                None => {
                    seen.push((addr.ip, host.host.clone()));
                    probed += 1;
                }
            }
        }
    }
    skipped
}
