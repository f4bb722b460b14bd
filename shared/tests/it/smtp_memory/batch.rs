//! Batches over the fake server: a healthy batch in one write or one command at a time,
//! refusals attributed to their own domain, and the null-sender retry after our sender is
//! refused.

use super::*;

// ---- a healthy batch ----

async fn healthy_batch(pipelining: bool) {
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, |_| None)).await;
    let greeting = facts.greeting.as_ref().expect("greeting");
    assert_eq!(greeting.hostname.as_deref(), Some("mx.example.test"));
    assert_eq!(code(facts.ehlo.as_ref()), Some(250));
    assert_eq!(
        facts.extensions.iter().any(|e| e == "PIPELINING"),
        pipelining
    );
    assert!(facts.starttls.is_none() && facts.mail.is_none());
    let mut session = session.expect("ready for MAIL");
    assert_eq!(session.pipelines(), pipelining);

    let shares = session.batch(&ds).await;
    assert!(session.is_alive());
    assert!(session.poll_alive(), "idle and quiet");
    assert_eq!(session.transactions(), 3);
    assert_eq!(session.errors(), 0);
    let seen = finish(Some(session), server).await;

    // What the server read: the whole group in one write, or one command per reply.
    if pipelining {
        assert_eq!(
            seen.chunks,
            vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
        );
        assert!(seen.early.is_empty(), "{seen:?}");
    } else {
        assert!(seen.one_at_a_time(), "{seen:?}");
        let mut all = vec![EHLO.to_owned()];
        all.extend(group(OUR_MAIL, &ds, false));
        assert_eq!(seen.lines(), all);
    }

    assert_eq!(shares.len(), 3);
    for (share, d) in shares.iter().zip(&ds) {
        assert_eq!(&share.domain, d);
        let mail = share.mail.as_ref().expect("MAIL step");
        assert_eq!(
            (mail.command.as_str(), code(Some(mail))),
            (OUR_MAIL, Some(250))
        );
        assert_eq!(share.mail_pipelined, pipelining);
        let r = share.rcpt.as_ref().expect("RCPT step");
        assert_eq!(r.command, rcpt(d));
        let own_reply = format!("250 2.1.5 <postmaster@{d}> ok");
        assert_eq!(r.reply().unwrap().lines, vec![own_reply.clone()]);
        assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
        assert!(share.null_sender.is_none() && share.relay_test.is_none());
        // Its evidence: the shared lines and its own recipient, in the order of the wire.
        let want: Vec<String> = if pipelining {
            vec![
                format!("C: {OUR_MAIL}"),
                format!("C: {}", rcpt(d)),
                "C: RSET".to_owned(),
                "S: 250 2.1.0 Ok".to_owned(),
                format!("S: {own_reply}"),
                "S: 250 2.0.0 Ok".to_owned(),
            ]
        } else {
            vec![
                format!("C: {OUR_MAIL}"),
                "S: 250 2.1.0 Ok".to_owned(),
                format!("C: {}", rcpt(d)),
                format!("S: {own_reply}"),
                "C: RSET".to_owned(),
                "S: 250 2.0.0 Ok".to_owned(),
            ]
        };
        assert_eq!(dialogue(&share.transcript), want, "{d}");
        assert!(text(&share.transcript).contains("one transaction for 3 domains"));
        let f = applied(&facts, share);
        assert!(f.accepted_postmaster(), "{d}");
        assert_eq!(&f.rcpt_domain, d);
        assert_eq!(steps(&f.closing), [("RSET", Some(250))]);
    }
    assert_own_evidence(&shares);
}

#[tokio::test]
async fn healthy_pipelined_batch_is_one_write() {
    healthy_batch(true).await;
}

#[tokio::test]
async fn healthy_batch_without_pipelining_goes_one_command_at_a_time() {
    healthy_batch(false).await;
}

// ---- refusals, attributed to the right domain ----

#[tokio::test]
async fn refusals_belong_to_their_own_domain() {
    let unknown = "550 5.1.1 <postmaster@b.example>: Recipient address rejected: \
                   User unknown in virtual mailbox table";
    let grey =
        "450 4.7.1 <postmaster@c.example>: Recipient address rejected: Greylisted, try again later";
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example", "d.example"]);
        let special = move |line: &str| match line {
            "RCPT TO:<postmaster@b.example>" => Some(say(unknown)),
            "RCPT TO:<postmaster@c.example>" => Some(say(grey)),
            _ => None,
        };
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(session.is_alive());
        assert_eq!(session.errors(), 2);
        let seen = finish(Some(session), server).await;
        if pipelining {
            assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, false));
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
        }
        assert_eq!(seen.count(NULL_MAIL), 0, "no retry: not about our sender");

        let by_code: Vec<Option<u16>> = shares.iter().map(|s| code(s.rcpt.as_ref())).collect();
        assert_eq!(by_code, [Some(250), Some(550), Some(450), Some(250)]);
        let b = shares[1].rcpt.as_ref().unwrap().reply().unwrap();
        assert_eq!(b.enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(b.lines, vec![unknown.to_owned()]);
        let c = shares[2].rcpt.as_ref().unwrap().reply().unwrap();
        assert_eq!(c.enhanced.as_deref(), Some("4.7.1"));
        for (i, share) in shares.iter().enumerate() {
            assert!(share.null_sender.is_none());
            assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
            let t = text(&share.transcript);
            assert_eq!(t.contains("User unknown"), i == 1, "{}:\n{t}", share.domain);
            assert_eq!(t.contains("Greylisted"), i == 2, "{}:\n{t}", share.domain);
            assert_eq!(
                applied(&facts, share).accepted_postmaster(),
                i == 0 || i == 3
            );
        }
        assert_own_evidence(&shares);
    }
}

#[tokio::test]
async fn refused_sender_at_mail_retries_every_domain_with_the_null_sender() {
    for pipelining in [true, false] {
        for refusal in [
            "553 5.1.8 sender address domain does not exist",
            "550 5.7.1 sender rejected",
        ] {
            let ds = names(&["a.example", "b.example"]);
            let special = move |line: &str| (line == OUR_MAIL).then(|| say(refusal));
            let (facts, session, server) =
                connect(&config(), GREETING, mta(pipelining, special)).await;
            let mut session = session.expect("ready");
            let shares = session.batch(&ds).await;
            assert!(session.is_alive());
            let seen = finish(Some(session), server).await;
            let case = format!("pipelining {pipelining}, {refusal}");

            if pipelining {
                // Both groups went out whole: ours, then the retry with <>.
                assert_eq!(
                    seen.chunks,
                    vec![
                        vec![EHLO.to_owned()],
                        group(OUR_MAIL, &ds, false),
                        group(NULL_MAIL, &ds, false),
                    ],
                    "{case}"
                );
                assert!(seen.early.is_empty(), "{case}: {seen:?}");
            } else {
                assert!(seen.one_at_a_time(), "{case}: {seen:?}");
                let mut all = vec![EHLO, OUR_MAIL, "RSET"];
                let retry = group(NULL_MAIL, &ds, false);
                all.extend(retry.iter().map(String::as_str));
                assert_eq!(seen.lines(), all, "{case}");
            }

            for (share, d) in shares.iter().zip(&ds) {
                let mail = share.mail.as_ref().unwrap();
                assert_eq!(mail.reply().unwrap().lines, vec![refusal.to_owned()]);
                // Pipelined, the recipient's reply (503) was read; otherwise it was never sent.
                let want = if pipelining { Some(503) } else { None };
                assert_eq!(code(share.rcpt.as_ref()), want, "{case}");
                let retry = share.null_sender.as_ref().expect("null-sender retry");
                assert_eq!(retry.mail.command, NULL_MAIL);
                assert!(retry.mail.accepted());
                let r = retry.rcpt.as_ref().expect("retry RCPT");
                assert_eq!((r.command.clone(), code(Some(r))), (rcpt(d), Some(250)));
                assert_eq!(
                    steps(&share.closing),
                    [("RSET", Some(250)), ("RSET", Some(250))]
                );
                assert!(text(&share.transcript).contains(RETRY_NOTE), "{case}");
                let f = applied(&facts, share);
                assert!(f.accepted_postmaster(), "{case}");
                assert_eq!(f.final_transaction().0.unwrap().command, NULL_MAIL);
            }
            assert_own_evidence(&shares);
        }
    }
}

/// Answers `RCPT TO:<postmaster@b.example>` with a refusal of our sender while our sender is
/// the transaction's; accepts it with `<>`.
fn refuses_our_sender_for_b() -> impl FnMut(&str) -> Option<Answer> + Send + 'static {
    let mut sender = String::new();
    move |line: &str| {
        if verb(line) == "MAIL" {
            arg(line).clone_into(&mut sender);
            return None;
        }
        (line == rcpt("b.example") && sender != "<>").then(|| {
            say(
                "550 5.7.1 <postmaster@probe.example.test>: Sender address rejected: \
                 not owned by any user",
            )
        })
    }
}

#[tokio::test]
async fn refused_sender_at_one_rcpt_retries_only_that_domain() {
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example"]);
        let (facts, session, server) = connect(
            &config(),
            GREETING,
            mta(pipelining, refuses_our_sender_for_b()),
        )
        .await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(session.is_alive());
        let seen = finish(Some(session), server).await;
        let only_b = names(&["b.example"]);
        if pipelining {
            assert_eq!(
                seen.chunks,
                vec![
                    vec![EHLO.to_owned()],
                    group(OUR_MAIL, &ds, false),
                    group(NULL_MAIL, &only_b, false),
                ]
            );
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            let mut all = vec![EHLO.to_owned()];
            all.extend(group(OUR_MAIL, &ds, false));
            all.extend(group(NULL_MAIL, &only_b, false));
            assert_eq!(seen.lines(), all);
        }
        assert_eq!(seen.count(&rcpt("a.example")), 1);
        assert_eq!(seen.count(&rcpt("c.example")), 1);
        assert_eq!(seen.count(&rcpt("b.example")), 2);

        for (i, share) in shares.iter().enumerate() {
            let t = text(&share.transcript);
            if i == 1 {
                assert_eq!(code(share.rcpt.as_ref()), Some(550));
                let retry = share.null_sender.as_ref().expect("b retried");
                assert_eq!(retry.mail.command, NULL_MAIL);
                assert_eq!(
                    retry.rcpt.as_ref().map(|r| r.command.clone()),
                    Some(rcpt("b.example"))
                );
                assert!(retry.accepted());
                assert_eq!(
                    steps(&share.closing),
                    [("RSET", Some(250)), ("RSET", Some(250))]
                );
                assert!(
                    t.contains(RETRY_NOTE) && t.contains("C: MAIL FROM:<>"),
                    "{t}"
                );
            } else {
                assert_eq!(code(share.rcpt.as_ref()), Some(250));
                assert!(share.null_sender.is_none(), "{}", share.domain);
                assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
                assert!(!t.contains(RETRY_NOTE), "{}:\n{t}", share.domain);
            }
            assert!(applied(&facts, share).accepted_postmaster());
        }
        assert_own_evidence(&shares);
    }
}

/// The null-sender retry's `MAIL FROM:<>` and `RSET` lines belong to the domains retried only,
/// not to the others of the batch (whose facts show no retry and one `RSET`).
#[tokio::test]
async fn the_retry_is_not_in_the_evidence_of_domains_left_out_of_it() {
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (_facts, session, server) =
        connect(&config(), GREETING, mta(true, refuses_our_sender_for_b())).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    finish(Some(session), server).await;
    assert!(shares[1].null_sender.is_some());
    for share in [&shares[0], &shares[2]] {
        let t = text(&share.transcript);
        let rsets = dialogue(&share.transcript)
            .iter()
            .filter(|l| *l == "C: RSET")
            .count();
        assert!(
            !t.contains(NULL_MAIL) && rsets == share.closing.len(),
            "{} was not retried, yet its evidence shows the retry:\n{t}",
            share.domain
        );
    }
}
