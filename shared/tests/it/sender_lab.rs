//! The sender check end to end against the in-process lab: every sender case gets exactly the
//! verdict and finding codes the lab promises, through the real resolver, blocklist engine (with
//! its RFC 5782 self-tests) and SPF evaluator. Re-record the replay fixtures
//! (`tests/fixtures/sender/`) with `RECORD_FIXTURES=1 cargo test -p mailcheck --test sender_lab`.

use std::collections::BTreeSet;

use mailcheck::sender::SenderInputError;
use mailcheck::{CheckConfig, CheckOptions, Checker, SenderQuery, Verdict};
use mailcheck_testkit::lab::{Lab, SENDER_DNSBL_ZONES, SENDER_SCENARIOS};

fn config(lab: &Lab, allow_private: bool) -> CheckConfig {
    let mut c = lab.check_config().allow_private(allow_private);
    c.dnsbl.zones = SENDER_DNSBL_ZONES.iter().map(|z| (*z).to_owned()).collect();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab_sender_gets_its_verdict_and_codes() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(config(&lab, true)).expect("config");
    let record = std::env::var_os("RECORD_FIXTURES").is_some();
    let mut failures = Vec::new();
    for s in SENDER_SCENARIOS {
        let query = SenderQuery::parse(s.ip, s.helo, s.domain).unwrap();
        let report = checker.check_sender(&query).await;
        if record && let Some(facts) = &report.facts {
            let fixture = serde_json::json!({
                "name": s.name,
                "about": s.about,
                "expect": { "verdict": s.verdict, "codes": s.codes },
                "facts": facts,
            });
            let path = format!(
                "{}/tests/fixtures/sender/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                s.name
            );
            std::fs::write(path, serde_json::to_string_pretty(&fixture).unwrap()).unwrap();
        }
        let got: BTreeSet<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
        let want: BTreeSet<&str> = s.codes.iter().copied().collect();
        if report.verdict.as_str() != s.verdict || got != want {
            failures.push(format!(
                "{} ({}): want {} {want:?}, got {} {got:?}\n{}",
                s.name,
                s.about,
                s.verdict,
                report.verdict,
                serde_json::to_string_pretty(&report.findings).unwrap()
            ));
        }
        // Every finding carries its evidence and plain advice.
        for f in &report.findings {
            assert!(
                !f.evidence.is_empty() && !f.advice.is_empty(),
                "{}: {f:?}",
                s.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn evidence_names_the_listing_the_record_and_the_trace() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(config(&lab, true)).unwrap();
    let q = SenderQuery::parse(
        "203.0.113.66",
        Some("gw.smallfirm.test"),
        Some("smallfirm.test"),
    )
    .unwrap();
    let r = checker.check_sender(&q).await;
    let listed = &r.findings[0];
    let text = listed.evidence.join("\n");
    for want in [
        "66.113.0.203.zen.spamhaus.org -> 127.0.0.10",
        "PBL (ISP): should not send mail directly",
        "TXT: Lab copy of zen.spamhaus.org (PBL",
        "look up and delist: https://check.spamhaus.org/",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    assert!(listed.advice.contains("smarthost"), "{}", listed.advice);
    let blocklists = r.checklist.iter().find(|i| i.key == "blocklists").unwrap();
    assert_eq!(blocklists.state.as_str(), "fail");

    let q = SenderQuery::parse(
        "203.0.113.10",
        Some("mail.goodsender.test"),
        Some("spf-fail.test"),
    )
    .unwrap();
    let r = checker.check_sender(&q).await;
    let spf = r
        .findings
        .iter()
        .find(|f| f.code.as_str() == "sender.spf_fail")
        .unwrap();
    let text = spf.evidence.join("\n");
    assert!(
        text.contains("TXT spf-fail.test: v=spf1 ip4:198.51.100.0/24 -all"),
        "{text}"
    );
    assert!(
        spf.advice
            .contains("v=spf1 ip4:203.0.113.10 ip4:198.51.100.0/24 -all"),
        "{}",
        spf.advice
    );
    // The evaluation trace is in the facts.
    let facts = r.facts.as_ref().unwrap();
    let eval = facts
        .domain
        .as_ref()
        .unwrap()
        .spf
        .as_ref()
        .unwrap()
        .evaluation
        .as_ref()
        .unwrap();
    assert_eq!(eval.result.as_str(), "fail");
    assert_eq!(eval.trace.root.matched.as_deref(), Some("-all"));

    let q = SenderQuery::parse(
        "203.0.113.10",
        Some("mail.goodsender.test"),
        Some("via-include.test"),
    )
    .unwrap();
    let r = checker.check_sender(&q).await;
    let eval = r
        .facts
        .as_ref()
        .unwrap()
        .domain
        .as_ref()
        .unwrap()
        .spf
        .as_ref()
        .unwrap()
        .evaluation
        .clone()
        .unwrap();
    assert_eq!(eval.trace.root.children[0].domain, "_spf.goodsender.test");
    assert_eq!(eval.result.as_str(), "pass");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed_and_bad_input_is_invalid() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(config(&lab, false)).unwrap();
    for ip in ["203.0.113.10", "10.1.2.3", "127.0.0.1", "192.168.1.20"] {
        let q = SenderQuery::parse(ip, None, None).unwrap();
        let r = checker.check_sender(&q).await;
        assert_eq!(r.verdict, Verdict::Invalid, "{ip}");
        assert!(
            r.error.as_deref().is_some_and(|e| e.contains("address")),
            "{r:?}"
        );
        assert!(r.facts.is_none());
    }
    assert!(matches!(
        SenderQuery::parse("999.1.1.1", None, None),
        Err(SenderInputError::BadIp(_))
    ));
    // A deadline of zero: nothing finishes, the report says so and is inconclusive.
    let checker = Checker::new(config(&lab, true)).unwrap();
    let q = SenderQuery::parse(
        "203.0.113.10",
        Some("mail.goodsender.test"),
        Some("goodsender.test"),
    )
    .unwrap();
    let r = checker
        .check_sender_with(
            &q,
            CheckOptions {
                fresh: true,
                deadline: Some(std::time::Duration::ZERO),
            },
        )
        .await;
    assert_eq!(r.verdict, Verdict::Inconclusive, "{:#?}", r.findings);
    assert!(
        r.partial
            .as_deref()
            .is_some_and(|p| p.contains("did not finish"))
    );
}

#[tokio::test]
async fn our_own_address_is_learned_as_vantage_learns_it() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(config(&lab, true)).unwrap();
    let reports = checker
        .check_own_sender(
            Some(mailcheck_testkit::lab::LAB_HELO_NAME),
            None,
            CheckOptions::default(),
        )
        .await;
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let r = &reports[0];
    assert_eq!(r.ip, mailcheck_testkit::lab::LAB_PUBLIC_IP.to_string());
    assert!(r.facts.as_ref().unwrap().learned.is_some());
    // The lab gives our public address a forward-confirmed PTR named like our EHLO name.
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", r.findings);
}
