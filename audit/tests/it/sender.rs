//! `mailcheck-audit sender` end to end: the built binary against the in-process lab's sender
//! cases (DNS only: PTR, HELO names, SPF, DMARC, the lab blocklist and the lab's own copy of
//! zen.spamhaus.org), one sender in every format, the CSV batch of an MSP's gateways with bad
//! rows, `--ip self`, exit codes and usage errors. Nothing leaves loopback.

use crate::common::{code, col, csv_table, json_lines, read_csv, stderr, stdout};
use mailcheck_testkit::lab::{Lab, SENDER_DNSBL_ZONES, SENDER_SCENARIOS};
use serde_json::Value;

/// Flags that point `sender` at the lab.
fn lab_args(lab: &Lab) -> Vec<String> {
    let mut args = vec![
        "sender".to_owned(),
        "--resolver".to_owned(),
        lab.resolver().to_string(),
        "--allow-private".to_owned(),
    ];
    for z in SENDER_DNSBL_ZONES {
        args.push("--dnsbl".to_owned());
        args.push((*z).to_owned());
    }
    args
}

fn codes(v: &Value) -> Vec<String> {
    let mut c: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    c.sort();
    c
}

#[tokio::test]
async fn the_demo_shows_every_sender_case() {
    let out = crate::common::run(&[], &["sender", "--demo", "--format", "jsonl"], None).await;
    assert_eq!(
        code(&out),
        0,
        "--demo defaults to --fail-on never\n{}",
        stderr(&out)
    );
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), SENDER_SCENARIOS.len());
    for (s, r) in SENDER_SCENARIOS.iter().zip(&lines) {
        let mut want: Vec<String> = s.codes.iter().map(|c| (*c).to_owned()).collect();
        want.sort();
        assert_eq!(
            (r["verdict"].as_str().unwrap(), codes(r)),
            (s.verdict, want),
            "{}: {r:#}",
            s.name
        );
        assert_eq!(r["ip"], s.ip);
        assert!(
            r["row"]["columns"]["client"]
                .as_str()
                .unwrap()
                .contains(s.name)
        );
        assert_eq!(r["checklist"].as_array().unwrap().len(), 7);
    }
    assert!(stderr(&out).contains("15 sender(s): 5 broken, 6 degraded, 1 inconclusive, 3 ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sender_in_every_format_and_exit_codes() {
    let lab = Lab::start().await.unwrap();
    let base = lab_args(&lab);
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let no_ptr = [
        "--ip",
        "203.0.113.11",
        "--helo",
        "mail.noptr-sender.test",
        "--domain",
        "noptr-sender.test",
    ];
    // Text on stdout: the verdict, the checklist, the finding with its advice; exit 1 (broken).
    let out = crate::common::run(&base, &no_ptr, None).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "203.0.113.11 HELO mail.noptr-sender.test for noptr-sender.test  BROKEN",
        "What Gmail, Yahoo and Microsoft require of a sender",
        "[✗] fail        The sending IP has a reverse DNS (PTR) record",
        "sender.no_ptr",
        "What to do: Receivers look up the PTR",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // JSON: one object; every report file by its extension.
    let mut extra: Vec<&str> = no_ptr.to_vec();
    let files = ["s.json", "s.jsonl", "s.csv", "s.html", "s.md", "s.txt"];
    let paths: Vec<String> = files.iter().map(|f| p(f)).collect();
    for path in &paths {
        extra.push("-o");
        extra.push(path);
    }
    extra.extend(["--format", "json"]);
    let out = crate::common::run(&base, &extra, None).await;
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verdict"], "broken");
    assert_eq!(codes(&v), ["sender.no_ptr"]);
    assert_eq!(v["facts"]["ptr"]["lookup"]["status"], "nx_domain");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
    assert_eq!(json["verdict"], "broken");
    assert_eq!(
        json_lines(&std::fs::read_to_string(&paths[1]).unwrap()).len(),
        1
    );
    let (header, rows) = read_csv(std::path::Path::new(&paths[2]));
    assert_eq!(col(&header, &rows[0], "verdict"), "broken");
    assert_eq!(col(&header, &rows[0], "check_ptr"), "fail");
    assert_eq!(col(&header, &rows[0], "spf_result"), "pass");
    let html = std::fs::read_to_string(&paths[3]).unwrap();
    assert!(html.contains("<code>sender.no_ptr</code>") && html.contains("</html>"));
    let md = std::fs::read_to_string(&paths[4]).unwrap();
    assert!(md.contains("`sender.no_ptr`"), "{md}");
    assert!(
        std::fs::read_to_string(&paths[5])
            .unwrap()
            .contains("BROKEN")
    );

    // Exit codes follow --fail-on.
    let good = [
        "--ip",
        "203.0.113.10",
        "--helo",
        "mail.goodsender.test",
        "--domain",
        "goodsender.test",
    ];
    assert_eq!(code(&crate::common::run(&base, &good, None).await), 0);
    let mismatch = [
        "--ip",
        "203.0.113.10",
        "--helo",
        "mail.otherhost.test",
        "--fail-on",
        "degraded",
    ];
    assert_eq!(code(&crate::common::run(&base, &mismatch, None).await), 1);
    let mut never: Vec<&str> = no_ptr.to_vec();
    never.extend(["--fail-on", "never"]);
    assert_eq!(code(&crate::common::run(&base, &never, None).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_of_gateways_with_bad_rows() {
    let lab = Lab::start().await.unwrap();
    let base = lab_args(&lab);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gateways.csv");
    std::fs::write(
        &input,
        "Client;HELO;Sender Domain;IP\n\
         Acme;mail.goodsender.test;goodsender.test;203.0.113.10\n\
         Office;203-0-113-45.dyn.isp.test;office-dsl.test;203.0.113.45\n\
         =HYPERLINK(\"x\");;;not-an-ip\n\
         Intranet;;;10.0.0.5\n\
         Firm;gw.smallfirm.test;smallfirm.test;203.0.113.66\n",
    )
    .unwrap();
    let report = dir.path().join("out.csv");
    let input_s = input.display().to_string();
    let report_s = report.display().to_string();
    let mut args = base.clone();
    args.retain(|a| a != "--allow-private");
    let out = crate::common::run(&args, &[&input_s, "-o", &report_s], None).await;
    // Invalid rows count as broken; the PBL gateway is broken too.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "-o given: nothing on stdout");
    let (header, rows) = read_csv(&report);
    assert_eq!(header[0], "Client");
    let verdicts: Vec<&str> = rows.iter().map(|r| col(&header, r, "verdict")).collect();
    // Without --allow-private the documentation addresses are refused like 10.0.0.5.
    assert_eq!(verdicts, ["invalid"; 5]);
    assert!(col(&header, &rows[3], "top_issue").contains("private"));

    let out = crate::common::run(&base, &["--input", &input_s, "--format", "csv"], None).await;
    assert_eq!(code(&out), 1);
    let (header, rows) = csv_table(stdout(&out).as_bytes());
    let verdicts: Vec<&str> = rows.iter().map(|r| col(&header, r, "verdict")).collect();
    assert_eq!(verdicts, ["ok", "degraded", "invalid", "broken", "broken"]);
    // With --allow-private (labs) 10.0.0.5 is checked (and has no PTR); a garbage address is
    // a row of its own.
    assert!(col(&header, &rows[2], "top_issue").contains("not an IP address"));
    // Formula-looking pass-through cells are defused.
    assert_eq!(col(&header, &rows[2], "Client"), "'=HYPERLINK(\"x\")");
    assert_eq!(col(&header, &rows[1], "check_ptr"), "pass");
    assert!(col(&header, &rows[1], "findings").contains("sender.ptr_generic"));
    assert_eq!(col(&header, &rows[4], "listed_on"), "zen.spamhaus.org");
    assert!(stderr(&out).contains("5 sender(s)"));

    // The same from stdin.
    let out = crate::common::run(
        &base,
        &["-", "--format", "jsonl"],
        Some(&std::fs::read_to_string(&input).unwrap()),
    )
    .await;
    assert_eq!(json_lines(&stdout(&out)).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_machine_as_a_sender() {
    let lab = Lab::start().await.unwrap();
    let mut base = lab_args(&lab);
    let canary = format!("127.0.0.45:{}", lab.smtp_port());
    base.extend([
        "--egress-canary".to_owned(),
        canary,
        "--timeout".to_owned(),
        "3".to_owned(),
    ]);
    let out = crate::common::run(
        &base,
        &[
            "--ip",
            "self",
            "--helo",
            "probe.mailcheck.test",
            "--format",
            "json",
        ],
        None,
    )
    .await;
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The lab's canary echoes our "NAT" address; its PTR is our EHLO name.
    assert_eq!(v["ip"], "192.0.2.77");
    assert_eq!(v["verdict"], "ok", "{v:#}");
    assert_eq!(v["facts"]["learned"]["kind"], "echoed");
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let lab = ["sender", "--resolver", "127.0.0.1:9"];
    for (extra, want) in [
        (vec![], "give a sender"),
        (vec!["--helo", "mail.example.com"], "go with --ip"),
        (vec!["--ip", "192.0.2.1", "--fail-on", "worse"], "history"),
        (
            vec!["--ip", "192.0.2.1", "-o", "x.pdf"],
            "unknown report format",
        ),
        (vec!["--ip", "192.0.2.1", "list.csv"], "cannot be used with"),
        (vec!["example.com"], "is not a CSV file"),
    ] {
        let mut args: Vec<String> = lab.iter().map(|s| (*s).to_owned()).collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let out = crate::common::run(&args, &[], None).await;
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    let help = crate::common::run(&[], &["--help"], None).await;
    assert!(stdout(&help).contains("sender"), "{}", stdout(&help));
    let help = crate::common::run(&[], &["sender", "--help"], None).await;
    for flag in [
        "--ip",
        "--helo",
        "--domain",
        "--input",
        "--output",
        "--format",
        "--fail-on",
        "--allow-private",
        "--demo",
    ] {
        assert!(stdout(&help).contains(flag), "{flag}");
    }
}
