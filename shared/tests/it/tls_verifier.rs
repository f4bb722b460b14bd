//! The recording verifier's problem list, checked directly on certificates from the lab CA;
//! and what happens with a server that speaks only TLS 1.0: the handshake failure is classified
//! as a version problem and the version probe names the version.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailcheck::facts::CertProblem;
use mailcheck::probe::tls::{TlsClient, cert_facts, chain_problems, is_version_or_cipher_failure};
use mailcheck::probe::tls_version::probe_version;
use mailcheck_testkit::certs::{TestCa, TestCert, self_signed};
use mailcheck_testkit::smtp::{Hostile, SmtpServer};
use rustls::RootCertStore;
use rustls_pki_types::{ServerName, UnixTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MX: &str = "mx.example.test";

fn problems(ca: &TestCa, trusted: bool, cert: &TestCert) -> Vec<CertProblem> {
    let roots = if trusted {
        ca.root_store()
    } else {
        RootCertStore::empty()
    };
    let provider = rustls::crypto::ring::default_provider();
    let now = UnixTime::since_unix_epoch(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    let name = ServerName::try_from(MX).unwrap();
    chain_problems(&roots, &provider, &cert.cert_der(), &[], &name, now)
}

fn kinds(p: &[CertProblem]) -> Vec<&'static str> {
    let mut k: Vec<_> = p
        .iter()
        .map(|p| match p {
            CertProblem::Untrusted { .. } => "untrusted",
            CertProblem::Expired { .. } => "expired",
            CertProblem::NameMismatch { .. } => "name",
            CertProblem::Other { .. } => "other",
        })
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn each_problem_and_combinations() {
    let ca = TestCa::new();
    assert!(problems(&ca, true, &ca.leaf(&[MX])).is_empty());
    assert_eq!(kinds(&problems(&ca, false, &ca.leaf(&[MX]))), ["untrusted"]);
    assert_eq!(
        kinds(&problems(&ca, true, &self_signed(&[MX]))),
        ["untrusted"]
    );
    assert_eq!(kinds(&problems(&ca, true, &ca.expired(&[MX]))), ["expired"]);
    assert_eq!(
        kinds(&problems(&ca, true, &ca.not_yet_valid(&[MX]))),
        ["expired"]
    );
    assert_eq!(
        kinds(&problems(&ca, true, &ca.wrong_name(&["x.example.test"]))),
        ["name"]
    );
    assert_eq!(
        kinds(&problems(&ca, true, &ca.expired(&["x.example.test"]))),
        ["expired", "name"]
    );
    assert_eq!(
        kinds(&problems(&ca, false, &ca.expired(&["x.example.test"]))),
        ["expired", "name", "untrusted"]
    );
    assert_eq!(
        kinds(&problems(&ca, true, &self_signed(&["x.example.test"]))),
        ["name", "untrusted"]
    );
    // Wildcards cover one label.
    assert!(problems(&ca, true, &ca.leaf(&["*.example.test"])).is_empty());
}

fn presented(p: &[CertProblem]) -> Vec<String> {
    match p {
        [CertProblem::NameMismatch { presented, .. }] => presented.clone(),
        other => panic!("not exactly one name mismatch: {other:?}"),
    }
}

/// Without a DNS SAN the subject CN is the name (OpenSSL's host check); with one, the CN is
/// ignored.
#[test]
fn common_name_counts_only_without_dns_san() {
    let ca = TestCa::new();
    // Only a CN, and it matches: exactly, in another case, with a trailing dot, by wildcard.
    for cn in [MX, "MX.Example.TEST", "mx.example.test.", "*.example.test"] {
        let cert = ca.with_common_name(cn, &[]);
        assert!(cert_facts(&cert.cert_der()).dns_names.is_empty());
        let p = problems(&ca, true, &cert);
        assert!(p.is_empty(), "CN {cn}: {p:?}");
    }
    // Only a CN, and it does not match: the CN is what was compared, so it is what is listed.
    for cn in [
        "other.example.test",
        "*.mx.example.test",
        "*.test",
        "example.test",
    ] {
        let p = problems(&ca, true, &ca.with_common_name(cn, &[]));
        assert_eq!(presented(&p), [cn], "CN {cn}");
        assert!(
            matches!(&p[0], CertProblem::NameMismatch { expected, .. } if expected == MX),
            "{p:?}"
        );
    }
    // DNS SANs that do not match: a matching CN does not help, and the SANs are listed.
    let p = problems(&ca, true, &ca.with_common_name(MX, &["other.example.test"]));
    assert_eq!(presented(&p), ["other.example.test"]);
    // Both matching: fine, as before.
    assert!(problems(&ca, true, &ca.with_common_name(MX, &[MX])).is_empty());
    // A SAN match with a CN that says something else is fine too.
    assert!(problems(&ca, true, &ca.with_common_name("legacy name", &[MX])).is_empty());
    // The CN rescue is about the name only: an untrusted CN-only certificate stays untrusted.
    assert_eq!(
        kinds(&problems(&ca, false, &ca.with_common_name(MX, &[]))),
        ["untrusted"]
    );
}

#[test]
fn certificate_details() {
    let ca = TestCa::new();
    let cert = ca.expiring_in(10, &[MX, "mx2.example.test"]);
    let f = cert_facts(&cert.cert_der());
    assert_eq!(f.dns_names, [MX, "mx2.example.test"]);
    assert!(!f.subject.is_empty());
    assert!(!f.issuer.is_empty());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // `expiring_in(10)` is ten days and a half away.
    let in_ten_days =
        i64::try_from(now + Duration::from_secs(10 * 86_400 + 43_200).as_secs()).unwrap();
    assert!(
        (f.not_after - in_ten_days).abs() < 3600,
        "{} vs {in_ten_days}",
        f.not_after
    );
    assert!(f.not_before < f.not_after);
}

#[test]
fn extra_ca_pem() {
    let ca = TestCa::new();
    let two = format!("{}{}", ca.ca_pem(), TestCa::new().ca_pem());
    assert!(TlsClient::new(&[ca.ca_pem(), two]).is_ok());
    assert!(matches!(
        TlsClient::new(&[String::new()]),
        Err(mailcheck::Error::Config(_))
    ));
    let truncated: String = ca.ca_pem().chars().take(100).collect();
    assert!(matches!(
        TlsClient::new(&[truncated]),
        Err(mailcheck::Error::Config(_))
    ));
}

const WAIT: Duration = Duration::from_secs(5);

/// Reads one SMTP reply (all its lines) and returns its last line.
async fn reply(c: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        assert!(c.read_line(&mut line).await.unwrap() > 0, "closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_owned();
        }
    }
}

/// Connects, reads the greeting, EHLO, STARTTLS: the cleartext connection, ready for TLS.
async fn after_starttls(addr: SocketAddr) -> TcpStream {
    let mut c = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert!(reply(&mut c).await.starts_with("220 "));
    c.write_all(b"EHLO probe.example.test\r\n").await.unwrap();
    assert!(reply(&mut c).await.ends_with("STARTTLS"));
    c.write_all(b"STARTTLS\r\n").await.unwrap();
    assert!(reply(&mut c).await.starts_with("220 "));
    assert!(c.buffer().is_empty());
    c.into_inner()
}

#[tokio::test]
async fn probe_version_over_starttls() {
    let smtp = SmtpServer::builder().tls_legacy_only().build().await;
    let mut tcp = after_starttls(smtp.addr()).await;
    assert_eq!(
        probe_version(&mut tcp, MX, WAIT).await,
        Ok("TLSv1.0".to_owned())
    );
    drop(tcp);
    smtp.wait_for_closed(1).await;
    // The server saw a TLS 1.2 maximum without supported_versions, and chose a CBC suite.
    let outcome = smtp.transcript(0).unwrap().tls_error.unwrap();
    assert!(
        outcome.contains("legacy_version 0x0303, supported_versions []")
            && outcome.contains("TLS 1.0 ServerHello"),
        "{outcome}"
    );

    // A modern server (rustls) answers the same probe with TLS 1.2.
    let ca = TestCa::new();
    let cert = ca.leaf(&[MX]);
    let smtp = SmtpServer::builder()
        .tls(cert.server_config())
        .build()
        .await;
    let mut tcp = after_starttls(smtp.addr()).await;
    assert_eq!(
        probe_version(&mut tcp, MX, WAIT).await,
        Ok("TLSv1.2".to_owned())
    );
    // A TLS 1.3-only server refuses it.
    let smtp = SmtpServer::builder()
        .tls(cert.server_config_with_versions(&[&rustls::version::TLS13]))
        .build()
        .await;
    let mut tcp = after_starttls(smtp.addr()).await;
    assert_eq!(
        probe_version(&mut tcp, MX, WAIT).await,
        Err("fatal alert protocol_version (70)".to_owned())
    );
}

/// The pieces the SMTP session composes: the rustls handshake fails, the failure is
/// classified as versions/ciphers, and a second connection's version probe names TLS 1.0.
#[tokio::test]
async fn legacy_server_end_to_end() {
    let ca = TestCa::new();
    let client = TlsClient::new(&[ca.ca_pem()]).unwrap();
    let smtp = SmtpServer::builder().tls_legacy_only().build().await;
    let ip = smtp.addr().ip();

    let tcp = after_starttls(smtp.addr()).await;
    let trigger = client
        .handshake(tcp, MX, ip, WAIT)
        .await
        .map(|_| ())
        .expect_err("rustls cannot speak TLS 1.0");
    assert_eq!(
        trigger,
        "TLS handshake failed: received fatal alert: ProtocolVersion"
    );
    assert!(is_version_or_cipher_failure(&trigger));

    let mut tcp = after_starttls(smtp.addr()).await;
    let outcome = probe_version(&mut tcp, MX, WAIT).await;
    drop(tcp);
    assert_eq!(outcome, Ok("TLSv1.0".to_owned()));
    smtp.wait_for_closed(2).await;
    assert_eq!(smtp.connections(), 2);
}

/// Handshake failures that are not about versions are not classified as such; one that may
/// be (a handshake_failure alert) leads to a probe that reports the alert.
#[tokio::test]
async fn other_handshake_failures() {
    let ca = TestCa::new();
    let client = TlsClient::new(&[ca.ca_pem()]).unwrap();

    // handshake_failure: maybe ciphers; the probe gets the same alert.
    let smtp = SmtpServer::builder().tls_handshake_fails().build().await;
    let ip = smtp.addr().ip();
    let tcp = after_starttls(smtp.addr()).await;
    let trigger = client
        .handshake(tcp, MX, ip, WAIT)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(is_version_or_cipher_failure(&trigger), "{trigger}");
    let mut tcp = after_starttls(smtp.addr()).await;
    assert_eq!(
        probe_version(&mut tcp, MX, WAIT).await,
        Err("fatal alert handshake_failure (40)".to_owned())
    );

    // The server closes after the 220: an I/O failure, not a version problem.
    let smtp = SmtpServer::builder()
        .starttls_reply("220 2.0.0 go ahead")
        .build()
        .await;
    let tcp = after_starttls(smtp.addr()).await;
    let trigger = client
        .handshake(tcp, MX, ip, WAIT)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(!is_version_or_cipher_failure(&trigger), "{trigger}");
    let mut tcp = after_starttls(smtp.addr()).await;
    let e = probe_version(&mut tcp, MX, WAIT).await.unwrap_err();
    assert!(e.contains("closed"), "{e}");

    // A silent server: a timeout, not a version problem.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::Silence)
        .build()
        .await;
    let tcp = TcpStream::connect(smtp.addr()).await.unwrap();
    let trigger = client
        .handshake(tcp, MX, ip, Duration::from_millis(100))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(trigger.contains("timed out"), "{trigger}");
    assert!(!is_version_or_cipher_failure(&trigger));
    let mut tcp = TcpStream::connect(smtp.addr()).await.unwrap();
    let e = probe_version(&mut tcp, MX, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(e.contains("timed out"), "{e}");

    // Not TLS at all: the server answers the hello in cleartext (the hello holds 0x0a bytes,
    // e.g. in suite 0x000a, so the server sees a line and answers `500`).
    let smtp = SmtpServer::builder().build().await;
    let mut c = BufReader::new(TcpStream::connect(smtp.addr()).await.unwrap());
    reply(&mut c).await;
    let e = probe_version(c.get_mut(), MX, WAIT).await.unwrap_err();
    assert!(
        e.starts_with("not TLS: the server answered with text"),
        "{e}"
    );
    let trigger = client
        .handshake(c.into_inner(), MX, ip, WAIT)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(!is_version_or_cipher_failure(&trigger), "{trigger}");

    // Certificate problems never fail the handshake: they are recorded.
    let smtp = SmtpServer::builder()
        .tls(ca.expired(&["other.example.test"]).server_config())
        .build()
        .await;
    let tcp = after_starttls(smtp.addr()).await;
    let (_, facts) = client.handshake(tcp, MX, ip, WAIT).await.unwrap();
    assert_eq!(kinds(&facts.problems), ["expired", "name"]);
}
