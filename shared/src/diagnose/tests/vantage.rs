//! Findings about us, the prober: our blocked egress, refusals that name our address or
//! names, our identity and listings, and the "From here" view.

use super::*;

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
        let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
            let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
    let view = crate::diagnose::vantage::view(&good, &healthy().dnsbl_zones);
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
    let view = crate::diagnose::vantage::view(&bad, &zones);
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
    assert!(!crate::diagnose::vantage::view(&bad, &zones).port25_blocked);
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
