//! `docs/findings.md` is generated from the code: this test fails when they drift.
//! Regenerate with `UPDATE_DOCS=1 cargo test -p mailcheck --test findings_doc`.

use mailcheck::{Code, Verdict};

fn render() -> String {
    let mut out = String::from(
        "# Finding codes\n\n\
         Generated from `mailcheck::Code` by `shared/tests/findings_doc.rs` — do not edit by \
         hand.\n\
         The contract these follow is `spec/findings.md` (beside the project, in `../shared`).\n\n\
         Severities: `info` < `warning` < `error` < `critical`; `inconclusive` means \"could not \
         check\" and is never counted as a fault. `dnsbl.listed` is `warning` for abuse lists and \
         `info` for policy lists (e.g. Spamhaus PBL). Findings whose subject is `this machine` are \
         about the prober (our egress, identity, resolver, listing), never about the target, and \
         alone never make a domain `inconclusive`.\n\n\
         | code | default severity | subject | fires when |\n|---|---|---|---|\n",
    );
    for code in Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            code.default_severity(),
            code.subject_kind(),
            code.fires_when()
        ));
    }
    out.push_str("\n## Verdicts (first match wins)\n\n");
    for v in [
        Verdict::Invalid,
        Verdict::Broken,
        Verdict::NoMail,
        Verdict::Degraded,
        Verdict::Inconclusive,
        Verdict::Ok,
    ] {
        out.push_str(&format!("- `{}`: {}\n", v.as_str(), v.explain()));
    }
    out.push_str(
        "\n## Sender verdicts (`mailcheck-audit sender`, `/mailcheck-sender`; first match \
         wins)\n\n",
    );
    let breakers: Vec<String> = mailcheck::sender::SENDER_BREAKERS
        .iter()
        .map(|c| format!("`{c}`"))
        .collect();
    for (v, when) in [
        (
            Verdict::Invalid,
            "the input is not an IP address (or is a private one where those are not allowed)"
                .to_owned(),
        ),
        (
            Verdict::Broken,
            format!("an error of {}", breakers.join(", ")),
        ),
        (
            Verdict::Degraded,
            "any other error or warning (the sender domain's own `spf.*` and `dmarc.*` findings \
             included)"
                .to_owned(),
        ),
        (
            Verdict::Inconclusive,
            "an inconclusive finding (a lookup failed, a blocklist could not answer us) or the \
             deadline came first"
                .to_owned(),
        ),
        (Verdict::Ok, "none of these".to_owned()),
    ] {
        out.push_str(&format!(
            "- `{}` when {when}: {}\n",
            v.as_str(),
            mailcheck::sender::explain(v)
        ));
    }
    out
}

#[test]
fn findings_doc_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/findings.md");
    let want = render();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        have, want,
        "docs/findings.md is stale: run UPDATE_DOCS=1 cargo test -p mailcheck --test findings_doc"
    );
}

/// The contract's code table rows: `(code, first severity word)`, and the section each is in.
fn contract_rows() -> Vec<(String, String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/findings.md");
    let spec = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the contract {path} must be beside the project: {e}"));
    let mut section = String::new();
    let mut rows = Vec::new();
    for line in spec.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.to_owned();
            continue;
        }
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((code, rest)) = rest.split_once('`') else {
            continue;
        };
        let severity = rest
            .trim_start_matches([' ', '|'])
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default();
        rows.push((code.to_owned(), severity.to_owned(), section.clone()));
    }
    rows
}

#[test]
fn codes_and_severities_match_the_contract() {
    let rows = contract_rows();
    assert!(rows.len() > 40, "parsed only {} rows", rows.len());
    for c in Code::ALL {
        let row = rows.iter().find(|(code, _, _)| code == c.as_str());
        let (_, severity, _) =
            row.unwrap_or_else(|| panic!("{} is not in the contract", c.as_str()));
        assert_eq!(
            c.default_severity().as_str(),
            severity,
            "{}: default severity differs from the contract",
            c.as_str()
        );
        assert_eq!(c.as_str().parse::<Code>().unwrap(), *c);
        let json = serde_json::to_string(c).unwrap();
        assert_eq!(json, format!("\"{}\"", c.as_str()));
    }
    // Every code of the contract exists, the sender's side included.
    for (code, _, section) in &rows {
        assert!(
            code.parse::<Code>().is_ok(),
            "the contract's {code} ({section}) has no Code"
        );
    }
}
