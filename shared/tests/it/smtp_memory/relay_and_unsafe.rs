//! What rides along a batch besides the domains' recipients: the open-relay test recipient in
//! the group, and unsafe domains that get no transaction while the others are served.

use super::*;

// ---- the open-relay test ----

#[tokio::test]
async fn the_relay_test_rides_in_the_group_and_reaches_every_share() {
    let denied = "554 5.7.1 <relay-test@mailcheck-relay-test.invalid>: Relay access denied";
    let mut cfg = config();
    cfg.open_relay_test = true;
    let ds = names(&["a.example", "b.example"]);
    for pipelining in [true, false] {
        let special = move |line: &str| (line == RELAY_RCPT).then(|| say(denied));
        let (facts, session, server) = connect(&cfg, GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        let seen = finish(Some(session), server).await;
        if pipelining {
            assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, true));
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            assert_eq!(seen.lines()[1..], group(OUR_MAIL, &ds, true));
        }
        for share in &shares {
            let relay = share
                .relay_test
                .as_ref()
                .expect("relay step in every share");
            assert_eq!(relay.command, RELAY_RCPT);
            assert_eq!(relay.reply().unwrap().lines, vec![denied.to_owned()]);
            assert!(text(&share.transcript).contains(&format!("C: {RELAY_RCPT}")));
            assert!(applied(&facts, share).accepted_postmaster());
        }
        assert_own_evidence(&shares);
    }

    // Our sender refused at MAIL: the relay test is asked again in the <> group, and that is
    // the one every share keeps (the first answer, 503 without a transaction, means nothing).
    let special = {
        let mut in_null = false;
        move |line: &str| {
            if verb(line) == "MAIL" {
                in_null = line == NULL_MAIL;
            }
            match line {
                OUR_MAIL => Some(say("553 5.1.8 sender address domain does not exist")),
                RELAY_RCPT if in_null => Some(say(denied)),
                _ => None,
            }
        }
    };
    let (_facts, session, server) = connect(&cfg, GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    let seen = finish(Some(session), server).await;
    assert_eq!(
        seen.chunks[1..],
        [group(OUR_MAIL, &ds, true), group(NULL_MAIL, &ds, true)]
    );
    for share in &shares {
        assert!(share.null_sender.as_ref().unwrap().accepted());
        let relay = share
            .relay_test
            .as_ref()
            .expect("relay step from the retry");
        assert_eq!(code(Some(relay)), Some(554));
    }
}

// ---- unsafe domains ----

#[tokio::test]
async fn an_unsafe_domain_gets_no_transaction_and_the_others_are_served() {
    let ds = names(&["a.example", "bad>domain", "c.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert_eq!(session.transactions(), 2);
    // A batch of nothing but unsafe names sends nothing.
    let evil = names(&["x.example>\r\nDATA", ""]);
    let none = session.batch(&evil).await;
    assert!(session.is_alive());
    assert_eq!(session.transactions(), 2);
    let seen = finish(Some(session), server).await;

    let served = names(&["a.example", "c.example"]);
    assert_eq!(
        seen.chunks,
        vec![vec![EHLO.to_owned()], group(OUR_MAIL, &served, false)]
    );
    assert!(
        !seen
            .lines()
            .iter()
            .any(|l| l.contains("bad") || l.contains("DATA"))
    );

    let bad = &shares[1];
    assert_eq!(bad.domain, "bad>domain");
    assert!(bad.mail.is_none() && bad.rcpt.is_none() && bad.relay_test.is_none());
    assert!(bad.closing.is_empty() && bad.null_sender.is_none());
    assert!(
        text(&bad.transcript)
            .contains("domain \"bad>domain\" is not a plain ASCII name; no transaction")
    );
    for share in [&shares[0], &shares[2]] {
        assert!(
            applied(&facts, share).accepted_postmaster(),
            "{}",
            share.domain
        );
        assert!(!text(&share.transcript).contains("bad>domain"));
    }
    assert!(text(&shares[0].transcript).contains("one transaction for 2 domains"));
    for (share, d) in none.iter().zip(&evil) {
        assert!(share.mail.is_none() && share.rcpt.is_none());
        assert!(
            text(&share.transcript).contains(&format!("domain {d:?} is not a plain ASCII name"))
        );
    }
    assert_own_evidence(&shares);
}

/// The lines of the transaction shared by the others (`MAIL`, `RSET`, their replies and the
/// "one transaction" note) are not in the evidence of an unsafe domain that had none.
#[tokio::test]
async fn an_unsafe_domain_shows_no_transaction_in_its_evidence() {
    let ds = names(&["a.example", "bad>domain"]);
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    finish(Some(session), server).await;
    let bad = &shares[1];
    assert!(bad.mail.is_none());
    assert!(
        dialogue(&bad.transcript).is_empty(),
        "no transaction, yet its evidence shows one:\n{}",
        text(&bad.transcript)
    );
}
