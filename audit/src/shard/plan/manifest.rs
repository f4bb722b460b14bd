//! `plan.json` ([`Manifest`]: the input, what DNS said, the groups, each shard's rows and
//! addresses), written atomically, and the summary `plan` prints ([`summary_text`]).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Read;
use super::assign::Planned;
use super::resolve::Resolved;
use crate::error::AuditError;
use crate::shard::{ORIGIN_COLUMN, shard_file_name};

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

/// What the manifest needs besides the grouping.
#[derive(Debug)]
pub(super) struct Meta {
    pub(super) plan: String,
    pub(super) created_at: String,
    pub(super) name: String,
    pub(super) sha256: String,
    pub(super) resolver: String,
    pub(super) allow_private: bool,
    pub(super) rows: u64,
}

pub(super) fn manifest(
    read: &Read,
    resolved: &[Resolved],
    planned: &Planned,
    meta: Meta,
) -> Manifest {
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

pub(super) fn write_manifest(path: &Path, manifest: &Manifest) -> Result<(), AuditError> {
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
                "; {} private/loopback address(es) not counted \
                 (the audit probes them only with --allow-private)",
                m.dns.private_ignored
            )
        } else {
            String::new()
        },
    );
    let _ = writeln!(
        out,
        "Groups of domains with addresses (those sharing one stay together): {}; \
         the largest has {} ({}, {}).",
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
            "Note: a group of {} shares addresses ({}{}) and is larger than an even share: \
             shard {} is bigger.",
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
