//! A ready-made lab: one DNS server and a set of SMTP servers on loopback, each sample domain
//! showing one typical fault, with the verdict and finding codes mailcheck must report for it.
//! Used by the offline demo (`mailcheck-audit --demo`), the bot's preview and end-to-end tests.
//!
//! All SMTP servers listen on the same port number on different loopback addresses
//! (`127.0.0.10`, `127.0.0.11`, …, and `[::1]` when IPv6 loopback exists), so a checker is
//! pointed at the lab with: resolver = [`Lab::resolver`], SMTP port = [`Lab::smtp_port`], trusted
//! CA = [`Lab::ca_pem`], blocklist zone [`LAB_DNSBL_ZONE`], private addresses allowed, and the
//! open-relay test on (see [`Lab::checker_hints`]).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::certs::TestCa;
use crate::dns::{DnsServer, DnsServerBuilder, Fault, dnsbl_query_name};
use crate::smtp::{Command, Hostile, SmtpServer, SmtpServerBuilder};

/// The blocklist zone the lab serves.
pub const LAB_DNSBL_ZONE: &str = "bl.test";

/// How long the slow server waits before its greeting.
pub const SLOW_GREETING: Duration = Duration::from_secs(6);

/// What the checker must be told to use the lab (the demo's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerHints {
    /// The DNS server to use.
    pub resolver: SocketAddr,
    /// The SMTP port every lab server listens on.
    pub smtp_port: u16,
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
        verdict: "broken",
        codes: &["mx.null_mixed"],
        about: "null MX published next to a real MX",
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
        about: "greeting only after 6 s (greet-pause)",
    },
    Scenario {
        input: "reject.test",
        verdict: "broken",
        codes: &["smtp.greeting_rejected"],
        about: "554 instead of a 220 greeting",
    },
    Scenario {
        input: "banner.test",
        verdict: "degraded",
        codes: &["smtp.banner_unresolvable"],
        about: "the greeting names an unresolvable host",
    },
    Scenario {
        input: "mismatch.test",
        verdict: "degraded",
        codes: &["smtp.banner_mismatch"],
        about: "the greeting name is another server's",
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
        about: "MAIL FROM refused",
    },
    Scenario {
        input: "dropmail.test",
        verdict: "broken",
        codes: &["smtp.disconnect_after_mail"],
        about: "connection dropped after MAIL FROM",
    },
    Scenario {
        input: "relay.test",
        verdict: "broken",
        codes: &["smtp.relay_denied"],
        about: "the MX does not accept mail for the domain",
    },
    Scenario {
        input: "nopostmaster.test",
        verdict: "broken",
        codes: &["smtp.rcpt_rejected"],
        about: "postmaster does not exist",
    },
    Scenario {
        input: "greylist.test",
        verdict: "degraded",
        codes: &["smtp.tempfail"],
        about: "greylisting (450)",
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
        input: "listed.test",
        verdict: "degraded",
        codes: &["dnsbl.listed"],
        about: "the MX address is on a blocklist",
    },
    Scenario {
        input: "bldown.test",
        verdict: "inconclusive",
        codes: &["dnsbl.unavailable"],
        about: "the blocklist fails for this address",
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
        verdict: "ok",
        codes: &[],
        about: "IPv6-only MX",
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
];

/// The address of `closed.test`'s MX, where nothing listens.
const CLOSED: u8 = 31;

/// The address of `filtered.test`'s MX, where connection attempts are dropped.
const FILTERED: u8 = 35;

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
    /// A listener that never accepts, with its one-slot queue filled, so further SYNs are
    /// dropped and connects time out (what a firewall's DROP looks like), and the connection
    /// that fills it.
    _filtered: (tokio::net::TcpListener, std::net::TcpStream),
    servers: Vec<(String, SmtpServer)>,
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
        for (last, name, kind, _) in SERVERS {
            let addr = SocketAddr::new(IpAddr::V4(v4(*last)), port);
            let server = server(&ca, name, *kind).bind(addr).try_build().await?;
            port = server.addr().port();
            servers.push(((*name).to_owned(), server));
        }
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        let ipv6 = match server(&ca, "mx.v6only.test", Kind::Healthy)
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
        let dns = zones(ipv6).try_build().await?;
        Ok(Self {
            dns,
            _filtered: filtered,
            servers,
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

    /// The SMTP port of every lab server.
    pub const fn smtp_port(&self) -> u16 {
        self.smtp_port
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
            ca_pem: self.ca_pem(),
            dnsbl_zones: vec![LAB_DNSBL_ZONE.to_owned()],
            greeting_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            helo_name: "probe.mailcheck.test".to_owned(),
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

fn server(ca: &TestCa, name: &str, kind: Kind) -> SmtpServerBuilder {
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
    if kind != Kind::NoTls {
        b = b.tls(cert.server_config());
    }
    match kind {
        Kind::TlsFail => b.tls_handshake_fails(),
        Kind::Slow => b.greeting_delay(SLOW_GREETING),
        Kind::Silent => b.hostile(Hostile::Silence),
        Kind::Reject => b.greeting("554 5.3.2 mx.reject.test No SMTP service here"),
        Kind::Helo => b
            .helo_only()
            .reply(Command::Helo, "550 5.7.1 HELO refused by policy"),
        Kind::MailReject => b.reply(
            Command::Mail,
            "553 5.7.1 Sender address rejected: not accepted here",
        ),
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
        Kind::BannerUnresolvable => b.greeting("220 gateway.internal.test ESMTP"),
        Kind::BannerMismatch => b.greeting("220 mx.healthy.test ESMTP"),
        Kind::Healthy
        | Kind::NoTls
        | Kind::SelfSigned
        | Kind::Expired
        | Kind::WrongName
        | Kind::Expiring => b,
    }
}

fn zones(ipv6: bool) -> DnsServerBuilder {
    let mut b = DnsServer::builder().dnsbl_zone(LAB_DNSBL_ZONE);
    for (last, name, _, ptr) in SERVERS {
        let ip = v4(*last);
        b = b.a(name, ip);
        b = match ptr {
            Ptr::Own => b.ptr(IpAddr::V4(ip), name),
            Ptr::None => b,
            Ptr::Elsewhere => b.ptr(IpAddr::V4(ip), "mail.elsewhere.test"),
        };
        // Domains named after their server: `mx.<d>` serves `<d>`.
        let domain = name.trim_start_matches("mx.");
        if !matches!(domain, "healthy.test") {
            b = b.mx(domain, 10, name);
        }
    }
    b = b
        .mx("healthy.test", 10, "mx.healthy.test")
        .a("nomx.test", v4(10))
        .mx("nullmx.test", 0, ".")
        .mx("nullmixed.test", 0, ".")
        .mx("nullmixed.test", 10, "mx.healthy.test")
        .txt("nomail.test", "v=spf1 -all")
        .servfail("servfail.test")
        .mx("cname-mx.test", 10, "alias.cname-mx.test")
        .cname("alias.cname-mx.test", "mx.healthy.test")
        .mx("ip-literal.test", 10, "127.0.0.10")
        .mx("dangling.test", 10, "gone.dangling.test")
        .mx("closed.test", 10, "mx.closed.test")
        .a("mx.closed.test", v4(CLOSED))
        .ptr(IpAddr::V4(v4(CLOSED)), "mx.closed.test")
        .mx("filtered.test", 10, "mx.filtered.test")
        .a("mx.filtered.test", v4(FILTERED))
        .ptr(IpAddr::V4(v4(FILTERED)), "mx.filtered.test")
        .mx("multi.test", 10, "mx.closed.test")
        .mx("multi.test", 20, "mx.healthy.test")
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
            .mx("v6only.test", 10, "mx.v6only.test")
            .aaaa("mx.v6only.test", Ipv6Addr::LOCALHOST)
            .ptr(IpAddr::V6(Ipv6Addr::LOCALHOST), "mx.v6only.test");
    }
    b
}
