//! Tests of `/mailcheck-sender`: the embed is inert and within Discord's limits, a diagnoser
//! without a sender check says so, private addresses are hidden outside a lab.

use super::*;
use mailcheck::{Code, Severity};

fn report() -> SenderReport {
    let mut r = SenderReport::invalid("198.51.100.9", Some("mail.example.com"), None, "x");
    r.error = None;
    r.verdict = Verdict::Broken;
    r.findings = vec![
        Finding::new(
            Code::SenderListed,
            "198.51.100.9",
            "198.51.100.9 is listed on zen.spamhaus.org @everyone",
        )
        .evidence("9.100.51.198.zen.spamhaus.org -> 127.0.0.4")
        .evidence("TXT: <@123> see https://check.spamhaus.org/ **now**")
        .advice("Fix it, then request removal."),
        Finding::new(Code::DmarcPolicyNone, "example.com", "p=none").severity(Severity::Info),
    ];
    r
}

#[test]
fn the_embed_is_inert_and_within_limits() {
    let r = render_sender(&report(), &RenderContext::default(), false);
    let json = r.embed_json().to_string();
    assert!(
        !json.contains("@everyone") && !json.contains("<@123>"),
        "{json}"
    );
    assert!(
        json.contains("sender.listed") && json.contains("Broken"),
        "{json}"
    );
    assert!(json.contains("hxxps"), "links are defanged: {json}");
    assert_eq!(r.embed.colour, verdict_colour(Verdict::Broken));
    assert!(r.embed.total_chars() <= crate::render::limits::TOTAL);
    let file = String::from_utf8(r.file.clone()).unwrap();
    assert!(
        file.contains("fix: Fix it") && file.contains("verdict: broken"),
        "{file}"
    );
    assert_eq!(r.file_name, "mailcheck-sender-198-51-100-9.txt");
    // A huge report still fits Discord's limits.
    let mut big = report();
    for i in 0..60 {
        big.findings.push(
            Finding::new(Code::SenderHeloMismatch, "x", "y".repeat(300))
                .evidence("z".repeat(500))
                .advice(format!("advice {i} {}", "w".repeat(900))),
        );
    }
    let r = render_sender(&big, &RenderContext::default(), false);
    assert!(r.truncated && r.embed.fields.len() <= crate::render::limits::FIELDS);
    assert!(r.embed.total_chars() <= crate::render::limits::TOTAL);
}

#[derive(Debug)]
struct Double;

impl crate::Diagnoser for Double {
    fn diagnose<'a>(
        &'a self,
        domain: &'a mailcheck::DomainName,
        _: CheckOptions,
        _: crate::ProgressSender,
    ) -> crate::backend::BoxFuture<'a, mailcheck::Report> {
        Box::pin(async move { mailcheck::Report::invalid(domain.as_str(), "") })
    }
}

#[tokio::test]
async fn a_diagnoser_without_a_sender_check_says_so() {
    use crate::Diagnoser as _;
    let q = SenderQuery::parse("192.0.2.1", None, None).unwrap();
    assert!(
        Double
            .check_sender(&q, CheckOptions::default())
            .await
            .is_none()
    );
}

#[test]
fn private_addresses_are_hidden_outside_a_lab() {
    let mut r = report();
    r.ip = "10.1.2.3".to_owned();
    let shown_outside = render_sender(&r, &RenderContext::default(), false)
        .embed_json()
        .to_string();
    assert!(!shown_outside.contains("10.1.2.3"), "{shown_outside}");
    let shown_in_lab = render_sender(&r, &RenderContext::default(), true)
        .embed_json()
        .to_string();
    assert!(shown_in_lab.contains("10.1.2.3"));
    assert!(private_address_text(AddressScope::Private).contains("private"));
}
