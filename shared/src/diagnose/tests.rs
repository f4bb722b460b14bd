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
    let p = Policy {
        allow_private: true,
        ..Policy::default()
    };
    assert!(run_with(&f, &p).1.is_empty());
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
    let p = Policy {
        allow_private: true,
        ..Policy::default()
    };
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
    let (v, codes) = run_with(
        &f,
        &Policy {
            allow_private: true,
            ..Policy::default()
        },
    );
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
    // Keeps this file honest: a new code must get a test above.
    let src = include_str!("tests.rs");
    for code in Code::ALL {
        let variant = format!("{code:?}");
        assert!(
            src.contains(&format!("Code::{variant}")),
            "no test names Code::{variant}"
        );
    }
}
