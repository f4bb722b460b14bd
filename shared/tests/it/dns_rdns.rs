//! Reverse DNS and FCrDNS against the in-process authoritative server.

use std::net::{IpAddr, Ipv4Addr};

use crate::common::dns;
use mailcheck::facts::{DnsFailure, Lookup};
use mailcheck::probe::rdns::{ReverseDns, reverse};
use mailcheck_testkit::dns::{DnsServer, RecordType, reverse_name};

#[tokio::test]
async fn fcrdns_passes_when_the_ptr_name_resolves_back() {
    let ip = IpAddr::from([192, 0, 2, 10]);
    let server = DnsServer::builder()
        .ptr(ip, "mx1.example.test")
        .a("mx1.example.test", Ipv4Addr::new(192, 0, 2, 10))
        .build()
        .await;
    let facts = reverse(dns(&server).as_ref(), ip).await;
    assert_eq!(facts.names(), &["mx1.example.test"]);
    assert_eq!(facts.forward.len(), 1);
    assert_eq!(facts.forward[0].name, "mx1.example.test");
    assert_eq!(facts.forward[0].lookup.records(), &[ip]);
    assert_eq!(facts.confirms(ip), Some(true));
    // IPv4: only A is asked for the PTR name.
    assert_eq!(
        server.queries_for_type("mx1.example.test", RecordType::AAAA),
        0
    );
}

#[tokio::test]
async fn fcrdns_fails_when_the_name_points_elsewhere_or_nowhere() {
    let elsewhere = IpAddr::from([192, 0, 2, 11]);
    let nowhere = IpAddr::from([192, 0, 2, 12]);
    let server = DnsServer::builder()
        .ptr(elsewhere, "generic.example.test")
        .a("generic.example.test", Ipv4Addr::new(198, 51, 100, 1))
        .ptr(nowhere, "ghost.example.test")
        .build()
        .await;
    let dns = dns(&server);

    let facts = reverse(dns.as_ref(), elsewhere).await;
    assert_eq!(facts.confirms(elsewhere), Some(false));

    let facts = reverse(dns.as_ref(), nowhere).await;
    assert_eq!(facts.forward[0].lookup, Lookup::NxDomain);
    assert_eq!(facts.confirms(nowhere), Some(false));
}

#[tokio::test]
async fn missing_and_failed_ptr_are_told_apart() {
    let missing = IpAddr::from([192, 0, 2, 13]);
    let failing = IpAddr::from([192, 0, 2, 14]);
    let server = DnsServer::builder()
        .ptr(failing, "x.example.test")
        .servfail(&reverse_name(failing))
        .build()
        .await;
    let dns = dns(&server);

    let facts = reverse(dns.as_ref(), missing).await;
    assert_eq!(facts.lookup, Lookup::NxDomain);
    assert!(facts.forward.is_empty());
    assert_eq!(facts.confirms(missing), None);

    let facts = reverse(dns.as_ref(), failing).await;
    assert!(matches!(
        facts.lookup,
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            ..
        }
    ));
    assert_eq!(facts.confirms(failing), None);
}

#[tokio::test]
async fn ipv6_uses_ip6_arpa_and_aaaa() {
    let ip: IpAddr = "2001:db8:7ca6:22::45".parse().unwrap();
    let server = DnsServer::builder()
        .ptr(ip, "v6.example.test")
        .aaaa("v6.example.test", "2001:db8:7ca6:22::45".parse().unwrap())
        .a("v6.example.test", Ipv4Addr::new(192, 0, 2, 1))
        .build()
        .await;
    let facts = reverse(dns(&server).as_ref(), ip).await;
    assert_eq!(facts.names(), &["v6.example.test"]);
    assert_eq!(facts.forward[0].lookup.records(), &[ip]);
    assert_eq!(facts.confirms(ip), Some(true));
    assert_eq!(server.queries_for_type("v6.example.test", RecordType::A), 0);
    assert_eq!(
        server.queries_for_type(&reverse_name(ip), RecordType::PTR),
        1
    );
}

#[tokio::test]
async fn each_address_is_reversed_once_per_run() {
    let ip = IpAddr::from([192, 0, 2, 20]);
    let server = DnsServer::builder()
        .ptr(ip, "shared.example.test")
        .a("shared.example.test", Ipv4Addr::new(192, 0, 2, 20))
        .build()
        .await;
    let rdns = ReverseDns::new(dns(&server));
    let all = futures::future::join_all((0..25).map(|_| rdns.lookup(ip))).await;
    assert!(all.iter().all(|f| f.confirms(ip) == Some(true)));
    let again = rdns.lookup(ip).await;
    assert_eq!(again, all[0]);
    assert_eq!(
        server.queries_for_type(&reverse_name(ip), RecordType::PTR),
        1
    );
    assert_eq!(
        server.queries_for_type("shared.example.test", RecordType::A),
        1
    );
}
