//! Blocklist answers classified: query names, each list's codes, failed self-tests and lookups
//! (unavailable, never listed), PBL and direct-to-MX sending, coverage and dead lists.

use std::net::Ipv4Addr;

use super::*;
use crate::facts::{DnsblCheck, Lookup, ZoneHealth};

fn check(zone: &str, answer: Lookup<Ipv4Addr>) -> DnsblCheck {
    DnsblCheck {
        zone: zone.to_owned(),
        query: String::new(),
        answer: Some(answer),
        txt: vec![],
    }
}

fn healthy(zone: &str) -> ZoneHealth {
    ZoneHealth {
        zone: zone.to_owned(),
        positive: Lookup::Answer {
            records: vec![Ipv4Addr::new(127, 0, 0, 2)],
        },
        negative: Lookup::NxDomain,
        positive_v6: None,
        negative_v6: None,
    }
}

fn ans(codes: &[[u8; 4]]) -> Lookup<Ipv4Addr> {
    Lookup::Answer {
        records: codes.iter().map(|c| Ipv4Addr::from(*c)).collect(),
    }
}

#[test]
fn query_names() {
    assert_eq!(
        query_name("192.0.2.99".parse().unwrap(), "zen.spamhaus.org"),
        "99.2.0.192.zen.spamhaus.org."
    );
    assert_eq!(
        query_name("2001:db8:7ca6:22::45".parse().unwrap(), "zen.spamhaus.org"),
        "5.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.2.0.0.6.a.c.7.8.b.d.0.1.0.0.2.zen.spamhaus.org."
    );
    assert_eq!(
        query_name("::ffff:192.0.2.1".parse().unwrap(), "bl.test."),
        "1.2.0.192.bl.test."
    );
}

#[test]
fn spamhaus_error_code_is_unavailable_not_listed() {
    let z = "zen.spamhaus.org";
    let s = classify(&check(z, ans(&[[127, 255, 255, 254]])), Some(&healthy(z)));
    assert!(matches!(s, DnsblStatus::Unavailable { .. }), "{s:?}");
}

#[test]
fn abuse_and_policy_codes() {
    let z = "zen.spamhaus.org";
    let s = classify(&check(z, ans(&[[127, 0, 0, 10]])), Some(&healthy(z)));
    assert!(
        matches!(
            s,
            DnsblStatus::Listed {
                kind: ListingKind::Policy,
                ..
            }
        ),
        "{s:?}"
    );
    let s = classify(
        &check(z, ans(&[[127, 0, 0, 10], [127, 0, 0, 4]])),
        Some(&healthy(z)),
    );
    assert!(
        matches!(
            s,
            DnsblStatus::Listed { kind: ListingKind::Abuse, ref codes, .. } if codes.len() == 2
        ),
        "{s:?}"
    );
}

#[test]
fn failed_canary_makes_everything_unavailable() {
    let z = "bl.test";
    let mut h = healthy(z);
    h.positive = Lookup::NxDomain;
    let s = classify(&check(z, Lookup::NxDomain), Some(&h));
    assert!(matches!(s, DnsblStatus::Unavailable { .. }));
    let mut h = healthy(z);
    h.negative = ans(&[[127, 0, 0, 2]]);
    let s = classify(&check(z, ans(&[[127, 0, 0, 2]])), Some(&h));
    assert!(matches!(s, DnsblStatus::Unavailable { .. }));
}

#[test]
fn failures_are_unavailable_and_nx_is_clean() {
    let z = "bl.test";
    let failed = Lookup::Failed {
        failure: crate::facts::DnsFailure::Refused,
        detail: String::new(),
    };
    assert!(matches!(
        classify(&check(z, failed), Some(&healthy(z))),
        DnsblStatus::Unavailable { .. }
    ));
    assert_eq!(
        classify(&check(z, Lookup::NxDomain), Some(&healthy(z))),
        DnsblStatus::NotListed
    );
    assert!(matches!(
        classify(&check(z, ans(&[[10, 0, 0, 1]])), Some(&healthy(z))),
        DnsblStatus::Unavailable { .. }
    ));
}

#[test]
fn pbl_forbids_direct_to_mx_and_sending_listings_say_so() {
    let z = "zen.spamhaus.org";
    assert!(forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 10)));
    assert!(forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 11)));
    assert!(!forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 30)));
    assert!(!forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 2)));
    assert!(!forbids_direct_to_mx(
        "bl.test",
        Ipv4Addr::new(127, 0, 0, 10)
    ));
    let (listed, unavailable) = sending_listings(
        &[
            check(z, ans(&[[127, 0, 0, 10]])),
            check("bl.test", ans(&[[127, 0, 0, 2]])),
            check("down.test", ans(&[[127, 255, 255, 254]])),
            check("clean.test", Lookup::NxDomain),
        ],
        &[
            healthy(z),
            healthy("bl.test"),
            healthy("down.test"),
            healthy("clean.test"),
        ],
    );
    assert_eq!(listed.len(), 2);
    assert!(listed[0].direct_to_mx && listed[0].kind == ListingKind::Policy);
    assert!(listed[0].blocks_sending());
    assert_eq!(listed[0].delist, "https://check.spamhaus.org/");
    assert!(listed[1].kind == ListingKind::Abuse && !listed[1].direct_to_mx);
    assert!(listed[1].delist.contains("bl.test"));
    assert_eq!(unavailable.len(), 1);
    assert_eq!(unavailable[0].0, "down.test");
}

#[test]
fn coverage_and_dead_lists() {
    assert!(covers("zen.spamhaus.org", "2001:db8::1".parse().unwrap()));
    assert!(!covers("bl.spamcop.net", "2001:db8::1".parse().unwrap()));
    assert!(is_dead("dnsbl.sorbs.net"));
    assert!(!DEFAULT_ZONES.iter().any(|z| is_dead(z)));
}
