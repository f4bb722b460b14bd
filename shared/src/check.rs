//! The [`Checker`]: runs the probes for a domain, records [`Facts`], and diagnoses them.
//!
//! One `Checker` is meant to serve a whole run (a CSV audit, a bot's lifetime): it holds the
//! per-run caches, so an MX host, a PTR, a blocklist answer or an SMTP session shared by many
//! domains is looked up or opened once, and at most one connection at a time goes to an address.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;

use crate::config::CheckConfig;
use crate::diagnose::diagnose;
use crate::domain::DomainName;
use crate::facts::{AddressFacts, ConnectOutcome, EgressFacts, Facts, ProbeScope, SmtpFacts};
use crate::probe::dns::{DnsSource, HickoryDns};
use crate::probe::dnsbl::DnsblEngine;
use crate::probe::egress::check_egress;
use crate::probe::mx::MxCollector;
use crate::probe::rdns::ReverseDns;
use crate::probe::smtp::SmtpProber;
use crate::report::Report;

/// Checks domains. Share it (`Arc<Checker>`) across tasks for a run.
#[derive(Debug)]
pub struct Checker {
    config: CheckConfig,
    resolver_label: String,
    dns: Arc<dyn DnsSource>,
    state: std::sync::Mutex<Arc<RunState>>,
}

/// The per-run caches: MX hosts, PTRs, blocklist answers, pooled SMTP sessions (with remembered
/// failures), our vantage point. Replaced by a fresh one when older than
/// [`CheckConfig::cache_ttl`], so a long-lived checker (the bot) sees changes.
#[derive(Debug)]
struct RunState {
    started: Instant,
    mx: MxCollector,
    rdns: ReverseDns,
    dnsbl: Option<DnsblEngine>,
    smtp: Option<SmtpProber>,
    egress: tokio::sync::OnceCell<EgressFacts>,
}

impl RunState {
    fn new(config: &CheckConfig, dns: &Arc<dyn DnsSource>) -> Result<Self, crate::Error> {
        let dnsbl = if config.dnsbl.enabled && !config.dnsbl.zones.is_empty() {
            Some(DnsblEngine::new(dns.clone(), &config.dnsbl.zones)?)
        } else {
            None
        };
        let smtp = if config.smtp.enabled {
            Some(SmtpProber::new(&config.smtp)?)
        } else {
            None
        };
        Ok(Self {
            started: Instant::now(),
            mx: MxCollector::new(dns.clone()),
            rdns: ReverseDns::new(dns.clone()),
            dnsbl,
            smtp,
            egress: tokio::sync::OnceCell::new(),
        })
    }
}

impl Checker {
    /// A checker for this configuration, with the resolver it names.
    pub fn new(config: CheckConfig) -> Result<Self, crate::Error> {
        let dns = HickoryDns::new(&config.dns)?;
        let label = dns.describe();
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
    fn state(&self) -> Arc<RunState> {
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

    /// Checks one input (domain, e-mail address or URL). Never fails: input that is not a
    /// domain gives a report with verdict `invalid` and the reason in `error`.
    pub async fn check(&self, input: &str) -> Report {
        self.check_with_progress(input, &|_| {}).await
    }

    /// [`Checker::check`], telling `progress` what stage the check reached (for front-ends that
    /// show progress, like the bot's "MX found, probing…" message).
    pub async fn check_with_progress(
        &self,
        input: &str,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Report {
        let started = Instant::now();
        let domain = match DomainName::parse(input) {
            Ok(d) => d,
            Err(e) => return Report::invalid(input, e),
        };
        let facts = self.collect_with_progress(&domain, progress).await;
        diagnose(&facts, &self.config.policy, input, elapsed_ms(started))
    }

    /// Runs every probe for a valid domain and records what was observed.
    pub async fn collect(&self, domain: &DomainName) -> Facts {
        self.collect_with_progress(domain, &|_| {}).await
    }

    async fn collect_with_progress(
        &self,
        domain: &DomainName,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Facts {
        let st = self.state();
        let scope = ProbeScope {
            smtp: st.smtp.is_some(),
            dnsbl: st.dnsbl.is_some(),
            open_relay_test: self.config.smtp.open_relay_test,
            allow_private: self.config.smtp.allow_private,
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
        let ((), zones) = tokio::join!(st.mx.collect_into(domain, &mut facts), health);
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

        let jobs = facts.hosts.iter().flat_map(|h| {
            let host = h.host.clone();
            h.addresses.iter().map(move |a| (host.clone(), a.ip))
        });
        let results = join_all(jobs.map(|(host, ip)| self.address(&st, domain, host, ip))).await;
        let mut results = results.into_iter();
        for host in &mut facts.hosts {
            for addr in &mut host.addresses {
                if let Some(done) = results.next() {
                    *addr = done;
                }
            }
        }

        let timed_out = facts.addresses().any(|(_, a)| {
            a.smtp.as_ref().is_some_and(|s| {
                matches!(
                    s.connect,
                    ConnectOutcome::TimedOut { .. } | ConnectOutcome::Unreachable { .. }
                )
            })
        });
        let egress = &self.config.egress;
        if timed_out && egress.enabled && !egress.canaries.is_empty() {
            let source = self.config.smtp.source_ip;
            let facts_egress = st
                .egress
                .get_or_init(|| check_egress(egress, source))
                .await
                .clone();
            facts.egress = Some(facts_egress);
        }
        facts
    }

    async fn address(
        &self,
        st: &RunState,
        domain: &DomainName,
        host: String,
        ip: IpAddr,
    ) -> AddressFacts {
        let mut addr = AddressFacts::new(ip);
        if addr.scope.is_private() && !self.config.smtp.allow_private {
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

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
