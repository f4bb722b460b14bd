//! Unit tests of the TLS-RPT record parser (each error with its position) and the facts.

use super::*;

fn kind(text: &str) -> TlsRptErrorKind {
    parse_record(text).unwrap_err().kind
}

#[test]
fn valid_records() {
    let r =
        parse_record("v=TLSRPTv1; rua=mailto:tls@example.com, https://reports.example.net/tlsrpt")
            .unwrap();
    assert_eq!(
        r.rua,
        [
            "mailto:tls@example.com",
            "https://reports.example.net/tlsrpt"
        ]
    );
    let r = parse_record("v=TLSRPTv1;rua=mailto:tls@example.com;ext=1;").unwrap();
    assert_eq!(r.extensions, ["ext=1"]);
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<TlsRptRecord>(&json).unwrap(), r);
}

#[test]
fn malformed_records_say_where() {
    assert_eq!(
        kind("v=tlsrptv1; rua=mailto:a@example.com"),
        TlsRptErrorKind::NotFirst
    );
    assert_eq!(
        kind("rua=mailto:a@example.com; v=TLSRPTv1"),
        TlsRptErrorKind::NotFirst
    );
    assert_eq!(kind("v=TLSRPTv1"), TlsRptErrorKind::MissingRua);
    assert!(matches!(
        kind("v=TLSRPTv1 rua=mailto:a@example.com"),
        TlsRptErrorKind::NotAField { .. }
    ));
    assert_eq!(
        kind("v=TLSRPTv1; RUA=mailto:a@example.com"),
        TlsRptErrorKind::MissingRua
    );
    assert_eq!(
        kind("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com"),
        TlsRptErrorKind::DuplicateRua
    );
    let e = parse_record("v=TLSRPTv1; rua=tls@example.com").unwrap_err();
    assert_eq!((e.position, e.field.as_str()), (12, "rua=tls@example.com"));
    assert!(matches!(e.kind, TlsRptErrorKind::BadUri { ref why, .. } if why.contains("mailto:")));
    for bad in [
        "v=TLSRPTv1; rua=ftp://reports.example.net",
        "v=TLSRPTv1; rua=https:reports",
        "v=TLSRPTv1; rua=mailto:nobody",
        "v=TLSRPTv1; rua=mailto:a@example.com,",
    ] {
        assert!(matches!(kind(bad), TlsRptErrorKind::BadUri { .. }), "{bad}");
    }
    assert!(matches!(
        kind("v=TLSRPTv1; rua=mailto:a@example.com; junk"),
        TlsRptErrorKind::NotAField { .. }
    ));
    assert!(matches!(
        kind("v=TLSRPTv1; rua=mailto:a@example.com; x=a b"),
        TlsRptErrorKind::BadValue { .. }
    ));
}

#[test]
fn facts_keep_what_senders_keep() {
    let f = TlsRptFacts::from_answer(
        "Example.com.",
        Lookup::Answer {
            records: vec![
                "v=TLSRPTv1; rua=mailto:tls@example.com".into(),
                "something else".into(),
            ],
        },
    );
    assert_eq!(f.name, "_smtp._tls.example.com");
    assert!(f.record.is_some() && f.error.is_none());
    assert_eq!(f.ignored, ["something else"]);
    let f = TlsRptFacts::from_answer(
        "example.com",
        Lookup::Answer {
            records: vec![
                "v=TLSRPTv1;".into(),
                "v=TLSRPTv1; rua=mailto:a@b.example".into(),
            ],
        },
    );
    assert_eq!(f.records.len(), 2);
    assert!(f.record.is_none() && f.error.is_none());
    // An unrelated record (a wildcard's SPF) is ignored, not a broken TLS-RPT record; an
    // attempt at one is explained.
    let f = TlsRptFacts::from_answer(
        "example.com",
        Lookup::Answer {
            records: vec!["v=spf1 include:_spf.example.com -all".into()],
        },
    );
    assert!(f.records.is_empty() && f.record.is_none() && f.error.is_none());
    assert_eq!(f.ignored.len(), 1);
    let f = TlsRptFacts::from_answer(
        "example.com",
        Lookup::Answer {
            records: vec![
                "v=spf1 -all".into(),
                "v=TLSRPTv2; rua=mailto:a@b.example".into(),
            ],
        },
    );
    assert!(f.record.is_none() && f.error.is_some());
    let f = TlsRptFacts::from_answer("example.com", Lookup::NxDomain);
    assert!(f.records.is_empty() && f.record.is_none() && f.error.is_none());
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<TlsRptFacts>(&json).unwrap(), f);
}
