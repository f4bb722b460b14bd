//! The sender report as a self-contained HTML page and as Markdown: counts, a table of every
//! row, then each sender in detail with its checklist.

use std::fmt::Write as _;

use mailcheck::Verdict;
use mailcheck::sender::{ChecklistItem, ChecklistState};

use super::{SenderItem, counts, title};
use crate::sanitize::{html as esc, markdown as md};

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
