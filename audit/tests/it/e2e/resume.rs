//! End to end, interrupted runs: `--resume` continues without probing again, and a killed run
//! leaves a usable JSONL.

use crate::common::{LabArgs, code, col, json_lines, read_csv, stderr};
use mailcheck_testkit::lab::Lab;
use mailcheck_testkit::smtp::Command;

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
