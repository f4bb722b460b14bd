//! RFC 7208 conformance: the openspf.org test suite (release 2014.04, `rfc7208-tests.yml`), read
//! in place from the project's shared folder (it is not part of the repository), every case run
//! through `check_host()` over an in-memory zone built from its document's `zonedata`.
//!
//! The zone follows the suite's own driver convention (see the comment at the top of the YAML):
//! RR type SPF (99) is never queried — RFC 7208 dropped it — but a name that lists `SPF` records
//! and no `TXT` entry at all gets them as TXT records, which is how most sections publish their
//! policies; `TXT: NONE` means "no TXT record, and do not copy the SPF ones". `TIMEOUT` makes
//! every query at that name for a type it has no records of time out.

use std::collections::BTreeSet;
use std::net::IpAddr;

use mailcheck::spf::{MemoryZone, SpfResult, check_sender};
use yaml_rust2::{Yaml, YamlLoader};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/rfc7208/rfc7208-tests.yml"
);

/// Cases in the suite.
const CASES: usize = 203;

/// Cases that cannot apply to this checker, as `(section, test, reason)`. The test asserts that
/// exactly these fail, so a new pass or a new failure is noticed.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

struct Case {
    section: String,
    name: String,
    helo: String,
    host: IpAddr,
    mailfrom: String,
    results: Vec<SpfResult>,
    explanation: Option<String>,
}

fn scalar(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// A string, or a list of character-strings joined (§3.3).
fn text(y: &Yaml) -> String {
    match y {
        Yaml::Array(parts) => parts.iter().map(scalar).collect(),
        other => scalar(other),
    }
}

fn zone(zonedata: &Yaml) -> MemoryZone {
    let mut zone = MemoryZone::new();
    let Some(names) = zonedata.as_hash() else {
        panic!("zonedata is not a map: {zonedata:?}")
    };
    for (name, entries) in names {
        let name = scalar(name);
        zone.exists(&name);
        let mut spf = Vec::new();
        let mut has_txt = false;
        for entry in entries
            .as_vec()
            .unwrap_or_else(|| panic!("{name}: entries"))
        {
            if let Yaml::String(s) = entry {
                assert_eq!(s, "TIMEOUT", "{name}: bare entry");
                zone.timeout(&name);
                continue;
            }
            let Some(map) = entry.as_hash() else {
                panic!("{name}: entry {entry:?}")
            };
            for (rtype, value) in map {
                match scalar(rtype).as_str() {
                    "TIMEOUT" => {
                        if matches!(value, Yaml::Boolean(true) | Yaml::Null) {
                            zone.timeout(&name);
                        }
                    }
                    "TXT" => {
                        has_txt = true;
                        if is_none_marker(value) {
                            continue;
                        }
                        zone.add_txt(&name, &text(value));
                    }
                    "SPF" => spf.push(text(value)),
                    "A" | "AAAA" => {
                        let ip: IpAddr = scalar(value)
                            .parse()
                            .unwrap_or_else(|e| panic!("{name}: {value:?}: {e}"));
                        zone.add_address(&name, ip);
                    }
                    "MX" => {
                        let mx = value.as_vec().unwrap_or_else(|| panic!("{name}: MX"));
                        let preference = scalar(&mx[0]).parse().expect("MX preference");
                        zone.add_mx(&name, preference, &scalar(&mx[1]));
                    }
                    "PTR" => {
                        zone.add_ptr_at(&name, &scalar(value));
                    }
                    "CNAME" => {
                        zone.add_cname(&name, &scalar(value));
                    }
                    other => panic!("{name}: unknown record type {other}"),
                }
            }
        }
        if !has_txt {
            for record in &spf {
                zone.add_txt(&name, record);
            }
        }
    }
    zone
}

/// `TXT: NONE`: the name has no TXT record (and its SPF records are not copied).
fn is_none_marker(y: &Yaml) -> bool {
    matches!(y, Yaml::String(s) if s == "NONE")
}

fn cases(doc: &Yaml) -> Vec<Case> {
    let section = scalar(&doc["description"]);
    let Some(tests) = doc["tests"].as_hash() else {
        panic!("{section}: no tests")
    };
    tests
        .iter()
        .map(|(name, t)| {
            let name = scalar(name);
            let results = match &t["result"] {
                Yaml::Array(list) => list.iter().map(scalar).collect(),
                one => vec![scalar(one)],
            }
            .iter()
            .map(|r| r.parse().unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
            Case {
                host: scalar(&t["host"])
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}: host: {e}")),
                helo: scalar(&t["helo"]),
                mailfrom: scalar(&t["mailfrom"]),
                results,
                explanation: match &t["explanation"] {
                    Yaml::BadValue => None,
                    e => Some(scalar(e)),
                },
                section: section.clone(),
                name,
            }
        })
        .collect()
}

#[tokio::test]
async fn rfc7208_test_suite() {
    let yaml = std::fs::read_to_string(SUITE).unwrap_or_else(|e| {
        panic!(
            "the RFC 7208 test suite is not at {SUITE} ({e}); it is read in place from the \
             project's shared folder, shared/conformance/rfc7208/, beside the repository"
        )
    });
    let docs = YamlLoader::load_from_str(&yaml).expect("the suite is valid YAML");
    let mut total = 0;
    let mut passed = 0;
    let mut failures: Vec<(String, String, String)> = Vec::new();
    for doc in &docs {
        let zone = zone(&doc["zonedata"]);
        for case in cases(doc) {
            total += 1;
            let eval = check_sender(case.host, &case.mailfrom, &case.helo, &zone).await;
            let mut problems = Vec::new();
            if !case.results.contains(&eval.result) {
                problems.push(format!(
                    "result {} ({}), want {:?}",
                    eval.result,
                    eval.reason.as_deref().unwrap_or("-"),
                    case.results.iter().map(|r| r.as_str()).collect::<Vec<_>>()
                ));
            }
            // The suite's driver sets the default explanation to "DEFAULT": no exp= text.
            // Compared without case: the suite spells one `%{ir}` of an IPv6 address in upper
            // case where RFC 7208 §7.4 (and we) use lower case; DNS names have no case.
            if let (Some(want), SpfResult::Fail) = (&case.explanation, eval.result) {
                let got = eval.explanation.as_deref().unwrap_or("DEFAULT");
                if !got.eq_ignore_ascii_case(want) {
                    problems.push(format!("explanation {got:?}, want {want:?}"));
                }
            }
            if problems.is_empty() {
                passed += 1;
            } else {
                failures.push((case.section, case.name, problems.join("; ")));
            }
        }
    }
    println!("RFC 7208 test suite: {passed}/{total} cases pass");
    for (section, name, why) in &failures {
        println!("  {section} / {name}: {why}");
    }
    assert_eq!(total, CASES, "cases in the suite");
    let failed: BTreeSet<(&str, &str)> = failures
        .iter()
        .map(|(s, n, _)| (s.as_str(), n.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = EXCEPTIONS.iter().map(|(s, n, _)| (*s, *n)).collect();
    assert_eq!(
        failed, expected,
        "the failing cases must be exactly the listed exceptions"
    );
}
