//! Pure grouping for `plan`: the connected components of the graph whose nodes are domains and
//! MX addresses (a domain is joined to each of its addresses), and the packing of components
//! into shards.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Union-find over `0..n` (union by size, path halving).
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n)
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect(),
            size: vec![1; n],
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

/// The component of each domain, numbered from 0 in the order of each component's first
/// domain. `addresses_of[d]` lists domain `d`'s address ids (`< addresses`); domains sharing an
/// address, directly or through other domains, share a component.
pub fn components(addresses_of: &[Vec<u32>], addresses: usize) -> Vec<u32> {
    let domains = addresses_of.len();
    let mut uf = UnionFind::new(domains + addresses);
    for (d, addrs) in addresses_of.iter().enumerate() {
        let d = u32::try_from(d).unwrap_or(u32::MAX);
        for a in addrs {
            uf.union(d, u32::try_from(domains).unwrap_or(u32::MAX) + a);
        }
    }
    let mut number = vec![u32::MAX; domains + addresses];
    let mut next = 0u32;
    (0..domains)
        .map(|d| {
            let root = uf.find(u32::try_from(d).unwrap_or(u32::MAX)) as usize;
            if number[root] == u32::MAX {
                number[root] = next;
                next += 1;
            }
            number[root]
        })
        .collect()
}

/// Something to place in a shard: a component, or a row that shares nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Its rows.
    pub weight: u64,
    /// Its first row's position in the input (orders equal weights, so a plan is reproducible).
    pub first: u64,
}

/// Packs `units` into `shards` shards by rows: the heaviest unit first (equal weights by first
/// row), each into the lightest shard so far (the lowest index on a tie). Returns each unit's
/// shard and each shard's rows. A unit heavier than an even share just makes its shard bigger.
pub fn pack(units: &[Unit], shards: u32) -> (Vec<u32>, Vec<u64>) {
    let shards = shards.max(1);
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&i| (Reverse(units[i].weight), units[i].first));
    let mut lightest: BinaryHeap<Reverse<(u64, u32)>> =
        (0..shards).map(|s| Reverse((0, s))).collect();
    let mut loads = vec![0u64; shards as usize];
    let mut placed = vec![0u32; units.len()];
    for i in order {
        let Some(Reverse((load, s))) = lightest.pop() else {
            break;
        };
        placed[i] = s;
        loads[s as usize] = load + units[i].weight;
        lightest.push(Reverse((loads[s as usize], s)));
    }
    (placed, loads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_addresses_join_domains_transitively() {
        // 0–1 share address 0; 1–2 share address 1; 3 is alone; 4 has no address.
        let addrs = vec![vec![0], vec![0, 1], vec![1], vec![2], vec![]];
        assert_eq!(components(&addrs, 3), [0, 0, 0, 1, 2]);
        assert_eq!(components(&[], 0), Vec::<u32>::new());
    }

    #[test]
    fn packing_is_largest_first_into_the_lightest() {
        let u = |weight, first| Unit { weight, first };
        let units = [u(1, 0), u(5, 1), u(3, 2), u(3, 3), u(1, 4), u(1, 5)];
        let (placed, loads) = pack(&units, 3);
        // 5 → s0; 3 → s1; 3 → s2; then the 1s by first row → s1, s2, s1.
        assert_eq!(placed, [1, 0, 1, 2, 2, 1]);
        assert_eq!(loads, [5, 5, 4]);
        assert_eq!(loads.iter().sum::<u64>(), 14);
    }

    #[test]
    fn an_oversized_unit_makes_its_shard_bigger_and_empty_shards_are_fine() {
        let units = [
            Unit {
                weight: 10,
                first: 0,
            },
            Unit {
                weight: 1,
                first: 1,
            },
        ];
        let (placed, loads) = pack(&units, 4);
        assert_eq!(placed, [0, 1]);
        assert_eq!(loads, [10, 1, 0, 0]);
    }
}
