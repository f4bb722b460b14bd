//! The interop tier: the built `mailcheck-audit` against real Postfix, Exim, OpenSMTPD, Knot,
//! Unbound and rbldnsd in the lab network namespace (`tests/lab/`, see `tests/lab/up.sh`).
//!
//! * [`load_scenarios`] reads `tests/lab/scenarios.tsv`: per lab domain, the expected verdict,
//!   the exact set of finding codes, a greeting the transcript must show, the namespace the
//!   prober runs in and extra command-line flags. A row without a domain runs `--vantage` alone.
//! * [`Lab`] describes the running lab (namespaces, resolvers, CA, the prober's identity in each
//!   namespace) and tells whether it is usable.
//! * [`run_scenario`] runs the binary for one row inside its namespace; [`Outcome::check`]
//!   compares the report with the scenario and, on a mismatch, explains it with the findings,
//!   the transcript and the whole report JSON, so a CI log alone is enough to diagnose it.
//!
//! * [`sender`]: the sending side, `tests/lab/senders.tsv`: `mailcheck-audit sender` per row
//!   against the real Knot records (PTRs, HELO names, SPF, DMARC) and rbldnsd zones.
//!
//! The harness is `tests/interop.rs` (`cargo test -p mailcheck-interop`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod sender;

/// One row of `tests/lab/scenarios.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Unique name of the row: the domain, `DOMAIN@NAMESPACE` when the prober runs outside the
    /// lab namespace, `vantage@NAMESPACE` for a `--vantage` row. Command-line filters match it.
    pub name: String,
    /// The lab domain, e.g. `relay.test`; `None` for a `--vantage` row (no domain is checked).
    pub domain: Option<String>,
    /// Expected verdict: `invalid`, `broken`, `no_mail`, `degraded`, `inconclusive` or `ok`; for a
    /// `--vantage` row `usable` (exit 0) or `blocked` (exit 1).
    pub verdict: String,
    /// Expected finding codes, exactly.
    pub codes: BTreeSet<String>,
    /// Text the report's SMTP transcript must contain (the real server's own greeting); for a
    /// `--vantage` row, text its output must contain.
    pub greeting: Option<String>,
    /// Network namespace the prober runs in; `None` = the lab's own (`mxlab`).
    pub from: Option<String>,
    /// Extra flags, each one token (`--flag` or `--flag=value`). A flag given here replaces the
    /// same flag of the standard command line; `!--flag` removes it from there.
    pub args: Vec<String>,
    /// Which lab server answers for it.
    pub server: String,
    /// What the scenario is about.
    pub about: String,
    /// Line number in the TSV file.
    pub line: usize,
}

impl Scenario {
    /// Whether this row runs `mailcheck-audit --vantage` instead of checking a domain.
    pub fn is_vantage(&self) -> bool {
        self.domain.is_none()
    }

    /// Whether this row's outcome depends on mailcheck validating DNSSEC from the lab's root key
    /// (`--trust-anchor`): it expects a `dane.*` code or `dns.dnssec_bogus`.
    pub fn needs_trust_anchor(&self) -> bool {
        self.codes
            .iter()
            .any(|c| c.starts_with("dane.") || c == "dns.dnssec_bogus")
    }
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

/// Expected outcomes of a `--vantage` row: port 25 usable from there (exit 0) or blocked (exit 1).
pub const VANTAGE_VERDICTS: &[&str] = &["usable", "blocked"];

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

/// Parse the scenario table: tab-separated `domain verdict codes greeting from args server about`
/// (the older six-column form without `from` and `args` is still read), a header row starting with
/// `domain`, `#` comments, `-` for "none"/"default".
pub fn parse_scenarios(text: &str) -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') || raw.starts_with("domain\t") {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        let (domain, verdict, codes, greeting, from, args, server, about) = match cols[..] {
            [d, v, c, g, f, a, s, ab] => (d, v, c, g, f, a, s, ab),
            [d, v, c, g, s, ab] => (d, v, c, g, "-", "-", s, ab),
            _ => {
                return Err(format!(
                    "line {line}: want 8 tab-separated columns (or the older 6), got {}",
                    cols.len()
                ));
            }
        };
        let none = |c: &str| c.trim() == "-" || c.trim().is_empty();
        let args: Vec<String> = if none(args) {
            Vec::new()
        } else {
            args.split_whitespace().map(str::to_owned).collect()
        };
        if let Some(bad) = args
            .iter()
            .find(|a| !a.starts_with("--") && !a.starts_with("!--"))
        {
            return Err(format!(
                "line {line}: argument {bad:?} is not --flag, --flag=value or !--flag"
            ));
        }
        let vantage = args.iter().any(|a| a == "--vantage");
        let domain = (!none(domain)).then(|| domain.to_owned());
        let from = (!none(from)).then(|| from.to_owned());
        match (&domain, vantage) {
            (None, false) => return Err(format!("line {line}: no domain and no --vantage")),
            (Some(d), true) => {
                return Err(format!("line {line}: --vantage row names a domain ({d})"));
            }
            _ => {}
        }
        let verdicts = if vantage { VANTAGE_VERDICTS } else { VERDICTS };
        if !verdicts.contains(&verdict) {
            return Err(format!(
                "line {line}: unknown verdict {verdict:?} (want one of {verdicts:?})"
            ));
        }
        let name = match (&domain, &from) {
            (Some(d), None) => d.clone(),
            (Some(d), Some(f)) => format!("{d}@{f}"),
            (None, f) => format!("vantage@{}", f.as_deref().unwrap_or("lab")),
        };
        if out.iter().any(|s| s.name == name) {
            return Err(format!("line {line}: duplicate row {name}"));
        }
        let codes = match codes {
            "-" => BTreeSet::new(),
            c => c.split(',').map(|c| c.trim().to_owned()).collect(),
        };
        out.push(Scenario {
            name,
            domain,
            verdict: verdict.to_owned(),
            codes,
            greeting: (greeting != "-").then(|| greeting.to_owned()),
            from,
            args,
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

/// Where the prober runs: a network namespace, with the resolver, egress canary and EHLO name
/// that work from there (a good identity: the name's A and PTR are the address servers see).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prober {
    /// Network namespace.
    pub ns: String,
    /// Recursive resolver reachable from it.
    pub resolver: String,
    /// A port-25 host that answers unless our own egress is blocked.
    pub egress_canary: String,
    /// Our EHLO name from there.
    pub helo: String,
}

/// The running lab, from the same `MXLAB_*` variables as `tests/lab/env.sh` (same defaults).
#[derive(Debug, Clone)]
pub struct Lab {
    /// Network namespace holding the lab (and the default prober).
    pub ns: String,
    /// Lab CA, for `--ca-file`.
    pub ca: PathBuf,
    /// DNSBL zone served by rbldnsd.
    pub dnsbl_zone: String,
    /// TCP connect timeout passed to the prober (seconds): the lab's intentional timeouts need
    /// not take the default 10 s, twice (a timed-out connect is retried once).
    pub connect_timeout: String,
    /// The prober namespaces: the lab's own first, then `mxnat`, `mxrej`, `mxdrop`.
    pub probers: Vec<Prober>,
    /// The lab root's DNSKEY (Knot signs `.`), for `--trust-anchor`; `None` when the binary
    /// does not offer that flag (the harness then skips the rows that need it).
    pub trust_anchor: Option<PathBuf>,
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
        let wan_resolver = env_or("MXLAB_WAN_RESOLVER", "198.18.25.53");
        let wan_canary = env_or("MXLAB_WAN_CANARY", "198.18.25.10:25");
        let outside = |ns_var: &str, ns: &str, helo_var: &str, helo: &str| Prober {
            ns: env_or(ns_var, ns),
            resolver: wan_resolver.clone(),
            egress_canary: wan_canary.clone(),
            helo: env_or(helo_var, helo),
        };
        let lab = Prober {
            ns: env_or("MXLAB_NS", "mxlab"),
            resolver: env_or("MXLAB_RESOLVER", "127.0.0.53"),
            egress_canary: env_or("MXLAB_EGRESS_CANARY", "127.0.0.10:25"),
            helo: env_or("MXLAB_HELO", "probe.test"),
        };
        Self {
            ns: lab.ns.clone(),
            ca: PathBuf::from(env_or("MXLAB_CA", &format!("{run}/tls/ca.pem"))),
            dnsbl_zone: env_or("MXLAB_DNSBL_ZONE", "bl.test"),
            connect_timeout: env_or("MXLAB_CONNECT_TIMEOUT", "3"),
            trust_anchor: Some(PathBuf::from(env_or(
                "MXLAB_TRUST_ANCHOR",
                &format!("{run}/dnssec/root.key"),
            ))),
            probers: vec![
                lab,
                outside("MXLAB_NAT_NS", "mxnat", "MXLAB_NAT_HELO", "nat.probe.test"),
                outside("MXLAB_REJ_NS", "mxrej", "MXLAB_REJ_HELO", "rej.probe.test"),
                outside(
                    "MXLAB_DROP_NS",
                    "mxdrop",
                    "MXLAB_DROP_HELO",
                    "drop.probe.test",
                ),
            ],
        }
    }

    /// The prober of a scenario (`from` = `None`: the lab's own namespace).
    pub fn prober(&self, from: Option<&str>) -> Result<&Prober, String> {
        let ns = from.unwrap_or(&self.ns);
        self.probers.iter().find(|p| p.ns == ns).ok_or_else(|| {
            let known: Vec<&str> = self.probers.iter().map(|p| p.ns.as_str()).collect();
            format!("unknown prober namespace {ns:?} (known: {known:?})")
        })
    }

    /// `Ok` when the lab looks up and usable from here; otherwise why not.
    pub fn availability(&self) -> Result<(), String> {
        if !self.ca.exists() {
            return Err(format!(
                "lab CA {} is missing (is the lab up? sudo bash tests/lab/up.sh)",
                self.ca.display()
            ));
        }
        self.namespace_usable(&self.ns)
    }

    /// `Ok` when namespace `ns` exists and we can enter it.
    pub fn namespace_usable(&self, ns: &str) -> Result<(), String> {
        let netns = Path::new("/run/netns").join(ns);
        if !netns.exists() {
            return Err(format!(
                "namespace {ns} does not exist (bring the lab up with: sudo bash tests/lab/up.sh)"
            ));
        }
        let probe = Command::new("ip")
            .args(["netns", "exec", ns, "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match probe {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "cannot enter namespace {ns} (root needed): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run `ip netns exec`: {e}")),
        }
    }

    /// The standard command line from a prober's namespace, one token per flag (`--flag=value`).
    pub fn base_args(&self, prober: &Prober) -> Vec<String> {
        let mut args = vec![
            format!("--resolver={}", prober.resolver),
            "--allow-private".to_owned(),
            format!("--ca-file={}", self.ca.display()),
            format!("--dnsbl={}", self.dnsbl_zone),
            format!("--egress-canary={}", prober.egress_canary),
            format!("--helo={}", prober.helo),
            format!("--connect-timeout={}", self.connect_timeout),
            "--format=json".to_owned(),
            "--no-progress".to_owned(),
            // The scenarios are not anybody's history (tests/history_pg.rs drops this flag).
            "--no-history".to_owned(),
        ];
        if let Some(t) = &self.trust_anchor {
            args.push(format!("--trust-anchor={}", t.display()));
        }
        // extra flags for experiments, e.g. MXLAB_AUDIT_ARGS="--command-timeout=5"
        if let Ok(extra) = std::env::var("MXLAB_AUDIT_ARGS") {
            let extra: Vec<String> = extra.split_whitespace().map(str::to_owned).collect();
            args = merge_args(args, &extra);
        }
        args
    }

    /// The command line for one row (without the `ip netns exec` prefix): the standard flags of
    /// its namespace, merged with the row's own, then the domain.
    pub fn audit_args(&self, sc: &Scenario) -> Result<Vec<String>, String> {
        let prober = self.prober(sc.from.as_deref())?;
        let mut args = merge_args(self.base_args(prober), &sc.args);
        args.extend(sc.domain.iter().cloned());
        Ok(args)
    }
}

/// The flag name of a `--flag` / `--flag=value` token.
fn flag_name(token: &str) -> &str {
    token.split_once('=').map_or(token, |(f, _)| f)
}

/// `base` with `extra` applied: `!--flag` drops every `--flag` of `base`; any other flag of
/// `extra` replaces every occurrence of the same flag in `base` (so `--dnsbl=a --dnsbl=b` in
/// `extra` gives exactly those two) and is appended.
pub fn merge_args(base: Vec<String>, extra: &[String]) -> Vec<String> {
    let mut drop: BTreeSet<&str> = BTreeSet::new();
    for e in extra {
        drop.insert(flag_name(e.strip_prefix('!').unwrap_or(e)));
    }
    let mut out: Vec<String> = base
        .into_iter()
        .filter(|b| !drop.contains(flag_name(b)))
        .collect();
    out.extend(extra.iter().filter(|e| !e.starts_with('!')).cloned());
    out
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

/// Run `ip netns exec <ns> <bin> <args…> [<domain>]` for one row, killing it after `timeout`.
pub fn run_scenario(lab: &Lab, bin: &Path, sc: &Scenario, timeout: Duration) -> Outcome {
    let start = Instant::now();
    match lab
        .prober(sc.from.as_deref())
        .and_then(|p| Ok((p.ns.clone(), lab.audit_args(sc)?)))
    {
        Ok((ns, args)) => run_in(&ns, bin, &args, timeout),
        Err(e) => Outcome {
            command: format!("(row {})", sc.name),
            status: None,
            stdout: String::new(),
            stderr: e,
            elapsed: start.elapsed(),
        },
    }
}

/// The rows a batch run covers: probed from the lab's own namespace with the standard flags, a
/// domain each (not a `--vantage` row).
pub fn batchable(sc: &Scenario) -> bool {
    sc.from.is_none() && sc.args.is_empty() && !sc.is_vantage() && sc.domain.is_some()
}

/// Every row in `rows` in ONE `mailcheck-audit` run (JSON lines out), as an MSP's nightly CSV
/// would: the domains that share a real server share its sessions and transactions.
pub fn run_batch(lab: &Lab, bin: &Path, rows: &[&Scenario], timeout: Duration) -> Outcome {
    let prober = &lab.probers[0];
    let mut args = merge_args(lab.base_args(prober), &["--format=jsonl".to_owned()]);
    args.extend(rows.iter().filter_map(|sc| sc.domain.clone()));
    run_in(&prober.ns, bin, &args, timeout)
}

/// Run `ip netns exec <ns> <bin> <args…>`, killing it after `timeout`.
pub fn run_in(ns: &str, bin: &Path, args: &[String], timeout: Duration) -> Outcome {
    let start = Instant::now();
    let ns = ns.to_owned();
    let command = format!("ip netns exec {ns} {} {}", bin.display(), args.join(" "));
    let spawned = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin)
        .args(args)
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

#[cfg(test)]
mod tests {
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
        let s =
            parse_scenarios("# c\ndomain\tverdict\ta\tb\tc\td\na.test\tbroken\tb.c,a.b\t-\tx\ty\n")
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

    #[test]
    fn vantage_rows_check_exit_code_block_and_findings() {
        let sc = &parse_scenarios(
            "-\tblocked\tprobe.egress_blocked\tBLOCKED\tmxrej\t--vantage\tcanary\tx\n",
        )
        .unwrap()[0];
        let ok = Outcome {
            command: "x".into(),
            status: exit(1),
            stdout: r#"{"from_here":{"port25_blocked":true,"lines":["outbound port 25 over IPv4: BLOCKED"],"findings":[{"code":"probe.egress_blocked"}]}}"#.into(),
            stderr: String::new(),
            elapsed: Duration::ZERO,
        };
        ok.check(sc).unwrap();
        let open = Outcome {
            status: exit(0),
            stdout: r#"{"from_here":{"port25_blocked":false,"lines":["outbound port 25 over IPv4: open"],"findings":[]}}"#.into(),
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
}
