//! The sender check's lookups, through the checker's per-run caches: the PTR and its forward
//! check ([`crate::probe::rdns`]), the HELO name's A/AAAA (the memo of host addresses), the
//! blocklists with their RFC 5782 self-tests ([`crate::probe::dnsbl`]), and for the envelope
//! sender domain its MX, the SPF record tree with `check_host()` of the IP, and DMARC. All at
//! once; each part stops at the deadline on its own, and what did not finish is said.

use std::future::Future;
use std::net::IpAddr;
use std::time::Instant;

use super::diagnose::diagnose_sender;
use super::facts::{DomainAuthFacts, SenderFacts};
use super::{SenderQuery, SenderReport};
use crate::check::{CheckOptions, Checker, elapsed_ms, unix_now};
use crate::facts::{AddressScope, DnsFailure, Lookup, PublicIpSource};
use crate::identity::worth_resolving;

/// `work`, unless `until` comes first (then `None`).
async fn by<T>(until: Option<tokio::time::Instant>, work: impl Future<Output = T>) -> Option<T> {
    match until {
        Some(t) => tokio::time::timeout_at(t, work).await.ok(),
        None => Some(work.await),
    }
}

impl Checker {
    /// Checks a sending IP, the HELO name it uses and its envelope sender domain the way large
    /// receivers judge them. Never fails: a private or reserved address (unless private targets
    /// are allowed: labs, internal audits) gives a report with verdict `invalid`.
    pub async fn check_sender(&self, query: &SenderQuery) -> SenderReport {
        self.check_sender_with(query, CheckOptions::default()).await
    }

    /// [`Checker::check_sender`] with [`CheckOptions`]: a fresh look (the address's remembered
    /// PTR and blocklist answers and the HELO name's addresses are forgotten), a deadline.
    pub async fn check_sender_with(
        &self,
        query: &SenderQuery,
        options: CheckOptions,
    ) -> SenderReport {
        let started = Instant::now();
        if let Some(report) = self.refuse_private(query) {
            return report;
        }
        let facts = self.collect_sender(query, options).await;
        diagnose_sender(&facts, elapsed_ms(started))
    }

    /// The report for an address that must not be checked here (private targets not allowed).
    fn refuse_private(&self, query: &SenderQuery) -> Option<SenderReport> {
        let scope = AddressScope::of(query.ip);
        (scope.is_private() && !self.config().allow_private).then(|| {
            SenderReport::invalid(
                &query.ip.to_string(),
                query.helo.as_deref(),
                query.domain.as_ref().map(crate::DomainName::as_str),
                format!(
                    "{} is a {} address: receivers on the Internet never see it as a sender (only \
                     checked in labs and internal audits, with private addresses allowed)",
                    query.ip,
                    scope.as_str()
                ),
            )
        })
    }

    /// Runs every lookup of the sender check and records what was observed.
    pub async fn collect_sender(&self, query: &SenderQuery, options: CheckOptions) -> SenderFacts {
        let until = options.deadline.map(|d| tokio::time::Instant::now() + d);
        let st = self.state();
        let ip = query.ip;
        if options.fresh {
            self.dns.clear_cache();
            st.forget(ip).await;
            if let Some(h) = &query.helo {
                st.mx.forget_host(h);
            }
        }
        let mut facts = SenderFacts::new(ip, unix_now());
        facts.resolver = self.resolver_label().to_owned();
        facts.helo.clone_from(&query.helo);
        facts.dnsbl_enabled = st.dnsbl.is_some();
        let ptr = by(until, st.rdns.lookup(ip));
        let helo = async {
            match &query.helo {
                Some(h) if worth_resolving(h) => by(until, st.mx.host_addresses(h))
                    .await
                    .map(|a| Some(a.lookups)),
                _ => Some(None),
            }
        };
        let dnsbl = async {
            match &st.dnsbl {
                Some(engine) => {
                    by(until, async {
                        tokio::join!(engine.health(), engine.check(ip))
                    })
                    .await
                }
                None => Some((Vec::new(), Vec::new())),
            }
        };
        let domain = async {
            match &query.domain {
                Some(d) => Some(
                    self.domain_auth(d.as_str(), ip, query.helo.as_deref(), until)
                        .await,
                ),
                None => None,
            }
        };
        let (ptr, helo, dnsbl, domain) = tokio::join!(ptr, helo, dnsbl, domain);
        let mut unfinished = Vec::new();
        match ptr {
            Some(p) => facts.ptr = Some(p),
            None => unfinished.push("the reverse DNS lookup"),
        }
        match helo {
            Some(l) => facts.helo_lookups = l,
            None => unfinished.push("the HELO name's lookup"),
        }
        match dnsbl {
            Some((zones, checks)) => {
                facts.dnsbl_zones = zones;
                facts.dnsbl = checks;
            }
            None => unfinished.push("the blocklist queries"),
        }
        if let Some((d, done)) = domain {
            if !done {
                unfinished.push("the sender domain's SPF and DMARC lookups");
            }
            facts.domain = Some(d);
        }
        if !unfinished.is_empty() {
            facts.partial = Some(format!(
                "the check's deadline came first: {} did not finish",
                unfinished.join(", ")
            ));
        }
        facts
    }

    /// The envelope sender domain: its MX, its SPF tree with `check_host()` of `ip`, DMARC;
    /// and whether everything finished before `until`.
    async fn domain_auth(
        &self,
        domain: &str,
        ip: IpAddr,
        helo: Option<&str>,
        until: Option<tokio::time::Instant>,
    ) -> (DomainAuthFacts, bool) {
        let dns = self.dns.as_ref();
        let adapter = crate::spf::DnsSourceAdapter(dns);
        let spf_dns = crate::auth::spf_ips::CachedSpfDns::new(&adapter);
        let sender = format!("postmaster@{domain}");
        // %{h} in a record is the HELO name; without one, the domain stands in.
        let helo = helo.unwrap_or(domain);
        let spf = async {
            let tree = crate::spf::SpfFacts::collect(domain, &spf_dns)
                .await
                .with_evaluation(ip, &sender, helo, &spf_dns)
                .await;
            let unlisted = crate::auth::spf_ips::collect(domain, &[], &spf_dns).await;
            (tree, unlisted)
        };
        let ctx = crate::auth::AuthContext {
            dns,
            config: &self.config().auth,
            allow_private: self.config().allow_private,
            domain,
            mx_hosts: &[],
            mx_ips: &[],
            mta_sts: None,
            dnssec: None,
        };
        let (mx, spf, dmarc) = tokio::join!(
            by(until, dns.mx(domain)),
            by(until, spf),
            by(until, crate::auth::dmarc::collect(&ctx))
        );
        let done = mx.is_some() && spf.is_some() && dmarc.is_some();
        let (spf, spf_ips) = spf.map_or((None, None), |(t, u)| (Some(t), Some(u)));
        let facts = DomainAuthFacts {
            domain: domain.to_owned(),
            mx: mx.unwrap_or_else(|| Lookup::Failed {
                failure: DnsFailure::Timeout,
                detail: "the check's deadline came before the MX lookup finished".to_owned(),
            }),
            spf,
            spf_ips,
            dmarc,
        };
        (facts, done)
    }

    /// Our own public address(es), learned the way `--vantage` learns them: configured ones,
    /// else the address the egress canaries echo in their EHLO replies. Empty when none could
    /// be learned (SMTP probing off, port 25 blocked, no canary echoes).
    pub async fn our_public_ips(&self) -> Vec<(IpAddr, PublicIpSource)> {
        let (vantage, _) = self.vantage().await;
        vantage
            .public_ips
            .into_iter()
            .map(|p| (p.ip, p.source))
            .collect()
    }
}

impl Checker {
    /// The sender check of this machine itself (`--ip self`): every public address learned as
    /// in [`Checker::our_public_ips`], each checked with `helo` and `domain`, and marked as
    /// learned. One `invalid` report saying why when no address could be learned.
    pub async fn check_own_sender(
        &self,
        helo: Option<&str>,
        domain: Option<&str>,
        options: CheckOptions,
    ) -> Vec<SenderReport> {
        let ours = self.our_public_ips().await;
        if ours.is_empty() {
            return vec![SenderReport::invalid(
                "self",
                helo,
                domain,
                "could not learn this machine's public address: give it (public IP setting), or \
                 let an egress canary that echoes the client address in its EHLO reply be reached \
                 on port 25",
            )];
        }
        let mut out = Vec::new();
        for (ip, source) in ours {
            let query = match SenderQuery::parse(&ip.to_string(), helo, domain) {
                Ok(q) => q,
                Err(e) => {
                    out.push(SenderReport::invalid(&ip.to_string(), helo, domain, e));
                    continue;
                }
            };
            let mut report = self.check_sender_with(&query, options).await;
            if let Some(f) = report.facts.as_mut() {
                f.learned = Some(source);
            }
            out.push(report);
        }
        out
    }
}
