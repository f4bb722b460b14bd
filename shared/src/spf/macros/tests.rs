//! Unit tests of macro strings: the worked examples of RFC 7208 §7.4, escapes and the
//! explanation-only letters, every syntax error, and the bound on expansion.

use super::*;

/// The worked example of RFC 7208 §7.4.
fn values(ip: &str) -> MacroValues<'static> {
    MacroValues {
        sender: "strong-bad@email.example.com",
        local_part: "strong-bad",
        sender_domain: "email.example.com",
        domain: "email.example.com",
        ip: ip.parse().unwrap(),
        helo: "mx.example.org",
        validated_name: Some("mx.example.org"),
        receiver: "receiver.example.net",
        timestamp: 1_700_000_000,
    }
}

fn x(text: &str, ip: &str) -> String {
    MacroString::parse(text, MacroUse::Explanation)
        .unwrap()
        .expand(&values(ip))
        .unwrap()
}

#[test]
fn rfc7208_7_4_single_macros() {
    let ip = "192.0.2.3";
    for (macro_, want) in [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
    ] {
        assert_eq!(x(macro_, ip), want, "{macro_}");
    }
}

#[test]
fn rfc7208_7_4_macro_strings() {
    let ip = "192.0.2.3";
    for (text, want) in [
        (
            "%{ir}.%{v}._spf.%{d2}",
            "3.2.0.192.in-addr._spf.example.com",
        ),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        (
            "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        ),
        (
            "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
            "3.2.0.192.in-addr.strong.lp._spf.example.com",
        ),
        (
            "%{d2}.trusted-domains.example.net",
            "example.com.trusted-domains.example.net",
        ),
    ] {
        assert_eq!(x(text, ip), want, "{text}");
    }
    assert_eq!(
        x("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    );
}

#[test]
fn escapes_and_explanation_letters() {
    assert_eq!(x("%%%_%-", "192.0.2.3"), "% %20");
    assert_eq!(x("%{c} %{v}", "2001:db8::cb01"), "2001:db8::cb01 ip6");
    assert_eq!(x("%{c}", "192.0.2.3"), "192.0.2.3");
    assert_eq!(
        x("%{r} %{t} %{p}", "192.0.2.3"),
        "receiver.example.net 1700000000 mx.example.org"
    );
    let mut v = values("192.0.2.3");
    v.local_part = "~jack&jill=up-a_b3.c";
    let s = MacroString::parse("l=%{L}", MacroUse::Explanation).unwrap();
    assert_eq!(s.expand(&v).unwrap(), "l=~jack%26jill%3Dup-a_b3.c");
    v.validated_name = None;
    let s = MacroString::parse("%{p}", MacroUse::Domain).unwrap();
    assert_eq!(s.expand(&v).unwrap(), "unknown");
    // Several delimiters; a huge count keeps everything.
    v.local_part = "foo-bar+zip+quux";
    let s = MacroString::parse("%{l2r+-}|%{l99999999999999r+-}", MacroUse::Modifier).unwrap();
    assert_eq!(s.expand(&v).unwrap(), "bar.foo|quux.zip.bar.foo");
}

#[test]
fn syntax_errors() {
    let bad = |t: &str, u| MacroString::parse(t, u).unwrap_err();
    assert!(matches!(
        bad("%(ir)", MacroUse::Domain),
        MacroError::BadPercent { offset: 0 }
    ));
    assert!(matches!(
        bad("foo%", MacroUse::Domain),
        MacroError::BadPercent { offset: 3 }
    ));
    assert!(matches!(
        bad("%{x}", MacroUse::Domain),
        MacroError::UnknownLetter { letter: 'x', .. }
    ));
    assert!(matches!(
        bad("%{r}", MacroUse::Domain),
        MacroError::ExplanationOnly { letter: 'r', .. }
    ));
    assert!(matches!(
        bad("%{C}", MacroUse::Domain),
        MacroError::ExplanationOnly { .. }
    ));
    assert!(matches!(
        bad("%{d0}", MacroUse::Domain),
        MacroError::ZeroParts { .. }
    ));
    assert!(matches!(
        bad("%{d2", MacroUse::Domain),
        MacroError::Unterminated { .. }
    ));
    assert!(matches!(
        bad("%{d2x}", MacroUse::Domain),
        MacroError::BadTransformer { ch: 'x', .. }
    ));
    assert!(matches!(
        bad("%{}", MacroUse::Domain),
        MacroError::BadTransformer { .. }
    ));
    assert!(matches!(
        bad("a b", MacroUse::Domain),
        MacroError::BadCharacter { ch: ' ', .. }
    ));
    assert!(matches!(
        bad("a\u{ef}b", MacroUse::Explanation),
        MacroError::BadCharacter { .. }
    ));
    assert!(MacroString::parse("%{c} a b", MacroUse::Explanation).is_ok());
    assert!(MacroString::parse("%{dR.}", MacroUse::Domain).is_ok());
}

#[test]
fn expansion_is_bounded() {
    let mut v = values("192.0.2.3");
    let long = "a".repeat(5000);
    v.sender = &long;
    let s = MacroString::parse("%{s}%{s}", MacroUse::Domain).unwrap();
    assert_eq!(s.expand(&v), Err(ExpansionTooLong));
    let s = MacroString::parse(&"%{S}".repeat(1000), MacroUse::Domain).unwrap();
    assert_eq!(s.expand(&v), Err(ExpansionTooLong));
}
