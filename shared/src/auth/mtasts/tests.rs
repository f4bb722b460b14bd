//! Unit tests of the MTA-STS parsers, the pattern matching, the content-type rule, the facts'
//! JSON form and the client's configuration errors.

use std::time::Duration;

use super::client::is_text_plain;
use super::*;
use crate::facts::AddressLookups;

#[test]
fn records_are_recognised_and_parsed() {
    assert!(is_sts_record("v=STSv1; id=20240101"));
    assert!(is_sts_record("v=STSv1;id=1"));
    assert!(is_sts_record("v=STSv1"));
    assert!(!is_sts_record("v=STSv10; id=1"));
    assert!(!is_sts_record("v=spf1 -all"));
    assert!(!is_sts_record("v=stsv1; id=1"));
    assert!(!is_sts_record(" v=STSv1; id=1"));

    let r = parse_record("v=STSv1; id=20240101T000000").unwrap();
    assert_eq!(r.id, "20240101T000000");
    assert!(r.extensions.is_empty());
    assert_eq!(parse_record("v=STSv1;id=abc;").unwrap().id, "abc");
    assert_eq!(parse_record("v=STSv1 ;\tid=abc ; ").unwrap().id, "abc");
    let r = parse_record("v=STSv1; id=a1; ext_1=x-y").unwrap();
    assert_eq!(r.extensions, vec![("ext_1".to_owned(), "x-y".to_owned())]);
    // The first id counts.
    assert_eq!(parse_record("v=STSv1; id=a; id=b").unwrap().id, "a");
    let max = "a".repeat(32);
    assert_eq!(parse_record(&format!("v=STSv1; id={max}")).unwrap().id, max);

    for bad in [
        "v=STSv1",
        "v=STSv1;",
        "v=STSv1 id=1",
        "v=STSv1; id=",
        "v=STSv1; id=2024-01-01",
        "v=STSv1; id=2024.01",
        &format!("v=STSv1; id={}", "a".repeat(33)),
        "v=STSv1; id=1;; x=y",
        "v=STSv1; id=1; junk",
        "v=STSv1; id=1; v=STSv1",
        "v=STSv1; id=1; -x=y",
        "v=STSv1; id=1; x=",
        "v=STSv1; id=1; x=a b",
        "v=spf1 -all",
    ] {
        assert!(parse_record(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn policies_parse_with_crlf_or_lf() {
    let text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
                mx: *.example.net\r\nmax_age: 604800\r\n";
    let p = parse_policy(text).unwrap();
    assert_eq!(p.mode, StsMode::Enforce);
    assert_eq!(p.mx, vec!["mail.example.com", "*.example.net"]);
    assert_eq!(p.max_age, 604_800);
    assert_eq!(parse_policy(&text.replace("\r\n", "\n")).unwrap(), p);
    // No final line break, white space after the colon, unknown keys ignored, first of a
    // repeated key wins, empty lines tolerated.
    let p = parse_policy(
        "mode:testing\nversion:\tSTSv1\n\nmx: a.example\nfoo: bar baz\nmode: enforce\nmax_age:0",
    )
    .unwrap();
    assert_eq!(p.mode, StsMode::Testing);
    assert_eq!(p.max_age, 0);
    assert_eq!(p.extensions, vec![("foo".to_owned(), "bar baz".to_owned())]);
    // `none` needs no mx.
    assert_eq!(
        parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")
            .unwrap()
            .mode,
        StsMode::None
    );
    assert_eq!(
        parse_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600")
            .unwrap()
            .max_age,
        MAX_AGE_LIMIT
    );
}

#[test]
fn bad_policies_say_why() {
    let base = |line: &str| {
        format!("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n{line}\n")
    };
    let cases: &[(String, &str)] = &[
        (
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n".into(),
            "above the maximum",
        ),
        (
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n".into(),
            "not a number",
        ),
        (
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n".into(),
            "not a number",
        ),
        (
            "version: STSv1\nmode: enforce\nmx: a.example\n".into(),
            "max_age: line is missing",
        ),
        (
            "mode: enforce\nmx: a.example\nmax_age: 1\n".into(),
            "version: STSv1 line is missing",
        ),
        (
            "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n".into(),
            "not STSv1",
        ),
        (
            "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n".into(),
            "not enforce, testing or none",
        ),
        (
            "version: STSv1\nmx: a.example\nmax_age: 1\n".into(),
            "mode: line is missing",
        ),
        (
            "version: STSv1\nmode: testing\nmax_age: 1\n".into(),
            "must list its MX hosts",
        ),
        (base("this is not a policy"), "line 5"),
        (base("mx: mail.*.example.com"), "wildcard"),
        (base("mx: *mail.example.com"), "wildcard"),
        (base("mx: *"), "wildcard"),
        (base("mx: mail.example.com."), "wildcard"),
        (base("mx: mx_1.example.com"), "wildcard"),
        (base("bad key: x"), "not a valid key"),
        ("{\"mode\": \"enforce\"}".into(), "not a valid key"),
    ];
    for (text, want) in cases {
        let err = parse_policy(text).expect_err(text);
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn patterns_match_one_leftmost_label() {
    assert!(mx_matches("*.example.com", "mx1.example.com"));
    assert!(mx_matches("*.example.com", "MX1.Example.COM."));
    assert!(!mx_matches("*.example.com", "a.b.example.com"));
    assert!(!mx_matches("*.example.com", "example.com"));
    assert!(!mx_matches("*.example.com", ".example.com"));
    assert!(!mx_matches("*.example.com", "mx1.example.org"));
    assert!(mx_matches("mail.example.com", "mail.example.com"));
    assert!(mx_matches("Mail.Example.com", "mail.example.com."));
    assert!(!mx_matches("mail.example.com", "mx.mail.example.com"));
    assert!(!mx_matches("example.com", "mail.example.com"));
    let p =
        parse_policy("version: STSv1\nmode: enforce\nmx: mx.a.test\nmx: *.b.test\nmax_age: 60\n")
            .unwrap();
    assert_eq!(p.matching_pattern("x.b.test"), Some("*.b.test"));
    assert_eq!(p.matching_pattern("mx.a.test"), Some("mx.a.test"));
    assert_eq!(p.matching_pattern("y.a.test"), None);
}

#[test]
fn content_types() {
    assert!(is_text_plain(Some("text/plain")));
    assert!(is_text_plain(Some("Text/Plain; charset=utf-8")));
    assert!(is_text_plain(Some("text/plain ;charset=us-ascii")));
    assert!(!is_text_plain(Some("text/html")));
    assert!(!is_text_plain(Some("text/plainx")));
    assert!(!is_text_plain(Some("application/octet-stream")));
    assert!(!is_text_plain(None));
}

#[test]
fn facts_round_trip_through_json() {
    let f = MtaStsFacts {
        txt: Lookup::Answer {
            records: vec!["v=STSv1; id=1".into()],
        },
        sts_records: vec!["v=STSv1; id=1".into()],
        record: Some(parse_record("v=STSv1; id=1")),
        fetch: Some(PolicyFetch {
            url: "https://mta-sts.a.test/.well-known/mta-sts.txt".into(),
            lookups: AddressLookups {
                a: Lookup::Answer {
                    records: vec!["192.0.2.1".parse().unwrap()],
                },
                aaaa: Lookup::NoData,
            },
            peer: Some("192.0.2.1:443".parse().unwrap()),
            status: Some(200),
            content_type: Some("text/plain".into()),
            location: None,
            size: Some(10),
            body: Some("x".into()),
            error: None,
            ms: 3,
        }),
        policy: Some(Err("line 1: bad".into())),
        mx: vec![MxMatch {
            host: "mx.a.test".into(),
            pattern: None,
        }],
    };
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<MtaStsFacts>(&json).unwrap(), f);
}

#[test]
fn a_bad_extra_ca_is_a_config_error() {
    let e = MtaStsClient::new(443, Duration::from_secs(1), &["nope".into()], false).unwrap_err();
    assert!(e.to_string().contains("extra_ca_pem[0]"), "{e}");
}
