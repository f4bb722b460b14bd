//! `docs/findings.md` is generated from the code: this test fails when they drift.
//! Regenerate with `UPDATE_DOCS=1 cargo test -p mailcheck --test findings_doc`.

use mailcheck::{Code, Verdict};

fn render() -> String {
    let mut out = String::from(
        "# Finding codes\n\n\
         Generated from `mailcheck::Code` by `shared/tests/findings_doc.rs` — do not edit by hand.\n\
         The contract these follow is `spec/findings.md` (beside the project, in `../shared`).\n\n\
         Severities: `info` < `warning` < `error` < `critical`; `inconclusive` means \"could not \
         check\" and is never counted as a fault. `dnsbl.listed` is `error` for abuse lists and \
         `warning` for policy lists (e.g. Spamhaus PBL).\n\n\
         | code | default severity | subject | fires when |\n|---|---|---|---|\n",
    );
    for code in Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            code.default_severity(),
            code.subject_kind(),
            code.describe()
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

#[test]
fn codes_match_the_contract_spelling() {
    let expected = [
        "dns.nxdomain",
        "dns.lookup_failed",
        "mx.missing",
        "mx.no_mail_host",
        "mx.null",
        "mx.null_mixed",
        "mx.cname",
        "mx.ip_literal",
        "mx.unresolvable",
        "mx.all_unusable",
        "mx.private_address",
        "rdns.missing",
        "rdns.mismatch",
        "smtp.refused",
        "smtp.unreachable",
        "smtp.no_greeting",
        "smtp.slow_greeting",
        "smtp.greeting_rejected",
        "smtp.banner_unresolvable",
        "smtp.banner_mismatch",
        "smtp.helo_rejected",
        "smtp.starttls_missing",
        "smtp.starttls_failed",
        "tls.cert_untrusted",
        "tls.cert_expired",
        "tls.cert_name_mismatch",
        "tls.cert_expiring",
        "tls.legacy_version",
        "smtp.mail_rejected",
        "smtp.disconnect_after_mail",
        "smtp.relay_denied",
        "smtp.rcpt_rejected",
        "smtp.tempfail",
        "smtp.open_relay",
        "smtp.probe_blocked",
        "dnsbl.listed",
        "dnsbl.unavailable",
        "probe.egress_blocked",
    ];
    let have: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(have, expected);
    for c in Code::ALL {
        assert_eq!(c.as_str().parse::<Code>().unwrap(), *c);
        let json = serde_json::to_string(c).unwrap();
        assert_eq!(json, format!("\"{}\"", c.as_str()));
    }
}
