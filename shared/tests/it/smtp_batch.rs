//! Domains sharing an address share transactions: one `MAIL FROM`, one `RCPT TO` per domain,
//! pipelined; each domain keeps its own evidence; failures are not inherited; sessions stay
//! within the error budget and the per-address limit; MX names of one address share a session
//! only when the server ignores SNI.

use std::time::Duration;

use crate::common::{code, ip, smtp_config};
use futures::future::join_all;
use mailcheck::config::SmtpConfig;
use mailcheck::facts::SmtpFacts;
use mailcheck::probe::smtp::SmtpProber;
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::smtp::{Command, SmtpServer};

/// Idle sessions kept for a minute, a short back-off for transient retries.
fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        reuse_idle: Duration::from_secs(60),
        retry_backoff: Duration::from_millis(10),
        ..smtp_config(port)
    }
}

fn domains(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("d{i}.example")).collect()
}

/// All domains asked for at once, as the checker does.
async fn probe_all(
    prober: &SmtpProber,
    server: &SmtpServer,
    host: &str,
    ds: &[String],
) -> Vec<SmtpFacts> {
    join_all(ds.iter().map(|d| prober.probe(ip(server), host, d))).await
}

fn rcpt_lines(facts: &SmtpFacts) -> Vec<String> {
    facts
        .transcript
        .iter()
        .filter(|l| l.text.starts_with("RCPT TO:"))
        .map(|l| l.text.clone())
        .collect()
}

#[tokio::test]
async fn concurrent_domains_share_pipelined_transactions() {
    let server = SmtpServer::builder().build().await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let ds = domains(30);
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;

    assert_eq!(server.connections(), 1);
    assert_eq!(server.command_count(Command::Rcpt), 30);
    // The first domain starts alone (nobody else was waiting yet), the rest in batches of 10.
    let mails = server.command_count(Command::Mail);
    assert!((3..=4).contains(&mails), "{mails} transactions");
    assert_eq!(server.command_count(Command::Rset), mails);
    let batched = all.iter().filter(|f| f.transaction_domains == 10).count();
    assert!(batched >= 20, "{batched} domains in full batches");
    for (facts, d) in all.iter().zip(&ds) {
        assert_eq!(&facts.rcpt_domain, d);
        assert!(facts.accepted_postmaster(), "{d}");
        assert!(facts.mail_pipelined);
        // Its own recipient, and no other domain's, in its evidence.
        assert_eq!(rcpt_lines(facts), vec![format!("RCPT TO:<postmaster@{d}>")]);
        assert_eq!(
            facts.rcpt.as_ref().unwrap().command,
            format!("RCPT TO:<postmaster@{d}>")
        );
        assert!(
            facts
                .transcript_text()
                .contains("C: MAIL FROM:<postmaster@probe.example.test>")
        );
    }
    // Whole transactions went out in one write: MAIL, the recipients and RSET, then the replies.
    let shared = all.iter().find(|f| f.transaction_domains == 10).unwrap();
    let text = shared.transcript_text();
    let after_mail = &text[text.rfind("C: MAIL FROM").unwrap()..];
    let first_reply = after_mail.find("\nS: ").unwrap();
    assert!(
        after_mail[..first_reply].contains("C: RSET"),
        "{after_mail}"
    );
    prober.close_all().await;
    assert!(!server.saw_command(Command::Data));
}

#[tokio::test]
async fn without_pipelining_a_batch_still_shares_one_mail_from() {
    let server = SmtpServer::builder()
        .extensions(["SIZE 10240000", "ENHANCEDSTATUSCODES"])
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let ds = domains(11);
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;
    assert_eq!(server.connections(), 1);
    assert_eq!(server.command_count(Command::Mail), 2);
    assert_eq!(server.command_count(Command::Rcpt), 11);
    for (facts, d) in all.iter().zip(&ds) {
        assert!(facts.accepted_postmaster(), "{d}");
        assert!(!facts.mail_pipelined);
        assert_eq!(rcpt_lines(facts), vec![format!("RCPT TO:<postmaster@{d}>")]);
    }
    prober.close_all().await;
}

#[tokio::test]
async fn each_recipient_reply_belongs_to_its_domain() {
    let server = SmtpServer::builder()
        .rcpt_reply(|addr| match addr {
            a if a.contains("@d3.example") => "550 5.1.1 <postmaster@d3.example>: \
                                               Recipient address rejected: User unknown"
                .to_owned(),
            a if a.contains("@d5.example") => "450 4.2.0 <postmaster@d5.example>: \
                                               Recipient address rejected: \
                                               Greylisted, try again later"
                .to_owned(),
            _ => "250 2.1.5 Ok".to_owned(),
        })
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let ds = domains(8);
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;
    for (facts, d) in all.iter().zip(&ds) {
        let rcpt = code(facts.rcpt.as_ref());
        match d.as_str() {
            "d3.example" => assert_eq!(rcpt, Some(550), "{d}"),
            "d5.example" => {
                assert_eq!(rcpt, Some(450), "{d}");
                // Greylisting is transient: retried once, alone.
                assert_eq!(facts.retried.len(), 1, "{d}");
                assert_eq!(facts.transaction_domains, 1, "{d}");
            }
            _ => {
                assert!(facts.accepted_postmaster(), "{d}");
                assert!(facts.retried.is_empty(), "{d}");
            }
        }
        assert!(!facts.transcript_text().contains("d3.example") || d == "d3.example");
    }
    prober.close_all().await;
}

#[tokio::test]
async fn a_drop_mid_batch_is_not_inherited() {
    // The server closes the connection after answering the recipient of d2 with 421.
    let server = SmtpServer::builder()
        .rcpt_reply(|addr| {
            if addr.contains("@d2.example") {
                "421 4.3.2 Service shutting down".to_owned()
            } else {
                "250 2.1.5 Ok".to_owned()
            }
        })
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    // d0 alone first; of d1..d5 asked at once, d1 starts alone (nobody else waits yet) and
    // d2..d5 share the next transaction, d2 first.
    let first = prober
        .probe(ip(&server), crate::common::MX, "d0.example")
        .await;
    assert!(first.accepted_postmaster());
    let ds: Vec<String> = (1..6).map(|i| format!("d{i}.example")).collect();
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;
    for (facts, d) in all.iter().zip(&ds) {
        match d.as_str() {
            "d2.example" => assert_eq!(code(facts.rcpt.as_ref()), Some(421), "{d}"),
            // Answered before the drop: accepted in the shared transaction, no retry.
            "d1.example" => {
                assert!(facts.accepted_postmaster(), "{d}");
                assert!(facts.retried.is_empty(), "{d}");
            }
            // Never answered: asked again, alone, and accepted.
            _ => {
                assert!(
                    facts.accepted_postmaster(),
                    "{d}: {}",
                    facts.transcript_text()
                );
                assert_eq!(facts.retried.len(), 1, "{d}");
                assert_eq!(facts.transaction_domains, 1, "{d}");
                assert!(
                    facts
                        .transcript_text()
                        .contains("the connection ended before its turn")
                );
            }
        }
    }
    prober.close_all().await;
}

#[tokio::test]
async fn a_refused_sender_is_retried_with_the_null_sender_for_the_whole_batch() {
    let server = SmtpServer::builder()
        .reply_with(Command::Mail, |line| {
            if line.contains("<>") {
                "250 2.1.0 Ok".to_owned()
            } else {
                "553 5.1.8 <postmaster@probe.example.test>: Sender address rejected: \
                 Domain not found"
                    .to_owned()
            }
        })
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let first = prober
        .probe(ip(&server), crate::common::MX, "d0.example")
        .await;
    assert!(first.null_sender.is_some());
    let ds: Vec<String> = (1..5).map(|i| format!("d{i}.example")).collect();
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;
    for (facts, d) in all.iter().zip(&ds) {
        assert_eq!(code(facts.mail.as_ref()), Some(553), "{d}");
        let retry = facts.null_sender.as_ref().expect("null sender retry");
        assert_eq!(retry.mail.command, "MAIL FROM:<>");
        assert_eq!(
            retry.rcpt.as_ref().unwrap().command,
            format!("RCPT TO:<postmaster@{d}>")
        );
        assert!(facts.accepted_postmaster(), "{d}");
        assert_eq!(rcpt_lines(facts).len(), 2, "ours and the retry's: {d}");
    }
    // Two MAILs (ours, then <>) per transaction: d0 alone, d1 alone (it starts before the
    // others wait), d2..d4 together.
    assert_eq!(server.command_count(Command::Mail), 6);
    prober.close_all().await;
}

#[tokio::test]
async fn sessions_stay_inside_the_error_budget() {
    let server = SmtpServer::builder()
        .rcpt_reply(|addr| format!("550 5.1.1 <{addr}>: Recipient address rejected: User unknown"))
        .build()
        .await;
    let cfg = SmtpConfig {
        max_session_errors: 10,
        ..config(server.addr().port())
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    let ds = domains(25);
    let all = probe_all(&prober, &server, crate::common::MX, &ds).await;
    for facts in &all {
        assert_eq!(code(facts.rcpt.as_ref()), Some(550));
    }
    // No connection collected more than 10 refusals: a fresh session before the budget ran out.
    for t in server.transcripts() {
        let rcpts = t.lines.iter().filter(|l| l.starts_with("RCPT")).count();
        assert!(rcpts <= 10, "{rcpts} refused recipients on one connection");
    }
    assert!(server.connections() >= 3);
    prober.close_all().await;
}

#[tokio::test]
async fn at_most_the_per_address_session_limit() {
    let server = SmtpServer::builder()
        .delay(Command::Rcpt, Duration::from_millis(20))
        .build()
        .await;
    let cfg = SmtpConfig {
        sessions_per_ip: 2,
        max_rcpts_per_transaction: 2,
        ..config(server.addr().port())
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    let all = probe_all(&prober, &server, crate::common::MX, &domains(12)).await;
    assert!(all.iter().all(SmtpFacts::accepted_postmaster));
    assert!(server.max_concurrent_connections() <= 2);
    let n = server.connections();
    assert!((1..=2).contains(&n), "{n} connections");
    assert!(prober.idle_sessions().await <= 2);
    prober.close_all().await;
}

fn tls_config(ca: &TestCa, port: u16) -> SmtpConfig {
    SmtpConfig {
        extra_ca_pem: vec![ca.ca_pem()],
        ..config(port)
    }
}

#[tokio::test]
async fn mx_names_share_a_session_when_the_server_ignores_sni() {
    let ca = TestCa::new();
    // One certificate for every name, whatever the client asks for: a shared host.
    let names: Vec<String> = (0..200).map(|i| format!("mx{i}.hosting.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let server = SmtpServer::builder()
        .hostname("shared.hosting.test")
        .tls(ca.leaf(&refs[..150]).server_config())
        .build()
        .await;
    let prober = SmtpProber::new(&tls_config(&ca, server.addr().port())).unwrap();
    let ds = domains(200);
    let probes = names
        .iter()
        .zip(&ds)
        .map(|(host, d)| prober.probe(ip(&server), host, d));
    let all: Vec<SmtpFacts> = join_all(probes).await;
    assert!(
        server.connections() <= 3,
        "{} connections",
        server.connections()
    );
    for (i, facts) in all.iter().enumerate() {
        assert!(facts.accepted_postmaster(), "{i}");
        let tls = facts.tls().expect("tls");
        assert_eq!(tls.verified_name, names[i]);
        // The certificate covers the first 150 names only: each name checked on its own.
        assert_eq!(tls.problems.is_empty(), i < 150, "{i}: {:?}", tls.problems);
    }
    let shared = all.iter().filter(|f| f.session_host.is_some()).count();
    assert!(
        shared >= 190,
        "{shared} domains on a session opened for another name"
    );
    let note = all
        .iter()
        .find(|f| f.session_host.is_some())
        .unwrap()
        .transcript_text();
    assert!(note.contains("it ignores the name"), "{note}");
    prober.close_all().await;
}

#[tokio::test]
async fn mx_names_get_their_own_connection_when_the_server_selects_certificates_by_sni() {
    let ca = TestCa::new();
    let names = [
        "mx0.hosting.test",
        "mx1.hosting.test",
        "mx2.hosting.test",
        "mx3.hosting.test",
    ];
    let leaves: Vec<(&str, &[&str])> = names
        .iter()
        .map(|n| (*n, std::slice::from_ref(n)))
        .collect();
    let server = SmtpServer::builder()
        .hostname("shared.hosting.test")
        .tls(ca.sni_server_config(&leaves))
        .build()
        .await;
    let cfg = SmtpConfig {
        min_connect_interval: Duration::from_millis(5),
        ..tls_config(&ca, server.addr().port())
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    let ds = domains(8);
    let hosts: Vec<&str> = (0..8).map(|i| names[i % 4]).collect();
    let all: Vec<SmtpFacts> = join_all(
        hosts
            .iter()
            .zip(&ds)
            .map(|(h, d)| prober.probe(ip(&server), h, d)),
    )
    .await;
    // One connection per name (the two domains of a name share it), never one name's session
    // for another.
    assert_eq!(server.connections(), 4);
    assert_eq!(server.max_concurrent_connections(), 1);
    for (facts, host) in all.iter().zip(&hosts) {
        assert!(facts.accepted_postmaster());
        assert_eq!(facts.session_host, None);
        let tls = facts.tls().expect("tls");
        assert_eq!(tls.verified_name, *host);
        assert!(tls.problems.is_empty(), "{host}: {:?}", tls.problems);
        assert_eq!(tls.chain[0].dns_names, vec![(*host).to_owned()]);
    }
    prober.close_all().await;
}
