//! DNS consistency against in-process servers: two test kit DNS servers on their own loopback
//! addresses (same port) are the domain's delegated name servers, a third is the resolver the
//! run uses, and a fourth plays a resolver given to compare.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mailcheck::auth::consistency::ConsistencyFacts;
use mailcheck::config::{CheckConfig, ResolverChoice};
use mailcheck::{Checker, Code, Report, Severity};
use mailcheck_testkit::dns::{DnsServer, DnsServerBuilder, Fault, RecordType};

const NS1_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 1);
const NS2_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 2);

/// The zone `example.test` delegated to ns1/ns2, with these MX records.
fn zone(b: DnsServerBuilder, mx: &[(u16, &str)]) -> DnsServerBuilder {
    let mut b = b
        .zone("example.test")
        .ns("example.test", "ns1.example.test")
        .ns("example.test", "ns2.example.test")
        .a("ns1.example.test", NS1_IP)
        .a("ns2.example.test", NS2_IP)
        .a("mx1.example.test", Ipv4Addr::new(127, 0, 0, 1))
        .a("mx2.example.test", Ipv4Addr::new(127, 0, 0, 1));
    for (pref, exchange) in mx {
        b = b.mx("example.test", *pref, exchange);
    }
    b
}

const MX: &[(u16, &str)] = &[(10, "mx1.example.test"), (20, "mx2.example.test")];
const MX_REVERSED: &[(u16, &str)] = &[(20, "mx2.example.test"), (10, "mx1.example.test")];

/// The two name servers, on the same port (real ones are all on 53).
async fn name_servers(
    ns1: impl Fn(DnsServerBuilder) -> DnsServerBuilder,
    ns2: impl Fn(DnsServerBuilder) -> DnsServerBuilder,
) -> (DnsServer, DnsServer) {
    for _ in 0..20 {
        let first = ns1(DnsServer::builder().bind(SocketAddr::from((NS1_IP, 0))))
            .build()
            .await;
        let port = first.addr().port();
        if let Ok(second) = ns2(DnsServer::builder().bind(SocketAddr::from((NS2_IP, port))))
            .try_build()
            .await
        {
            return (first, second);
        }
    }
    panic!("no port free on both {NS1_IP} and {NS2_IP}");
}

fn config(resolver: &DnsServer, ns_port: u16, compare: &[SocketAddr]) -> CheckConfig {
    let mut c = CheckConfig::default().allow_private(true);
    c.dns.resolver = ResolverChoice::Servers(vec![resolver.addr()]);
    c.dns.timeout = Duration::from_secs(2);
    c.dns.attempts = 0;
    c.smtp.enabled = false;
    c.dnsbl.enabled = false;
    c.egress.enabled = false;
    c.auth.ns_port = ns_port;
    c.auth.ns_timeout = Duration::from_millis(300);
    c.auth.compare_resolvers = compare.to_vec();
    c
}

async fn check(config: CheckConfig, domain: &str) -> Report {
    Checker::new(config)
        .expect("config")
        .check_input(domain)
        .await
}

fn consistency(r: &Report) -> &ConsistencyFacts {
    r.facts
        .as_ref()
        .and_then(|f| f.auth.as_ref())
        .and_then(|a| a.consistency.as_ref())
        .expect("consistency facts")
}

/// The consistency findings, (code, severity, subject).
fn found(r: &Report) -> Vec<(Code, Severity, String)> {
    r.findings
        .iter()
        .filter(|f| matches!(f.code, Code::DnsInconsistent | Code::DnsLameDelegation))
        .map(|f| (f.code, f.severity, f.subject.clone()))
        .collect()
}

fn explain(r: &Report) -> String {
    format!(
        "{}\n{}",
        serde_json::to_string_pretty(&r.findings).unwrap(),
        serde_json::to_string_pretty(consistency(r)).unwrap()
    )
}

#[tokio::test]
async fn agreeing_name_servers_say_nothing_and_are_asked_without_recursion() {
    let (ns1, ns2) = name_servers(|b| zone(b, MX), |b| zone(b, MX_REVERSED)).await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    assert!(found(&r).is_empty(), "{}", explain(&r));

    let c = consistency(&r);
    assert_eq!(c.zone, "example.test");
    let names: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ns1.example.test", "ns2.example.test"]);
    for (ns, ip) in c.servers.iter().zip([NS1_IP, NS2_IP]) {
        assert_eq!(ns.answers.len(), 1, "{}", explain(&r));
        let asked = &ns.answers[0];
        assert_eq!(
            asked.server,
            SocketAddr::new(IpAddr::V4(ip), ns1.addr().port())
        );
        assert!(asked.reply.authoritative, "{}", explain(&r));
        assert_eq!(asked.reply.mx.records().len(), 2);
        assert_eq!(asked.reply.ttl, Some(300));
    }
    for server in [&ns1, &ns2] {
        let mx_queries: Vec<_> = server
            .query_log()
            .into_iter()
            .filter(|q| q.record_type == RecordType::MX)
            .collect();
        assert_eq!(mx_queries.len(), 1, "{mx_queries:?}");
        assert!(!mx_queries[0].recursion_desired, "asked with RD=0");
    }
}

#[tokio::test]
async fn a_name_server_that_refuses_is_a_lame_delegation() {
    let (ns1, _ns2) = name_servers(
        |b| zone(b, MX),
        |b| zone(b, MX).fault("example.test", Fault::Refused),
    )
    .await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    assert_eq!(
        found(&r),
        [(
            Code::DnsLameDelegation,
            Severity::Warning,
            "example.test".to_owned()
        )],
        "{}",
        explain(&r)
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsLameDelegation)
        .unwrap();
    assert!(f.summary.contains("ns2.example.test"), "{}", f.summary);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.starts_with("ns2.example.test (127.0.53.2:") && e.contains("REFUSED")),
        "{:?}",
        f.evidence
    );
}

#[tokio::test]
async fn no_aa_bit_and_silence_are_lame_too() {
    let (ns1, _ns2) = name_servers(
        |b| zone(b, MX).fault("example.test", Fault::NotAuthoritative),
        |b| zone(b, MX).fault_for_type("example.test", RecordType::MX, Fault::Hang),
    )
    .await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    let c = consistency(&r);
    assert!(!c.servers[0].answers[0].reply.authoritative);
    assert_eq!(c.servers[0].answers[0].reply.mx.records().len(), 2);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsLameDelegation)
        .unwrap_or_else(|| panic!("{}", explain(&r)));
    // ns1 answered (without AA), so the network works: ns2's silence is its own.
    assert_eq!(f.severity, Severity::Warning, "{}", explain(&r));
    let ev = f.evidence.join("\n");
    assert!(
        ev.contains("ns1.example.test") && ev.contains("AA bit"),
        "{ev}"
    );
    assert!(
        ev.contains("ns2.example.test") && ev.contains("no answer in time"),
        "{ev}"
    );
    assert!(!found(&r).iter().any(|(c, ..)| *c == Code::DnsInconsistent));
}

#[tokio::test]
async fn name_servers_that_disagree_are_inconsistent() {
    let (ns1, _ns2) =
        name_servers(|b| zone(b, MX), |b| zone(b, &[(10, "old-mx.example.test")])).await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    assert_eq!(
        found(&r),
        [(
            Code::DnsInconsistent,
            Severity::Warning,
            "example.test".to_owned()
        )],
        "{}",
        explain(&r)
    );
    let f = &r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsInconsistent)
        .unwrap();
    let ev = f.evidence.join("\n");
    assert!(
        ev.contains("authoritative: MX 10 old-mx.example.test"),
        "{ev}"
    );
    assert!(
        ev.contains("authoritative: MX 10 mx1.example.test, MX 20 mx2.example.test"),
        "{ev}"
    );
}

#[tokio::test]
async fn resolvers_that_differ_from_the_name_servers_are_inconsistent() {
    let (ns1, _ns2) = name_servers(|b| zone(b, MX), |b| zone(b, MX_REVERSED)).await;
    // The resolver in use agrees; a compared one still serves an old MX set.
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let stale = zone(DnsServer::builder(), &[(10, "old-mx.example.test")])
        .build()
        .await;
    let same = zone(DnsServer::builder(), MX_REVERSED).build().await;
    let compare = [stale.addr(), same.addr()];
    let r = check(
        config(&resolver, ns1.addr().port(), &compare),
        "example.test",
    )
    .await;
    assert_eq!(
        found(&r),
        [(
            Code::DnsInconsistent,
            Severity::Warning,
            "example.test".to_owned()
        )],
        "{}",
        explain(&r)
    );
    let f = &r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsInconsistent)
        .unwrap();
    assert!(
        f.summary
            .contains(&format!("compared resolver {} gives other", stale.addr())),
        "{}",
        f.summary
    );
    assert!(
        !f.summary.contains(&same.addr().to_string()),
        "{}",
        f.summary
    );
    // Compared resolvers are asked with recursion.
    let q = stale
        .query_log()
        .into_iter()
        .find(|q| q.record_type == RecordType::MX)
        .expect("asked");
    assert!(q.recursion_desired);

    // The resolver in use itself differs.
    let (ns1, _ns2) = name_servers(|b| zone(b, MX), |b| zone(b, MX)).await;
    let resolver = zone(DnsServer::builder(), &[(10, "old-mx.example.test")])
        .build()
        .await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsInconsistent)
        .unwrap_or_else(|| panic!("{}", explain(&r)));
    assert!(f.summary.contains("resolver in use"), "{}", f.summary);
}

#[tokio::test]
async fn a_name_below_the_apex_is_checked_at_its_zone() {
    let sub = |b: DnsServerBuilder| zone(b, MX).mx("mail.example.test", 5, "mx1.example.test");
    let (ns1, _ns2) = name_servers(sub, sub).await;
    let resolver = sub(DnsServer::builder()).build().await;
    let r = check(
        config(&resolver, ns1.addr().port(), &[]),
        "mail.example.test",
    )
    .await;
    assert!(found(&r).is_empty(), "{}", explain(&r));
    let c = consistency(&r);
    assert_eq!(c.zone, "example.test");
    let walked: Vec<&str> = c.ns_lookups.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(walked, ["mail.example.test", "example.test"]);
    let reply = &c.servers[1].answers[0].reply;
    assert!(reply.authoritative);
    assert_eq!(reply.mx.records()[0].exchange, "mx1.example.test");
    assert_eq!(reply.mx.records()[0].preference, 5);
}

#[tokio::test]
async fn no_name_server_answering_us_blames_nobody() {
    // Both name servers are silent while the resolver answers: from here we cannot tell them
    // from a network that lets only its resolver out on port 53.
    let (ns1, _ns2) = name_servers(
        |b| zone(b, MX).fault_for_type("example.test", RecordType::MX, Fault::Hang),
        |b| zone(b, MX).fault_for_type("example.test", RecordType::MX, Fault::Hang),
    )
    .await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let r = check(config(&resolver, ns1.addr().port(), &[]), "example.test").await;
    assert!(found(&r).is_empty(), "{}", explain(&r));
    let c = consistency(&r);
    assert_eq!(c.servers.len(), 2);
    for ns in &c.servers {
        assert_eq!(ns.answers[0].reply.response_code, None, "{}", explain(&r));
    }
}

#[tokio::test]
async fn loopback_name_servers_are_not_asked_unless_private_addresses_are_allowed() {
    let (ns1, ns2) = name_servers(|b| zone(b, MX), |b| zone(b, MX)).await;
    let resolver = zone(DnsServer::builder(), MX).build().await;
    let mut c = config(&resolver, ns1.addr().port(), &[]).allow_private(false);
    c.smtp.enabled = false;
    let r = check(c, "example.test").await;
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::DnsLameDelegation)
        .unwrap_or_else(|| panic!("{}", explain(&r)));
    assert!(
        f.summary
            .contains("ns1.example.test, ns2.example.test do not"),
        "{}",
        f.summary
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("only loopback/private/reserved addresses (127.0.53.1)"))
    );
    assert_eq!(ns1.queries_for_type("example.test", RecordType::MX), 0);
    assert_eq!(ns2.queries(), 0);
}
