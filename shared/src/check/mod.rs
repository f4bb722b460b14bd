//! The [`Checker`]: runs the probes for a domain, records [`Facts`], and diagnoses them.
//!
//! One `Checker` is meant to serve a whole run (a CSV audit, a bot's lifetime): it holds the
//! per-run caches, so an MX host, a PTR, a blocklist answer or an SMTP session shared by many
//! domains is looked up or opened once, and at most one connection at a time goes to an address.
//!
//! This module holds the `Checker` and its entry points; the rest by job:
//! - `state`: the per-run caches (`RunState`) and what the run learns about itself;
//! - `collect`: collecting one domain's facts: MX hosts, each address's PTR, blocklist answers
//!   and SMTP conversation, the authentication checks, the fan-out caps and the deadline;
//! - `vantage`: the check of our own vantage point (egress canaries, public addresses, EHLO
//!   name, sender domain).

mod collect;
mod state;
mod vantage;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::config::CheckConfig;
use crate::diagnose::diagnose;
use crate::domain::DomainName;
use crate::facts::Facts;
use crate::probe::dns::{DnsSource, HickoryDns};
use crate::probe::smtp::SmtpProber;
use crate::report::Report;

pub(crate) use state::RunState;

/// Checks domains. Share it (`Arc<Checker>`) across tasks for a run.
#[derive(Debug)]
pub struct Checker {
    config: CheckConfig,
    resolver_label: String,
    pub(crate) dns: Arc<dyn DnsSource>,
    state: std::sync::Mutex<Arc<RunState>>,
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

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
