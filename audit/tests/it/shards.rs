//! Shards end to end through the built binary, against the in-process lab: `plan --shards 4`,
//! four shard processes at once, `merge`, compared with one run over the same input; then what
//! `merge` says when the shards do not add up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::{LabArgs, code, codes, json_lines, read_csv, stderr, stdout};
use mailcheck_testkit::lab::Lab;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    json_lines(&std::fs::read_to_string(path).unwrap())
}

/// A cell with its durations (`10.7 s`, `250 ms`) masked: they differ from run to run.
fn without_timings(cell: &str) -> String {
    let words: Vec<&str> = cell.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let unit = words.get(i + 1).is_some_and(|u| {
            ["s", "ms"].contains(&u.trim_end_matches(|c: char| c.is_ascii_punctuation()))
        });
        out.push(if unit && w.parse::<f64>().is_ok() {
            "#"
        } else {
            w
        });
    }
    out.join(" ")
}

/// Runs the binary without the lab flags (`plan`, `merge`).
async fn bare(args: &[&str]) -> std::process::Output {
    crate::common::run(&[], args, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_four_shards_merge_equals_one_run() {
    let lab = Lab::start().await.unwrap();
    // The slow server greets after 10.5 s: give it 12.
    let t = LabArgs::new(&lab, "12");
    // The lab's list (many domains share mx.healthy.test), plus a duplicate with a quoted
    // newline, an e-mail address of a listed domain, a cell starting with `#`, and a line that
    // is not CSV.
    let mut text = lab.domains_csv();
    text.push_str("\"Client \"\"dup\"\"\nsecond line\",healthy.test\n");
    text.push_str("Zoë,postmaster@Nullmx.Test\n");
    text.push_str("\"#42\",dane-ok.test\n");
    text.push_str("Broken,\"never closed\n");
    let input = t.write("clients.csv", &text);
    let plan_dir = t.path("plan");
    let rows = lab.scenarios().len() + 4;

    let out = bare(&[
        "plan",
        &input,
        "--shards",
        "4",
        "--out",
        s(&plan_dir),
        "--resolver",
        &lab.resolver().to_string(),
        "--allow-private",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("Planned {rows} rows")),
        "{summary}"
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan_dir.join("plan.json")).unwrap())
            .unwrap();
    let shards = plan["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    assert_eq!(plan["input"]["rows"], rows);
    assert_eq!(
        shards
            .iter()
            .map(|s| s["rows"].as_u64().unwrap())
            .sum::<u64>(),
        rows as u64
    );
    // No MX address in two shards, by the plan.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (i, shard) in shards.iter().enumerate() {
        assert_eq!(shard["file"], format!("shard-{i}.csv"));
        for a in shard["addresses"].as_array().unwrap() {
            let prev = owner.insert(a.as_str().unwrap().to_owned(), i);
            assert!(prev.is_none(), "{a} is in shards {prev:?} and {i}");
        }
    }
    assert!(owner.contains_key("127.0.0.10"), "{plan:#}");

    // Four shard processes at once, each an ordinary audit of its file.
    let shard_out: Vec<_> = (0..4)
        .map(|i| t.path(&format!("shard-{i}.jsonl")))
        .collect();
    let runs = (0..4).map(|i| {
        let csv = plan_dir.join(format!("shard-{i}.csv"));
        let out = shard_out[i].clone();
        let t = &t;
        async move { t.run(&[s(&csv), "-o", s(&out)]).await }
    });
    for (i, out) in futures::future::join_all(runs).await.iter().enumerate() {
        assert!(code(out) <= 1, "shard {i}: {}", stderr(out));
    }
    let single_csv = t.path("single.csv");
    let single_jsonl = t.path("single.jsonl");
    let out = t
        .run(&["-o", s(&single_csv), "-o", s(&single_jsonl), &input])
        .await;
    assert!(code(&out) <= 1, "{}", stderr(&out));

    let merged_csv = t.path("merged.csv");
    let merged_jsonl = t.path("merged.jsonl");
    let merged_html = t.path("merged.html");
    let mut args = vec!["merge"];
    // Any order of files.
    for p in shard_out.iter().rev() {
        args.push(s(p));
    }
    args.extend([
        "-o",
        s(&merged_csv),
        "-o",
        s(&merged_jsonl),
        "-o",
        s(&merged_html),
    ]);
    let out = bare(&args).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("Merged {rows} row(s)")),
        "{}",
        stderr(&out)
    );

    // Same rows in the same order, same verdicts and findings: the CSV report whole (it has
    // no timings), the JSONL by row, verdict and finding codes.
    let (single_header, single_rows) = read_csv(&single_csv);
    let (merged_header, merged_rows) = read_csv(&merged_csv);
    assert_eq!(merged_header, single_header);
    assert_eq!(merged_rows.len(), rows);
    for (k, (a, b)) in single_rows.iter().zip(&merged_rows).enumerate() {
        let (a, b): (Vec<String>, Vec<String>) = (
            a.iter().map(|c| without_timings(c)).collect(),
            b.iter().map(|c| without_timings(c)).collect(),
        );
        assert_eq!(b, a, "CSV row {k}");
    }
    let single = jsonl(&single_jsonl);
    let merged = jsonl(&merged_jsonl);
    assert_eq!(merged.len(), single.len());
    for (a, b) in single.iter().zip(&merged) {
        assert_eq!(
            b["row"], a["row"],
            "the original input's row, not the shard's"
        );
        assert_eq!(
            (&b["input"], &b["verdict"], codes(b)),
            (&a["input"], &a["verdict"], codes(a))
        );
    }
    assert_eq!(merged[rows - 1]["verdict"], "invalid", "the malformed line");
    let html = std::fs::read_to_string(&merged_html).unwrap();
    assert!(html.contains("healthy.test") && html.contains("Client 01"));

    // What the audit saw agrees with the plan: every MX address's domains ran in one shard, and
    // some address served several domains.
    let mut shard_of_domain: BTreeMap<String, u64> = BTreeMap::new();
    for (i, path) in shard_out.iter().enumerate() {
        for line in jsonl(path) {
            assert_eq!(line["row"]["origin"]["shard"], i);
            shard_of_domain.insert(line["domain"].as_str().unwrap().to_owned(), i as u64);
        }
    }
    let mut domains_at: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in &single {
        for mx in line["mx"].as_array().unwrap() {
            for a in mx["addresses"].as_array().unwrap() {
                domains_at
                    .entry(a["ip"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(line["domain"].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(
        domains_at.values().any(|d| d.len() >= 5),
        "the lab shares addresses: {domains_at:#?}"
    );
    for (ip, domains) in &domains_at {
        let shards: BTreeSet<u64> = domains.iter().map(|d| shard_of_domain[d]).collect();
        assert_eq!(shards.len(), 1, "{ip} probed from shards {shards:?}");
        assert_eq!(
            owner.get(ip).map(|s| *s as u64),
            shards.first().copied(),
            "{ip}: the plan's shard"
        );
    }

    // When the shards do not add up, merge names the shard and writes nothing.
    let bad_out = t.path("bad.csv");
    let missing = bare(&[
        "merge",
        s(&shard_out[0]),
        s(&shard_out[1]),
        s(&shard_out[2]),
        "-o",
        s(&bad_out),
    ])
    .await;
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("missing shard(s) 3 of 4"),
        "{}",
        stderr(&missing)
    );
    let twice = bare(&[
        "merge",
        s(&shard_out[0]),
        s(&shard_out[1]),
        s(&shard_out[2]),
        s(&shard_out[3]),
        s(&shard_out[0]),
        "-o",
        s(&bad_out),
    ])
    .await;
    assert_eq!(code(&twice), 2);
    assert!(
        stderr(&twice).contains("is in two files"),
        "{}",
        stderr(&twice)
    );
    let big = (0..4).max_by_key(|i| jsonl(&shard_out[*i]).len()).unwrap();
    let cut = t.path(&format!("cut-{big}.jsonl"));
    let full = std::fs::read_to_string(&shard_out[big]).unwrap();
    let kept: Vec<&str> = full.lines().collect();
    std::fs::write(&cut, format!("{}\n", kept[..kept.len() - 1].join("\n"))).unwrap();
    let mut args = vec!["merge".to_owned()];
    for (i, p) in shard_out.iter().enumerate() {
        args.push(if i == big { s(&cut) } else { s(p) }.to_owned());
    }
    args.extend(["-o".to_owned(), s(&bad_out).to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let short = bare(&args).await;
    assert_eq!(code(&short), 2);
    assert!(
        stderr(&short).contains(&format!("shard {big} of 4"))
            && stderr(&short).contains("did not finish"),
        "{}",
        stderr(&short)
    );
    let plain = bare(&["merge", s(&single_jsonl), "-o", s(&bad_out)]).await;
    assert_eq!(code(&plain), 2);
    assert!(
        stderr(&plain).contains("no row.origin"),
        "{}",
        stderr(&plain)
    );
    assert!(!bad_out.exists(), "a failed merge writes no report");

    // A shard file is not planned again.
    let again = bare(&[
        "plan",
        s(&plan_dir.join("shard-0.csv")),
        "--shards",
        "2",
        "--out",
        s(&t.path("again")),
        "--resolver",
        &lab.resolver().to_string(),
    ])
    .await;
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("shard file"), "{}", stderr(&again));
}
