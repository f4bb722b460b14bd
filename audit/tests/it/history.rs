//! The run history end to end, on SQLite: two runs over the lab with one fault injected between
//! them (every report format and `history show` must show it; `--fail-on worse` fires only
//! then), a run killed with SIGKILL (every reported row is in the history; `--resume` continues
//! the same run), and the CSV round trip of the client's columns.
//!
//! Every run passes `--history` in a temp dir or runs with `MAILCHECK_HISTORY=off`
//! (`crate::common::run`): nothing is written to the real home.

use std::path::Path;
use std::time::Duration;

use crate::common::{LabArgs, code, col, json_lines, read_csv, stderr, stdout};
use mailcheck_audit::history::{History, Location};
use mailcheck_testkit::lab::Lab;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn with(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Waits until nothing accepts connections at `addr` any more (the stopped server is gone).
async fn wait_refused(addr: std::net::SocketAddr) {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{addr} still accepts connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_with_one_fault_changed_show_it_everywhere() {
    let mut lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let list = t.write(
        "clients.csv",
        "client,domain\nAlpha,healthy.test\nBeta,nullmx.test\nGamma,nopostmaster.test\n",
    );
    let hist = t.path("history.sqlite3");
    let run = |n: u32, fail_on: &'static str| {
        let outs: Vec<String> = ["csv", "jsonl", "md", "html", "txt"]
            .iter()
            .map(|ext| s(&t.path(&format!("r{n}.{ext}"))).to_owned())
            .collect();
        let mut args: Vec<String> = vec![
            "--history".into(),
            s(&hist).into(),
            "--fail-on".into(),
            fail_on.into(),
        ];
        for o in outs {
            args.push("-o".into());
            args.push(o);
        }
        args.push(list.clone());
        args
    };

    // Night 1: everything is new, nothing got worse.
    let a1 = run(1, "worse");
    let out = t.run(&with(&a1)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (header, rows) = read_csv(&t.path("r1.csv"));
    assert_eq!(
        header[header.len() - 4..],
        [
            "previous_verdict",
            "change",
            "new_findings",
            "resolved_findings"
        ]
    );
    assert!(rows.iter().all(|r| col(&header, r, "change") == "new"));
    assert!(
        std::fs::read_to_string(t.path("r1.md"))
            .unwrap()
            .contains("## First recorded run")
    );

    // Between the nights, healthy.test's mail server goes down.
    let addr = lab.server("mx.healthy.test").unwrap().addr();
    assert!(lab.stop_server("mx.healthy.test"));
    wait_refused(addr).await;

    // Night 2: healthy.test got worse, and --fail-on worse says so.
    let a2 = run(2, "worse");
    let out = t.run(&with(&a2)).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 worse, 0 better, 0 new, 2 same"), "{err}");
    assert!(err.contains("worse   healthy.test  ok → broken"), "{err}");

    let (header, rows) = read_csv(&t.path("r2.csv"));
    let healthy = &rows[0];
    assert_eq!(col(&header, healthy, "client"), "Alpha");
    assert_eq!(col(&header, healthy, "verdict"), "broken");
    assert_eq!(col(&header, healthy, "previous_verdict"), "ok");
    assert_eq!(col(&header, healthy, "change"), "worse");
    assert!(
        col(&header, healthy, "new_findings").contains("smtp.refused (127.0.0.10)"),
        "{healthy:?}"
    );
    assert_eq!(col(&header, healthy, "resolved_findings"), "");
    for r in &rows[1..] {
        assert_eq!(col(&header, r, "change"), "same", "{r:?}");
        assert_eq!(
            col(&header, r, "previous_verdict"),
            col(&header, r, "verdict")
        );
    }

    let lines = json_lines(&std::fs::read_to_string(t.path("r2.jsonl")).unwrap());
    let c = &lines[0]["changes"];
    assert_eq!(c["change"], "worse");
    assert_eq!(c["previous_verdict"], "ok");
    assert_eq!(c["new_broken"], true);
    assert_eq!(c["new_findings"][0]["code"], "smtp.refused");
    let run1 = lines[1]["changes"]["previous_run"]
        .as_str()
        .unwrap()
        .to_owned();
    let run2 = lines[0]["run_id"].as_str().unwrap().to_owned();
    assert_ne!(run1, run2);
    assert!(lines.iter().all(|l| l["run_id"] == run2.as_str()));

    let md = std::fs::read_to_string(t.path("r2.md")).unwrap();
    let lead = md.split("## From here").next().unwrap();
    assert!(lead.contains("## Changed since "), "{md}");
    assert!(
        lead.contains("| healthy.test | **worse** | ok | broken | smtp.refused (127.0.0.10) |  |"),
        "{lead}"
    );
    let html = std::fs::read_to_string(t.path("r2.html")).unwrap();
    assert!(html.contains("<section id=\"changes\""), "{html}");
    assert!(html.contains("<b>worse</b> healthy.test: ok → broken"));
    let txt = std::fs::read_to_string(t.path("r2.txt")).unwrap();
    assert!(txt.starts_with("Changed since "), "{txt}");
    assert!(txt.contains("worse   healthy.test  ok → broken; new: smtp.refused"));
    assert!(txt.contains("healthy.test") && txt.contains("[worse, was ok]"));

    // One domain in detail leads with what changed.
    let out = t
        .run(&["--history", s(&hist), "--fail-on", "never", "healthy.test"])
        .await;
    let text = stdout(&out);
    assert!(text.starts_with("Unchanged since "), "{text}");

    // Night 3: still down. Nothing got worse, nothing is newly broken: cron stays quiet.
    for (n, level) in [(3, "worse"), (4, "new-broken")] {
        let args = run(n, level);
        let out = t.run(&with(&args)).await;
        assert_eq!(code(&out), 0, "--fail-on {level}\n{}", stderr(&out));
    }

    // The history itself.
    let h = |extra: &[&str]| {
        let mut args = vec!["history", "--history", s(&hist)];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let out = crate::common::run(&h(&["show", "healthy.test"]), &[], None).await;
    let show = stdout(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let steps: Vec<&str> = show
        .lines()
        .filter(|l| l.contains(&run1) || l.contains(&run2))
        .collect();
    assert!(
        steps[0].contains(" ok ") && steps[0].ends_with("new"),
        "{show}"
    );
    assert!(
        steps[1].contains(" broken ") && steps[1].contains("worse (was ok)"),
        "{show}"
    );
    assert!(show.contains("+ smtp.refused (127.0.0.10)"), "{show}");

    let out =
        crate::common::run(&h(&["show", "healthy.test", "--format", "json"]), &[], None).await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let changes: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["changes"]["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["new", "worse", "same", "same", "same"]);

    let out = crate::common::run(&h(&["diff", &run1, &run2]), &[], None).await;
    assert!(
        stdout(&out).contains("worse   healthy.test  ok → broken"),
        "{}",
        stdout(&out)
    );
    let out = crate::common::run(&h(&["runs", "--format", "json"]), &[], None).await;
    let runs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 5);
    assert!(runs[0]["finished_at"].is_string());
    let out = crate::common::run(&h(&["export", "--run", &run2]), &[], None).await;
    let exported = json_lines(&stdout(&out));
    assert_eq!(exported.len(), 3);
    assert_eq!(exported[0]["row"]["columns"]["client"], "Alpha");
    assert_eq!(exported[0]["verdict"], "broken");
    let out = crate::common::run(&h(&["prune", "--keep-days", "0"]), &[], None).await;
    assert!(
        stdout(&out).contains("Deleted 4 run(s)"),
        "{}",
        stdout(&out)
    );
}

/// Polls `path` until it holds at least `n` complete lines (the run reported them).
async fn wait_for_lines(path: &Path, n: usize) -> String {
    for _ in 0..3000 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches('\n').count() >= n {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never had {n} lines", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_keeps_every_reported_row_and_resume_continues_it() {
    let lab = Lab::start().await.unwrap();
    // silent.test never greets: with a long greeting timeout it holds the run open.
    let t = LabArgs::new(&lab, "60");
    let list = t.write(
        "list.csv",
        "domain\nhealthy.test\nnullmx.test\nnopostmaster.test\nsilent.test\nnotls.test\n",
    );
    let jsonl = t.path("run.jsonl");
    let hist = t.path("h.sqlite3");
    let mut child = tokio::process::Command::new(crate::common::bin())
        .args(&t.args)
        .args(["-j", "1", "--history", s(&hist), "-o", s(&jsonl), &list])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let text = wait_for_lines(&jsonl, 3).await;
    child.kill().await.unwrap(); // SIGKILL
    let complete: String = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    let reported = json_lines(&complete);
    assert!(reported.len() >= 3);

    let store = History::open(&Location::Sqlite(hist.clone()))
        .await
        .unwrap();
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.finished_at, None, "killed: never finished");
    let recorded = store.results(&run.meta.run_id).await.unwrap();
    for line in &reported {
        assert_eq!(line["run_id"], run.meta.run_id.as_str());
        let r = recorded
            .iter()
            .find(|r| r.domain == line["domain"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{} reported but not recorded", line["domain"]));
        assert_eq!(r.verdict.as_str(), line["verdict"].as_str().unwrap());
    }
    store.close().await;

    // Resume (short greeting timeout) finishes the list in the same run.
    let t2 = LabArgs::new(&lab, "1");
    let out = t2
        .run(&["--resume", "--history", s(&hist), "-o", s(&jsonl), &list])
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("continuing run {}", run.meta.run_id)));
    let lines = json_lines(&std::fs::read_to_string(&jsonl).unwrap());
    assert_eq!(lines.len(), 5);
    assert!(
        lines
            .iter()
            .all(|l| l["run_id"] == run.meta.run_id.as_str())
    );
    let store = History::open(&Location::Sqlite(hist)).await.unwrap();
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "the same run, continued");
    assert_eq!(runs[0].rows, 5);
    assert!(runs[0].finished_at.is_some());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_round_trip_keeps_client_data_byte_for_byte() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    // Quoted newlines (LF and CRLF), quotes, commas, non-ASCII, spaces, empty cells, formulas.
    let input = "client,domain,notes,phone\r\n\
                 \"Zoë & Søn, GmbH\",healthy.test,\"line one\nline two\",+49 30 1234\r\n\
                 \"He said \"\"hi\"\"\",nullmx.test,\"first\r\nsecond\r\nthird\",\r\n\
                 東京 株式会社 ,nopostmaster.test,  padded  ,=1+2\r\n\
                 @SUM(A1),nullmx.test,-5 is a note,\"=HYPERLINK(\"\"http://x.invalid\"\")\"\r\n\
                 plain,healthy.test,,\"tab\there\"\r\n";
    let list = t.write("messy.csv", input);
    let csv = t.path("out.csv");
    let jsonl = t.path("out.jsonl");
    let out = t
        .run(&["--no-smtp", "-o", s(&csv), "-o", s(&jsonl), &list])
        .await;
    assert!(code(&out) <= 1, "{}", stderr(&out));

    let read = |bytes: &[u8]| {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    };
    let (in_header, in_rows) = read(input.as_bytes());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(!text.contains("\\x0a") && !text.contains("\\x0d"), "{text}");
    let (out_header, out_rows) = read(text.as_bytes());
    assert_eq!(out_rows.len(), in_rows.len());
    let jsonl_lines = json_lines(&std::fs::read_to_string(&jsonl).unwrap());
    for name in ["client", "notes", "phone"] {
        let i = in_header.iter().position(|h| h == name).unwrap();
        let o = out_header.iter().position(|h| h == name).unwrap();
        for (k, (a, b)) in in_rows.iter().zip(&out_rows).enumerate() {
            let given = &a[i];
            let want = if given.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{given}")
            } else {
                given.clone()
            };
            assert_eq!(&b[o], &want, "row {k} column {name}");
            assert_eq!(
                jsonl_lines[k]["row"]["columns"][name].as_str().unwrap(),
                given,
                "JSONL row {k} column {name}: exactly as given"
            );
        }
    }
    // The CRLFs inside the quoted field survive too.
    assert_eq!(out_rows[1][1], "first\r\nsecond\r\nthird");
    assert_eq!(out_rows[2][0], "東京 株式会社 ");
    assert_eq!(out_rows[2][1], "  padded  ");
}
