//! MX collection (RFC 5321 §5.1, RFC 7505) against the in-process authoritative server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::common::{dns, dns_with_timeout};
use mailcheck::DomainName;
use mailcheck::facts::{AddressScope, DnsFailure, Facts, HostFacts, Lookup, ProbeScope};
use mailcheck::probe::mx::{MailHosts, MxCollector, collect_mail_hosts};
use mailcheck_testkit::dns::{DnsServer, RecordType};

fn domain(s: &str) -> DomainName {
    DomainName::parse(s).expect("domain")
}

async fn collect(server: &DnsServer, name: &str) -> MailHosts {
    MxCollector::new(dns(server)).collect(&domain(name)).await
}

fn ips(host: &HostFacts) -> Vec<IpAddr> {
    host.addresses.iter().map(|a| a.ip).collect()
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

#[tokio::test]
async fn hosts_by_preference_with_all_their_addresses() {
    let server = DnsServer::builder()
        .mx("example.test", 20, "backup.example.test")
        .mx("example.test", 10, "mx1.example.test")
        .a("mx1.example.test", Ipv4Addr::new(192, 0, 2, 10))
        .a("mx1.example.test", Ipv4Addr::new(192, 0, 2, 11))
        .aaaa("mx1.example.test", "2001:db8::10".parse().unwrap())
        // IPv6-only host.
        .aaaa("backup.example.test", "2001:db8::20".parse().unwrap())
        .build()
        .await;
    let got = collect(&server, "Example.TEST.").await;

    assert_eq!(got.mx.records().len(), 2);
    assert!(got.implicit.is_none(), "an MX exists: no implicit MX");
    let names: Vec<(&str, u16)> = got
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.preference))
        .collect();
    assert_eq!(
        names,
        vec![("mx1.example.test", 10), ("backup.example.test", 20)]
    );

    let mx1 = &got.hosts[0];
    assert!(!mx1.implicit && !mx1.ip_literal && mx1.cname_chain.is_empty());
    let mut a: Vec<IpAddr> = ips(mx1)[..2].to_vec();
    a.sort();
    assert_eq!(a, vec![v4("192.0.2.10"), v4("192.0.2.11")], "A first");
    assert_eq!(ips(mx1)[2], v6("2001:db8::10"));
    assert_eq!(mx1.addresses[0].scope, AddressScope::Reserved);
    assert!(
        mx1.addresses
            .iter()
            .all(|a| a.ptr.is_none() && a.dnsbl.is_empty())
    );

    let backup = &got.hosts[1];
    assert_eq!(backup.lookups.a, Lookup::NoData);
    assert_eq!(ips(backup), vec![v6("2001:db8::20")]);
}

#[tokio::test]
async fn null_mx_alone_names_no_host() {
    let server = DnsServer::builder()
        .mx("nomail.test", 0, ".")
        .a("nomail.test", Ipv4Addr::new(192, 0, 2, 1))
        .build()
        .await;
    let got = collect(&server, "nomail.test").await;
    assert_eq!(got.mx.records().len(), 1);
    assert_eq!(got.mx.records()[0].exchange, ".");
    assert!(got.hosts.is_empty());
    assert!(got.implicit.is_none(), "a null MX is an MX: no fallback");
    assert_eq!(server.queries_for_type("nomail.test", RecordType::A), 0);
}

#[tokio::test]
async fn null_mx_mixed_with_others_keeps_the_other_hosts() {
    let server = DnsServer::builder()
        .mx("mixed.test", 0, ".")
        .mx("mixed.test", 10, "mx.mixed.test")
        .a("mx.mixed.test", Ipv4Addr::new(192, 0, 2, 5))
        .build()
        .await;
    let got = collect(&server, "mixed.test").await;
    assert_eq!(got.mx.records().len(), 2);
    assert_eq!(got.hosts.len(), 1);
    assert_eq!(got.hosts[0].host, "mx.mixed.test");
    assert_eq!(ips(&got.hosts[0]), vec![v4("192.0.2.5")]);
}

#[tokio::test]
async fn implicit_mx_only_on_nodata() {
    let server = DnsServer::builder()
        .a("implicit.test", Ipv4Addr::new(192, 0, 2, 30))
        .aaaa("implicit.test", "2001:db8::30".parse().unwrap())
        .txt("nothing.test", "v=spf1 -all")
        .build()
        .await;

    let got = collect(&server, "implicit.test").await;
    assert_eq!(got.mx, Lookup::NoData);
    let implicit = got.implicit.expect("implicit lookups");
    assert_eq!(implicit.ips(), vec![v4("192.0.2.30"), v6("2001:db8::30")]);
    assert_eq!(got.hosts.len(), 1);
    let host = &got.hosts[0];
    assert!(host.implicit);
    assert_eq!((host.host.as_str(), host.preference), ("implicit.test", 0));
    assert_eq!(ips(host), vec![v4("192.0.2.30"), v6("2001:db8::30")]);

    // The name exists but has neither MX nor addresses: nowhere to deliver.
    let got = collect(&server, "nothing.test").await;
    assert_eq!(got.mx, Lookup::NoData);
    let implicit = got.implicit.expect("implicit lookups");
    assert!(implicit.both_negative());
    assert!(got.hosts.is_empty());
}

#[tokio::test]
async fn no_fallback_on_nxdomain_or_failure() {
    let server = DnsServer::builder()
        .a("broken.test", Ipv4Addr::new(192, 0, 2, 1))
        .servfail("broken.test")
        .hang("slow.test")
        .build()
        .await;
    let got = collect(&server, "gone.test").await;
    assert_eq!(got.mx, Lookup::NxDomain);
    assert!(got.implicit.is_none() && got.hosts.is_empty());
    assert_eq!(server.queries_for_type("gone.test", RecordType::A), 0);

    let got = collect(&server, "broken.test").await;
    assert!(matches!(
        got.mx,
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            ..
        }
    ));
    assert!(got.implicit.is_none() && got.hosts.is_empty());
    assert_eq!(server.queries_for_type("broken.test", RecordType::A), 0);

    let quick = dns_with_timeout(&server, Duration::from_millis(200));
    let got = MxCollector::new(quick).collect(&domain("slow.test")).await;
    assert!(matches!(
        got.mx,
        Lookup::Failed {
            failure: DnsFailure::Timeout,
            ..
        }
    ));
    assert!(got.implicit.is_none() && got.hosts.is_empty());
}

#[tokio::test]
async fn cname_targets_record_the_chain() {
    let server = DnsServer::builder()
        .mx("alias.test", 10, "mail.alias.test")
        .mx("alias.test", 20, "dangling.alias.test")
        .cname("mail.alias.test", "real.alias.test")
        .a("real.alias.test", Ipv4Addr::new(192, 0, 2, 40))
        .cname("dangling.alias.test", "void.alias.test")
        .build()
        .await;
    let got = collect(&server, "alias.test").await;
    let mail = &got.hosts[0];
    assert_eq!(mail.host, "mail.alias.test");
    assert_eq!(mail.cname_chain, vec!["real.alias.test"]);
    assert_eq!(ips(mail), vec![v4("192.0.2.40")]);

    // An alias to a name without addresses: unresolvable, and still known as an alias.
    let dangling = &got.hosts[1];
    assert!(dangling.addresses.is_empty());
    // hickory reports the target's NXDOMAIN and drops the alias from a negative answer; the
    // chain comes from a CNAME query made only in that case.
    assert!(dangling.lookups.both_negative(), "{:?}", dangling.lookups);
    assert_eq!(
        server.queries_for_type("dangling.alias.test", RecordType::CNAME),
        1
    );
    assert_eq!(
        server.queries_for_type("mail.alias.test", RecordType::CNAME),
        0
    );
    assert_eq!(dangling.cname_chain, vec!["void.alias.test"]);
}

#[tokio::test]
async fn ip_literal_targets_are_not_resolved() {
    let server = DnsServer::builder()
        .mx("literal.test", 10, "192.0.2.50")
        .build()
        .await;
    let got = collect(&server, "literal.test").await;
    assert_eq!(got.hosts.len(), 1);
    let host = &got.hosts[0];
    assert_eq!(host.host, "192.0.2.50");
    assert!(host.ip_literal);
    assert!(host.addresses.is_empty());
    assert!(got.implicit.is_none());
    assert_eq!(
        server.queries_for("192.0.2.50"),
        0,
        "not looked up as a name"
    );
}

#[tokio::test]
async fn hosts_without_address_or_with_failed_lookups() {
    let server = DnsServer::builder()
        .mx("partial.test", 10, "ghost.partial.test")
        .mx("partial.test", 20, "flaky.partial.test")
        .mx("partial.test", 30, "txtonly.partial.test")
        .a("flaky.partial.test", Ipv4Addr::new(192, 0, 2, 60))
        .servfail("flaky.partial.test")
        .txt("txtonly.partial.test", "hello")
        .build()
        .await;
    let got = collect(&server, "partial.test").await;
    assert_eq!(got.hosts.len(), 3);

    let ghost = &got.hosts[0];
    assert_eq!(ghost.lookups.a, Lookup::NxDomain);
    assert!(ghost.lookups.nxdomain() && ghost.addresses.is_empty());

    let flaky = &got.hosts[1];
    assert!(flaky.lookups.any_failed() && flaky.addresses.is_empty());
    assert!(matches!(
        flaky.lookups.a,
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            ..
        }
    ));

    let txtonly = &got.hosts[2];
    assert_eq!(txtonly.lookups.a, Lookup::NoData);
    assert_eq!(txtonly.lookups.aaaa, Lookup::NoData);
}

#[tokio::test]
async fn a_shared_mx_host_is_resolved_once_per_run() {
    let mut builder = DnsServer::builder()
        .a("mx.shared.test", Ipv4Addr::new(192, 0, 2, 70))
        .aaaa("mx.shared.test", "2001:db8::70".parse().unwrap());
    let domains: Vec<String> = (0..40).map(|i| format!("customer{i}.test")).collect();
    for d in &domains {
        builder = builder.mx(d, 10, "mx.shared.test");
    }
    let server = builder.build().await;
    let collector = MxCollector::new(dns(&server));

    let all = futures::future::join_all(domains.iter().map(|d| {
        let collector = &collector;
        async move { collector.collect(&domain(d)).await }
    }))
    .await;
    for got in &all {
        assert_eq!(
            ips(&got.hosts[0]),
            vec![v4("192.0.2.70"), v6("2001:db8::70")]
        );
    }
    assert_eq!(server.queries_for_type("mx.shared.test", RecordType::A), 1);
    assert_eq!(
        server.queries_for_type("mx.shared.test", RecordType::AAAA),
        1
    );
    assert_eq!(server.queries_for_type("customer7.test", RecordType::MX), 1);

    // Later domains reuse the stored answer too.
    let again = collector.host_addresses("MX.shared.test.").await;
    assert_eq!(again.ips().len(), 2);
    assert_eq!(server.queries_for_type("mx.shared.test", RecordType::A), 1);
}

#[tokio::test]
async fn facts_are_filled_in_place() {
    let server = DnsServer::builder()
        .mx("fill.test", 10, "mx.fill.test")
        .a("mx.fill.test", Ipv4Addr::new(192, 0, 2, 80))
        .build()
        .await;
    let dns = dns(&server);
    let mut facts = Facts::new("fill.test", 0, ProbeScope::default());
    collect_mail_hosts(dns.as_ref(), &domain("fill.test"), &mut facts).await;
    assert_eq!(facts.mx.records().len(), 1);
    assert_eq!(facts.hosts.len(), 1);
    assert_eq!(facts.addresses().count(), 1);
    // The facts survive a JSON round trip.
    let json = serde_json::to_string(&facts).unwrap();
    let back: Facts = serde_json::from_str(&json).unwrap();
    assert_eq!(back, facts);
}
