//! What a run costs: CPU ticks and memory from `/proc`, and the engine run itself ([`audit`]),
//! with a renderer that counts the rows it renders.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailcheck::{CheckConfig, Checker};
use mailcheck_audit::input::{Inputs, Source};
use mailcheck_audit::output::csv::CsvRender;
use mailcheck_audit::output::jsonl::JsonlRender;
use mailcheck_audit::output::{Chunk, Finish, Format, Item, Render, Sink};
use mailcheck_audit::run::{Options, run};
use mailcheck_audit::summary::Summary;

/// (utime + stime) in clock ticks of a `/proc/.../stat` line.
pub(crate) fn stat_ticks(stat: &str) -> u64 {
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

pub(crate) fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU ticks of the whole process, and of the threads whose name starts with `prefix`.
pub(crate) fn cpu_ticks(prefix: &str) -> (u64, u64) {
    let total = std::fs::read_to_string("/proc/self/stat")
        .map(|s| stat_ticks(&s))
        .unwrap_or(0);
    let mut lab = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.starts_with(prefix) {
                lab += std::fs::read_to_string(t.path().join("stat"))
                    .map(|s| stat_ticks(&s))
                    .unwrap_or(0);
            }
        }
    }
    (total, lab)
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A renderer that counts the rows it renders (the engine has no progress hook).
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Render>,
    rows: Arc<AtomicU64>,
}

impl Render for Counting {
    fn start(&self, columns: &[String]) -> String {
        self.inner.start(columns)
    }
    fn row(&self, item: Item<'_>) -> Chunk {
        let chunk = self.inner.row(item);
        self.rows.fetch_add(1, Ordering::Relaxed);
        chunk
    }
    fn separator(&self) -> &'static str {
        self.inner.separator()
    }
    fn finish(&self, summary: &Summary) -> Finish {
        self.inner.finish(summary)
    }
}

pub(crate) struct Measured {
    pub(crate) summary: Summary,
    pub(crate) wall: Duration,
    pub(crate) audit_cpu_ms: f64,
    pub(crate) lab_cpu_ms: f64,
}

/// Runs the engine over `source` with a CSV report (and a JSONL one when `jsonl`) in `out`;
/// `rows` counts rendered rows. CPU of threads named `bench-lab*` is the lab's.
pub(crate) fn audit(
    config: CheckConfig,
    source: Source,
    concurrency: usize,
    jsonl: bool,
    out: &Path,
    rows: &Arc<AtomicU64>,
) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ticks = clock_ticks_per_sec();
    let (cpu0, lab0) = cpu_ticks("bench-lab");
    let started = Instant::now();
    let summary = rt
        .block_on(async {
            let checker = Arc::new(Checker::new(config).expect("config"));
            let inputs = Inputs::open(vec![source]).expect("inputs");
            let cols = inputs.columns().to_vec();
            let counted: Arc<dyn Render> = Arc::new(Counting {
                inner: Arc::new(CsvRender),
                rows: Arc::clone(rows),
            });
            let mut sinks = vec![
                Sink::file(&out.join("bench.csv"), Format::Csv, counted, &cols, false)
                    .expect("csv"),
            ];
            if jsonl {
                sinks.push(
                    Sink::file(
                        &out.join("bench.jsonl"),
                        Format::Jsonl,
                        Arc::new(JsonlRender),
                        &cols,
                        false,
                    )
                    .expect("jsonl"),
                );
            }
            let opts = Options::new(concurrency);
            let summary = run(Arc::clone(&checker), inputs, sinks, None, None, &opts).await;
            checker.shutdown().await;
            summary
        })
        .expect("run");
    let wall = started.elapsed();
    let (cpu1, lab1) = cpu_ticks("bench-lab");
    Measured {
        summary,
        wall,
        audit_cpu_ms: ((cpu1 - cpu0).saturating_sub(lab1 - lab0)) as f64 * 1000.0 / ticks as f64,
        lab_cpu_ms: (lab1 - lab0) as f64 * 1000.0 / ticks as f64,
    }
}
