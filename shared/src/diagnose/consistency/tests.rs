//! Name-server consistency from constructed facts: lame delegations, disagreeing MX sets, and
//! when a timeout is (not) blamed on a name server.

use super::*;
use crate::auth::consistency::NameServerFacts;
use crate::diagnose::testutil::{
    DOMAIN, agreeing_name_servers as agreeing, answer, failed, healthy, mx, ns_reply as reply,
};
use crate::facts::AddressLookups;
use crate::finding::Severity;

fn findings_for(c: ConsistencyFacts) -> Vec<Finding> {
    let mut facts = healthy();
    facts.auth = Some(AuthFacts {
        consistency: Some(c),
        ..AuthFacts::default()
    });
    let mut out = Vec::new();
    check(&facts, facts.auth.as_ref().unwrap(), &mut out);
    out
}

fn codes(findings: &[Finding]) -> Vec<(Code, Severity)> {
    findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[test]
fn agreeing_authoritative_servers_say_nothing() {
    assert!(findings_for(agreeing()).is_empty());
    // No auth facts at all (the MX lookup failed, or the checks are off): nothing.
    let mut out = Vec::new();
    check(&healthy(), &AuthFacts::default(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn disagreeing_servers_are_inconsistent() {
    let mut c = agreeing();
    c.servers[1].answers[0].reply = reply(mx(&[(10, "old-mx.example.test")]), true);
    let f = findings_for(c);
    assert_eq!(codes(&f), [(Code::DnsInconsistent, Severity::Warning)]);
    assert_eq!(f[0].subject, DOMAIN);
    assert!(f[0].summary.contains("disagree"), "{}", f[0].summary);
    let ev = f[0].evidence.join("\n");
    assert!(
        ev.contains("ns1.example.test (192.0.2.53:53), authoritative: MX 10 mx1.example.test"),
        "{ev}"
    );
    assert!(
        ev.contains(
            "ns2.example.test (198.51.100.53:53), authoritative: MX 10 old-mx.example.test"
        ),
        "{ev}"
    );
    assert!(
        ev.contains("resolver in use (127.0.0.1:53): MX 10 mx1.example.test"),
        "{ev}"
    );
}

#[test]
fn order_and_ttl_do_not_count() {
    let both = [(20, "mx2.example.test"), (10, "mx1.example.test")];
    let mut c = agreeing();
    c.servers[0].answers[0].reply = reply(mx(&both), true);
    let mut reversed = reply(mx(&[both[1], both[0]]), true);
    reversed.ttl = Some(17);
    c.servers[1].answers[0].reply = reversed;
    let mut facts_mx = mx(&both);
    if let Lookup::Answer { records } = &mut facts_mx {
        records.reverse();
    }
    let mut facts = healthy();
    facts.mx = facts_mx;
    facts.auth = Some(AuthFacts {
        consistency: Some(c),
        ..AuthFacts::default()
    });
    let mut out = Vec::new();
    check(&facts, facts.auth.as_ref().unwrap(), &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn refused_is_a_lame_delegation() {
    let mut c = agreeing();
    c.servers[1].answers[0].reply = reply(failed(DnsFailure::Refused), false);
    let f = findings_for(c);
    assert_eq!(codes(&f), [(Code::DnsLameDelegation, Severity::Warning)]);
    assert_eq!(f[0].subject, DOMAIN);
    assert!(
        f[0].summary.contains("ns2.example.test"),
        "{}",
        f[0].summary
    );
    assert!(
        !f[0].summary.contains("ns1.example.test"),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e.starts_with("ns2.example.test (198.51.100.53:53): REFUSED")),
        "{:?}",
        f[0].evidence
    );
}

#[test]
fn servfail_and_no_aa_are_lame() {
    let mut c = agreeing();
    c.servers[0].answers[0].reply = reply(failed(DnsFailure::ServFail), false);
    c.servers[1].answers[0].reply = reply(mx(&[(10, "mx1.example.test")]), false);
    let f = findings_for(c);
    assert_eq!(codes(&f), [(Code::DnsLameDelegation, Severity::Warning)]);
    assert!(
        f[0].summary
            .contains("name servers ns1.example.test, ns2.example.test do not"),
        "{}",
        f[0].summary
    );
    let ev = f[0].evidence.join("\n");
    assert!(ev.contains("SERVFAIL"), "{ev}");
    assert!(ev.contains("without the AA bit"), "{ev}");
    // A non-authoritative answer is not compared as if it were the zone's.
    assert!(!f.iter().any(|f| f.code == Code::DnsInconsistent));
}

#[test]
fn a_timeout_is_blamed_only_when_others_answered() {
    let timeout = || reply(failed(DnsFailure::Timeout), false);
    let mut c = agreeing();
    c.servers[1].answers[0].reply = timeout();
    let f = findings_for(c);
    assert_eq!(codes(&f), [(Code::DnsLameDelegation, Severity::Warning)]);
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e.contains("no answer in time"))
    );

    // Nobody answered us: probably our own network; the domain is not blamed.
    let mut c = agreeing();
    c.servers[0].answers[0].reply = timeout();
    c.servers[1].answers[0].reply = timeout();
    assert!(findings_for(c).is_empty());

    // An IPv6 address that times out while only IPv4 answered: not judged.
    let mut c = agreeing();
    c.servers[1].answers.push(AskedServer {
        server: "[2001:db8::53]:53".parse().unwrap(),
        reply: timeout(),
    });
    assert!(findings_for(c).is_empty());
}

#[test]
fn a_name_server_without_address_is_lame() {
    let mut c = agreeing();
    c.servers.push(NameServerFacts {
        name: "ns3.gone.test".to_owned(),
        lookups: AddressLookups {
            a: Lookup::NxDomain,
            aaaa: Lookup::NxDomain,
        },
        answers: vec![],
    });
    let f = findings_for(c.clone());
    assert_eq!(codes(&f), [(Code::DnsLameDelegation, Severity::Warning)]);
    assert!(f[0].summary.contains("ns3.gone.test"));
    // Only private addresses (not asked unless they are allowed): lame too.
    let mut private = c.clone();
    private.servers[2].lookups.a = answer(vec!["10.0.0.53".parse().unwrap()]);
    let f = findings_for(private);
    assert_eq!(codes(&f), [(Code::DnsLameDelegation, Severity::Warning)]);
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e.contains("only loopback/private/reserved addresses (10.0.0.53)")),
        "{:?}",
        f[0].evidence
    );
    // A lookup that merely failed says nothing about the server.
    c.servers[2].lookups.a = failed(DnsFailure::Timeout);
    assert!(findings_for(c).is_empty());
}

#[test]
fn a_compared_resolver_that_differs_is_inconsistent() {
    let mut c = agreeing();
    let mut stale = reply(mx(&[(10, "old-mx.example.test")]), false);
    stale.ttl = Some(120);
    c.resolvers = vec![
        AskedServer {
            server: "9.9.9.9:53".parse().unwrap(),
            reply: stale,
        },
        AskedServer {
            server: "1.1.1.1:53".parse().unwrap(),
            reply: reply(mx(&[(10, "mx1.example.test")]), false),
        },
        AskedServer {
            server: "192.0.2.99:53".parse().unwrap(),
            reply: reply(failed(DnsFailure::Refused), false),
        },
    ];
    let f = findings_for(c.clone());
    assert_eq!(codes(&f), [(Code::DnsInconsistent, Severity::Warning)]);
    assert!(
        f[0].summary
            .contains("compared resolver 9.9.9.9:53 gives other"),
        "{}",
        f[0].summary
    );
    assert!(!f[0].summary.contains("1.1.1.1"), "{}", f[0].summary);
    let ev = f[0].evidence.join("\n");
    assert!(
        ev.contains("compared resolver 9.9.9.9:53: MX 10 old-mx.example.test (TTL left: 120 s)"),
        "{ev}"
    );
    assert!(
        ev.contains("compared resolver 192.0.2.99:53: REFUSED (not compared)"),
        "{ev}"
    );
    assert!(f[0].advice.contains("TTL"));

    // Only the failing resolver: a resolver that does not answer us is no inconsistency.
    c.resolvers.drain(..2);
    assert!(findings_for(c).is_empty());
}

#[test]
fn the_resolver_in_use_that_differs_is_inconsistent() {
    let mut facts = healthy();
    facts.mx = mx(&[(10, "mx1.example.test"), (20, "backup.example.test")]);
    facts.auth = Some(AuthFacts {
        consistency: Some(agreeing()),
        ..AuthFacts::default()
    });
    let mut out = Vec::new();
    check(&facts, facts.auth.as_ref().unwrap(), &mut out);
    assert_eq!(codes(&out), [(Code::DnsInconsistent, Severity::Warning)]);
    assert!(
        out[0]
            .summary
            .contains("resolver in use (127.0.0.1:53) gives other"),
        "{}",
        out[0].summary
    );
}

#[test]
fn an_alias_is_not_compared_with_the_resolvers() {
    let mut c = agreeing();
    for ns in &mut c.servers {
        let mut alias = reply(Lookup::NoData, true);
        alias.cname = Some("mail.example.net".to_owned());
        ns.answers[0].reply = alias;
    }
    assert!(findings_for(c).is_empty());
}
