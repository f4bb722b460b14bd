//! STARTTLS on the scriptable SMTP server: the handshake with the test CA, certificate
//! failures, the server's STARTTLS failure modes, and the TLS 1.0-only server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::smtp::{Command, SmtpServer};
use rustls::{CertificateError, ProtocolVersion};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{cmd, connect, read_reply, read_to_eof};

/// EHLO, STARTTLS (checking that nothing follows the 220) and the TLS handshake.
pub(super) async fn starttls(
    addr: SocketAddr,
    ca: &TestCa,
    host: &str,
) -> Result<BufReader<TlsStream<TcpStream>>, std::io::Error> {
    let mut c = connect(addr).await;
    read_reply(&mut c).await;
    let ehlo = cmd(&mut c, "EHLO probe.test").await;
    assert!(ehlo.last().unwrap().ends_with("STARTTLS"), "{ehlo:?}");
    assert_eq!(
        cmd(&mut c, "STARTTLS").await,
        ["220 2.0.0 Ready to start TLS"]
    );
    assert!(c.buffer().is_empty(), "bytes after the 220");
    let connector = TlsConnector::from(Arc::new(ca.client_config()));
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let tls = connector.connect(name, c.into_inner()).await?;
    Ok(BufReader::new(tls))
}

fn cert_error(e: &std::io::Error) -> CertificateError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(ce)) => ce.clone(),
        other => panic!("not a certificate error: {e} / {other:?}"),
    }
}

#[tokio::test]
async fn starttls_with_the_test_ca() {
    let ca = TestCa::new();
    let cert = ca.leaf(&["mx1.example.test"]);
    assert!(cert.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(cert.key_pem().contains("PRIVATE KEY"));
    assert!(ca.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));

    let smtp = SmtpServer::builder()
        .tls(cert.server_config())
        .build()
        .await;
    let mut tls = starttls(smtp.addr(), &ca, "mx1.example.test")
        .await
        .expect("handshake");
    assert_eq!(
        tls.get_ref().get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
    let ehlo = cmd(&mut tls, "EHLO probe.test").await;
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert_eq!(
        cmd(&mut tls, "STARTTLS").await,
        ["503 5.5.1 Error: TLS already active"]
    );
    assert_eq!(cmd(&mut tls, "QUIT").await, ["221 2.0.0 Bye"]);
    drop(tls);
    smtp.wait_for_closed(1).await;
    let t = smtp.transcript(0).unwrap();
    assert!(t.tls);
    assert_eq!(t.tls_from_line, Some(2));
    assert_eq!(t.lines[2..], ["EHLO probe.test", "STARTTLS", "QUIT"]);

    // TLS 1.2 only.
    let smtp = SmtpServer::builder()
        .tls(cert.server_config_tls12())
        .build()
        .await;
    let tls = starttls(smtp.addr(), &ca, "mx1.example.test")
        .await
        .expect("handshake");
    assert_eq!(
        tls.get_ref().get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn certificate_failures() {
    let ca = TestCa::new();
    let host = "mx1.example.test";
    let cases = [
        (ca.expired(&[host]), "expired"),
        (ca.expiring_in(-2, &[host]), "expired"),
        (ca.not_yet_valid(&[host]), "not yet valid"),
        (ca.wrong_name(&["other.example.test"]), "wrong name"),
        (ca.self_signed(&[host]), "self-signed"),
        (TestCa::new().leaf(&[host]), "other CA"),
    ];
    for (cert, what) in cases {
        let smtp = SmtpServer::builder()
            .tls(cert.server_config())
            .build()
            .await;
        let err = starttls(smtp.addr(), &ca, host).await.expect_err(what);
        let ce = cert_error(&err);
        let ok = match what {
            "expired" => matches!(
                ce,
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ),
            "not yet valid" => matches!(
                ce,
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
            ),
            "wrong name" => matches!(
                ce,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ),
            _ => matches!(ce, CertificateError::UnknownIssuer),
        };
        assert!(ok, "{what}: {ce:?}");
        smtp.wait_for_closed(1).await;
        assert!(smtp.transcript(0).unwrap().tls_error.is_some(), "{what}");
    }
    // Still valid for 10 days.
    let smtp = SmtpServer::builder()
        .tls(ca.expiring_in(10, &[host]).server_config())
        .build()
        .await;
    starttls(smtp.addr(), &ca, host)
        .await
        .expect("valid for 10 more days");
}

#[tokio::test]
async fn starttls_failure_modes() {
    let ca = TestCa::new();
    let cert = ca.leaf(&["mx.example.test"]);

    // Refused.
    let smtp = SmtpServer::builder()
        .starttls_reply("454 4.7.0 TLS not available")
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    assert!(
        cmd(&mut c, "EHLO a.test")
            .await
            .last()
            .unwrap()
            .ends_with("STARTTLS")
    );
    assert_eq!(
        cmd(&mut c, "STARTTLS").await,
        ["454 4.7.0 TLS not available"]
    );
    assert_eq!(
        cmd(&mut c, "NOOP").await,
        ["250 2.0.0 Ok"],
        "still in cleartext"
    );

    // Not advertised.
    let smtp = SmtpServer::builder().build().await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO a.test").await;
    assert_eq!(
        cmd(&mut c, "STARTTLS").await,
        ["502 5.5.1 Error: command not implemented"]
    );

    // Handshake aborted by the server.
    let smtp = SmtpServer::builder().tls_handshake_fails().build().await;
    let err = starttls(smtp.addr(), &ca, "mx.example.test")
        .await
        .expect_err("must fail");
    let inner = err
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>());
    assert!(
        matches!(inner, Some(rustls::Error::AlertReceived(_))),
        "{err}"
    );

    // Injection: the 220 and a second reply arrive in one segment.
    let smtp = SmtpServer::builder()
        .tls(cert.server_config())
        .inject_after_starttls("250 injected")
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO a.test").await;
    assert_eq!(
        cmd(&mut c, "STARTTLS").await,
        ["220 2.0.0 Ready to start TLS"]
    );
    assert_eq!(c.buffer(), b"250 injected\r\n");

    // Commands pipelined after STARTTLS in cleartext are discarded by the server.
    let smtp = SmtpServer::builder()
        .tls(cert.server_config())
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO a.test").await;
    c.write_all(b"STARTTLS\r\nMAIL FROM:<evil@a.test>\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c).await, ["220 2.0.0 Ready to start TLS"]);
    drop(c);
    smtp.wait_for_closed(1).await;
    let t = smtp.transcript(0).unwrap();
    assert_eq!(t.discarded_after_starttls, b"MAIL FROM:<evil@a.test>\r\n");
    assert!(!t.saw(Command::Mail));
}

/// The rustls error inside a failed handshake's I/O error.
fn rustls_error(e: &std::io::Error) -> &rustls::Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {e}"))
}

/// A minimal ClientHello record, written here byte by byte: `version` as its maximum, these
/// suites, and a supported_versions extension when `supported` is not empty.
fn raw_client_hello(version: u16, suites: &[u16], supported: &[u16]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    if !supported.is_empty() {
        let n = u8::try_from(supported.len() * 2).unwrap();
        let mut ext = vec![0x00, 0x2b, 0x00, n + 1, n];
        for v in supported {
            ext.extend_from_slice(&v.to_be_bytes());
        }
        body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext);
    }
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut msg = vec![1, len[1], len[2], len[3]];
    msg.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(msg.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&msg);
    record
}

/// STARTTLS in cleartext, then `hello` (split in two writes unless it is one byte); returns
/// everything the server sent back until it closed.
async fn legacy_answer(addr: SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut c = connect(addr).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO probe.test").await;
    assert_eq!(
        cmd(&mut c, "STARTTLS").await,
        ["220 2.0.0 Ready to start TLS"]
    );
    let (a, b) = hello.split_at(hello.len() / 2);
    c.write_all(a).await.unwrap();
    c.flush().await.unwrap();
    if !b.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        c.write_all(b).await.unwrap();
    }
    read_to_eof(&mut c).await
}

#[tokio::test]
async fn tls_legacy_only_server() {
    let ca = TestCa::new();
    let smtp = SmtpServer::builder().tls_legacy_only().build().await;

    // rustls (TLS 1.2 and 1.3): a fatal protocol_version alert.
    let err = starttls(smtp.addr(), &ca, "mx.example.test")
        .await
        .expect_err("rustls cannot talk to a TLS 1.0 server");
    assert!(
        matches!(
            rustls_error(&err),
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
        ),
        "{err}"
    );
    smtp.wait_for_closed(1).await;
    let t = smtp.transcript(0).unwrap();
    assert!(!t.tls);
    let outcome = t.tls_error.unwrap();
    assert!(outcome.contains("protocol_version"), "{outcome}");

    // rustls limited to TLS 1.2 still lists 1.2 in supported_versions: refused the same way.
    let tls12 =
        rustls::ClientConfig::builder_with_provider(mailcheck_testkit::certs::ring_provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(ca.root_store())
            .with_no_client_auth();
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO probe.test").await;
    cmd(&mut c, "STARTTLS").await;
    let err = TlsConnector::from(Arc::new(tls12))
        .connect(
            ServerName::try_from("mx.example.test").unwrap(),
            c.into_inner(),
        )
        .await
        .expect_err("TLS 1.2 is refused too");
    assert!(
        matches!(
            rustls_error(&err),
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
        ),
        "{err}"
    );

    // A hello offering at most TLS 1.0 (or 1.2 without supported_versions) with CBC suites:
    // a ServerHello choosing TLS 1.0 and the first CBC suite of the server's preference.
    for max in [0x0301, 0x0302, 0x0303] {
        let answer = legacy_answer(
            smtp.addr(),
            &raw_client_hello(max, &[0xc02f, 0x0035, 0x002f], &[]),
        )
        .await;
        // Record: handshake, TLS 1.0, 42 bytes; message: ServerHello, 38 bytes; version 1.0.
        assert_eq!(
            answer[..11],
            [
                0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01
            ],
            "{max:04x}"
        );
        assert_eq!(answer.len(), 5 + 42);
        assert_eq!(answer[9 + 2 + 32], 0, "empty session id");
        assert_eq!(
            answer[9 + 2 + 32 + 1..],
            [0x00, 0x2f, 0x00],
            "AES128-SHA, null"
        );
    }
    // The same hello from a client that also speaks TLS 1.3 (supported_versions): refused.
    let answer = legacy_answer(
        smtp.addr(),
        &raw_client_hello(0x0303, &[0x002f], &[0x0304, 0x0303]),
    )
    .await;
    assert_eq!(answer, [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70]);
    // No CBC suite offered: handshake_failure.
    let answer = legacy_answer(smtp.addr(), &raw_client_hello(0x0301, &[0xc02f], &[])).await;
    assert_eq!(answer, [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 40]);
    // Not TLS at all: decode_error, as soon as a record header's worth of bytes is there
    // (exactly that much is sent, so the server reads all of it and closes cleanly).
    let answer = legacy_answer(smtp.addr(), b"EHLO ").await;
    assert_eq!(answer, [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 50]);

    smtp.wait_for_closed(8).await;
    let outcomes: Vec<String> = smtp
        .transcripts()
        .into_iter()
        .map(|t| t.tls_error.unwrap_or_default())
        .collect();
    assert!(outcomes[1].contains("protocol_version"), "{outcomes:?}");
    assert!(outcomes[2].contains("TLS 1.0 ServerHello"), "{outcomes:?}");
    assert!(outcomes[6].contains("handshake_failure"), "{outcomes:?}");
    assert!(outcomes[7].contains("not a ClientHello"), "{outcomes:?}");
}
