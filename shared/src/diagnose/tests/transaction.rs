//! The transaction: `MAIL FROM` (with the null-sender retry), `RCPT TO:<postmaster@domain>`,
//! the open relay test, and when a domain is `broken`.

use super::*;

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
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
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
        "5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown in virtual \
         mailbox table",
        "5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown in relay \
         recipient table",
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
