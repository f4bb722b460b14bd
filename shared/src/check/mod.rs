//! The [`Checker`]: runs the probes for a domain, records [`Facts`], and diagnoses them.
//!
//! One `Checker` is meant to serve a whole run (a CSV audit, a bot's lifetime): it holds the
//! per-run caches, so an MX host, a PTR, a blocklist answer or an SMTP session shared by many
//! domains is looked up or opened once, and at most one connection at a time goes to an address.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;

use crate::config::CheckConfig;
use crate::diagnose::diagnose;
use crate::domain::DomainName;
use crate::facts::{
    AddressFacts, AddressScope, ConnectOutcome, EgressFacts, Facts, Family, HostFacts, Lookup,
    ProbeScope, PublicIp, PublicIpSource, SenderDomainFacts, SmtpFacts, VantageFacts,
};
use crate::probe::dns::{DnsSource, HickoryDns};
use crate::probe::dnsbl::DnsblEngine;
use crate::probe::egress::check_egress;
use crate::probe::mx::{MxCollector, resolve_host};
use crate::probe::rdns::ReverseDns;
use crate::probe::smtp::{SmtpClient, SmtpProber};
use crate::report::Report;

/// Checks domains. Share it (`Arc<Checker>`) across tasks for a run.
#[derive(Debug)]
pub struct Checker {
    config: CheckConfig,
    resolver_label: String,
    pub(crate) dns: Arc<dyn DnsSource>,
    state: std::sync::Mutex<Arc<RunState>>,
}

/// The per-run caches: MX hosts, PTRs, blocklist answers, pooled SMTP sessions (with remembered
/// failures), our vantage point. Replaced by a fresh one when older than
/// [`CheckConfig::cache_ttl`], so a long-lived checker (the bot) sees changes.
#[derive(Debug)]
pub(crate) struct RunState {
    started: Instant,
    pub(crate) mx: MxCollector,
    pub(crate) rdns: ReverseDns,
    pub(crate) dnsbl: Option<DnsblEngine>,
    smtp: Option<SmtpProber>,
    /// The HTTPS client for MTA-STS policies (pooled), when the authentication checks are on.
    mta_sts: Option<crate::auth::mtasts::MtaStsClient>,
    vantage: VantageState,
    /// The DNSSEC validator of the authentication checks (when they are on).
    dnssec: Option<crate::auth::dane::Validator>,
}

/// What the run learns about itself, once: the egress check per family, our public addresses
/// (configured, or echoed by servers), our sender domain's DNS.
#[derive(Debug, Default)]
struct VantageState {
    egress_v4: tokio::sync::OnceCell<EgressFacts>,
    egress_v6: tokio::sync::OnceCell<EgressFacts>,
    public: std::sync::Mutex<Vec<(std::net::IpAddr, PublicIpSource)>>,
    sender: tokio::sync::OnceCell<Option<SenderDomainFacts>>,
}

impl VantageState {
    const fn egress_cell(&self, family: Family) -> &tokio::sync::OnceCell<EgressFacts> {
        match family {
            Family::Ipv4 => &self.egress_v4,
            Family::Ipv6 => &self.egress_v6,
        }
    }

    /// Records a public address we learned (the first source wins).
    fn learn(&self, ip: std::net::IpAddr, source: PublicIpSource) {
        let mut known = self
            .public
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !known.iter().any(|(k, _)| *k == ip) {
            known.push((ip, source));
        }
    }

    fn public(&self) -> Vec<(std::net::IpAddr, PublicIpSource)> {
        self.public
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl RunState {
    fn new(config: &CheckConfig, dns: &Arc<dyn DnsSource>) -> Result<Self, crate::Error> {
        let dnsbl = if config.dnsbl.enabled && !config.dnsbl.zones.is_empty() {
            Some(DnsblEngine::new(dns.clone(), &config.dnsbl.zones)?)
        } else {
            None
        };
        let smtp = if config.smtp.enabled {
            let client = SmtpClient::with_public_ips(&config.smtp, &config.egress.public_ips)?;
            Some(SmtpProber::with_client(client))
        } else {
            None
        };
        let mta_sts = if config.auth.enabled {
            Some(crate::auth::mtasts::MtaStsClient::from_config(config)?)
        } else {
            None
        };
        let vantage = VantageState::default();
        for ip in &config.egress.public_ips {
            vantage.learn(*ip, PublicIpSource::Configured);
        }
        let dnssec = if config.auth.enabled {
            Some(crate::auth::dane::Validator::new(
                &config.dns,
                &config.auth,
            )?)
        } else {
            None
        };
        Ok(Self {
            started: Instant::now(),
            dnssec,
            mx: MxCollector::new(dns.clone()),
            rdns: ReverseDns::new(dns.clone()),
            dnsbl,
            smtp,
            mta_sts,
            vantage,
        })
    }
}

impl RunState {
    /// Forgets what the run remembers of `ip`: PTR, blocklist answers, SMTP outcomes and the
    /// per-address budget (idle sessions get `QUIT`).
    pub(crate) async fn forget(&self, ip: IpAddr) {
        self.rdns.forget(ip);
        if let Some(engine) = &self.dnsbl {
            engine.forget(ip);
        }
        if let Some(prober) = &self.smtp {
            prober.forget(ip).await;
        }
    }
}

/// How one check runs ([`Checker::check_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Look again ("I fixed it, check again"): the resolver's cache is cleared, the domain's
    /// mail hosts are resolved afresh, and its addresses' remembered PTR, blocklist and SMTP
    /// outcomes (and the per-address budget) are forgotten.
    pub fresh: bool,
    /// Stop at this time from the start: whatever did not finish is recorded as such
    /// ([`Facts::partial`], and `smtp.incomplete` for an unfinished address), so the report
    /// shows what was checked so far.
    pub deadline: Option<std::time::Duration>,
}

/// `work`, unless `until` comes first (then `None`).
async fn by<T>(until: Option<tokio::time::Instant>, work: impl Future<Output = T>) -> Option<T> {
    match until {
        Some(t) => tokio::time::timeout_at(t, work).await.ok(),
        None => Some(work.await),
    }
}

impl Checker {
    /// A checker for this configuration, with the resolver it names.
    pub fn new(config: CheckConfig) -> Result<Self, crate::Error> {
        let dns = HickoryDns::new(&config.dns)?;
        let label = dns.label();
        Self::with_dns(config, Arc::new(dns), label)
    }

    /// A checker asking `dns` (tests, or a custom DNS source); `label` names it in reports.
    pub fn with_dns(
        config: CheckConfig,
        dns: Arc<dyn DnsSource>,
        label: impl Into<String>,
    ) -> Result<Self, crate::Error> {
        let state = RunState::new(&config, &dns)?;
        Ok(Self {
            resolver_label: label.into(),
            dns,
            state: std::sync::Mutex::new(Arc::new(state)),
            config,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// How the resolver is named in reports.
    pub fn resolver_label(&self) -> &str {
        &self.resolver_label
    }

    /// The SMTP prober (session pool) of the current caches, when SMTP probing is on.
    pub fn smtp(&self) -> Option<SmtpProber> {
        self.state().smtp.clone()
    }

    /// The current per-run caches, renewed when older than `cache_ttl` (the old pool's idle
    /// sessions then get their QUIT in the background).
    pub(crate) fn state(&self) -> Arc<RunState> {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let expired = self
            .config
            .cache_ttl
            .is_some_and(|ttl| guard.started.elapsed() >= ttl);
        if expired {
            // The configuration was valid when the checker was built, so this cannot fail;
            // if it somehow did, keep the old caches rather than fail the check.
            self.dns.clear_cache();
            if let Ok(fresh) = RunState::new(&self.config, &self.dns) {
                let old = std::mem::replace(&mut *guard, Arc::new(fresh));
                if let (Some(prober), Ok(rt)) =
                    (old.smtp.clone(), tokio::runtime::Handle::try_current())
                {
                    rt.spawn(async move { prober.close_all().await });
                }
            }
        }
        guard.clone()
    }

    /// Checks one domain. The report's `input` is the domain; a front-end that parsed it from
    /// what a user typed sets `input` to that.
    pub async fn check(&self, domain: &DomainName) -> Report {
        self.check_with_progress(domain, &|_| {}).await
    }

    /// Checks what a user typed (a domain, an e-mail address or a URL): the convenience for raw
    /// input. Never fails: input that is not a domain gives a report with verdict `invalid` and
    /// the reason in `error`; the report's `input` is what was given.
    pub async fn check_input(&self, input: &str) -> Report {
        match DomainName::parse(input) {
            Ok(domain) => {
                let mut report = self.check(&domain).await;
                input.clone_into(&mut report.input);
                report
            }
            Err(e) => Report::invalid(input, e),
        }
    }

    /// [`Checker::check`], telling `progress` what stage the check reached (for front-ends that
    /// show progress, like the bot's "MX found, probing…" message).
    pub async fn check_with_progress(
        &self,
        domain: &DomainName,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Report {
        self.check_with(domain, CheckOptions::default(), progress)
            .await
    }

    /// [`Checker::check_with_progress`] with [`CheckOptions`]: a fresh look, a deadline.
    pub async fn check_with(
        &self,
        domain: &DomainName,
        options: CheckOptions,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Report {
        let started = Instant::now();
        let facts = self.collect_with(domain, options, progress).await;
        diagnose(
            &facts,
            &self.config.policy,
            domain.as_str(),
            elapsed_ms(started),
        )
    }

    /// Runs every probe for a valid domain and records what was observed.
    pub async fn collect(&self, domain: &DomainName) -> Facts {
        self.collect_with(domain, CheckOptions::default(), &|_| {})
            .await
    }

    async fn collect_with(
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
                            "the check's deadline came before the conversation with this address finished"
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
    async fn vantage_after(&self, st: &RunState, facts: &Facts) -> VantageFacts {
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

    /// Closes every pooled SMTP session politely (QUIT). Call at the end of a run.
    pub async fn shutdown(&self) {
        if let Some(prober) = self.smtp() {
            prober.close_all().await;
        }
    }
}

/// A stage a check reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// DNS is done: these are the mail hosts that will now be probed (empty when there are none).
    MailHosts {
        /// The hosts by preference.
        hosts: Vec<MailHost>,
    },
}

/// One mail host as known after DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailHost {
    /// The host name.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
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

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
