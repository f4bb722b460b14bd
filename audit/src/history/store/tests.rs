//! Tests of the store: record, compare, list and prune on an SQLite file.

use super::*;

fn meta(id: &str, started_at: i64) -> RunMeta {
    RunMeta {
        run_id: id.to_owned(),
        started_at,
        input_name: "list.csv".to_owned(),
        input_hash: "00".to_owned(),
        host: "h".to_owned(),
        tool_version: "0".to_owned(),
    }
}

fn row(row_no: i64, domain: &str, verdict: Verdict, codes: &[&str]) -> Recorded {
    Recorded {
        row_no,
        source: "list.csv".to_owned(),
        line: row_no + 2,
        input: domain.to_owned(),
        domain: domain.to_owned(),
        verdict,
        worst: None,
        checked_at: 0,
        row_json: "{}".to_owned(),
        report_json: format!("{{\"domain\":\"{domain}\"}}"),
        findings: codes
            .iter()
            .map(|c| FindingKey {
                code: (*c).to_owned(),
                subject: domain.to_owned(),
                severity: "error".to_owned(),
                summary: "s".to_owned(),
            })
            .collect(),
    }
}

#[tokio::test]
async fn record_compare_list_prune() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(&Location::Sqlite(dir.path().join("h.sqlite3")))
        .await
        .unwrap();
    let day = 86_400_000;
    let runs = [
        ("r1", day, Verdict::Ok, &[][..]),
        (
            "r2",
            2 * day,
            Verdict::Inconclusive,
            &["dns.lookup_failed"][..],
        ),
        ("r3", 3 * day, Verdict::Broken, &["smtp.refused"][..]),
    ];
    for (id, at, v, codes) in runs {
        h.begin_run(&meta(id, at)).await.unwrap();
        let rows = [
            row(0, "a.test", v, codes),
            row(1, "b.test", Verdict::Ok, &[]),
        ];
        h.record(id, &rows).await.unwrap();
        // Recording again (a resumed run) changes nothing.
        h.record(id, &rows).await.unwrap();
        h.finish_run(id, at + 1000).await.unwrap();
    }
    // r3 compares a.test with r1 (r2 could not check it).
    let b = h.baseline("r3", "a.test", 3 * day).await.unwrap().unwrap();
    assert_eq!((b.run_id.as_str(), b.verdict), ("r1", Verdict::Ok));
    let b = h.baseline("r2", "a.test", 2 * day).await.unwrap().unwrap();
    assert_eq!(b.run_id, "r1");
    assert!(h.baseline("r1", "a.test", day).await.unwrap().is_none());
    let b = h.baseline("r4", "a.test", 4 * day).await.unwrap().unwrap();
    assert_eq!(b.findings[0].code, "smtp.refused");

    let listed = h.runs(10).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].meta.run_id, "r3");
    assert_eq!(listed[0].rows, 2);
    assert_eq!(listed[0].verdicts, [(Verdict::Broken, 1), (Verdict::Ok, 1)]);
    assert_eq!(h.run("latest").await.unwrap().meta.run_id, "r3");
    assert_eq!(h.run("previous").await.unwrap().meta.run_id, "r2");
    assert!(h.run("r").await.is_err(), "ambiguous prefix");
    assert!(h.run("zz").await.is_err());
    let r3 = h.run("r3").await.unwrap();
    assert_eq!(h.run_before(&r3).await.unwrap().unwrap().meta.run_id, "r2");

    let past = h.recent("r4", "a.test", 4 * day, 2).await.unwrap();
    let seen: Vec<(&str, Verdict)> = past
        .iter()
        .map(|p| (p.run_id.as_str(), p.verdict))
        .collect();
    assert_eq!(
        seen,
        [("r2", Verdict::Inconclusive), ("r3", Verdict::Broken)],
        "the latest two, oldest first"
    );
    assert_eq!(h.recent("r3", "a.test", 3 * day, 7).await.unwrap().len(), 2);
    assert!(h.recent("r1", "a.test", day, 7).await.unwrap().is_empty());

    let t = h.timeline("a.test", 10).await.unwrap();
    let ids: Vec<&str> = t.iter().map(|d| d.run_id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2", "r3"]);
    assert_eq!(h.timeline("a.test", 2).await.unwrap().len(), 2);
    assert_eq!(h.results("r2").await.unwrap().len(), 2);
    let mut n = 0;
    h.export(None, |_, _, _, _| {
        n += 1;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(n, 6);

    // Everything is older than the cutoff: all but the newest run go.
    let p = h.prune(10 * day).await.unwrap();
    assert_eq!(
        p,
        Pruned {
            runs: 2,
            results: 4
        }
    );
    assert_eq!(h.runs(10).await.unwrap().len(), 1);
    assert_eq!(h.timeline("a.test", 10).await.unwrap().len(), 1);
}
