//! The sender reports, one pure function per format: text (one sender in detail, or a line per
//! row), JSON (the report object, or an array), JSON lines, CSV (pass-through columns, then
//! [`COLUMNS`]), a self-contained HTML page and Markdown. Every value that came from the DNS or
//! the input is made safe for where it goes ([`crate::sanitize`]). Nothing is judged here: the
//! verdicts, findings and checklist states are the library's.

use std::fmt::Write as _;

use mailcheck::sender::{ChecklistItem, ChecklistState, SenderReport};
use mailcheck::{Severity, Verdict};
use serde_json::{Map, Value, json};

use super::input::SenderRow;
use crate::sanitize::{html as esc, markdown as md, spreadsheet, terminal};

/// One checked row: the input row and its report.
#[derive(Debug, Clone)]
pub struct SenderItem {
    /// The row as read (`--ip self` may give several items for one row).
    pub row: SenderRow,
    /// The report.
    pub report: SenderReport,
}

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

/// The name a row is shown under: the address, with HELO and domain when given.
fn title(r: &SenderReport) -> String {
    let mut t = r.ip.clone();
    if let Some(h) = &r.helo {
        let _ = write!(t, " HELO {h}");
    }
    if let Some(d) = &r.domain {
        let _ = write!(t, " for {d}");
    }
    t
}

const fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::Error => "\x1b[31m",
        Severity::Warning => "\x1b[33m",
        Severity::Inconclusive => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

const fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok | Verdict::NoMail => "\x1b[1;32m",
        Verdict::Degraded => "\x1b[1;33m",
        Verdict::Broken | Verdict::Invalid => "\x1b[1;31m",
        Verdict::Inconclusive => "\x1b[1;36m",
    }
}

/// Text for a terminal: one sender in detail (`detailed`), or one line per row.
pub fn text(items: &[SenderItem], detailed: bool, color: bool) -> String {
    let paint = |c: &str, s: &str| {
        if color {
            format!("{c}{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    if !detailed {
        for it in items {
            let r = &it.report;
            let issue = terminal(&r.top_issue()).into_owned();
            let _ = writeln!(
                out,
                "{:<13} {}  {}",
                paint(verdict_color(r.verdict), &r.verdict.as_str().to_uppercase()),
                terminal(&title(r)),
                issue
            );
        }
        return out;
    }
    for it in items {
        let r = &it.report;
        let _ = writeln!(
            out,
            "{}  {}",
            paint("\x1b[1m", &terminal(&title(r))),
            paint(verdict_color(r.verdict), &r.verdict.as_str().to_uppercase())
        );
        let _ = writeln!(out, "  {}", r.explain());
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  Why: {}\n", terminal(e));
            continue;
        }
        if let Some(learned) = r.facts.as_ref().and_then(|f| f.learned.as_ref()) {
            let how = match learned {
                mailcheck::facts::PublicIpSource::Configured => "configured".to_owned(),
                mailcheck::facts::PublicIpSource::Echoed { by } => {
                    format!("echoed by {}", terminal(by))
                }
                mailcheck::facts::PublicIpSource::Local => "our own address".to_owned(),
            };
            let _ = writeln!(out, "  This machine's public address ({how}).");
        }
        if let Some(p) = &r.partial {
            let _ = writeln!(out, "  Partial: {}", terminal(p));
        }
        let _ = writeln!(
            out,
            "  Checked in {} ms using {}.\n",
            r.elapsed_ms,
            terminal(&r.resolver)
        );
        let _ = writeln!(
            out,
            "{}",
            paint(
                "\x1b[1m",
                "What Gmail, Yahoo and Microsoft require of a sender"
            )
        );
        for i in &r.checklist {
            let _ = writeln!(
                out,
                "  [{}] {:<11} {} — {}",
                i.state.mark(),
                i.state.as_str(),
                i.requirement,
                terminal(&i.detail)
            );
        }
        out.push('\n');
        if r.findings.is_empty() {
            let _ = writeln!(out, "{}", paint("\x1b[1m", "Findings: none."));
        } else {
            let _ = writeln!(out, "{}", paint("\x1b[1m", "Findings, worst first"));
            for f in &r.findings {
                let tag = format!("{:<12}", f.severity.as_str().to_uppercase());
                let _ = writeln!(
                    out,
                    "  {} {}  ({})",
                    paint(severity_color(f.severity), &tag),
                    paint("\x1b[1m", f.code.as_str()),
                    terminal(&f.subject)
                );
                let _ = writeln!(out, "               {}", terminal(&f.summary));
                for e in &f.evidence {
                    let _ = writeln!(out, "               | {}", terminal(e));
                }
                if !f.advice.is_empty() {
                    let _ = writeln!(out, "               What to do: {}", terminal(&f.advice));
                }
            }
        }
        out.push('\n');
    }
    out
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

fn checklist_html(items: &[ChecklistItem]) -> String {
    let mut out = String::from(
        "<table class=\"checklist\"><tr><th></th><th>Requirement</th><th>Who</th>\
         <th>Here</th></tr>",
    );
    for i in items {
        let class = match i.state {
            ChecklistState::Pass => "ok",
            ChecklistState::Fail => "broken",
            ChecklistState::Warn => "degraded",
            ChecklistState::Unknown | ChecklistState::NotChecked => "other",
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td></tr>",
            esc(i.state.mark()),
            esc(&i.requirement),
            esc(&i.required_by),
            esc(i.state.as_str()),
            esc(&i.detail)
        );
    }
    out.push_str("</table>");
    out
}

/// A self-contained HTML page: counts, a table of every row, then each sender in detail.
pub fn html(columns: &[String], items: &[SenderItem], page_title: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em}}\
         table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}\
         .ok{{background:#e7f6ec}}.degraded{{background:#fff4e0}}.broken{{background:#fde8e6}}\
         .other{{background:#f2f2f2}}\
         .ev{{font-family:monospace;white-space:pre-wrap;color:#444}}</style></head><body>\n\
         <h1>{t}</h1>\n<p>{c}</p>\n<table><tr>",
        t = esc(page_title),
        c = esc(&counts(items))
    );
    for h in columns
        .iter()
        .map(String::as_str)
        .chain(["sender", "verdict", "top issue"])
    {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for (n, it) in items.iter().enumerate() {
        let r = &it.report;
        let class = match r.verdict {
            Verdict::Ok | Verdict::NoMail => "ok",
            Verdict::Degraded => "degraded",
            Verdict::Broken | Verdict::Invalid => "broken",
            Verdict::Inconclusive => "other",
        };
        out.push_str("<tr>");
        for c in &it.row.columns {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        let _ = writeln!(
            out,
            "<td><a href=\"#s{n}\">{}</a></td><td class=\"{class}\">{}</td><td>{}</td></tr>",
            esc(&title(r)),
            esc(r.verdict.as_str()),
            esc(&r.top_issue())
        );
    }
    out.push_str("</table>\n");
    for (n, it) in items.iter().enumerate() {
        let r = &it.report;
        let _ = writeln!(
            out,
            "<section id=\"s{n}\"><h2>{} — {}</h2><p>{}</p>",
            esc(&title(r)),
            esc(r.verdict.as_str()),
            esc(r.explain())
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "<p>Why: {}</p></section>", esc(e));
            continue;
        }
        out.push_str("<h3>What Gmail, Yahoo and Microsoft require of a sender</h3>");
        out.push_str(&checklist_html(&r.checklist));
        if r.findings.is_empty() {
            out.push_str("<p>No findings.</p>");
        }
        for f in &r.findings {
            let _ = write!(
                out,
                "<h4>{} <code>{}</code> ({})</h4><p>{}</p><div class=\"ev\">",
                esc(f.severity.as_str()),
                esc(f.code.as_str()),
                esc(&f.subject),
                esc(&f.summary)
            );
            for e in &f.evidence {
                let _ = writeln!(out, "{}", esc(e));
            }
            let _ = write!(out, "</div><p><b>What to do:</b> {}</p>", esc(&f.advice));
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Markdown for tickets and wikis: counts, a table, then each sender in detail.
pub fn markdown(columns: &[String], items: &[SenderItem], page_title: &str) -> String {
    let mut out = format!("# {}\n\n{}\n\n|", md(page_title), md(&counts(items)));
    let heads: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .chain(["sender", "verdict", "top issue"])
        .collect();
    for h in &heads {
        let _ = write!(out, " {} |", md(h));
    }
    out.push_str("\n|");
    for _ in &heads {
        out.push_str("---|");
    }
    out.push('\n');
    for it in items {
        let r = &it.report;
        out.push('|');
        for c in &it.row.columns {
            let _ = write!(out, " {} |", md(c));
        }
        let _ = writeln!(
            out,
            " {} | {} | {} |",
            md(&title(r)),
            r.verdict.as_str(),
            md(&r.top_issue())
        );
    }
    for it in items {
        let r = &it.report;
        let _ = writeln!(
            out,
            "\n## {} — {}\n\n{}\n",
            md(&title(r)),
            r.verdict.as_str(),
            r.explain()
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "Why: {}", md(e));
            continue;
        }
        out.push_str("| | Requirement | Here |\n|---|---|---|\n");
        for i in &r.checklist {
            let _ = writeln!(
                out,
                "| {} | {} | {}: {} |",
                i.state.mark(),
                md(&i.requirement),
                i.state.as_str(),
                md(&i.detail)
            );
        }
        for f in &r.findings {
            let _ = writeln!(
                out,
                "\n- **{}** `{}` ({}): {}",
                f.severity.as_str(),
                f.code,
                md(&f.subject),
                md(&f.summary)
            );
            for e in &f.evidence {
                let _ = writeln!(out, "  - {}", md(e));
            }
            let _ = writeln!(out, "  - *What to do:* {}", md(&f.advice));
        }
    }
    out
}
