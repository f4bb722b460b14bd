//! `mailcheck-audit plan INPUT --shards N --out DIR`: splits one input into shard files whose MX
//! addresses do not overlap (see [`crate::shard`]).
//!
//! 1. The input is read as the audit reads it ([`Inputs`]): every row gets its position, and
//!    each distinct domain is noted (rows that are not a domain share nothing).
//! 2. Each domain's mail hosts are resolved with the library's MX collection (MX, null and
//!    implicit MX, A and AAAA of every host; DNS only, no SMTP) through the resolver the flags
//!    name. Private and loopback addresses count only with `--allow-private`, as the audit
//!    probes them only then. Every address of every host counts, also those over the audit's
//!    fan-out caps: a plan never relies on a cap.
//! 3. Domains and addresses form a graph; its connected components ([`group::components`]) are
//!    packed into the shards by rows, largest first into the lightest ([`group::pack`]).
//! 4. The input is read again and each row written to its shard file, cell for cell, with the
//!    hidden [`ORIGIN_COLUMN`] (at most [`FILES_PER_PASS`] files open at a time: more shards
//!    take more passes). Then `plan.json` and a summary.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufWriter, IsTerminal as _, Read as _, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::StreamExt as _;
use mailcheck::DomainName;
use mailcheck::config::{DnsConfig, ResolverChoice};
use mailcheck::facts::{AddressScope, Lookup};
use mailcheck::probe::dns::{DnsSource, HickoryDns};
use mailcheck::probe::mx::{MailHosts, MxCollector};
use serde::{Deserialize, Serialize};

use super::group::{self, Unit};
use super::{Malformed, ORIGIN_COLUMN, Origin, PLAN_FILE, shard_file_name};
use crate::app::Exit;
use crate::error::AuditError;
use crate::input::{Inputs, Layout, Source};

/// Most shard files written in one pass over the input.
pub const FILES_PER_PASS: u32 = 256;

/// Most shards in a plan.
pub const MAX_SHARDS: u32 = 10_000;

/// `mailcheck-audit plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The CSV to split (a file, or - for stdin), read exactly as the audit reads it
    #[arg(value_name = "INPUT")]
    pub input: String,

    /// Shards to make: the array job's size (Kubernetes: completions of the Indexed Job)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SHARDS)))]
    pub shards: u32,

    /// Where to write `shard-0.csv` … `shard-<N-1>.csv` and `plan.json` (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Domains resolved at a time
    #[arg(short = 'j', long, value_name = "N", default_value_t = 64, value_parser = crate::cli::parse_concurrency)]
    pub concurrency: usize,

    /// DNS server to use instead of the system's (repeatable); give the shards the same
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,

    /// Count private/loopback addresses too (when the shards run with --allow-private)
    #[arg(long)]
    pub allow_private: bool,

    /// Per-lookup DNS timeout in seconds [default: the audit's]
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub timeout: Option<Duration>,
}

/// `plan.json`: what `plan` did, for people, scripts and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plan's id (in every shard row's origin).
    pub plan: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The input.
    pub input: InputStats,
    /// The hidden column of the shard files.
    pub origin_column: String,
    /// What DNS said.
    pub dns: DnsStats,
    /// The groups of domains sharing addresses.
    pub components: ComponentStats,
    /// The shards, by index.
    pub shards: Vec<ShardStats>,
}

/// The input of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStats {
    /// Its name, as the rows' `source` shows it.
    pub name: String,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Rows.
    pub rows: u64,
    /// Distinct domains.
    pub domains: u64,
    /// Rows that are not a domain (or not CSV): `invalid` rows.
    pub invalid_rows: u64,
}

/// DNS during planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsStats {
    /// The resolver asked.
    pub resolver: String,
    /// Whether private and loopback addresses counted.
    pub allow_private: bool,
    /// Domains with at least one counted address.
    pub with_addresses: u64,
    /// Domains without (NXDOMAIN, null MX, no mail host, …): placed freely.
    pub without_addresses: u64,
    /// Domains where a lookup failed (SERVFAIL, timeout): placed by what did resolve.
    pub failed: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// Private or loopback addresses left out (without `--allow-private`).
    pub private_ignored: u64,
}

/// The connected components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStats {
    /// Components with at least one address.
    pub count: u64,
    /// Rows of the largest.
    pub largest_rows: u64,
    /// Domains of the largest.
    pub largest_domains: u64,
    /// Addresses of the largest.
    pub largest_addresses: u64,
    /// Rows per shard if all were even (rounded up).
    pub even_share: u64,
    /// Components larger than an even share: their shard is bigger.
    pub oversized: Vec<Oversized>,
}

/// A component larger than an even share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oversized {
    /// Its rows.
    pub rows: u64,
    /// Its addresses (the first few, for the summary).
    pub addresses: Vec<IpAddr>,
    /// The shard it went to.
    pub shard: u32,
}

/// One shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardStats {
    /// Its index (`JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// Its file in the plan directory.
    pub file: String,
    /// Rows.
    pub rows: u64,
    /// Distinct domains.
    pub domains: u64,
    /// The MX addresses its domains use (each in this shard only), sorted.
    pub addresses: Vec<IpAddr>,
}

/// What DNS gave for one domain.
#[derive(Debug, Default)]
struct Resolved {
    addresses: Vec<IpAddr>,
    failed: bool,
    private_ignored: Vec<IpAddr>,
}

/// The input read once: each row's domain (`None`: an invalid row) and the domains.
#[derive(Debug, Default)]
struct Read {
    row_domain: Vec<Option<u32>>,
    domains: Vec<DomainName>,
    layout: Option<Layout>,
}

/// Runs `plan`.
pub async fn main(args: &PlanArgs) -> Result<Exit, AuditError> {
    std::fs::create_dir_all(&args.out).map_err(|e| AuditError::output(&args.out, e))?;
    let (path, name, _spool) = input_file(&args.input, &args.out)?;
    let hash_before = sha256_file(&path)?;

    let p = path.clone();
    let read = tokio::task::spawn_blocking(move || read_domains(&p))
        .await
        .map_err(|e| AuditError::Usage(format!("input thread failed: {e}")))??;
    if read.layout.as_ref().is_some_and(|l| l.has_origin) {
        return Err(AuditError::input(
            &name,
            None,
            format!(
                "has a {ORIGIN_COLUMN} column: it is a shard file already; plan the original input"
            ),
        ));
    }

    let mut dns_config = DnsConfig {
        resolver: ResolverChoice::from_args(&args.resolver)
            .map_err(|e| AuditError::Usage(format!("--resolver: {e}")))?,
        ..DnsConfig::default()
    };
    if let Some(t) = args.timeout {
        dns_config.timeout = t;
    }
    let dns = HickoryDns::new(&dns_config)?;
    let resolver = dns.label();
    let resolved = resolve_all(
        Arc::new(dns),
        &read.domains,
        args.concurrency,
        args.allow_private,
    )
    .await;

    let planned = assign(&read, &resolved, args.shards);
    let created = crate::history::time::now_ms();
    let plan_id = plan_id(&hash_before, args.shards, created);
    let rows = read.row_domain.len() as u64;
    let layout = read.layout.clone().unwrap_or(Layout {
        header: None,
        width: 1,
        has_origin: false,
    });
    let job = WriteJob {
        input: path.clone(),
        dir: args.out.clone(),
        layout,
        name: name.clone(),
        plan: plan_id.clone(),
        shards: args.shards,
        row_shard: planned.row_shard.clone(),
        shard_rows: planned.shard_rows.clone(),
    };
    let removed = tokio::task::spawn_blocking(move || job.write())
        .await
        .map_err(|e| AuditError::Usage(format!("writer thread failed: {e}")))??;
    if sha256_file(&path)? != hash_before {
        return Err(AuditError::input(
            &name,
            None,
            "changed while it was being planned; plan it again",
        ));
    }

    let manifest = manifest(
        &read,
        &resolved,
        &planned,
        Meta {
            plan: plan_id,
            created_at: crate::history::time::rfc3339(created),
            name,
            sha256: hash_before,
            resolver,
            allow_private: args.allow_private,
            rows,
        },
    );
    write_manifest(&args.out.join(PLAN_FILE), &manifest)?;
    print!("{}", summary_text(&manifest, &args.out, &removed));
    Ok(Exit::Ok)
}

/// The file to read (stdin is copied to a temporary file first: it is read twice), its name as
/// rows show it, and the temporary file to keep alive.
fn input_file(
    input: &str,
    dir: &Path,
) -> Result<(PathBuf, String, Option<tempfile::NamedTempFile>), AuditError> {
    match Source::classify(&[input.to_owned()])?.as_slice() {
        [Source::File(p)] => Ok((p.clone(), Source::File(p.clone()).name(), None)),
        [Source::Stdin] => {
            let mut spool = tempfile::Builder::new()
                .prefix(".mailcheck-stdin-")
                .suffix(".csv")
                .tempfile_in(dir)
                .map_err(|e| AuditError::output(dir, e))?;
            std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
                .map_err(|e| AuditError::input("-", None, format!("cannot read: {e}")))?;
            Ok((spool.path().to_path_buf(), "-".to_owned(), Some(spool)))
        }
        _ => Err(AuditError::Usage(format!(
            "plan splits a CSV file: {input:?} is not a file (give a path, or - for stdin)"
        ))),
    }
}

fn sha256_file(path: &Path) -> Result<String, AuditError> {
    let err = |e: std::io::Error| AuditError::input(path, None, format!("cannot read: {e}"));
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex(ctx.finish().as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// 12 hex digits from the input's hash, the shard count and the time: two plans never share one.
fn plan_id(input_hash: &str, shards: u32, created_ms: i64) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{input_hash}/{shards}/{created_ms}").as_bytes(),
    );
    hex(&digest.as_ref()[..6])
}

/// Pass 1 (blocking): every row's domain.
fn read_domains(path: &Path) -> Result<Read, AuditError> {
    let inputs = Inputs::open(vec![Source::File(path.to_path_buf())])?;
    let mut read = Read {
        layout: inputs.layout().cloned(),
        ..Read::default()
    };
    let mut index: HashMap<String, u32> = HashMap::new();
    inputs.for_each_row(|row| {
        let domain = if row.problem.is_some() {
            None
        } else {
            DomainName::parse(&row.input).ok()
        };
        let id = domain.map(|d| {
            let next = u32::try_from(read.domains.len()).unwrap_or(u32::MAX);
            *index.entry(d.as_str().to_owned()).or_insert_with(|| {
                read.domains.push(d);
                next
            })
        });
        read.row_domain.push(id);
        true
    })?;
    Ok(read)
}

/// Resolves every domain's mail hosts (MX, then A/AAAA of each host), `concurrency` at a time.
async fn resolve_all(
    dns: Arc<dyn DnsSource>,
    domains: &[DomainName],
    concurrency: usize,
    allow_private: bool,
) -> Vec<Resolved> {
    let collector = Arc::new(MxCollector::new(dns));
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(domains.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "resolving MX {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    let mut out: Vec<Resolved> = (0..domains.len()).map(|_| Resolved::default()).collect();
    let mut results = futures::stream::iter(domains.iter().enumerate())
        .map(|(i, d)| {
            let collector = Arc::clone(&collector);
            async move { (i, collector.collect(d).await) }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, hosts)) = results.next().await {
        out[i] = addresses(&hosts, allow_private);
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// The addresses the audit would probe for these mail hosts, and whether a lookup failed.
fn addresses(hosts: &MailHosts, allow_private: bool) -> Resolved {
    let mut r = Resolved {
        failed: matches!(hosts.mx, Lookup::Failed { .. })
            || hosts.implicit.as_ref().is_some_and(|l| l.any_failed()),
        ..Resolved::default()
    };
    for host in &hosts.hosts {
        r.failed |= host.lookups.any_failed();
        for a in &host.addresses {
            let private = AddressScope::of(a.ip).is_private() && !allow_private;
            let list = if private {
                &mut r.private_ignored
            } else {
                &mut r.addresses
            };
            if !list.contains(&a.ip) {
                list.push(a.ip);
            }
        }
    }
    r
}

/// Where every row goes.
#[derive(Debug)]
struct Planned {
    /// Each row's shard.
    row_shard: Vec<u32>,
    /// Rows per shard.
    shard_rows: Vec<u64>,
    /// Each domain's component.
    component: Vec<u32>,
    /// Each component's shard.
    component_shard: Vec<u32>,
    /// Each component's rows.
    component_rows: Vec<u64>,
}

fn assign(read: &Read, resolved: &[Resolved], shards: u32) -> Planned {
    let mut address_ids: HashMap<IpAddr, u32> = HashMap::new();
    let addresses_of: Vec<Vec<u32>> = resolved
        .iter()
        .map(|r| {
            r.addresses
                .iter()
                .map(|ip| {
                    let next = u32::try_from(address_ids.len()).unwrap_or(u32::MAX);
                    *address_ids.entry(*ip).or_insert(next)
                })
                .collect()
        })
        .collect();
    let component = group::components(&addresses_of, address_ids.len());
    let components = component.iter().map(|c| *c as usize + 1).max().unwrap_or(0);
    let mut units = vec![
        Unit {
            weight: 0,
            first: u64::MAX
        };
        components
    ];
    for (pos, d) in read.row_domain.iter().enumerate() {
        if let Some(d) = d {
            let u = &mut units[component[*d as usize] as usize];
            u.weight += 1;
            u.first = u.first.min(pos as u64);
        }
    }
    // Rows that are not a domain share nothing: each is a unit of its own.
    let loose: Vec<usize> = read
        .row_domain
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(pos, _)| pos)
        .collect();
    units.extend(loose.iter().map(|&pos| Unit {
        weight: 1,
        first: pos as u64,
    }));
    let (placed, shard_rows) = group::pack(&units, shards);
    let component_shard = placed[..components].to_vec();
    let component_rows = units[..components].iter().map(|u| u.weight).collect();
    let mut row_shard: Vec<u32> = read
        .row_domain
        .iter()
        .map(|d| d.map_or(0, |d| component_shard[component[d as usize] as usize]))
        .collect();
    for (k, pos) in loose.iter().enumerate() {
        row_shard[*pos] = placed[components + k];
    }
    Planned {
        row_shard,
        shard_rows,
        component,
        component_shard,
        component_rows,
    }
}

/// Pass 2: the shard files.
#[derive(Debug)]
struct WriteJob {
    input: PathBuf,
    dir: PathBuf,
    layout: Layout,
    name: String,
    plan: String,
    shards: u32,
    row_shard: Vec<u32>,
    shard_rows: Vec<u64>,
}

type ShardWriter = csv::Writer<BufWriter<tempfile::NamedTempFile>>;

impl WriteJob {
    /// Writes every shard file (blocking); returns the stale shard files it removed.
    fn write(self) -> Result<Vec<String>, AuditError> {
        let mut first = 0;
        while first < self.shards {
            let last = (first + FILES_PER_PASS).min(self.shards);
            self.write_pass(first..last)?;
            first = last;
        }
        self.remove_stale()
    }

    fn header(&self) -> Vec<String> {
        let mut header = self.layout.header.clone().unwrap_or_else(|| {
            (1..=self.layout.width)
                .map(|i| format!("column{i}"))
                .collect()
        });
        header.resize(self.layout.width, String::new());
        header.push(ORIGIN_COLUMN.to_owned());
        header
    }

    fn write_pass(&self, range: std::ops::Range<u32>) -> Result<(), AuditError> {
        let mut writers: Vec<ShardWriter> = Vec::new();
        let header = self.header();
        for i in range.clone() {
            let path = self.dir.join(shard_file_name(i));
            let tmp = tempfile::Builder::new()
                .prefix(".mailcheck-")
                .suffix(".part")
                .tempfile_in(&self.dir)
                .map_err(|e| AuditError::output(&path, e))?;
            let mut w = csv::WriterBuilder::new()
                // The audit skips lines starting with `#`: a cell with one is quoted.
                .comment(Some(b'#'))
                .from_writer(BufWriter::new(tmp));
            w.write_record(&header)
                .map_err(|e| AuditError::output(&path, e.into()))?;
            writers.push(w);
        }
        let inputs = Inputs::open(vec![Source::File(self.input.clone())])?;
        let mut pos = 0usize;
        let mut failure: Option<AuditError> = None;
        inputs.for_each_record(|row, cells| {
            let Some(&shard) = self.row_shard.get(pos) else {
                failure = Some(AuditError::input(
                    &self.name,
                    Some(row.line),
                    "has more rows than when it was read first; plan it again",
                ));
                return false;
            };
            let at = pos as u64;
            pos += 1;
            if !range.contains(&shard) {
                return true;
            }
            let origin = Origin {
                plan: self.plan.clone(),
                row: at,
                rows: self.row_shard.len() as u64,
                source: self.name.clone(),
                line: row.line,
                shard,
                shards: self.shards,
                shard_rows: self.shard_rows[shard as usize],
                malformed: match (&cells, &row.problem) {
                    (None, Some(reason)) => Some(Malformed {
                        input: row.input.clone(),
                        reason: reason.clone(),
                    }),
                    _ => None,
                },
            };
            let mut record = cells.unwrap_or_default();
            record.resize(self.layout.width, String::new());
            record.push(origin.to_cell());
            let w = &mut writers[(shard - range.start) as usize];
            if let Err(e) = w.write_record(&record) {
                failure = Some(AuditError::output(
                    self.dir.join(shard_file_name(shard)),
                    e.into(),
                ));
                return false;
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if pos != self.row_shard.len() {
            return Err(AuditError::input(
                &self.name,
                None,
                "has fewer rows than when it was read first; plan it again",
            ));
        }
        for (w, i) in writers.into_iter().zip(range) {
            let path = self.dir.join(shard_file_name(i));
            let err = |e: std::io::Error| AuditError::output(&path, e);
            let buf = w.into_inner().map_err(|e| err(e.into_error()))?;
            let mut tmp = buf.into_inner().map_err(|e| err(e.into_error()))?;
            tmp.flush().map_err(err)?;
            tmp.as_file().sync_all().map_err(err)?;
            let tmp = tmp.into_temp_path();
            crate::output::set_readable(&tmp);
            tmp.persist(&path).map_err(|e| err(e.error))?;
        }
        Ok(())
    }

    /// Removes `shard-<k>.csv` for k ≥ N, left by an earlier plan with more shards.
    fn remove_stale(&self) -> Result<Vec<String>, AuditError> {
        let mut removed = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| AuditError::output(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_prefix("shard-")
                .and_then(|n| n.strip_suffix(".csv"))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|k| k >= u64::from(self.shards));
            if stale {
                std::fs::remove_file(entry.path())
                    .map_err(|e| AuditError::output(entry.path(), e))?;
                removed.push(name);
            }
        }
        removed.sort();
        Ok(removed)
    }
}

/// What the manifest needs besides the grouping.
#[derive(Debug)]
struct Meta {
    plan: String,
    created_at: String,
    name: String,
    sha256: String,
    resolver: String,
    allow_private: bool,
    rows: u64,
}

fn manifest(read: &Read, resolved: &[Resolved], planned: &Planned, meta: Meta) -> Manifest {
    let shards = planned.shard_rows.len();
    let mut shard_domains = vec![0u64; shards];
    let mut shard_addresses: Vec<Vec<IpAddr>> = vec![Vec::new(); shards];
    let components = planned.component_rows.len();
    let mut component_domains = vec![0u64; components];
    let mut component_addresses: Vec<Vec<IpAddr>> = vec![Vec::new(); components];
    let mut all: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    let mut private: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    for (d, r) in resolved.iter().enumerate() {
        let c = planned.component[d] as usize;
        let s = planned.component_shard[c] as usize;
        shard_domains[s] += 1;
        component_domains[c] += 1;
        for ip in &r.addresses {
            if all.insert(*ip) {
                shard_addresses[s].push(*ip);
                component_addresses[c].push(*ip);
            }
        }
        private.extend(r.private_ignored.iter().copied());
    }
    for a in &mut shard_addresses {
        a.sort_unstable();
    }
    let with_addresses = resolved.iter().filter(|r| !r.addresses.is_empty()).count() as u64;
    let even_share = meta.rows.div_ceil(shards.max(1) as u64);
    let mut shared: Vec<usize> = (0..components)
        .filter(|&c| !component_addresses[c].is_empty())
        .collect();
    shared.sort_by_key(|&c| std::cmp::Reverse(planned.component_rows[c]));
    let largest = shared.first().copied();
    let oversized = shared
        .iter()
        .filter(|&&c| planned.component_rows[c] > even_share)
        .map(|&c| Oversized {
            rows: planned.component_rows[c],
            addresses: component_addresses[c].iter().take(5).copied().collect(),
            shard: planned.component_shard[c],
        })
        .collect();
    Manifest {
        plan: meta.plan,
        created_at: meta.created_at,
        input: InputStats {
            name: meta.name,
            sha256: meta.sha256,
            rows: meta.rows,
            domains: read.domains.len() as u64,
            invalid_rows: read.row_domain.iter().filter(|d| d.is_none()).count() as u64,
        },
        origin_column: ORIGIN_COLUMN.to_owned(),
        dns: DnsStats {
            resolver: meta.resolver,
            allow_private: meta.allow_private,
            with_addresses,
            without_addresses: resolved.len() as u64 - with_addresses,
            failed: resolved.iter().filter(|r| r.failed).count() as u64,
            addresses: all.len() as u64,
            private_ignored: private.len() as u64,
        },
        components: ComponentStats {
            count: shared.len() as u64,
            largest_rows: largest.map_or(0, |c| planned.component_rows[c]),
            largest_domains: largest.map_or(0, |c| component_domains[c]),
            largest_addresses: largest.map_or(0, |c| component_addresses[c].len() as u64),
            even_share,
            oversized,
        },
        shards: (0..shards)
            .map(|i| ShardStats {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                file: shard_file_name(u32::try_from(i).unwrap_or(u32::MAX)),
                rows: planned.shard_rows[i],
                domains: shard_domains[i],
                addresses: std::mem::take(&mut shard_addresses[i]),
            })
            .collect(),
    }
}

fn write_manifest(path: &Path, manifest: &Manifest) -> Result<(), AuditError> {
    let err = |e: std::io::Error| AuditError::output(path, e);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".mailcheck-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(err)?;
    let mut json = serde_json::to_string_pretty(manifest).map_err(|e| err(e.into()))?;
    json.push('\n');
    tmp.write_all(json.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    let tmp = tmp.into_temp_path();
    crate::output::set_readable(&tmp);
    tmp.persist(path).map_err(|e| err(e.error))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary `plan` prints.
pub fn summary_text(m: &Manifest, dir: &Path, removed: &[String]) -> String {
    let mut out = String::new();
    let dir = dir.display();
    let _ = writeln!(
        out,
        "Planned {} ({}, {} invalid) of {} into {} in {dir} (plan {}).",
        plural(m.input.rows, "row", "rows"),
        plural(m.input.domains, "domain", "domains"),
        m.input.invalid_rows,
        m.input.name,
        plural(m.shards.len() as u64, "shard", "shards"),
        m.plan,
    );
    let _ = writeln!(
        out,
        "DNS ({}): {} with MX addresses ({} distinct), {} without{}{}.",
        m.dns.resolver,
        plural(m.dns.with_addresses, "domain", "domains"),
        m.dns.addresses,
        m.dns.without_addresses,
        if m.dns.failed > 0 {
            format!(
                "; {} had a failed lookup (placed by what did resolve; plan again if that is many)",
                plural(m.dns.failed, "domain", "domains")
            )
        } else {
            String::new()
        },
        if m.dns.private_ignored > 0 {
            format!(
                "; {} private/loopback address(es) not counted (the audit probes them only with --allow-private)",
                m.dns.private_ignored
            )
        } else {
            String::new()
        },
    );
    let _ = writeln!(
        out,
        "Groups of domains with addresses (those sharing one stay together): {}; the largest has {} ({}, {}).",
        m.components.count,
        plural(m.components.largest_rows, "row", "rows"),
        plural(m.components.largest_domains, "domain", "domains"),
        plural(m.components.largest_addresses, "address", "addresses"),
    );
    for s in &m.shards {
        let _ = writeln!(
            out,
            "  {:<16} {:>9} rows {:>9} domains {:>7} addresses",
            s.file,
            s.rows,
            s.domains,
            s.addresses.len()
        );
    }
    let min = m.shards.iter().map(|s| s.rows).min().unwrap_or(0);
    let max = m.shards.iter().map(|s| s.rows).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "Balance: {min}–{max} rows per shard (an even share is {}).",
        m.components.even_share
    );
    for o in &m.components.oversized {
        let _ = writeln!(
            out,
            "Note: a group of {} shares addresses ({}{}) and is larger than an even share: shard {} is bigger.",
            plural(o.rows, "row", "rows"),
            o.addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if o.addresses.len() >= 5 { ", …" } else { "" },
            o.shard,
        );
    }
    if !removed.is_empty() {
        let _ = writeln!(
            out,
            "Removed shard files of an earlier, larger plan: {}.",
            removed.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Next: run each shard i = 0…{} (e.g. a Kubernetes Indexed Job, deploy/k8s/):\n  \
         mailcheck-audit {dir}/shard-$i.csv -o shard-$i.jsonl [your flags]\n\
         then: mailcheck-audit merge shard-*.jsonl -o report.html -o report.csv",
        m.shards.len().saturating_sub(1)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(rows: &[Option<u32>], domains: usize) -> Read {
        Read {
            row_domain: rows.to_vec(),
            domains: (0..domains)
                .map(|i| DomainName::parse(&format!("d{i}.test")).unwrap())
                .collect(),
            layout: None,
        }
    }

    fn at(ips: &[&str]) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|s| s.parse().unwrap()).collect(),
            ..Resolved::default()
        }
    }

    #[test]
    fn shared_addresses_stay_in_one_shard_and_the_rest_balances() {
        // d0, d1 share 192.0.2.1; d1, d2 share 192.0.2.2 (so d0–d2 are one group); d3 alone;
        // d4 has no address; two invalid rows; d0 twice.
        let r = read(
            &[
                Some(0),
                Some(1),
                None,
                Some(2),
                Some(3),
                Some(0),
                Some(4),
                None,
            ],
            5,
        );
        let resolved = [
            at(&["192.0.2.1"]),
            at(&["192.0.2.1", "192.0.2.2"]),
            at(&["192.0.2.2"]),
            at(&["192.0.2.3"]),
            at(&[]),
        ];
        let p = assign(&r, &resolved, 3);
        let group = p.row_shard[0];
        for pos in [1, 3, 5] {
            assert_eq!(p.row_shard[pos], group, "row {pos}");
        }
        assert_eq!(p.shard_rows.iter().sum::<u64>(), 8);
        assert_eq!(p.shard_rows[group as usize], 4);
        let m = manifest(
            &r,
            &resolved,
            &p,
            Meta {
                plan: "x".into(),
                created_at: String::new(),
                name: "in.csv".into(),
                sha256: String::new(),
                resolver: "test".into(),
                allow_private: false,
                rows: 8,
            },
        );
        let mut seen = std::collections::HashSet::new();
        for s in &m.shards {
            for a in &s.addresses {
                assert!(seen.insert(*a), "{a} in two shards");
            }
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(m.components.count, 2);
        assert_eq!(m.components.largest_rows, 4);
        assert_eq!(m.components.even_share, 3);
        assert_eq!(m.components.oversized.len(), 1);
        assert_eq!(m.input.invalid_rows, 2);
        let text = summary_text(&m, Path::new("plan"), &[]);
        assert!(
            text.contains("shard 0 is bigger") || text.contains("is bigger"),
            "{text}"
        );
    }

    /// Writes `text` as an input, plans it into `shards` (row i to shard i mod shards), and
    /// checks that the shard files read back as the input's rows: same domain cells, same
    /// pass-through columns and names, same invalid rows, each with its origin.
    fn round_trip(text: &str, shards: u32) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, text).unwrap();
        let read = read_domains(&input).unwrap();
        let n = read.row_domain.len();
        let row_shard: Vec<u32> = (0..n as u32).map(|i| i % shards).collect();
        let mut shard_rows = vec![0u64; shards as usize];
        for s in &row_shard {
            shard_rows[*s as usize] += 1;
        }
        let job = WriteJob {
            input: input.clone(),
            dir: dir.path().to_path_buf(),
            layout: read.layout.clone().unwrap(),
            name: "in.csv".into(),
            plan: "p".into(),
            shards,
            row_shard,
            shard_rows,
        };
        job.write().unwrap();

        let rows_of = |path: &Path| {
            let inputs = Inputs::open(vec![Source::File(path.to_path_buf())]).unwrap();
            let columns = inputs.columns().to_vec();
            let mut rows = Vec::new();
            inputs
                .for_each_row(|r| {
                    rows.push(r);
                    true
                })
                .unwrap();
            (columns, rows)
        };
        let (columns, original) = rows_of(&input);
        assert_eq!(original.len(), n);
        let mut back: Vec<Option<crate::input::Row>> = vec![None; n];
        for i in 0..shards {
            let (shard_columns, rows) = rows_of(&dir.path().join(shard_file_name(i)));
            assert_eq!(shard_columns, columns, "shard {i}");
            for r in rows {
                let o = r.origin.clone().expect("every shard row has its origin");
                assert_eq!(o.shard, i);
                assert_eq!(o.rows, n as u64);
                back[o.row as usize] = Some(r);
            }
        }
        for (k, (want, got)) in original.iter().zip(&back).enumerate() {
            let got = got.as_ref().unwrap_or_else(|| panic!("row {k} lost"));
            let o = got.origin.as_ref().unwrap();
            assert_eq!(
                (&got.input, &got.columns, &got.problem, o.line),
                (&want.input, &want.columns, &want.problem, want.line),
                "row {k}"
            );
        }
    }

    #[test]
    fn shard_files_read_back_as_the_input() {
        // BOM, `;`, comments and blank lines, quoted newlines (LF and CRLF), `#` at a cell's
        // start, quotes, extra and missing cells, an unclosed quote, a domain cell with spaces.
        round_trip(
            "\u{feff}Client;Domain;Notes\r\n\
             # a comment\r\n\
             \r\n\
             \"#1 client\";a.test;\"two\nlines\"\r\n\
             B;  b.test ;\"x\r\ny\";extra\r\n\
             C;c.test\r\n\
             \"He said \"\"hi\"\"\";d.test;=1+2\r\n\
             E;e.test;\"never closed\r\n\
             F;not a domain;f\r\n",
            3,
        );
        // No header: the first line is data (it has a dot); comma-separated; one column only.
        round_trip("a.test,1\nb.test,\"2,3\"\n#x.test,4\n\" #y\",z.test\n", 2);
        round_trip("a.test\nb.test\n", 4);
        round_trip("domain\n", 2);
    }

    #[test]
    fn private_addresses_count_only_when_allowed() {
        use mailcheck::facts::{AddressFacts, AddressLookups, HostFacts};
        let ip: IpAddr = "127.0.0.10".parse().unwrap();
        let hosts = MailHosts {
            mx: Lookup::NoData,
            implicit: None,
            hosts: vec![HostFacts {
                host: "mx.test".into(),
                preference: 10,
                implicit: false,
                ip_literal: false,
                cname_chain: Vec::new(),
                lookups: AddressLookups {
                    a: Lookup::Answer { records: vec![ip] },
                    aaaa: Lookup::NoData,
                },
                addresses: vec![AddressFacts::new(ip)],
            }],
        };
        assert!(addresses(&hosts, false).addresses.is_empty());
        assert_eq!(addresses(&hosts, false).private_ignored, [ip]);
        assert_eq!(addresses(&hosts, true).addresses, [ip]);
    }
}
