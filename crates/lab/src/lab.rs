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

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::certs::TestCa;
use crate::dns::{DnsServer, DnsServerBuilder, Fault, RData, RecordType, dnsbl_query_name};
use crate::https::{HttpResponse, HttpsServer};
use crate::smtp::{Command, Hostile, SmtpServer, SmtpServerBuilder};
use hickory_server::proto::rr::rdata::TLSA;
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};

mod config;
mod sender;

pub use sender::{
    LAB_POLICY_ZONE, SENDER_DNSBL_ZONES, SENDER_SCENARIOS, SenderScenario, senders_csv,
};

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

/// One sample domain and what mailcheck must say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The input (a domain, or something invalid).
    pub input: &'static str,
    /// The expected verdict.
    pub verdict: &'static str,
    /// The exact set of expected finding codes.
    pub codes: &'static [&'static str],
    /// What the scenario shows.
    pub about: &'static str,
}

/// Every sample domain of the lab (IPv6 ones only when [`Lab::has_ipv6`]).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        input: "healthy.test",
        verdict: "ok",
        codes: &[],
        about: "MX, PTR, banner, STARTTLS with a valid certificate, postmaster accepted",
    },
    Scenario {
        input: "nomx.test",
        verdict: "degraded",
        codes: &["mx.missing"],
        about: "no MX: mail falls back to the A record",
    },
    Scenario {
        input: "nullmx.test",
        verdict: "no_mail",
        codes: &["mx.null"],
        about: "null MX: accepts no mail on purpose",
    },
    Scenario {
        input: "nullmixed.test",
        verdict: "degraded",
        codes: &["mx.null_mixed"],
        about: "null MX published next to a real MX (which accepts mail)",
    },
    Scenario {
        input: "nomail.test",
        verdict: "broken",
        codes: &["mx.no_mail_host"],
        about: "no MX and no address",
    },
    Scenario {
        input: "missing.test",
        verdict: "broken",
        codes: &["dns.nxdomain"],
        about: "the domain does not exist",
    },
    Scenario {
        input: "servfail.test",
        verdict: "inconclusive",
        codes: &["dns.lookup_failed"],
        about: "the name servers fail (SERVFAIL)",
    },
    Scenario {
        input: "cname-mx.test",
        verdict: "degraded",
        codes: &["mx.cname"],
        about: "the MX target is a CNAME",
    },
    Scenario {
        input: "ip-literal.test",
        verdict: "broken",
        codes: &["mx.ip_literal", "mx.all_unusable"],
        about: "the MX target is an IP address",
    },
    Scenario {
        input: "dangling.test",
        verdict: "broken",
        codes: &["mx.unresolvable", "mx.all_unusable"],
        about: "the MX host has no address",
    },
    Scenario {
        input: "closed.test",
        verdict: "broken",
        codes: &["smtp.refused"],
        about: "nothing listens on the SMTP port",
    },
    Scenario {
        input: "multi.test",
        verdict: "degraded",
        codes: &["smtp.refused"],
        about: "primary MX down, backup accepts mail",
    },
    Scenario {
        input: "filtered.test",
        verdict: "broken",
        codes: &["smtp.unreachable"],
        about: "a firewall drops connections to the SMTP port",
    },
    Scenario {
        input: "silent.test",
        verdict: "broken",
        codes: &["smtp.no_greeting"],
        about: "connects, but the server never greets",
    },
    Scenario {
        input: "slow.test",
        verdict: "degraded",
        codes: &["smtp.slow_greeting"],
        about: "greeting only after 10.5 s (tarpit)",
    },
    Scenario {
        input: "greetwait.test",
        verdict: "ok",
        codes: &[],
        about: "greeting after 6 s, postscreen's default greet-wait: not slow",
    },
    Scenario {
        input: "reject.test",
        verdict: "broken",
        codes: &["smtp.greeting_rejected"],
        about: "554 instead of a 220 greeting",
    },
    Scenario {
        input: "busy.test",
        verdict: "degraded",
        codes: &["smtp.tempfail"],
        about: "421 too many connections at the greeting, twice: a deferral, not a refusal",
    },
    Scenario {
        input: "banner.test",
        verdict: "degraded",
        codes: &["smtp.banner_unresolvable"],
        about: "the greeting names a non-public host (.localdomain)",
    },
    Scenario {
        input: "mismatch.test",
        verdict: "ok",
        codes: &["smtp.banner_mismatch"],
        about: "the greeting name is another server's (info: pools do this)",
    },
    Scenario {
        input: "helo.test",
        verdict: "broken",
        codes: &["smtp.helo_rejected"],
        about: "EHLO and HELO both refused",
    },
    Scenario {
        input: "notls.test",
        verdict: "degraded",
        codes: &["smtp.starttls_missing"],
        about: "no STARTTLS",
    },
    Scenario {
        input: "tlsfail.test",
        verdict: "degraded",
        codes: &["smtp.starttls_failed"],
        about: "STARTTLS offered, handshake fails",
    },
    Scenario {
        input: "tlsehlo.test",
        verdict: "degraded",
        codes: &["smtp.starttls_failed"],
        about: "TLS works, but EHLO inside TLS fails; the clear-text retry accepts",
    },
    Scenario {
        input: "tls10.test",
        verdict: "degraded",
        codes: &["tls.legacy_version"],
        about: "speaks only TLS 1.0",
    },
    Scenario {
        input: "selfsigned.test",
        verdict: "degraded",
        codes: &["tls.cert_untrusted"],
        about: "self-signed certificate",
    },
    Scenario {
        input: "expired.test",
        verdict: "degraded",
        codes: &["tls.cert_expired"],
        about: "expired certificate",
    },
    Scenario {
        input: "wrongname.test",
        verdict: "degraded",
        codes: &["tls.cert_name_mismatch"],
        about: "certificate for another name",
    },
    Scenario {
        input: "expiring.test",
        verdict: "degraded",
        codes: &["tls.cert_expiring"],
        about: "certificate expires in 5 days",
    },
    Scenario {
        input: "mailreject.test",
        verdict: "broken",
        codes: &["smtp.mail_rejected"],
        about: "MAIL FROM refused, the null sender <> too",
    },
    Scenario {
        input: "senderverify.test",
        verdict: "ok",
        codes: &["probe.identity"],
        about: "stock Exim `verify = sender` refuses our sender at RCPT; <> is accepted",
    },
    Scenario {
        input: "dropmail.test",
        verdict: "inconclusive",
        codes: &["smtp.disconnect_after_mail"],
        about: "connection dropped after MAIL FROM (about the sending IP: ours)",
    },
    Scenario {
        input: "relay.test",
        verdict: "broken",
        codes: &["smtp.relay_denied"],
        about: "the MX does not accept mail for the domain",
    },
    Scenario {
        input: "deferrelay.test",
        verdict: "broken",
        codes: &["smtp.relay_denied"],
        about: "stock Postfix relay refusal, 454 4.7.1 (defer_unauth_destination)",
    },
    Scenario {
        input: "notserved.test",
        verdict: "broken",
        codes: &["smtp.rcpt_rejected"],
        about: "the MX says the domain is not served here (5.1.2)",
    },
    Scenario {
        input: "nopostmaster.test",
        verdict: "degraded",
        codes: &["smtp.no_postmaster"],
        about: "the domain is hosted, but postmaster does not exist",
    },
    Scenario {
        input: "greylist.test",
        verdict: "inconclusive",
        codes: &["smtp.greylisted"],
        about: "greylisting (450): real senders retry and deliver",
    },
    Scenario {
        input: "greydead.test",
        verdict: "degraded",
        codes: &["smtp.greylisted", "smtp.unreachable"],
        about: "one MX greylists, the other is filtered: not broken",
    },
    Scenario {
        input: "tempfail.test",
        verdict: "degraded",
        codes: &["smtp.tempfail"],
        about: "452 insufficient storage at RCPT, twice",
    },
    Scenario {
        input: "openrelay.test",
        verdict: "broken",
        codes: &["smtp.open_relay"],
        about: "accepts mail for any domain",
    },
    Scenario {
        input: "blocked.test",
        verdict: "inconclusive",
        codes: &["smtp.probe_blocked"],
        about: "the server blocks the prober, not the domain",
    },
    Scenario {
        input: "natblock.test",
        verdict: "inconclusive",
        codes: &["smtp.probe_blocked"],
        about: "the refusal names only our public (NAT) address, which the server echoed in EHLO",
    },
    Scenario {
        input: "listed.test",
        verdict: "degraded",
        codes: &["dnsbl.listed"],
        about: "the MX address is on a blocklist",
    },
    Scenario {
        input: "bldown.test",
        verdict: "ok",
        codes: &["dnsbl.unavailable"],
        about: "the blocklist fails for our resolver (about this machine)",
    },
    Scenario {
        input: "wide.test",
        verdict: "ok",
        codes: &["mx.not_all_checked"],
        about: "12 MX hosts: the first 10 are probed, the rest listed",
    },
    Scenario {
        input: "noptr.test",
        verdict: "degraded",
        codes: &["rdns.missing"],
        about: "the MX address has no PTR",
    },
    Scenario {
        input: "badptr.test",
        verdict: "degraded",
        codes: &["rdns.mismatch"],
        about: "the PTR name does not resolve back",
    },
    Scenario {
        input: "v6only.test",
        verdict: "degraded",
        codes: &["mx.no_ipv4"],
        about: "IPv6-only MX: IPv4-only senders cannot deliver",
    },
    Scenario {
        input: "sts-ok.test",
        verdict: "ok",
        codes: &[],
        about: "MTA-STS in enforce mode, every MX listed, TLS-RPT published",
    },
    Scenario {
        input: "sts-absent.test",
        verdict: "ok",
        codes: &["mtasts.absent"],
        about: "no MTA-STS policy: opportunistic TLS only (info)",
    },
    Scenario {
        input: "sts-mismatch.test",
        verdict: "degraded",
        codes: &["mtasts.mx_mismatch"],
        about: "the MTA-STS policy (enforce) lists another host than the MX",
    },
    Scenario {
        input: "sts-redirect.test",
        verdict: "degraded",
        codes: &["mtasts.invalid"],
        about: "the MTA-STS policy URL redirects (301): senders do not follow",
    },
    Scenario {
        input: "sts-syntax.test",
        verdict: "degraded",
        codes: &["mtasts.invalid"],
        about: "the MTA-STS policy's max_age is out of range",
    },
    Scenario {
        input: "sts-enforce-cert.test",
        verdict: "degraded",
        codes: &["tls.cert_name_mismatch"],
        about: "MTA-STS enforce, but the MX's certificate is for another name (an error now)",
    },
    Scenario {
        input: "nospf.test",
        verdict: "degraded",
        codes: &["spf.missing"],
        about: "no SPF record",
    },
    Scenario {
        input: "spf2.test",
        verdict: "degraded",
        codes: &["spf.multiple"],
        about: "two v=spf1 records: receivers get a permerror",
    },
    Scenario {
        input: "spfbad.test",
        verdict: "degraded",
        codes: &["spf.invalid"],
        about: "the SPF record does not parse (ip4:192.0.2.300)",
    },
    Scenario {
        input: "spflookups.test",
        verdict: "degraded",
        codes: &["spf.too_many_lookups"],
        about: "the SPF record needs 11 DNS lookups (10 allowed)",
    },
    Scenario {
        input: "spfall.test",
        verdict: "degraded",
        codes: &["spf.permissive"],
        about: "SPF ends in ?all: anyone may send as the domain",
    },
    Scenario {
        input: "spfdown.test",
        verdict: "inconclusive",
        codes: &["spf.lookup_failed"],
        about: "an SPF include's name servers fail (SERVFAIL)",
    },
    Scenario {
        input: "spfptr.test",
        verdict: "ok",
        codes: &["spf.ptr_used"],
        about: "SPF uses the deprecated ptr mechanism (info)",
    },
    Scenario {
        input: "nodmarc.test",
        verdict: "degraded",
        codes: &["dmarc.missing"],
        about: "no DMARC record",
    },
    Scenario {
        input: "dmarcbad.test",
        verdict: "degraded",
        codes: &["dmarc.invalid"],
        about: "the DMARC record does not parse (p=rejct)",
    },
    Scenario {
        input: "dmarcnone.test",
        verdict: "ok",
        codes: &["dmarc.policy_none"],
        about: "DMARC p=none: monitoring only (info)",
    },
    Scenario {
        input: "dmarcrua.test",
        verdict: "degraded",
        codes: &["dmarc.report_unauthorized"],
        about: "DMARC reports go to another domain that does not accept them",
    },
    Scenario {
        input: "tlsrptbad.test",
        verdict: "degraded",
        codes: &["tlsrpt.invalid"],
        about: "the TLS-RPT record's rua is not a URI",
    },
    Scenario {
        input: "sendmismatch.test",
        verdict: "degraded",
        codes: &["smtp.banner_mismatch"],
        about: "the MX also sends mail (SPF mx), and its greeting names another host",
    },
    Scenario {
        input: "dane-ok.test",
        verdict: "ok",
        codes: &["dane.valid"],
        about: "signed zone, DANE-EE TLSA record matching the MX's certificate",
    },
    Scenario {
        input: "dane-bad.test",
        verdict: "degraded",
        codes: &["dane.mismatch"],
        about: "signed zone, the TLSA record matches no certificate the MX serves",
    },
    Scenario {
        input: "dane-plain.test",
        verdict: "degraded",
        codes: &["dane.unusable"],
        about: "signed zone, but only a PKIX-EE (usage 1) TLSA record, which DANE senders ignore",
    },
    Scenario {
        input: "dnssec-bogus.test",
        verdict: "broken",
        codes: &["dns.dnssec_bogus"],
        about: "the signature over the MX records is broken: validating resolvers fail",
    },
    Scenario {
        input: "ns-split.test",
        verdict: "degraded",
        codes: &["dns.inconsistent"],
        about: "the second name server hands out another MX set",
    },
    Scenario {
        input: "ns-lame.test",
        verdict: "degraded",
        codes: &["dns.lame_delegation"],
        about: "the second name server refuses queries for the domain (lame delegation)",
    },
    Scenario {
        input: "not a domain!",
        verdict: "invalid",
        codes: &[],
        about: "input that is not a domain",
    },
];

/// How a lab mail server is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Healthy,
    NoTls,
    SelfSigned,
    Expired,
    WrongName,
    Expiring,
    TlsFail,
    Slow,
    Silent,
    Reject,
    Helo,
    MailReject,
    DropMail,
    Relay,
    NoPostmaster,
    Greylist,
    OpenRelay,
    Blocked,
    BannerUnresolvable,
    BannerMismatch,
    GreetWait,
    Busy,
    TlsEhlo,
    Tls10,
    SenderVerify,
    DeferRelay,
    NotServed,
    Tempfail,
    NatBlock,
    Canary,
}

/// (last octet, host name, kind, ptr) of every IPv4 lab server.
const SERVERS: &[(u8, &str, Kind, Ptr)] = &[
    (10, "mx.healthy.test", Kind::Healthy, Ptr::Own),
    (11, "mx.notls.test", Kind::NoTls, Ptr::Own),
    (12, "mx.selfsigned.test", Kind::SelfSigned, Ptr::Own),
    (13, "mx.expired.test", Kind::Expired, Ptr::Own),
    (14, "mx.wrongname.test", Kind::WrongName, Ptr::Own),
    (15, "mx.expiring.test", Kind::Expiring, Ptr::Own),
    (16, "mx.tlsfail.test", Kind::TlsFail, Ptr::Own),
    (17, "mx.slow.test", Kind::Slow, Ptr::Own),
    (18, "mx.silent.test", Kind::Silent, Ptr::Own),
    (19, "mx.reject.test", Kind::Reject, Ptr::Own),
    (20, "mx.helo.test", Kind::Helo, Ptr::Own),
    (21, "mx.mailreject.test", Kind::MailReject, Ptr::Own),
    (22, "mx.dropmail.test", Kind::DropMail, Ptr::Own),
    (23, "mx.relay.test", Kind::Relay, Ptr::Own),
    (24, "mx.nopostmaster.test", Kind::NoPostmaster, Ptr::Own),
    (25, "mx.greylist.test", Kind::Greylist, Ptr::Own),
    (26, "mx.openrelay.test", Kind::OpenRelay, Ptr::Own),
    (27, "mx.blocked.test", Kind::Blocked, Ptr::Own),
    (28, "mx.listed.test", Kind::Healthy, Ptr::Own),
    (29, "mx.noptr.test", Kind::Healthy, Ptr::None),
    (30, "mx.badptr.test", Kind::Healthy, Ptr::Elsewhere),
    (32, "mx.banner.test", Kind::BannerUnresolvable, Ptr::Own),
    (33, "mx.mismatch.test", Kind::BannerMismatch, Ptr::Own),
    (34, "mx.bldown.test", Kind::Healthy, Ptr::Own),
    (36, "mx.greetwait.test", Kind::GreetWait, Ptr::Own),
    (37, "mx.busy.test", Kind::Busy, Ptr::Own),
    (38, "mx.tlsehlo.test", Kind::TlsEhlo, Ptr::Own),
    (39, "mx.tls10.test", Kind::Tls10, Ptr::Own),
    (40, "mx.senderverify.test", Kind::SenderVerify, Ptr::Own),
    (41, "mx.deferrelay.test", Kind::DeferRelay, Ptr::Own),
    (42, "mx.notserved.test", Kind::NotServed, Ptr::Own),
    (43, "mx.tempfail.test", Kind::Tempfail, Ptr::Own),
    (44, "mx.natblock.test", Kind::NatBlock, Ptr::Own),
    (45, "canary.mailcheck.test", Kind::Canary, Ptr::Own),
    (46, "mx.dane-ok.test", Kind::Healthy, Ptr::Own),
    (47, "mx.dane-bad.test", Kind::Healthy, Ptr::Own),
    (48, "mx.dane-plain.test", Kind::Healthy, Ptr::Own),
];

/// The domains delegated to the lab's two extra name servers ([`NS_ADDRS`]), and what the
/// second one does wrong.
const NS_DOMAINS: &[&str] = &["ns-split.test", "ns-lame.test"];

/// The last octets of the two extra name servers (`ns1.<d>`, `ns2.<d>` of [`NS_DOMAINS`]),
/// which listen on one port number ([`CheckerHints::ns_port`]).
const NS_ADDRS: [u8; 2] = [61, 62];

/// The address of `closed.test`'s MX, where nothing listens.
const CLOSED: u8 = 31;

/// The address of `filtered.test`'s MX, where connection attempts are dropped.
const FILTERED: u8 = 35;

/// The address of the HTTPS server that serves every lab domain's MTA-STS policy
/// (`mta-sts.<domain>`), on a port of its own ([`Lab::mta_sts_port`]).
const HTTPS: u8 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ptr {
    Own,
    None,
    Elsewhere,
}

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// The running lab. Dropping it stops every server.
#[derive(Debug)]
pub struct Lab {
    dns: DnsServer,
    /// The two extra name servers of [`NS_DOMAINS`] (the main server is the first of three).
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

/// A port where connects time out: a listener with a backlog of 0 that never accepts, its queue
/// filled by one connection of our own. Linux then drops every further SYN.
fn filtered(addr: SocketAddr) -> io::Result<(tokio::net::TcpListener, std::net::TcpStream)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(addr)?;
    let listener = socket.listen(0)?;
    let filler = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    Ok((listener, filler))
}

fn accept_own(addr: &str) -> String {
    if addr.ends_with(".test") && !addr.contains("relay-test") {
        "250 2.1.5 Ok".to_owned()
    } else {
        format!("554 5.7.1 <{addr}>: Relay access denied")
    }
}

/// The SMTP server of a lab host, and its certificate (DER; empty without TLS).
fn server(ca: &TestCa, name: &str, kind: Kind) -> (SmtpServerBuilder, Vec<u8>) {
    let mut names = vec![name];
    if kind == Kind::Healthy && name == "mx.healthy.test" {
        names.extend(["nomx.test", "alias.cname-mx.test"]);
    }
    let cert = match kind {
        Kind::SelfSigned => ca.self_signed(&names),
        Kind::Expired => ca.expired(&names),
        Kind::WrongName => ca.leaf(&["other.example.test"]),
        Kind::Expiring => ca.expiring_in(5, &names),
        _ => ca.leaf(&names),
    };
    let mut b = SmtpServer::builder().hostname(name).rcpt_reply(accept_own);
    let mut der = Vec::new();
    if kind != Kind::NoTls {
        b = b.tls(cert.server_config());
        der = cert.cert_der().to_vec();
    }
    let b = match kind {
        Kind::TlsFail => b.tls_handshake_fails(),
        Kind::Slow => b.greeting_delay(SLOW_GREETING),
        Kind::Silent => b.hostile(Hostile::Silence),
        Kind::Reject => b.greeting("554 5.3.2 mx.reject.test No SMTP service here"),
        Kind::Helo => b
            .helo_only()
            .reply(Command::Helo, "550 5.7.1 HELO refused by policy"),
        Kind::MailReject => b.reply(Command::Mail, "553 5.7.1 Command rejected by policy"),
        Kind::DropMail => b.drop_after(Command::Mail),
        Kind::Relay => b.rcpt_reply(|a| format!("554 5.7.1 <{a}>: Relay access denied")),
        Kind::NoPostmaster => b.rcpt_reply(|a| {
            format!(
                "550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table"
            )
        }),
        Kind::Greylist => b.rcpt_reply(|a| {
            format!("450 4.2.0 <{a}>: Recipient address rejected: Greylisted, come back later")
        }),
        Kind::OpenRelay => b.rcpt_reply(|_| "250 2.1.5 Ok".to_owned()),
        Kind::Blocked => b.rcpt_reply(|_| {
            "554 5.7.1 Service unavailable; Client host rejected: your IP is on our block list"
                .to_owned()
        }),
        Kind::BannerUnresolvable => b.greeting("220 gateway.corp.localdomain ESMTP"),
        Kind::BannerMismatch => b.greeting("220 mx.healthy.test ESMTP"),
        Kind::GreetWait => b.greeting_delay(GREET_WAIT),
        Kind::Busy => b.greeting("421 4.7.0 mx.busy.test Error: too many connections"),
        Kind::TlsEhlo => b.ehlo_in_tls_reply("554 5.5.1 Error: TLS session broken"),
        Kind::Tls10 => b.tls_legacy_only(),
        Kind::SenderVerify => b.echo_as(IpAddr::V4(LAB_PUBLIC_IP)).rcpt_reply_for_sender(|sender, rcpt| {
            if sender.is_empty() || sender.ends_with("@mailcheck.test") {
                accept_own(rcpt)
            } else {
                format!("550-Verification failed for <{sender}>\n550-Unrouteable address\n550 Sender verify failed")
            }
        }),
        Kind::DeferRelay => b.rcpt_reply(|a| format!("454 4.7.1 <{a}>: Relay access denied")),
        Kind::NotServed => b.rcpt_reply(|a| {
            format!("550 5.1.2 <{a}>: Recipient address rejected: Domain not found")
        }),
        Kind::Tempfail => b.rcpt_reply(|_| "452 4.3.1 Insufficient system storage".to_owned()),
        Kind::Canary => b.echo_as(IpAddr::V4(LAB_PUBLIC_IP)),
        Kind::NatBlock => b
            .echo_as(IpAddr::V4(LAB_PUBLIC_IP))
            .rcpt_reply(|_| format!("550 {LAB_PUBLIC_IP} is not welcome here")),
        Kind::Healthy
        | Kind::NoTls
        | Kind::SelfSigned
        | Kind::Expired
        | Kind::WrongName
        | Kind::Expiring => b,
    };
    (b, der)
}

/// The two extra name servers of [`NS_DOMAINS`], on one port number: the first answers like
/// the main server, the second hands `ns-split.test` another MX set and refuses
/// `ns-lame.test`.
async fn name_servers() -> io::Result<Vec<DnsServer>> {
    let mut last_err = None;
    for _ in 0..16 {
        let mut out: Vec<DnsServer> = Vec::new();
        let mut failed = None;
        for (i, last) in NS_ADDRS.iter().enumerate() {
            let port = out.first().map_or(0, |s| s.addr().port());
            let mut b = DnsServer::builder().bind(SocketAddr::new(IpAddr::V4(v4(*last)), port));
            b = ns_zones(b);
            for d in NS_DOMAINS {
                b = match (i, *d) {
                    (1, "ns-split.test") => b.mx(d, 10, "mx.notls.test"),
                    (1, _) => b.refused(d),
                    _ => b.mx(d, 10, "mx.healthy.test"),
                };
            }
            match b.try_build().await {
                Ok(s) => out.push(s),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            None => return Ok(out),
            Some(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no common port for the name servers")))
}

/// The zones of [`NS_DOMAINS`] with their NS records and the name servers' addresses.
fn ns_zones(mut b: DnsServerBuilder) -> DnsServerBuilder {
    for d in NS_DOMAINS {
        b = b.zone(d);
        for (n, last) in NS_ADDRS.iter().enumerate() {
            let ns = format!("ns{}.{d}", n + 1);
            b = b.ns(d, &ns).a(&ns, v4(*last));
        }
    }
    b
}

/// The sample domains served by `mx.healthy.test` whose authentication records (SPF, DMARC,
/// TLS-RPT, MTA-STS) show one fault each.
const AUTH_DOMAINS: &[&str] = &[
    "sts-ok.test",
    "sts-absent.test",
    "sts-mismatch.test",
    "sts-redirect.test",
    "sts-syntax.test",
    "nospf.test",
    "spf2.test",
    "spfbad.test",
    "spflookups.test",
    "spfall.test",
    "spfdown.test",
    "spfptr.test",
    "nodmarc.test",
    "dmarcbad.test",
    "dmarcnone.test",
    "dmarcrua.test",
    "tlsrptbad.test",
];

/// The number of `include:sN.spflookups.test` terms of `spflookups.test` (with its `mx`, one
/// DNS-querying term too many).
const SPF_INCLUDES: u8 = 10;

/// Every explicit MX record of the lab: (domain, preference, exchange).
fn mx_records(ipv6: bool) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    let mut mx = |d: &str, pref: u16, host: &str| out.push((d.to_owned(), pref, host.to_owned()));
    for (_, name, _, _) in SERVERS {
        // Domains named after their server: `mx.<d>` serves `<d>`.
        let domain = name.trim_start_matches("mx.");
        if !matches!(domain, "healthy.test") {
            mx(domain, 10, name);
        }
    }
    mx("greydead.test", 10, "mx.greylist.test");
    mx("greydead.test", 20, "mx.filtered.test");
    mx("wide.test", 10, "mx.healthy.test");
    for i in 2..=12 {
        mx("wide.test", 10 + i, &format!("mx{i}.wide.test"));
    }
    mx("healthy.test", 10, "mx.healthy.test");
    mx("nullmx.test", 0, ".");
    mx("nullmixed.test", 0, ".");
    mx("nullmixed.test", 10, "mx.healthy.test");
    mx("cname-mx.test", 10, "alias.cname-mx.test");
    mx("ip-literal.test", 10, "127.0.0.10");
    mx("dangling.test", 10, "gone.dangling.test");
    mx("closed.test", 10, "mx.closed.test");
    mx("filtered.test", 10, "mx.filtered.test");
    mx("multi.test", 10, "mx.closed.test");
    mx("multi.test", 20, "mx.healthy.test");
    for d in AUTH_DOMAINS {
        mx(d, 10, "mx.healthy.test");
    }
    mx("dnssec-bogus.test", 10, "mx.healthy.test");
    for d in NS_DOMAINS {
        mx(d, 10, "mx.healthy.test");
    }
    mx("sts-enforce-cert.test", 10, "mx.wrongname.test");
    mx("sendmismatch.test", 10, "mx.mismatch.test");
    if ipv6 {
        mx("v6only.test", 10, "mx.v6only.test");
    }
    out
}

/// The lab domains that publish an MTA-STS policy, and the policy each is served: every
/// domain with mail hosts gets a `testing` policy listing them (so the TLS scenarios keep
/// their severities), the MTA-STS scenarios their own.
fn mta_sts_policies(ipv6: bool) -> Vec<(String, HttpResponse)> {
    let records = mx_records(ipv6);
    let mut out = Vec::new();
    for s in SCENARIOS {
        let d = s.input;
        if !publishes_auth(d) || d == "sts-absent.test" {
            continue;
        }
        let hosts: Vec<&str> = records
            .iter()
            .filter(|(owner, _, host)| owner == d && host != ".")
            .map(|(_, _, host)| host.as_str())
            .collect();
        let hosts = if records.iter().any(|(owner, _, _)| owner == d) {
            hosts
        } else {
            vec![d] // implicit MX
        };
        if hosts.is_empty() {
            continue; // null MX only: no mail, no policy
        }
        let policy = |mode: &str, hosts: &[&str], max_age: u64| {
            let mut p = format!("version: STSv1\nmode: {mode}\n");
            for h in hosts {
                p.push_str(&format!("mx: {h}\n"));
            }
            p.push_str(&format!("max_age: {max_age}\n"));
            HttpResponse::text(&p)
        };
        let response = match d {
            "sts-ok.test" | "sts-enforce-cert.test" => policy("enforce", &hosts, 86_400),
            "sts-mismatch.test" => policy("enforce", &["mail.elsewhere.test"], 86_400),
            "sts-redirect.test" => {
                HttpResponse::redirect(301, "https://www.sts-redirect.test/mta-sts.txt")
            }
            "sts-syntax.test" => policy("testing", &hosts, 99_999_999),
            _ => policy("testing", &hosts, 86_400),
        };
        out.push((d.to_owned(), response));
    }
    out
}

/// Whether a sample domain publishes authentication records (every domain that exists,
/// except the one that has no records at all).
fn publishes_auth(d: &str) -> bool {
    d.ends_with(".test") && !matches!(d, "missing.test" | "servfail.test" | "nomail.test")
}

/// The main DNS server's records; it is DNSSEC-signed (every zone secure under a lab root),
/// `certs` the certificate (DER) of each lab server.
fn zones(ipv6: bool, certs: &[(String, Vec<u8>)]) -> DnsServerBuilder {
    let mut b = DnsServer::builder().dnssec().dnsbl_zone(LAB_DNSBL_ZONE);
    b = ns_zones(b);
    // DANE: `3 0 1` (DANE-EE, full certificate, SHA-256) matches, the same with another
    // digest does not, and `1 0 1` (PKIX-EE) is not for DANE senders.
    let digest = |host: &str| {
        let der = certs
            .iter()
            .find(|(n, _)| n == host)
            .map(|(_, d)| d.as_slice());
        ring::digest::digest(&ring::digest::SHA256, der.unwrap_or_default())
            .as_ref()
            .to_vec()
    };
    let tlsa = |usage: u8, data: Vec<u8>| {
        RData::TLSA(TLSA::new(
            CertUsage::from(usage),
            Selector::from(0),
            Matching::from(1),
            data,
        ))
    };
    b = b
        .record(
            "_25._tcp.mx.dane-ok.test",
            tlsa(3, digest("mx.dane-ok.test")),
        )
        .record("_25._tcp.mx.dane-bad.test", tlsa(3, vec![0xab; 32]))
        .record(
            "_25._tcp.mx.dane-plain.test",
            tlsa(1, digest("mx.dane-plain.test")),
        )
        .corrupt_signature("dnssec-bogus.test", RecordType::MX);
    for (last, name, _, ptr) in SERVERS {
        let ip = v4(*last);
        b = b.a(name, ip);
        b = match ptr {
            Ptr::Own => b.ptr(IpAddr::V4(ip), name),
            Ptr::None => b,
            Ptr::Elsewhere => b.ptr(IpAddr::V4(ip), "mail.elsewhere.test"),
        };
    }
    for (domain, pref, host) in mx_records(ipv6) {
        b = b.mx(&domain, pref, &host);
    }
    // Our own identity: the EHLO name resolves to the public address the echoing servers
    // report, whose PTR is that name (forward-confirmed).
    b = b
        .a(LAB_HELO_NAME, LAB_PUBLIC_IP)
        .ptr(IpAddr::V4(LAB_PUBLIC_IP), LAB_HELO_NAME);
    // Mail authentication, as a well-run domain publishes it: SPF (the domains send through
    // an outbound range of their own, not from their MX hosts), DMARC at `p=reject`, TLS-RPT,
    // and MTA-STS (its policies on the lab's HTTPS server); the authentication scenarios each
    // get one fault.
    b = b.txt("_spf.mailcheck.test", "v=spf1 ip4:192.0.2.0/24 -all");
    let good_spf = "v=spf1 include:_spf.mailcheck.test -all";
    for s in SCENARIOS {
        let d = s.input;
        if !publishes_auth(d) {
            continue;
        }
        b = match d {
            "nullmx.test" => b.txt(d, "v=spf1 -all"),
            "nospf.test" => b,
            "spf2.test" => b.txt(d, good_spf).txt(d, "v=spf1 ip4:192.0.2.0/24 -all"),
            "spfbad.test" => b.txt(d, "v=spf1 mx ip4:192.0.2.300 -all"),
            "spflookups.test" => {
                let mut terms = vec!["v=spf1 mx".to_owned()];
                for n in 1..=SPF_INCLUDES {
                    let include = format!("s{n}.spflookups.test");
                    b = b.txt(&include, &format!("v=spf1 ip4:192.0.2.{n} -all"));
                    terms.push(format!("include:{include}"));
                }
                terms.push("-all".to_owned());
                let record = terms.join(" ");
                let (head, tail) = record.split_at(record.len() / 2);
                b.txt_strings(d, &[head, tail])
            }
            "spfall.test" => b.txt(d, "v=spf1 mx ?all"),
            "spfdown.test" => b
                .txt(d, "v=spf1 include:_spf.spfdown.test -all")
                .servfail("_spf.spfdown.test"),
            "spfptr.test" => b.txt(d, "v=spf1 mx ptr -all"),
            "sendmismatch.test" => b.txt(d, "v=spf1 mx -all"),
            _ => b.txt(d, good_spf),
        };
        let dmarc = match d {
            "nodmarc.test" => None,
            "dmarcbad.test" => Some("v=DMARC1; p=rejct".to_owned()),
            "dmarcnone.test" => Some(format!("v=DMARC1; p=none; rua=mailto:dmarc@{d}")),
            "dmarcrua.test" => {
                Some("v=DMARC1; p=reject; rua=mailto:dmarc@reports.elsewhere.test".to_owned())
            }
            _ => Some(format!("v=DMARC1; p=reject; rua=mailto:dmarc@{d}")),
        };
        if let Some(dmarc) = dmarc {
            b = b.txt(&format!("_dmarc.{d}"), &dmarc);
        }
        let tls_rpt = if d == "tlsrptbad.test" {
            format!("v=TLSRPTv1; rua=tls@{d}")
        } else {
            format!("v=TLSRPTv1; rua=mailto:tls@{d}")
        };
        b = b.txt(&format!("_smtp._tls.{d}"), &tls_rpt);
    }
    for (d, _) in mta_sts_policies(ipv6) {
        b = b
            .txt(&format!("_mta-sts.{d}"), "v=STSv1; id=1")
            .a(&format!("mta-sts.{d}"), v4(HTTPS));
    }
    for i in 2..=12 {
        b = b.a(&format!("mx{i}.wide.test"), v4(10));
    }
    b = b
        .a("nomx.test", v4(10))
        .txt("nomail.test", "v=spf1 -all")
        .txt("_dmarc.nomail.test", "v=DMARC1; p=reject")
        .servfail("servfail.test")
        .cname("alias.cname-mx.test", "mx.healthy.test")
        .a("mx.closed.test", v4(CLOSED))
        .ptr(IpAddr::V4(v4(CLOSED)), "mx.closed.test")
        .a("mx.filtered.test", v4(FILTERED))
        .ptr(IpAddr::V4(v4(FILTERED)), "mx.filtered.test")
        .a("mail.elsewhere.test", v4(99))
        .dnsbl_listing(
            LAB_DNSBL_ZONE,
            IpAddr::V4(v4(28)),
            &[Ipv4Addr::new(127, 0, 0, 2)],
            Some("Listed in the lab blocklist: see http://bl.test/lookup"),
        )
        .fault(
            &dnsbl_query_name(IpAddr::V4(v4(34)), LAB_DNSBL_ZONE),
            Fault::ServFail,
        );
    if ipv6 {
        b = b
            .aaaa("mx.v6only.test", Ipv6Addr::LOCALHOST)
            .ptr(IpAddr::V6(Ipv6Addr::LOCALHOST), "mx.v6only.test");
    }
    sender::records(b)
}
