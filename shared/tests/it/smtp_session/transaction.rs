//! Transactions against the loopback server: MAIL and RCPT refusals, a drop after MAIL, the
//! open-relay test, the null sender, a 421 to MAIL, and one session serving several domains.

use super::*;

#[tokio::test]
async fn mail_rejected() {
    let server = SmtpServer::builder()
        .extensions(["ENHANCEDSTATUSCODES"])
        .reply(Command::Mail, "550 5.7.1 Sender rejected")
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.mail.as_ref()), Some(550));
    assert!(
        facts.rcpt.is_none(),
        "no RCPT after a rejected MAIL without pipelining"
    );
    // Our sender refused: once more with the null sender, refused too.
    let retry = facts.null_sender.as_ref().expect("null-sender retry");
    assert_eq!(code(Some(&retry.mail)), Some(550));
    assert!(retry.rcpt.is_none());
    assert_eq!(closing(&facts), ["RSET", "RSET", "QUIT"]);
}

#[tokio::test]
async fn disconnect_after_mail() {
    // With and without pipelining: the MAIL step is Closed.
    for pipelining in [true, false] {
        let mut b = SmtpServer::builder().drop_after(Command::Mail);
        if !pipelining {
            b = b.extensions(["ENHANCEDSTATUSCODES"]);
        }
        let server = b.build().await;
        let facts = probe(&server).await;
        assert_eq!(
            facts.mail.as_ref().unwrap().outcome,
            StepOutcome::Closed,
            "pipelining {pipelining}"
        );
        assert!(facts.rcpt.is_none());
        assert!(facts.closing.is_empty());
        assert!(
            facts
                .transcript_text()
                .contains("the server closed the connection")
        );
    }
}

#[tokio::test]
async fn rcpt_relay_denied_unknown_and_tempfail() {
    for (reply, want) in [
        (
            "554 5.7.1 <postmaster@example.test>: Relay access denied",
            554,
        ),
        (
            "550 5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown",
            550,
        ),
        (
            "450 4.2.0 <postmaster@example.test>: Recipient address rejected: Greylisted",
            450,
        ),
    ] {
        let server = SmtpServer::builder()
            .reply(Command::Rcpt, reply)
            .build()
            .await;
        let facts = probe(&server).await;
        let r = facts.rcpt.as_ref().unwrap().reply().unwrap();
        assert_eq!(r.code, want);
        assert_eq!(r.lines, vec![reply.to_owned()]);
        assert!(!facts.accepted_postmaster());
        assert_eq!(
            facts
                .closing
                .iter()
                .map(|s| s.command.as_str())
                .collect::<Vec<_>>(),
            ["RSET", "QUIT"]
        );
    }
}

#[tokio::test]
async fn open_relay_test() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.open_relay_test = true;
    let facts = probe_with(&server, cfg.clone()).await;
    let relay = facts.relay_test.as_ref().expect("relay test ran");
    assert_eq!(
        relay.command,
        "RCPT TO:<relay-test@mailcheck-relay-test.invalid>"
    );
    assert!(relay.accepted());

    let server = SmtpServer::builder()
        .rcpt_reply(|a| {
            if a.starts_with("postmaster@") {
                "250 2.1.5 Ok".to_owned()
            } else {
                "554 5.7.1 Relay access denied".to_owned()
            }
        })
        .build()
        .await;
    cfg.port = server.addr().port();
    let facts = probe_with(&server, cfg).await;
    assert!(facts.accepted_postmaster());
    assert_eq!(code(facts.relay_test.as_ref()), Some(554));
    // Off by default.
    let facts = probe(&server).await;
    assert!(facts.relay_test.is_none());
}

#[tokio::test]
async fn null_sender() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.mail_from = String::new();
    let facts = probe_with(&server, cfg).await;
    assert_eq!(facts.mail.as_ref().unwrap().command, "MAIL FROM:<>");
}

#[tokio::test]
async fn reply_421_to_mail_stops_sending() {
    let server = SmtpServer::builder()
        .extensions(["ENHANCEDSTATUSCODES"])
        .reply(Command::Mail, "421 4.7.0 too many connections")
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.mail.as_ref()), Some(421));
    assert!(facts.rcpt.is_none());
    assert!(facts.closing.is_empty());
    let lines = server.transcript(0).unwrap().lines;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("MAIL FROM:<postmaster@probe.example.test>")
    );
}

#[tokio::test]
async fn one_session_serves_several_domains() {
    let server = SmtpServer::builder().build().await;
    let client = SmtpClient::new(&smtp_config(server.addr().port())).unwrap();
    let (base, session) = Session::open(&client, ip(&server), MX).await;
    let mut session = session.expect("ready");
    for domain in ["a.example", "b.example", "c.example"] {
        let mut facts = base.clone();
        session.transaction(domain, &mut facts).await;
        assert!(facts.accepted_postmaster(), "{domain}");
        assert_eq!(facts.rcpt_domain, domain);
    }
    assert_eq!(session.transactions(), 3);
    let (quit, lines) = session.quit().await;
    assert_eq!(code(quit.as_ref()), Some(221));
    assert!(lines.iter().any(|l| l.text == "QUIT"), "{lines:?}");
    assert_eq!(server.connections(), 1);
    let _: SocketAddr = server.addr();
}
