//! STARTTLS against the loopback server: the retries without TLS after a failure, the version
//! probe of a TLS 1.0-only server, injection after STARTTLS, and certificate problems recorded.

use super::*;

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
