//! The pure diagnosis replayed from recorded facts: each `tests/fixtures/*.json` holds the
//! `Facts` a real check of a lab domain observed, and the verdict and codes it must produce.
//! Re-record with `RECORD_FIXTURES=1 cargo test -p mailcheck --test check_lab`.

use std::collections::BTreeSet;

use mailcheck::{Facts, Policy, diagnose};

#[test]
fn recorded_facts_diagnose_to_the_expected_findings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut seen = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
        let facts: Facts = serde_json::from_value(fixture["facts"].clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let policy = Policy::default();
        let input = fixture["input"].as_str().unwrap();
        let report = diagnose(&facts, &policy, input, 0);
        let want: BTreeSet<String> = fixture["expect"]["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        let got: BTreeSet<String> = report
            .findings
            .iter()
            .map(|f| f.code.as_str().to_owned())
            .collect();
        let verdict = fixture["expect"]["verdict"].as_str().unwrap();
        if report.verdict.as_str() != verdict || got != want {
            failures.push(format!(
                "{}: want {verdict} {want:?}, got {} {got:?}",
                path.display(),
                report.verdict
            ));
        }
        // Diagnosis is deterministic and facts survive a JSON round trip.
        let again: Facts = serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
        assert_eq!(again, facts);
        assert_eq!(diagnose(&again, &policy, input, 0), report);
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures in {dir}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
