//! Every code fires in its scenario and stays quiet on a healthy domain; verdict rules.

use std::net::{IpAddr, Ipv4Addr};

use super::testutil::*;
use crate::config::Policy;
use crate::facts::*;
use crate::finding::{Code, Severity};
use crate::report::Verdict;

fn cut_after_greeting(s: &mut SmtpFacts) {
    s.ehlo = None;
    s.extensions.clear();
    s.starttls = None;
    s.mail = None;
    s.rcpt = None;
    s.closing.clear();
}

fn run(f: &Facts) -> (Verdict, Vec<Code>) {
    run_with(f, &Policy::default())
}

fn run_with(f: &Facts, p: &Policy) -> (Verdict, Vec<Code>) {
    let r = super::diagnose(f, p, &f.domain, 1);
    let mut codes: Vec<Code> = r.findings.iter().map(|x| x.code).collect();
    codes.sort();
    for finding in &r.findings {
        assert!(
            !finding.summary.is_empty() && !finding.advice.is_empty(),
            "{finding:?}"
        );
        assert!(
            !finding.evidence.is_empty(),
            "evidence missing: {finding:?}"
        );
    }
    (r.verdict, codes)
}

fn only(f: &Facts, code: Code) -> Verdict {
    let (v, codes) = run(f);
    assert_eq!(codes, vec![code], "expected only {code}");
    v
}

#[test]
fn healthy_domain_is_ok_and_clean() {
    let (v, codes) = run(&healthy());
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
}

#[test]
fn facts_round_trip_through_json() {
    let f = healthy();
    let json = serde_json::to_string(&f).unwrap();
    let back: Facts = serde_json::from_str(&json).unwrap();
    assert_eq!(f, back);
    let r = super::diagnose(&f, &Policy::default(), "x", 1);
    let json = serde_json::to_value(&r).unwrap();
    for key in ["domain", "input", "verdict", "findings", "mx", "elapsed_ms"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["mx"][0]["addresses"][0]["smtp"]["status"], "accepted");
}

#[test]
fn a_stop_before_rcpt_is_explained_even_beside_a_missing_starttls() {
    // A conversation that ended after EHLO with no reason given (e.g. the per-address budget
    // reused an earlier connection's facts): a missing STARTTLS is no reason.
    let mut f = healthy();
    let s = smtp(&mut f);
    s.starttls = None;
    s.extensions.retain(|e| e != "STARTTLS");
    s.mail = None;
    s.rcpt = None;
    s.closing.clear();
    s.transcript.push(TranscriptLine {
        who: Speaker::Note,
        at_ms: 0,
        text: "not reconnecting: probed 5 s ago (per-address budget)".into(),
    });
    let (_, codes) = run(&f);
    assert_eq!(codes, vec![Code::SmtpStarttlsMissing, Code::SmtpIncomplete]);
    let r = super::diagnose(&f, &Policy::default(), "x", 1);
    let incomplete = r
        .findings
        .iter()
        .find(|x| x.code == Code::SmtpIncomplete)
        .unwrap();
    assert!(
        incomplete
            .evidence
            .iter()
            .any(|e| e.contains("per-address budget")),
        "{incomplete:?}"
    );
}

#[test]
fn an_address_the_deadline_cut_off_is_inconclusive_with_the_reason() {
    let mut f = healthy();
    let a = addr(&mut f);
    a.smtp = None;
    a.unfinished =
        Some("the check's deadline came before the conversation with this address finished".into());
    let r = super::diagnose(&f, &Policy::default(), "x", 1);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{:?}", r.findings);
    let incomplete = r
        .findings
        .iter()
        .find(|x| x.code == Code::SmtpIncomplete)
        .unwrap();
    assert!(incomplete.evidence[0].contains("deadline"));
    assert_eq!(
        r.mx[0].addresses[0].smtp.status,
        crate::report::SmtpStatus::Unfinished
    );
}

/// MTA-STS facts for one `v=STSv1` record and `policy` fetched; the details are tested in
/// `diagnose::mtasts`.
fn with_mta_sts(mut f: Facts, policy: Option<&str>) -> Facts {
    use crate::auth::mtasts::{MtaStsFacts, PolicyFetch, parse_policy, parse_record};
    let record = "v=STSv1; id=1".to_owned();
    let fetch = policy.map(|body| PolicyFetch {
        url: format!("https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"),
        lookups: AddressLookups {
            a: answer(vec![ip()]),
            aaaa: Lookup::NoData,
        },
        peer: None,
        status: Some(200),
        content_type: Some("text/plain".into()),
        location: None,
        size: Some(body.len() as u64),
        body: Some(body.to_owned()),
        error: None,
        ms: 1,
    });
    let m = MtaStsFacts {
        txt: if policy.is_some() {
            answer(vec![record.clone()])
        } else {
            Lookup::NxDomain
        },
        sts_records: policy.map(|_| record.clone()).into_iter().collect(),
        record: policy.map(|_| parse_record(&record)),
        fetch,
        policy: policy.map(parse_policy),
        mx: vec![],
    };
    f.auth = Some(crate::auth::AuthFacts {
        mta_sts: Some(m),
        ..Default::default()
    });
    f
}

#[test]
fn mta_sts_codes() {
    let good = format!("version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n");
    let (v, codes) = run(&with_mta_sts(healthy(), Some(&good)));
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
    assert_eq!(
        only(&with_mta_sts(healthy(), None), Code::MtastsAbsent),
        Verdict::Ok
    );
    let wrong = good.replace(HOST, "mx.other.test");
    assert_eq!(
        only(
            &with_mta_sts(healthy(), Some(&wrong)),
            Code::MtastsMxMismatch
        ),
        Verdict::Degraded
    );
    let bad = good.replace("86400", "31557601");
    assert_eq!(
        only(&with_mta_sts(healthy(), Some(&bad)), Code::MtastsInvalid),
        Verdict::Degraded
    );
}

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
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
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
fn refused_and_unreachable() {
    let mut f = healthy();
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::Refused);
    assert_eq!(only(&f, Code::SmtpRefused), Verdict::Broken);
    let mut f = healthy();
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::TimedOut { ms: 10_000 });
    assert_eq!(only(&f, Code::SmtpUnreachable), Verdict::Broken);
}

#[test]
fn egress_blocked_is_inconclusive_not_unreachable() {
    let connected = ConnectOutcome::Connected {
        local: "10.0.0.1:1".parse().unwrap(),
        ms: 1,
    };
    // Dropped (timeout) and rejected (refused: ufw/iptables REJECT) egress alike.
    for (target, canary) in [
        (
            ConnectOutcome::TimedOut { ms: 10_000 },
            ConnectOutcome::TimedOut { ms: 5000 },
        ),
        (ConnectOutcome::Refused, ConnectOutcome::Refused),
        (
            ConnectOutcome::Error {
                detail: "Operation not permitted".into(),
            },
            ConnectOutcome::Error {
                detail: "Operation not permitted".into(),
            },
        ),
    ] {
        let mut f = healthy();
        *smtp(&mut f) = SmtpFacts::new(HOST, 25, target.clone());
        f.vantage.egress = vec![egress(Family::Ipv4, canary)];
        assert_eq!(only(&f, Code::ProbeEgressBlocked), Verdict::Inconclusive);
        let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
        assert_eq!(r.findings[0].subject, crate::finding::THIS_MACHINE);
        assert!(
            r.findings[0]
                .evidence
                .iter()
                .any(|e| e.contains("canary.example"))
        );
        // A working canary means the failure is the target's.
        f.vantage.egress = vec![egress(Family::Ipv4, connected.clone())];
        let want = match target {
            ConnectOutcome::Refused => Some(Code::SmtpRefused),
            ConnectOutcome::TimedOut { .. } => Some(Code::SmtpUnreachable),
            _ => None,
        };
        if let Some(code) = want {
            assert_eq!(only(&f, code), Verdict::Broken);
            let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
            assert!(
                r.findings[0].evidence.iter().any(|e| e.contains("works")),
                "{:?}",
                r.findings[0]
            );
        }
    }
    // Blocked IPv6 egress says nothing about an IPv4 address.
    let mut f = healthy();
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::Refused);
    f.vantage.egress = vec![egress(Family::Ipv6, ConnectOutcome::Refused)];
    assert_eq!(only(&f, Code::SmtpRefused), Verdict::Broken);
}

#[test]
fn no_route_from_here_is_our_vantage_point() {
    // An IPv6-only MX seen from a machine without IPv6: inconclusive, not unreachable.
    let mut f = healthy();
    let no_route = ConnectOutcome::Error {
        detail: "no route from this machine to [2001:db8::25]:25 (Network is unreachable)".into(),
    };
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, no_route.clone());
    assert_eq!(only(&f, Code::ProbeEgressBlocked), Verdict::Inconclusive);

    // The same address next to an IPv4 address that accepts mail: nothing to report.
    let mut f = healthy();
    let mut v6 = address_ok();
    v6.ip = "2001:db8::25".parse().unwrap();
    v6.smtp = Some(SmtpFacts::new(HOST, 25, no_route));
    v6.ptr = None;
    v6.dnsbl.clear();
    f.hosts[0].addresses.push(v6);
    f.scope.allow_private = true;
    let (v, codes) = run(&f);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
}

#[test]
fn one_dead_mx_of_two_is_degraded() {
    let mut f = healthy();
    let mut dead = host_ok();
    dead.host = "mx2.example.test".into();
    dead.preference = 20;
    dead.addresses[0].smtp = Some(SmtpFacts::new(HOST, 25, ConnectOutcome::Refused));
    f.hosts.push(dead);
    assert_eq!(only(&f, Code::SmtpRefused), Verdict::Degraded);
}

#[test]
fn greeting_problems() {
    let mut f = healthy();
    cut_after_greeting(smtp(&mut f));
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.outcome = StepOutcome::TimedOut;
    assert_eq!(only(&f, Code::SmtpNoGreeting), Verdict::Broken);

    // Slow from 10 s after the connect; postscreen's 6–7 s greet-wait is not slow.
    let mut f = healthy();
    smtp(&mut f).greeting.as_mut().unwrap().ms = 10_000;
    assert_eq!(only(&f, Code::SmtpSlowGreeting), Verdict::Degraded);
    let mut f = healthy();
    smtp(&mut f).greeting.as_mut().unwrap().ms = 7_000;
    assert_eq!(run(&f), (Verdict::Ok, vec![]));

    let mut f = healthy();
    cut_after_greeting(smtp(&mut f));
    smtp(&mut f).greeting.as_mut().unwrap().outcome = StepOutcome::Replied {
        reply: reply(554, "5.3.2 No SMTP service here"),
    };
    assert_eq!(only(&f, Code::SmtpGreetingRejected), Verdict::Broken);

    // 421 at the greeting is a deferral (too busy), not a refusal.
    let mut f = healthy();
    cut_after_greeting(smtp(&mut f));
    smtp(&mut f).greeting.as_mut().unwrap().outcome = StepOutcome::Replied {
        reply: reply(421, "4.7.0 Too many connections, try again later"),
    };
    smtp(&mut f).retried = vec!["greeting 421 4.7.0 Too many connections".into()];
    assert_eq!(only(&f, Code::SmtpTempfail), Verdict::Degraded);
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("retried once"))
    );
}

#[test]
fn banner_checks() {
    let severity_of = |f: &Facts| {
        let r = super::diagnose(f, &Policy::default(), DOMAIN, 1);
        (
            r.verdict,
            r.findings
                .iter()
                .map(|x| (x.code, x.severity))
                .collect::<Vec<_>>(),
        )
    };
    // Unresolvable name, but the IP's PTR is forward-confirmed (a provider's node name): info.
    let mut f = healthy();
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.hostname = Some("node17.example.test".into());
    g.hostname_lookups = Some(AddressLookups {
        a: Lookup::NxDomain,
        aaaa: Lookup::NxDomain,
    });
    assert_eq!(
        severity_of(&f),
        (
            Verdict::Ok,
            vec![(Code::SmtpBannerUnresolvable, Severity::Info)]
        )
    );
    // …and without a forward-confirmed PTR: a warning (the seed's "publicly resolvable name").
    addr(&mut f).ptr.as_mut().unwrap().forward[0].lookup = Lookup::NxDomain;
    let (v, found) = severity_of(&f);
    assert_eq!(v, Verdict::Degraded);
    assert!(
        found.contains(&(Code::SmtpBannerUnresolvable, Severity::Warning)),
        "{found:?}"
    );

    // Not a public name at all: a special-use suffix, or no dot.
    let mut f = healthy();
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.hostname = Some("mail.corp.localdomain".into());
    assert_eq!(
        severity_of(&f),
        (
            Verdict::Degraded,
            vec![(Code::SmtpBannerUnresolvable, Severity::Warning)]
        )
    );
    let mut f = healthy();
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.outcome = StepOutcome::Replied {
        reply: reply(220, "localhost ESMTP Postfix"),
    };
    g.hostname = None;
    g.hostname_lookups = None;
    assert_eq!(
        severity_of(&f),
        (
            Verdict::Degraded,
            vec![(Code::SmtpBannerUnresolvable, Severity::Warning)]
        )
    );

    // Resolves, but not to the IP and not its PTR: info (pools and big providers do this).
    let mut f = healthy();
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.hostname = Some("mx.google.example".into());
    g.hostname_lookups = Some(AddressLookups {
        a: answer(vec!["45.33.99.99".parse().unwrap()]),
        aaaa: Lookup::NoData,
    });
    assert_eq!(
        severity_of(&f),
        (
            Verdict::Ok,
            vec![(Code::SmtpBannerMismatch, Severity::Info)]
        )
    );

    // Matching the PTR name is enough, even if the name resolves elsewhere.
    let mut f = healthy();
    addr(&mut f).ptr.as_mut().unwrap().lookup =
        answer(vec![HOST.into(), "alias.example.test".into()]);
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.hostname = Some("alias.example.test".into());
    g.hostname_lookups = Some(AddressLookups {
        a: answer(vec!["45.33.99.99".parse().unwrap()]),
        aaaa: Lookup::NoData,
    });
    assert!(run(&f).1.is_empty());

    // No hostname token: info only, verdict stays ok.
    let mut f = healthy();
    let g = smtp(&mut f).greeting.as_mut().unwrap();
    g.outcome = StepOutcome::Replied {
        reply: reply(220, "ESMTP ready"),
    };
    g.hostname = None;
    g.hostname_lookups = None;
    assert_eq!(
        severity_of(&f),
        (
            Verdict::Ok,
            vec![(Code::SmtpBannerUnresolvable, Severity::Info)]
        )
    );
}

#[test]
fn helo_rejected_and_helo_only_server() {
    let mut f = healthy();
    let s = smtp(&mut f);
    s.ehlo = Some(step(
        "EHLO probe.example.net",
        502,
        "5.5.2 Error: command not recognized",
    ));
    s.helo = Some(step("HELO probe.example.net", 501, "5.5.2 go away"));
    s.extensions.clear();
    s.starttls = None;
    s.mail = None;
    s.rcpt = None;
    assert_eq!(only(&f, Code::SmtpHeloRejected), Verdict::Broken);

    let mut f = healthy();
    let s = smtp(&mut f);
    s.ehlo = Some(step(
        "EHLO probe.example.net",
        502,
        "5.5.2 Error: command not recognized",
    ));
    s.helo = Some(step("HELO probe.example.net", 250, HOST));
    s.extensions.clear();
    s.starttls = None;
    assert_eq!(only(&f, Code::SmtpStarttlsMissing), Verdict::Degraded);
}

#[test]
fn starttls_missing_and_failed() {
    let mut f = healthy();
    let s = smtp(&mut f);
    s.extensions.retain(|e| e != "STARTTLS");
    s.starttls = None;
    assert_eq!(only(&f, Code::SmtpStarttlsMissing), Verdict::Degraded);

    let mut f = healthy();
    let s = smtp(&mut f);
    let st = s.starttls.as_mut().unwrap();
    st.handshake = Some(Err("received fatal alert: InternalError".into()));
    st.ehlo = None;
    s.retried_without_tls = true;
    assert_eq!(only(&f, Code::SmtpStarttlsFailed), Verdict::Degraded);

    let mut f = healthy();
    let st = smtp(&mut f).starttls.as_mut().unwrap();
    st.command = step(
        "STARTTLS",
        454,
        "4.7.0 TLS not available due to local problem",
    );
    st.handshake = None;
    st.ehlo = None;
    assert_eq!(only(&f, Code::SmtpStarttlsFailed), Verdict::Degraded);
}

fn with_tls(edit: impl FnOnce(&mut TlsFacts)) -> Facts {
    let mut f = healthy();
    let st = smtp(&mut f).starttls.as_mut().unwrap();
    if let Some(Ok(tls)) = st.handshake.as_mut() {
        edit(tls);
    }
    f
}

#[test]
fn certificate_problems() {
    let f = with_tls(|t| {
        t.problems.push(CertProblem::Untrusted {
            detail: "UnknownIssuer".into(),
        });
    });
    assert_eq!(only(&f, Code::TlsCertUntrusted), Verdict::Degraded);

    let f = with_tls(|t| {
        t.chain[0].not_after = NOW - 86_400;
        t.problems.push(CertProblem::Expired {
            detail: "expired".into(),
        });
    });
    assert_eq!(only(&f, Code::TlsCertExpired), Verdict::Degraded);

    let f = with_tls(|t| {
        t.problems.push(CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec!["other.example.test".into()],
        });
    });
    assert_eq!(only(&f, Code::TlsCertNameMismatch), Verdict::Degraded);

    let f = with_tls(|t| t.chain[0].not_after = NOW + 86_400 * 3);
    assert_eq!(only(&f, Code::TlsCertExpiring), Verdict::Degraded);

    let f = with_tls(|t| t.version = "TLSv1.1".into());
    assert_eq!(only(&f, Code::TlsLegacyVersion), Verdict::Degraded);

    // Several problems at once are all reported.
    let f = with_tls(|t| {
        t.problems
            .push(CertProblem::Untrusted { detail: "x".into() });
        t.problems.push(CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec![],
        });
    });
    assert_eq!(
        run(&f).1,
        vec![Code::TlsCertUntrusted, Code::TlsCertNameMismatch]
    );
}

fn null_retry(mail: (u16, &str), rcpt: Option<(u16, &str)>) -> NullSenderRetry {
    NullSenderRetry {
        mail: step("MAIL FROM:<>", mail.0, mail.1),
        rcpt: rcpt.map(|(c, t)| step(&format!("RCPT TO:<postmaster@{DOMAIN}>"), c, t)),
    }
}

#[test]
fn mail_from_outcomes() {
    // Our sender refused, the null sender refused too: the target refuses bounces.
    let mut f = healthy();
    let s = smtp(&mut f);
    s.mail = Some(step(
        "MAIL FROM:<probe@example.net>",
        553,
        "5.7.1 Command rejected",
    ));
    s.rcpt = None;
    s.null_sender = Some(null_retry((553, "5.7.1 Command rejected"), None));
    assert_eq!(only(&f, Code::SmtpMailRejected), Verdict::Broken);
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("MAIL FROM:<>"))
    );

    // Our sender refused, the null sender accepted and postmaster too: about us, domain ok.
    let mut f = healthy();
    f.vantage = good_vantage();
    let s = smtp(&mut f);
    s.mail = Some(step(
        "MAIL FROM:<probe@example.net>",
        553,
        "5.1.8 <probe@example.net>: Sender address rejected: Domain not found",
    ));
    s.rcpt = None;
    s.null_sender = Some(null_retry((250, "2.1.0 Ok"), Some((250, "2.1.5 Ok"))));
    assert_eq!(only(&f, Code::ProbeIdentity), Verdict::Ok);
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].severity, Severity::Inconclusive);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("Sender address rejected"))
    );
    assert!(r.findings[0].evidence.iter().any(|e| e.contains(OUR_NAME)));

    // Exim's stock `require verify = sender`: refused at RCPT, <> accepted.
    let mut f = healthy();
    let s = smtp(&mut f);
    s.rcpt = Some(Step {
        command: format!("RCPT TO:<postmaster@{DOMAIN}>"),
        outcome: StepOutcome::Replied {
            reply: Reply {
                code: 550,
                enhanced: None,
                lines: vec![
                    "550-Verification failed for <postmaster@probe.localdomain>".into(),
                    "550-Unrouteable address".into(),
                    "550 Sender verify failed".into(),
                ],
            },
        },
        ms: 3,
    });
    s.null_sender = Some(null_retry((250, "OK"), Some((250, "Accepted"))));
    assert_eq!(only(&f, Code::ProbeIdentity), Verdict::Ok);
    // Without the retry (it could not be made), the refusal is still about us.
    smtp(&mut f).null_sender = None;
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::SmtpProbeBlocked, Code::ProbeIdentity]);
    assert_eq!(v, Verdict::Inconclusive);

    // A drop right after MAIL sent alone: the seed's "RBL problem on your sending IP" — ours.
    let mut f = healthy();
    f.vantage = good_vantage();
    let s = smtp(&mut f);
    s.mail.as_mut().unwrap().outcome = StepOutcome::Closed;
    s.rcpt = None;
    assert_eq!(
        only(&f, Code::SmtpDisconnectAfterMail),
        Verdict::Inconclusive
    );
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains(OUR_IP) && e.contains("not listed")),
        "{:?}",
        r.findings[0]
    );
    // The same drop after a pipelined MAIL+RCPT cannot be pinned on MAIL.
    smtp(&mut f).mail_pipelined = true;
    assert_eq!(only(&f, Code::SmtpIncomplete), Verdict::Inconclusive);

    let mut f = healthy();
    let s = smtp(&mut f);
    s.mail = Some(step(
        "MAIL FROM:<probe@example.net>",
        451,
        "4.3.0 try later",
    ));
    s.rcpt = None;
    assert_eq!(only(&f, Code::SmtpTempfail), Verdict::Degraded);
}

#[test]
fn rcpt_outcomes() {
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 <postmaster@example.test>: Relay access denied",
    ));
    assert_eq!(only(&f, Code::SmtpRelayDenied), Verdict::Broken);

    // Postfix's stock defer_unauth_destination: 454 is still "relay denied".
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        454,
        "4.7.1 <postmaster@example.test>: Relay access denied",
    ));
    assert_eq!(only(&f, Code::SmtpRelayDenied), Verdict::Broken);

    // Postmaster unknown: the domain is hosted, postmaster missing — degraded, not broken.
    for text in [
        "5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown in virtual mailbox table",
        "5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown in relay recipient table",
        "5.4.1 Recipient address rejected: Access denied. AS(201806281)",
    ] {
        let mut f = healthy();
        smtp(&mut f).rcpt = Some(step("RCPT TO:<postmaster@example.test>", 550, text));
        assert_eq!(
            only(&f, Code::SmtpNoPostmaster),
            Verdict::Degraded,
            "{text}"
        );
    }

    // The domain is not served here.
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        550,
        "5.1.2 <postmaster@example.test>: Recipient address rejected: Domain not found",
    ));
    assert_eq!(only(&f, Code::SmtpRcptRejected), Verdict::Broken);
    // Closed at RCPT.
    let mut f = healthy();
    smtp(&mut f).rcpt.as_mut().unwrap().outcome = StepOutcome::Closed;
    assert_eq!(only(&f, Code::SmtpRcptRejected), Verdict::Broken);

    // Greylisting is inconclusive; another 4xx is a tempfail.
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        450,
        "4.2.0 Greylisted, come back later",
    ));
    assert_eq!(only(&f, Code::SmtpGreylisted), Verdict::Inconclusive);
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        452,
        "4.3.1 Insufficient system storage",
    ));
    assert_eq!(only(&f, Code::SmtpTempfail), Verdict::Degraded);
}

#[test]
fn broken_only_when_every_address_failed_hard() {
    let dead = |f: &mut Facts, outcome: ConnectOutcome| {
        let mut h = host_ok();
        h.host = "mx2.example.test".into();
        h.preference = 20;
        let ip: IpAddr = "45.33.10.11".parse().unwrap();
        h.addresses[0].ip = ip;
        h.addresses[0].ptr.as_mut().unwrap().forward[0].lookup = answer(vec![ip]);
        h.addresses[0].smtp = Some(SmtpFacts::new("mx2.example.test", 25, outcome));
        f.hosts.push(h);
    };
    // A greylisting address next to a filtered one: not broken.
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        451,
        "4.7.1 Greylisting in action, please come back later",
    ));
    dead(&mut f, ConnectOutcome::TimedOut { ms: 10_000 });
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::SmtpUnreachable, Code::SmtpGreylisted]);
    assert_eq!(v, Verdict::Degraded);
    // A deferring (tempfail) address next to a refusing one: not broken.
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        451,
        "4.3.0 local error",
    ));
    dead(&mut f, ConnectOutcome::Refused);
    assert_eq!(run(&f).0, Verdict::Degraded);
    // An address that blocked the prober next to a dead one: not broken.
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Client host [10.9.9.9] blocked using zen.spamhaus.org",
    ));
    dead(&mut f, ConnectOutcome::Refused);
    assert_eq!(run(&f).0, Verdict::Degraded);
    // Both dead: broken.
    let mut f = healthy();
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::Refused);
    dead(&mut f, ConnectOutcome::TimedOut { ms: 10_000 });
    assert_eq!(run(&f).0, Verdict::Broken);
}

#[test]
fn a_stall_before_rcpt_always_says_why() {
    // Connected and greeted, but no EHLO facts at all (the session deadline struck): the
    // address carries smtp.incomplete rather than nothing.
    let mut f = healthy();
    cut_after_greeting(smtp(&mut f));
    assert_eq!(only(&f, Code::SmtpIncomplete), Verdict::Inconclusive);
}

#[test]
fn open_relay_is_critical_and_only_when_accepted() {
    let mut f = healthy();
    smtp(&mut f).relay_test = Some(step(
        "RCPT TO:<relay-test@outside.example>",
        250,
        "2.1.5 Ok",
    ));
    f.scope.open_relay_test = true;
    assert_eq!(only(&f, Code::SmtpOpenRelay), Verdict::Broken);
    smtp(&mut f).relay_test = Some(step(
        "RCPT TO:<relay-test@outside.example>",
        554,
        "5.7.1 Relay access denied",
    ));
    assert!(run(&f).1.is_empty());
}

#[test]
fn rejections_naming_our_nated_address_are_probe_blocked() {
    // Behind NAT the server names our public address, not the socket's local one.
    let refusal = "550 198.51.100.7 is not welcome here";
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step("RCPT TO:<postmaster@example.test>", 550, refusal));
    // Our public address unknown: an address the refusal names is most likely ours.
    assert_eq!(only(&f, Code::SmtpProbeBlocked), Verdict::Inconclusive);
    // Our public address known, and another one named: the target's refusal.
    let mut other = f.clone();
    other.vantage = good_vantage();
    let elsewhere: IpAddr = "203.0.113.99".parse().unwrap();
    other.vantage.public_ips[0].ip = elsewhere;
    other.vantage.public_ips[0].ptr.as_mut().unwrap().forward[0].lookup = answer(vec![elsewhere]);
    other.vantage.helo_lookups.as_mut().unwrap().a = answer(vec![elsewhere]);
    assert_eq!(only(&other, Code::SmtpRcptRejected), Verdict::Broken);
    // Known as configured/learned vantage fact…
    let mut f2 = f.clone();
    f2.vantage = good_vantage();
    assert_eq!(only(&f2, Code::SmtpProbeBlocked), Verdict::Inconclusive);
    // …or echoed by this very server in its EHLO reply.
    smtp(&mut f).echoed_ip = Some(OUR_IP.parse().unwrap());
    assert_eq!(only(&f, Code::SmtpProbeBlocked), Verdict::Inconclusive);
    // Relay wording wins even when the text names us.
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Relaying denied for 198.51.100.7",
    ));
    assert_eq!(only(&f, Code::SmtpRelayDenied), Verdict::Broken);
}

#[test]
fn vantage_findings_appear_only_where_they_bear_on_the_result() {
    let mut poor = good_vantage();
    poor.helo_lookups = Some(AddressLookups {
        a: Lookup::NxDomain,
        aaaa: Lookup::NxDomain,
    });
    let ours: IpAddr = OUR_IP.parse().unwrap();
    poor.public_ips[0].dnsbl[0].answer = Some(answer(vec![Ipv4Addr::new(127, 0, 0, 2)]));
    let _ = ours;
    // All accepted: our poor identity and listing do not bear on anything.
    let mut f = healthy();
    f.vantage = poor.clone();
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
    // A relay denial, a refused port or greylisting cannot be about us: nothing added.
    let mut f = healthy();
    f.vantage = poor.clone();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Relay access denied",
    ));
    assert_eq!(only(&f, Code::SmtpRelayDenied), Verdict::Broken);
    let mut f = healthy();
    f.vantage = poor.clone();
    *smtp(&mut f) = SmtpFacts::new(HOST, 25, ConnectOutcome::Refused);
    assert_eq!(only(&f, Code::SmtpRefused), Verdict::Broken);
    // A refusal there that they may explain: shown, about this machine, next to the target's
    // code.
    let mut f = healthy();
    f.vantage = poor;
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Command rejected",
    ));
    let (v, codes) = run(&f);
    assert_eq!(v, Verdict::Broken);
    assert_eq!(
        codes,
        vec![
            Code::SmtpRcptRejected,
            Code::ProbeIdentity,
            Code::ProbeListed
        ]
    );
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    let identity = r
        .findings
        .iter()
        .find(|x| x.code == Code::ProbeIdentity)
        .unwrap();
    assert!(
        identity
            .evidence
            .iter()
            .any(|e| e.contains("does not resolve"))
    );
    assert_eq!(identity.subject, crate::finding::THIS_MACHINE);
    // A good identity adds nothing to the same refusal.
    let mut f = healthy();
    f.vantage = good_vantage();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Relay access denied",
    ));
    assert_eq!(only(&f, Code::SmtpRelayDenied), Verdict::Broken);
}

#[test]
fn the_vantage_view_says_what_is_wrong_with_us() {
    let good = good_vantage();
    let view = super::vantage::view(&good, &healthy().dnsbl_zones);
    assert!(view.findings.is_empty(), "{:?}", view.findings);
    assert!(!view.port25_blocked);
    assert!(
        view.lines
            .iter()
            .any(|l| l.contains(OUR_IP) && l.contains("forward-confirmed"))
    );

    let mut bad = good_vantage();
    bad.egress = vec![
        egress(Family::Ipv4, ConnectOutcome::Refused),
        egress(
            Family::Ipv6,
            ConnectOutcome::Unreachable {
                detail: "no route".into(),
            },
        ),
    ];
    bad.sender_domain.as_mut().unwrap().mx = Lookup::NxDomain;
    bad.public_ips[0].ptr.as_mut().unwrap().lookup = Lookup::NxDomain;
    bad.public_ips[0].ptr.as_mut().unwrap().forward.clear();
    let mut zones = healthy().dnsbl_zones;
    zones[0].positive = failed(DnsFailure::Refused);
    let view = super::vantage::view(&bad, &zones);
    assert!(view.port25_blocked);
    let codes: Vec<Code> = view.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        vec![
            Code::ProbeEgressBlocked,
            Code::ProbeEgressBlocked,
            Code::ProbeIdentity,
            Code::DnsblUnavailable
        ]
    );
    let identity = &view.findings[2];
    assert!(
        identity
            .evidence
            .iter()
            .any(|e| e.contains("no reverse DNS"))
    );
    assert!(
        identity
            .evidence
            .iter()
            .any(|e| e.contains("sender domain"))
    );
    // One family open is a usable vantage point.
    bad.egress[1] = egress(
        Family::Ipv6,
        ConnectOutcome::Connected {
            local: "[2001:db8::1]:1".parse().unwrap(),
            ms: 1,
        },
    );
    assert!(!super::vantage::view(&bad, &zones).port25_blocked);
}

#[test]
fn rejections_naming_us_are_probe_blocked() {
    let mut f = healthy();
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        554,
        "5.7.1 Service unavailable; Client host [10.9.9.9] blocked using zen.spamhaus.org",
    ));
    assert_eq!(only(&f, Code::SmtpProbeBlocked), Verdict::Inconclusive);

    let mut f = healthy();
    cut_after_greeting(smtp(&mut f));
    smtp(&mut f).greeting.as_mut().unwrap().outcome = StepOutcome::Replied {
        reply: reply(554, "5.7.1 Your IP is listed in our block list"),
    };
    assert_eq!(only(&f, Code::SmtpProbeBlocked), Verdict::Inconclusive);

    let mut f = healthy();
    smtp(&mut f).mail = Some(step(
        "MAIL FROM:<probe@example.net>",
        550,
        "5.7.25 Client host rejected: cannot find your hostname, [10.9.9.9]",
    ));
    smtp(&mut f).rcpt = None;
    assert_eq!(only(&f, Code::SmtpProbeBlocked), Verdict::Inconclusive);
}

fn listed(codes: &[[u8; 4]], zone: &str) -> Facts {
    let mut f = healthy();
    f.dnsbl_zones[0].zone = zone.into();
    let c = &mut addr(&mut f).dnsbl[0];
    c.zone = zone.into();
    c.answer = Some(answer(codes.iter().map(|c| Ipv4Addr::from(*c)).collect()));
    c.txt = vec!["listed for testing".into()];
    f
}

#[test]
fn dnsbl_listed_and_unavailable() {
    let f = listed(&[[127, 0, 0, 2]], "bl.test");
    assert_eq!(only(&f, Code::DnsblListed), Verdict::Degraded);
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].severity, Severity::Warning);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("TXT: listed for testing"))
    );

    // A policy listing (PBL) is info: the domain stays ok.
    let f = listed(&[[127, 0, 0, 10]], "zen.spamhaus.org");
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].code, Code::DnsblListed);
    assert_eq!(r.findings[0].severity, Severity::Info);
    assert_eq!(r.verdict, Verdict::Ok);

    // A zone that cannot answer us is about this machine: shown, once per zone, and it does
    // not make the domain inconclusive by itself.
    let f = listed(&[[127, 255, 255, 254]], "zen.spamhaus.org");
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);
    let r = super::diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].subject, crate::finding::THIS_MACHINE);

    let mut f = healthy();
    addr(&mut f).dnsbl[0].answer = Some(failed(DnsFailure::Refused));
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);

    let mut f = healthy();
    f.dnsbl_zones[0].positive = Lookup::NxDomain;
    let mut second = address_ok();
    let ip: IpAddr = "45.33.10.11".parse().unwrap();
    second.ip = ip;
    second.ptr.as_mut().unwrap().forward[0].lookup = answer(vec![ip]);
    f.hosts[0].addresses.push(second);
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);
}

// ---- Mail authentication: SPF, DMARC, TLS-RPT, and the "MX IP that sends" rule ----

/// The findings with their severities, and the verdict.
fn judged(f: &Facts) -> (Verdict, Vec<(Code, Severity)>) {
    let (v, _) = run(f);
    let r = super::diagnose(f, &Policy::default(), &f.domain, 1);
    (v, r.findings.iter().map(|x| (x.code, x.severity)).collect())
}

/// The one finding with `code`.
fn the(f: &Facts, code: Code) -> crate::finding::Finding {
    let r = super::diagnose(f, &Policy::default(), &f.domain, 1);
    let mut found: Vec<_> = r.findings.into_iter().filter(|x| x.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} expected");
    found.remove(0)
}

#[test]
fn good_authentication_is_clean() {
    let f = healthy_with_auth();
    let (v, codes) = run(&f);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), f);
}

#[test]
fn spf_missing_and_its_counter_cases() {
    let mut z = crate::spf::MemoryZone::new();
    z.add_txt(DOMAIN, "google-site-verification=abc");
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfMissing), Verdict::Degraded);
    let found = the(&f, Code::SpfMissing);
    assert!(
        found.evidence[0].contains("none of them starts with `v=spf1`"),
        "{found:?}"
    );
    assert!(found.advice.contains("v=spf1 mx -all"));

    // A failed lookup is not a missing record.
    let mut z = crate::spf::MemoryZone::new();
    z.fail(DOMAIN, DnsFailure::ServFail);
    let f = with_spf_zone(&z);
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::SpfLookupFailed, Severity::Inconclusive)]
        )
    );
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("SERVFAIL"));

    // When the domain itself does not resolve, the DNS finding says it all.
    let mut f = with_spf_zone(&crate::spf::MemoryZone::new());
    auth(&mut f).dmarc = Some(dmarc_facts(&[]));
    f.mx = Lookup::NxDomain;
    f.hosts.clear();
    assert_eq!(only(&f, Code::DnsNxdomain), Verdict::Broken);
}

#[test]
fn spf_multiple_and_invalid() {
    let mut z = spf_zone("v=spf1 mx -all");
    z.add_txt(DOMAIN, "v=spf1 ip4:192.0.2.1 -all");
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfMultiple), Verdict::Degraded);
    assert_eq!(the(&f, Code::SpfMultiple).evidence.len(), 2);

    let f = with_spf("v=spf1 mx ip4:192.0.2.300 -all");
    assert_eq!(only(&f, Code::SpfInvalid), Verdict::Degraded);
    let found = the(&f, Code::SpfInvalid);
    assert_eq!(found.severity, Severity::Error);
    assert!(found.evidence[0].ends_with("v=spf1 mx ip4:192.0.2.300 -all"));
    assert!(
        found.evidence[1].contains("at byte 10, the term `ip4:192.0.2.300`"),
        "{found:?}"
    );

    // An include of a domain without SPF is a permanent error too.
    let mut z = spf_zone("v=spf1 mx include:gone.example.net -all");
    z.add_txt("gone.example.net", "not spf");
    let f = with_spf_zone(&z);
    let found = the(&f, Code::SpfInvalid);
    assert!(
        found.summary.contains("include:gone.example.net"),
        "{found:?}"
    );
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("`include:gone.example.net` → gone.example.net"))
    );
    assert_eq!(run(&f).1, vec![Code::SpfInvalid]);

    // A permanent error only an evaluation sees: `mx` with more than 10 MX names.
    let mut z = spf_zone("v=spf1 mx -all");
    for i in 2..=11 {
        z.add_mx(DOMAIN, 10 + i, &format!("mx{i}.example.test"));
    }
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfInvalid), Verdict::Degraded);
    let found = the(&f, Code::SpfInvalid);
    assert!(found.evidence[1].contains("11 MX records"), "{found:?}");

    // Counter-case: a valid include.
    let mut z = spf_zone("v=spf1 mx include:spf.example.net -all");
    z.add_txt("spf.example.net", "v=spf1 ip4:198.51.100.0/24 -all");
    assert!(run(&with_spf_zone(&z)).1.is_empty());
}

#[test]
fn spf_too_many_lookups_over_the_tree_and_voids() {
    // 1 (mx) + 10 includes = 11 terms.
    let mut record = "v=spf1 mx".to_owned();
    let mut z = crate::spf::MemoryZone::new();
    for i in 0..10 {
        record.push_str(&format!(" include:s{i}.example.net"));
        z.add_txt(
            &format!("s{i}.example.net"),
            &format!("v=spf1 ip4:198.51.100.{i} -all"),
        );
    }
    record.push_str(" -all");
    z.add_txt(DOMAIN, &record)
        .add_mx(DOMAIN, 10, HOST)
        .add_address(HOST, ip());
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfTooManyLookups), Verdict::Degraded);
    let found = the(&f, Code::SpfTooManyLookups);
    assert!(found.summary.contains("needs 11 DNS lookups"), "{found:?}");
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("`include:s9.example.net` → s9.example.net"))
    );
    assert!(found.advice.contains("flatten"));

    // Counter-case: exactly 10.
    let record = record.replace(" include:s9.example.net", "");
    let mut z2 = crate::spf::MemoryZone::new();
    for i in 0..9 {
        z2.add_txt(
            &format!("s{i}.example.net"),
            &format!("v=spf1 ip4:198.51.100.{i} -all"),
        );
    }
    z2.add_txt(DOMAIN, &record)
        .add_mx(DOMAIN, 10, HOST)
        .add_address(HOST, ip());
    assert!(run(&with_spf_zone(&z2)).1.is_empty());

    // Three void lookups (names without addresses) for a sender the record does not list.
    let f = with_spf("v=spf1 mx a:old1.example.test a:old2.example.test a:old3.example.test -all");
    assert_eq!(only(&f, Code::SpfTooManyLookups), Verdict::Degraded);
    let found = the(&f, Code::SpfTooManyLookups);
    assert!(found.summary.contains("do not exist"), "{found:?}");
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("void lookups") && e.contains(": 3;"))
    );
    // Two are allowed.
    assert!(
        run(&with_spf(
            "v=spf1 mx a:old1.example.test a:old2.example.test -all"
        ))
        .1
        .is_empty()
    );
}

#[test]
fn spf_permissive_endings() {
    for record in [
        "v=spf1 mx +all",
        "v=spf1 mx ?all",
        "v=spf1 mx",
        "v=spf1 mx all",
    ] {
        let f = with_spf(record);
        assert_eq!(only(&f, Code::SpfPermissive), Verdict::Degraded, "{record}");
    }
    for record in ["v=spf1 mx ~all", "v=spf1 mx -all"] {
        assert!(run(&with_spf(record)).1.is_empty(), "{record}");
    }
    // A redirect decides: to a strict record it is fine, to a lax one it is not.
    let mut z = spf_zone("v=spf1 redirect=_spf.example.test");
    z.add_txt("_spf.example.test", "v=spf1 mx -all");
    assert!(run(&with_spf_zone(&z)).1.is_empty());
    let mut z = spf_zone("v=spf1 redirect=_spf.example.test");
    z.add_txt("_spf.example.test", "v=spf1 mx ?all");
    let f = with_spf_zone(&z);
    assert!(the(&f, Code::SpfPermissive).evidence[0].starts_with("TXT _spf.example.test"));
}

#[test]
fn spf_lookup_failed_below_the_top() {
    // An include that cannot be looked up.
    let mut z = spf_zone("v=spf1 mx include:down.example.net -all");
    z.fail("down.example.net", DnsFailure::Timeout);
    let f = with_spf_zone(&z);
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::SpfLookupFailed, Severity::Inconclusive)]
        )
    );
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("`include:down.example.net`"));
    // An `a:` whose lookup fails: only the check of an unlisted sender sees it.
    let mut z = spf_zone("v=spf1 mx a:down.example.net -all");
    z.fail("down.example.net", DnsFailure::ServFail);
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfLookupFailed), Verdict::Inconclusive);
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("temperror"));
}

#[test]
fn spf_ptr_is_info() {
    let f = with_spf("v=spf1 mx ptr -all");
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::SpfPtrUsed, Severity::Info)])
    );
    assert!(the(&f, Code::SpfPtrUsed).evidence[0].contains("`ptr` in the record of example.test"));
    assert!(run(&with_spf("v=spf1 mx a -all")).1.is_empty());
}

#[test]
fn dmarc_missing_or_not_looked_up() {
    let f = with_dmarc(&[]);
    assert_eq!(only(&f, Code::DmarcMissing), Verdict::Degraded);
    let found = the(&f, Code::DmarcMissing);
    assert_eq!(found.evidence, ["TXT _dmarc.example.test: NXDOMAIN"]);
    assert!(found.advice.contains("v=DMARC1; p=none; rua=mailto:"));

    // A failed lookup: inconclusive, same code.
    let mut f = healthy_with_auth();
    auth(&mut f).dmarc.as_mut().unwrap().lookups[0] =
        crate::auth::dmarc::DmarcLookup::from_answer(DOMAIN, failed(DnsFailure::ServFail));
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::DmarcMissing, Severity::Inconclusive)]
        )
    );

    // A subdomain without a record of its own is covered by its organizational domain's.
    let mut f = with_dmarc(&[]);
    let d = auth(&mut f).dmarc.as_mut().unwrap();
    d.domain = "mail.example.test".into();
    d.lookups = vec![
        dmarc_lookup("mail.example.test", &[]),
        dmarc_lookup(DOMAIN, &["v=DMARC1; p=reject"]),
    ];
    assert!(run(&f).1.is_empty());
    // …and when neither has one, the evidence names both lookups.
    auth(&mut f).dmarc.as_mut().unwrap().lookups[1] = dmarc_lookup(DOMAIN, &[]);
    assert_eq!(the(&f, Code::DmarcMissing).evidence.len(), 2);
}

#[test]
fn dmarc_invalid_records() {
    let f = with_dmarc(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]);
    assert_eq!(only(&f, Code::DmarcInvalid), Verdict::Degraded);
    assert!(the(&f, Code::DmarcInvalid).summary.contains("apply none"));

    let f = with_dmarc(&["v=DMARC1; p=rejct; rua=mailto:d@example.test"]);
    assert_eq!(only(&f, Code::DmarcInvalid), Verdict::Degraded);
    let found = the(&f, Code::DmarcInvalid);
    assert_eq!(found.severity, Severity::Error);
    assert!(
        found.evidence[1].contains("at byte 10, `p=rejct`"),
        "{found:?}"
    );

    let f = with_dmarc(&["p=reject; v=DMARC1"]);
    let found = the(&f, Code::DmarcInvalid);
    assert!(found.summary.contains("receivers ignore it"), "{found:?}");
    assert_eq!(run(&f).1, vec![Code::DmarcInvalid]);

    let f = with_dmarc(&["v=DMARC1; rua=mailto:d@example.test"]);
    assert!(
        the(&f, Code::DmarcInvalid)
            .summary
            .contains("treat it as `p=none`")
    );

    let f = with_dmarc(&["v=DMARC1; p=reject; rua=d@example.test"]);
    assert!(the(&f, Code::DmarcInvalid).advice.contains("mailto:"));
}

#[test]
fn dmarc_policy_none_is_info() {
    let f = with_dmarc(&["v=DMARC1; p=none; rua=mailto:d@example.test"]);
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::DmarcPolicyNone, Severity::Info)])
    );
    assert!(!the(&f, Code::DmarcPolicyNone).advice.contains("First add"));
    let f = with_dmarc(&["v=DMARC1; p=none"]);
    assert!(
        the(&f, Code::DmarcPolicyNone)
            .advice
            .contains("First add `rua=")
    );
    assert!(run(&with_dmarc(&["v=DMARC1; p=quarantine"])).1.is_empty());

    // Found at the organizational domain: `sp=` applies to a subdomain.
    let mut f = with_dmarc(&[]);
    let d = auth(&mut f).dmarc.as_mut().unwrap();
    d.domain = "mail.example.test".into();
    d.lookups = vec![
        dmarc_lookup("mail.example.test", &[]),
        dmarc_lookup(DOMAIN, &["v=DMARC1; p=reject; sp=none"]),
    ];
    assert!(the(&f, Code::DmarcPolicyNone).summary.contains("sp=none"));
}

#[test]
fn dmarc_reports_to_other_domains_need_their_consent() {
    let record = "v=DMARC1; p=reject; rua=mailto:d@example.test,mailto:x@reports.example.net";
    let authorization = |lookup| {
        crate::auth::dmarc::ReportAuthorization::from_answer(
            "reports.example.net",
            vec!["rua=mailto:x@reports.example.net".into()],
            "example.test._report._dmarc.reports.example.net".into(),
            lookup,
        )
    };
    let mut f = with_dmarc(&[record]);
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(Lookup::NxDomain)];
    assert_eq!(only(&f, Code::DmarcReportUnauthorized), Verdict::Degraded);
    let found = the(&f, Code::DmarcReportUnauthorized);
    assert_eq!(found.severity, Severity::Warning);
    assert!(
        found.evidence[1].contains("example.test._report._dmarc.reports.example.net: NXDOMAIN")
    );

    // Authorized: nothing to say.
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(answer(vec!["v=DMARC1".into()]))];
    assert!(run(&f).1.is_empty());

    // Could not be checked: worth knowing, but reports do not decide delivery.
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(failed(DnsFailure::Timeout))];
    assert_eq!(
        judged(&f),
        (
            Verdict::Ok,
            vec![(Code::DmarcReportUnauthorized, Severity::Info)]
        )
    );
}

#[test]
fn tlsrpt_invalid_and_absent() {
    use crate::auth::tlsrpt::TlsRptFacts;
    let mut f = healthy_with_auth();
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        answer(vec!["v=TLSRPTv1; rua=tls@example.test".into()]),
    ));
    assert_eq!(only(&f, Code::TlsrptInvalid), Verdict::Degraded);
    assert!(the(&f, Code::TlsrptInvalid).evidence[1].contains("mailto:"));

    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        answer(vec![
            "v=TLSRPTv1; rua=mailto:a@example.test".into(),
            "v=TLSRPTv1; rua=mailto:b@example.test".into(),
        ]),
    ));
    assert_eq!(only(&f, Code::TlsrptInvalid), Verdict::Degraded);

    // No record: nothing to say unless MTA-STS or DANE is in use.
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(DOMAIN, Lookup::NxDomain));
    assert!(run(&f).1.is_empty());
    auth(&mut f).mta_sts = Some(crate::auth::mtasts::MtaStsFacts {
        txt: answer(vec!["v=STSv1; id=1".into()]),
        sts_records: vec!["v=STSv1; id=1".into()],
        record: Some(crate::auth::mtasts::parse_record("v=STSv1; id=1")),
        fetch: None,
        policy: None,
        mx: vec![],
    });
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::TlsrptAbsent, Severity::Info)])
    );
    assert!(the(&f, Code::TlsrptAbsent).summary.contains("MTA-STS"));
    // A failed lookup says nothing.
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        failed(DnsFailure::ServFail),
    ));
    assert!(run(&f).1.is_empty());
}

#[test]
fn an_mx_ip_that_sends_for_the_domain() {
    // Authorized directly by `mx` at the top level: the listing is an error.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let found = the(&f, Code::DnsblListed);
    assert_eq!(found.severity, Severity::Error);
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("authorizes 45.33.10.10 directly (`mx`)"))
    );
    assert_eq!(run(&f).0, Verdict::Degraded);
    // A policy listing of a sending address is a warning.
    let mut f = listed(&[[127, 0, 0, 10]], "zen.spamhaus.org");
    f.auth = Some(good_auth());
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);
    // Through an include only: not "sends" by this rule.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let mut z = spf_zone("v=spf1 include:_spf.example.test -all");
    z.add_txt("_spf.example.test", "v=spf1 ip4:45.33.10.0/24 -all");
    let (spf, spf_ips) = spf_facts(&z);
    auth(&mut f).spf = Some(spf);
    auth(&mut f).spf_ips = Some(spf_ips);
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);
    // Authorized by `ip4:` directly, but `-ip4:` first: it does not send.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let (spf, spf_ips) = spf_facts(&spf_zone("v=spf1 -ip4:45.33.10.10 ip4:45.33.10.0/24 -all"));
    auth(&mut f).spf = Some(spf);
    auth(&mut f).spf_ips = Some(spf_ips);
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);

    // The banner name of a sending address is its HELO name: a mismatch is a warning.
    let mismatch = |f: &mut Facts| {
        let g = smtp(f).greeting.as_mut().unwrap();
        g.hostname = Some("mx.google.example".into());
        g.hostname_lookups = Some(AddressLookups {
            a: answer(vec!["45.33.99.99".parse().unwrap()]),
            aaaa: Lookup::NoData,
        });
    };
    let mut f = healthy_with_auth();
    mismatch(&mut f);
    assert_eq!(
        judged(&f),
        (
            Verdict::Degraded,
            vec![(Code::SmtpBannerMismatch, Severity::Warning)]
        )
    );
    // Counter-case: the SPF record lists the address only through an include.
    let mut z = spf_zone("v=spf1 include:_spf.example.test -all");
    z.add_txt("_spf.example.test", "v=spf1 mx -all");
    let mut f = with_spf_zone(&z);
    mismatch(&mut f);
    assert_eq!(
        judged(&f),
        (
            Verdict::Ok,
            vec![(Code::SmtpBannerMismatch, Severity::Info)]
        )
    );
}

#[test]
fn inconclusive_never_hides_a_fault() {
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        450,
        "4.2.0 Greylisted",
    ));
    f.hosts[0].addresses[0].ptr.as_mut().unwrap().lookup = failed(DnsFailure::Timeout);
    let (v, _) = run(&f);
    assert_eq!(v, Verdict::Degraded);
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

#[test]
fn every_code_has_a_scenario_here() {
    // Keeps this file honest: a new code must get a test above (the sender codes: in the
    // sender module's tests).
    let src = concat!(include_str!("tests.rs"), include_str!("../sender/tests.rs"));
    for code in Code::ALL {
        let variant = format!("{code:?}");
        assert!(
            src.contains(&format!("Code::{variant}")),
            "no test names Code::{variant}"
        );
    }
}

/// DNSSEC and DANE: recorded validator answers and the chain the SMTP probe saw.
mod dane {
    use super::*;
    use crate::auth::AuthFacts;
    use crate::auth::dane::{DaneFacts, DaneHost, DnssecState, TlsaRecord, Validated};
    use crate::finding::Finding;

    const LEAF_SPKI: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const CA_CERT: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn secure<T>(records: Vec<T>) -> Validated<T> {
        Validated {
            lookup: answer(records),
            dnssec: DnssecState::Secure,
        }
    }

    fn insecure<T>(records: Vec<T>) -> Validated<T> {
        Validated {
            lookup: answer(records),
            dnssec: DnssecState::Insecure,
        }
    }

    fn bogus<T>(records: Vec<T>) -> Validated<T> {
        Validated {
            lookup: answer(records),
            dnssec: DnssecState::Bogus {
                reason: "the signature expired".into(),
            },
        }
    }

    fn tlsa(usage: u8, selector: u8, matching: u8, data: &str) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector,
            matching,
            data: data.into(),
        }
    }

    fn ee() -> TlsaRecord {
        tlsa(3, 1, 1, LEAF_SPKI)
    }

    /// The healthy domain, its leaf's SPKI digest known and a CA certificate above it, with
    /// these validated TLSA lookup results for its only host (everything else secure).
    fn facts(tlsa: Validated<TlsaRecord>) -> Facts {
        let mut f = with_tls(|t| {
            t.chain[0].spki_sha256 = LEAF_SPKI.into();
            t.chain.push(CertFacts {
                subject: "CN=Test CA".into(),
                sha256: CA_CERT.into(),
                ..CertFacts::default()
            });
        });
        let dane = DaneFacts {
            validator: "validating resolver 127.0.0.1:53; trust anchors: IANA root keys".into(),
            unavailable: None,
            mx: Some(secure(vec![MxRecord {
                preference: 10,
                exchange: HOST.into(),
            }])),
            hosts: vec![DaneHost {
                host: HOST.into(),
                a: secure(vec![ip()]),
                aaaa: Validated {
                    lookup: Lookup::NoData,
                    dnssec: DnssecState::Secure,
                },
                tlsa_name: format!("_25._tcp.{HOST}"),
                tlsa,
            }],
        };
        f.auth = Some(AuthFacts {
            dane: Some(dane),
            ..AuthFacts::default()
        });
        f
    }

    fn dane_mut(f: &mut Facts) -> &mut DaneFacts {
        f.auth.as_mut().unwrap().dane.as_mut().unwrap()
    }

    fn tls_mut(f: &mut Facts) -> &mut TlsFacts {
        match smtp(f).starttls.as_mut().unwrap().handshake.as_mut() {
            Some(Ok(t)) => t,
            _ => unreachable!(),
        }
    }

    fn finding(f: &Facts, code: Code) -> Finding {
        super::super::findings(f, &Policy::default())
            .into_iter()
            .find(|x| x.code == code)
            .unwrap_or_else(|| panic!("no {code}"))
    }

    #[test]
    fn a_servfail_that_our_validator_shows_bogus_breaks_the_domain() {
        // A validating resolver answers SERVFAIL for a DNSSEC-bogus zone; the checker then asks
        // its own validator, which records the MX proof as bogus.
        let mut f = healthy();
        f.mx = failed(DnsFailure::ServFail);
        f.hosts.clear();
        f.auth = Some(AuthFacts {
            dane: Some(DaneFacts {
                validator: "validating resolver 127.0.0.53:53".into(),
                unavailable: None,
                mx: Some(bogus(vec![])),
                hosts: vec![],
            }),
            ..AuthFacts::default()
        });
        let (v, codes) = run(&f);
        assert_eq!(codes, vec![Code::DnsLookupFailed, Code::DnsDnssecBogus]);
        assert_eq!(v, Verdict::Broken);
        // Without that proof, the SERVFAIL stays inconclusive.
        f.auth = None;
        assert_eq!(only(&f, Code::DnsLookupFailed), Verdict::Inconclusive);
    }

    #[test]
    fn a_matching_dane_ee_record_is_valid() {
        let f = facts(secure(vec![ee()]));
        assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);
        let v = finding(&f, Code::DaneValid);
        assert_eq!(v.severity, Severity::Info);
        assert_eq!(v.subject, HOST);
        assert!(v.evidence.iter().any(|e| e.contains("3 1 1")), "{v:?}");
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains(IP) && e.contains("leaf")),
            "{v:?}"
        );
    }

    #[test]
    fn a_matching_dane_ta_record_is_valid() {
        let f = facts(secure(vec![tlsa(2, 0, 1, CA_CERT)]));
        assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);
        let v = finding(&f, Code::DaneValid);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("chain certificate #1")),
            "{v:?}"
        );
        // DANE-TA names the CA, never the leaf; DANE-EE the leaf, never the CA.
        let f = facts(secure(vec![tlsa(2, 1, 1, LEAF_SPKI)]));
        assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
        let f = facts(secure(vec![tlsa(3, 0, 1, CA_CERT)]));
        assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
    }

    #[test]
    fn validated_records_that_match_nothing_are_a_mismatch() {
        let other = "ab".repeat(32);
        let f = facts(secure(vec![tlsa(3, 1, 1, &other)]));
        assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
        let m = finding(&f, Code::DaneMismatch);
        assert_eq!((m.severity, m.subject.as_str()), (Severity::Error, HOST));
        assert!(
            m.evidence
                .iter()
                .any(|e| e.contains(IP) && e.contains(LEAF_SPKI)),
            "the served digest is shown: {m:?}"
        );
        assert!(
            m.advice.contains(&format!("3 1 1 {LEAF_SPKI}")),
            "{}",
            m.advice
        );

        // One matching record among several is enough.
        let f = facts(secure(vec![tlsa(3, 1, 1, &other), ee()]));
        assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);

        // Two addresses, one serves another certificate: a mismatch, naming both.
        let mut f = facts(secure(vec![ee()]));
        let mut second = f.hosts[0].addresses[0].clone();
        second.ip = "45.33.10.11".parse().unwrap();
        if let Some(Some(Ok(t))) = second
            .smtp
            .as_mut()
            .map(|s| s.starttls.as_mut().unwrap().handshake.as_mut())
        {
            t.chain[0].spki_sha256 = other.clone();
        }
        f.hosts[0].addresses.push(second);
        let m = finding(&f, Code::DaneMismatch);
        assert!(
            m.evidence.iter().any(|e| e.starts_with("45.33.10.11")),
            "{m:?}"
        );
        assert!(
            m.evidence
                .iter()
                .any(|e| e.starts_with(IP) && e.contains("matches")),
            "{m:?}"
        );
    }

    #[test]
    fn no_tls_seen_is_left_to_the_smtp_findings() {
        let mut f = facts(secure(vec![ee()]));
        let s = smtp(&mut f);
        s.extensions.retain(|e| e != "STARTTLS");
        s.starttls = None;
        let (_, codes) = run(&f);
        assert_eq!(codes, vec![Code::SmtpStarttlsMissing]);
    }

    #[test]
    fn tlsa_records_that_senders_cannot_use() {
        // Unsigned TLSA records.
        let f = facts(insecure(vec![ee()]));
        assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
        let u = finding(&f, Code::DaneUnusable);
        assert_eq!((u.severity, u.subject.as_str()), (Severity::Warning, HOST));
        assert!(
            u.evidence.iter().any(|e| e.contains("not DNSSEC-signed")),
            "{u:?}"
        );

        // Only PKIX usages, even matching and signed.
        let f = facts(secure(vec![
            tlsa(1, 1, 1, LEAF_SPKI),
            tlsa(0, 0, 1, CA_CERT),
        ]));
        assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
        assert!(
            finding(&f, Code::DaneUnusable)
                .evidence
                .iter()
                .any(|e| e.contains("PKIX"))
        );

        // No parameters a sender supports.
        let f = facts(secure(vec![tlsa(3, 1, 3, LEAF_SPKI)]));
        assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);

        // Signed TLSA records, but the domain's MX records are not signed.
        let mut f = facts(secure(vec![ee()]));
        dane_mut(&mut f).mx = Some(insecure(vec![MxRecord {
            preference: 10,
            exchange: HOST.into(),
        }]));
        assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
        assert!(
            finding(&f, Code::DaneUnusable)
                .evidence
                .iter()
                .any(|e| e.contains("MX records"))
        );

        // Signed TLSA records, but the host's addresses are not signed.
        let mut f = facts(secure(vec![ee()]));
        dane_mut(&mut f).hosts[0].a = insecure(vec![ip()]);
        assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
    }

    #[test]
    fn no_tlsa_no_dane_finding() {
        for dnssec in [DnssecState::Secure, DnssecState::Insecure] {
            for lookup in [Lookup::NoData, Lookup::NxDomain] {
                let f = facts(Validated {
                    lookup: lookup.clone(),
                    dnssec: dnssec.clone(),
                });
                assert_eq!(run(&f), (Verdict::Ok, vec![]), "{dnssec:?} {lookup:?}");
            }
        }
        // A simply unsigned domain: no finding at all.
        let mut f = facts(insecure(vec![]));
        dane_mut(&mut f).hosts[0].tlsa = Validated {
            lookup: Lookup::NoData,
            dnssec: DnssecState::Insecure,
        };
        dane_mut(&mut f).hosts[0].a = insecure(vec![ip()]);
        dane_mut(&mut f).mx = Some(insecure(vec![MxRecord {
            preference: 10,
            exchange: HOST.into(),
        }]));
        assert_eq!(run(&f), (Verdict::Ok, vec![]));
        // A failed TLSA lookup is not judged here.
        let f = facts(Validated {
            lookup: failed(DnsFailure::Timeout),
            dnssec: DnssecState::Unknown,
        });
        assert_eq!(run(&f), (Verdict::Ok, vec![]));
    }

    #[test]
    fn bogus_mail_records_break_the_domain() {
        // The MX RRset.
        let mut f = facts(secure(vec![ee()]));
        dane_mut(&mut f).mx = Some(bogus(vec![MxRecord {
            preference: 10,
            exchange: HOST.into(),
        }]));
        let (v, codes) = run(&f);
        assert_eq!(v, Verdict::Broken);
        assert_eq!(codes, vec![Code::DaneValid, Code::DnsDnssecBogus]);
        let b = finding(&f, Code::DnsDnssecBogus);
        assert_eq!((b.severity, b.subject.as_str()), (Severity::Error, DOMAIN));
        assert!(
            b.evidence
                .iter()
                .any(|e| e.starts_with("MX example.test: the signature expired")),
            "{b:?}"
        );

        // The host's addresses.
        let mut f = facts(Validated {
            lookup: Lookup::NoData,
            dnssec: DnssecState::Secure,
        });
        dane_mut(&mut f).hosts[0].aaaa = Validated {
            lookup: Lookup::NoData,
            dnssec: DnssecState::Bogus {
                reason: "no signed proof".into(),
            },
        };
        assert_eq!(only(&f, Code::DnsDnssecBogus), Verdict::Broken);

        // The TLSA RRset: dns.dnssec_bogus says it all, no dane.* beside it.
        let f = facts(bogus(vec![ee()]));
        assert_eq!(only(&f, Code::DnsDnssecBogus), Verdict::Broken);
        let b = finding(&f, Code::DnsDnssecBogus);
        assert!(
            b.evidence
                .iter()
                .any(|e| e.starts_with(&format!("TLSA _25._tcp.{HOST}"))),
            "{b:?}"
        );
    }

    #[test]
    fn nothing_is_judged_when_our_validator_could_not_validate() {
        let mut f = facts(bogus(vec![tlsa(3, 1, 1, "00")]));
        dane_mut(&mut f).unavailable = Some("the resolver strips DNSSEC records".into());
        assert_eq!(run(&f), (Verdict::Ok, vec![]));
    }

    #[test]
    fn dane_ee_softens_name_date_and_issuer_problems() {
        let mut f = facts(secure(vec![ee()]));
        let t = tls_mut(&mut f);
        t.chain[0].not_after = NOW - 86_400;
        t.problems = vec![
            CertProblem::Untrusted {
                detail: "self-signed".into(),
            },
            CertProblem::Expired {
                detail: "expired".into(),
            },
            CertProblem::NameMismatch {
                expected: HOST.into(),
                presented: vec!["other.example".into()],
            },
        ];
        let (v, codes) = run(&f);
        assert_eq!(v, Verdict::Ok, "{codes:?}");
        for code in [
            Code::TlsCertUntrusted,
            Code::TlsCertExpired,
            Code::TlsCertNameMismatch,
        ] {
            let x = finding(&f, code);
            assert_eq!(x.severity, Severity::Info, "{x:?}");
            assert!(x.evidence.iter().any(|e| e.contains("DANE-EE")), "{x:?}");
        }
    }

    #[test]
    fn dane_ta_softens_only_the_issuer() {
        let mut f = facts(secure(vec![tlsa(2, 0, 1, CA_CERT)]));
        tls_mut(&mut f).problems = vec![
            CertProblem::Untrusted {
                detail: "unknown issuer".into(),
            },
            CertProblem::NameMismatch {
                expected: HOST.into(),
                presented: vec![],
            },
        ];
        assert_eq!(finding(&f, Code::TlsCertUntrusted).severity, Severity::Info);
        assert_eq!(
            finding(&f, Code::TlsCertNameMismatch).severity,
            Severity::Warning
        );
        assert_eq!(run(&f).0, Verdict::Degraded);
    }

    #[test]
    fn no_softening_without_a_validated_match() {
        let untrusted = |f: &mut Facts| {
            tls_mut(f).problems = vec![CertProblem::Untrusted {
                detail: "self-signed".into(),
            }];
        };
        for tlsa in [
            secure(vec![tlsa(3, 1, 1, &"ab".repeat(32))]),
            insecure(vec![ee()]),
            secure(vec![tlsa(1, 1, 1, LEAF_SPKI)]),
            bogus(vec![ee()]),
        ] {
            let mut f = facts(tlsa.clone());
            untrusted(&mut f);
            assert_eq!(
                finding(&f, Code::TlsCertUntrusted).severity,
                Severity::Warning,
                "{tlsa:?}"
            );
        }
    }
}
