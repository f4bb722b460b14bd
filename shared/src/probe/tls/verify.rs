//! Certificates as the TLS client sees them: their facts and DANE digests, every problem of a
//! presented chain for a name (trust, dates and name checked separately, the name as OpenSSL
//! checks it), and the verifier that records those problems and lets the handshake go on.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::facts::{CertFacts, CertProblem};

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
pub(super) fn host_matches(presented: &str, host: &str) -> bool {
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
pub(super) struct RecordingVerifier {
    pub(super) roots: Arc<RootCertStore>,
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) problems: Mutex<Vec<CertProblem>>,
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
