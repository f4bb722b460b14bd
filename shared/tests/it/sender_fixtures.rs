//! The pure sender diagnosis replayed from recorded facts: each `tests/fixtures/sender/*.json`
//! holds the `SenderFacts` a real check of a lab sender case observed, and the verdict and codes
//! it must produce. Re-record with `RECORD_FIXTURES=1 cargo test -p mailcheck --test sender_lab`.

use std::collections::BTreeSet;

use mailcheck::sender::{SenderFacts, diagnose_sender};

#[test]
fn recorded_sender_facts_diagnose_to_the_expected_findings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sender");
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut codes_seen = BTreeSet::new();
    for path in &entries {
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let facts: SenderFacts = serde_json::from_value(fixture["facts"].clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report = diagnose_sender(&facts, 0);
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
        codes_seen.extend(got);
        let again: SenderFacts =
            serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
        assert_eq!(again, facts);
        assert_eq!(diagnose_sender(&again, 0), report);
    }
    assert!(
        entries.len() >= 12,
        "only {} fixtures in {dir}",
        entries.len()
    );
    // Every sender code fires on some recorded case.
    for code in mailcheck::Code::ALL
        .iter()
        .filter(|c| c.as_str().starts_with("sender."))
    {
        assert!(
            codes_seen.contains(code.as_str()),
            "no fixture shows {code}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
