//! Comparing a run with its row: [`Outcome::check`] (and its batch and `--vantage` forms), and
//! the self-contained explanation of a mismatch for the CI log.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::{Outcome, Scenario};

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
        if sc.is_vantage() {
            return self.check_vantage(sc);
        }
        self.check_report(sc, true)
    }

    /// One domain's part of a batch run (its JSON line), to compare with its row.
    pub fn for_domain(&self, domain: &str) -> Self {
        let line = self
            .stdout
            .lines()
            .find(|l| {
                serde_json::from_str::<Value>(l).is_ok_and(|r| {
                    str_field(&r, "domain")
                        .is_some_and(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
                })
            })
            .unwrap_or_default();
        Self {
            command: self.command.clone(),
            status: self.status,
            stdout: line.to_owned(),
            stderr: self.stderr.clone(),
            elapsed: self.elapsed,
        }
    }

    /// [`Outcome::check`] for one domain of a batch run: the same verdict, codes and greeting
    /// (the exit code is the whole run's).
    pub fn check_in_batch(&self, sc: &Scenario) -> Result<(), String> {
        self.check_report(sc, false)
    }

    fn check_report(&self, sc: &Scenario, exit_code: bool) -> Result<(), String> {
        let mut problems: Vec<String> = Vec::new();
        let report = self.report();
        let mut got_codes = BTreeSet::new();
        if let Ok(r) = &report {
            let want_domain = sc.domain.as_deref().unwrap_or_default();
            match str_field(r, "domain") {
                Some(d) if d.trim_end_matches('.').eq_ignore_ascii_case(want_domain) => {}
                other => problems.push(format!("report domain is {other:?}, want {want_domain:?}")),
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
            _ if !exit_code => {}
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

    /// A `--vantage` row: exit 0 when port 25 is usable from there, 1 when it is blocked; with
    /// `--format json` the "From here" block's `port25_blocked` agrees and its findings are
    /// exactly the row's codes; the output must show the row's text, if any.
    fn check_vantage(&self, sc: &Scenario) -> Result<(), String> {
        let mut problems: Vec<String> = Vec::new();
        let want_blocked = sc.verdict == "blocked";
        let text_output = sc
            .args
            .iter()
            .any(|a| a.starts_with("--format=") && a != "--format=json");
        if !text_output {
            match self.report() {
                Ok(r) => {
                    let here = r.get("from_here");
                    let blocked = here
                        .and_then(|h| h.get("port25_blocked"))
                        .and_then(Value::as_bool);
                    if blocked != Some(want_blocked) {
                        problems.push(format!(
                            "from_here.port25_blocked is {blocked:?}, want {want_blocked}"
                        ));
                    }
                    let got: BTreeSet<String> = here
                        .and_then(|h| h.get("findings"))
                        .and_then(Value::as_array)
                        .map(|fs| {
                            fs.iter()
                                .filter_map(|f| str_field(f, "code"))
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    if got != sc.codes {
                        problems.push(format!(
                            "from_here findings: want {:?}, got {got:?}",
                            sc.codes
                        ));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        let want_exit = i32::from(want_blocked);
        match self.status.and_then(|s| s.code()) {
            Some(c) if c == want_exit => {}
            Some(c) => problems.push(format!(
                "exit code {c}, want {want_exit} ({} from here)",
                sc.verdict
            )),
            None => problems.push(format!("no exit code ({:?})", self.status)),
        }
        if let Some(t) = sc
            .greeting
            .as_ref()
            .filter(|t| !self.stdout.contains(t.as_str()) && !self.stderr.contains(t.as_str()))
        {
            problems.push(format!("the output does not show {t:?}"));
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(self.explain(sc, &problems, self.report().ok().as_ref()))
    }

    fn explain(&self, sc: &Scenario, problems: &[String], report: Option<&Value>) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "=== {} ({}; {}) — scenarios.tsv line {}",
            sc.name, sc.server, sc.about, sc.line
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
