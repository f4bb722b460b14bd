//! Unit tests of the harness, without the lab: the scenario table itself, row parsing, each
//! row's command line, and the report comparison with its explanations.

use std::collections::BTreeSet;
use std::process::ExitStatus;
use std::time::Duration;

use serde_json::Value;

use super::*;

#[test]
fn the_scenario_table_parses_and_covers_issue_6() {
    let sc = load_scenarios().unwrap();
    let domains: BTreeSet<&str> = sc.iter().filter_map(|s| s.domain.as_deref()).collect();
    // issue 6 §2, one domain each
    for d in [
        "good.test",
        "bannerlie.test",
        "wrongcert.test",
        "notls.test",
        "listed.test",
        "relay.test",
        "nopostmaster.test",
        "mailrej.test",
        "tempfail.test",
        "greetpause.test",
        "closed.test",
        "filtered.test",
        "implicit.test",
        "nullmx.test",
        "cname-mx.test",
        "noaddr.test",
        "nxdomain.test",
        "servfail.test",
        "v6only.test",
        "multi.test",
    ] {
        assert!(
            domains.contains(d),
            "scenario {d} missing from scenarios.tsv"
        );
    }
}

#[test]
fn the_scenario_table_covers_the_real_server_cases_of_contract_v2() {
    let sc = load_scenarios().unwrap();
    let row = |name: &str| {
        sc.iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("row {name} missing from scenarios.tsv"))
    };
    let want = |name: &str, verdict: &str, codes: &[&str]| {
        let s = row(name);
        let codes: BTreeSet<String> = codes.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(
            (s.verdict.as_str(), &s.codes),
            (verdict, &codes),
            "row {name}"
        );
    };
    want("senderverify.test", "ok", &["probe.identity"]);
    want("relaydefer.test", "broken", &["smtp.relay_denied"]);
    want("postscreen.test", "ok", &[]);
    want(
        "greyfilter.test",
        "degraded",
        &["smtp.greylisted", "smtp.unreachable"],
    );
    want("exo.test", "degraded", &["smtp.no_postmaster"]);
    // without --allow-private its loopback name server is not asked either: lame (warning);
    // it publishes no MTA-STS (info)
    want(
        "localhost.test",
        "broken",
        &[
            "dns.lame_delegation",
            "mtasts.absent",
            "mx.all_unusable",
            "mx.private_address",
        ],
    );
    want("dnsblfail.test", "ok", &["dnsbl.unavailable"]);
    want(
        "natexim.test@mxnat",
        "inconclusive",
        &["smtp.probe_blocked"],
    );
    want(
        "natpostfix.test@mxnat",
        "inconclusive",
        &["smtp.probe_blocked"],
    );
    for ns in ["mxrej", "mxdrop"] {
        for d in ["wan.test", "wanclosed.test"] {
            want(
                &format!("{d}@{ns}"),
                "inconclusive",
                &["probe.egress_blocked"],
            );
        }
        assert_eq!(row(&format!("vantage@{ns}")).verdict, "blocked");
    }
    assert_eq!(row("vantage@lab").verdict, "usable");
    // rows that must run without the flag they are about
    assert!(
        row("localhost.test")
            .args
            .contains(&"!--allow-private".to_owned())
    );
    assert!(
        row("natpostfix.test@mxnat")
            .args
            .iter()
            .any(|a| a.starts_with("--public-ip="))
    );
    // every namespace a row names is one the harness knows
    let lab = Lab::from_env();
    for s in &sc {
        lab.prober(s.from.as_deref()).unwrap();
    }
}

#[test]
fn dnssec_rows_need_the_trust_anchor_and_get_it() {
    let sc = load_scenarios().unwrap();
    let needing: Vec<&str> = sc
        .iter()
        .filter(|s| s.needs_trust_anchor())
        .map(|s| s.name.as_str())
        .collect();
    for d in [
        "danegood.test",
        "daneself.test",
        "danewrong.test",
        "danenosig.test",
        "bogus.test",
    ] {
        assert!(needing.contains(&d), "{d} should need --trust-anchor");
    }
    assert_eq!(needing.len(), 5, "{needing:?}");
    let lab = Lab::from_env();
    let args = lab.base_args(lab.prober(None).unwrap());
    assert!(args.iter().any(|a| a.starts_with("--trust-anchor=")));
    let without = Lab {
        trust_anchor: None,
        ..lab.clone()
    };
    let args = without.base_args(without.prober(None).unwrap());
    assert!(!args.iter().any(|a| a.starts_with("--trust-anchor")));
}

#[test]
fn every_expected_code_and_verdict_is_in_the_contract() {
    for s in load_scenarios().unwrap() {
        for c in &s.codes {
            assert!(
                c.parse::<mailcheck::Code>().is_ok(),
                "{}: unknown finding code {c:?}",
                s.name
            );
        }
        if s.is_vantage() {
            continue; // usable / blocked: checked by the parser
        }
        let v: Result<mailcheck::Verdict, _> =
            serde_json::from_value(Value::String(s.verdict.clone()));
        assert!(v.is_ok(), "{}: unknown verdict {:?}", s.name, s.verdict);
    }
}

#[test]
fn parse_rejects_bad_rows() {
    assert!(parse_scenarios("a.test\tfine\t-\t-\tx\ty\n").is_err());
    assert!(parse_scenarios("a.test\tok\t-\t-\tx\n").is_err());
    assert!(parse_scenarios("a.test\tok\t-\t-\tx\ty\na.test\tok\t-\t-\tx\ty\n").is_err());
    // same domain from the same namespace twice; a bare value; --vantage with a domain;
    // no domain without --vantage; a domain verdict on a --vantage row
    let two = "a.test\tok\t-\t-\tmxnat\t-\tx\ty\na.test\tok\t-\t-\tmxnat\t--helo=b\tx\ty\n";
    assert!(parse_scenarios(two).is_err());
    assert!(parse_scenarios("a.test\tok\t-\t-\t-\t--helo b\tx\ty\n").is_err());
    assert!(parse_scenarios("a.test\tusable\t-\t-\t-\t--vantage\tx\ty\n").is_err());
    assert!(parse_scenarios("-\tok\t-\t-\t-\t-\tx\ty\n").is_err());
    assert!(parse_scenarios("-\tok\t-\t-\tmxrej\t--vantage\tx\ty\n").is_err());
    let s = parse_scenarios("# c\ndomain\tverdict\ta\tb\tc\td\na.test\tbroken\tb.c,a.b\t-\tx\ty\n")
        .unwrap();
    assert_eq!(
        s[0].codes.iter().map(String::as_str).collect::<Vec<_>>(),
        ["a.b", "b.c"]
    );
    assert_eq!(s[0].greeting, None);
    assert_eq!(s[0].line, 3);
    assert_eq!((s[0].name.as_str(), s[0].from.as_deref()), ("a.test", None));
    assert!(s[0].args.is_empty());
}

#[test]
fn parse_reads_namespace_and_args_columns() {
    let text = "a.test\tok\t-\t-\tmxnat\t--public-ip=198.18.9.2 !--allow-private\tx\ty\n\
                a.test\tinconclusive\tprobe.egress_blocked\t-\tmxrej\t-\tx\ty\n\
                a.test\tbroken\t-\t-\t-\t-\tx\ty\n\
                -\tblocked\t-\t-\tmxrej\t--vantage\tx\ty\n\
                -\tusable\t-\t-\t-\t--vantage\tx\ty\n";
    let s = parse_scenarios(text).unwrap();
    let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a.test@mxnat",
            "a.test@mxrej",
            "a.test",
            "vantage@mxrej",
            "vantage@lab"
        ]
    );
    assert_eq!(s[0].args, ["--public-ip=198.18.9.2", "!--allow-private"]);
    assert!(s[3].is_vantage() && s[3].domain.is_none());
}

#[test]
fn row_args_replace_or_drop_the_standard_flags() {
    let lab = Lab::from_env();
    let rows = parse_scenarios(
        "l.test\tbroken\t-\t-\t-\t!--allow-private --dnsbl=bl.test --dnsbl=x.test\tx\ty\n\
         n.test\tok\t-\t-\tmxnat\t--public-ip=198.18.9.2\tx\ty\n\
         -\tblocked\t-\t-\tmxdrop\t--vantage\tx\ty\n",
    )
    .unwrap();
    let l = lab.audit_args(&rows[0]).unwrap();
    assert!(!l.contains(&"--allow-private".to_owned()), "{l:?}");
    let dnsbl: Vec<&String> = l.iter().filter(|a| a.starts_with("--dnsbl")).collect();
    assert_eq!(dnsbl, ["--dnsbl=bl.test", "--dnsbl=x.test"]);
    assert_eq!(l.last().map(String::as_str), Some("l.test"));
    assert!(l.iter().any(|a| a.starts_with("--helo=")));
    let n = lab.audit_args(&rows[1]).unwrap();
    let prober = lab.prober(Some("mxnat")).unwrap();
    assert!(
        n.contains(&format!("--resolver={}", prober.resolver)),
        "{n:?}"
    );
    assert!(n.contains(&format!("--helo={}", prober.helo)), "{n:?}");
    assert!(n.contains(&"--public-ip=198.18.9.2".to_owned()));
    let v = lab.audit_args(&rows[2]).unwrap();
    assert_eq!(v.last().map(String::as_str), Some("--vantage"));
    assert!(lab.prober(Some("nowhere")).is_err());
}

#[test]
fn report_comparison_explains_mismatches() {
    let sc = &parse_scenarios("r.test\tbroken\tsmtp.relay_denied\tESMTP Postfix\tA\trelay\n")
        .unwrap()[0];
    let ok = Outcome {
        command: "x".into(),
        status: exit(1),
        stdout: concat!(
            r#"{"domain":"r.test","verdict":"broken","findings":[{"code":"smtp.relay_denied"}],"#,
            r#""transcript":"S: 220 mx ESMTP Postfix"}"#
        )
        .into(),
        stderr: String::new(),
        elapsed: Duration::ZERO,
    };
    ok.check(sc).unwrap();
    let bad = Outcome {
        stdout: concat!(
            r#"{"domain":"r.test","verdict":"degraded","findings":[{"code":"smtp.tempfail","#,
            r#""severity":"warning","subject":"127.0.0.10","summary":"4xx","#,
            r#""evidence":["450 try later"]}]}"#
        )
        .into(),
        ..ok
    };
    let msg = bad.check(sc).unwrap_err();
    for want in [
        "verdict: want broken, got degraded",
        "missing [\"smtp.relay_denied\"]",
        "450 try later",
        "greeting",
    ] {
        assert!(msg.contains(want), "{want:?} not in:\n{msg}");
    }
    assert!(
        !msg.contains("exit code"),
        "exit 1 is right for a broken scenario:\n{msg}"
    );
    let crashed = Outcome {
        stdout: "panic".into(),
        status: exit(101),
        ..bad
    };
    let msg = crashed.check(sc).unwrap_err();
    assert!(
        msg.contains("not a JSON report") && msg.contains("exit code 101"),
        "{msg}"
    );
}

#[test]
fn vantage_rows_check_exit_code_block_and_findings() {
    let sc = &parse_scenarios(
        "-\tblocked\tprobe.egress_blocked\tBLOCKED\tmxrej\t--vantage\tcanary\tx\n",
    )
    .unwrap()[0];
    let ok = Outcome {
        command: "x".into(),
        status: exit(1),
        stdout: concat!(
            r#"{"from_here":{"port25_blocked":true,"#,
            r#""lines":["outbound port 25 over IPv4: BLOCKED"],"#,
            r#""findings":[{"code":"probe.egress_blocked"}]}}"#
        )
        .into(),
        stderr: String::new(),
        elapsed: Duration::ZERO,
    };
    ok.check(sc).unwrap();
    let open = Outcome {
        status: exit(0),
        stdout: concat!(
            r#"{"from_here":{"port25_blocked":false,"#,
            r#""lines":["outbound port 25 over IPv4: open"],"findings":[]}}"#
        )
        .into(),
        ..ok
    };
    let msg = open.check(sc).unwrap_err();
    for want in [
        "exit code 0, want 1",
        "port25_blocked is Some(false), want true",
        "from_here findings",
        "does not show \"BLOCKED\"",
    ] {
        assert!(msg.contains(want), "{want:?} not in:\n{msg}");
    }
}

fn exit(code: i32) -> Option<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    Some(ExitStatus::from_raw(code << 8))
}
