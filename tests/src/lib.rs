//! The interop tier: the built `mailcheck-audit` against real Postfix, Exim, OpenSMTPD, Knot,
//! Unbound and rbldnsd in the lab network namespace (`tests/lab/`, see `tests/lab/up.sh`).
//!
//! * [`load_scenarios`] reads `tests/lab/scenarios.tsv`: per lab domain, the expected verdict,
//!   the exact set of finding codes, and a greeting the transcript must show.
//! * [`Lab`] describes the running lab (namespace, resolver, CA) and tells whether it is usable.
//! * [`run_scenario`] runs the binary for one domain inside the namespace; [`Outcome::check`]
//!   compares the report with the scenario and, on a mismatch, explains it with the findings,
//!   the transcript and the whole report JSON, so a CI log alone is enough to diagnose it.
//!
//! The harness is `tests/interop.rs` (`cargo test -p mailcheck-interop`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One row of `tests/lab/scenarios.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The lab domain, e.g. `relay.test`.
    pub domain: String,
    /// Expected verdict: `invalid`, `broken`, `no_mail`, `degraded`, `inconclusive` or `ok`.
    pub verdict: String,
    /// Expected finding codes, exactly.
    pub codes: BTreeSet<String>,
    /// Text the report's SMTP transcript must contain (the real server's own greeting).
    pub greeting: Option<String>,
    /// Which lab server answers for it.
    pub server: String,
    /// What the scenario is about.
    pub about: String,
    /// Line number in the TSV file.
    pub line: usize,
}

/// The verdicts of `spec/findings.md`.
pub const VERDICTS: &[&str] = &[
    "invalid",
    "broken",
    "no_mail",
    "degraded",
    "inconclusive",
    "ok",
];

/// Path of the scenario table.
pub fn scenarios_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/scenarios.tsv")
}

/// Read and parse `tests/lab/scenarios.tsv`.
pub fn load_scenarios() -> Result<Vec<Scenario>, String> {
    let path = scenarios_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_scenarios(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse the scenario table: tab-separated `domain verdict codes greeting server about`, a
/// header row starting with `domain`, `#` comments, `-` for "none".
pub fn parse_scenarios(text: &str) -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') || raw.starts_with("domain\t") {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        let [domain, verdict, codes, greeting, server, about] = cols[..] else {
            return Err(format!(
                "line {line}: want 6 tab-separated columns, got {}",
                cols.len()
            ));
        };
        if !VERDICTS.contains(&verdict) {
            return Err(format!("line {line}: unknown verdict {verdict:?}"));
        }
        if out.iter().any(|s| s.domain == domain) {
            return Err(format!("line {line}: duplicate domain {domain}"));
        }
        let codes = match codes {
            "-" => BTreeSet::new(),
            c => c.split(',').map(|c| c.trim().to_owned()).collect(),
        };
        out.push(Scenario {
            domain: domain.to_owned(),
            verdict: verdict.to_owned(),
            codes,
            greeting: (greeting != "-").then(|| greeting.to_owned()),
            server: server.to_owned(),
            about: about.to_owned(),
            line,
        });
    }
    if out.is_empty() {
        return Err("no scenarios".into());
    }
    Ok(out)
}

/// The running lab, from the same `MXLAB_*` variables as `tests/lab/env.sh` (same defaults).
#[derive(Debug, Clone)]
pub struct Lab {
    /// Network namespace holding the lab.
    pub ns: String,
    /// Recursive resolver inside it.
    pub resolver: String,
    /// Lab CA, for `--ca-file`.
    pub ca: PathBuf,
    /// DNSBL zone served by rbldnsd.
    pub dnsbl_zone: String,
    /// A reachable port-25 host, so a timed-out MX is blamed on the MX, not on our egress.
    pub egress_canary: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Lab {
    /// The lab as `tests/lab/env.sh` describes it.
    pub fn from_env() -> Self {
        let run = env_or("MXLAB_RUN", "/run/mxlab");
        Self {
            ns: env_or("MXLAB_NS", "mxlab"),
            resolver: env_or("MXLAB_RESOLVER", "127.0.0.53"),
            ca: PathBuf::from(env_or("MXLAB_CA", &format!("{run}/tls/ca.pem"))),
            dnsbl_zone: env_or("MXLAB_DNSBL_ZONE", "bl.test"),
            egress_canary: env_or("MXLAB_EGRESS_CANARY", "127.0.0.10:25"),
        }
    }

    /// `Ok` when the lab looks up and usable from here; otherwise why not.
    pub fn availability(&self) -> Result<(), String> {
        let netns = Path::new("/run/netns").join(&self.ns);
        if !netns.exists() {
            return Err(format!(
                "lab namespace {} does not exist (bring it up with: sudo bash tests/lab/up.sh)",
                self.ns
            ));
        }
        if !self.ca.exists() {
            return Err(format!(
                "lab CA {} is missing (is the lab up?)",
                self.ca.display()
            ));
        }
        let probe = Command::new("ip")
            .args(["netns", "exec", &self.ns, "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match probe {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "cannot enter namespace {} (root needed): {}",
                self.ns,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run `ip netns exec`: {e}")),
        }
    }

    /// The command line for one domain (without the `ip netns exec` prefix).
    pub fn audit_args(&self, domain: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "--resolver",
            &self.resolver,
            "--allow-private",
            "--ca-file",
            &self.ca.to_string_lossy(),
            "--dnsbl",
            &self.dnsbl_zone,
            "--egress-canary",
            &self.egress_canary,
            "--format",
            "json",
            "--no-progress",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // extra flags for experiments, e.g. MXLAB_AUDIT_ARGS="--connect-timeout 5"
        if let Ok(extra) = std::env::var("MXLAB_AUDIT_ARGS") {
            args.extend(extra.split_whitespace().map(str::to_owned));
        }
        args.push(domain.to_owned());
        args
    }
}

/// Workspace root (this package lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The `mailcheck-audit` binary: `$MAILCHECK_AUDIT_BIN`, else `$CARGO_TARGET_DIR/debug/…`,
/// else `<workspace>/target/debug/mailcheck-audit`. Build it first:
/// `cargo build -p mailcheck-audit` (tests/run-all.sh does).
pub fn audit_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MAILCHECK_AUDIT_BIN") {
        return PathBuf::from(p);
    }
    let root = workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    target.join("debug").join("mailcheck-audit")
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Outcome {
    /// The full command line, for the failure message.
    pub command: String,
    /// Exit status; `None` if it had to be killed after the timeout.
    pub status: Option<ExitStatus>,
    /// Raw stdout (the report JSON).
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Run `ip netns exec <ns> <bin> <args…> <domain>`, killing it after `timeout`.
pub fn run_scenario(lab: &Lab, bin: &Path, domain: &str, timeout: Duration) -> Outcome {
    let args = lab.audit_args(domain);
    let command = format!(
        "ip netns exec {} {} {}",
        lab.ns,
        bin.display(),
        args.join(" ")
    );
    let start = Instant::now();
    let spawned = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(bin)
        .args(&args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                command,
                status: None,
                stdout: String::new(),
                stderr: format!("spawn failed: {e}"),
                elapsed: start.elapsed(),
            };
        }
    };
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let elapsed = start.elapsed();
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if status.is_none() {
        let _ = write!(stderr, "\n[interop] killed after {timeout:?}");
    }
    Outcome {
        command,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Outcome {
    /// The report, if stdout is one JSON document.
    pub fn report(&self) -> Result<Value, String> {
        serde_json::from_str(self.stdout.trim())
            .map_err(|e| format!("stdout is not a JSON report: {e}"))
    }

    /// Compare with the scenario. `Err` holds a self-contained explanation for the CI log.
    pub fn check(&self, sc: &Scenario) -> Result<(), String> {
        let mut problems: Vec<String> = Vec::new();
        let report = self.report();
        let mut got_codes = BTreeSet::new();
        if let Ok(r) = &report {
            match str_field(r, "domain") {
                Some(d) if d.trim_end_matches('.').eq_ignore_ascii_case(&sc.domain) => {}
                other => problems.push(format!("report domain is {other:?}, want {:?}", sc.domain)),
            }
            let verdict = str_field(r, "verdict");
            if verdict != Some(sc.verdict.as_str()) {
                problems.push(format!(
                    "verdict: want {}, got {}",
                    sc.verdict,
                    verdict.unwrap_or("<none>")
                ));
            }
            match r.get("findings").and_then(Value::as_array) {
                Some(fs) => {
                    got_codes = fs
                        .iter()
                        .filter_map(|f| str_field(f, "code"))
                        .map(str::to_owned)
                        .collect();
                }
                None => problems.push("report has no findings[] array".into()),
            }
            if got_codes != sc.codes {
                let missing: Vec<_> = sc.codes.difference(&got_codes).collect();
                let extra: Vec<_> = got_codes.difference(&sc.codes).collect();
                problems.push(format!(
                    "codes: want {:?}, got {:?} (missing {missing:?}, unexpected {extra:?})",
                    sc.codes, got_codes
                ));
            }
            if let Some(g) = sc
                .greeting
                .as_ref()
                .filter(|g| !self.stdout.contains(g.as_str()))
            {
                problems.push(format!(
                    "the transcript does not show the server's greeting {g:?}"
                ));
            }
        } else if let Err(e) = &report {
            problems.push(e.clone());
        }
        // exit code contract (issue 4): 0, or 1 when --fail-on (default broken) is reached
        let want_exit = i32::from(sc.verdict == "broken");
        match self.status.and_then(|s| s.code()) {
            Some(c) if c == want_exit => {}
            Some(c) => problems.push(format!(
                "exit code {c}, want {want_exit} for verdict {}",
                sc.verdict
            )),
            None => problems.push(format!("no exit code ({:?})", self.status)),
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(self.explain(sc, &problems, report.ok().as_ref()))
    }

    fn explain(&self, sc: &Scenario, problems: &[String], report: Option<&Value>) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "=== {} ({}; {}) — scenarios.tsv line {}",
            sc.domain, sc.server, sc.about, sc.line
        );
        for p in problems {
            let _ = writeln!(m, "  * {p}");
        }
        let _ = writeln!(m, "  command: {}", self.command);
        let _ = writeln!(
            m,
            "  exit: {}, elapsed {:.1} s",
            self.status
                .map_or_else(|| "killed (timeout)".to_owned(), |s| s.to_string()),
            self.elapsed.as_secs_f64()
        );
        if let Some(fs) = report
            .and_then(|r| r.get("findings"))
            .and_then(Value::as_array)
        {
            let _ = writeln!(m, "  findings:");
            for f in fs {
                let _ = writeln!(
                    m,
                    "    [{}] {} {}: {}",
                    str_field(f, "severity").unwrap_or("?"),
                    str_field(f, "code").unwrap_or("?"),
                    str_field(f, "subject").unwrap_or("?"),
                    str_field(f, "summary").unwrap_or("")
                );
                match f.get("evidence") {
                    Some(Value::Array(ev)) => {
                        for e in ev {
                            let _ = writeln!(
                                m,
                                "        evidence: {}",
                                e.as_str().map_or_else(|| e.to_string(), str::to_owned)
                            );
                        }
                    }
                    Some(Value::Null) | None => {}
                    Some(e) => {
                        let _ = writeln!(m, "        evidence: {e}");
                    }
                }
            }
        }
        if !self.stderr.trim().is_empty() {
            let _ = writeln!(m, "  stderr:\n{}", indent(&self.stderr));
        }
        let body = report.map_or_else(
            || self.stdout.clone(),
            |r| serde_json::to_string_pretty(r).unwrap_or_default(),
        );
        let _ = writeln!(m, "  report (stdout):\n{}", indent(&body));
        m
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_table_parses_and_covers_issue_6() {
        let sc = load_scenarios().unwrap();
        let domains: BTreeSet<&str> = sc.iter().map(|s| s.domain.as_str()).collect();
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
    fn every_expected_code_and_verdict_is_in_the_contract() {
        for s in load_scenarios().unwrap() {
            for c in &s.codes {
                assert!(
                    c.parse::<mailcheck::Code>().is_ok(),
                    "{}: unknown finding code {c:?}",
                    s.domain
                );
            }
            let v: Result<mailcheck::Verdict, _> =
                serde_json::from_value(Value::String(s.verdict.clone()));
            assert!(v.is_ok(), "{}: unknown verdict {:?}", s.domain, s.verdict);
        }
    }

    #[test]
    fn parse_rejects_bad_rows() {
        assert!(parse_scenarios("a.test\tfine\t-\t-\tx\ty\n").is_err());
        assert!(parse_scenarios("a.test\tok\t-\t-\tx\n").is_err());
        assert!(parse_scenarios("a.test\tok\t-\t-\tx\ty\na.test\tok\t-\t-\tx\ty\n").is_err());
        let s =
            parse_scenarios("# c\ndomain\tverdict\ta\tb\tc\td\na.test\tbroken\tb.c,a.b\t-\tx\ty\n")
                .unwrap();
        assert_eq!(
            s[0].codes.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a.b", "b.c"]
        );
        assert_eq!(s[0].greeting, None);
        assert_eq!(s[0].line, 3);
    }

    #[test]
    fn report_comparison_explains_mismatches() {
        let sc = &parse_scenarios("r.test\tbroken\tsmtp.relay_denied\tESMTP Postfix\tA\trelay\n")
            .unwrap()[0];
        let ok = Outcome {
            command: "x".into(),
            status: exit(1),
            stdout: r#"{"domain":"r.test","verdict":"broken","findings":[{"code":"smtp.relay_denied"}],"transcript":"S: 220 mx ESMTP Postfix"}"#.into(),
            stderr: String::new(),
            elapsed: Duration::ZERO,
        };
        ok.check(sc).unwrap();
        let bad = Outcome {
            stdout: r#"{"domain":"r.test","verdict":"degraded","findings":[{"code":"smtp.tempfail","severity":"warning","subject":"127.0.0.10","summary":"4xx","evidence":["450 try later"]}]}"#.into(),
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

    fn exit(code: i32) -> Option<ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        Some(ExitStatus::from_raw(code << 8))
    }
}
