//! Unit tests of the DNSSEC state of a record set, the trust-anchor configuration and the TLSA
//! presentation form.

use hickory_resolver::proto::dnssec::Proof;
use hickory_resolver::proto::rr::{LowerName, Name};

use super::validator::{combine, trust_anchors};
use super::*;

#[test]
fn proofs_combine() {
    assert_eq!(
        combine([Proof::Secure, Proof::Secure].into_iter()),
        DnssecState::Secure
    );
    assert_eq!(
        combine([Proof::Secure, Proof::Insecure].into_iter()),
        DnssecState::Insecure
    );
    assert!(matches!(
        combine([Proof::Secure, Proof::Bogus].into_iter()),
        DnssecState::Bogus { .. }
    ));
    assert_eq!(combine(std::iter::empty()), DnssecState::Insecure);
}

#[test]
fn trust_anchor_text_and_errors() {
    let (anchors, owners) = trust_anchors(None).unwrap();
    assert_eq!(anchors.len(), 2, "the IANA root keys");
    assert!(owners.is_empty());
    // An Ed25519 key (32 bytes) for a lab zone.
    let text = "lab.test. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";
    let (anchors, owners) = trust_anchors(Some(text)).unwrap();
    assert_eq!(
        anchors.len(),
        2,
        "still the root keys, plus one for lab.test."
    );
    assert_eq!(
        owners,
        vec![LowerName::from(Name::from_ascii("lab.test.").unwrap())]
    );
    assert!(matches!(
        trust_anchors(Some("/nonexistent/anchor.key")),
        Err(crate::Error::Config(_))
    ));
    assert!(matches!(
        trust_anchors(Some("lab.test. IN DNSKEY nonsense")),
        Err(crate::Error::Config(_))
    ));
}

#[test]
fn tlsa_presentation() {
    let r = TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: "ab".repeat(32),
    };
    assert_eq!(r.describe(), "3 1 1 abababababababab…");
    assert!(r.is_dane_usage());
}
