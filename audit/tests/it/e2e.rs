//! End to end through the built binary, against the in-process lab started in each test.

use std::collections::BTreeSet;

use crate::common::{LabArgs, code, codes, col, csv_table, json_lines, read_csv, stderr, stdout};
use mailcheck_testkit::lab::Lab;
use mailcheck_testkit::smtp::Command;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_edge_cases_and_pass_through() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let input = "\u{feff}Client,E-Mail,Ticket\r\n\
                 # exported from the PSA\r\n\
                 \r\n\
                 \x20 Alpha , postmaster@Healthy.TEST , T1 \r\n\
                 Beta,http://nullmx.test/contact,T2\r\n\
                 Gamma,\"unterminated,T3\r\n\
                 Delta,healthy.test,T4\r\n\
                 Epsilon,not a domain!,T5\r\n\
                 Zeta,,T6\r\n\
                 \"Eta, Inc\",\"nopostmaster.test\",\"T7\"\r\n\
                 Theta,nopostmaster.test,T8,extra\r\n";
    let list = t.write("clients.csv", input);
    let csv = t.path("out.csv");
    let out = t
        .run(&["--format", "jsonl", "-o", csv.to_str().unwrap(), &list])
        .await;
    assert_eq!(
        code(&out),
        1,
        "invalid rows count as broken\n{}",
        stderr(&out)
    );
    let lines = json_lines(&stdout(&out));
    let got: Vec<(u64, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["row"]["line"].as_u64().unwrap(),
                l["row"]["input"].as_str().unwrap(),
                l["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "postmaster@Healthy.TEST", "ok"),
            (5, "http://nullmx.test/contact", "no_mail"),
            (6, "Gamma,\"unterminated,T3", "invalid"),
            (7, "healthy.test", "ok"),
            (8, "not a domain!", "invalid"),
            (9, "", "invalid"),
            (10, "nopostmaster.test", "degraded"),
            (11, "nopostmaster.test", "degraded"),
        ]
    );
    assert!(lines[2]["error"].as_str().unwrap().contains("quote"));
    // Pass-through cells come back as written, spaces included (only the domain is trimmed).
    assert_eq!(lines[0]["row"]["columns"]["Client"], "  Alpha ");
    assert_eq!(lines[0]["row"]["columns"]["Ticket"], " T1 ");

    let (header, rows) = read_csv(&csv);
    assert_eq!(&header[..2], ["Client", "Ticket"]);
    assert_eq!(&header[2..], FIXED);
    assert_eq!(rows.len(), 8, "one row per input row, bad ones included");
    assert_eq!(col(&header, &rows[0], "domain"), "healthy.test");
    assert_eq!(col(&header, &rows[6], "Client"), "Eta, Inc");
    assert_eq!(col(&header, &rows[6], "Ticket"), "T7");
    assert_eq!(col(&header, &rows[5], "verdict"), "invalid");
    assert_eq!(col(&header, &rows[5], "Client"), "Zeta");

    // Duplicates are checked once, reported per row.
    let err = stderr(&out);
    assert!(err.contains("2 duplicate(s) checked once"), "{err}");
    let postmaster_rcpts = |host: &str, domain: &str| {
        lab.server(host)
            .unwrap()
            .transcripts()
            .iter()
            .flat_map(|t| t.lines.clone())
            .filter(|l| l.starts_with(&format!("RCPT TO:<postmaster@{domain}>")))
            .count()
    };
    assert_eq!(
        postmaster_rcpts("mx.nopostmaster.test", "nopostmaster.test"),
        1
    );
    assert_eq!(postmaster_rcpts("mx.healthy.test", "healthy.test"), 1);

    // No header, semicolons, on stdin, mixed with a domain argument.
    let out = t
        .run_stdin(
            &["--format", "csv", "nomx.test", "-"],
            "healthy.test;Client A\nnullmx.test;Client B\n",
        )
        .await;
    let (header, rows) = csv_table(stdout(&out).as_bytes());
    assert_eq!(header[0], "column2");
    assert_eq!(rows.len(), 3);
    assert_eq!(col(&header, &rows[0], "domain"), "nomx.test");
    assert_eq!(col(&header, &rows[0], "column2"), "");
    assert_eq!(col(&header, &rows[1], "domain"), "healthy.test");
    assert_eq!(col(&header, &rows[1], "column2"), "Client A");
    assert_eq!(col(&header, &rows[2], "verdict"), "no_mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_report_is_excel_safe() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let list = t.write(
        "evil.csv",
        "client,domain,note\n\
         \"=HYPERLINK(\"\"http://x.invalid\"\",\"\"click\"\")\",healthy.test,+1\n\
         @SUM(A1),=cmd|' /C calc'!A0,-2\n",
    );
    let csv = t.path("out.csv");
    let out = t.run(&["-o", csv.to_str().unwrap(), &list]).await;
    assert_eq!(
        stdout(&out),
        "",
        "no stdout when -o is given without --format"
    );
    let (header, rows) = read_csv(&csv);
    assert!(col(&header, &rows[0], "client").starts_with("'=HYPERLINK"));
    assert_eq!(col(&header, &rows[0], "note"), "'+1");
    assert_eq!(col(&header, &rows[1], "client"), "'@SUM(A1)");
    assert_eq!(col(&header, &rows[1], "note"), "'-2");
    assert!(col(&header, &rows[1], "domain").starts_with("'=cmd"));
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_continues_without_reprobing() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let domains = [
        "healthy.test",
        "nopostmaster.test",
        "notls.test",
        "expired.test",
        "relay.test",
        "listed.test",
    ];
    let mut text = String::from("domain,client\n");
    for (i, d) in domains.iter().enumerate() {
        text.push_str(&format!("{d},C{i}\n"));
    }
    // A duplicate of a finished domain, after the kill point.
    text.push_str("healthy.test,again\n");
    let list = t.write("list.csv", &text);
    let jsonl = t.path("run.jsonl");
    let out = t.run(&["-o", jsonl.to_str().unwrap(), &list]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let full = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(json_lines(&full).len(), domains.len() + 1);

    // Simulate a kill during the fourth line: three complete lines and a torn one.
    let keep: Vec<&str> = full.lines().take(4).collect();
    let torn = format!(
        "{}\n{}",
        keep[..3].join("\n"),
        &keep[3][..keep[3].len() / 2]
    );
    std::fs::write(&jsonl, torn).unwrap();
    // RCPT commands seen by the MX hosts of the first four rows.
    let rcpts = || -> Vec<usize> {
        [
            "mx.healthy.test",
            "mx.nopostmaster.test",
            "mx.notls.test",
            "mx.expired.test",
        ]
        .iter()
        .map(|h| lab.server(h).unwrap().command_count(Command::Rcpt))
        .collect()
    };
    let before = rcpts();

    let csv = t.path("resumed.csv");
    let out = t
        .run(&[
            "--resume",
            "-o",
            jsonl.to_str().unwrap(),
            "-o",
            csv.to_str().unwrap(),
            &list,
        ])
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("Resuming: 3 row(s) already done."));
    assert!(
        stderr(&out).contains("4 resumed from the previous run"),
        "{}",
        stderr(&out)
    );
    let after = rcpts();
    assert_eq!(
        after[..3],
        before[..3],
        "finished domains are not probed again"
    );
    assert!(after[3] > before[3], "the torn row is checked again");

    let lines = json_lines(&std::fs::read_to_string(&jsonl).unwrap());
    let inputs: Vec<&str> = lines.iter().map(|l| l["input"].as_str().unwrap()).collect();
    let mut want = domains.to_vec();
    want.push("healthy.test");
    assert_eq!(inputs, want, "every row once, in order");
    assert_eq!(lines[6]["row"]["columns"]["client"], "again");
    // The other reports cover the whole list, finished rows included.
    let (header, rows) = read_csv(&csv);
    assert_eq!(rows.len(), domains.len() + 1);
    assert_eq!(col(&header, &rows[0], "client"), "C0");
    assert_eq!(col(&header, &rows[1], "verdict"), "degraded");

    // Resuming a finished run probes nothing.
    let total = lab.connections();
    let out = t
        .run(&["--resume", "-o", jsonl.to_str().unwrap(), &list])
        .await;
    assert_eq!(code(&out), 1);
    assert_eq!(lab.connections(), total);
    assert_eq!(
        json_lines(&std::fs::read_to_string(&jsonl).unwrap()).len(),
        domains.len() + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_leaves_a_usable_jsonl() {
    let lab = Lab::start().await.unwrap();
    // A long greeting timeout: silent.test holds the run open until we kill it.
    let t = LabArgs::new(&lab, "60");
    let list = t.write(
        "list.csv",
        "domain\nhealthy.test\nnullmx.test\nsilent.test\nnopostmaster.test\n",
    );
    let jsonl = t.path("run.jsonl");
    let mut child = tokio::process::Command::new(crate::common::bin())
        .env("MAILCHECK_HISTORY", "off")
        .args(&t.args)
        .args(["-j", "1", "-o", jsonl.to_str().unwrap(), &list])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Once the silent server has a connection, the two rows before it are written.
    lab.server("mx.silent.test")
        .unwrap()
        .wait_for_connections(1)
        .await;
    child.kill().await.unwrap();
    // Whatever was written is complete lines of the finished rows, in order (a line torn by the
    // kill would be cut off by --resume).
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let complete: String = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    let lines = json_lines(&complete);
    assert!(lines.len() <= 2, "{text}");
    for (l, want) in lines.iter().zip(["healthy.test", "nullmx.test"]) {
        assert_eq!(l["input"], want);
    }

    // Resume with a short greeting timeout finishes the list.
    let t2 = LabArgs::new(&lab, "1");
    let out = t2
        .run(&["--resume", "-o", jsonl.to_str().unwrap(), &list])
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let lines = json_lines(&std::fs::read_to_string(&jsonl).unwrap());
    let inputs: Vec<&str> = lines.iter().map(|l| l["input"].as_str().unwrap()).collect();
    assert_eq!(
        inputs,
        [
            "healthy.test",
            "nullmx.test",
            "silent.test",
            "nopostmaster.test"
        ]
    );
    assert_eq!(lines[2]["verdict"], "broken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_banner_is_escaped_in_html_and_terminal() {
    use mailcheck_testkit::dns::DnsServer;
    use mailcheck_testkit::smtp::SmtpServer;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    let ip = Ipv4Addr::new(127, 0, 0, 77);
    let smtp = SmtpServer::builder()
        .hostname("mx.hostile.test")
        .greeting("220 mx.hostile.test <script>alert('x')</script> \x1b]0;pwned\x07\x1b[2J ESMTP")
        .rcpt_reply(|a| format!("550 5.7.1 <{a}> <img src=x onerror=alert(1)> rejected"))
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .build()
        .await;
    let dns = DnsServer::builder()
        .mx("hostile.test", 10, "mx.hostile.test")
        .a("mx.hostile.test", ip)
        .ptr(IpAddr::V4(ip), "mx.hostile.test")
        .build()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let md = dir.path().join("r.md");
    let base: Vec<String> = [
        "--resolver",
        &dns.addr().to_string(),
        "--smtp-port",
        &smtp.addr().port().to_string(),
        "--allow-private",
        "--no-dnsbl",
        "--no-egress-check",
        "--timeout",
        "5",
        "--format",
        "text",
        "-o",
        html.to_str().unwrap(),
        "-o",
        md.to_str().unwrap(),
        "hostile.test",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = crate::common::run(&base, &[], None).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("smtp.rcpt_rejected"), "{text}");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert_eq!(page.matches("<script>").count(), 1, "only our own script");
    assert!(!page.contains("<img") && !page.contains('\x1b'));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(!md.contains("<img") && !md.contains('\x1b'), "{md}");
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
