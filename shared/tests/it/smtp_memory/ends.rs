//! Sessions that end badly: the connection ending in the middle of a batch, replies that are
//! not SMTP or too long or inconsistent, and timeouts against a server that never answers.

use super::*;

// ---- the connection ends in the middle ----

#[tokio::test]
async fn a_421_to_the_second_rcpt_ends_the_batch() {
    let bye = "421 4.7.0 mx.example.test Error: too many errors";
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example", "d.example"]);
        let special = move |line: &str| (line == rcpt("b.example")).then(|| say(bye));
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(!session.is_alive(), "a 421 ends the session");
        assert!(!session.poll_alive());
        // Nothing more is sent: a later batch gets a note and no steps; QUIT is not sent.
        let later = session.batch(&names(&["e.example"])).await;
        assert!(later[0].mail.is_none());
        assert!(text(&later[0].transcript).contains("session is closed; no transaction"));
        let (quit, lines) = session.quit().await;
        assert!(quit.is_none(), "{quit:?}");
        assert!(dialogue(&lines).is_empty(), "{lines:?}");
        let seen = server.await.expect("server");

        if pipelining {
            assert_eq!(
                seen.chunks,
                vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
            );
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            assert_eq!(
                seen.lines(),
                [
                    EHLO,
                    OUR_MAIL,
                    rcpt("a.example").as_str(),
                    rcpt("b.example").as_str()
                ]
            );
        }

        for (i, share) in shares.iter().enumerate() {
            let t = text(&share.transcript);
            assert_eq!(code(share.mail.as_ref()), Some(250));
            assert!(share.closing.is_empty(), "no RSET after 421");
            assert!(share.null_sender.is_none());
            let r = share.rcpt.as_ref().expect("every domain has a RCPT step");
            assert_eq!(r.command, rcpt(&ds[i]));
            match i {
                0 => assert_eq!(code(Some(r)), Some(250)),
                1 => {
                    assert_eq!(r.reply().unwrap().lines, vec![bye.to_owned()]);
                    assert!(
                        t.contains("421: the server is closing the connection"),
                        "{t}"
                    );
                }
                _ => {
                    assert_eq!(r.outcome, StepOutcome::Closed, "{}", ds[i]);
                    assert!(t.contains(UNANSWERED_NOTE), "{t}");
                }
            }
            if i < 2 {
                assert!(!t.contains(UNANSWERED_NOTE), "{}:\n{t}", ds[i]);
            }
            assert_eq!(applied(&facts, share).accepted_postmaster(), i == 0);
        }
        assert_own_evidence(&shares);
    }
}

#[tokio::test]
async fn the_server_closing_without_an_answer_is_a_closed_mail() {
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example"]);
        let special = |line: &str| (verb(line) == "MAIL").then_some(Answer::Close);
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(!session.is_alive());
        let seen = finish(Some(session), server).await;
        if pipelining {
            // It read the whole group, then closed.
            assert_eq!(
                seen.chunks,
                vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
            );
        } else {
            assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
        }
        for share in &shares {
            let mail = share.mail.as_ref().expect("MAIL step");
            assert_eq!(mail.command, OUR_MAIL);
            assert_eq!(mail.outcome, StepOutcome::Closed);
            // Pipelined, a drop cannot be pinned on MAIL: the facts say it was pipelined.
            assert_eq!(share.mail_pipelined, pipelining);
            assert!(share.rcpt.is_none() && share.closing.is_empty());
            assert!(share.null_sender.is_none());
            let t = text(&share.transcript);
            assert!(t.contains("the server closed the connection"), "{t}");
            assert!(!applied(&facts, share).accepted_postmaster());
        }
    }
}

// ---- hostile replies ----

#[tokio::test]
async fn a_reply_that_is_not_smtp_ends_the_session() {
    // At EHLO: an HTTP server on port 25.
    let special = |line: &str| {
        (verb(line) == "EHLO")
            .then(|| Answer::Raw(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n".to_vec()))
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().expect("EHLO step");
    assert!(
        is_broken(&ehlo.outcome, "not an SMTP reply line"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.helo.is_none() && facts.closing.is_empty());
    assert!(facts.transcript_text().contains("broken reply: "));
    assert_eq!(finish(session, server).await.lines(), [EHLO]);

    // Binary garbage to a pipelined MAIL.
    let special = |line: &str| {
        (verb(line) == "MAIL").then(|| Answer::Raw(b"\x00\xff\x13\x10binary\r\n".to_vec()))
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example", "b.example"])).await;
    assert!(!session.is_alive());
    finish(Some(session), server).await;
    for share in &shares {
        let mail = share.mail.as_ref().unwrap();
        assert!(
            is_broken(&mail.outcome, "not an SMTP reply line"),
            "{mail:?}"
        );
        assert!(share.rcpt.is_none() && share.closing.is_empty());
        assert!(!text(&share.transcript).contains('\0'));
    }
}

#[tokio::test]
async fn an_over_long_reply_line_ends_the_session() {
    // 2048 bytes with CRLF is the limit: a's reply is exactly that, b's one byte more.
    let longest = format!("250 {}", "x".repeat(2048 - 6));
    let too_long = format!("250 {}", "y".repeat(2048 - 5));
    assert_eq!((longest.len() + 2, too_long.len() + 2), (2048, 2049));
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (a, b) = (longest.clone(), too_long.clone());
    let special = move |line: &str| {
        if line == rcpt("a.example") {
            Some(Answer::Say(a.clone()))
        } else if line == rcpt("b.example") {
            Some(Answer::Say(b.clone()))
        } else {
            None
        }
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    finish(Some(session), server).await;

    let a = shares[0].rcpt.as_ref().unwrap();
    assert_eq!(a.reply().unwrap().lines, vec![longest]);
    let b = shares[1].rcpt.as_ref().unwrap();
    assert!(
        is_broken(&b.outcome, "reply line longer than 2048 bytes"),
        "{:?}",
        b.outcome
    );
    assert_eq!(
        shares[2].rcpt.as_ref().unwrap().outcome,
        StepOutcome::Closed
    );
    assert!(shares.iter().all(|s| s.closing.is_empty()));
    // The flood is not in the evidence.
    assert!(!text(&shares[1].transcript).contains("yyyy"));
    assert!(text(&shares[2].transcript).contains(UNANSWERED_NOTE));
}

#[tokio::test]
async fn a_reply_code_changing_inside_a_multi_line_reply_ends_the_session() {
    // In the EHLO reply.
    let special = |line: &str| {
        (verb(line) == "EHLO").then(|| say("250-mx.example.test\n250-PIPELINING\n251 SIZE 1000"))
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().unwrap();
    assert!(
        is_broken(&ehlo.outcome, "reply code changed from 250 to 251"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.extensions.is_empty() && facts.helo.is_none());
    finish(session, server).await;

    // In the reply to MAIL, one command at a time.
    let special = |line: &str| {
        (verb(line) == "MAIL").then(|| say("250-2.1.0 sender ok\n550 5.7.1 changed my mind"))
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(false, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
    let mail = shares[0].mail.as_ref().unwrap();
    assert!(
        is_broken(&mail.outcome, "reply code changed from 250 to 550"),
        "{mail:?}"
    );
    assert!(shares[0].rcpt.is_none() && shares[0].closing.is_empty());
}

#[tokio::test]
async fn control_characters_and_invalid_utf8_are_sanitized() {
    let greeting = b"220 mx.example.test \x1b]0;pwned\x07 ESMTP\r\n";
    let special = |line: &str| {
        (line == rcpt("a.example")).then(|| {
            Answer::Raw(b"250 2.1.5 \x1b[31mred\x1b[0m \xff\xfe\x00ok\x07\tdone\r\n".to_vec())
        })
    };
    let ds = names(&["a.example", "b.example"]);
    let (facts, session, server) = connect(&config(), greeting, mta(true, special)).await;
    let g = facts.greeting.as_ref().unwrap();
    match &g.outcome {
        StepOutcome::Replied { reply } => {
            assert_eq!(reply.lines, vec!["220 mx.example.test ]0;pwned ESMTP"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(g.hostname.as_deref(), Some("mx.example.test"));
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(session.is_alive(), "sanitised, not broken");
    finish(Some(session), server).await;

    let a = shares[0].rcpt.as_ref().unwrap().reply().unwrap();
    assert_eq!(a.code, 250);
    assert_eq!(a.enhanced.as_deref(), Some("2.1.5"));
    assert_eq!(
        a.lines,
        vec!["250 2.1.5 [31mred[0m \u{fffd}\u{fffd}ok done"]
    );
    assert!(shares[1].rcpt.as_ref().unwrap().accepted());
    let all = facts
        .transcript
        .iter()
        .chain(shares.iter().flat_map(|s| &s.transcript));
    for line in all {
        assert!(!line.text.chars().any(char::is_control), "{:?}", line.text);
    }
    assert!(
        text(&shares[0].transcript).contains("S: 250 2.1.5 [31mred[0m \u{fffd}\u{fffd}ok done")
    );
}

#[tokio::test]
async fn an_endless_multi_line_reply_is_cut_off() {
    let flood = vec!["250-more"; 500].join("\n");
    let special = move |line: &str| (verb(line) == "EHLO").then(|| Answer::Say(flood.clone()));
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().unwrap();
    assert!(
        is_broken(&ehlo.outcome, "longer than 100 lines"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.transcript.len() < 20, "{}", facts.transcript_text());
    finish(session, server).await;
}

#[tokio::test]
async fn a_greeting_that_never_completes_times_out() {
    let mut cfg = config();
    cfg.greeting_timeout = Duration::from_millis(100);
    let greeting = b"220-mx.example.test ESMTP\r\n220-please wait";
    let (facts, session, server) = connect(&cfg, greeting, mta(true, |_| None)).await;
    assert!(session.is_none());
    let g = facts.greeting.as_ref().unwrap();
    assert_eq!(g.outcome, StepOutcome::TimedOut);
    assert!(g.hostname.is_none());
    assert!(facts.ehlo.is_none() && facts.closing.is_empty());
    assert!(
        facts.transcript_text().contains("no reply within 100 ms"),
        "{}",
        facts.transcript_text()
    );
    // Nothing was sent before the complete greeting, and nothing after giving up.
    let seen = finish(session, server).await;
    assert!(seen.chunks.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn a_reply_that_never_comes_times_out() {
    let mut cfg = config();
    // Long enough for the replies that do come, even on a loaded machine (real time).
    cfg.command_timeout = Duration::from_millis(500);
    // Pipelined: b's recipient is never answered.
    let ds = names(&["a.example", "b.example", "c.example"]);
    let special = |line: &str| (line == rcpt("b.example")).then_some(Answer::Ignore);
    let (_facts, session, server) = connect(&cfg, GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, false));
    assert!(shares[0].rcpt.as_ref().unwrap().accepted());
    assert_eq!(
        shares[1].rcpt.as_ref().unwrap().outcome,
        StepOutcome::TimedOut
    );
    assert!(text(&shares[1].transcript).contains("no reply within 500 ms"));
    assert_eq!(
        shares[2].rcpt.as_ref().unwrap().outcome,
        StepOutcome::Closed
    );
    assert!(text(&shares[2].transcript).contains(UNANSWERED_NOTE));

    // One at a time: MAIL is never answered; nothing else is sent.
    let special = |line: &str| (verb(line) == "MAIL").then_some(Answer::Ignore);
    let (_facts, session, server) = connect(&cfg, GREETING, mta(false, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
    for share in &shares {
        assert_eq!(share.mail.as_ref().unwrap().outcome, StepOutcome::TimedOut);
        assert!(share.rcpt.is_none() && share.closing.is_empty());
    }
}
