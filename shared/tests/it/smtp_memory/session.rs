//! The session around the transactions: what happens before `MAIL` (EHLO refused, refusals
//! that leave no session, STARTTLS over a given stream, our own address), then single
//! transactions on a reused session, an idle session noticing a close, and `QUIT`.

use super::*;

// ---- before MAIL ----

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo_without_pipelining() {
    let special = |line: &str| {
        (verb(line) == "EHLO").then(|| say("500 5.5.1 Command unrecognized: \"EHLO\""))
    };
    let ds = names(&["a.example", "b.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(500));
    let helo = facts.helo.as_ref().expect("HELO step");
    assert_eq!((helo.command.as_str(), code(Some(helo))), (HELO, Some(250)));
    assert!(facts.extensions.is_empty());
    let mut session = session.expect("ready after HELO");
    assert!(!session.pipelines());
    let shares = session.batch(&ds).await;
    let seen = finish(Some(session), server).await;
    assert!(seen.one_at_a_time(), "{seen:?}");
    let mut all = vec![EHLO.to_owned(), HELO.to_owned()];
    all.extend(group(OUR_MAIL, &ds, false));
    assert_eq!(seen.lines(), all);
    for share in &shares {
        assert!(!share.mail_pipelined);
        assert!(
            applied(&facts, share).accepted_postmaster(),
            "{}",
            share.domain
        );
    }
    assert_own_evidence(&shares);
}

#[tokio::test]
async fn refusals_before_mail_end_without_a_session() {
    // (greeting, EHLO reply, HELO reply, what the server must read)
    let cases: [(&[u8], &str, &str, &[&str]); 5] = [
        (b"554 5.7.1 no SMTP service here\r\n", "", "", &["QUIT"]),
        (b"421 4.3.2 try later\r\n", "", "", &[]),
        (GREETING, "421 4.3.2 shutting down", "", &[EHLO]),
        (GREETING, "451 4.3.0 try again later", "", &[EHLO, "QUIT"]),
        (
            GREETING,
            "550 5.7.1 go away",
            "504 5.5.2 <probe.example.test>: Helo command rejected: need fully-qualified hostname",
            &[EHLO, HELO, "QUIT"],
        ),
    ];
    for (greeting, ehlo, helo, wire) in cases {
        let special = move |line: &str| match verb(line).as_str() {
            "EHLO" if !ehlo.is_empty() => Some(say(ehlo)),
            "HELO" if !helo.is_empty() => Some(say(helo)),
            _ => None,
        };
        let (facts, session, server) = connect(&config(), greeting, mta(true, special)).await;
        let case = String::from_utf8_lossy(greeting).into_owned() + ehlo;
        assert!(session.is_none(), "{case}");
        assert!(facts.mail.is_none(), "{case}");
        let quit_sent = wire.contains(&"QUIT");
        assert_eq!(
            facts.closing.iter().any(|s| s.command == "QUIT"),
            quit_sent,
            "{case}"
        );
        let seen = finish(session, server).await;
        assert_eq!(seen.lines(), wire, "{case}");
        assert!(seen.one_at_a_time(), "{case}: {seen:?}");
    }
}

#[tokio::test]
async fn starttls_454_over_a_given_stream_ends_without_a_second_connection() {
    let special = |line: &str| match verb(line).as_str() {
        "EHLO" => Some(say(
            "250-mx.example.test\n250-PIPELINING\n250-STARTTLS\n250 ENHANCEDSTATUSCODES",
        )),
        "STARTTLS" => Some(say("454 4.7.0 TLS not available due to local problem")),
        _ => None,
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(
        session.is_none(),
        "no reconnect possible over a given stream"
    );
    assert!(facts.advertises_starttls());
    let st = facts.starttls.as_ref().expect("STARTTLS step");
    assert_eq!(code(Some(&st.command)), Some(454));
    assert!(st.handshake.is_none() && st.ehlo.is_none());
    assert!(facts.retried_without_tls);
    assert!(facts.tls().is_none() && facts.mail.is_none());
    // The first connection's facts are kept; it was ended with QUIT.
    assert!(matches!(facts.connect, ConnectOutcome::Connected { .. }));
    assert_eq!(code(facts.ehlo.as_ref()), Some(250));
    assert_eq!(steps(&facts.closing), [("QUIT", Some(221))]);
    let t = facts.transcript_text();
    assert!(t.contains("no second connection on a given stream"), "{t}");
    assert!(t.contains("did not get ready for MAIL"), "{t}");
    let seen = finish(session, server).await;
    assert_eq!(seen.lines(), [EHLO, "STARTTLS", "QUIT"]);
}

/// Over a given stream our local address is unknown: the peer's address must not be taken for
/// ours, or a permanent refusal of `MAIL` that names the server's own address would be taken for
/// a refusal of our client and not retried with `<>`, as it is over TCP.
#[tokio::test]
async fn the_peer_address_is_not_taken_for_ours_over_a_given_stream() {
    let refusal = "550 5.7.0 mx.example.test [192.0.2.25]: message refused by policy";
    let special = move |line: &str| (line == OUR_MAIL).then(|| say(refusal));
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    let seen = finish(Some(session), server).await;
    // What decides it: with our real local address (loopback here, as over TCP from this
    // machine) the refusal is about nothing specific, and a 5xx to MAIL is retried with <>;
    // with the peer's address among ours it is about our client.
    let reply = shares[0].mail.as_ref().unwrap().reply().unwrap().clone();
    let us = |local: &str| Us {
        ips: vec![local.parse().unwrap()],
        names: vec!["probe.example.test".to_owned()],
        target: Some(peer().ip()),
        public_unknown: true,
    };
    assert_eq!(
        classify(&reply, Stage::Mail, &us("127.0.0.1")),
        About::Other
    );
    assert_eq!(
        classify(&reply, Stage::Mail, &us("192.0.2.25")),
        About::OurClient
    );
    let local = facts.local_addr().map(|a| a.ip());
    assert!(
        local != Some(peer().ip()) && shares[0].null_sender.is_some(),
        "recorded local address {local:?} (the peer's), null-sender retry sent: {}\n{}",
        seen.count(NULL_MAIL) > 0,
        facts.transcript_text()
    );
}

// ---- single transactions, reuse, QUIT ----

#[tokio::test]
async fn transactions_reuse_the_session_then_quit_gets_221() {
    let (base, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let mut facts = base.clone();
    session.transaction("a.example", &mut facts).await;
    assert_eq!(facts.rcpt_domain, "a.example");
    assert!(facts.accepted_postmaster() && facts.mail_pipelined);
    assert_eq!(steps(&facts.closing), [("RSET", Some(250))]);
    assert!(
        facts
            .transcript_text()
            .contains("C: RCPT TO:<postmaster@a.example>")
    );
    let shares = session.batch(&names(&["b.example", "c.example"])).await;
    assert!(shares.iter().all(|s| s.rcpt.as_ref().unwrap().accepted()));
    assert_eq!(session.transactions(), 3);
    assert!(session.poll_alive());

    let (quit, lines) = session.quit().await;
    let quit = quit.expect("QUIT step");
    assert_eq!(
        (quit.command.as_str(), code(Some(&quit))),
        ("QUIT", Some(221))
    );
    assert_eq!(dialogue(&lines), ["C: QUIT", "S: 221 2.0.0 Bye"]);
    assert!(
        lines
            .iter()
            .any(|l| l.who == Speaker::Note && l.text == "connection closed"),
        "{lines:?}"
    );
    let seen = server.await.expect("server");
    assert_eq!(seen.chunks.last().unwrap(), &vec!["QUIT".to_owned()]);
    assert_eq!(seen.chunks.len(), 4, "EHLO, two groups, QUIT: {seen:?}");
    assert!(seen.early.is_empty());
}

#[tokio::test]
async fn an_idle_session_notices_an_unasked_421_or_a_close() {
    // A 421 right behind the reply to RSET.
    let special = |line: &str| {
        (line == "RSET").then(|| {
            Answer::Raw(
                b"250 2.0.0 Ok\r\n421 4.4.2 mx.example.test Error: timeout exceeded\r\n".to_vec(),
            )
        })
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert_eq!(steps(&shares[0].closing), [("RSET", Some(250))]);
    assert!(session.is_alive());
    assert!(!session.poll_alive(), "the unasked 421 is noticed");
    assert!(!session.is_alive());
    let (quit, _) = session.quit().await;
    assert!(quit.is_none());
    finish(None, server).await;

    // The server closes after answering RSET.
    let special =
        |line: &str| (line == "RSET").then(|| Answer::SayThenClose("250 2.0.0 Ok".into()));
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert!(shares[0].rcpt.as_ref().unwrap().accepted());
    let seen = server.await.expect("server");
    assert!(!session.poll_alive(), "the close is noticed");
    let (quit, _) = session.quit().await;
    assert!(quit.is_none());
    assert_eq!(seen.count("QUIT"), 0);
}
