//! DNSSEC and DANE: recorded validator answers and the chain the SMTP probe saw. Long on
//! purpose: one scenario per DANE outcome (bogus, valid EE and TA, mismatch, unusable, none) and
//! per softened certificate finding, on the validator and chain builders at the top.

use super::*;
use crate::auth::AuthFacts;
use crate::auth::dane::{DaneFacts, DaneHost, DnssecState, TlsaRecord, Validated};
use crate::finding::Finding;

const LEAF_SPKI: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const CA_CERT: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn secure<T>(records: Vec<T>) -> Validated<T> {
    Validated {
        lookup: answer(records),
        dnssec: DnssecState::Secure,
    }
}

fn insecure<T>(records: Vec<T>) -> Validated<T> {
    Validated {
        lookup: answer(records),
        dnssec: DnssecState::Insecure,
    }
}

fn bogus<T>(records: Vec<T>) -> Validated<T> {
    Validated {
        lookup: answer(records),
        dnssec: DnssecState::Bogus {
            reason: "the signature expired".into(),
        },
    }
}

fn tlsa(usage: u8, selector: u8, matching: u8, data: &str) -> TlsaRecord {
    TlsaRecord {
        usage,
        selector,
        matching,
        data: data.into(),
    }
}

fn ee() -> TlsaRecord {
    tlsa(3, 1, 1, LEAF_SPKI)
}

/// The healthy domain, its leaf's SPKI digest known and a CA certificate above it, with
/// these validated TLSA lookup results for its only host (everything else secure).
fn facts(tlsa: Validated<TlsaRecord>) -> Facts {
    let mut f = with_tls(|t| {
        t.chain[0].spki_sha256 = LEAF_SPKI.into();
        t.chain.push(CertFacts {
            subject: "CN=Test CA".into(),
            sha256: CA_CERT.into(),
            ..CertFacts::default()
        });
    });
    let dane = DaneFacts {
        validator: "validating resolver 127.0.0.1:53; trust anchors: IANA root keys".into(),
        unavailable: None,
        mx: Some(secure(vec![MxRecord {
            preference: 10,
            exchange: HOST.into(),
        }])),
        hosts: vec![DaneHost {
            host: HOST.into(),
            a: secure(vec![ip()]),
            aaaa: Validated {
                lookup: Lookup::NoData,
                dnssec: DnssecState::Secure,
            },
            tlsa_name: format!("_25._tcp.{HOST}"),
            tlsa,
        }],
    };
    f.auth = Some(AuthFacts {
        dane: Some(dane),
        ..AuthFacts::default()
    });
    f
}

fn dane_mut(f: &mut Facts) -> &mut DaneFacts {
    f.auth.as_mut().unwrap().dane.as_mut().unwrap()
}

fn tls_mut(f: &mut Facts) -> &mut TlsFacts {
    match smtp(f).starttls.as_mut().unwrap().handshake.as_mut() {
        Some(Ok(t)) => t,
        _ => unreachable!(),
    }
}

fn finding(f: &Facts, code: Code) -> Finding {
    findings(f, &Policy::default())
        .into_iter()
        .find(|x| x.code == code)
        .unwrap_or_else(|| panic!("no {code}"))
}

#[test]
fn a_servfail_that_our_validator_shows_bogus_breaks_the_domain() {
    // A validating resolver answers SERVFAIL for a DNSSEC-bogus zone; the checker then asks
    // its own validator, which records the MX proof as bogus.
    let mut f = healthy();
    f.mx = failed(DnsFailure::ServFail);
    f.hosts.clear();
    f.auth = Some(AuthFacts {
        dane: Some(DaneFacts {
            validator: "validating resolver 127.0.0.53:53".into(),
            unavailable: None,
            mx: Some(bogus(vec![])),
            hosts: vec![],
        }),
        ..AuthFacts::default()
    });
    let (v, codes) = run(&f);
    assert_eq!(codes, vec![Code::DnsLookupFailed, Code::DnsDnssecBogus]);
    assert_eq!(v, Verdict::Broken);
    // Without that proof, the SERVFAIL stays inconclusive.
    f.auth = None;
    assert_eq!(only(&f, Code::DnsLookupFailed), Verdict::Inconclusive);
}

#[test]
fn a_matching_dane_ee_record_is_valid() {
    let f = facts(secure(vec![ee()]));
    assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);
    let v = finding(&f, Code::DaneValid);
    assert_eq!(v.severity, Severity::Info);
    assert_eq!(v.subject, HOST);
    assert!(v.evidence.iter().any(|e| e.contains("3 1 1")), "{v:?}");
    assert!(
        v.evidence
            .iter()
            .any(|e| e.contains(IP) && e.contains("leaf")),
        "{v:?}"
    );
}

#[test]
fn a_matching_dane_ta_record_is_valid() {
    let f = facts(secure(vec![tlsa(2, 0, 1, CA_CERT)]));
    assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);
    let v = finding(&f, Code::DaneValid);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.contains("chain certificate #1")),
        "{v:?}"
    );
    // DANE-TA names the CA, never the leaf; DANE-EE the leaf, never the CA.
    let f = facts(secure(vec![tlsa(2, 1, 1, LEAF_SPKI)]));
    assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
    let f = facts(secure(vec![tlsa(3, 0, 1, CA_CERT)]));
    assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
}

#[test]
fn validated_records_that_match_nothing_are_a_mismatch() {
    let other = "ab".repeat(32);
    let f = facts(secure(vec![tlsa(3, 1, 1, &other)]));
    assert_eq!(only(&f, Code::DaneMismatch), Verdict::Degraded);
    let m = finding(&f, Code::DaneMismatch);
    assert_eq!((m.severity, m.subject.as_str()), (Severity::Error, HOST));
    assert!(
        m.evidence
            .iter()
            .any(|e| e.contains(IP) && e.contains(LEAF_SPKI)),
        "the served digest is shown: {m:?}"
    );
    assert!(
        m.advice.contains(&format!("3 1 1 {LEAF_SPKI}")),
        "{}",
        m.advice
    );

    // One matching record among several is enough.
    let f = facts(secure(vec![tlsa(3, 1, 1, &other), ee()]));
    assert_eq!(only(&f, Code::DaneValid), Verdict::Ok);

    // Two addresses, one serves another certificate: a mismatch, naming both.
    let mut f = facts(secure(vec![ee()]));
    let mut second = f.hosts[0].addresses[0].clone();
    second.ip = "45.33.10.11".parse().unwrap();
    if let Some(Some(Ok(t))) = second
        .smtp
        .as_mut()
        .map(|s| s.starttls.as_mut().unwrap().handshake.as_mut())
    {
        t.chain[0].spki_sha256 = other.clone();
    }
    f.hosts[0].addresses.push(second);
    let m = finding(&f, Code::DaneMismatch);
    assert!(
        m.evidence.iter().any(|e| e.starts_with("45.33.10.11")),
        "{m:?}"
    );
    assert!(
        m.evidence
            .iter()
            .any(|e| e.starts_with(IP) && e.contains("matches")),
        "{m:?}"
    );
}

#[test]
fn no_tls_seen_is_left_to_the_smtp_findings() {
    let mut f = facts(secure(vec![ee()]));
    let s = smtp(&mut f);
    s.extensions.retain(|e| e != "STARTTLS");
    s.starttls = None;
    let (_, codes) = run(&f);
    assert_eq!(codes, vec![Code::SmtpStarttlsMissing]);
}

#[test]
fn tlsa_records_that_senders_cannot_use() {
    // Unsigned TLSA records.
    let f = facts(insecure(vec![ee()]));
    assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
    let u = finding(&f, Code::DaneUnusable);
    assert_eq!((u.severity, u.subject.as_str()), (Severity::Warning, HOST));
    assert!(
        u.evidence.iter().any(|e| e.contains("not DNSSEC-signed")),
        "{u:?}"
    );

    // Only PKIX usages, even matching and signed.
    let f = facts(secure(vec![
        tlsa(1, 1, 1, LEAF_SPKI),
        tlsa(0, 0, 1, CA_CERT),
    ]));
    assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
    assert!(
        finding(&f, Code::DaneUnusable)
            .evidence
            .iter()
            .any(|e| e.contains("PKIX"))
    );

    // No parameters a sender supports.
    let f = facts(secure(vec![tlsa(3, 1, 3, LEAF_SPKI)]));
    assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);

    // Signed TLSA records, but the domain's MX records are not signed.
    let mut f = facts(secure(vec![ee()]));
    dane_mut(&mut f).mx = Some(insecure(vec![MxRecord {
        preference: 10,
        exchange: HOST.into(),
    }]));
    assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
    assert!(
        finding(&f, Code::DaneUnusable)
            .evidence
            .iter()
            .any(|e| e.contains("MX records"))
    );

    // Signed TLSA records, but the host's addresses are not signed.
    let mut f = facts(secure(vec![ee()]));
    dane_mut(&mut f).hosts[0].a = insecure(vec![ip()]);
    assert_eq!(only(&f, Code::DaneUnusable), Verdict::Degraded);
}

#[test]
fn no_tlsa_no_dane_finding() {
    for dnssec in [DnssecState::Secure, DnssecState::Insecure] {
        for lookup in [Lookup::NoData, Lookup::NxDomain] {
            let f = facts(Validated {
                lookup: lookup.clone(),
                dnssec: dnssec.clone(),
            });
            assert_eq!(run(&f), (Verdict::Ok, vec![]), "{dnssec:?} {lookup:?}");
        }
    }
    // A simply unsigned domain: no finding at all.
    let mut f = facts(insecure(vec![]));
    dane_mut(&mut f).hosts[0].tlsa = Validated {
        lookup: Lookup::NoData,
        dnssec: DnssecState::Insecure,
    };
    dane_mut(&mut f).hosts[0].a = insecure(vec![ip()]);
    dane_mut(&mut f).mx = Some(insecure(vec![MxRecord {
        preference: 10,
        exchange: HOST.into(),
    }]));
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
    // A failed TLSA lookup is not judged here.
    let f = facts(Validated {
        lookup: failed(DnsFailure::Timeout),
        dnssec: DnssecState::Unknown,
    });
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
}

#[test]
fn bogus_mail_records_break_the_domain() {
    // The MX RRset.
    let mut f = facts(secure(vec![ee()]));
    dane_mut(&mut f).mx = Some(bogus(vec![MxRecord {
        preference: 10,
        exchange: HOST.into(),
    }]));
    let (v, codes) = run(&f);
    assert_eq!(v, Verdict::Broken);
    assert_eq!(codes, vec![Code::DaneValid, Code::DnsDnssecBogus]);
    let b = finding(&f, Code::DnsDnssecBogus);
    assert_eq!((b.severity, b.subject.as_str()), (Severity::Error, DOMAIN));
    assert!(
        b.evidence
            .iter()
            .any(|e| e.starts_with("MX example.test: the signature expired")),
        "{b:?}"
    );

    // The host's addresses.
    let mut f = facts(Validated {
        lookup: Lookup::NoData,
        dnssec: DnssecState::Secure,
    });
    dane_mut(&mut f).hosts[0].aaaa = Validated {
        lookup: Lookup::NoData,
        dnssec: DnssecState::Bogus {
            reason: "no signed proof".into(),
        },
    };
    assert_eq!(only(&f, Code::DnsDnssecBogus), Verdict::Broken);

    // The TLSA RRset: dns.dnssec_bogus says it all, no dane.* beside it.
    let f = facts(bogus(vec![ee()]));
    assert_eq!(only(&f, Code::DnsDnssecBogus), Verdict::Broken);
    let b = finding(&f, Code::DnsDnssecBogus);
    assert!(
        b.evidence
            .iter()
            .any(|e| e.starts_with(&format!("TLSA _25._tcp.{HOST}"))),
        "{b:?}"
    );
}

#[test]
fn nothing_is_judged_when_our_validator_could_not_validate() {
    let mut f = facts(bogus(vec![tlsa(3, 1, 1, "00")]));
    dane_mut(&mut f).unavailable = Some("the resolver strips DNSSEC records".into());
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
}

#[test]
fn dane_ee_softens_name_date_and_issuer_problems() {
    let mut f = facts(secure(vec![ee()]));
    let t = tls_mut(&mut f);
    t.chain[0].not_after = NOW - 86_400;
    t.problems = vec![
        CertProblem::Untrusted {
            detail: "self-signed".into(),
        },
        CertProblem::Expired {
            detail: "expired".into(),
        },
        CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec!["other.example".into()],
        },
    ];
    let (v, codes) = run(&f);
    assert_eq!(v, Verdict::Ok, "{codes:?}");
    for code in [
        Code::TlsCertUntrusted,
        Code::TlsCertExpired,
        Code::TlsCertNameMismatch,
    ] {
        let x = finding(&f, code);
        assert_eq!(x.severity, Severity::Info, "{x:?}");
        assert!(x.evidence.iter().any(|e| e.contains("DANE-EE")), "{x:?}");
    }
}

#[test]
fn dane_ta_softens_only_the_issuer() {
    let mut f = facts(secure(vec![tlsa(2, 0, 1, CA_CERT)]));
    tls_mut(&mut f).problems = vec![
        CertProblem::Untrusted {
            detail: "unknown issuer".into(),
        },
        CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec![],
        },
    ];
    assert_eq!(finding(&f, Code::TlsCertUntrusted).severity, Severity::Info);
    assert_eq!(
        finding(&f, Code::TlsCertNameMismatch).severity,
        Severity::Warning
    );
    assert_eq!(run(&f).0, Verdict::Degraded);
}

#[test]
fn no_softening_without_a_validated_match() {
    let untrusted = |f: &mut Facts| {
        tls_mut(f).problems = vec![CertProblem::Untrusted {
            detail: "self-signed".into(),
        }];
    };
    for tlsa in [
        secure(vec![tlsa(3, 1, 1, &"ab".repeat(32))]),
        insecure(vec![ee()]),
        secure(vec![tlsa(1, 1, 1, LEAF_SPKI)]),
        bogus(vec![ee()]),
    ] {
        let mut f = facts(tlsa.clone());
        untrusted(&mut f);
        assert_eq!(
            finding(&f, Code::TlsCertUntrusted).severity,
            Severity::Warning,
            "{tlsa:?}"
        );
    }
}
