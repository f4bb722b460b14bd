//! The run history on a real PostgreSQL (the lab's, `MXLAB_PG_URL`, started by
//! `tests/lab/up.sh`), through the built `mailcheck-audit` inside the lab namespace:
//! - two runs with one fault changed between them (the blocklist check is off in the first, so
//!   listed.test gets worse in the second): the changes, `--fail-on worse`, and `history
//!   runs|show|diff|export|prune` read back from PostgreSQL;
//! - a run killed with SIGKILL mid-list: every row its JSONL report shows is in the database,
//!   and `--resume` continues the same run to the end.
//!
//! Each test creates its own database. Without the lab the tests pass with an
//! `interop: SKIPPED` line, unless `MXLAB_REQUIRED=1` (CI, tests/run-all.sh): then they fail.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mailcheck_interop::{Lab, Outcome, audit_binary, merge_args, run_in};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(180);

struct Pg {
    lab: Lab,
    bin: PathBuf,
    /// This test's own database.
    url: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The lab's PostgreSQL with a fresh database, or `None` (after saying why) when the lab is not
/// there and not required.
fn pg(test: &str) -> Option<Pg> {
    let lab = Lab::from_env();
    let bin = audit_binary();
    let why = match lab.availability() {
        Err(why) => Some(why),
        Ok(()) if !bin.is_file() => Some(format!("{} not built", bin.display())),
        Ok(()) => None,
    };
    if let Some(why) = why {
        assert!(
            std::env::var("MXLAB_REQUIRED").map_or(true, |v| v != "1"),
            "the history tests on PostgreSQL are required (MXLAB_REQUIRED=1) but cannot run: {why}"
        );
        // Straight to stdout (not captured), for tests/run-all.sh's list of skipped parts.
        let _ = writeln!(
            std::io::stdout(),
            "interop: SKIPPED — {test} (run history on PostgreSQL): {why}"
        );
        return None;
    }
    let admin = env_or(
        "MXLAB_PG_URL",
        "postgres://mailcheck@127.0.0.57:5432/mailcheck",
    );
    static N: AtomicUsize = AtomicUsize::new(0);
    let db = format!(
        "history_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns,
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .arg(&admin)
        .args(["-c", &format!("CREATE DATABASE {db}")])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "cannot create database {db} at {admin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(Pg {
        url: format!("{base}/{db}"),
        lab,
        bin,
    })
}

impl Pg {
    /// The standard lab flags with this database as the history, plus `extra`.
    fn audit(&self, extra: &[&str]) -> Vec<String> {
        let mut flags = vec![
            "!--no-history".to_owned(),
            format!("--history={}", self.url),
        ];
        flags.extend(extra.iter().map(|s| (*s).to_owned()));
        merge_args(self.lab.base_args(&self.lab.probers[0]), &flags)
    }

    fn run(&self, args: &[String]) -> Outcome {
        run_in(&self.lab.ns, &self.bin, args, TIMEOUT)
    }

    /// `mailcheck-audit history --history URL ARGS…`.
    fn history(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["history".to_owned(), format!("--history={}", self.url)];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        let out = self.run(&all);
        assert_eq!(code(&out), 0, "{}\n{}", out.command, out.stderr);
        out
    }
}

fn code(o: &Outcome) -> i32 {
    o.status.and_then(|s| s.code()).unwrap_or(-1)
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn by_domain<'a>(lines: &'a [Value], domain: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["domain"] == domain)
        .unwrap_or_else(|| panic!("no line for {domain}"))
}

#[test]
fn two_runs_on_postgres_show_the_change() {
    let Some(pg) = pg("two_runs_on_postgres_show_the_change") else {
        return;
    };
    let domains = ["good.test", "listed.test"];
    let mut night1 = pg.audit(&["--no-dnsbl", "--format=jsonl", "--fail-on=worse"]);
    night1.retain(|a| !a.starts_with("--dnsbl="));
    night1.extend(domains.iter().map(|d| (*d).to_owned()));
    let out = pg.run(&night1);
    assert_eq!(code(&out), 0, "{}\n{}", out.command, out.stderr);
    let first = lines(&out.stdout);
    assert!(first.iter().all(|l| l["changes"]["change"] == "new"));

    let mut night2 = pg.audit(&["--format=jsonl", "--fail-on=worse"]);
    night2.extend(domains.iter().map(|d| (*d).to_owned()));
    let out = pg.run(&night2);
    assert_eq!(
        code(&out),
        1,
        "--fail-on worse: {}\n{}",
        out.command,
        out.stderr
    );
    let second = lines(&out.stdout);
    let listed = &by_domain(&second, "listed.test")["changes"];
    assert_eq!(listed["change"], "worse", "{listed}");
    assert_eq!(listed["previous_verdict"], "ok");
    assert_eq!(listed["new_findings"][0]["code"], "dnsbl.listed");
    assert_eq!(by_domain(&second, "good.test")["changes"]["change"], "same");
    assert!(out.stderr.contains("1 worse"), "{}", out.stderr);

    let show = pg.history(&["show", "listed.test", "--format=json"]);
    let v: Value = serde_json::from_str(&show.stdout).unwrap();
    let changes: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["changes"]["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["new", "worse"]);
    let text = pg.history(&["show", "listed.test"]).stdout;
    assert!(text.contains("+ dnsbl.listed"), "{text}");
    let runs: Value = serde_json::from_str(&pg.history(&["runs", "--format=json"]).stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let diff = pg.history(&["diff", "latest"]).stdout;
    assert!(
        diff.contains("worse   listed.test  ok → degraded"),
        "{diff}"
    );
    assert_eq!(lines(&pg.history(&["export"]).stdout).len(), 4);
    let pruned = pg.history(&["prune", "--keep-days=0"]).stdout;
    assert!(pruned.contains("Deleted 1 run(s)"), "{pruned}");
}

/// Polls `path` until it holds at least `n` complete lines.
fn wait_for_lines(path: &Path, n: usize) -> String {
    let start = Instant::now();
    while start.elapsed() < TIMEOUT {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches('\n').count() >= n {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never had {n} lines", path.display());
}

#[test]
fn killed_run_on_postgres_keeps_every_reported_row() {
    let Some(pg) = pg("killed_run_on_postgres_keeps_every_reported_row") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mailcheck-history-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("list.csv");
    // greetpause.test holds its banner for MXLAB_GREET_PAUSE seconds: the run is still busy
    // with it when the three rows before it are reported.
    std::fs::write(
        &list,
        "domain\ngood.test\nexim.test\nlisted.test\ngreetpause.test\nnotls.test\n",
    )
    .unwrap();
    let jsonl = dir.join("run.jsonl");
    let _ = std::fs::remove_file(&jsonl);
    let out_flag = format!("--output={}", jsonl.display());
    let mut args = pg.audit(&["-j", "1", "!--format", &out_flag]);
    args.push(list.display().to_string());
    let mut child = Command::new("ip")
        .args(["netns", "exec", &pg.lab.ns])
        .arg(&pg.bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let text = wait_for_lines(&jsonl, 3);
    // `ip netns exec` execs the binary: this is SIGKILL to mailcheck-audit itself.
    child.kill().unwrap();
    let _ = child.wait();
    let complete: String = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    let reported = lines(&complete);
    assert!(reported.len() >= 3);

    let runs: Value = serde_json::from_str(&pg.history(&["runs", "--format=json"]).stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let run_id = runs[0]["run_id"].as_str().unwrap().to_owned();
    assert!(runs[0]["finished_at"].is_null(), "killed: never finished");
    let recorded = lines(&pg.history(&["export"]).stdout);
    for line in &reported {
        assert_eq!(line["run_id"], run_id.as_str());
        let r = by_domain(&recorded, line["domain"].as_str().unwrap());
        assert_eq!(r["verdict"], line["verdict"], "{}", line["domain"]);
        assert_eq!(r["run_id"], run_id.as_str());
    }

    let mut resume = pg.audit(&["--resume", "!--format", &out_flag]);
    resume.push(list.display().to_string());
    let out = pg.run(&resume);
    assert!(
        out.stderr.contains(&format!("continuing run {run_id}")),
        "{}\n{}",
        out.command,
        out.stderr
    );
    let all = lines(&std::fs::read_to_string(&jsonl).unwrap());
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|l| l["run_id"] == run_id.as_str()));
    let runs: Value = serde_json::from_str(&pg.history(&["runs", "--format=json"]).stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "the same run, continued");
    assert_eq!(runs[0]["rows"], 5);
    assert!(runs[0]["finished_at"].is_string());
    let _ = std::fs::remove_dir_all(&dir);
}
