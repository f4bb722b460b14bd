//! The lab's address map and its servers: which loopback address runs which mail server
//! (`SERVERS`), how each one misbehaves, the closed and filtered addresses, and the two extra
//! name servers.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::zones::ns_zones;
use super::{GREET_WAIT, LAB_PUBLIC_IP, SLOW_GREETING};
use crate::certs::TestCa;
use crate::dns::DnsServer;
use crate::smtp::{Command, Hostile, SmtpServer, SmtpServerBuilder};

/// How a lab mail server is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) const SERVERS: &[(u8, &str, Kind, Ptr)] = &[
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
pub(super) const NS_DOMAINS: &[&str] = &["ns-split.test", "ns-lame.test"];

/// The last octets of the two extra name servers (`ns1.<d>`, `ns2.<d>` of [`NS_DOMAINS`]),
/// which listen on one port number ([`CheckerHints::ns_port`]).
///
/// [`CheckerHints::ns_port`]: super::CheckerHints::ns_port
pub(super) const NS_ADDRS: [u8; 2] = [61, 62];

/// The address of `closed.test`'s MX, where nothing listens.
pub(super) const CLOSED: u8 = 31;

/// The address of `filtered.test`'s MX, where connection attempts are dropped.
pub(super) const FILTERED: u8 = 35;

/// The address of the HTTPS server that serves every lab domain's MTA-STS policy
/// (`mta-sts.<domain>`), on a port of its own ([`Lab::mta_sts_port`]).
///
/// [`Lab::mta_sts_port`]: super::Lab::mta_sts_port
pub(super) const HTTPS: u8 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ptr {
    Own,
    None,
    Elsewhere,
}

pub(super) fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A port where connects time out: a listener with a backlog of 0 that never accepts, its queue
/// filled by one connection of our own. Linux then drops every further SYN.
pub(super) fn filtered(
    addr: SocketAddr,
) -> io::Result<(tokio::net::TcpListener, std::net::TcpStream)> {
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
pub(super) fn server(ca: &TestCa, name: &str, kind: Kind) -> (SmtpServerBuilder, Vec<u8>) {
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
        Kind::SenderVerify => {
            b.echo_as(IpAddr::V4(LAB_PUBLIC_IP))
                .rcpt_reply_for_sender(|sender, rcpt| {
                    if sender.is_empty() || sender.ends_with("@mailcheck.test") {
                        accept_own(rcpt)
                    } else {
                        format!(
                            "550-Verification failed for <{sender}>\n550-Unrouteable address\n\
                             550 Sender verify failed"
                        )
                    }
                })
        }
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
pub(super) async fn name_servers() -> io::Result<Vec<DnsServer>> {
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
