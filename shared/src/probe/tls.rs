//! The TLS client used after STARTTLS: rustls with the ring provider (always passed explicitly),
//! the webpki root store plus configured extra CAs, and a verifier that **records** every
//! certificate problem instead of aborting, so the handshake completes and the rest of the SMTP
//! session is still observed. Handshake signatures are still verified for real: the peer must
//! hold the certificate's key. The host name is checked against the DNS SAN entries; a
//! certificate without any DNS SAN is checked against its subject CN, as OpenSSL's host check
//! does.
//!
//! rustls negotiates TLS 1.2 and 1.3 only. A server that offers nothing newer than TLS 1.0/1.1
//! fails the handshake (recorded as a STARTTLS failure); [`is_version_or_cipher_failure`] tells
//! such a failure from others, and [`super::tls_version`] then finds out which version the
//! server does speak.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::facts::{CertFacts, CertProblem, TlsFacts};

/// A TLS client for STARTTLS probes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TlsClient {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

/// The webpki roots plus every certificate in `extra_ca_pem` (each entry one or more PEM
/// `CERTIFICATE` blocks): the trust store of every TLS client of the library (STARTTLS,
/// MTA-STS policies). Unparsable PEM or an unusable certificate is [`crate::Error::Config`].
pub(crate) fn root_store(extra_ca_pem: &[String]) -> Result<RootCertStore, crate::Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (i, pem) in extra_ca_pem.iter().enumerate() {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| {
                crate::Error::Config(format!("smtp.extra_ca_pem[{i}]: bad PEM: {e}"))
            })?;
            roots.add(cert).map_err(|e| {
                crate::Error::Config(format!(
                    "smtp.extra_ca_pem[{i}]: unusable CA certificate: {e}"
                ))
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(crate::Error::Config(format!(
                "smtp.extra_ca_pem[{i}]: no PEM CERTIFICATE block found"
            )));
        }
    }
    Ok(roots)
}

impl TlsClient {
    /// The webpki roots plus every certificate in `extra_ca_pem` (each entry one or more PEM
    /// `CERTIFICATE` blocks). Unparsable PEM or an unusable certificate is
    /// [`crate::Error::Config`].
    pub fn new(extra_ca_pem: &[String]) -> Result<Self, crate::Error> {
        let roots = root_store(extra_ca_pem)?;
        Ok(Self {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// Runs the TLS handshake over `io` for the MX host `host` (SNI and name checks; an IP
    /// address or unusable name is checked as an IP address `fallback_ip`). The handshake
    /// completes even when the certificate has problems; they are all listed in the facts.
    /// On failure (or after `timeout`) the error text is returned.
    pub async fn handshake<IO>(
        &self,
        io: IO,
        host: &str,
        fallback_ip: std::net::IpAddr,
        timeout: Duration,
    ) -> Result<(TlsStream<IO>, TlsFacts), String>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.trim_end_matches('.').to_owned())
            .unwrap_or_else(|_| ServerName::IpAddress(fallback_ip.into()));
        let verifier = Arc::new(RecordingVerifier {
            roots: Arc::clone(&self.roots),
            provider: Arc::clone(&self.provider),
            problems: Mutex::new(Vec::new()),
        });
        let config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(config));
        let stream = match tokio::time::timeout(timeout, connector.connect(name.clone(), io)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("{HANDSHAKE_FAILED}{e}")),
            Err(_) => {
                return Err(format!(
                    "TLS handshake timed out after {} ms",
                    timeout.as_millis()
                ));
            }
        };
        let (_, conn) = stream.get_ref();
        let version = conn
            .protocol_version()
            .map(version_name)
            .unwrap_or_else(|| "unknown".to_owned());
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|cs| format!("{:?}", cs.suite()))
            .unwrap_or_else(|| "unknown".to_owned());
        let chain = conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| cert_facts(c))
            .collect();
        let problems = std::mem::take(
            &mut *verifier
                .problems
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let facts = TlsFacts {
            version,
            cipher,
            chain,
            problems,
            verified_name: name.to_str().into_owned(),
        };
        Ok((stream, facts))
    }

    /// The problems of a chain recorded in an earlier handshake, checked for another name
    /// (`host`; an unusable name is checked as the IP address `fallback_ip`), now. Returns the
    /// name checked and the problems: what a handshake with that name would have recorded
    /// from a server that presents the same chain whatever the SNI.
    pub(crate) fn check_chain(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        host: &str,
        fallback_ip: std::net::IpAddr,
    ) -> (String, Vec<CertProblem>) {
        let name = ServerName::try_from(host.trim_end_matches('.').to_owned())
            .unwrap_or_else(|_| ServerName::IpAddress(fallback_ip.into()));
        let problems = chain_problems(
            &self.roots,
            &self.provider,
            leaf,
            intermediates,
            &name,
            UnixTime::now(),
        );
        (name.to_str().into_owned(), problems)
    }
}

/// How [`TlsClient::handshake`]'s error text starts when rustls (or the I/O under it) failed the
/// handshake; the rest is the error's own text.
const HANDSHAKE_FAILED: &str = "TLS handshake failed: ";

/// Whether a handshake failure **may** mean the server speaks only protocol versions or cipher
/// suites rustls does not (TLS 1.0/1.1, SSLv3, CBC/RSA-only), so a version probe
/// ([`super::tls_version::probe_version`]) is worth a second connection: a fatal
/// `protocol_version`, `handshake_failure` or `insufficient_security` alert from the server,
/// any [`rustls::PeerIncompatible`] (e.g. the server chose TLS 1.0), or a server choosing a
/// cipher suite we did not offer. Certificate problems never fail our handshake (they are
/// recorded), and I/O errors, timeouts or other protocol errors are not version problems.
pub fn is_version_or_cipher_error(e: &rustls::Error) -> bool {
    use rustls::{AlertDescription as A, PeerMisbehaved};
    matches!(
        e,
        rustls::Error::AlertReceived(
            A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity,
        ) | rustls::Error::PeerIncompatible(_)
            | rustls::Error::PeerMisbehaved(PeerMisbehaved::SelectedUnofferedCipherSuite)
    )
}

/// [`is_version_or_cipher_error`] on the error text [`TlsClient::handshake`] returns (`Err(text)`,
/// kept as the STARTTLS step's handshake error). It recognises rustls's own wording, and only
/// right after the handshake's `TLS handshake failed: ` prefix, so text a server sent (for
/// example echoed in another failure's detail) cannot trigger it. Timeouts, I/O errors and
/// anything else are `false`.
pub fn is_version_or_cipher_failure(detail: &str) -> bool {
    const MARKERS: [&str; 5] = [
        "received fatal alert: ProtocolVersion",
        "received fatal alert: HandshakeFailure",
        "received fatal alert: InsufficientSecurity",
        "peer misbehaved: SelectedUnofferedCipherSuite",
        "peer is incompatible: ",
    ];
    let Some(rest) = detail.strip_prefix(HANDSHAKE_FAILED) else {
        return false;
    };
    MARKERS.iter().any(|m| {
        rest.strip_prefix(m).is_some_and(|after| {
            m.ends_with(' ') || !after.starts_with(|c: char| c.is_ascii_alphanumeric())
        })
    })
}

/// `TLSv1.3`-style spelling of a protocol version.
fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::SSLv2 => "SSLv2".to_owned(),
        rustls::ProtocolVersion::SSLv3 => "SSLv3".to_owned(),
        rustls::ProtocolVersion::TLSv1_0 => "TLSv1.0".to_owned(),
        rustls::ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Subject, issuer, SAN DNS names, validity and the DANE digests (SHA-256/512 of the DER and of
/// the SubjectPublicKeyInfo) of a DER certificate (x509-parser, ring). A certificate that does
/// not parse gets its error as subject, zero dates and only the digests of the whole DER.
pub fn cert_facts(der: &CertificateDer<'_>) -> CertFacts {
    let sha256 = hex_digest(&ring::digest::SHA256, der.as_ref());
    let sha512 = hex_digest(&ring::digest::SHA512, der.as_ref());
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => {
            let dns_names = match cert.subject_alternative_name() {
                Ok(Some(san)) => san
                    .value
                    .general_names
                    .iter()
                    .filter_map(|g| match g {
                        x509_parser::extensions::GeneralName::DNSName(n) => Some((*n).to_owned()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            CertFacts {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                dns_names,
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
                sha256,
                sha512,
                spki_sha256: hex_digest(&ring::digest::SHA256, cert.public_key().raw),
                spki_sha512: hex_digest(&ring::digest::SHA512, cert.public_key().raw),
            }
        }
        Err(e) => CertFacts {
            subject: format!("(unparsable certificate: {e})"),
            issuer: String::new(),
            dns_names: Vec::new(),
            not_before: 0,
            not_after: 0,
            sha256,
            sha512,
            spki_sha256: String::new(),
            spki_sha512: String::new(),
        },
    }
}

/// A digest of `data` in lower-case hex.
pub(crate) fn hex_digest(algorithm: &'static ring::digest::Algorithm, data: &[u8]) -> String {
    hex(ring::digest::digest(algorithm, data).as_ref())
}

/// Bytes in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lists every problem of a presented chain for `name` at `now`. webpki stops at the first
/// failure (time and chain before name), so trust, validity dates and name are checked
/// separately: trust at a moment inside the leaf's validity, the dates against `now`, the name
/// on its own.
pub fn chain_problems(
    roots: &RootCertStore,
    provider: &CryptoProvider,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    now: UnixTime,
) -> Vec<CertProblem> {
    let parsed = match ParsedCertificate::try_from(leaf) {
        Ok(p) => p,
        Err(e) => {
            return vec![CertProblem::Other {
                detail: format!("certificate not usable: {e}"),
            }];
        }
    };
    let algs = provider.signature_verification_algorithms.all;
    let mut problems = Vec::new();
    let at_now =
        verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, now, algs);
    match at_now {
        Ok(()) => {}
        Err(e) if is_time_error(&e) => {
            problems.push(CertProblem::Expired {
                detail: describe(&e),
            });
            // Is the chain trusted apart from the dates? Ask at a moment the leaf was valid.
            let facts = cert_facts(leaf);
            let mid = facts.not_before / 2 + facts.not_after / 2;
            let when =
                UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(mid).unwrap_or(0)));
            if let Err(e) =
                verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, when, algs)
                && !is_time_error(&e)
            {
                problems.push(trust_problem(&e));
            }
        }
        Err(e) => {
            problems.push(trust_problem(&e));
            // The chain check may have stopped before looking at the dates.
            let facts = cert_facts(leaf);
            let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            if secs > facts.not_after {
                problems.push(CertProblem::Expired {
                    detail: format!("certificate expired (not after {})", facts.not_after),
                });
            } else if secs < facts.not_before {
                problems.push(CertProblem::Expired {
                    detail: format!(
                        "certificate not valid yet (not before {})",
                        facts.not_before
                    ),
                });
            }
        }
    }
    if let Err(e) = verify_server_name(&parsed, name) {
        match e {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => {
                let names = leaf_names(leaf);
                // OpenSSL's host check: the subject CN counts only when there is no DNS SAN,
                // and only for a DNS name (never for an IP address).
                let by_cn = names.dns.is_empty() && matches!(name, ServerName::DnsName(_));
                if by_cn {
                    let host = name.to_str();
                    if !names.cns.iter().any(|cn| host_matches(cn, &host)) {
                        problems.push(CertProblem::NameMismatch {
                            expected: host.into_owned(),
                            presented: names.cns,
                        });
                    }
                } else {
                    problems.push(CertProblem::NameMismatch {
                        expected: name.to_str().into_owned(),
                        presented: names.dns,
                    });
                }
            }
            other => problems.push(CertProblem::Other {
                detail: describe(&other),
            }),
        }
    }
    problems
}

/// The DNS-type SAN entries and the subject common names of a certificate.
struct LeafNames {
    dns: Vec<String>,
    cns: Vec<String>,
}

/// An unparsable certificate, SAN extension or CN value contributes nothing (as OpenSSL treats
/// an undecodable SAN extension as absent).
fn leaf_names(der: &CertificateDer<'_>) -> LeafNames {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return LeafNames {
            dns: Vec::new(),
            cns: Vec::new(),
        };
    };
    let cns = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .collect();
    LeafNames {
        dns: cert_facts(der).dns_names,
        cns,
    }
}

/// Whether a presented name (here a subject CN) covers `host`: equal ignoring ASCII case and a
/// trailing dot, or a `*.` wildcard standing for exactly the leftmost label of `host`, with at
/// least two labels after it (`*.example.test` covers `mx.example.test`, not `example.test`,
/// `a.mx.example.test` or anything under `*.test`).
fn host_matches(presented: &str, host: &str) -> bool {
    let presented = presented.strip_suffix('.').unwrap_or(presented);
    let host = host.strip_suffix('.').unwrap_or(host);
    if presented.is_empty() || host.is_empty() {
        return false;
    }
    if let Some(parent) = presented.strip_prefix("*.") {
        if parent.split('.').count() < 2 || parent.split('.').any(str::is_empty) {
            return false;
        }
        return match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest.eq_ignore_ascii_case(parent),
            None => false,
        };
    }
    !presented.contains('*') && presented.eq_ignore_ascii_case(host)
}

fn is_time_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

fn trust_problem(e: &rustls::Error) -> CertProblem {
    match e {
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::InvalidPurpose
            | CertificateError::InvalidPurposeContext { .. }
            | CertificateError::Revoked
            | CertificateError::UnhandledCriticalExtension,
        ) => CertProblem::Untrusted {
            detail: describe(e),
        },
        _ => CertProblem::Other {
            detail: describe(e),
        },
    }
}

fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the chain does not lead to a trusted root (unknown issuer or self-signed)".to_owned()
        }
        other => other.to_string(),
    }
}

/// Records every certificate problem and lets the handshake go on; still checks handshake
/// signatures for real.
#[derive(Debug)]
struct RecordingVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    problems: Mutex<Vec<CertProblem>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let problems = chain_problems(
            &self.roots,
            &self.provider,
            end_entity,
            intermediates,
            server_name,
            now,
        );
        *self.problems.lock().unwrap_or_else(PoisonError::into_inner) = problems;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
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
            "3 byte(s) arrived after the 220 to STARTTLS: \"TLS handshake failed: peer is incompatible: \"",
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
}
