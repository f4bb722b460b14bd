//! The sender reports, one pure function per format: text (one sender in detail, or a line per
//! row), JSON (the report object, or an array), JSON lines, CSV (pass-through columns, then
//! [`COLUMNS`]), a self-contained HTML page and Markdown. Every value that came from the DNS or
//! the input is made safe for where it goes ([`crate::sanitize`]). Nothing is judged here: the
//! verdicts, findings and checklist states are the library's.
//!
//! Beside this file: `data` (CSV, JSON, JSON lines), `text` (the terminal) and `page` (HTML and
//! Markdown).

mod data;
mod page;
mod text;

use std::fmt::Write as _;

use mailcheck::Verdict;
use mailcheck::sender::SenderReport;

use super::input::SenderRow;

pub use data::{COLUMNS, csv, json, jsonl};
pub use page::{html, markdown};
pub use text::text;

/// One checked row: the input row and its report.
#[derive(Debug, Clone)]
pub struct SenderItem {
    /// The row as read (`--ip self` may give several items for one row).
    pub row: SenderRow,
    /// The report.
    pub report: SenderReport,
}

/// The name a row is shown under: the address, with HELO and domain when given.
pub(super) fn title(r: &SenderReport) -> String {
    let mut t = r.ip.clone();
    if let Some(h) = &r.helo {
        let _ = write!(t, " HELO {h}");
    }
    if let Some(d) = &r.domain {
        let _ = write!(t, " for {d}");
    }
    t
}

/// Counts per verdict, for the HTML and Markdown heads and the summary on stderr.
pub fn counts(items: &[SenderItem]) -> String {
    let mut parts = Vec::new();
    for v in Verdict::ALL {
        let n = items.iter().filter(|i| i.report.verdict == *v).count();
        if n > 0 {
            parts.push(format!("{n} {}", v.as_str()));
        }
    }
    format!("{} sender(s): {}", items.len(), parts.join(", "))
}
