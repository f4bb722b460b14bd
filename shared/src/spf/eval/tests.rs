//! Unit tests of `check_host()` over in-memory zones. Long on purpose: one test per rule of
//! RFC 7208 §4–§6 (qualifiers in order, record selection, each lookup limit, loops, DNS
//! failures, explanations, the trace tree, the null sender, hostile input), each with its zone.

use std::net::IpAddr;

use super::*;
use crate::facts::DnsFailure;
use crate::spf::MemoryZone;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn check(zone: &MemoryZone, client: &str, domain: &str) -> SpfEvaluation {
    check_host(
        ip(client),
        domain,
        &format!("user@{domain}"),
        "mail.example.org",
        zone,
    )
    .await
}

#[tokio::test]
async fn qualifiers_decide_in_order() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "example.test",
        "v=spf1 -ip4:192.0.2.66 ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ?a:h.example.test -all",
    )
    .add_a("h.example.test", "198.51.100.7".parse().unwrap());
    for (client, want, term) in [
        ("192.0.2.66", SpfResult::Fail, Some("-ip4:192.0.2.66")),
        ("192.0.2.1", SpfResult::Pass, Some("ip4:192.0.2.0/24")),
        (
            "::ffff:192.0.2.1",
            SpfResult::Pass,
            Some("ip4:192.0.2.0/24"),
        ),
        (
            "2001:db8::1",
            SpfResult::SoftFail,
            Some("~ip6:2001:db8::/32"),
        ),
        (
            "198.51.100.7",
            SpfResult::Neutral,
            Some("?a:h.example.test"),
        ),
        ("203.0.113.1", SpfResult::Fail, Some("-all")),
    ] {
        let e = check(&z, client, "example.test").await;
        assert_eq!(e.result, want, "{client}");
        assert_eq!(
            e.matched.as_ref().map(|m| m.term.as_str()),
            term,
            "{client}"
        );
    }
}

#[tokio::test]
async fn record_selection() {
    let mut z = MemoryZone::new();
    z.add_txt("none.example.test", "google-site-verification=x")
        .add_txt("two.example.test", "v=spf1 -all")
        .add_txt("two.example.test", "V=SPF1 +all")
        .timeout("slow.example.test")
        .add_txt("empty.example.test", "v=spf1")
        .add_txt_strings("split.example.test", &["v=spf1 ip4:192.0.2.1", " -all"])
        .add_txt("bad.example.test", "v=spf1 a:foo-bar -all");
    assert_eq!(
        check(&z, "192.0.2.1", "none.example.test").await.result,
        SpfResult::None
    );
    assert_eq!(
        check(&z, "192.0.2.1", "nxdomain.example.test").await.result,
        SpfResult::None
    );
    assert_eq!(
        check(&z, "192.0.2.1", "two.example.test").await.result,
        SpfResult::PermError
    );
    assert_eq!(
        check(&z, "192.0.2.1", "slow.example.test").await.result,
        SpfResult::TempError
    );
    assert_eq!(
        check(&z, "192.0.2.1", "empty.example.test").await.result,
        SpfResult::Neutral
    );
    assert_eq!(
        check(&z, "192.0.2.1", "split.example.test").await.result,
        SpfResult::Pass
    );
    let bad = check(&z, "192.0.2.1", "bad.example.test").await;
    assert_eq!(bad.result, SpfResult::PermError);
    let syntax = bad.trace.root.syntax_error.as_ref().unwrap();
    assert_eq!(syntax.term, "a:foo-bar");
    assert_eq!(
        check(&z, "192.0.2.1", "single-label").await.result,
        SpfResult::None
    );
    assert_eq!(
        check(&z, "192.0.2.1", "a..b.example.test").await.result,
        SpfResult::None
    );
    assert!(
        z.queries().iter().all(|q| !q.contains("a..b")),
        "no query for a bad name"
    );
}

#[tokio::test]
async fn eleven_dns_terms_are_a_permerror() {
    let mut z = MemoryZone::new();
    z.add_a("example.test", "198.51.100.1".parse().unwrap())
        .add_txt(
            "ten.example.test",
            "v=spf1 include:inc.example.test a a ip4:192.0.2.1 -all",
        )
        .add_txt(
            "eleven.example.test",
            "v=spf1 include:inc.example.test a a a ip4:192.0.2.1 -all",
        )
        .add_txt(
            "inc.example.test",
            "v=spf1 a:example.test a:example.test a:example.test a:example.test a:example.test \
             a:example.test a:example.test",
        )
        .add_address("ten.example.test", ip("198.51.100.2"))
        .add_address("eleven.example.test", ip("198.51.100.2"));
    let ten = check(&z, "192.0.2.1", "ten.example.test").await;
    assert_eq!(ten.result, SpfResult::Pass);
    assert_eq!(ten.trace.dns_terms, 10);
    assert_eq!(ten.trace.root.dns_terms, 3);
    assert_eq!(ten.trace.root.children[0].dns_terms, 7);
    assert_eq!(ten.trace.root.subtree_dns_terms(), 10);
    let eleven = check(&z, "192.0.2.1", "eleven.example.test").await;
    assert_eq!(eleven.result, SpfResult::PermError);
    assert_eq!(eleven.trace.dns_terms, 11);
    assert!(
        eleven
            .reason
            .unwrap()
            .contains("more than 10 DNS-querying terms")
    );
    // A sender matched early never reaches the limit: counting is lazy, as receivers do.
    let early = check(&z, "198.51.100.1", "eleven.example.test").await;
    assert_eq!(early.result, SpfResult::Pass);
}

#[tokio::test]
async fn three_void_lookups_are_a_permerror() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "two.example.test",
        "v=spf1 a:nx1.example.test mx:nx2.example.test ?all",
    )
    .add_txt(
        "three.example.test",
        "v=spf1 a:nx1.example.test mx:nx2.example.test exists:nx3.example.test ?all",
    )
    .add_txt(
        "exp.example.test",
        "v=spf1 a:nx1.example.test a:nx2.example.test exp=nx3.example.test -all",
    );
    let two = check(&z, "192.0.2.1", "two.example.test").await;
    assert_eq!(two.result, SpfResult::Neutral);
    assert_eq!(two.trace.void_lookups, 2);
    let three = check(&z, "192.0.2.1", "three.example.test").await;
    assert_eq!(three.result, SpfResult::PermError);
    assert!(three.reason.unwrap().contains("void lookups"));
    let exp = check(&z, "192.0.2.1", "exp.example.test").await;
    assert_eq!(exp.result, SpfResult::Fail, "exp= is not a void lookup");
    assert_eq!(exp.explanation, None);
}

#[tokio::test]
async fn loops_are_detected() {
    let mut z = MemoryZone::new();
    z.add_txt("a.example.test", "v=spf1 include:b.example.test -all")
        .add_txt("b.example.test", "v=spf1 include:A.example.test. -all")
        .add_txt(
            "self.example.test",
            "v=spf1 ip4:192.0.2.9 redirect=self.example.test",
        );
    let e = check(&z, "192.0.2.1", "a.example.test").await;
    assert_eq!(e.result, SpfResult::PermError);
    let reason = e.reason.unwrap();
    assert!(
        reason.contains("loop: a.example.test → b.example.test → A.example.test"),
        "{reason}"
    );
    assert_eq!(
        e.trace.root.children[0].children[0].result,
        SpfResult::PermError
    );
    assert_eq!(
        z.queries().len(),
        2,
        "the loop is seen before a third lookup"
    );
    let e = check(&z, "192.0.2.1", "self.example.test").await;
    assert_eq!(e.result, SpfResult::PermError);
    assert!(e.reason.unwrap().contains("loop"));
}

#[tokio::test]
async fn a_deep_include_chain_stops_at_the_limit() {
    let mut z = MemoryZone::new();
    for i in 0..1000 {
        z.add_txt(
            &format!("l{i}.example.test"),
            &format!("v=spf1 include:l{}.example.test -all", i + 1),
        );
    }
    let e = check(&z, "192.0.2.1", "l0.example.test").await;
    assert_eq!(e.result, SpfResult::PermError);
    assert_eq!(e.trace.dns_terms, 11);
    assert!(z.queries().len() <= 11);
}

#[tokio::test]
async fn mx_and_ptr_name_limits() {
    let mut z = MemoryZone::new();
    z.add_txt("mx.example.test", "v=spf1 mx -all")
        .add_txt("ptr.example.test", "v=spf1 ptr -all");
    for i in 0..11 {
        z.add_mx("mx.example.test", i, &format!("mx{i}.example.test"))
            .add_a(&format!("mx{i}.example.test"), "192.0.2.1".parse().unwrap())
            .add_ptr(ip("192.0.2.2"), &format!("h{i}.example.test"))
            .add_a(&format!("h{i}.example.test"), "192.0.2.2".parse().unwrap());
    }
    // The eleventh PTR name is the one that would match: ignored.
    z.add_ptr(ip("192.0.2.2"), "ptr.example.test")
        .add_a("ptr.example.test", "192.0.2.2".parse().unwrap());
    let e = check(&z, "192.0.2.1", "mx.example.test").await;
    assert_eq!(e.result, SpfResult::PermError);
    assert!(e.reason.unwrap().contains("11 MX records"));
    let e = check(&z, "192.0.2.2", "ptr.example.test").await;
    assert_eq!(e.result, SpfResult::Fail);
}

#[tokio::test]
async fn dns_failures() {
    let mut z = MemoryZone::new();
    z.add_txt("a.example.test", "v=spf1 a:down.example.test -all")
        .add_txt("ptr.example.test", "v=spf1 ptr -all")
        .add_txt("inc.example.test", "v=spf1 include:down.example.test -all")
        .add_txt(
            "none.example.test",
            "v=spf1 include:nothing.example.test -all",
        )
        .fail("down.example.test", DnsFailure::ServFail);
    z.fail(
        &crate::spf::name::reverse_name(ip("192.0.2.1")),
        DnsFailure::ServFail,
    );
    let e = check(&z, "192.0.2.1", "a.example.test").await;
    assert_eq!(e.result, SpfResult::TempError);
    assert!(e.reason.unwrap().contains("SERVFAIL"));
    // §5.5: a PTR failure is a no-match, not a temperror.
    assert_eq!(
        check(&z, "192.0.2.1", "ptr.example.test").await.result,
        SpfResult::Fail
    );
    assert_eq!(
        check(&z, "192.0.2.1", "inc.example.test").await.result,
        SpfResult::TempError
    );
    let e = check(&z, "192.0.2.1", "none.example.test").await;
    assert_eq!(e.result, SpfResult::PermError);
    assert!(e.reason.unwrap().contains("has no SPF record"));
}

#[tokio::test]
async fn explanations() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "example.test",
        "v=spf1 include:inc.example.test ip4:192.0.2.7 -all exp=why.%{d}",
    )
    .add_txt(
        "why.example.test",
        "%{i} may not send for %{d} (%{l}); see https://%{o}/spf?c=%{C}",
    )
    .add_txt("inc.example.test", "v=spf1 -all exp=never.example.test")
    .add_txt("never.example.test", "never used")
    .add_txt(
        "redir.example.test",
        "v=spf1 exp=never.example.test redirect=target.example.test",
    )
    .add_txt("target.example.test", "v=spf1 -all exp=t.example.test")
    .add_txt("t.example.test", "target says no to %{c}");
    let e = check(&z, "192.0.2.1", "example.test").await;
    assert_eq!(e.result, SpfResult::Fail);
    assert_eq!(
        e.explanation.as_deref(),
        Some(
            "192.0.2.1 may not send for example.test (user); \
             see https://example.test/spf?c=192.0.2.1"
        )
    );
    let e = check(&z, "2001:db8::1", "redir.example.test").await;
    assert_eq!(
        e.explanation.as_deref(),
        Some("target says no to 2001:db8::1")
    );
    assert_eq!(
        e.matched,
        Some(MatchedTerm {
            domain: "target.example.test".to_owned(),
            term: "-all".to_owned()
        })
    );
    assert_eq!(
        check(&z, "192.0.2.7", "example.test").await.explanation,
        None
    );
}

#[tokio::test]
async fn the_trace_is_the_tree() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "example.test",
        "v=spf1 include:a.example.test redirect=b.example.test",
    )
    .add_txt("a.example.test", "v=spf1 a mx ?all")
    .add_txt("b.example.test", "v=spf1 ip4:192.0.2.0/24 -all")
    .add_a("a.example.test", "198.51.100.1".parse().unwrap())
    .add_mx("a.example.test", 10, "a.example.test");
    let e = check(&z, "192.0.2.1", "example.test").await;
    assert_eq!(e.result, SpfResult::Pass);
    let root = &e.trace.root;
    assert_eq!(
        root.records,
        ["v=spf1 include:a.example.test redirect=b.example.test"]
    );
    assert_eq!(root.dns_terms, 2);
    assert_eq!(root.result, SpfResult::Pass);
    let [inc, redir] = root.children.as_slice() else {
        panic!("{root:?}")
    };
    assert_eq!(
        (inc.via, inc.term.as_deref()),
        (Via::Include, Some("include:a.example.test"))
    );
    assert_eq!(
        (inc.result, inc.dns_terms, inc.matched.as_deref()),
        (SpfResult::Neutral, 2, Some("?all"))
    );
    assert_eq!((redir.via, redir.result), (Via::Redirect, SpfResult::Pass));
    assert_eq!(redir.matched.as_deref(), Some("ip4:192.0.2.0/24"));
    assert_eq!(e.trace.dns_terms, 4);
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(serde_json::from_str::<SpfEvaluation>(&json).unwrap(), e);
}

#[tokio::test]
async fn null_sender_checks_helo() {
    let mut z = MemoryZone::new();
    z.add_txt("mail.example.test", "v=spf1 a -all exp=e.example.test")
        .add_txt("e.example.test", "%{s}")
        .add_a("mail.example.test", "192.0.2.1".parse().unwrap());
    assert_eq!(
        sender_identity("<>", "mail.example.test"),
        (
            "mail.example.test".to_owned(),
            "postmaster@mail.example.test".to_owned()
        )
    );
    assert_eq!(
        sender_identity("<a@b.example>", "h"),
        ("b.example".to_owned(), "a@b.example".to_owned())
    );
    let e = check_sender(ip("192.0.2.2"), "", "mail.example.test", &z).await;
    assert_eq!(e.result, SpfResult::Fail);
    assert_eq!(
        e.explanation.as_deref(),
        Some("postmaster@mail.example.test")
    );
    let e = check_host(
        ip("192.0.2.2"),
        "mail.example.test",
        "@mail.example.test",
        "h",
        &z,
    )
    .await;
    assert_eq!(e.sender, "postmaster@mail.example.test");
}

#[tokio::test]
async fn hostile_input_does_not_panic() {
    let mut z = MemoryZone::new();
    let huge = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(5000));
    let many = format!("v=spf1 {}-all", "ip4:10.0.0.1 ".repeat(1000));
    let macros = format!(
        "v=spf1 exists:{}.x.example.test -all exp=e.example.test",
        "%{S}%{p}%{ir}".repeat(100)
    );
    z.add_txt("huge.example.test", &huge)
        .add_txt("many.example.test", &many)
        .add_txt("macros.example.test", &macros)
        .add_txt("e.example.test", &"%{L}".repeat(2000))
        .add_txt("nul.example.test", "v=spf1 a:x\0.example.test -all")
        .add_txt("utf8.example.test", "v=spf1 a:ex\u{e4}mple.test -all")
        .add_ptr(ip("192.0.2.1"), "p.example.test");
    let long_sender = format!("{}@macros.example.test", "x".repeat(10_000));
    for domain in [
        "huge.example.test",
        "many.example.test",
        "nul.example.test",
        "utf8.example.test",
    ] {
        let e = check(&z, "192.0.2.1", domain).await;
        assert!(
            matches!(e.result, SpfResult::PermError | SpfResult::Fail),
            "{domain}: {:?}",
            e.result
        );
    }
    assert_eq!(
        check(&z, "192.0.2.1", "huge.example.test")
            .await
            .trace
            .root
            .syntax_error
            .map(|e| e.kind),
        Some(crate::spf::ParseErrorKind::TooLong {
            len: huge.len(),
            max: crate::spf::record::MAX_RECORD_LEN
        })
    );
    let e = check_host(
        ip("192.0.2.1"),
        "macros.example.test",
        &long_sender,
        "h",
        &z,
    )
    .await;
    assert_eq!(
        e.result,
        SpfResult::Fail,
        "an unqueryable name does not match"
    );
    assert_eq!(e.explanation, None, "too long to expand");
    let ptr_queries = z.queries().iter().filter(|q| q.starts_with("PTR ")).count();
    assert_eq!(ptr_queries, 1, "%{{p}} is looked up once");
}
