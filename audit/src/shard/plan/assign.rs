//! Step 3 of `plan`: domains and their addresses grouped ([`group::components`]), the groups and
//! the invalid rows packed into the shards ([`group::pack`]), and so each row's shard.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Read;
use super::resolve::Resolved;
use crate::shard::group::{self, Unit};

/// Where every row goes.
#[derive(Debug)]
pub(super) struct Planned {
    /// Each row's shard.
    pub(super) row_shard: Vec<u32>,
    /// Rows per shard.
    pub(super) shard_rows: Vec<u64>,
    /// Each domain's component.
    pub(super) component: Vec<u32>,
    /// Each component's shard.
    pub(super) component_shard: Vec<u32>,
    /// Each component's rows.
    pub(super) component_rows: Vec<u64>,
}

pub(super) fn assign(read: &Read, resolved: &[Resolved], shards: u32) -> Planned {
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
