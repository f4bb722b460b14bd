//! Shards for very large audits: `plan` splits one input into N shard files so that every MX
//! address belongs to exactly one shard, each shard runs as an ordinary audit on its own machine
//! (a Kubernetes Indexed Job, or any array-job runner), and `merge` rebuilds the reports in input
//! order from the shards' JSONL.
//!
//! - [`group`]: pure: connected components of the domain–address graph (union-find) and the
//!   packing of components into shards (largest first into the lightest shard).
//! - [`plan`]: `mailcheck-audit plan INPUT --shards N --out DIR`: reads the input as the audit
//!   does, resolves each domain's MX addresses (DNS only), groups, writes `DIR/shard-<i>.csv`
//!   (`i` from 0, as `JOB_COMPLETION_INDEX`) and `DIR/plan.json`.
//! - [`merge`]: `mailcheck-audit merge FILES… -o …`: checks that the shard outputs add up to the
//!   plan (no shard missing or cut short, no row twice), then renders every report through the
//!   same renderers as a normal run, in input order.
//!
//! ## How a row finds its way back
//!
//! Each shard file is the input's header and rows, cell for cell, plus one hidden last column,
//! [`ORIGIN_COLUMN`], whose cell is a small JSON object ([`Origin`]): the plan's id, the row's
//! position in the input and its line there, the input's name, the shard (index, count, rows)
//! and the input's row count. The audit does not pass that column through: it reads it as the
//! row's origin and writes it to the row's JSONL line (`row.origin`, with `row.column_order`, the
//! pass-through columns in order, which the `columns` object cannot keep). A malformed input line
//! travels as a well-formed shard row whose origin carries the text and the reason
//! ([`Malformed`]), so the shard reports the same `invalid` row.
//!
//! So `merge` needs nothing but the JSONL files: the positions restore the order, the counts say
//! whether a shard is missing or did not finish, and the plan id keeps two plans apart. The
//! merged reports carry the original input's name and lines, as one run over the input would.
//! `plan.json` is for people and tests: sizes, component statistics, the input's SHA-256, and
//! each shard's addresses.
//!
//! Politeness holds across machines because no address is in two shards; a domain's duplicate
//! rows stay in one shard too (the domain is one node of the graph), so each is checked once.
//! Domains without an address (NXDOMAIN, no MX, a failed lookup) and invalid rows have nothing
//! to share and are placed wherever the load is lightest.

pub mod group;
pub mod merge;
pub mod plan;

use serde::{Deserialize, Serialize};

/// The hidden column of shard files: the row's [`Origin`] as JSON.
pub const ORIGIN_COLUMN: &str = "mailcheck_input_row";

/// The manifest `plan` writes next to the shard files.
pub const PLAN_FILE: &str = "plan.json";

/// The file name of shard `index`: `shard-<index>.csv`.
pub fn shard_file_name(index: u32) -> String {
    format!("shard-{index}.csv")
}

/// Where a shard row comes from: the cell of [`ORIGIN_COLUMN`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The plan's id (the same in every row of one plan).
    pub plan: String,
    /// The row's position in the input, from 0 (the order of a single run's rows).
    pub row: u64,
    /// Rows in the input.
    pub rows: u64,
    /// The input's name, as a single run over it shows it.
    pub source: String,
    /// The row's line in the input.
    pub line: u64,
    /// The shard, from 0.
    pub shard: u32,
    /// Shards in the plan.
    pub shards: u32,
    /// Rows in this shard.
    pub shard_rows: u64,
    /// The input line was not valid CSV: what it said and why (the row is `invalid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<Malformed>,
}

/// A malformed input line, carried through a shard file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// The line as the audit shows it (shortened).
    pub input: String,
    /// Why it could not be read.
    pub reason: String,
}

impl Origin {
    /// The cell text.
    pub fn to_cell(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a cell back.
    pub fn from_cell(cell: &str) -> Result<Self, String> {
        serde_json::from_str(cell.trim()).map_err(|e| {
            format!(
                "the {ORIGIN_COLUMN} cell is not a shard row's origin ({e}); shard files come \
                 from `mailcheck-audit plan`"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_cell_round_trip() {
        let mut o = Origin {
            plan: "0123456789ab".into(),
            row: 17,
            rows: 1000,
            source: "clients.csv".into(),
            line: 19,
            shard: 2,
            shards: 4,
            shard_rows: 250,
            malformed: None,
        };
        let cell = o.to_cell();
        assert!(!cell.contains("malformed"), "{cell}");
        assert_eq!(Origin::from_cell(&cell).unwrap(), o);
        o.malformed = Some(Malformed {
            input: "a.test,\"open".into(),
            reason: "malformed CSV: a quote is never closed".into(),
        });
        assert_eq!(Origin::from_cell(&o.to_cell()).unwrap(), o);
        assert!(
            Origin::from_cell("17")
                .unwrap_err()
                .contains("mailcheck-audit plan")
        );
        assert_eq!(shard_file_name(0), "shard-0.csv");
    }
}
