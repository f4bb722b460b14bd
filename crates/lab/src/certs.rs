//! A lab PKI made with rcgen: a test CA (ECDSA P-256) and the certificates a mail server may
//! present: valid, expired, about to expire, not yet valid, self-signed, or for other names.
//!
//! ```no_run
//! use mailcheck_lab::certs::TestCa;
//!
//! let ca = TestCa::new();
//! let good = ca.leaf(&["mx1.example.test"]);
//! let server_config = good.server_config(); // give it to the SMTP server's `.tls(..)`
//! let client_config = ca.client_config(); // trusts only this CA
//! # let _ = (server_config, client_config);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The ring crypto provider, passed explicitly to every rustls builder (see the workspace notes:
/// the process-level default may be ambiguous).
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate authority that issues leaf certificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert: Certificate,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate a P-256 key")
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Parameters of a server (end-entity) certificate for these names (DNS names or IP addresses).
fn leaf_params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::new(owned(names)).expect("valid subject alternative names");
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("mailcheck test server"),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

impl TestCa {
    /// A new CA, valid from yesterday for ten years, named "mailcheck-testkit CA" plus a
    /// unique suffix: two CAs never share a subject name (a certificate from one then fails
    /// against the other with `UnknownIssuer`, not `BadSignature`).
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Self::with_name(&format!(
            "mailcheck-testkit CA {}-{n}-{:x}",
            std::process::id(),
            nanos & 0xffff_ffff
        ))
    }

    /// A new CA with this common name.
    pub fn with_name(common_name: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "mailcheck lab");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let key = new_key();
        let cert = params.self_signed(&key).expect("self-sign the test CA");
        Self {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// A root store that holds only this CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca_der())
            .expect("add the test CA to a root store");
        roots
    }

    /// A rustls client configuration (ring, TLS 1.2 and 1.3) that trusts only this CA.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(self.root_store())
            .with_no_client_auth()
    }

    /// Issues a certificate for `names` valid from `not_before` to `not_after`.
    pub fn issue(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> TestCert {
        let key = new_key();
        let cert = leaf_params(names, not_before, not_after)
            .signed_by(&key, &self.issuer)
            .expect("sign a leaf certificate");
        TestCert::new(&cert, &key, names)
    }

    /// A valid certificate for `names` (DNS names or IP addresses): from yesterday for a year.
    pub fn leaf(&self, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now - Duration::days(1), now + Duration::days(365))
    }

    /// A valid certificate (from yesterday for a year) whose subject common name is
    /// `common_name` and whose SAN extension lists exactly `dns_names`; with no names there is
    /// no SAN extension at all (an old-style certificate named only by its CN).
    pub fn with_common_name(&self, common_name: &str, dns_names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        let mut params = leaf_params(
            dns_names,
            now - Duration::days(1),
            now + Duration::days(365),
        );
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        let key = new_key();
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign a leaf certificate");
        TestCert::new(&cert, &key, dns_names)
    }

    /// A certificate for names other than the server's: the same as [`leaf`](Self::leaf),
    /// named for the mismatch it is used to test.
    pub fn wrong_name(&self, names: &[&str]) -> TestCert {
        self.leaf(names)
    }

    /// A certificate that expired 30 days ago (valid for a year before that).
    pub fn expired(&self, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now - Duration::days(395), now - Duration::days(30))
    }

    /// A certificate that expires in `days` days and a half (negative: expired that many days
    /// ago, less half a day): any check within the next 12 hours counts `days` whole days,
    /// however long after the issue it runs (whole seconds in the certificate included).
    pub fn expiring_in(&self, days: i64, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        let not_after = now + Duration::days(days) + Duration::hours(12);
        self.issue(names, not_after.min(now) - Duration::days(30), not_after)
    }

    /// A certificate that becomes valid only in 30 days.
    pub fn not_yet_valid(&self, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now + Duration::days(30), now + Duration::days(395))
    }

    /// A self-signed certificate for `names` (not issued by this CA), valid now for a year.
    pub fn self_signed(&self, names: &[&str]) -> TestCert {
        self_signed(names)
    }

    /// A rustls server configuration (ring, TLS 1.2 and 1.3) that presents one leaf per SNI
    /// name, as a server with name-based virtual hosting does: for each `(sni, names)` a valid
    /// leaf (see [`leaf`](Self::leaf)) for `names` is issued and presented to clients whose
    /// ClientHello asks for `sni` (ignoring case). Clients that send no server name, or one
    /// not listed, get the first entry's leaf.
    ///
    /// ```no_run
    /// use mailcheck_lab::certs::TestCa;
    ///
    /// let ca = TestCa::new();
    /// let config = ca.sni_server_config(&[
    ///     ("mx1.example.test", &["mx1.example.test"]),
    ///     ("mx2.example.test", &["mx2.example.test"]),
    /// ]);
    /// # let _ = config;
    /// ```
    ///
    /// # Panics
    /// If `leaves` is empty.
    pub fn sni_server_config(&self, leaves: &[(&str, &[&str])]) -> ServerConfig {
        assert!(
            !leaves.is_empty(),
            "sni_server_config needs at least one leaf"
        );
        let certs: Vec<(&str, TestCert)> = leaves
            .iter()
            .map(|(sni, names)| (*sni, self.leaf(names)))
            .collect();
        let by_name: Vec<(&str, &TestCert)> = certs.iter().map(|(n, c)| (*n, c)).collect();
        crate::https::sni_server_config(Some(&certs[0].1), &by_name)
    }
}

/// A self-signed end-entity certificate for `names`, valid from yesterday for a year. Its subject
/// is the first name, so it never collides with a CA's name.
pub fn self_signed(names: &[&str]) -> TestCert {
    let now = OffsetDateTime::now_utc();
    let key = new_key();
    let cert = leaf_params(names, now - Duration::days(1), now + Duration::days(365))
        .self_signed(&key)
        .expect("self-sign a certificate");
    TestCert::new(&cert, &key, names)
}

/// A certificate and its private key, in DER and PEM.
#[derive(Clone)]
pub struct TestCert {
    names: Vec<String>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pkcs8: Vec<u8>,
    key_pem: String,
}

impl fmt::Debug for TestCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCert")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl TestCert {
    fn new(cert: &Certificate, key: &KeyPair, names: &[&str]) -> Self {
        Self {
            names: owned(names),
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pkcs8: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The names the certificate was issued for.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The private key (PKCS#8), DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    /// The private key (PKCS#8), PEM.
    pub fn key_pem(&self) -> String {
        self.key_pem.clone()
    }

    /// A rustls server configuration (ring provider) presenting this certificate, offering
    /// TLS 1.2 and 1.3.
    pub fn server_config(&self) -> ServerConfig {
        self.server_config_with_versions(rustls::DEFAULT_VERSIONS)
    }

    /// Like [`server_config`](Self::server_config) but TLS 1.2 only.
    pub fn server_config_tls12(&self) -> ServerConfig {
        self.server_config_with_versions(&[&rustls::version::TLS12])
    }

    /// A rustls server configuration (ring provider) presenting this certificate with these
    /// protocol versions.
    pub fn server_config_with_versions(
        &self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> ServerConfig {
        ServerConfig::builder_with_provider(ring_provider())
            .with_protocol_versions(versions)
            .expect("ring supports these versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der()], self.key_der())
            .expect("the key matches the certificate")
    }
}

#[cfg(test)]
mod tests;
