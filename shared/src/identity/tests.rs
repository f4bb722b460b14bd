//! Identity judgements on sample names and records: generic PTR names, HELO forms, PTR states.

use super::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn generic_names_are_told_from_specific_ones() {
    let ip = v4("203.0.113.45");
    for generic in [
        "203-0-113-45.dyn.isp.example",
        "45-113-0-203.isp.example",
        "dsl-203-0-113-45.isp.example",
        "pool-203-0-113-45.example.net",
        "c-203-0-113-45.hsd1.ca.example.net",
        "cpe-203-0-113-45.res.example.com",
        "ip203-0-113-45.example.net",
        "host45-113-static.example.net",
        "203000113045.example.net",
        "cb00712d.example.net",
        "dhcp.example.net",
        "broadband12.example.net",
        "x.dynamic.example.net",
    ] {
        assert!(generic_ptr(generic, ip).is_some(), "{generic}");
    }
    for specific in [
        "mail.example.com",
        "mx1.example.com",
        "mail2.example.com",
        "mx.dyn.com",
        "mail.dslreports.com",
        "a8-30.smtp-out.amazonses.com",
        "mail-sor-f41.google.com",
        "example.com",
        "outbound45.example.net",
    ] {
        assert_eq!(generic_ptr(specific, ip), None, "{specific}");
    }
}

#[test]
fn generic_ipv6_names() {
    let ip: IpAddr = "2001:db8:1234:5678::45".parse().unwrap();
    assert!(generic_ptr("2001-db8-1234-5678-0-0-0-45.dyn6.example.net", ip).is_some());
    assert!(generic_ptr("ip-1234-5678-0.example.net", ip).is_some());
    assert!(generic_ptr("host.20010db8123456780000000000000045.example.net", ip).is_some());
    assert_eq!(generic_ptr("mail6.example.net", ip), None);
}

#[test]
fn helo_forms() {
    assert_eq!(helo_form("mail.example.com"), HeloForm::Name);
    assert_eq!(helo_form("mail.example.com."), HeloForm::Name);
    assert_eq!(helo_form("localhost"), HeloForm::NotQualified);
    assert_eq!(
        helo_form("exchange.corp.local"),
        HeloForm::NonPublic("local")
    );
    assert_eq!(helo_form("box.home.arpa"), HeloForm::NonPublic("home.arpa"));
    assert_eq!(
        helo_form("[192.0.2.1]"),
        HeloForm::AddressLiteral(Some(v4("192.0.2.1")))
    );
    assert_eq!(
        helo_form("[IPv6:2001:db8::1]"),
        HeloForm::AddressLiteral(Some("2001:db8::1".parse().unwrap()))
    );
    assert_eq!(
        helo_form("192.0.2.1"),
        HeloForm::BareAddress(v4("192.0.2.1"))
    );
    assert!(worth_resolving("mail.example.com"));
    assert!(!worth_resolving("192.0.2.1") && !worth_resolving("localhost"));
    assert!(!worth_resolving("[192.0.2.1]"));
}

#[test]
fn ptr_states() {
    let ip = v4("192.0.2.1");
    let facts = |lookup: Lookup<String>, forward: Vec<(&str, Lookup<IpAddr>)>| PtrFacts {
        lookup,
        forward: forward
            .into_iter()
            .map(|(n, l)| crate::facts::ForwardCheck {
                name: n.to_owned(),
                lookup: l,
            })
            .collect(),
    };
    let name = || Lookup::Answer {
        records: vec!["mail.example.com".to_owned()],
    };
    fn failed<T>() -> Lookup<T> {
        Lookup::Failed {
            failure: crate::facts::DnsFailure::ServFail,
            detail: String::new(),
        }
    }
    assert_eq!(
        ptr_state(&facts(failed(), vec![]), ip),
        PtrState::LookupFailed
    );
    assert_eq!(
        ptr_state(&facts(Lookup::NxDomain, vec![]), ip),
        PtrState::Missing
    );
    let confirmed = facts(
        name(),
        vec![("mail.example.com", Lookup::Answer { records: vec![ip] })],
    );
    assert_eq!(ptr_state(&confirmed, ip), PtrState::Confirmed);
    assert!(is_ptr_name(&confirmed, "MAIL.example.com."));
    let elsewhere = facts(
        name(),
        vec![(
            "mail.example.com",
            Lookup::Answer {
                records: vec![v4("192.0.2.2")],
            },
        )],
    );
    assert_eq!(ptr_state(&elsewhere, ip), PtrState::NotConfirmed);
    let fwd_failed = facts(name(), vec![("mail.example.com", failed())]);
    assert_eq!(ptr_state(&fwd_failed, ip), PtrState::ForwardFailed);
}
