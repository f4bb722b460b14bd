//! A ready-made lab: one DNS server and a set of SMTP servers on loopback, each sample domain
//! showing one typical fault, with the verdict and finding codes mailcheck must report for it.
//! Used by the offline demo (`mailcheck-audit --demo`), the bot's preview and end-to-end tests.
//!
//! All SMTP servers listen on the same port number on different loopback addresses
//! (`127.0.0.10`, `127.0.0.11`, …, and `[::1]` when IPv6 loopback exists), so a checker is
//! pointed at the lab with: resolver = [`Lab::resolver`], SMTP port = [`Lab::smtp_port`],
//! MTA-STS port = [`Lab::mta_sts_port`] (one HTTPS server on `127.0.0.60` serves every domain's
//! policy), trusted CA = [`Lab::ca_pem`], blocklist zone [`LAB_DNSBL_ZONE`], private addresses
//! allowed, and the open-relay test on: [`Lab::check_config`] gives that configuration.
//!
//! The sending side has cases of its own ([`SENDER_SCENARIOS`]: sending addresses with their
//! PTR, HELO name, SPF, DMARC and listings, for the sender check), in DNS only.
//!
//! The lab DNS is DNSSEC-signed under a lab root (trust it with [`CheckerHints::trust_anchor`]),
//! so the DANE and DNSSEC scenarios show; `ns-split.test` and `ns-lame.test` are delegated to two
//! extra name servers on `127.0.0.61`/`127.0.0.62`, asked directly on [`Lab::ns_port`].
//!
//! The code, by job: the sample domains in `scenarios`, the address map and the servers in
//! `servers`, their DNS records and MTA-STS policies in `zones`, the sending side in `sender`,
//! and [`Lab::check_config`] in `config`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::certs::TestCa;
use crate::dns::DnsServer;
use crate::https::HttpsServer;
use crate::smtp::SmtpServer;

mod config;
mod scenarios;
mod sender;
mod servers;
mod zones;

pub use scenarios::{SCENARIOS, Scenario};
pub use sender::{
    LAB_POLICY_ZONE, SENDER_DNSBL_ZONES, SENDER_SCENARIOS, SenderScenario, senders_csv,
};

use servers::{FILTERED, HTTPS, Kind, SERVERS, filtered, name_servers, server, v4};
use zones::{mta_sts_policies, zones};

/// The blocklist zone the lab serves.
pub const LAB_DNSBL_ZONE: &str = "bl.test";

/// How long the slow server waits before its greeting (a tarpit: slow from 10 s on).
pub const SLOW_GREETING: Duration = Duration::from_millis(10_500);

/// How long the postscreen-like server waits before its greeting (its default greet-wait is
/// 6 s: not slow).
pub const GREET_WAIT: Duration = Duration::from_secs(6);

/// The address the lab's echoing servers report as ours, as a NAT's public address would be;
/// the lab's DNS gives it a forward-confirmed PTR named like our EHLO name.
pub const LAB_PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

/// Our EHLO name in the lab (its A record is [`LAB_PUBLIC_IP`]).
pub const LAB_HELO_NAME: &str = "probe.mailcheck.test";

/// What the checker must be told to use the lab (the demo's settings); [`Self::check_config`]
/// and [`Self::apply_to`] turn them into the library's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerHints {
    /// The DNS server to use.
    pub resolver: SocketAddr,
    /// The SMTP port every lab server listens on.
    pub smtp_port: u16,
    /// The HTTPS port of the lab's `mta-sts.<domain>` hosts (the checker's
    /// `auth.mta_sts_port`).
    pub mta_sts_port: u16,
    /// The lab CA, PEM, to trust in addition to the public roots.
    pub ca_pem: String,
    /// Blocklist zones.
    pub dnsbl_zones: Vec<String>,
    /// Greeting timeout that lets the slow server through but ends the silent one quickly.
    pub greeting_timeout: Duration,
    /// Command timeout.
    pub command_timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Our EHLO name.
    pub helo_name: String,
    /// The back-off before a transient outcome is retried (short, for a quick demo).
    pub retry_backoff: Duration,
    /// Egress canaries on loopback (the lab's canary server, which echoes [`LAB_PUBLIC_IP`]):
    /// the vantage check never leaves the machine.
    pub canaries: Vec<String>,
    /// The lab root's DNSKEY (the lab DNS is signed), for the checker's `auth.trust_anchor`.
    pub trust_anchor: Option<String>,
    /// The port the lab's name servers answer on when asked directly (the checker's
    /// `auth.ns_port`).
    pub ns_port: u16,
}

/// The running lab. Dropping it stops every server.
#[derive(Debug)]
pub struct Lab {
    dns: DnsServer,
    /// The two extra name servers of [`NS_DOMAINS`] (the main server is the first of three).
    ///
    /// [`NS_DOMAINS`]: servers::NS_DOMAINS
    name_servers: Vec<DnsServer>,
    /// A listener that never accepts, with its one-slot queue filled, so further SYNs are
    /// dropped and connects time out (what a firewall's DROP looks like), and the connection
    /// that fills it.
    _filtered: (tokio::net::TcpListener, std::net::TcpStream),
    servers: Vec<(String, SmtpServer)>,
    https: HttpsServer,
    ca: TestCa,
    smtp_port: u16,
    ipv6: bool,
}

impl Lab {
    /// Starts the lab: the DNS server and every SMTP server, on one free port number.
    pub async fn start() -> io::Result<Self> {
        let mut last_err = None;
        for _ in 0..5 {
            match Self::try_start().await {
                Ok(lab) => return Ok(lab),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("lab did not start")))
    }

    async fn try_start() -> io::Result<Self> {
        let ca = TestCa::with_name("mailcheck lab CA");
        let mut servers = Vec::new();
        let mut port = 0;
        let mut certs = Vec::new();
        for (last, name, kind, _) in SERVERS {
            let addr = SocketAddr::new(IpAddr::V4(v4(*last)), port);
            let (builder, cert) = server(&ca, name, *kind);
            certs.push(((*name).to_owned(), cert));
            let server = builder.bind(addr).try_build().await?;
            port = server.addr().port();
            servers.push(((*name).to_owned(), server));
        }
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        let ipv6 = match server(&ca, "mx.v6only.test", Kind::Healthy)
            .0
            .bind(v6)
            .try_build()
            .await
        {
            Ok(s) => {
                servers.push(("mx.v6only.test".to_owned(), s));
                true
            }
            Err(_) => false,
        };
        let filtered = filtered(SocketAddr::new(IpAddr::V4(v4(FILTERED)), port))?;
        let policies = mta_sts_policies(ipv6);
        let names: Vec<String> = policies
            .iter()
            .map(|(d, _)| format!("mta-sts.{d}"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut https = HttpsServer::builder()
            .bind(SocketAddr::new(IpAddr::V4(v4(HTTPS)), 0))
            .cert(&ca.leaf(&names));
        for (d, response) in policies {
            https = https.mta_sts_policy(&d, response);
        }
        let https = https.try_build().await?;
        let dns = zones(ipv6, &certs).try_build().await?;
        let name_servers = name_servers().await?;
        Ok(Self {
            dns,
            name_servers,
            _filtered: filtered,
            servers,
            https,
            ca,
            smtp_port: port,
            ipv6,
        })
    }

    /// The DNS server (UDP and TCP).
    pub fn resolver(&self) -> SocketAddr {
        self.dns.addr()
    }

    /// The DNS server itself (query counters).
    pub const fn dns(&self) -> &DnsServer {
        &self.dns
    }

    /// The port of the lab's extra name servers (`127.0.0.61`, `127.0.0.62`), asked directly
    /// for the domains delegated to them (the checker's `auth.ns_port`).
    pub fn ns_port(&self) -> u16 {
        self.name_servers.first().map_or(53, |s| s.addr().port())
    }

    /// The SMTP port of every lab server.
    pub const fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// The port of the lab's HTTPS server, where `mta-sts.<domain>` serves the MTA-STS
    /// policies (the checker's `auth.mta_sts_port`).
    pub fn mta_sts_port(&self) -> u16 {
        self.https.addr().port()
    }

    /// The HTTPS server of the MTA-STS policies (its request log).
    pub const fn https(&self) -> &HttpsServer {
        &self.https
    }

    /// The lab CA, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.ca_pem()
    }

    /// Whether the IPv6 scenario runs (IPv6 loopback exists).
    pub const fn has_ipv6(&self) -> bool {
        self.ipv6
    }

    /// The SMTP server of a host name, e.g. `mx.healthy.test`.
    pub fn server(&self, host: &str) -> Option<&SmtpServer> {
        self.servers.iter().find(|(n, _)| n == host).map(|(_, s)| s)
    }

    /// A fault injected between two runs: stops the SMTP server of `host` (e.g.
    /// `mx.healthy.test`), as an outage would, so its address refuses connections from now on
    /// (`smtp.refused`). Returns whether there was such a server.
    pub fn stop_server(&mut self, host: &str) -> bool {
        let before = self.servers.len();
        self.servers.retain(|(n, _)| n != host);
        self.servers.len() < before
    }

    /// Total SMTP connections the lab's servers have accepted.
    pub fn connections(&self) -> usize {
        self.servers.iter().map(|(_, s)| s.connections()).sum()
    }

    /// The scenarios this lab serves.
    pub fn scenarios(&self) -> Vec<Scenario> {
        SCENARIOS
            .iter()
            .filter(|s| self.ipv6 || s.input != "v6only.test")
            .copied()
            .collect()
    }

    /// The sample inputs as a CSV (`client,domain` with a header), for the demo.
    pub fn domains_csv(&self) -> String {
        let mut out = String::from("client,domain\n");
        for (i, s) in self.scenarios().iter().enumerate() {
            out.push_str(&format!("Client {:02},\"{}\"\n", i + 1, s.input));
        }
        out
    }

    /// The settings a checker needs for this lab.
    pub fn checker_hints(&self) -> CheckerHints {
        CheckerHints {
            resolver: self.resolver(),
            smtp_port: self.smtp_port,
            mta_sts_port: self.mta_sts_port(),
            ca_pem: self.ca_pem(),
            dnsbl_zones: vec![LAB_DNSBL_ZONE.to_owned()],
            greeting_timeout: Duration::from_secs(12),
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            helo_name: LAB_HELO_NAME.to_owned(),
            retry_backoff: Duration::from_millis(300),
            canaries: vec![format!("127.0.0.45:{}", self.smtp_port)],
            trust_anchor: self.dns.trust_anchor().map(str::to_owned),
            ns_port: self.ns_port(),
        }
    }
}
