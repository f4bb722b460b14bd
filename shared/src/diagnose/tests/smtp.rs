//! The SMTP conversation up to the transaction: connect, greeting, banner name, EHLO/HELO and
//! STARTTLS (`smtp.*`), and the rule that a stop before `RCPT TO` always says why.

use super::*;

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
    let r = diagnose(&f, &Policy::default(), "x", 1);
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
    let r = diagnose(&f, &Policy::default(), "x", 1);
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
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
        let r = diagnose(f, &Policy::default(), DOMAIN, 1);
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
