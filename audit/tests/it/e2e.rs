//! End to end through the built binary, against the in-process lab started in each test.
//!
//! CSV input and reports are in `e2e/csv.rs`, `--resume` and killed runs in `e2e/resume.rs`.

mod csv;
mod resume;

use std::collections::BTreeSet;

use crate::common::{LabArgs, code, codes, col, json_lines, read_csv, stderr, stdout};
use mailcheck_testkit::lab::Lab;

/// The CSV columns after the pass-through ones (the documented schema). Spelled out on purpose
/// rather than taken from `mailcheck_audit::output::csv::COLUMNS`: a change to the schema must
/// fail here.
const FIXED: &[&str] = &[
    "domain",
    "verdict",
    "worst",
    "mx_hosts",
    "missing_mx",
    "null_mx",
    "unreachable",
    "banner_mismatch",
    "dnsbl_listed",
    "starttls",
    "tls_problem",
    "spf",
    "dmarc",
    "mta_sts",
    "dane",
    "findings",
    "top_issue",
    "previous_verdict",
    "change",
    "new_findings",
    "resolved_findings",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_list_gets_every_verdict_and_reports() {
    let lab = Lab::start().await.unwrap();
    // The slow server greets after 10.5 s: give it 12.
    let t = LabArgs::new(&lab, "12");
    let list = t.write("lab-domains.csv", &lab.domains_csv());
    let csv = t.path("audit.csv");
    let html = t.path("audit.html");
    let md = t.path("audit.md");
    let json = t.path("audit.json");
    let out = t
        .run(&[
            "--format",
            "jsonl",
            "-o",
            csv.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
            "-o",
            md.to_str().unwrap(),
            "-o",
            json.to_str().unwrap(),
            &list,
        ])
        .await;
    assert_eq!(
        code(&out),
        1,
        "broken domains reach --fail-on broken\n{}",
        stderr(&out)
    );
    let lines = json_lines(&stdout(&out));
    let scenarios = lab.scenarios();
    assert_eq!(lines.len(), scenarios.len());
    let mut wrong = Vec::new();
    for (s, line) in scenarios.iter().zip(&lines) {
        assert_eq!(line["input"], s.input, "input order is kept");
        let want: BTreeSet<String> = s.codes.iter().map(|c| (*c).to_owned()).collect();
        if line["verdict"] != s.verdict || codes(line) != want {
            wrong.push(format!(
                "{}: {} {:?}",
                s.input,
                line["verdict"],
                codes(line)
            ));
        }
        for k in ["domain", "input", "verdict", "findings", "mx", "elapsed_ms"] {
            assert!(line.get(k).is_some(), "{k} missing");
        }
        assert_eq!(line["row"]["source"], list.as_str());
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // CSV: pass-through `client`, then the fixed schema, one row per input row.
    let (header, rows) = read_csv(&csv);
    let mut want_header = vec!["client".to_owned()];
    want_header.extend(FIXED.iter().map(|s| (*s).to_owned()));
    assert_eq!(header, want_header);
    assert_eq!(rows.len(), scenarios.len());
    assert_eq!(col(&header, &rows[0], "client"), "Client 01");
    let by_domain = |d: &str| {
        rows.iter()
            .find(|r| col(&header, r, "domain") == d)
            .unwrap_or_else(|| panic!("{d} not in CSV"))
    };
    assert_eq!(col(&header, by_domain("nomx.test"), "missing_mx"), "yes");
    assert_eq!(col(&header, by_domain("nullmx.test"), "null_mx"), "yes");
    assert_eq!(col(&header, by_domain("closed.test"), "unreachable"), "yes");
    assert_eq!(
        col(&header, by_domain("mismatch.test"), "banner_mismatch"),
        "yes"
    );
    assert_eq!(
        col(&header, by_domain("listed.test"), "dnsbl_listed"),
        "yes"
    );
    assert_eq!(col(&header, by_domain("notls.test"), "starttls"), "no");
    assert_eq!(
        col(&header, by_domain("tlsfail.test"), "starttls"),
        "failed"
    );
    assert_eq!(col(&header, by_domain("healthy.test"), "starttls"), "yes");
    assert_eq!(
        col(&header, by_domain("expired.test"), "tls_problem"),
        "tls.cert_expired"
    );
    assert_eq!(col(&header, by_domain("healthy.test"), "verdict"), "ok");
    assert_eq!(
        col(&header, by_domain("healthy.test"), "mx_hosts"),
        "mx.healthy.test"
    );
    let invalid = by_domain("not a domain!");
    assert_eq!(col(&header, invalid, "verdict"), "invalid");
    assert!(col(&header, invalid, "top_issue").contains("not a domain name"));
    assert_eq!(col(&header, invalid, "missing_mx"), "");

    // JSON: an array of the same reports.
    let arr: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(arr.as_array().unwrap().len(), scenarios.len());

    // HTML: self-contained, summary, sortable table, details with transcripts.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<section id=\"from-here\">"),
        "the From here block"
    );
    assert!(page.contains("EHLO name: probe.mailcheck.test"), "{page}");
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(markdown.contains("## From here"), "{markdown}");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("id=\"summary\"") && page.contains("<table id=\"domains\""));
    assert!(page.contains("data-filter=\"verdict\"") && page.contains("id=\"search\""));
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\""));
    assert!(page.contains("smtp.open_relay") && page.contains("SMTP conversation"));
    assert!(page.contains("RCPT TO:&lt;postmaster@healthy.test&gt;"));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("# Mail delivery audit"));
    assert!(md.contains("| Client 01 | healthy.test | **ok** |"), "{md}");
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The summary on stderr counts verdicts and codes.
    let err = stderr(&out);
    assert!(err.contains("Verdicts: invalid 1, broken"), "{err}");
    assert!(err.contains("smtp.open_relay"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_domain_text_and_json() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let out = t.run(&["healthy.test"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "healthy.test  OK",
        "Mail to this domain should be delivered.",
        "Mail servers (MX)",
        "mx.healthy.test",
        "127.0.0.10",
        "TLSv1.3",
        "Findings: none.",
        "S: 220 mx.healthy.test",
        "C: RCPT TO:<postmaster@healthy.test>",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colour off a terminal");

    let out = t
        .run(&["--format", "json", "mailto:someone@NoPostmaster.TEST"])
        .await;
    assert_eq!(code(&out), 0, "degraded is below --fail-on broken");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["domain"], "nopostmaster.test");
    assert_eq!(v["input"], "mailto:someone@NoPostmaster.TEST");
    assert_eq!(v["verdict"], "degraded");
    let f = &v["findings"][0];
    assert_eq!(f["code"], "smtp.no_postmaster");
    for k in ["severity", "subject", "summary", "evidence", "advice"] {
        assert!(f.get(k).is_some(), "{k}");
    }
    let a = &v["mx"][0]["addresses"][0];
    for k in ["ip", "ptr", "smtp", "dnsbl"] {
        assert!(a.get(k).is_some(), "{k}");
    }
    assert!(v["elapsed_ms"].is_u64());

    // Findings with advice, worst first.
    let out = t.run(&["expired.test"]).await;
    let text = stdout(&out);
    assert!(text.contains("ERROR        tls.cert_expired"), "{text}");
    assert!(text.contains("What to do:"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    assert_eq!(code(&t.run(&["nopostmaster.test"]).await), 0);
    assert_eq!(
        code(&t.run(&["--fail-on", "degraded", "nopostmaster.test"]).await),
        1
    );
    assert_eq!(
        code(&t.run(&["--fail-on", "broken", "missing.test"]).await),
        1
    );
    assert_eq!(
        code(&t.run(&["--fail-on", "never", "missing.test"]).await),
        0
    );
    assert_eq!(
        code(&t.run(&["--fail-on", "degraded", "healthy.test"]).await),
        0
    );
    assert_eq!(
        code(&t.run(&["nullmx.test"]).await),
        0,
        "no_mail is not a failure"
    );
    // Usage and input errors: 2, naming the problem.
    let out = t.run(&["--no-such-flag", "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    let out = t.run(&["--fail-on", "sometimes", "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    let missing = t.path("nope.csv");
    let out = t.run(&[missing.to_str().unwrap()]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nope.csv"), "{}", stderr(&out));
    let out = t.run(&["--resume", "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--resume"));
    let out = t.run(&["-o", "report.xlsx", "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    let bad_ca = t.write("bad.pem", "not a certificate");
    let out = t.run(&["--ca-file", &bad_ca, "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bad.pem"));
    // A corrupt line in the middle of a JSONL being resumed: named by file and line.
    let jsonl = t.write("broken.jsonl", "{\"verdict\":\"ok\"}\nnot json\n");
    let out = t.run(&["--resume", "-o", &jsonl, "healthy.test"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("broken.jsonl:1"), "{}", stderr(&out));
}

#[tokio::test]
async fn demo_runs_offline_on_its_own_lab() {
    let out = crate::common::run(
        &[],
        &[
            "--demo",
            "--format",
            "jsonl",
            "--no-progress",
            "healthy.test",
            "openrelay.test",
        ],
        None,
    )
    .await;
    assert_eq!(
        code(&out),
        0,
        "--demo defaults to --fail-on never\n{}",
        stderr(&out)
    );
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "ok");
    assert_eq!(lines[1]["verdict"], "broken");
    assert!(
        codes(&lines[1]).contains("smtp.open_relay"),
        "the demo runs the relay test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vantage_block_and_blocked_egress() {
    let lab = Lab::start().await.unwrap();
    let port = lab.smtp_port().to_string();
    let mut t = LabArgs::new(&lab, "2");
    t.args.retain(|a| a != "--no-egress-check");
    let canary = format!("127.0.0.45:{port}");
    let closed = format!("127.0.0.31:{port}");

    // A usable vantage point: port 25 open, our NAT address learned from the canary's EHLO.
    let out = t.run(&["--vantage", "--egress-canary", &canary]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "From here",
        "outbound port 25 over IPv4: open",
        "public address: 192.0.2.77 (echoed by 127.0.0.45",
        "PTR probe.mailcheck.test (forward-confirmed)",
        "EHLO name: probe.mailcheck.test (resolves to 192.0.2.77)",
        "blocklist bl.test: answers us",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    assert!(!text.contains("probe.identity"), "{text}");
    // JSON for scripts.
    let out = t
        .run(&["--vantage", "--format", "json", "--egress-canary", &canary])
        .await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["from_here"]["port25_blocked"], false);
    assert_eq!(v["vantage"]["public_ips"][0]["ip"], "192.0.2.77");

    // Our own firewall rejects port 25: --vantage exits 1, and a domain is never blamed.
    let out = t.run(&["--vantage", "--egress-canary", &closed]).await;
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("outbound port 25 over IPv4: BLOCKED"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("probe.egress_blocked"));
    for domain in ["closed.test", "filtered.test"] {
        let out = t
            .run(&["--format", "json", "--egress-canary", &closed, domain])
            .await;
        assert_eq!(
            code(&out),
            0,
            "inconclusive is not broken: {}",
            stderr(&out)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["verdict"], "inconclusive", "{v}");
        assert_eq!(
            codes(&v),
            BTreeSet::from(["probe.egress_blocked".to_owned()]),
            "{domain}"
        );
    }
    // Configured public address: shown, and a refusal naming it is about us.
    let out = t
        .run(&[
            "--public-ip",
            "192.0.2.77",
            "--format",
            "json",
            "natblock.test",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(codes(&v), BTreeSet::from(["smtp.probe_blocked".to_owned()]));
    let ips = &v["facts"]["vantage"]["public_ips"];
    assert_eq!(ips[0]["ip"], "192.0.2.77");
    assert_eq!(ips[0]["source"]["kind"], "configured");
}
