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
//!
//! The steps live beside this file: `resolve` (step 2), `assign` (step 3), `write` (step 4, the
//! shard files) and `manifest` (`plan.json` and the summary).
//!
//! [`group::components`]: super::group::components
//! [`group::pack`]: super::group::pack

mod assign;
mod manifest;
mod resolve;
mod write;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mailcheck::DomainName;
use mailcheck::config::{DnsConfig, ResolverChoice};
use mailcheck::probe::dns::{DnsSource as _, HickoryDns};

use super::{ORIGIN_COLUMN, PLAN_FILE};
use crate::app::Exit;
use crate::error::AuditError;
use crate::input::{Inputs, Layout, Source};

pub use manifest::{
    ComponentStats, DnsStats, InputStats, Manifest, Oversized, ShardStats, summary_text,
};

use assign::assign;
use manifest::{Meta, manifest, write_manifest};
use resolve::resolve_all;
use write::WriteJob;

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
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SHARDS))
    )]
    pub shards: u32,

    /// Where to write `shard-0.csv` … `shard-<N-1>.csv` and `plan.json` (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Domains resolved at a time
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        default_value_t = 64,
        value_parser = crate::cli::parse_concurrency
    )]
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

#[cfg(test)]
mod tests;
