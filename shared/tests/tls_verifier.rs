//! The recording verifier's problem list, checked directly on certificates from the lab CA.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailcheck::facts::CertProblem;
use mailcheck::probe::tls::{TlsClient, cert_facts, chain_problems};
use mailcheck_testkit::certs::{TestCa, TestCert, self_signed};
use rustls::RootCertStore;
use rustls_pki_types::{ServerName, UnixTime};

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
    let in_ten_days = i64::try_from(now + Duration::from_secs(10 * 86_400).as_secs()).unwrap();
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
