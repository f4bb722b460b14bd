//! Unit tests of the SPF record parser: record selection, good records and modifiers, odd
//! domains and CIDR lengths, every permerror kind with where it is, and hostile input.

use super::*;
use crate::spf::macros::MacroError;

fn ok(text: &str) -> Record {
    parse_record(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> ParseError {
    parse_record(text).expect_err(text)
}

fn mechanisms(text: &str) -> Vec<(Qualifier, Mechanism)> {
    ok(text)
        .terms
        .iter()
        .filter_map(|t| t.directive().map(|d| (d.qualifier, d.mechanism.clone())))
        .collect()
}

#[test]
fn selection_is_case_insensitive_and_exact() {
    assert!(is_spf_record("v=spf1"));
    assert!(is_spf_record("V=SpF1 -all"));
    assert!(!is_spf_record("v=spf10"));
    assert!(!is_spf_record("v=spf1mx"));
    assert!(!is_spf_record(" v=spf1"));
    assert!(!is_spf_record("v=spf"));
    assert!(!is_spf_record("\u{96}"));
    assert!(ok("v=spf1").terms.is_empty());
    assert_eq!(ok("v=spf1 a  -all ").terms.len(), 2);
}

#[test]
fn good_records() {
    let m = mechanisms(
        "v=spf1 +a -mx:mail.example.com/24 ~ptr ?ip4:192.0.2.0/24 ip6:2001:db8::/32 \
         include:_spf.example.net exists:%{ir}.%{v}._spf.%{d} a/24//64 mx//0 ALL",
    );
    assert_eq!(m.len(), 10);
    assert_eq!(
        m[0],
        (
            Qualifier::Pass,
            Mechanism::A {
                domain: None,
                cidr: DualCidr::default()
            }
        )
    );
    match &m[1] {
        (
            Qualifier::Fail,
            Mechanism::Mx {
                domain: Some(d),
                cidr,
            },
        ) => {
            assert_eq!(d.to_string(), "mail.example.com");
            assert_eq!(*cidr, DualCidr { v4: 24, v6: 128 });
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m[2], (Qualifier::SoftFail, Mechanism::Ptr(None)));
    assert_eq!(
        m[3],
        (
            Qualifier::Neutral,
            Mechanism::Ip4 {
                network: Ipv4Addr::new(192, 0, 2, 0),
                prefix: 24
            }
        )
    );
    assert_eq!(
        m[4].1,
        Mechanism::Ip6 {
            network: "2001:db8::".parse().unwrap(),
            prefix: 32
        }
    );
    assert!(matches!(&m[5].1, Mechanism::Include(d) if d.to_string() == "_spf.example.net"));
    assert!(matches!(&m[6].1, Mechanism::Exists(d) if d.macros().has_macros()));
    assert_eq!(
        m[7].1,
        Mechanism::A {
            domain: None,
            cidr: DualCidr { v4: 24, v6: 64 }
        }
    );
    assert_eq!(
        m[8].1,
        Mechanism::Mx {
            domain: None,
            cidr: DualCidr { v4: 32, v6: 0 }
        }
    );
    assert_eq!(m[9], (Qualifier::Pass, Mechanism::All));
}

#[test]
fn modifiers() {
    let r = ok("v=spf1 mx REDIRECT=_spf.example.com exp=explain.%{d} \
                moo.cow-far_out=man:dog/cat default=+");
    assert_eq!(r.redirect().unwrap().1.to_string(), "_spf.example.com");
    assert_eq!(r.explanation().unwrap().to_string(), "explain.%{d}");
    assert!(matches!(
        &r.terms[3].kind,
        TermKind::Modifier(Modifier::Unknown { name, value })
            if name == "moo.cow-far_out" && value.as_str() == "man:dog/cat"
    ));
    assert!(!r.has_all());
    assert_eq!(r.reached_dns_terms(), 2);
    let r = ok("v=spf1 a include:x.example redirect=y.example -all mx");
    assert!(r.has_all());
    assert_eq!(
        r.reached_dns_terms(),
        2,
        "redirect ignored, mx after all never reached"
    );
}

#[test]
fn domains_with_odd_characters_and_cidr() {
    let m = mechanisms(
        "v=spf1 a:foo:bar/baz.example.com mx:foo.example.com/24 a:%{d}/24//64 \
         a:foo.example.xn--zckzah",
    );
    assert!(matches!(
        &m[0].1,
        Mechanism::A { domain: Some(d), cidr }
            if d.to_string() == "foo:bar/baz.example.com" && *cidr == DualCidr::default()
    ));
    assert!(matches!(
        &m[1].1,
        Mechanism::Mx { domain: Some(d), cidr }
            if d.to_string() == "foo.example.com" && cidr.v4 == 24
    ));
    assert!(matches!(
        &m[2].1,
        Mechanism::A { domain: Some(d), cidr }
            if d.to_string() == "%{d}" && *cidr == DualCidr { v4: 24, v6: 64 }
    ));
    assert!(matches!(
        &m[3].1,
        Mechanism::A {
            domain: Some(_),
            ..
        }
    ));
    ok("v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all");
    ok("v=spf1 redirect=%{d}.d.spf.example.com.");
    ok("v=spf1 include:o.spf.example.com. ~all");
}

#[test]
fn every_permerror_kind() {
    use ParseErrorKind as K;
    type IsKind = fn(&K) -> bool;
    let cases: &[(&str, IsKind)] = &[
        ("v=spf10", |k| *k == K::NotSpf),
        ("spf1 -all", |k| *k == K::NotSpf),
        (
            "v=spf1 ip4:1.2.3.4 -all moo",
            |k| matches!(k, K::UnknownMechanism { name } if name == "moo"),
        ),
        (
            "v=spf1 redirect:t2.example.com",
            |k| matches!(k, K::UnknownMechanism { name } if name == "redirect"),
        ),
        (
            "v=spf1 -all.",
            |k| matches!(k, K::UnknownMechanism { name } if name == "all."),
        ),
        ("v=spf1 moo.cow/far_out=man:dog/cat", |k| {
            matches!(k, K::UnknownMechanism { .. })
        }),
        ("v=spf1 moo.cow:far_out=man:dog/cat", |k| {
            matches!(k, K::UnknownMechanism { .. })
        }),
        ("v=spf1 1up=foo", |k| *k == K::BadModifierName),
        ("v=spf1 =all", |k| *k == K::BadModifierName),
        ("v=spf1 +redirect=x.example", |k| *k == K::QualifiedModifier),
        ("v=spf1 -all:foobar", |k| {
            matches!(k, K::UnexpectedArgument { .. })
        }),
        ("v=spf1 -all/8", |k| {
            matches!(k, K::UnexpectedArgument { .. })
        }),
        ("v=spf1 ptr/0 -all", |k| {
            matches!(k, K::UnexpectedArgument { .. })
        }),
        ("v=spf1 include +all", |k| {
            matches!(k, K::MissingArgument { .. })
        }),
        ("v=spf1 exists", |k| matches!(k, K::MissingArgument { .. })),
        ("v=spf1 ip4", |k| matches!(k, K::MissingArgument { .. })),
        ("v=spf1 -all ip6", |k| {
            matches!(k, K::MissingArgument { .. })
        }),
        ("v=spf1 a:", |k| *k == K::EmptyDomainSpec),
        ("v=spf1 ptr:", |k| *k == K::EmptyDomainSpec),
        ("v=spf1 include: -all", |k| *k == K::EmptyDomainSpec),
        ("v=spf1 exp= -all", |k| *k == K::EmptyDomainSpec),
        ("v=spf1 ?all redirect=", |k| *k == K::EmptyDomainSpec),
        ("v=spf1 a:foo-bar -all", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 a:111.222.33.44", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 a:abc.123", |k| matches!(k, K::BadDomainEnd { .. })),
        ("v=spf1 a:museum.", |k| matches!(k, K::BadDomainEnd { .. })),
        ("v=spf1 a:example.-com", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 mx:example.com:8080", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 include:ip5.example.com/24 -all", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 exists:mail.example.com/24", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 redirect=-all ?all", |k| {
            matches!(k, K::BadDomainEnd { .. })
        }),
        ("v=spf1 exp=-all", |k| matches!(k, K::BadDomainEnd { .. })),
        ("v=spf1 exists:%(ir).sbl.example.com", |k| {
            matches!(
                k,
                K::Macro {
                    error: MacroError::BadPercent { .. }
                }
            )
        }),
        ("v=spf1 exists:foo%.sbl.example.com", |k| {
            matches!(
                k,
                K::Macro {
                    error: MacroError::BadPercent { .. }
                }
            )
        }),
        ("v=spf1 -all exp=%{r}.example.com", |k| {
            matches!(
                k,
                K::Macro {
                    error: MacroError::ExplanationOnly { .. }
                }
            )
        }),
        ("v=spf1 a:%{a}.example.com", |k| {
            matches!(
                k,
                K::Macro {
                    error: MacroError::UnknownLetter { .. }
                }
            )
        }),
        ("v=spf1 -all foo=%abc", |k| matches!(k, K::Macro { .. })),
        ("v=spf1 a/33 -all", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 a//129 -all", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 a/24/64 -all", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 ip4:1.2.3.4/33", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 ip4:1.2.3.4/032", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 ip4:1.2.3.4//32", |k| matches!(k, K::BadCidr { .. })),
        ("v=spf1 ip6:::1.1.1.1/129", |k| {
            matches!(k, K::BadCidr { .. })
        }),
        ("v=spf1 ip6:::1.1.1.1//33", |k| {
            matches!(k, K::BadCidr { .. })
        }),
        ("v=spf1 ip4:1.2.3", |k| matches!(k, K::BadIp4 { .. })),
        ("v=spf1 ip4:1.2.3.4:8080", |k| matches!(k, K::BadIp4 { .. })),
        ("v=spf1 ip4:01.2.3.4", |k| matches!(k, K::BadIp4 { .. })),
        ("v=spf1 ip6::CAFE::BABE", |k| matches!(k, K::BadIp6 { .. })),
        (
            "v=spf1 redirect=a.example -all redirect=a.example",
            |k| matches!(k, K::DuplicateModifier { name } if name == "redirect"),
        ),
        (
            "v=spf1 exp=a.example -all exp=b.example",
            |k| matches!(k, K::DuplicateModifier { name } if name == "exp"),
        ),
        ("v=spf1 a:ctrl.example.com\rptr -all", |k| {
            *k == K::BadCharacter { ch: '\r' }
        }),
        ("v=spf1 ip4:192.0.2.5\n include:x.example ~all", |k| {
            *k == K::BadCharacter { ch: '\n' }
        }),
        ("v=spf1 a:foo.example.com\0", |k| {
            *k == K::BadCharacter { ch: '\0' }
        }),
        ("v=spf1 \u{80}a:example.net -all", |k| {
            matches!(k, K::BadCharacter { .. })
        }),
        ("v=spf1 a:\u{ef}\u{bb}\u{bf}garbage.example.net -all", |k| {
            matches!(k, K::BadCharacter { .. })
        }),
        ("v=spf1\ta", |k| *k == K::NotSpf),
    ];
    for (text, is_kind) in cases {
        let e = err(text);
        assert!(is_kind(&e.kind), "{text:?} gave {e}");
    }
}

#[test]
fn errors_say_where() {
    let e = err("v=spf1 ip4:192.0.2.1 a:bad-domain -all");
    assert_eq!(e.term, "a:bad-domain");
    assert_eq!(e.position, 21);
    let e = err("v=spf1 a:ctrl.example.com\rptr -all");
    assert_eq!(e.position, 25);
    assert!(e.to_string().contains("at byte 25"), "{e}");
    let json = serde_json::to_string(&err("v=spf1 -all/8")).unwrap();
    assert!(json.contains("\"kind\":\"unexpected_argument\""), "{json}");
}

#[test]
fn hostile_records_are_bounded() {
    let huge = format!("v=spf1 {}", "a ".repeat(MAX_RECORD_LEN));
    assert!(matches!(err(&huge).kind, ParseErrorKind::TooLong { .. }));
    let many = format!("v=spf1 {}", "a ".repeat(MAX_TERMS + 1));
    assert!(matches!(
        err(&many).kind,
        ParseErrorKind::TooManyTerms { .. }
    ));
    let nested = format!("v=spf1 a:{}x.example", "%{d}".repeat(3000));
    assert!(parse_record(&nested).is_ok());
    for text in [
        "v=spf1 %",
        "v=spf1 a:%{",
        "v=spf1 a:%{d99999999999999999999}.x",
        "v=spf1 a//",
        "v=spf1 a:/",
        "v=spf1 ip6:",
        "v=spf1 ip4:/",
        "v=spf1 -",
        "v=spf1 +",
        "v=spf1 ===",
        "v=spf1 a:x.example/99999999999999999999",
        "v=spf1 é",
    ] {
        let _ = parse_record(text);
    }
}
