//! The test DNS server, seen through hickory-resolver: answers, NXDOMAIN, NODATA, faults,
//! DNSBL zones, reverse names, TCP and the query counters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use mailcheck_testkit::dns::{DnsServer, Fault, dnsbl_query_name};

/// A resolver that asks only `addr`, without cache or retries. With `tcp_only`, only over TCP.
fn resolver(addr: SocketAddr, tcp_only: bool) -> TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let conns = if tcp_only { vec![tcp] } else { vec![udp, tcp] };
    let ns = NameServerConfig::new(addr.ip(), true, conns);
    let cfg = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_millis(400);
    opts.attempts = 0;
    opts.cache_size = 0;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    TokioResolver::builder_with_config(cfg, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .expect("resolver")
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Answer(Vec<String>),
    NxDomain,
    NoData,
    ServFail,
    Refused,
    Timeout,
    Other(String),
}

async fn ask(r: &TokioResolver, name: &str, rtype: RecordType) -> Outcome {
    match r.lookup(name, rtype).await {
        Ok(lookup) => Outcome::Answer(
            lookup
                .answers()
                .iter()
                .filter(|rec| rec.record_type() == rtype)
                .map(|rec| match &rec.data {
                    RData::TXT(t) => t
                        .txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        Err(NetError::Dns(DnsError::NoRecordsFound(nr)))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            Outcome::NxDomain
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(_))) => Outcome::NoData,
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))) => Outcome::ServFail,
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused))) => Outcome::Refused,
        Err(NetError::Timeout) => Outcome::Timeout,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

fn answer(items: &[&str]) -> Outcome {
    Outcome::Answer(items.iter().map(|s| (*s).to_owned()).collect())
}

async fn lab() -> DnsServer {
    DnsServer::builder()
        .mx("example.test", 10, "mx1.example.test")
        .mx("example.test", 20, "mx2.example.test")
        .a("mx1.example.test", Ipv4Addr::new(127, 0, 0, 10))
        .aaaa("mx1.example.test", Ipv6Addr::LOCALHOST)
        .cname("mail.example.test", "mx1.example.test")
        .txt("example.test", "v=spf1 -all")
        .mx("nullmx.test", 0, ".")
        .ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), "mx1.example.test")
        .a("elsewhere.example.com", Ipv4Addr::new(127, 0, 0, 11))
        .servfail("servfail.test")
        .refused("refused.test")
        .hang("hang.test")
        .build()
        .await
}

#[tokio::test]
async fn answers_nxdomain_nodata_and_faults() {
    let dns = lab().await;
    let r = resolver(dns.addr(), false);

    assert_eq!(
        ask(&r, "example.test.", RecordType::MX).await,
        answer(&["10 mx1.example.test.", "20 mx2.example.test."])
    );
    assert_eq!(
        ask(&r, "mx1.example.test.", RecordType::A).await,
        answer(&["127.0.0.10"])
    );
    assert_eq!(
        ask(&r, "MX1.Example.Test.", RecordType::AAAA).await,
        answer(&["::1"])
    );
    assert_eq!(
        ask(&r, "mail.example.test.", RecordType::A).await,
        answer(&["127.0.0.10"])
    );
    assert_eq!(
        ask(&r, "example.test.", RecordType::TXT).await,
        answer(&["v=spf1 -all"])
    );
    assert_eq!(
        ask(&r, "nullmx.test.", RecordType::MX).await,
        answer(&["0 ."])
    );
    assert_eq!(
        ask(&r, "elsewhere.example.com.", RecordType::A).await,
        answer(&["127.0.0.11"])
    );

    // Exists, but not with this type: NODATA. Does not exist: NXDOMAIN.
    assert_eq!(
        ask(&r, "mx1.example.test.", RecordType::MX).await,
        Outcome::NoData
    );
    assert_eq!(
        ask(&r, "nope.example.test.", RecordType::MX).await,
        Outcome::NxDomain
    );
    assert_eq!(
        ask(&r, "unknown.test.", RecordType::A).await,
        Outcome::NxDomain
    );
    assert_eq!(
        ask(&r, "nope.example.com.", RecordType::A).await,
        Outcome::NxDomain
    );
    // Outside every zone.
    assert_eq!(
        ask(&r, "example.org.", RecordType::A).await,
        Outcome::Refused
    );

    assert_eq!(
        ask(&r, "servfail.test.", RecordType::MX).await,
        Outcome::ServFail
    );
    assert_eq!(
        ask(&r, "a.b.servfail.test.", RecordType::A).await,
        Outcome::ServFail
    );
    assert_eq!(
        ask(&r, "refused.test.", RecordType::MX).await,
        Outcome::Refused
    );
    assert_eq!(
        ask(&r, "hang.test.", RecordType::MX).await,
        Outcome::Timeout
    );

    // Reverse DNS. (hickory-resolver answers 127.0.0.0/8 reverse names itself with
    // "localhost.", so the PTR uses a documentation address.)
    let ptr = r
        .reverse_lookup(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)))
        .await
        .expect("ptr");
    let names: Vec<String> = ptr
        .answers()
        .iter()
        .map(|rec| rec.data.to_string())
        .collect();
    assert_eq!(names, ["mx1.example.test."]);
    assert_eq!(
        ask(&r, "11.2.0.192.in-addr.arpa.", RecordType::PTR).await,
        Outcome::NxDomain
    );

    // Counters.
    assert_eq!(dns.queries_for("example.test"), 2);
    assert_eq!(dns.queries_for_type("example.test.", RecordType::MX), 1);
    assert_eq!(dns.queries_for("hang.test"), 1);
    assert_eq!(dns.queries(), 18);
    dns.reset_queries();
    assert_eq!(dns.queries(), 0);
}

#[tokio::test]
async fn tcp_and_truncation() {
    let dns = DnsServer::builder()
        .a("big.test", Ipv4Addr::new(127, 0, 0, 1))
        .fault("big.test", Fault::TruncateUdp)
        .build()
        .await;
    let r = resolver(dns.addr(), true);
    assert_eq!(
        ask(&r, "big.test.", RecordType::A).await,
        answer(&["127.0.0.1"])
    );
    assert!(dns.query_log().iter().all(|q| q.tcp));

    // Over UDP the answer is truncated, so the resolver retries over TCP.
    dns.reset_queries();
    let r = resolver(dns.addr(), false);
    assert_eq!(
        ask(&r, "big.test.", RecordType::A).await,
        answer(&["127.0.0.1"])
    );
    let transports: Vec<bool> = dns.query_log().iter().map(|q| q.tcp).collect();
    assert_eq!(transports, [false, true]);
}

#[tokio::test]
async fn dnsbl_zones() {
    let listed: IpAddr = "127.0.0.10".parse().unwrap();
    let listed6: IpAddr = "2001:db8::25".parse().unwrap();
    let dns = DnsServer::builder()
        .dnsbl_zone("bl.test")
        .dnsbl_listing(
            "bl.test",
            listed,
            &[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)],
            Some("listed for spam"),
        )
        .dnsbl_listing("bl.test", listed6, &[Ipv4Addr::new(127, 0, 0, 3)], None)
        .dnsbl_zone_broken_canary("dead.example")
        .dnsbl_zone_listing_world("world.example")
        .build()
        .await;
    let r = resolver(dns.addr(), false);
    let q = |ip: &str, zone: &str| dnsbl_query_name(ip.parse().unwrap(), zone);

    assert_eq!(
        ask(&r, &q("127.0.0.2", "bl.test"), RecordType::A).await,
        answer(&["127.0.0.2"])
    );
    assert_eq!(
        ask(&r, &q("::ffff:127.0.0.2", "bl.test"), RecordType::A).await,
        answer(&["127.0.0.2"])
    );
    assert_eq!(
        ask(&r, &q("127.0.0.1", "bl.test"), RecordType::A).await,
        Outcome::NxDomain
    );
    assert_eq!(
        ask(&r, &q("127.0.0.10", "bl.test"), RecordType::A).await,
        answer(&["127.0.0.2", "127.0.0.4"])
    );
    assert_eq!(
        ask(&r, &q("127.0.0.10", "bl.test"), RecordType::TXT).await,
        answer(&["listed for spam"])
    );
    assert_eq!(
        ask(&r, &q("2001:db8::25", "bl.test"), RecordType::A).await,
        answer(&["127.0.0.3"])
    );
    assert_eq!(
        ask(&r, &q("2001:db8::25", "bl.test"), RecordType::TXT).await,
        Outcome::NoData
    );

    assert_eq!(
        ask(&r, &q("127.0.0.2", "dead.example"), RecordType::A).await,
        Outcome::NxDomain
    );
    assert_eq!(
        ask(&r, &q("127.0.0.1", "world.example"), RecordType::A).await,
        answer(&["127.0.0.2"])
    );
}

#[tokio::test]
async fn runtime_changes() {
    let dns = DnsServer::builder()
        .a("host.example.test", Ipv4Addr::new(127, 0, 0, 1))
        .build()
        .await;
    let r = resolver(dns.addr(), false);
    assert_eq!(
        ask(&r, "host.example.test.", RecordType::A).await,
        answer(&["127.0.0.1"])
    );

    dns.set(
        "host.example.test",
        60,
        RData::A(Ipv4Addr::new(127, 0, 0, 2).into()),
    )
    .await
    .unwrap();
    assert_eq!(
        ask(&r, "host.example.test.", RecordType::A).await,
        answer(&["127.0.0.2"])
    );

    dns.upsert(
        "new.other.example",
        60,
        RData::A(Ipv4Addr::new(127, 0, 0, 3).into()),
    )
    .await
    .unwrap();
    assert_eq!(
        ask(&r, "new.other.example.", RecordType::A).await,
        answer(&["127.0.0.3"])
    );

    assert!(dns.remove("host.example.test", RecordType::A).await);
    assert_eq!(
        ask(&r, "host.example.test.", RecordType::A).await,
        Outcome::NxDomain
    );

    dns.set_fault("example.test", Fault::ServFail);
    assert_eq!(
        ask(&r, "x.example.test.", RecordType::A).await,
        Outcome::ServFail
    );
    dns.clear_faults("example.test");
    assert_eq!(
        ask(&r, "x.example.test.", RecordType::A).await,
        Outcome::NxDomain
    );
}

#[tokio::test]
async fn root_zone_answers_nxdomain_everywhere() {
    let dns = DnsServer::builder().zone(".").build().await;
    let r = resolver(dns.addr(), false);
    assert_eq!(
        ask(&r, "example.org.", RecordType::A).await,
        Outcome::NxDomain
    );
}

#[tokio::test]
async fn empty_non_terminal_is_nodata() {
    let dns = DnsServer::builder()
        .a("mx1.example.test", Ipv4Addr::new(127, 0, 0, 1))
        .cname("alias.test", "mx1.example.test")
        .build()
        .await;
    let r = resolver(dns.addr(), false);
    // example.test. has no records of its own but a name below it exists.
    assert_eq!(
        ask(&r, "example.test.", RecordType::MX).await,
        Outcome::NoData
    );
    assert_eq!(
        ask(&r, "alias.test.", RecordType::A).await,
        answer(&["127.0.0.1"])
    );
    assert_eq!(
        ask(&r, "alias.test.", RecordType::MX).await,
        Outcome::NoData
    );
}
