//! The SMTP session against the test kit's scriptable server on loopback.
//!
//! This file holds the helpers and the healthy path with its EHLO/HELO variants;
//! `starttls.rs` STARTTLS and certificates; `greeting.rs` connecting and being greeted
//! (delays, timeouts, refusals, hostile servers); `transaction.rs` MAIL and RCPT.

mod greeting;
mod starttls;
mod transaction;

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{MX, closing, code, ip, smtp_config, unused_port};
use mailcheck::config::SmtpConfig;
use mailcheck::facts::{CertProblem, ConnectOutcome, SmtpFacts, StepOutcome};
use mailcheck::probe::smtp::{Session, SmtpClient};
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::smtp::{Command, Hostile, SmtpServer, SmtpServerBuilder};

async fn probe_with(server: &SmtpServer, cfg: SmtpConfig) -> SmtpFacts {
    let client = SmtpClient::new(&cfg).expect("config");
    client.probe(ip(server), MX, "example.test").await
}

async fn probe(server: &SmtpServer) -> SmtpFacts {
    probe_with(server, smtp_config(server.addr().port())).await
}

fn tls_server(ca: &TestCa, cert: &mailcheck_testkit::certs::TestCert) -> SmtpServerBuilder {
    let _ = ca;
    SmtpServer::builder().hostname(MX).tls(cert.server_config())
}

fn trusting(ca: &TestCa, port: u16) -> SmtpConfig {
    SmtpConfig {
        extra_ca_pem: vec![ca.ca_pem()],
        ..smtp_config(port)
    }
}

#[tokio::test]
async fn healthy_session_with_starttls_and_transcript() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &ca.leaf(&[MX])).build().await;
    let facts = probe_with(&server, trusting(&ca, server.addr().port())).await;

    assert!(matches!(facts.connect, ConnectOutcome::Connected { .. }));
    let greeting = facts.greeting.as_ref().expect("greeting");
    assert_eq!(greeting.hostname.as_deref(), Some(MX));
    assert_eq!(code(facts.ehlo.as_ref()), Some(250));
    let st = facts.starttls.as_ref().expect("starttls");
    assert_eq!(code(Some(&st.command)), Some(220));
    let tls = facts.tls().expect("tls facts");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.problems.is_empty(), "{:?}", tls.problems);
    assert_eq!(tls.verified_name, MX);
    assert_eq!(tls.chain[0].dns_names, vec![MX.to_owned()]);
    assert!(tls.chain[0].not_after > tls.chain[0].not_before);
    assert_eq!(code(st.ehlo.as_ref()), Some(250));
    assert!(!facts.retried_without_tls);
    assert!(
        !facts.extensions.iter().any(|e| e == "STARTTLS"),
        "extensions after TLS"
    );
    assert_eq!(
        facts
            .mail
            .as_ref()
            .unwrap()
            .reply()
            .unwrap()
            .enhanced
            .as_deref(),
        Some("2.1.0")
    );
    assert!(facts.accepted_postmaster());
    assert_eq!(facts.rcpt_domain, "example.test");
    assert!(facts.relay_test.is_none());
    let closing: Vec<_> = facts
        .closing
        .iter()
        .map(|s| (s.command.as_str(), code(Some(s))))
        .collect();
    assert_eq!(closing, vec![("RSET", Some(250)), ("QUIT", Some(221))]);

    let port = server.addr().port();
    let expected = format!(
        "*  connecting to 127.0.0.1:{port} (mx.example.test)
*  connected from 127.0.0.1
S: 220 mx.example.test ESMTP mailcheck-testkit
C: EHLO probe.example.test
S: 250-mx.example.test Hello probe.example.test
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
*  TLS established: TLSv1.3, {cipher}, certificate {subject:?} for \
mx.example.test; certificate verified
C: EHLO probe.example.test
S: 250-mx.example.test Hello probe.example.test
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-8BITMIME
S: 250 ENHANCEDSTATUSCODES
C: MAIL FROM:<postmaster@probe.example.test>
C: RCPT TO:<postmaster@example.test>
C: RSET
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.0.0 Ok
C: QUIT
S: 221 2.0.0 Bye
*  connection closed
",
        cipher = tls.cipher,
        subject = tls.chain[0].subject,
    );
    assert_eq!(facts.transcript_text(), expected);
    // Never DATA, and the server saw exactly this.
    assert!(!server.saw_command(Command::Data));
    assert_eq!(server.connections(), 1);
    let t = server.transcript(0).unwrap();
    assert!(t.tls);
    assert!(t.discarded_after_starttls.is_empty());
}

#[tokio::test]
async fn helo_fallback_on_502() {
    let server = SmtpServer::builder().hostname(MX).helo_only().build().await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(502));
    assert_eq!(code(facts.helo.as_ref()), Some(250));
    assert!(facts.extensions.is_empty());
    assert!(facts.starttls.is_none());
    assert!(facts.accepted_postmaster());
    // Without PIPELINING, MAIL and RCPT go one at a time.
    assert!(facts.transcript_text().contains(
        "C: MAIL FROM:<postmaster@probe.example.test>\nS: 250 2.1.0 Ok\n\
         C: RCPT TO:<postmaster@example.test>\n"
    ));
}

#[tokio::test]
async fn ehlo_and_helo_both_rejected() {
    let server = SmtpServer::builder()
        .reply(Command::Ehlo, "500 5.5.2 what?")
        .reply(
            Command::Helo,
            "504 5.5.2 <probe.example.test>: Helo command rejected: need fully-qualified hostname",
        )
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(500));
    assert_eq!(code(facts.helo.as_ref()), Some(504));
    assert!(facts.mail.is_none());
    assert_eq!(
        facts.closing.last().map(|s| s.command.as_str()),
        Some("QUIT")
    );
}

#[tokio::test]
async fn any_5xx_to_ehlo_tries_helo_but_a_4xx_does_not() {
    let server = SmtpServer::builder()
        .reply(Command::Ehlo, "550 5.7.1 go away")
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(550));
    assert_eq!(code(facts.helo.as_ref()), Some(250));
    assert!(facts.accepted_postmaster());

    let server = SmtpServer::builder()
        .reply(Command::Ehlo, "451 4.3.0 try again later")
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(451));
    assert!(facts.helo.is_none() && facts.mail.is_none());
    assert!(!server.saw_command(Command::Helo));
}

#[tokio::test]
async fn the_echoed_client_address_is_recorded() {
    let server = SmtpServer::builder()
        .echo_as("198.51.100.7".parse().unwrap())
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(facts.echoed_ip, Some("198.51.100.7".parse().unwrap()));
    // HELO replies echo too (Sendmail, Exim).
    let server = SmtpServer::builder()
        .echo_client()
        .helo_only()
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(facts.echoed_ip, Some("127.0.0.1".parse().unwrap()));
}

#[tokio::test]
async fn a_refused_sender_is_retried_with_the_null_sender() {
    // A stock Exim with `require verify = sender`: our sender's domain does not verify.
    let server = SmtpServer::builder()
        .rcpt_reply_for_sender(|sender, _| {
            if sender.is_empty() {
                "250 Accepted".to_owned()
            } else {
                format!(
                    "550-Verification failed for <{sender}>\n550-Unrouteable address\n\
                     550 Sender verify failed"
                )
            }
        })
        .build()
        .await;
    let facts = probe(&server).await;
    assert_eq!(code(facts.rcpt.as_ref()), Some(550));
    let retry = facts.null_sender.as_ref().expect("null-sender retry");
    assert_eq!(retry.mail.command, "MAIL FROM:<>");
    assert_eq!(code(retry.rcpt.as_ref()), Some(250));
    assert!(facts.accepted_postmaster());
    let t = server.transcript(0).unwrap();
    assert!(t.lines.iter().any(|l| l == "MAIL FROM:<>"), "{:?}", t.lines);
    assert!(!t.lines.iter().any(|l| l == "DATA"));

    // A refusal that names our client is not retried: another sender would not help.
    let server = SmtpServer::builder()
        .reply(
            Command::Mail,
            "554 5.7.1 Client host [127.0.0.1] blocked using zen.spamhaus.org",
        )
        .build()
        .await;
    let facts = probe(&server).await;
    assert!(facts.null_sender.is_none());
    assert_eq!(server.command_count(Command::Mail), 1);
    // The null sender is never retried with itself.
    let server = SmtpServer::builder()
        .reply(Command::Mail, "550 5.7.1 no")
        .build()
        .await;
    let cfg = SmtpConfig {
        mail_from: "<>".to_owned(),
        ..smtp_config(server.addr().port())
    };
    let facts = probe_with(&server, cfg).await;
    assert!(facts.null_sender.is_none());
}
