//! Transient outcomes through the pool: a deferral retried once and never remembered, a lost
//! connection not remembered for the run, a drop after a pipelined MAIL asked again one
//! command at a time; and a fresh session before the server's error budget runs out.

use super::*;

/// Probe settings with a short back-off for the transient-outcome tests.
fn quick_retry(port: u16) -> SmtpConfig {
    SmtpConfig {
        retry_backoff: Duration::from_millis(50),
        ..config(port)
    }
}

#[tokio::test]
async fn a_deferral_is_retried_once_and_never_remembered() {
    let server = SmtpServer::builder()
        .rcpt_reply(|_| "451 4.7.1 Greylisting in action, please come back later".to_owned())
        .build()
        .await;
    let prober = SmtpProber::new(&quick_retry(server.addr().port())).unwrap();
    let first = prober.probe(ip(&server), MX, "a.example").await;
    assert_eq!(code(first.rcpt.as_ref()), Some(451));
    assert_eq!(first.retried.len(), 1, "{:?}", first.retried);
    assert!(first.retried[0].contains("451"), "{:?}", first.retried);
    assert!(
        first
            .transcript_text()
            .contains("retrying once after 50 ms")
    );
    // The next domain on the address is asked afresh (and retried itself).
    let second = prober.probe(ip(&server), MX, "b.example").await;
    assert_eq!(second.retried.len(), 1);
    let rcpts = server.command_count(Command::Rcpt);
    assert_eq!(rcpts, 4, "two tries per domain, no answer reused");
    prober.close_all().await;
}

#[tokio::test]
async fn a_lost_connection_is_not_remembered_for_the_run() {
    // The first two connections are dropped before the greeting (a lost SYN, a busy server);
    // the third gets a normal session.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        while let Ok((mut tcp, _)) = listener.accept().await {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < 2 {
                drop(tcp);
                continue;
            }
            tokio::spawn(async move {
                let _ = tcp.write_all(b"220 mx.example.test ESMTP\r\n").await;
                let mut lines = BufReader::new(tcp).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 ok\r\n"
                    };
                    if lines.get_mut().get_mut().write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let prober = SmtpProber::new(&quick_retry(addr.port())).unwrap();
    let a = prober.probe(addr.ip(), MX, "a.example").await;
    // Dropped twice (the try and its retry): a no-greeting outcome for this domain only.
    assert!(!a.accepted_postmaster());
    assert_eq!(a.retried.len(), 1);
    // A later domain is not told "failed earlier in this run": it connects again, and works.
    let b = prober.probe(addr.ip(), MX, "b.example").await;
    assert!(b.accepted_postmaster(), "{}", b.transcript_text());
    assert!(!b.transcript_text().contains("earlier connection failed"));
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    prober.close_all().await;
}

#[tokio::test]
async fn a_drop_after_pipelined_mail_is_asked_again_one_command_at_a_time() {
    let server = SmtpServer::builder()
        .drop_after(Command::Mail)
        .build()
        .await;
    let prober = SmtpProber::new(&quick_retry(server.addr().port())).unwrap();
    let facts = prober.probe(ip(&server), MX, "a.example").await;
    assert!(matches!(
        facts.mail.as_ref().unwrap().outcome,
        StepOutcome::Closed
    ));
    assert!(!facts.mail_pipelined, "the retry sent MAIL alone");
    assert_eq!(facts.retried.len(), 1);
    assert_eq!(server.connections(), 2);
    // The server saw RCPT only on the first (pipelined) connection.
    let second = server.transcript(1).unwrap();
    assert!(!second.saw(Command::Rcpt), "{:?}", second.lines);
}

#[tokio::test]
async fn a_fresh_session_before_the_error_budget_runs_out() {
    let server = SmtpServer::builder()
        .rcpt_reply(|a| format!("550 5.1.1 <{a}>: Recipient address rejected: User unknown"))
        .build()
        .await;
    let cfg = SmtpConfig {
        max_session_errors: 4,
        ..quick_retry(server.addr().port())
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    for i in 0..10 {
        let facts = prober
            .probe(ip(&server), MX, &format!("d{i}.example"))
            .await;
        assert_eq!(code(facts.rcpt.as_ref()), Some(550));
        assert!(facts.retried.is_empty(), "a 5xx is final");
    }
    // Four refusals per session at most: ten domains need three sessions.
    assert_eq!(server.connections(), 3);
    for t in server.transcripts() {
        assert!(t.commands().iter().filter(|c| **c == Command::Rcpt).count() <= 4);
    }
    prober.close_all().await;
}
