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
//!
//! Files: this one holds the client, its handshake and the recognition of version and cipher
//! failures; `verify.rs` the certificate facts and digests, every problem of a chain for a
//! name, and the recording verifier.

#[cfg(test)]
mod tests;
mod verify;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::facts::{CertProblem, TlsFacts};
use verify::RecordingVerifier;

pub use verify::{cert_facts, chain_problems};
pub(crate) use verify::{hex, hex_digest};

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
