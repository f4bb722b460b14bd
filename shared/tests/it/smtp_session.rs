//! The SMTP session against the test kit's scriptable server on loopback.

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
*  TLS established: TLSv1.3, {cipher}, certificate {subject:?} for mx.example.test; certificate verified
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
        "C: MAIL FROM:<postmaster@probe.example.test>\nS: 250 2.1.0 Ok\nC: RCPT TO:<postmaster@example.test>\n"
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
                format!("550-Verification failed for <{sender}>\n550-Unrouteable address\n550 Sender verify failed")
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

#[tokio::test]
async fn a_failed_ehlo_inside_tls_retries_in_clear() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &ca.leaf(&[MX]))
        .ehlo_in_tls_reply("554 5.5.1 Error: TLS session broken")
        .build()
        .await;
    let facts = probe_with(&server, trusting(&ca, server.addr().port())).await;
    let st = facts.starttls.as_ref().expect("starttls");
    assert!(matches!(&st.handshake, Some(Ok(_))));
    assert_eq!(code(st.ehlo.as_ref()), Some(554));
    assert!(facts.retried_without_tls);
    assert!(facts.accepted_postmaster());
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_tls_1_0_only_server_is_probed_for_its_version() {
    let server = SmtpServer::builder().tls_legacy_only().build().await;
    let facts = probe(&server).await;
    let st = facts.starttls.as_ref().expect("starttls");
    assert!(matches!(&st.handshake, Some(Err(_))));
    let legacy = st.legacy.as_ref().expect("version probe");
    assert_eq!(legacy.outcome.as_deref(), Ok("TLSv1.0"));
    assert!(legacy.legacy_only());
    // First connection, the version probe, the clear-text retry.
    assert_eq!(server.connections(), 3);
    assert!(facts.retried_without_tls && facts.accepted_postmaster());
}

#[tokio::test]
async fn no_starttls_advertised() {
    let server = SmtpServer::builder().build().await;
    let facts = probe(&server).await;
    assert!(facts.starttls.is_none());
    assert!(!facts.advertises_starttls());
    assert!(facts.accepted_postmaster());
    assert!(!server.saw_command(Command::StartTls));
}

#[tokio::test]
async fn starttls_454_then_retry_without_tls() {
    let server = SmtpServer::builder()
        .starttls_reply("454 4.7.0 TLS not available due to local problem")
        .build()
        .await;
    let facts = probe(&server).await;
    let st = facts.starttls.as_ref().expect("starttls");
    assert_eq!(code(Some(&st.command)), Some(454));
    assert!(st.handshake.is_none());
    assert!(facts.retried_without_tls);
    assert!(facts.accepted_postmaster());
    assert_eq!(server.connections(), 2);
    // The first connection was ended with QUIT.
    assert!(
        server
            .transcript(0)
            .unwrap()
            .commands()
            .contains(&Command::Quit)
    );
    assert!(
        !server
            .transcript(1)
            .unwrap()
            .commands()
            .contains(&Command::StartTls)
    );
}

#[tokio::test]
async fn handshake_failure_then_retry_without_tls() {
    let server = SmtpServer::builder().tls_handshake_fails().build().await;
    let facts = probe(&server).await;
    let st = facts.starttls.as_ref().expect("starttls");
    assert_eq!(code(Some(&st.command)), Some(220));
    assert!(
        matches!(&st.handshake, Some(Err(e)) if e.contains("handshake")),
        "{:?}",
        st.handshake
    );
    assert!(facts.tls().is_none());
    assert!(facts.retried_without_tls);
    assert!(facts.accepted_postmaster());
    // A handshake_failure alert may mean versions or ciphers: the version probe asks, and this
    // server refuses it too (not a legacy-only server).
    let legacy = st.legacy.as_ref().expect("version probe");
    assert!(!legacy.legacy_only(), "{legacy:?}");
    assert_eq!(server.connections(), 3);
    assert!(
        facts
            .transcript_text()
            .contains("reconnecting once without TLS")
    );
}

#[tokio::test]
async fn injection_after_starttls_is_detected() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &ca.leaf(&[MX]))
        .inject_after_starttls("250 injected")
        .build()
        .await;
    let facts = probe_with(&server, trusting(&ca, server.addr().port())).await;
    let st = facts.starttls.as_ref().expect("starttls");
    assert!(
        matches!(&st.handshake, Some(Err(e)) if e.contains("injection")),
        "{:?}",
        st.handshake
    );
    assert!(facts.retried_without_tls);
    assert!(facts.accepted_postmaster());
}

async fn tls_problems(
    cert: impl FnOnce(&TestCa) -> mailcheck_testkit::certs::TestCert,
    trust: bool,
) -> Vec<CertProblem> {
    let ca = TestCa::new();
    let cert = cert(&ca);
    let server = tls_server(&ca, &cert).build().await;
    let port = server.addr().port();
    let cfg = if trust {
        trusting(&ca, port)
    } else {
        smtp_config(port)
    };
    let facts = probe_with(&server, cfg).await;
    // The handshake completes whatever is wrong, and the session goes on inside TLS.
    assert!(facts.tls().is_some(), "{}", facts.transcript_text());
    assert!(!facts.retried_without_tls);
    assert!(facts.accepted_postmaster());
    assert!(server.transcript(0).unwrap().tls);
    facts.tls().unwrap().problems.clone()
}

#[tokio::test]
async fn untrusted_certificate_is_recorded() {
    let p = tls_problems(|ca| ca.leaf(&[MX]), false).await;
    assert!(
        matches!(p.as_slice(), [CertProblem::Untrusted { .. }]),
        "{p:?}"
    );
    let p = tls_problems(|_| mailcheck_testkit::certs::self_signed(&[MX]), true).await;
    assert!(
        matches!(p.as_slice(), [CertProblem::Untrusted { .. }]),
        "{p:?}"
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_are_recorded() {
    let p = tls_problems(|ca| ca.expired(&[MX]), true).await;
    assert!(
        matches!(p.as_slice(), [CertProblem::Expired { .. }]),
        "{p:?}"
    );
    let p = tls_problems(|ca| ca.not_yet_valid(&[MX]), true).await;
    assert!(
        matches!(p.as_slice(), [CertProblem::Expired { .. }]),
        "{p:?}"
    );
}

#[tokio::test]
async fn name_mismatch_is_recorded() {
    let p = tls_problems(|ca| ca.wrong_name(&["other.example.test"]), true).await;
    match p.as_slice() {
        [
            CertProblem::NameMismatch {
                expected,
                presented,
            },
        ] => {
            assert_eq!(expected, MX);
            assert_eq!(presented, &vec!["other.example.test".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn several_problems_at_once() {
    // Expired, wrong name, and from a CA we do not trust: all three are listed.
    let p = tls_problems(|ca| ca.expired(&["other.example.test"]), false).await;
    assert!(
        p.iter().any(|x| matches!(x, CertProblem::Expired { .. })),
        "{p:?}"
    );
    assert!(
        p.iter().any(|x| matches!(x, CertProblem::Untrusted { .. })),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| matches!(x, CertProblem::NameMismatch { .. })),
        "{p:?}"
    );
    assert_eq!(p.len(), 3);
    // Expired and wrong name from a trusted CA.
    let p = tls_problems(|ca| ca.expired(&["other.example.test"]), true).await;
    assert_eq!(p.len(), 2, "{p:?}");
}

#[tokio::test]
async fn tls12_only_server() {
    let ca = TestCa::new();
    let cert = ca.leaf(&[MX]);
    let server = SmtpServer::builder()
        .hostname(MX)
        .tls(cert.server_config_tls12())
        .build()
        .await;
    let facts = probe_with(&server, trusting(&ca, server.addr().port())).await;
    assert_eq!(facts.tls().unwrap().version, "TLSv1.2");
}

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
    assert!(
        matches!(&facts.greeting.as_ref().unwrap().outcome, StepOutcome::Replied { reply } if reply.code == 220)
    );
    assert!(facts.accepted_postmaster());
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
