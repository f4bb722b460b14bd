//! Connecting and being greeted: a delayed, missing, silent, refusing or multi-line greeting,
//! a refused port, a source address of the wrong family, hostile servers held to the session
//! deadline, and a greeting sent one byte at a time.

use super::*;

#[tokio::test]
async fn delayed_greeting_is_waited_for() {
    let server = SmtpServer::builder()
        .greeting_delay(Duration::from_millis(300))
        .build()
        .await;
    let facts = probe(&server).await;
    let g = facts.greeting.as_ref().unwrap();
    assert!(matches!(g.outcome, StepOutcome::Replied { .. }));
    assert!(g.ms >= 250, "{}", g.ms);
    assert!(facts.accepted_postmaster());
}

#[tokio::test]
async fn greeting_timeout_is_no_greeting() {
    let server = SmtpServer::builder()
        .greeting_delay(Duration::from_secs(30))
        .build()
        .await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.greeting_timeout = Duration::from_millis(200);
    let facts = probe_with(&server, cfg).await;
    assert_eq!(
        facts.greeting.as_ref().unwrap().outcome,
        StepOutcome::TimedOut
    );
    assert!(facts.ehlo.is_none());
    assert!(facts.transcript_text().contains("no reply within 200 ms"));
}

#[tokio::test]
async fn silence_and_close_first() {
    let server = SmtpServer::builder()
        .hostile(Hostile::Silence)
        .build()
        .await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.greeting_timeout = Duration::from_millis(200);
    let facts = probe_with(&server, cfg).await;
    assert_eq!(
        facts.greeting.as_ref().unwrap().outcome,
        StepOutcome::TimedOut
    );
    // Nothing was sent before the greeting.
    assert!(server.transcript(0).unwrap().lines.is_empty());

    let server = SmtpServer::builder()
        .hostile(Hostile::CloseImmediately)
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(
        facts.greeting.as_ref().unwrap().outcome,
        StepOutcome::Closed
    );
}

#[tokio::test]
async fn greeting_554_and_421() {
    let server = SmtpServer::builder()
        .greeting(
            "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org",
        )
        .build()
        .await;
    let facts = probe(&server).await;
    let g = facts.greeting.as_ref().unwrap();
    let reply = match &g.outcome {
        StepOutcome::Replied { reply } => reply,
        other => panic!("{other:?}"),
    };
    assert_eq!(reply.code, 554);
    assert_eq!(reply.enhanced.as_deref(), Some("5.7.1"));
    assert!(g.hostname.is_none());
    assert!(facts.ehlo.is_none());
    assert_eq!(
        facts.closing.last().map(|s| s.command.as_str()),
        Some("QUIT")
    );

    let server = SmtpServer::builder()
        .greeting("421 4.3.2 try later")
        .build()
        .await;
    let facts = probe(&server).await;
    let g = facts.greeting.as_ref().unwrap();
    assert!(matches!(&g.outcome, StepOutcome::Replied { reply } if reply.code == 421));
    assert!(facts.closing.is_empty(), "nothing is sent after 421");
}

#[tokio::test]
async fn multi_line_greeting_read_completely_before_ehlo() {
    let server = SmtpServer::builder()
        .greeting("220-mx.example.test ESMTP\n220-please wait\n220 ready")
        .build()
        .await;
    let facts = probe(&server).await;
    let g = facts.greeting.as_ref().unwrap();
    assert!(matches!(&g.outcome, StepOutcome::Replied { reply } if reply.lines.len() == 3));
    assert_eq!(g.hostname.as_deref(), Some("mx.example.test"));
    assert!(facts.accepted_postmaster());
}

#[tokio::test]
async fn refused_port() {
    let client = SmtpClient::new(&smtp_config(unused_port())).unwrap();
    let facts = client
        .probe("127.0.0.1".parse().unwrap(), MX, "example.test")
        .await;
    assert_eq!(facts.connect, ConnectOutcome::Refused);
    assert!(facts.greeting.is_none());
}

#[tokio::test]
async fn source_ip_family_mismatch_is_an_error() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.source_ip = Some("::1".parse().unwrap());
    let facts = probe_with(&server, cfg).await;
    assert!(matches!(facts.connect, ConnectOutcome::Error { .. }));
    let mut cfg = smtp_config(server.addr().port());
    cfg.source_ip = Some("127.0.0.1".parse().unwrap());
    let facts = probe_with(&server, cfg).await;
    assert_eq!(
        facts.local_addr().map(|a| a.ip()),
        Some("127.0.0.1".parse().unwrap())
    );
}

#[tokio::test]
async fn hostile_servers_end_within_the_deadline() {
    for hostile in [
        Hostile::EndlessMultiline,
        Hostile::HugeLine(1 << 20),
        Hostile::BinaryGarbage,
    ] {
        let server = SmtpServer::builder().hostile(hostile).build().await;
        let facts = probe(&server).await;
        let g = facts.greeting.as_ref().unwrap();
        assert!(
            matches!(g.outcome, StepOutcome::Broken { .. }),
            "{hostile:?}: {:?}",
            g.outcome
        );
        // Bounded: the transcript holds a few notes, not the flood.
        let size: usize = facts.transcript.iter().map(|l| l.text.len()).sum();
        assert!(size < 4096, "{hostile:?}: {size}");
        assert!(facts.ehlo.is_none());
    }
    // A greeting dripping one byte at a time, slower than the deadline allows.
    let server = SmtpServer::builder()
        .hostile(Hostile::ByteAtATimeGreeting)
        .byte_delay(Duration::from_millis(50))
        .build()
        .await;
    let mut cfg = smtp_config(server.addr().port());
    cfg.session_deadline = Duration::from_millis(300);
    let facts = probe_with(&server, cfg).await;
    assert_eq!(
        facts.greeting.as_ref().unwrap().outcome,
        StepOutcome::TimedOut
    );
    assert!(
        facts
            .transcript_text()
            .contains("session deadline of 300 ms reached")
    );
}

#[tokio::test]
async fn byte_at_a_time_greeting_is_assembled() {
    let server = SmtpServer::builder()
        .hostile(Hostile::ByteAtATimeGreeting)
        .byte_delay(Duration::from_millis(1))
        .build()
        .await;
    let facts = probe(&server).await;
    assert!(matches!(
        &facts.greeting.as_ref().unwrap().outcome,
        StepOutcome::Replied { reply } if reply.code == 220
    ));
    assert!(facts.accepted_postmaster());
}
