//! The whole check, end to end, against the in-process lab: every sample domain gets exactly
//! the verdict and finding codes the lab promises.

use std::collections::BTreeSet;
use std::sync::Arc;

use mailcheck::{Checker, Report};
use mailcheck_testkit::lab::Lab;

fn explain(r: &Report) -> String {
    format!(
        "{}\n{}",
        serde_json::to_string_pretty(&r.findings).unwrap(),
        r.transcript_text()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab_scenario_gets_its_verdict_and_codes() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Arc::new(Checker::new(lab.check_config()).expect("config"));
    let mut tasks = Vec::new();
    for s in lab.scenarios() {
        let checker = checker.clone();
        tasks.push(tokio::spawn(async move {
            (s, checker.check_input(s.input).await)
        }));
    }
    let mut failures = Vec::new();
    let record = std::env::var_os("RECORD_FIXTURES").is_some();
    for t in tasks {
        let (s, report) = t.await.unwrap();
        if record && let Some(facts) = &report.facts {
            let fixture = serde_json::json!({
                "input": s.input,
                "about": s.about,
                "expect": { "verdict": s.verdict, "codes": s.codes },
                "facts": facts,
            });
            let path = format!(
                "{}/tests/fixtures/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                s.input.replace('.', "_")
            );
            std::fs::write(path, serde_json::to_string_pretty(&fixture).unwrap()).unwrap();
        }
        let got: BTreeSet<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
        let want: BTreeSet<&str> = s.codes.iter().copied().collect();
        if report.verdict.as_str() != s.verdict || got != want {
            failures.push(format!(
                "{} ({}): want {} {:?}, got {} {:?}\n{}",
                s.input,
                s.about,
                s.verdict,
                want,
                report.verdict,
                got,
                explain(&report)
            ));
        }
    }
    checker.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The severities behind two authentication scenarios' verdicts: an enforced MTA-STS policy
/// makes a certificate name mismatch an error (a warning otherwise), and an MX address the
/// domain's SPF lets send makes a mismatched greeting name a warning (info otherwise).
#[tokio::test]
async fn mta_sts_enforce_and_sending_mx_raise_severities() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(lab.check_config()).unwrap();
    for (domain, code, severity) in [
        ("sts-enforce-cert.test", "tls.cert_name_mismatch", "error"),
        ("wrongname.test", "tls.cert_name_mismatch", "warning"),
        ("sendmismatch.test", "smtp.banner_mismatch", "warning"),
        ("mismatch.test", "smtp.banner_mismatch", "info"),
    ] {
        let r = checker.check_input(domain).await;
        let f = r.findings.iter().find(|f| f.code.as_str() == code);
        assert_eq!(
            f.map(|f| f.severity.as_str()),
            Some(severity),
            "{domain}: {}",
            explain(&r)
        );
    }
    checker.shutdown().await;
    assert!(
        lab.https().requests().iter().any(|r| r.host.as_deref()
            == Some("mta-sts.sts-enforce-cert.test")
            && r.status == Some(200)),
        "{:#?}",
        lab.https().requests()
    );
}

#[tokio::test]
async fn healthy_report_carries_every_kind_of_fact() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(lab.check_config()).unwrap();
    let r = checker.check_input("Healthy.TEST.").await;
    assert_eq!(r.domain, "healthy.test");
    assert_eq!(r.verdict.as_str(), "ok", "{}", explain(&r));
    let mx = &r.mx[0];
    assert_eq!(mx.host, "mx.healthy.test");
    let a = &mx.addresses[0];
    assert_eq!(a.ptr, vec!["mx.healthy.test".to_owned()]);
    assert_eq!(a.fcrdns, Some(true));
    assert_eq!(a.smtp.status, mailcheck::report::SmtpStatus::Accepted);
    assert_eq!(a.smtp.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(a.smtp.cert_ok, Some(true));
    assert_eq!(a.dnsbl[0].zone, "bl.test");
    let transcript = r.transcript_text();
    for needle in [
        "S: 220 mx.healthy.test",
        "C: EHLO probe.mailcheck.test",
        "C: STARTTLS",
        "C: MAIL FROM:<",
        "C: RCPT TO:<postmaster@healthy.test>",
        "C: RSET",
    ] {
        assert!(
            transcript.contains(needle),
            "{needle:?} missing in\n{transcript}"
        );
    }
    assert!(!transcript.contains("DATA"), "{transcript}");
}

#[tokio::test]
async fn domains_sharing_an_mx_share_one_connection() {
    let lab = Lab::start().await.expect("lab starts");
    let checker = Checker::new(lab.check_config()).unwrap();
    for domain in [
        "healthy.test",
        "nullmixed.test",
        "multi.test",
        "healthy.test",
    ] {
        let r = checker.check_input(domain).await;
        assert!(
            r.findings
                .iter()
                .all(|f| f.code.as_str() != "smtp.no_greeting")
        );
    }
    checker.shutdown().await;
    let server = lab.server("mx.healthy.test").unwrap();
    assert_eq!(server.connections(), 1, "{:#?}", server.transcripts());
    server.wait_for_closed(1).await;
    let t = server.transcript(0).unwrap();
    assert!(t.lines.iter().any(|l| l == "QUIT"), "{:?}", t.lines);
    assert_eq!(
        t.lines
            .iter()
            .filter(|l| l.starts_with("RCPT TO:<postmaster@"))
            .count(),
        4,
        "{:?}",
        t.lines
    );
}

#[tokio::test]
async fn caches_live_for_the_run_or_for_cache_ttl() {
    let lab = Lab::start().await.expect("lab starts");
    let mut c = lab.check_config();
    c.smtp.enabled = false;
    c.dnsbl.enabled = false;
    // The DNSSEC validator asks on its own, uncached, by design: this is about the resolver.
    c.auth.trust_anchor = None;
    let host_queries = || lab.dns().queries_for("mx.healthy.test");

    let per_run = Checker::new(c.clone()).unwrap();
    per_run.check_input("healthy.test").await;
    let once = host_queries();
    assert!(once > 0);
    per_run.check_input("healthy.test").await;
    assert_eq!(
        host_queries(),
        once,
        "the host's addresses were asked again"
    );

    c.cache_ttl = Some(std::time::Duration::ZERO);
    let expiring = Checker::new(c).unwrap();
    expiring.check_input("healthy.test").await;
    let before = host_queries();
    expiring.check_input("healthy.test").await;
    assert!(host_queries() > before, "an expired cache must ask again");
}

#[tokio::test]
async fn timeouts_are_blamed_on_us_when_the_canaries_time_out_too() {
    let lab = Lab::start().await.expect("lab starts");
    let port = lab.smtp_port();
    let codes = |r: &Report| -> BTreeSet<String> {
        r.findings
            .iter()
            .map(|f| f.code.as_str().to_owned())
            .collect()
    };

    // The canary is as filtered as the target: our own port 25 looks blocked.
    let mut c = lab.check_config();
    c.egress.enabled = true;
    c.egress.canaries = vec![format!("127.0.0.35:{port}")];
    c.egress.timeout = std::time::Duration::from_secs(2);
    let r = Checker::new(c).unwrap().check_input("filtered.test").await;
    assert_eq!(
        codes(&r),
        BTreeSet::from(["probe.egress_blocked".to_owned()]),
        "{}",
        explain(&r)
    );
    assert_eq!(r.verdict.as_str(), "inconclusive");

    // Our firewall rejects outbound port 25 (ufw/iptables REJECT): the canary is refused as
    // fast as the target, so the refusal is ours, not the target's.
    let mut c = lab.check_config();
    c.egress.canaries = vec![format!("127.0.0.31:{port}")];
    let r = Checker::new(c).unwrap().check_input("closed.test").await;
    assert_eq!(
        codes(&r),
        BTreeSet::from(["probe.egress_blocked".to_owned()]),
        "{}",
        explain(&r)
    );
    assert_eq!(r.verdict.as_str(), "inconclusive");
    // The vantage check (`--vantage`, the bot's start-up) says so on its own.
    let mut c = lab.check_config();
    c.egress.canaries = vec![format!("127.0.0.31:{port}")];
    let checker = Checker::new(c).unwrap();
    let (vantage, _) = checker.vantage().await;
    assert!(
        vantage.egress_blocked(mailcheck::facts::Family::Ipv4),
        "{vantage:?}"
    );

    // A canary that answers: the timeout is the target's.
    let mut c = lab.check_config();
    c.egress.enabled = true;
    c.egress.canaries = vec![format!("127.0.0.10:{port}")];
    let r = Checker::new(c).unwrap().check_input("filtered.test").await;
    assert_eq!(
        codes(&r),
        BTreeSet::from(["smtp.unreachable".to_owned()]),
        "{}",
        explain(&r)
    );
    assert_eq!(r.verdict.as_str(), "broken");
    let vantage = &r.facts.as_ref().unwrap().vantage;
    let egress = vantage.egress(mailcheck::facts::Family::Ipv4).unwrap();
    assert!(egress.open() && !egress.blocked(), "{egress:?}");
}
