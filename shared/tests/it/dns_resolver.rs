//! The DNS layer against the in-process authoritative server: every outcome class told apart,
//! explicit servers on a non-53 port, record normalisation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::common::{resolver, resolver_with_timeout};
use mailcheck::config::{DnsConfig, ResolverChoice};
use mailcheck::facts::{DnsFailure, Lookup, MxRecord};
use mailcheck::probe::dns::{DnsSource, HickoryDns};
use mailcheck_testkit::dns::{DnsServer, RecordType};

fn failure<T: std::fmt::Debug>(lookup: &Lookup<T>) -> DnsFailure {
    match lookup {
        Lookup::Failed { failure, .. } => *failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_are_told_apart_from_nxdomain_and_nodata() {
    let server = DnsServer::builder()
        .a("host.test", Ipv4Addr::new(192, 0, 2, 1))
        .a("host.test", Ipv4Addr::new(192, 0, 2, 2))
        .aaaa("v6.test", "2001:db8::1".parse().unwrap())
        .build()
        .await;
    let dns = resolver(&server);
    assert_ne!(server.addr().port(), 53, "the lab listens on a random port");

    let a = dns.a("host.test").await;
    let mut ips = a.lookup.records().to_vec();
    ips.sort();
    assert_eq!(
        ips,
        vec![IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2])]
    );
    assert!(a.cname_chain.is_empty());
    // Trailing dot and case do not matter.
    assert_eq!(dns.a("HOST.test.").await.lookup.records().len(), 2);

    assert_eq!(dns.a("missing.test").await.lookup, Lookup::NxDomain);
    assert_eq!(dns.aaaa("host.test").await.lookup, Lookup::NoData);
    assert_eq!(dns.a("v6.test").await.lookup, Lookup::NoData);
    assert_eq!(
        dns.aaaa("v6.test").await.lookup,
        Lookup::Answer {
            records: vec![IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())]
        }
    );
}

#[tokio::test]
async fn servfail_and_refused_are_failures_not_negative_answers() {
    let server = DnsServer::builder()
        .a("ok.test", Ipv4Addr::new(192, 0, 2, 1))
        .a("broken.test", Ipv4Addr::new(192, 0, 2, 1))
        .servfail("broken.test")
        .refused("refused.test")
        .build()
        .await;
    let dns = resolver(&server);

    let servfail = dns.a("broken.test").await.lookup;
    assert_eq!(failure(&servfail), DnsFailure::ServFail, "{servfail:?}");
    assert!(!servfail.is_negative());
    let mx = dns.mx("broken.test").await;
    assert_eq!(failure(&mx), DnsFailure::ServFail);

    let refused = dns.mx("refused.test").await;
    assert_eq!(failure(&refused), DnsFailure::Refused, "{refused:?}");
    assert!(
        refused.describe().starts_with("REFUSED"),
        "{}",
        refused.describe()
    );

    // The server itself still answers other names.
    assert_eq!(dns.a("ok.test").await.lookup.records().len(), 1);
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    let server = DnsServer::builder().hang("slow.test").build().await;
    let dns = resolver_with_timeout(&server, Duration::from_millis(200));
    let lookup = dns.mx("slow.test").await;
    assert_eq!(failure(&lookup), DnsFailure::Timeout, "{lookup:?}");
    assert!(server.queries_for("slow.test") >= 1);
}

#[tokio::test]
async fn mx_records_are_normalised_and_sorted() {
    let server = DnsServer::builder()
        .mx("order.test", 20, "MX-B.Order.TEST")
        .mx("order.test", 5, "mx-d.order.test.")
        .mx("order.test", 10, "mx-a.order.test")
        .mx("order.test", 30, "mx-c.order.test")
        .mx("null.test", 0, ".")
        .build()
        .await;
    let dns = resolver(&server);

    let mx = dns.mx("order.test").await;
    let got: Vec<(u16, &str)> = mx
        .records()
        .iter()
        .map(|r| (r.preference, r.exchange.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (5, "mx-d.order.test"),
            (10, "mx-a.order.test"),
            (20, "mx-b.order.test"),
            (30, "mx-c.order.test"),
        ]
    );
    assert_eq!(
        dns.mx("null.test").await,
        Lookup::Answer {
            records: vec![MxRecord {
                preference: 0,
                exchange: ".".to_owned()
            }]
        }
    );
    assert_eq!(dns.mx("nowhere.test").await, Lookup::NxDomain);
}

#[tokio::test]
async fn cname_chains_txt_and_ptr() {
    let ip = IpAddr::from([192, 0, 2, 7]);
    let server = DnsServer::builder()
        .cname("alias.test", "middle.test")
        .cname("middle.test", "real.test")
        .a("real.test", Ipv4Addr::new(192, 0, 2, 7))
        .txt_strings("split.test", &["v=spf1 ", "-all"])
        .txt("two.test", "one")
        .txt("two.test", "two")
        .ptr(ip, "Mail.Real.TEST")
        .build()
        .await;
    let dns = resolver(&server);

    let a = dns.a("alias.test").await;
    assert_eq!(a.lookup.records(), &[ip]);
    assert_eq!(a.cname_chain, vec!["middle.test", "real.test"]);
    // The alias itself.
    assert_eq!(dns.cname("alias.test").await.records(), &["middle.test"]);
    assert_eq!(dns.cname("real.test").await, Lookup::NoData);

    assert_eq!(dns.txt("split.test").await.records(), &["v=spf1 -all"]);
    let mut two = dns.txt("two.test").await.records().to_vec();
    two.sort();
    assert_eq!(two, vec!["one", "two"]);

    assert_eq!(dns.ptr(ip).await.records(), &["mail.real.test"]);
    assert_eq!(
        dns.ptr(IpAddr::from([192, 0, 2, 8])).await,
        Lookup::NxDomain
    );
    assert!(server.queries_for_type("7.2.0.192.in-addr.arpa", RecordType::PTR) >= 1);
}

#[tokio::test]
async fn dnsbl_answers_are_return_codes() {
    let ip = IpAddr::from([192, 0, 2, 99]);
    let server = DnsServer::builder()
        .dnsbl_zone("bl.test")
        .dnsbl_listing(
            "bl.test",
            ip,
            &[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)],
            None,
        )
        .build()
        .await;
    let dns = resolver(&server);
    let mut codes = dns.dnsbl_a("99.2.0.192.bl.test.").await.records().to_vec();
    codes.sort();
    assert_eq!(
        codes,
        vec![Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)]
    );
    assert_eq!(dns.dnsbl_a("98.2.0.192.bl.test.").await, Lookup::NxDomain);
}

#[tokio::test]
async fn explicit_servers_are_described_and_validated() {
    let server = DnsServer::builder().build().await;
    let dns = resolver(&server);
    assert_eq!(dns.label(), server.addr().to_string());
    assert_eq!(
        DnsSource::label(&dns),
        server.addr().to_string(),
        "trait and inherent describe agree"
    );

    let err = HickoryDns::new(&DnsConfig {
        resolver: ResolverChoice::Servers(vec![]),
        ..DnsConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, mailcheck::Error::Config(_)), "{err}");

    // Invalid names are failures of the lookup, not panics.
    let bad = dns.a("a..b").await.lookup;
    assert_eq!(failure(&bad), DnsFailure::Other);
}

#[tokio::test]
async fn the_system_resolver_can_be_configured() {
    // Only builds it (reads /etc/resolv.conf); no query leaves the machine.
    if !std::path::Path::new("/etc/resolv.conf").exists() {
        return;
    }
    let dns = HickoryDns::new(&DnsConfig::default()).expect("system resolver");
    assert!(dns.label().starts_with("system"), "{}", dns.label());
}

#[tokio::test]
async fn identical_queries_are_asked_once_and_answers_cached_for_their_ttl() {
    let server = DnsServer::builder()
        .txt("_spf.shared.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .build()
        .await;
    let dns = resolver(&server);
    // Many domains include the same record at the same moment: one query reaches the server.
    let all = futures::future::join_all((0..50).map(|_| dns.txt("_spf.shared.test"))).await;
    assert!(all.iter().all(|l| l.records().len() == 1));
    assert_eq!(
        server.queries_for_type("_spf.shared.test", RecordType::TXT),
        1
    );
    // Asked again later, within the record's TTL: the resolver's cache answers.
    let again = dns.txt("_spf.shared.test").await;
    assert_eq!(again.records(), all[0].records());
    assert_eq!(
        server.queries_for_type("_spf.shared.test", RecordType::TXT),
        1
    );

    // Without a cache every later query asks the server; concurrent ones are still coalesced.
    let uncached = HickoryDns::new(&DnsConfig {
        cache_size: 0,
        ..crate::common::dns_config(server.addr(), crate::common::DNS_TIMEOUT)
    })
    .unwrap();
    server.reset_queries();
    futures::future::join_all((0..20).map(|_| uncached.txt("_spf.shared.test"))).await;
    uncached.txt("_spf.shared.test").await;
    assert_eq!(
        server.queries_for_type("_spf.shared.test", RecordType::TXT),
        2
    );
}
