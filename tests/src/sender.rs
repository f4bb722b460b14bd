//! The sending side of the interop tier: `tests/lab/senders.tsv`, one `mailcheck-audit sender`
//! run per row inside the lab's namespace, against the real Knot records and rbldnsd zones.
//!
//! * [`load_senders`] reads the table: per row the sending IP, HELO name and domain, the
//!   expected verdict and exact codes, and extra flags.
//! * [`sender_args`] builds the command line; [`run_sender`] runs it; [`check_sender`] compares
//!   the report with the row and explains a mismatch with the findings and the report JSON.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{Lab, Outcome, VERDICTS, merge_args, run_in};

/// One row of `tests/lab/senders.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderRow {
    /// Unique name of the row; command-line filters match `sender:<name>`.
    pub name: String,
    /// The sending IP.
    pub ip: String,
    /// The HELO name, if given.
    pub helo: Option<String>,
    /// The sender domain, if given.
    pub domain: Option<String>,
    /// Expected verdict.
    pub verdict: String,
    /// Expected finding codes, exactly.
    pub codes: BTreeSet<String>,
    /// Extra flags (`--flag=value`), replacing the standard ones of the same name.
    pub args: Vec<String>,
    /// What the row is about.
    pub about: String,
    /// Line number in the TSV file.
    pub line: usize,
}

impl SenderRow {
    /// The name filters match: `sender:<name>`.
    pub fn label(&self) -> String {
        format!("sender:{}", self.name)
    }
}

/// Path of the sender table.
pub fn senders_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/senders.tsv")
}

/// Read and parse `tests/lab/senders.tsv`.
pub fn load_senders() -> Result<Vec<SenderRow>, String> {
    let path = senders_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_senders(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse the table: tab-separated `name ip helo domain verdict codes args about`, a header row
/// starting with `name`, `#` comments, `-` for none.
pub fn parse_senders(text: &str) -> Result<Vec<SenderRow>, String> {
    let mut out: Vec<SenderRow> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') || raw.starts_with("name\t") {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        let [name, ip, helo, domain, verdict, codes, args, about] = cols[..] else {
            return Err(format!(
                "line {line}: want 8 tab-separated columns, got {}",
                cols.len()
            ));
        };
        let some = |c: &str| (c.trim() != "-" && !c.trim().is_empty()).then(|| c.trim().to_owned());
        if !VERDICTS.contains(&verdict) || verdict == "no_mail" {
            return Err(format!("line {line}: unknown sender verdict {verdict:?}"));
        }
        let args: Vec<String> = some(args)
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(bad) = args.iter().find(|a| !a.starts_with("--")) {
            return Err(format!("line {line}: argument {bad:?} is not --flag=value"));
        }
        if out.iter().any(|r| r.name == name) {
            return Err(format!("line {line}: duplicate row {name}"));
        }
        out.push(SenderRow {
            name: name.to_owned(),
            ip: ip.to_owned(),
            helo: some(helo),
            domain: some(domain),
            verdict: verdict.to_owned(),
            codes: some(codes)
                .map(|c| c.split(',').map(|c| c.trim().to_owned()).collect())
                .unwrap_or_default(),
            args,
            about: about.to_owned(),
            line,
        });
    }
    if out.is_empty() {
        return Err("no sender rows".into());
    }
    Ok(out)
}

/// The command line for one row (without the `ip netns exec` prefix), from the lab's own
/// namespace: `sender`, the standard flags merged with the row's, then the sender.
pub fn sender_args(lab: &Lab, row: &SenderRow) -> Vec<String> {
    let prober = &lab.probers[0];
    let base = vec![
        format!("--resolver={}", prober.resolver),
        "--allow-private".to_owned(),
        format!("--dnsbl={}", lab.dnsbl_zone),
        "--format=json".to_owned(),
    ];
    let mut args = vec!["sender".to_owned()];
    args.extend(merge_args(base, &row.args));
    args.push(format!("--ip={}", row.ip));
    args.extend(row.helo.iter().map(|h| format!("--helo={h}")));
    args.extend(row.domain.iter().map(|d| format!("--domain={d}")));
    args
}

/// Runs one row in the lab's namespace, killing it after `timeout`.
pub fn run_sender(lab: &Lab, bin: &Path, row: &SenderRow, timeout: Duration) -> Outcome {
    run_in(&lab.probers[0].ns, bin, &sender_args(lab, row), timeout)
}

fn codes_of(report: &Value) -> Option<BTreeSet<String>> {
    Some(
        report
            .get("findings")?
            .as_array()?
            .iter()
            .filter_map(|f| f.get("code").and_then(Value::as_str).map(str::to_owned))
            .collect(),
    )
}

/// Compares the outcome with the row: the reported IP, the verdict, the exact codes, and exit 1
/// exactly when broken. `Err` holds a self-contained explanation for the CI log.
pub fn check_sender(out: &Outcome, row: &SenderRow) -> Result<(), String> {
    let mut problems = Vec::new();
    let report = out.report();
    match &report {
        Ok(r) => {
            if r.get("ip").and_then(Value::as_str) != Some(row.ip.as_str()) {
                problems.push(format!("report ip is {:?}, want {}", r.get("ip"), row.ip));
            }
            let verdict = r.get("verdict").and_then(Value::as_str);
            if verdict != Some(row.verdict.as_str()) {
                problems.push(format!(
                    "verdict: want {}, got {}",
                    row.verdict,
                    verdict.unwrap_or("<none>")
                ));
            }
            match codes_of(r) {
                Some(got) if got == row.codes => {}
                Some(got) => problems.push(format!(
                    "codes: want {:?}, got {got:?} (missing {:?}, unexpected {:?})",
                    row.codes,
                    row.codes.difference(&got).collect::<Vec<_>>(),
                    got.difference(&row.codes).collect::<Vec<_>>()
                )),
                None => problems.push("report has no findings[] array".into()),
            }
        }
        Err(e) => problems.push(e.clone()),
    }
    let want_exit = i32::from(row.verdict == "broken");
    match out.status.and_then(|s| s.code()) {
        Some(c) if c == want_exit => {}
        Some(c) => problems.push(format!(
            "exit code {c}, want {want_exit} for verdict {}",
            row.verdict
        )),
        None => problems.push(format!("no exit code ({:?})", out.status)),
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut m = format!(
        "=== {} ({}) — senders.tsv line {}\n",
        row.label(),
        row.about,
        row.line
    );
    for p in &problems {
        let _ = writeln!(m, "  * {p}");
    }
    let _ = writeln!(m, "  command: {}", out.command);
    if let Ok(r) = &report
        && let Some(fs) = r.get("findings").and_then(Value::as_array)
    {
        for f in fs {
            let _ = writeln!(
                m,
                "    [{}] {} {}: {}",
                f["severity"].as_str().unwrap_or("?"),
                f["code"].as_str().unwrap_or("?"),
                f["subject"].as_str().unwrap_or("?"),
                f["summary"].as_str().unwrap_or("")
            );
            for e in f["evidence"].as_array().into_iter().flatten() {
                let _ = writeln!(m, "        evidence: {}", e.as_str().unwrap_or_default());
            }
        }
    }
    if !out.stderr.trim().is_empty() {
        let _ = writeln!(m, "  stderr:\n{}", out.stderr);
    }
    let _ = writeln!(m, "  report (stdout):\n{}", out.stdout);
    Err(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_table_parses_and_covers_every_sender_code() {
        let rows = load_senders().unwrap();
        let codes: BTreeSet<&str> = rows
            .iter()
            .flat_map(|r| r.codes.iter().map(String::as_str))
            .collect();
        for c in mailcheck::Code::ALL {
            if c.as_str().starts_with("sender.") {
                assert!(codes.contains(c.as_str()), "no sender row shows {c}");
            }
        }
        for r in &rows {
            for c in &r.codes {
                assert!(c.parse::<mailcheck::Code>().is_ok(), "{}: {c}", r.name);
            }
            r.ip.parse::<std::net::IpAddr>().unwrap();
        }
        // A real blocklist answer of both kinds, and an error answer.
        let row = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        assert!(
            row("pbl")
                .args
                .contains(&"--dnsbl=zen.spamhaus.org".to_owned())
        );
        assert_eq!(row("listed").codes.len(), 1);
        assert_eq!(row("dnsbl-refused").verdict, "inconclusive");
    }

    #[test]
    fn sender_rows_get_their_own_command_line() {
        let lab = Lab::from_env();
        let rows = parse_senders(
            "a\t192.0.2.1\tmail.example.test\t-\tbroken\tsender.no_ptr\t\
             --dnsbl=zen.spamhaus.org\tx\n\
             b\t192.0.2.2\t-\texample.test\tok\t-\t-\ty\n",
        )
        .unwrap();
        let a = sender_args(&lab, &rows[0]);
        assert_eq!(a[0], "sender");
        assert!(a.contains(&"--dnsbl=zen.spamhaus.org".to_owned()), "{a:?}");
        assert!(!a.contains(&format!("--dnsbl={}", lab.dnsbl_zone)), "{a:?}");
        assert!(a.contains(&"--helo=mail.example.test".to_owned()));
        assert!(!a.iter().any(|x| x.starts_with("--domain")));
        // Flags of the domain runs that `sender` does not take are not there.
        assert!(
            !a.iter()
                .any(|x| x.starts_with("--ca-file") || x == "--no-history")
        );
        let b = sender_args(&lab, &rows[1]);
        assert!(b.contains(&"--domain=example.test".to_owned()));
        assert!(b.contains(&format!("--dnsbl={}", lab.dnsbl_zone)));
        assert!(parse_senders("a\tx\t-\t-\tfine\t-\t-\ty\n").is_err());
        assert!(parse_senders("a\tx\t-\t-\tok\t-\t-\n").is_err());
    }

    #[test]
    fn sender_outcomes_are_compared_and_explained() {
        use std::os::unix::process::ExitStatusExt;
        let row = &parse_senders("n\t192.0.2.1\t-\t-\tbroken\tsender.no_ptr\t-\tx\n").unwrap()[0];
        let ok = Outcome {
            command: "x".into(),
            status: Some(std::process::ExitStatus::from_raw(1 << 8)),
            stdout:
                r#"{"ip":"192.0.2.1","verdict":"broken","findings":[{"code":"sender.no_ptr"}]}"#
                    .into(),
            stderr: String::new(),
            elapsed: Duration::ZERO,
        };
        check_sender(&ok, row).unwrap();
        let bad = Outcome {
            status: Some(std::process::ExitStatus::from_raw(0)),
            stdout: r#"{"ip":"192.0.2.1","verdict":"ok","findings":[]}"#.into(),
            ..ok
        };
        let msg = check_sender(&bad, row).unwrap_err();
        for want in [
            "verdict: want broken, got ok",
            "missing",
            "exit code 0, want 1",
        ] {
            assert!(msg.contains(want), "{want}: {msg}");
        }
    }
}
