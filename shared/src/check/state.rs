//! The per-run caches of a [`Checker`](super::Checker) and what the run learns about itself
//! (egress per family, our public addresses, our sender domain).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::CheckConfig;
use crate::facts::{EgressFacts, Family, PublicIpSource, SenderDomainFacts};
use crate::probe::dns::DnsSource;
use crate::probe::dnsbl::DnsblEngine;
use crate::probe::mx::MxCollector;
use crate::probe::rdns::ReverseDns;
use crate::probe::smtp::{SmtpClient, SmtpProber};

/// The per-run caches: MX hosts, PTRs, blocklist answers, pooled SMTP sessions (with remembered
/// failures), our vantage point. Replaced by a fresh one when older than
/// [`CheckConfig::cache_ttl`], so a long-lived checker (the bot) sees changes.
#[derive(Debug)]
pub(crate) struct RunState {
    pub(super) started: Instant,
    pub(crate) mx: MxCollector,
    pub(crate) rdns: ReverseDns,
    pub(crate) dnsbl: Option<DnsblEngine>,
    pub(super) smtp: Option<SmtpProber>,
    /// The HTTPS client for MTA-STS policies (pooled), when the authentication checks are on.
    pub(super) mta_sts: Option<crate::auth::mtasts::MtaStsClient>,
    pub(super) vantage: VantageState,
    /// The DNSSEC validator of the authentication checks (when they are on).
    pub(super) dnssec: Option<crate::auth::dane::Validator>,
}

/// What the run learns about itself, once: the egress check per family, our public addresses
/// (configured, or echoed by servers), our sender domain's DNS.
#[derive(Debug, Default)]
pub(super) struct VantageState {
    egress_v4: tokio::sync::OnceCell<EgressFacts>,
    egress_v6: tokio::sync::OnceCell<EgressFacts>,
    public: std::sync::Mutex<Vec<(std::net::IpAddr, PublicIpSource)>>,
    pub(super) sender: tokio::sync::OnceCell<Option<SenderDomainFacts>>,
}

impl VantageState {
    pub(super) const fn egress_cell(&self, family: Family) -> &tokio::sync::OnceCell<EgressFacts> {
        match family {
            Family::Ipv4 => &self.egress_v4,
            Family::Ipv6 => &self.egress_v6,
        }
    }

    /// Records a public address we learned (the first source wins).
    pub(super) fn learn(&self, ip: std::net::IpAddr, source: PublicIpSource) {
        let mut known = self
            .public
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !known.iter().any(|(k, _)| *k == ip) {
            known.push((ip, source));
        }
    }

    pub(super) fn public(&self) -> Vec<(std::net::IpAddr, PublicIpSource)> {
        self.public
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl RunState {
    pub(super) fn new(
        config: &CheckConfig,
        dns: &Arc<dyn DnsSource>,
    ) -> Result<Self, crate::Error> {
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
