//! The lab's DNS: the main server's zones (the sample domains' MX, A and PTR records, their
//! SPF, DMARC, TLS-RPT and MTA-STS records, DANE, the blocklist, DNSSEC faults) and the MTA-STS
//! policies served over HTTPS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_server::proto::rr::rdata::TLSA;
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};

use super::servers::{CLOSED, FILTERED, HTTPS, NS_ADDRS, NS_DOMAINS, Ptr, SERVERS, v4};
use super::{LAB_DNSBL_ZONE, LAB_HELO_NAME, LAB_PUBLIC_IP, SCENARIOS, sender};
use crate::dns::{DnsServer, DnsServerBuilder, Fault, RData, RecordType, dnsbl_query_name};
use crate::https::HttpResponse;

/// The zones of [`NS_DOMAINS`] with their NS records and the name servers' addresses.
pub(super) fn ns_zones(mut b: DnsServerBuilder) -> DnsServerBuilder {
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
pub(super) fn mta_sts_policies(ipv6: bool) -> Vec<(String, HttpResponse)> {
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
pub(super) fn zones(ipv6: bool, certs: &[(String, Vec<u8>)]) -> DnsServerBuilder {
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
