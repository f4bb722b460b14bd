//! Unit tests of the TLS client: extra CAs, host matching as OpenSSL does it, the recognition
//! of version and cipher failures, the DANE digests and the version names.

use rustls::CertificateError;

use super::verify::host_matches;
use super::*;

#[test]
fn bad_extra_ca_is_a_config_error() {
    assert!(matches!(
        TlsClient::new(&["not pem".to_owned()]),
        Err(crate::Error::Config(_))
    ));
    let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        TlsClient::new(&[broken.to_owned()]),
        Err(crate::Error::Config(_))
    ));
    assert!(TlsClient::new(&[]).is_ok());
}

#[test]
fn host_matching_like_openssl() {
    let host = "mx.example.test";
    for yes in [
        "mx.example.test",
        "MX.EXAMPLE.TEST",
        "mx.example.test.",
        "*.example.test",
        "*.EXAMPLE.test",
    ] {
        assert!(host_matches(yes, host), "{yes}");
    }
    assert!(host_matches("mx.example.test", "mx.example.test."));
    for no in [
        "",
        ".",
        "example.test",
        "other.example.test",
        "*.mx.example.test",
        "*.test",
        "*",
        "*.",
        "*..test",
        "m*.example.test",
        "mx.*.test",
        "*.*.test",
        "x.mx.example.test",
    ] {
        assert!(!host_matches(no, host), "{no:?}");
    }
    // A wildcard stands for exactly one non-empty label.
    assert!(!host_matches("*.example.test", "a.b.example.test"));
    assert!(!host_matches("*.example.test", ".example.test"));
    assert!(!host_matches("*.example.test", "example.test"));
}

/// The text test must agree with the typed test on what `handshake` really returns for
/// each error (this also catches a change of rustls's wording).
#[test]
fn version_or_cipher_failures() {
    use rustls::{AlertDescription as A, PeerIncompatible, PeerMisbehaved};
    let text = |e: rustls::Error| {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        format!("{HANDSHAKE_FAILED}{io}")
    };
    let yes = [
        rustls::Error::AlertReceived(A::ProtocolVersion),
        rustls::Error::AlertReceived(A::HandshakeFailure),
        rustls::Error::AlertReceived(A::InsufficientSecurity),
        PeerIncompatible::ServerDoesNotSupportTls12Or13.into(),
        PeerIncompatible::NoCipherSuitesInCommon.into(),
        PeerIncompatible::NoKxGroupsInCommon.into(),
        PeerMisbehaved::SelectedUnofferedCipherSuite.into(),
    ];
    let no = [
        rustls::Error::AlertReceived(A::BadCertificate),
        rustls::Error::AlertReceived(A::DecodeError),
        rustls::Error::AlertReceived(A::InternalError),
        rustls::Error::AlertReceived(A::Unknown(200)),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        PeerMisbehaved::SelectedUnofferedCompression.into(),
        rustls::Error::DecryptError,
        rustls::Error::General("received fatal alert: ProtocolVersion".to_owned()),
    ];
    for e in yes {
        assert!(is_version_or_cipher_error(&e), "{e:?}");
        assert!(is_version_or_cipher_failure(&text(e.clone())), "{e:?}");
    }
    for e in no {
        assert!(!is_version_or_cipher_error(&e), "{e:?}");
        assert!(!is_version_or_cipher_failure(&text(e.clone())), "{e:?}");
    }
    assert_eq!(
        text(rustls::Error::AlertReceived(A::ProtocolVersion)),
        "TLS handshake failed: received fatal alert: ProtocolVersion"
    );
    for other in [
        "TLS handshake timed out after 5000 ms",
        "TLS handshake failed: connection reset by peer",
        "TLS handshake failed: tls handshake eof",
        "received fatal alert: ProtocolVersion",
        "3 byte(s) arrived after the 220 to STARTTLS: \
         \"TLS handshake failed: peer is incompatible: \"",
        "",
    ] {
        assert!(!is_version_or_cipher_failure(other), "{other}");
    }
}

#[test]
fn certificate_digests_for_dane() {
    let ca = mailcheck_testkit::certs::TestCa::new();
    let der = ca.leaf(&["mx.example.test"]).cert_der();
    let facts = cert_facts(&der);
    let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let spki = parsed.public_key().raw;
    assert_eq!(
        facts.sha256,
        hex_digest(&ring::digest::SHA256, der.as_ref())
    );
    assert_eq!(
        facts.sha512,
        hex_digest(&ring::digest::SHA512, der.as_ref())
    );
    assert_eq!(facts.spki_sha256, hex_digest(&ring::digest::SHA256, spki));
    assert_eq!(facts.spki_sha512, hex_digest(&ring::digest::SHA512, spki));
    assert_eq!((facts.sha256.len(), facts.sha512.len()), (64, 128));
    assert_ne!(facts.sha256, facts.spki_sha256);
    assert!(
        facts
            .spki_sha512
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    );
    // An unparsable certificate still has the digests of its bytes, and no SPKI digests.
    let junk = CertificateDer::from(vec![1, 2, 3]);
    let facts = cert_facts(&junk);
    assert_eq!(facts.sha256, hex_digest(&ring::digest::SHA256, &[1, 2, 3]));
    assert!(facts.spki_sha256.is_empty());
    assert_eq!(hex(&[0, 15, 255]), "000fff");
}

#[test]
fn version_names() {
    assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_3), "TLSv1.3");
    assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_2), "TLSv1.2");
}
