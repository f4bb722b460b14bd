//! MX and mail hosts (`dns.*`, `mx.*`), reverse DNS (`rdns.*`) and name-server consistency.

use super::*;

#[test]
fn nxdomain_is_broken() {
    let mut f = healthy();
    f.mx = Lookup::NxDomain;
    f.hosts.clear();
    assert_eq!(only(&f, Code::DnsNxdomain), Verdict::Broken);
}

#[test]
fn failed_mx_lookup_is_inconclusive_never_missing() {
    for failure in [
        DnsFailure::ServFail,
        DnsFailure::Timeout,
        DnsFailure::Refused,
    ] {
        let mut f = healthy();
        f.mx = failed(failure);
        f.hosts.clear();
        assert_eq!(only(&f, Code::DnsLookupFailed), Verdict::Inconclusive);
    }
}

fn implicit_facts(a: Lookup<IpAddr>) -> Facts {
    let mut f = healthy();
    f.mx = Lookup::NoData;
    let lookups = AddressLookups {
        a,
        aaaa: Lookup::NoData,
    };
    f.hosts.clear();
    if !lookups.ips().is_empty() {
        let mut h = host_ok();
        h.host = DOMAIN.into();
        h.preference = 0;
        h.implicit = true;
        h.lookups = lookups.clone();
        f.hosts.push(h);
    }
    f.implicit = Some(lookups);
    f
}

#[test]
fn missing_mx_with_a_fallback() {
    let f = implicit_facts(answer(vec![ip()]));
    assert_eq!(only(&f, Code::MxMissing), Verdict::Degraded);
}

#[test]
fn no_mx_no_address() {
    let f = implicit_facts(Lookup::NoData);
    assert_eq!(only(&f, Code::MxNoMailHost), Verdict::Broken);
    let f = implicit_facts(failed(DnsFailure::ServFail));
    assert_eq!(only(&f, Code::DnsLookupFailed), Verdict::Inconclusive);
}

fn null_mx(extra: bool) -> Facts {
    let mut f = healthy();
    let mut records = vec![MxRecord {
        preference: 0,
        exchange: ".".into(),
    }];
    if extra {
        records.push(MxRecord {
            preference: 10,
            exchange: HOST.into(),
        });
    } else {
        f.hosts.clear();
    }
    f.mx = answer(records);
    f
}

#[test]
fn null_mx_alone_and_mixed() {
    assert_eq!(only(&null_mx(false), Code::MxNull), Verdict::NoMail);
    // Mixed, and the other MX accepts postmaster: an error, but mail flows.
    assert_eq!(only(&null_mx(true), Code::MxNullMixed), Verdict::Degraded);
    // Mixed, and no other MX address accepts: broken.
    let mut f = null_mx(true);
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::Refused);
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::MxNullMixed, Code::SmtpRefused]);
    assert_eq!(v, Verdict::Broken);
}

#[test]
fn cname_mx() {
    let mut f = healthy();
    f.hosts[0].cname_chain = vec!["real.example.test".into()];
    assert_eq!(only(&f, Code::MxCname), Verdict::Degraded);
}

#[test]
fn ip_literal_and_all_unusable() {
    let mut f = healthy();
    f.mx = answer(vec![MxRecord {
        preference: 10,
        exchange: "192.0.2.1".into(),
    }]);
    let h = &mut f.hosts[0];
    h.host = "192.0.2.1".into();
    h.ip_literal = true;
    h.addresses.clear();
    h.lookups = AddressLookups {
        a: Lookup::NxDomain,
        aaaa: Lookup::NxDomain,
    };
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::MxIpLiteral, Code::MxAllUnusable]);
    assert_eq!(v, Verdict::Broken);
}

fn unresolvable(second_ok: bool, lookup: Lookup<IpAddr>) -> Facts {
    let mut f = healthy();
    let mut bad = host_ok();
    bad.host = "gone.example.test".into();
    bad.preference = 5;
    bad.addresses.clear();
    bad.lookups = AddressLookups {
        a: lookup.clone(),
        aaaa: lookup,
    };
    if second_ok {
        f.hosts.insert(0, bad);
    } else {
        f.hosts = vec![bad];
    }
    f
}

#[test]
fn unresolvable_host() {
    let (v, codes) = run(&unresolvable(true, Lookup::NxDomain));
    assert_eq!(codes, vec![Code::MxUnresolvable]);
    assert_eq!(v, Verdict::Degraded);
    let (v, codes) = run(&unresolvable(false, Lookup::NoData));
    assert_eq!(codes, vec![Code::MxUnresolvable, Code::MxAllUnusable]);
    assert_eq!(v, Verdict::Broken);
    // A failed host lookup is not "unresolvable" and not "all unusable".
    let (v, codes) = run(&unresolvable(false, failed(DnsFailure::Timeout)));
    assert_eq!(codes, vec![Code::DnsLookupFailed]);
    assert_eq!(v, Verdict::Inconclusive);
}

#[test]
fn private_address_unless_allowed() {
    let mut f = healthy();
    let private: IpAddr = "10.1.2.3".parse().unwrap();
    let a = addr(&mut f);
    a.ip = private;
    a.scope = AddressScope::of(private);
    a.ptr = None;
    a.dnsbl.clear();
    a.smtp = None;
    a.smtp_skipped = Some("private address".into());
    // Its only address is private (`MX 10 localhost.` alike): nothing can deliver there.
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::MxAllUnusable, Code::MxPrivateAddress]);
    assert_eq!(v, Verdict::Broken);
    f.scope.allow_private = true;
    assert!(run(&f).1.is_empty());
    // Next to a public MX that works: a warning only.
    let mut g = healthy();
    let mut h = f.hosts[0].clone();
    h.host = "internal.example.test".into();
    g.hosts.push(h);
    assert_eq!(only(&g, Code::MxPrivateAddress), Verdict::Degraded);
}

#[test]
fn ipv6_only_mail_hosts() {
    let v6: IpAddr = "2001:db8:1::25".parse().unwrap();
    let mut f = healthy();
    f.hosts[0].lookups = AddressLookups {
        a: Lookup::NoData,
        aaaa: answer(vec![v6]),
    };
    let a = addr(&mut f);
    a.ip = v6;
    a.ptr.as_mut().unwrap().forward[0].lookup = answer(vec![v6]);
    a.dnsbl.clear();
    smtp(&mut f).greeting.as_mut().unwrap().hostname_lookups = Some(AddressLookups {
        a: Lookup::NoData,
        aaaa: answer(vec![v6]),
    });
    f.scope.allow_private = true;
    let p = Policy::default();
    let (v, codes) = run_with(&f, &p);
    assert_eq!(codes, vec![Code::MxNoIpv4]);
    assert_eq!(v, Verdict::Degraded);
    // A failed A lookup is not proof of no IPv4.
    f.hosts[0].lookups.a = failed(DnsFailure::Timeout);
    assert!(run_with(&f, &p).1.is_empty());
    // Dual stack: nothing to say.
    let (v, codes) = run(&healthy());
    assert!(codes.is_empty() && v == Verdict::Ok);
}

#[test]
fn over_the_caps_is_listed_not_probed() {
    let mut f = healthy();
    f.not_checked = vec!["MX host mx11.example.test over the cap of 10 hosts".into()];
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].code, Code::MxNotAllChecked);
    assert_eq!(r.findings[0].severity, Severity::Info);
    assert!(r.findings[0].evidence[0].contains("mx11"));
    assert_eq!(r.verdict, Verdict::Ok);
}

#[test]
fn rdns_missing_and_mismatch() {
    let mut f = healthy();
    addr(&mut f).ptr = Some(PtrFacts {
        lookup: Lookup::NxDomain,
        forward: vec![],
    });
    assert_eq!(only(&f, Code::RdnsMissing), Verdict::Degraded);

    let mut f = healthy();
    addr(&mut f).ptr = Some(PtrFacts {
        lookup: answer(vec!["other.example.test".into()]),
        forward: vec![ForwardCheck {
            name: "other.example.test".into(),
            lookup: answer(vec!["45.33.10.99".parse().unwrap()]),
        }],
    });
    assert_eq!(only(&f, Code::RdnsMismatch), Verdict::Degraded);

    let mut f = healthy();
    addr(&mut f).ptr = Some(PtrFacts {
        lookup: failed(DnsFailure::ServFail),
        forward: vec![],
    });
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::DnsLookupFailed]);
    assert_eq!(v, Verdict::Inconclusive);
}

#[test]
fn name_server_consistency() {
    let with = |c: crate::auth::consistency::ConsistencyFacts| {
        let mut f = healthy();
        f.auth = Some(crate::auth::AuthFacts {
            consistency: Some(c),
            ..Default::default()
        });
        f
    };
    assert_eq!(run(&with(agreeing_name_servers())), (Verdict::Ok, vec![]));

    // One name server refuses the zone: a warning, the domain is degraded.
    let mut c = agreeing_name_servers();
    c.servers[1].answers[0].reply = ns_reply(failed(DnsFailure::Refused), false);
    assert_eq!(only(&with(c), Code::DnsLameDelegation), Verdict::Degraded);

    // The name servers disagree.
    let mut c = agreeing_name_servers();
    c.servers[1].answers[0].reply = ns_reply(mx(&[(10, "old.example.test")]), true);
    let f = with(c);
    assert_eq!(only(&f, Code::DnsInconsistent), Verdict::Degraded);
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), f);

    // No name server answers us at all: maybe our own network; the domain is not blamed.
    let mut c = agreeing_name_servers();
    for ns in &mut c.servers {
        ns.answers[0].reply = ns_reply(failed(DnsFailure::Timeout), false);
    }
    assert_eq!(run(&with(c)), (Verdict::Ok, vec![]));
}
