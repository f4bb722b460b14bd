//! MTA-STS findings from constructed facts: each code on its case, failed lookups and fetches
//! said for what they are, and the escalation of certificate problems under `enforce`. Long on
//! purpose: one test per MTA-STS case (each code, each kind of fetch failure, the `enforce`
//! escalation and how it meets DANE), sharing the policy and facts builders above them.

use super::super::testutil::*;
use crate::auth::AuthFacts;
use crate::auth::mtasts::*;
use crate::config::Policy;
use crate::facts::*;
use crate::finding::{Code, Finding, Severity};
use crate::report::Verdict;

const RECORD: &str = "v=STSv1; id=20250101";

fn policy_text(mode: &str, mx: &[&str]) -> String {
    let mut t = format!("version: STSv1\nmode: {mode}\n");
    for p in mx {
        t.push_str(&format!("mx: {p}\n"));
    }
    t.push_str("max_age: 604800\n");
    t
}

fn fetched(body: &str) -> PolicyFetch {
    PolicyFetch {
        url: format!("https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"),
        lookups: AddressLookups {
            a: answer(vec!["45.33.10.80".parse().unwrap()]),
            aaaa: Lookup::NoData,
        },
        peer: Some("45.33.10.80:443".parse().unwrap()),
        status: Some(200),
        content_type: Some("text/plain".into()),
        location: None,
        size: Some(body.len() as u64),
        body: Some(body.to_owned()),
        error: None,
        ms: 20,
    }
}

/// MTA-STS facts as collected for `body` served at the policy URL.
fn sts(body: &str) -> MtaStsFacts {
    MtaStsFacts {
        txt: answer(vec![RECORD.to_owned()]),
        sts_records: vec![RECORD.to_owned()],
        record: Some(parse_record(RECORD)),
        fetch: Some(fetched(body)),
        policy: Some(parse_policy(body)),
        mx: vec![],
    }
}

fn with(mut f: Facts, m: MtaStsFacts) -> Facts {
    f.auth = Some(AuthFacts {
        mta_sts: Some(m),
        ..AuthFacts::default()
    });
    f
}

fn findings(f: &Facts) -> Vec<Finding> {
    let r = super::super::diagnose(f, &Policy::default(), &f.domain, 1);
    for finding in &r.findings {
        assert!(
            !finding.summary.is_empty()
                && !finding.advice.is_empty()
                && !finding.evidence.is_empty(),
            "{finding:?}"
        );
    }
    r.findings
}

fn codes(f: &Facts) -> Vec<(Code, Severity)> {
    findings(f).iter().map(|x| (x.code, x.severity)).collect()
}

#[test]
fn a_good_enforced_policy_is_quiet() {
    for mx in [&[HOST][..], &["*.example.test"], &["other.test", HOST]] {
        let f = with(healthy(), sts(&policy_text("enforce", mx)));
        assert_eq!(codes(&f), vec![], "{mx:?}");
        assert_eq!(
            super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
            Verdict::Ok
        );
    }
}

#[test]
fn an_mx_outside_the_patterns_is_an_error_in_enforce_a_warning_in_testing() {
    let f = with(
        healthy(),
        sts(&policy_text("enforce", &["mx.elsewhere.test"])),
    );
    let all = findings(&f);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].code, Code::MtastsMxMismatch);
    assert_eq!(all[0].severity, Severity::Error);
    assert_eq!(all[0].subject, HOST);
    assert!(
        all[0]
            .evidence
            .iter()
            .any(|e| e.contains("mx.elsewhere.test"))
    );
    // `*.` is one label only.
    let f = with(healthy(), sts(&policy_text("enforce", &["*.test"])));
    assert_eq!(codes(&f), vec![(Code::MtastsMxMismatch, Severity::Error)]);

    let f = with(
        healthy(),
        sts(&policy_text("testing", &["mx.elsewhere.test"])),
    );
    assert_eq!(codes(&f), vec![(Code::MtastsMxMismatch, Severity::Warning)]);
    assert_eq!(
        super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
        Verdict::Degraded
    );

    let f = with(healthy(), sts(&policy_text("none", &["mx.elsewhere.test"])));
    assert_eq!(codes(&f), vec![]);
}

#[test]
fn a_host_without_addresses_is_not_a_live_mx() {
    let mut facts = healthy();
    let mut dead = host_ok();
    dead.host = "mx2.example.test".into();
    dead.preference = 20;
    dead.addresses.clear();
    dead.lookups = AddressLookups {
        a: Lookup::NxDomain,
        aaaa: Lookup::NxDomain,
    };
    facts.hosts.push(dead);
    let f = with(facts, sts(&policy_text("enforce", &[HOST])));
    assert!(
        !codes(&f).iter().any(|(c, _)| *c == Code::MtastsMxMismatch),
        "{:?}",
        codes(&f)
    );
}

#[test]
fn no_record_is_absent_info() {
    for txt in [
        Lookup::NxDomain,
        Lookup::NoData,
        answer(vec!["v=spf1 -all".to_owned()]),
    ] {
        let m = MtaStsFacts {
            txt,
            sts_records: vec![],
            record: None,
            fetch: None,
            policy: None,
            mx: vec![],
        };
        let f = with(healthy(), m);
        assert_eq!(codes(&f), vec![(Code::MtastsAbsent, Severity::Info)]);
        assert_eq!(
            super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
            Verdict::Ok
        );
    }
}

#[test]
fn a_failed_lookup_is_not_absent() {
    let m = MtaStsFacts {
        txt: failed(DnsFailure::ServFail),
        sts_records: vec![],
        record: None,
        fetch: None,
        policy: None,
        mx: vec![],
    };
    let all = findings(&with(healthy(), m));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].code, Code::DnsLookupFailed);
    assert_eq!(all[0].severity, Severity::Inconclusive);
    assert_eq!(all[0].subject, format!("_mta-sts.{DOMAIN}"));
}

#[test]
fn malformed_records_are_invalid() {
    let two = vec![RECORD.to_owned(), "v=STSv1; id=2".to_owned()];
    let m = MtaStsFacts {
        txt: answer(two.clone()),
        sts_records: two,
        record: Some(Err("2 records start with v=STSv1".into())),
        fetch: None,
        policy: None,
        mx: vec![],
    };
    assert_eq!(
        codes(&with(healthy(), m)),
        vec![(Code::MtastsInvalid, Severity::Error)]
    );
    let m = MtaStsFacts {
        txt: answer(vec!["v=STSv1; id=not-valid".to_owned()]),
        sts_records: vec!["v=STSv1; id=not-valid".to_owned()],
        record: Some(parse_record("v=STSv1; id=not-valid")),
        fetch: None,
        policy: None,
        mx: vec![],
    };
    assert_eq!(
        codes(&with(healthy(), m)),
        vec![(Code::MtastsInvalid, Severity::Error)]
    );
    // A lower-case attempt is ignored by senders: malformed, not absent.
    let m = MtaStsFacts {
        txt: answer(vec!["v=stsv1; id=1".to_owned()]),
        sts_records: vec![],
        record: None,
        fetch: None,
        policy: None,
        mx: vec![],
    };
    assert_eq!(
        codes(&with(healthy(), m)),
        vec![(Code::MtastsInvalid, Severity::Error)]
    );
}

#[test]
fn fetch_failures_are_invalid_and_say_what_failed() {
    for (kind, detail) in [
        (
            FetchErrorKind::Certificate,
            "certificate not valid for name",
        ),
        (
            FetchErrorKind::Redirect,
            "HTTP 301 redirect to https://www.example.test/",
        ),
        (FetchErrorKind::Status, "HTTP 404 Not Found"),
        (FetchErrorKind::ContentType, "Content-Type text/html"),
        (
            FetchErrorKind::TooLarge,
            "the body exceeds the 65536-byte limit",
        ),
        (
            FetchErrorKind::NoAddress,
            "mta-sts.example.test: A NXDOMAIN",
        ),
        (FetchErrorKind::Timeout, "operation timed out"),
    ] {
        let mut m = sts(&policy_text("enforce", &[HOST]));
        let fetch = m.fetch.as_mut().unwrap();
        fetch.error = Some(FetchError {
            kind,
            detail: detail.to_owned(),
        });
        fetch.body = None;
        m.policy = None;
        let all = findings(&with(healthy(), m));
        assert_eq!(all.len(), 1, "{kind:?}: {all:#?}");
        assert_eq!(all[0].code, Code::MtastsInvalid);
        assert_eq!(all[0].severity, Severity::Error);
        assert_eq!(all[0].subject, DOMAIN);
        let evidence = all[0].evidence.join("\n");
        assert!(evidence.contains(RECORD), "{evidence}");
        assert!(evidence.contains("/.well-known/mta-sts.txt"), "{evidence}");
        assert!(evidence.contains(detail), "{evidence}");
    }
    // The policy host's lookup failed: we cannot tell.
    let mut m = sts(&policy_text("enforce", &[HOST]));
    m.fetch.as_mut().unwrap().error = Some(FetchError {
        kind: FetchErrorKind::DnsFailed,
        detail: "SERVFAIL".into(),
    });
    m.policy = None;
    assert_eq!(
        codes(&with(healthy(), m)),
        vec![(Code::DnsLookupFailed, Severity::Inconclusive)]
    );
}

#[test]
fn unparsable_policies_are_invalid() {
    for body in [
        "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 99999999\n",
        "<html>hello</html>",
    ] {
        let f = with(healthy(), sts(body));
        let all = findings(&f);
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].code, Code::MtastsInvalid);
        assert!(all[0].evidence.iter().any(|e| e.starts_with("problem: ")));
    }
}

fn with_cert_problem(mut f: Facts, problem: CertProblem) -> Facts {
    let tls = smtp(&mut f)
        .starttls
        .as_mut()
        .unwrap()
        .handshake
        .as_mut()
        .unwrap()
        .as_mut()
        .unwrap();
    tls.problems = vec![problem];
    f
}

fn name_mismatch() -> CertProblem {
    CertProblem::NameMismatch {
        expected: HOST.into(),
        presented: vec!["other.test".into()],
    }
}

#[test]
fn a_dane_match_does_not_undo_an_enforced_policy() {
    use crate::auth::dane::{DaneFacts, DaneHost, DnssecState, TlsaRecord, Validated};
    let spki = "ab".repeat(32);
    let mut f = with_cert_problem(
        healthy(),
        CertProblem::Untrusted {
            detail: "UnknownIssuer".into(),
        },
    );
    if let Some(Ok(tls)) = smtp(&mut f)
        .starttls
        .as_mut()
        .and_then(|s| s.handshake.as_mut())
    {
        tls.chain[0].spki_sha256.clone_from(&spki);
    }
    fn secure<T>(lookup: Lookup<T>) -> Validated<T> {
        Validated {
            lookup,
            dnssec: DnssecState::Secure,
        }
    }
    let dane = DaneFacts {
        validator: "validating resolver".into(),
        unavailable: None,
        mx: Some(secure(answer(vec![MxRecord {
            preference: 10,
            exchange: HOST.into(),
        }]))),
        hosts: vec![DaneHost {
            host: HOST.into(),
            a: secure(answer(vec![ip()])),
            aaaa: secure(Lookup::NoData),
            tlsa_name: format!("_25._tcp.{HOST}"),
            tlsa: secure(answer(vec![TlsaRecord {
                usage: 3,
                selector: 1,
                matching: 1,
                data: spki,
            }])),
        }],
    };
    // DANE alone: the untrusted certificate is only info (DANE senders deliver).
    let mut dane_only = f.clone();
    dane_only.auth = Some(AuthFacts {
        dane: Some(dane.clone()),
        ..AuthFacts::default()
    });
    assert!(
        codes(&dane_only).contains(&(Code::TlsCertUntrusted, Severity::Info)),
        "{:?}",
        codes(&dane_only)
    );
    // DANE and an enforced MTA-STS policy: MTA-STS senders still refuse, so it is an error.
    let mut both = with(f, sts(&policy_text("enforce", &[HOST])));
    both.auth.as_mut().unwrap().dane = Some(dane);
    assert!(
        codes(&both).contains(&(Code::TlsCertUntrusted, Severity::Error)),
        "{:?}",
        codes(&both)
    );
}

#[test]
fn enforce_makes_certificate_problems_errors() {
    let base = with_cert_problem(healthy(), name_mismatch());
    assert_eq!(
        codes(&base),
        vec![(Code::TlsCertNameMismatch, Severity::Warning)]
    );

    let f = with(base.clone(), sts(&policy_text("enforce", &[HOST])));
    let all = findings(&f);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (all[0].code, all[0].severity),
        (Code::TlsCertNameMismatch, Severity::Error)
    );
    assert!(
        all[0]
            .evidence
            .last()
            .is_some_and(|e| e.contains("enforce") && e.contains(HOST)),
        "{all:#?}"
    );

    let untrusted = with_cert_problem(
        healthy(),
        CertProblem::Untrusted {
            detail: "UnknownIssuer".into(),
        },
    );
    let f = with(untrusted, sts(&policy_text("enforce", &["*.example.test"])));
    assert_eq!(codes(&f), vec![(Code::TlsCertUntrusted, Severity::Error)]);

    let mut no_tls = healthy();
    let s = smtp(&mut no_tls);
    s.starttls = None;
    s.extensions.retain(|e| e != "STARTTLS");
    assert_eq!(
        codes(&no_tls),
        vec![(Code::SmtpStarttlsMissing, Severity::Warning)]
    );
    let f = with(no_tls, sts(&policy_text("enforce", &[HOST])));
    assert_eq!(
        codes(&f),
        vec![(Code::SmtpStarttlsMissing, Severity::Error)]
    );
}

#[test]
fn testing_none_and_broken_policies_do_not_escalate() {
    let base = with_cert_problem(healthy(), name_mismatch());
    for m in [
        sts(&policy_text("testing", &[HOST])),
        sts(&policy_text("none", &[])),
        sts("version: STSv1\nmode: enforce\nmx: mx1.example.test\n"),
    ] {
        let f = with(base.clone(), m);
        assert!(
            codes(&f).contains(&(Code::TlsCertNameMismatch, Severity::Warning)),
            "{:?}",
            codes(&f)
        );
    }
    // An MX the policy does not cover: the mismatch says it; the certificate stays a
    // warning.
    let f = with(base, sts(&policy_text("enforce", &["mx.elsewhere.test"])));
    let got = codes(&f);
    assert!(
        got.contains(&(Code::TlsCertNameMismatch, Severity::Warning)),
        "{got:?}"
    );
    assert!(
        got.contains(&(Code::MtastsMxMismatch, Severity::Error)),
        "{got:?}"
    );
}
