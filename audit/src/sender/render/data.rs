//! The sender reports for machines and spreadsheets: CSV (pass-through columns, then
//! [`COLUMNS`]), the JSON report object (or an array) and JSON lines.

use mailcheck::sender::SenderReport;
use serde_json::{Map, Value, json};

use super::SenderItem;
use crate::sanitize::{spreadsheet, terminal};

/// The fixed CSV columns after the pass-through ones.
///
/// | column | content |
/// |---|---|
/// | `ip`, `helo`, `domain` | the sender checked (the input as given when it is not an address) |
/// | `verdict` | `ok`, `degraded`, `broken`, `inconclusive`, `invalid` |
/// | `worst` | the worst finding severity, empty if none |
/// | `ptr` | the PTR name(s) of the IP |
/// | `check_ptr` … `check_dmarc` | the checklist: `pass`, `fail`, `warn`, `unknown`, `not checked` |
/// | `spf_result` | `check_host()`: `pass`, `fail`, `softfail`, `neutral`, `none`, `permerror`, `temperror` |
/// | `listed_on` | the zones the IP is listed on |
/// | `findings` | every finding code, worst first |
/// | `top_issue` | the worst finding as `code: summary`, or why the row is invalid |
pub const COLUMNS: &[&str] = &[
    "ip",
    "helo",
    "domain",
    "verdict",
    "worst",
    "ptr",
    "check_ptr",
    "check_fcrdns",
    "check_helo",
    "check_blocklists",
    "check_spf_or_dkim",
    "check_dmarc",
    "spf_result",
    "listed_on",
    "findings",
    "top_issue",
];

fn checklist_state(r: &SenderReport, key: &str) -> String {
    r.checklist
        .iter()
        .find(|i| i.key == key)
        .map_or_else(String::new, |i| i.state.as_str().to_owned())
}

fn ptr_names(r: &SenderReport) -> String {
    r.facts
        .as_ref()
        .and_then(|f| f.ptr.as_ref())
        .map(|p| p.names().join(" "))
        .unwrap_or_default()
}

fn spf_result(r: &SenderReport) -> String {
    r.facts
        .as_ref()
        .and_then(|f| f.domain.as_ref())
        .and_then(|d| d.spf.as_ref())
        .and_then(|s| s.evaluation.as_ref())
        .map_or_else(String::new, |e| e.result.as_str().to_owned())
}

fn listed_on(r: &SenderReport) -> String {
    let Some(f) = &r.facts else {
        return String::new();
    };
    let (listed, _) = mailcheck::dnsbl::sending_listings(&f.dnsbl, &f.dnsbl_zones);
    listed
        .iter()
        .map(|l| l.zone.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The CSV report.
pub fn csv(columns: &[String], items: &[SenderItem]) -> String {
    let mut w = ::csv::WriterBuilder::new().from_writer(Vec::new());
    let header: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .chain(COLUMNS.iter().copied())
        .collect();
    let _ = w.write_record(header.iter().map(|h| spreadsheet(h).into_owned()));
    for it in items {
        let r = &it.report;
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
        let fixed = [
            r.ip.clone(),
            r.helo.clone().unwrap_or_default(),
            r.domain.clone().unwrap_or_default(),
            r.verdict.as_str().to_owned(),
            r.worst.map_or_else(String::new, |s| s.as_str().to_owned()),
            ptr_names(r),
            checklist_state(r, "ptr"),
            checklist_state(r, "fcrdns"),
            checklist_state(r, "helo"),
            checklist_state(r, "blocklists"),
            checklist_state(r, "spf_or_dkim"),
            checklist_state(r, "dmarc"),
            spf_result(r),
            listed_on(r),
            codes.join(" "),
            r.top_issue(),
        ];
        let record: Vec<String> = it
            .row
            .columns
            .iter()
            .map(|c| spreadsheet(c).into_owned())
            .chain(fixed.iter().map(|c| spreadsheet(&terminal(c)).into_owned()))
            .collect();
        let _ = w.write_record(&record);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One report as a JSON object, with its input row (`source`, `line`, pass-through `columns`).
fn json_value(columns: &[String], it: &SenderItem) -> Value {
    let mut v = serde_json::to_value(&it.report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        let mut row = Map::new();
        row.insert("source".to_owned(), json!(&*it.row.source));
        row.insert("line".to_owned(), json!(it.row.line));
        let cols: Map<String, Value> = columns
            .iter()
            .zip(&it.row.columns)
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        row.insert("columns".to_owned(), Value::Object(cols));
        map.insert("row".to_owned(), Value::Object(row));
    }
    v
}

/// JSON: the report object for one sender, an array otherwise.
pub fn json(columns: &[String], items: &[SenderItem], single: bool) -> String {
    let values: Vec<Value> = items.iter().map(|it| json_value(columns, it)).collect();
    let v = match (single, values.as_slice()) {
        (true, [one]) => one.clone(),
        _ => Value::Array(values),
    };
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// JSON lines: one report per line.
pub fn jsonl(columns: &[String], items: &[SenderItem]) -> String {
    let mut out = String::new();
    for it in items {
        out.push_str(&json_value(columns, it).to_string());
        out.push('\n');
    }
    out
}
