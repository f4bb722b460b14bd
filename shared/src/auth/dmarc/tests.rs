//! Unit tests of the DMARC parser (every error kind with its position), the organizational
//! domain, the record selection of a lookup and the report authorization.

use super::*;
use crate::facts::DnsFailure;

fn kind(text: &str) -> DmarcErrorKind {
    parse_record(text).unwrap_err().kind
}

#[test]
fn a_full_record_parses() {
    let r = parse_record(
        "v=DMARC1; p=quarantine; sp=reject; pct=50; \
         rua=mailto:agg@example.com,mailto:x@reports.example.net!10m; \
         ruf=mailto:f@example.com; adkim=s; aspf=r; fo=0:d:S; ri=3600; rf=afrf; np=reject",
    )
    .unwrap();
    assert_eq!(r.policy, DmarcPolicy::Quarantine);
    assert_eq!(r.subdomain_policy, Some(DmarcPolicy::Reject));
    assert_eq!(r.percent, Some(50));
    assert_eq!(r.rua.len(), 2);
    assert_eq!(r.rua[1].uri, "mailto:x@reports.example.net");
    assert_eq!(r.rua[1].destination.as_deref(), Some("reports.example.net"));
    assert_eq!(r.rua[1].max_size.as_deref(), Some("10m"));
    assert_eq!(r.ruf[0].destination.as_deref(), Some("example.com"));
    assert_eq!(r.adkim, Some(Alignment::Strict));
    assert_eq!(r.aspf, Some(Alignment::Relaxed));
    assert_eq!(
        r.failure_options,
        Some(vec!["0".to_owned(), "d".to_owned(), "s".to_owned()])
    );
    assert_eq!(r.report_interval, Some(3600));
    assert_eq!(r.report_formats, Some(vec!["afrf".to_owned()]));
    assert_eq!(r.unknown_tags, ["np=reject"]);
    assert_eq!(
        r.policy_for("example.com", "example.com"),
        DmarcPolicy::Quarantine
    );
    assert_eq!(
        r.policy_for("a.example.com", "example.com"),
        DmarcPolicy::Reject
    );
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<DmarcRecord>(&json).unwrap(), r);
}

#[test]
fn spacing_case_and_trailing_semicolons_are_tolerated() {
    let r = parse_record("v = DMARC1 ;P=Reject;;  RUA = mailto:D@Example.COM ;").unwrap();
    assert_eq!(r.policy, DmarcPolicy::Reject);
    assert_eq!(r.rua[0].destination.as_deref(), Some("example.com"));
    assert_eq!(r.subdomain_policy, None);
    assert_eq!(
        r.policy_for("x.example.com", "example.com"),
        DmarcPolicy::Reject
    );
    assert!(parse_record("v=DMARC1;p=none").is_ok());
    assert!(parse_record("v=DMARC1; p=none; rua=https://reports.example/dmarc").is_ok());
}

#[test]
fn the_version_must_come_first_and_exactly() {
    let e = parse_record("p=reject; v=DMARC1").unwrap_err();
    assert_eq!(e.kind, DmarcErrorKind::NotFirst);
    assert_eq!((e.position, e.tag.as_str()), (0, "p=reject"));
    assert_eq!(
        kind("v=dmarc1; p=reject"),
        DmarcErrorKind::BadVersion {
            found: "dmarc1".into()
        }
    );
    assert_eq!(kind(""), DmarcErrorKind::NotFirst);
    assert_eq!(
        kind("v=DMARC1x; p=none"),
        DmarcErrorKind::BadVersion {
            found: "DMARC1x".into()
        }
    );
    assert!(is_dmarc_record(" v=DMARC1; p=none"));
    assert!(!is_dmarc_record("v=DMARC2; p=none"));
    assert!(!is_dmarc_record("v=spf1 -all"));
}

#[test]
fn bad_tags_say_where() {
    let e = parse_record("v=DMARC1; p=rejct").unwrap_err();
    assert_eq!(e.position, 10);
    assert_eq!(e.tag, "p=rejct");
    assert!(matches!(e.kind, DmarcErrorKind::BadValue { ref tag, .. } if tag == "p"));
    assert!(e.to_string().contains("at byte 10"), "{e}");
    for (text, tag) in [
        ("v=DMARC1; p=none; sp=block", "sp"),
        ("v=DMARC1; p=none; pct=101", "pct"),
        ("v=DMARC1; p=none; pct=-1", "pct"),
        ("v=DMARC1; p=none; adkim=x", "adkim"),
        ("v=DMARC1; p=none; aspf=", "aspf"),
        ("v=DMARC1; p=none; fo=2", "fo"),
        ("v=DMARC1; p=none; fo=0::1", "fo"),
        ("v=DMARC1; p=none; ri=daily", "ri"),
        ("v=DMARC1; p=none; rf=", "rf"),
    ] {
        assert!(
            matches!(kind(text), DmarcErrorKind::BadValue { tag: ref t, .. } if t == tag),
            "{text}: {:?}",
            kind(text)
        );
    }
    assert_eq!(
        kind("v=DMARC1; p=none; p=reject"),
        DmarcErrorKind::DuplicateTag { tag: "p".into() }
    );
    assert_eq!(
        kind("v=DMARC1; p=none; v=DMARC1"),
        DmarcErrorKind::DuplicateTag { tag: "v".into() }
    );
    assert_eq!(
        kind("v=DMARC1; p=none; reject"),
        DmarcErrorKind::NotATag {
            text: "reject".into()
        }
    );
    assert!(matches!(
        kind(&format!(
            "v=DMARC1; p=none; x={}",
            "a".repeat(MAX_RECORD_LEN)
        )),
        DmarcErrorKind::TooLong { .. }
    ));
}

#[test]
fn report_addresses_must_be_uris() {
    let why = |text: &str| match kind(text) {
        DmarcErrorKind::BadUri { why, .. } => why,
        other => panic!("{text}: {other:?}"),
    };
    assert!(why("v=DMARC1; p=none; rua=dmarc@example.com").contains("mailto:"));
    assert!(why("v=DMARC1; p=none; rua=reports").contains("not a URI"));
    assert!(why("v=DMARC1; p=none; rua=mailto:example.com").contains("@domain"));
    assert!(why("v=DMARC1; p=none; rua=mailto:@example.com").contains("local part"));
    assert!(why("v=DMARC1; p=none; rua=mailto:a@bad_domain").contains("not a valid"));
    assert!(why("v=DMARC1; p=none; rua=mailto:a@example.com!10x").contains("size"));
    assert!(why("v=DMARC1; p=none; rua=mailto:a@example.com,").contains("empty"));
    assert!(
        why("v=DMARC1; p=none; ruf=mailto:a@example.com mailto:b@example.com").contains("spaces")
    );
}

#[test]
fn a_missing_policy_is_an_error_even_when_receivers_assume_none() {
    let e = parse_record("v=DMARC1; rua=mailto:d@example.com").unwrap_err();
    assert_eq!(
        e.kind,
        DmarcErrorKind::MissingPolicy {
            treated_as_none: true
        }
    );
    assert_eq!(e.position, "v=DMARC1; rua=mailto:d@example.com".len());
    assert_eq!(
        kind("v=DMARC1; sp=reject"),
        DmarcErrorKind::MissingPolicy {
            treated_as_none: false
        }
    );
}

#[test]
fn organizational_domains_follow_the_public_suffix_list() {
    assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
    assert_eq!(organizational_domain("A.B.Example.CO.UK."), "example.co.uk");
    assert_eq!(organizational_domain("mail.example.com"), "example.com");
    assert_eq!(organizational_domain("example.com"), "example.com");
    // Unknown TLDs fall back to the implicit "*" rule, as RFC 7489 §3.2 does.
    assert_eq!(organizational_domain("mx1.example.test"), "example.test");
    // A public suffix is its own organizational domain.
    assert_eq!(organizational_domain("co.uk"), "co.uk");
    assert!(needs_authorization("example.com", "reports.example.net"));
    assert!(!needs_authorization(
        "mail.example.com",
        "dmarc.example.com"
    ));
    assert!(!needs_authorization("a.example.co.uk", "b.example.co.uk"));
    assert!(needs_authorization("a.example.co.uk", "other.co.uk"));
}

#[test]
fn lookups_keep_what_receivers_keep() {
    let answer = |r: &[&str]| Lookup::Answer {
        records: r.iter().map(|s| (*s).to_owned()).collect(),
    };
    let l = DmarcLookup::from_answer(
        "Example.COM.",
        answer(&["v=DMARC1; p=reject", "google-site-verification=x"]),
    );
    assert_eq!(l.name, "_dmarc.example.com");
    assert_eq!(l.records, ["v=DMARC1; p=reject"]);
    assert_eq!(l.ignored, ["google-site-verification=x"]);
    assert_eq!(l.record.as_ref().unwrap().policy, DmarcPolicy::Reject);
    assert!(l.error.is_none() && l.found());

    // Two records: no policy applies, nothing parsed.
    let l = DmarcLookup::from_answer(
        "example.com",
        answer(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]),
    );
    assert_eq!(l.records.len(), 2);
    assert!(l.record.is_none() && l.error.is_none() && l.found());

    // Only a misspelt record: receivers ignore it; the error says why.
    let l = DmarcLookup::from_answer("example.com", answer(&["p=reject; v=DMARC1"]));
    assert!(!l.found());
    assert_eq!(l.error.as_ref().unwrap().kind, DmarcErrorKind::NotFirst);

    let l = DmarcLookup::from_answer(
        "example.com",
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            detail: String::new(),
        },
    );
    assert!(!l.found() && l.record.is_none() && l.error.is_none());
    let json = serde_json::to_string(&l).unwrap();
    assert_eq!(serde_json::from_str::<DmarcLookup>(&json).unwrap(), l);
}

#[test]
fn report_authorization_needs_a_dmarc1_record() {
    let a = |lookup| {
        ReportAuthorization::from_answer("r.example", vec![], "x".into(), lookup).authorized
    };
    assert_eq!(
        a(Lookup::Answer {
            records: vec!["v=DMARC1".into()]
        }),
        Some(true)
    );
    assert_eq!(
        a(Lookup::Answer {
            records: vec!["v=spf1 -all".into()]
        }),
        Some(false)
    );
    assert_eq!(a(Lookup::NxDomain), Some(false));
    assert_eq!(
        a(Lookup::Failed {
            failure: DnsFailure::Timeout,
            detail: String::new()
        }),
        None
    );
}
