//! The politeness layer: one connection per address, sessions reused across domains, QUIT after
//! idle and on close, connection failures remembered.
//!
//! This file holds sessions shared and reused, QUIT and remembered failures; `retry.rs` the
//! transient outcomes (retried once, never remembered) and the per-session error budget.

mod retry;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::common::{MX, closing, code, ip, smtp_config, unused_port};
use futures::StreamExt;
use mailcheck::config::SmtpConfig;
use mailcheck::facts::{ConnectOutcome, StepOutcome};
use mailcheck::probe::smtp::SmtpProber;
use mailcheck_testkit::smtp::{Command, SmtpServer};

/// The shared probe settings, with idle sessions kept for a minute.
fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        reuse_idle: Duration::from_secs(60),
        ..smtp_config(port)
    }
}

#[tokio::test]
async fn one_connection_serves_many_domains() {
    let server = SmtpServer::builder().build().await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let domains: Vec<String> = (0..10).map(|i| format!("d{i}.example")).collect();
    let mut all = Vec::new();
    for d in &domains {
        all.push(prober.probe(ip(&server), MX, d).await);
    }
    assert_eq!(server.connections(), 1);
    for (i, (facts, d)) in all.iter().zip(&domains).enumerate() {
        assert_eq!(&facts.rcpt_domain, d);
        assert!(facts.accepted_postmaster(), "{d}");
        assert_eq!(facts.reused_session, i > 0);
        assert_eq!(
            facts.rcpt.as_ref().unwrap().command,
            format!("RCPT TO:<postmaster@{d}>")
        );
    }
    // A reused transcript: the original connection lines, a note, then this domain's transaction.
    let first = all[0].transcript_text();
    let third = all[2].transcript_text();
    let connection_part = first.split("C: MAIL").next().unwrap();
    assert!(third.starts_with(connection_part), "{third}");
    let rest = &third[connection_part.len()..];
    assert!(
        rest.starts_with(
            "*  reusing this session for d2.example (domain 3 on it)\n\
             C: MAIL FROM:<postmaster@probe.example.test>\n\
             C: RCPT TO:<postmaster@d2.example>\nC: RSET\n"
        ),
        "{rest}"
    );
    assert!(!third.contains("d1.example"));
    // The connection-level facts are copied.
    assert_eq!(all[5].greeting, all[0].greeting);
    assert_eq!(all[5].extensions, all[0].extensions);
    assert_eq!(prober.idle_sessions().await, 1);

    prober.close_all().await;
    server.wait_for_closed(1).await;
    assert_eq!(server.command_count(Command::Quit), 1);
    assert_eq!(server.command_count(Command::Mail), 10);
    assert_eq!(server.command_count(Command::Rset), 10);
    assert_eq!(prober.idle_sessions().await, 0);
}

#[tokio::test]
async fn idle_session_gets_quit_after_reuse_idle() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = config(server.addr().port());
    cfg.reuse_idle = Duration::from_millis(50);
    let prober = SmtpProber::new(&cfg).unwrap();
    let facts = prober.probe(ip(&server), MX, "a.example").await;
    assert!(facts.accepted_postmaster());
    // The reaper sends QUIT on its own; the server sees the connection end after it.
    server.wait_for_closed(1).await;
    let lines = server.transcript(0).unwrap().lines;
    assert_eq!(lines.last().map(String::as_str), Some("QUIT"));
    // The next domain gets a new connection.
    let facts = prober.probe(ip(&server), MX, "b.example").await;
    assert!(!facts.reused_session);
    assert_eq!(server.connections(), 2);
    prober.close_all().await;
}

#[tokio::test]
async fn no_reuse_when_disabled_quits_at_once() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = config(server.addr().port());
    cfg.reuse_idle = Duration::ZERO;
    let prober = SmtpProber::new(&cfg).unwrap();
    let facts = prober.probe(ip(&server), MX, "a.example").await;
    assert_eq!(closing(&facts), ["RSET", "QUIT"]);
    prober.probe(ip(&server), MX, "b.example").await;
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn transactions_per_session_are_capped() {
    let server = SmtpServer::builder().build().await;
    let mut cfg = config(server.addr().port());
    cfg.max_transactions_per_session = 2;
    let prober = SmtpProber::new(&cfg).unwrap();
    let mut quits_in_facts = 0;
    for i in 0..5 {
        let facts = prober
            .probe(ip(&server), MX, &format!("d{i}.example"))
            .await;
        assert!(facts.accepted_postmaster());
        quits_in_facts += facts.closing.iter().filter(|s| s.command == "QUIT").count();
    }
    prober.close_all().await;
    assert_eq!(server.connections(), 3);
    assert_eq!(
        quits_in_facts, 2,
        "the session that reaches the cap is closed at once"
    );
    server.wait_for_closed(3).await;
    assert_eq!(server.command_count(Command::Quit), 3);
}

#[tokio::test]
async fn thousand_domains_on_ten_addresses_use_ten_connections() {
    // The batch auditor's case: 1000 domains sharing 10 MX addresses (one port), 20 at a time.
    let first = SmtpServer::builder()
        .bind(SocketAddr::from(([127, 0, 0, 2], 0)))
        .build()
        .await;
    let port = first.addr().port();
    let mut servers = vec![first];
    for n in 3..=11u8 {
        servers.push(
            SmtpServer::builder()
                .bind(SocketAddr::from(([127, 0, 0, n], port)))
                .build()
                .await,
        );
    }
    // The default cap (50 transactions per session) would mean 2 connections per address here.
    let cfg = SmtpConfig {
        max_transactions_per_session: 100,
        ..config(port)
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    let ips: Vec<IpAddr> = servers.iter().map(ip).collect();
    let results: Vec<_> = futures::stream::iter(0..1000)
        .map(|i| {
            let prober = prober.clone();
            let ip = ips[i % ips.len()];
            async move { prober.probe(ip, MX, &format!("d{i}.example")).await }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    assert!(results.iter().all(|f| f.accepted_postmaster()));
    assert_eq!(results.len(), 1000);
    // Only the domains of each address's first transaction were on a session not reused.
    let fresh = results.iter().filter(|f| !f.reused_session).count();
    assert!((10..=100).contains(&fresh), "{fresh}");
    assert!(results.iter().any(|f| f.transaction_domains > 1));
    for s in &servers {
        assert_eq!(s.connections(), 1, "{}", s.addr());
    }
    prober.close_all().await;
}

#[tokio::test]
async fn different_host_name_on_the_same_address_gets_its_own_session() {
    let server = SmtpServer::builder().build().await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let a = prober.probe(ip(&server), MX, "a.example").await;
    let b = prober
        .probe(ip(&server), "mx2.example.test", "b.example")
        .await;
    assert!(!a.reused_session && !b.reused_session);
    assert_eq!(b.host, "mx2.example.test");
    assert_eq!(server.connections(), 2);
    prober.close_all().await;
}

#[tokio::test]
async fn connection_failures_are_remembered() {
    let prober = SmtpProber::new(&config(unused_port())).unwrap();
    for d in ["a.example", "b.example", "c.example"] {
        let facts = prober.probe("127.0.0.1".parse().unwrap(), MX, d).await;
        assert_eq!(facts.connect, ConnectOutcome::Refused);
        assert_eq!(facts.rcpt_domain, d);
    }

    let server = SmtpServer::builder()
        .greeting("554 5.7.1 no service here")
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    for d in ["a.example", "b.example", "c.example"] {
        let facts = prober.probe(ip(&server), MX, d).await;
        let g = facts.greeting.as_ref().unwrap();
        assert!(matches!(&g.outcome, StepOutcome::Replied { reply } if reply.code == 554));
        assert_eq!(facts.rcpt_domain, d);
    }
    assert_eq!(server.connections(), 1);

    // EHLO and HELO refused permanently: final, not asked again for every domain.
    let server = SmtpServer::builder()
        .reply(Command::Ehlo, "550 5.7.1 go away")
        .reply(Command::Helo, "550 5.7.1 go away")
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    for d in ["a.example", "b.example"] {
        let facts = prober.probe(ip(&server), MX, d).await;
        assert_eq!(code(facts.ehlo.as_ref()), Some(550));
        assert!(
            facts
                .transcript_text()
                .contains("C: EHLO probe.example.test")
        );
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn per_domain_rejections_do_not_poison_the_address() {
    let server = SmtpServer::builder()
        .rcpt_reply(|a| {
            if a.ends_with("@bad.example") {
                "550 5.1.1 User unknown".to_owned()
            } else {
                "250 2.1.5 Ok".to_owned()
            }
        })
        .build()
        .await;
    let prober = SmtpProber::new(&config(server.addr().port())).unwrap();
    let bad = prober.probe(ip(&server), MX, "bad.example").await;
    let good = prober.probe(ip(&server), MX, "good.example").await;
    assert!(!bad.accepted_postmaster());
    assert!(good.accepted_postmaster());
    assert!(good.reused_session);
    assert_eq!(server.connections(), 1);
    prober.close_all().await;
}

/// A minimal server that answers one transaction and then closes the connection on its own
/// (an idle timeout), counting connections.
async fn closing_server() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut io = BufReader::new(tcp);
                io.write_all(b"220 mx.example.test ESMTP\r\n")
                    .await
                    .unwrap();
                let mut line = String::new();
                while io.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250 mx.example.test\r\n",
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    io.write_all(reply).await.unwrap();
                    if verb == "RSET" || verb == "QUIT" {
                        break; // closes after the transaction
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn session_closed_by_server_while_idle_is_not_reused() {
    // The server closes right after the transaction: the next domain must not be told that the
    // server dropped after MAIL, whether the close is seen before reuse or only at MAIL.
    let (addr, count) = closing_server().await;
    let prober = SmtpProber::new(&config(addr.port())).unwrap();
    for d in ["a.example", "b.example", "c.example"] {
        let facts = prober.probe(addr.ip(), MX, d).await;
        assert!(
            facts.accepted_postmaster(),
            "{d}: {}",
            facts.transcript_text()
        );
        assert!(!facts.reused_session, "{d}");
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    prober.close_all().await;
}
