//! The lab's sending side: sending addresses with the DNS receivers look at — PTR records,
//! HELO names, sender domains with SPF and DMARC, blocklist listings — each case showing one
//! typical fault of an outbound gateway, with the verdict and codes the sender check must give.
//!
//! Nothing connects to these addresses (the sender check only asks the DNS), so they are
//! documentation addresses (203.0.113.0/24, 2001:db8::/32): the checker must allow private
//! and reserved addresses, as the lab's settings do. The listings are on the lab's blocklist
//! [`LAB_DNSBL_ZONE`] and on [`LAB_POLICY_ZONE`], the lab's own copy of `zen.spamhaus.org`
//! (served on loopback by the lab DNS, never the real one), so that a code mailcheck knows by
//! name — 127.0.0.10, Spamhaus PBL — shows.

use std::net::{IpAddr, Ipv4Addr};

use super::LAB_DNSBL_ZONE;
use crate::dns::DnsServerBuilder;

/// The lab's copy of Spamhaus ZEN, with its RFC 5782 test points and one PBL listing.
pub const LAB_POLICY_ZONE: &str = "zen.spamhaus.org";

/// The blocklist zones the sender cases are checked against.
pub const SENDER_DNSBL_ZONES: &[&str] = &[LAB_DNSBL_ZONE, LAB_POLICY_ZONE];

/// One sending gateway of the lab and what the sender check must say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderScenario {
    /// A short name for the case.
    pub name: &'static str,
    /// The sending address.
    pub ip: &'static str,
    /// The HELO name it uses.
    pub helo: Option<&'static str>,
    /// Its envelope sender domain.
    pub domain: Option<&'static str>,
    /// The expected verdict.
    pub verdict: &'static str,
    /// The exact set of expected finding codes.
    pub codes: &'static [&'static str],
    /// What the case shows.
    pub about: &'static str,
}

/// The well-configured gateway most cases start from.
const GOOD_IP: &str = "203.0.113.10";
const GOOD_NAME: &str = "mail.goodsender.test";
const GOOD_DOMAIN: &str = "goodsender.test";

/// Every sender case of the lab.
pub const SENDER_SCENARIOS: &[SenderScenario] = &[
    SenderScenario {
        name: "good",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some(GOOD_DOMAIN),
        verdict: "ok",
        codes: &[],
        about: "PTR = HELO name = A record, not listed, SPF pass, DMARC p=reject",
    },
    SenderScenario {
        name: "good-v6",
        ip: "2001:db8:25::10",
        helo: Some("mail6.goodsender.test"),
        domain: Some(GOOD_DOMAIN),
        verdict: "ok",
        codes: &[],
        about: "the same over IPv6: ip6.arpa PTR, AAAA, SPF ip6",
    },
    SenderScenario {
        name: "no-ptr",
        ip: "203.0.113.11",
        helo: Some("mail.noptr-sender.test"),
        domain: Some("noptr-sender.test"),
        verdict: "broken",
        codes: &["sender.no_ptr"],
        about: "no PTR record: Gmail answers 550 5.7.25",
    },
    SenderScenario {
        name: "ptr-mismatch",
        ip: "203.0.113.12",
        helo: Some("mail.badptr-sender.test"),
        domain: None,
        verdict: "degraded",
        codes: &["sender.ptr_mismatch"],
        about: "the PTR name resolves to another address (FCrDNS fails)",
    },
    SenderScenario {
        name: "ptr-down",
        ip: "203.0.113.13",
        helo: None,
        domain: None,
        verdict: "inconclusive",
        codes: &["dns.lookup_failed"],
        about: "the reverse zone answers SERVFAIL: not \"missing\", inconclusive",
    },
    SenderScenario {
        name: "generic-ptr",
        ip: "203.0.113.45",
        helo: Some("203-0-113-45.dyn.isp.test"),
        domain: Some("office-dsl.test"),
        verdict: "degraded",
        codes: &["sender.ptr_generic"],
        about: "an office DSL line: PTR 203-0-113-45.dyn.isp.test (a dynamic range's name)",
    },
    SenderScenario {
        name: "helo-mismatch",
        ip: GOOD_IP,
        helo: Some("mail.otherhost.test"),
        domain: Some(GOOD_DOMAIN),
        verdict: "degraded",
        codes: &["sender.helo_mismatch"],
        about: "HELO names another host (its A record is 203.0.113.99, not the PTR name)",
    },
    SenderScenario {
        name: "helo-local",
        ip: GOOD_IP,
        helo: Some("exchange.corp.local"),
        domain: Some(GOOD_DOMAIN),
        verdict: "degraded",
        codes: &["sender.helo_unresolvable"],
        about: "HELO is an internal Windows-domain name (.local)",
    },
    SenderScenario {
        name: "listed",
        ip: "203.0.113.30",
        helo: Some("mail.spammy.test"),
        domain: None,
        verdict: "broken",
        codes: &["sender.listed"],
        about: "on the lab blocklist with 127.0.0.2 (an abuse listing)",
    },
    SenderScenario {
        name: "pbl",
        ip: "203.0.113.66",
        helo: Some("gw.smallfirm.test"),
        domain: Some("smallfirm.test"),
        verdict: "broken",
        codes: &["sender.listed"],
        about: "an office line sending direct to MX, on the lab's zen.spamhaus.org with \
                127.0.0.10 (PBL)",
    },
    SenderScenario {
        name: "spf-fail",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some("spf-fail.test"),
        verdict: "broken",
        codes: &["sender.spf_fail"],
        about: "SPF -all without this address: fail",
    },
    SenderScenario {
        name: "spf-softfail",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some("spf-soft.test"),
        verdict: "degraded",
        codes: &["sender.spf_softfail"],
        about: "SPF ~all without this address: softfail",
    },
    SenderScenario {
        name: "spf-neutral",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some("spf-neutral.test"),
        verdict: "degraded",
        codes: &["sender.spf_neutral", "spf.permissive"],
        about: "SPF ?all: neutral, the address is not authorized (and the record is permissive)",
    },
    SenderScenario {
        name: "spf-error",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some("spf-error.test"),
        verdict: "broken",
        codes: &["sender.spf_error", "spf.invalid"],
        about: "the SPF record does not parse (ip4:198.51.100.300): permerror",
    },
    SenderScenario {
        name: "spf-include",
        ip: GOOD_IP,
        helo: Some(GOOD_NAME),
        domain: Some("via-include.test"),
        verdict: "ok",
        codes: &[],
        about: "SPF passes through include:_spf.goodsender.test",
    },
];

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("a lab address")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("a lab address")
}

/// `v=DMARC1; p=reject` with reports to the domain itself.
fn dmarc(b: DnsServerBuilder, domain: &str) -> DnsServerBuilder {
    b.txt(
        &format!("_dmarc.{domain}"),
        &format!("v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"),
    )
}

/// The sender cases' records.
pub(super) fn records(mut b: DnsServerBuilder) -> DnsServerBuilder {
    // The good gateway: PTR = A = HELO name, over IPv4 and IPv6.
    let v6 = ip("2001:db8:25::10");
    b = b
        .ptr(ip(GOOD_IP), GOOD_NAME)
        .a(GOOD_NAME, v4(GOOD_IP))
        .ptr(v6, "mail6.goodsender.test")
        .ip("mail6.goodsender.test", v6)
        .mx(GOOD_DOMAIN, 10, GOOD_NAME)
        .txt(
            GOOD_DOMAIN,
            &format!("v=spf1 ip4:{GOOD_IP} ip6:2001:db8:25::10 -all"),
        )
        .txt(
            "_spf.goodsender.test",
            &format!("v=spf1 ip4:{GOOD_IP} ip6:2001:db8:25::10 -all"),
        );
    b = dmarc(b, GOOD_DOMAIN);
    // No PTR at all (the HELO name and SPF are fine).
    b = b
        .a("mail.noptr-sender.test", v4("203.0.113.11"))
        .txt("noptr-sender.test", "v=spf1 ip4:203.0.113.11 -all");
    b = dmarc(b, "noptr-sender.test");
    // A PTR name that resolves elsewhere.
    b = b
        .ptr(ip("203.0.113.12"), "mail.badptr-sender.test")
        .a("mail.badptr-sender.test", v4("203.0.113.99"));
    // The reverse zone of .13 is broken.
    b = b.servfail("13.113.0.203.in-addr.arpa");
    // An office DSL line: a generic PTR that resolves back.
    let dsl = "203-0-113-45.dyn.isp.test";
    b = b
        .ptr(ip("203.0.113.45"), dsl)
        .a(dsl, v4("203.0.113.45"))
        .txt("office-dsl.test", "v=spf1 ip4:203.0.113.45 -all");
    b = dmarc(b, "office-dsl.test");
    // Another host's name.
    b = b.a("mail.otherhost.test", v4("203.0.113.99"));
    // Listed on the lab blocklist (abuse), and on the lab's zen.spamhaus.org (PBL).
    b = b
        .ptr(ip("203.0.113.30"), "mail.spammy.test")
        .a("mail.spammy.test", v4("203.0.113.30"))
        .dnsbl_listing(
            LAB_DNSBL_ZONE,
            ip("203.0.113.30"),
            &[Ipv4Addr::new(127, 0, 0, 2)],
            Some("Listed in the lab blocklist: see http://bl.test/lookup?ip=203.0.113.30"),
        )
        .dnsbl_zone(LAB_POLICY_ZONE)
        .ptr(ip("203.0.113.66"), "gw.smallfirm.test")
        .a("gw.smallfirm.test", v4("203.0.113.66"))
        .txt("smallfirm.test", "v=spf1 ip4:203.0.113.66 -all")
        .dnsbl_listing(
            LAB_POLICY_ZONE,
            ip("203.0.113.66"),
            &[Ipv4Addr::new(127, 0, 0, 10)],
            Some(
                "Lab copy of zen.spamhaus.org (PBL, ISP maintained): \
                 https://check.spamhaus.org/query/ip/203.0.113.66",
            ),
        );
    b = dmarc(b, "smallfirm.test");
    // Sender domains whose SPF does not authorize the good gateway, one result each.
    for (domain, record) in [
        ("spf-fail.test", "v=spf1 ip4:198.51.100.0/24 -all"),
        ("spf-soft.test", "v=spf1 ip4:198.51.100.0/24 ~all"),
        ("spf-neutral.test", "v=spf1 ip4:198.51.100.0/24 ?all"),
        ("spf-error.test", "v=spf1 ip4:198.51.100.300 -all"),
        (
            "via-include.test",
            "v=spf1 include:_spf.goodsender.test -all",
        ),
    ] {
        b = dmarc(b.txt(domain, record), domain);
    }
    b
}

/// The sender cases as a CSV (`client,ip,helo,domain` with a header), for the demo's batch.
pub fn senders_csv() -> String {
    let mut out = String::from("client,ip,helo,domain\n");
    for (i, s) in SENDER_SCENARIOS.iter().enumerate() {
        out.push_str(&format!(
            "Gateway {:02} ({}),{},{},{}\n",
            i + 1,
            s.name,
            s.ip,
            s.helo.unwrap_or_default(),
            s.domain.unwrap_or_default()
        ));
    }
    out
}
