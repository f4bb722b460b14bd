//! TLS after STARTTLS: the STARTTLS step, the negotiated version and cipher, the certificate
//! chain with its digests, every verification problem, and the legacy version probe.

use serde::{Deserialize, Serialize};

use super::Step;

/// A certificate as presented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS names (SANs).
    pub dns_names: Vec<String>,
    /// Not valid before (Unix seconds).
    pub not_before: i64,
    /// Not valid after (Unix seconds).
    pub not_after: i64,
    /// SHA-256 of the whole certificate (DER), lower-case hex: what a TLSA record with
    /// selector 0 and matching type 1 publishes. Empty in facts recorded before digests were.
    /// A TLSA record with matching type 0 (the full DER) is compared by hashing its data with
    /// SHA-256 and comparing with this digest, so the certificate itself need not be kept.
    #[serde(default)]
    pub sha256: String,
    /// SHA-512 of the whole certificate (DER), lower-case hex (selector 0, matching type 2).
    #[serde(default)]
    pub sha512: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lower-case hex (selector 1,
    /// matching type 1; type 0 compares the SHA-256 of the data, as for [`Self::sha256`]).
    #[serde(default)]
    pub spki_sha256: String,
    /// SHA-512 of the SubjectPublicKeyInfo (DER), lower-case hex (selector 1, matching type 2).
    #[serde(default)]
    pub spki_sha512: String,
}

/// One thing wrong with the certificate, as the verifier saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CertProblem {
    /// The chain does not lead to a trusted root.
    Untrusted {
        /// The verifier's words.
        detail: String,
    },
    /// Expired or not yet valid.
    Expired {
        /// The verifier's words.
        detail: String,
    },
    /// The certificate does not cover the name we connected to.
    NameMismatch {
        /// The name we expected.
        expected: String,
        /// The names presented.
        presented: Vec<String>,
    },
    /// Anything else.
    Other {
        /// The verifier's words.
        detail: String,
    },
}

/// What TLS looked like after STARTTLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    /// `TLSv1.3`, `TLSv1.2`, …
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
    /// The chain as presented, leaf first.
    pub chain: Vec<CertFacts>,
    /// Every verification problem found (none for a good certificate).
    pub problems: Vec<CertProblem>,
    /// The name verified against (the MX host name).
    pub verified_name: String,
}

/// The STARTTLS step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTlsFacts {
    /// The STARTTLS command and its reply.
    pub command: Step,
    /// The handshake result: facts on success, the error text on failure.
    pub handshake: Option<Result<TlsFacts, String>>,
    /// The EHLO sent again inside TLS.
    pub ehlo: Option<Step>,
    /// After a handshake that failed on versions or ciphers, the minimal version probe.
    #[serde(default)]
    pub legacy: Option<LegacyTlsProbe>,
}

/// The version probe made when a handshake failed on protocol versions or ciphers we do not
/// speak: a minimal TLS 1.0–1.2 ClientHello of our own, reading only the ServerHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTlsProbe {
    /// The alert or error that made us probe.
    pub trigger: String,
    /// The version the server chose (`TLSv1.0`, `TLSv1.1`, …), or what happened instead.
    pub outcome: Result<String, String>,
}

impl LegacyTlsProbe {
    /// Whether the server chose a version below TLS 1.2.
    pub fn legacy_only(&self) -> bool {
        matches!(&self.outcome, Ok(v) if matches!(v.as_str(), "SSLv3" | "TLSv1.0" | "TLSv1.1"))
    }
}
