//! Tests of `plan`: the grouping keeps shared addresses in one shard, shard files read back as
//! the input, private addresses count only when allowed.

use super::manifest::{Meta, manifest};
use super::resolve::{Resolved, addresses};
use super::*;
use crate::shard::shard_file_name;
use mailcheck::facts::Lookup;
use mailcheck::probe::mx::MailHosts;
use std::net::IpAddr;

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
