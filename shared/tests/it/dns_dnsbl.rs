//! Blocklist queries and canary self-tests against DNSBL zones served in process.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::common::{dns, dns_with_timeout};
use mailcheck::dnsbl::{DnsblStatus, ListingKind, classify, zone_problem};
use mailcheck::facts::{DnsFailure, Lookup};
use mailcheck::probe::dnsbl::DnsblEngine;
use mailcheck_testkit::dns::{DnsServer, RecordType, dnsbl_query_name};

const LISTED: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));
const CLEAN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 67));

fn engine(server: &DnsServer, zones: &[&str]) -> DnsblEngine {
    let zones: Vec<String> = zones.iter().map(|z| (*z).to_owned()).collect();
    DnsblEngine::new(dns(server), &zones).expect("engine")
}

fn code(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

#[tokio::test]
async fn listed_and_clean_addresses() {
    let server = DnsServer::builder()
        .dnsbl_zone("bl.test")
        .dnsbl_listing(
            "bl.test",
            LISTED,
            &[code(2)],
            Some("spam seen, see example.test"),
        )
        .build()
        .await;
    let engine = engine(&server, &["BL.test."]);
    assert_eq!(engine.zones(), &["bl.test"]);

    let health = engine.health().await;
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].zone, "bl.test");
    assert_eq!(health[0].positive.records(), &[code(2)]);
    assert_eq!(health[0].negative, Lookup::NxDomain);
    assert_eq!(zone_problem(&health[0]), None);

    let listed = engine.check(LISTED).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].zone, "bl.test");
    assert_eq!(listed[0].query, "66.2.0.192.bl.test");
    assert_eq!(listed[0].answer.as_ref().unwrap().records(), &[code(2)]);
    assert_eq!(listed[0].txt, vec!["spam seen, see example.test"]);
    assert!(matches!(
        classify(&listed[0], Some(&health[0])),
        DnsblStatus::Listed {
            kind: ListingKind::Abuse,
            ..
        }
    ));

    let clean = engine.check(CLEAN).await;
    assert_eq!(clean[0].answer, Some(Lookup::NxDomain));
    assert!(clean[0].txt.is_empty());
    assert_eq!(
        server.queries_for_type(&dnsbl_query_name(CLEAN, "bl.test"), RecordType::TXT),
        0,
        "TXT only when listed"
    );
    assert_eq!(
        classify(&clean[0], Some(&health[0])),
        DnsblStatus::NotListed
    );
}

#[tokio::test]
async fn error_codes_refusals_and_failures_are_recorded_as_such() {
    let server = DnsServer::builder()
        .dnsbl_zone("err.test")
        .dnsbl_listing(
            "err.test",
            LISTED,
            &[Ipv4Addr::new(127, 255, 255, 254)],
            None,
        )
        .dnsbl_zone("refusing.test")
        .refused("refusing.test")
        .dnsbl_zone("failing.test")
        .servfail("failing.test")
        .build()
        .await;
    let engine = engine(&server, &["err.test", "refusing.test", "failing.test"]);
    let health = engine.health().await;
    let checks = engine.check(LISTED).await;
    assert_eq!(
        checks.iter().map(|c| c.zone.as_str()).collect::<Vec<_>>(),
        vec!["err.test", "refusing.test", "failing.test"],
        "one answer per zone, in zone order"
    );

    // 127.255.255.254 is an answer (recorded as returned), which the classification calls
    // unavailable, never listed.
    assert_eq!(
        checks[0].answer.as_ref().unwrap().records(),
        &[Ipv4Addr::new(127, 255, 255, 254)]
    );
    assert!(matches!(
        classify(&checks[0], Some(&health[0])),
        DnsblStatus::Unavailable { .. }
    ));

    for (check, failure) in checks[1..]
        .iter()
        .zip([DnsFailure::Refused, DnsFailure::ServFail])
    {
        match &check.answer {
            Some(Lookup::Failed { failure: f, .. }) => assert_eq!(*f, failure),
            other => panic!("{}: {other:?}", check.zone),
        }
        assert!(check.txt.is_empty());
    }
    for (check, health) in checks.iter().zip(&health).skip(1) {
        assert!(health.positive.is_failed());
        assert!(zone_problem(health).is_some());
        assert!(matches!(
            classify(check, Some(health)),
            DnsblStatus::Unavailable { .. }
        ));
    }
}

#[tokio::test]
async fn a_timeout_is_a_failure() {
    let server = DnsServer::builder().hang("silent.test").build().await;
    let engine = DnsblEngine::new(
        dns_with_timeout(&server, Duration::from_millis(200)),
        &["silent.test".to_owned()],
    )
    .unwrap();
    let checks = engine.check(LISTED).await;
    assert!(matches!(
        checks[0].answer,
        Some(Lookup::Failed {
            failure: DnsFailure::Timeout,
            ..
        })
    ));
}

#[tokio::test]
async fn broken_canaries_are_recorded() {
    let server = DnsServer::builder()
        .dnsbl_zone_broken_canary("quiet.test")
        .dnsbl_zone_listing_world("world.test")
        .build()
        .await;
    let engine = engine(&server, &["quiet.test", "world.test"]);
    let health = engine.health().await;

    // 127.0.0.2 not listed: the list is not answering us.
    assert_eq!(health[0].positive, Lookup::NxDomain);
    assert!(zone_problem(&health[0]).is_some());
    // 127.0.0.1 listed: it lists the world.
    assert_eq!(health[1].negative.records(), &[code(2)]);
    assert!(zone_problem(&health[1]).is_some());

    let checks = engine.check(CLEAN).await;
    for (check, health) in checks.iter().zip(&health) {
        assert!(matches!(
            classify(check, Some(health)),
            DnsblStatus::Unavailable { .. }
        ));
    }
}

#[tokio::test]
async fn ipv6_on_an_ipv4_only_list_is_not_queried() {
    let server = DnsServer::builder().dnsbl_zone("bl.test").build().await;
    let engine = engine(&server, &["bl.test"]);
    let ip: IpAddr = "2001:db8::66".parse().unwrap();
    let checks = engine.check(ip).await;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].answer, None);
    assert!(checks[0].query.is_empty());
    assert_eq!(classify(&checks[0], None), DnsblStatus::NotCovered);
    assert_eq!(server.queries(), 0);
}

#[tokio::test]
async fn each_address_and_canary_is_queried_once_per_run() {
    let server = DnsServer::builder()
        .dnsbl_zone("one.test")
        .dnsbl_zone("two.test")
        .dnsbl_listing("two.test", LISTED, &[code(2)], Some("listed"))
        .build()
        .await;
    let engine = engine(&server, &["one.test", "two.test", "one.test"]);
    assert_eq!(
        engine.zones(),
        &["one.test", "two.test"],
        "duplicates dropped"
    );

    // Many domains share the address: all ask at once, and later.
    let all = futures::future::join_all((0..30).map(|_| engine.check(LISTED))).await;
    assert!(all.iter().all(|c| *c == all[0]));
    let later = engine.check(LISTED).await;
    assert_eq!(later, all[0]);
    for zone in ["one.test", "two.test"] {
        let q = dnsbl_query_name(LISTED, zone);
        assert_eq!(server.queries_for_type(&q, RecordType::A), 1, "{zone}");
    }
    assert_eq!(
        server.queries_for_type(&dnsbl_query_name(LISTED, "two.test"), RecordType::TXT),
        1
    );

    let (h1, h2) = tokio::join!(engine.health(), engine.health());
    assert_eq!(h1, h2);
    let _ = engine.health().await;
    let canary = dnsbl_query_name(IpAddr::V4(code(2)), "one.test");
    assert_eq!(server.queries_for_type(&canary, RecordType::A), 1);
}

#[tokio::test]
async fn dead_zones_are_a_configuration_error() {
    let server = DnsServer::builder().build().await;
    let zones = vec!["bl.test".to_owned(), "dnsbl.sorbs.net".to_owned()];
    let err =
        DnsblEngine::new(dns_with_timeout(&server, Duration::from_secs(1)), &zones).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, mailcheck::Error::Config(_)));
    assert!(text.contains("dnsbl.sorbs.net"), "{text}");
}
