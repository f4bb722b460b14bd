//! The HTML report people work from: one self-contained page (inline CSS and a small inline
//! script, no external resources, a Content-Security-Policy that allows only those two, by
//! hash). From the top:
//!
//! 1. what changed since the previous run (history on);
//! 2. the verdict summary (counts per verdict, domains per finding code);
//! 3. "From here": this machine's vantage point;
//! 4. the domains: filter buttons by verdict and by finding code (with counts), a search box over
//!    domain, input and pass-through columns, sortable columns (verdict by severity, findings
//!    count, change), and per domain, under its row, an expandable part with the mail hosts, the
//!    findings with advice, what changed, and the SMTP conversation; with history on, a small
//!    verdict trend per domain over its latest runs.
//!
//! Without JavaScript every row is shown and each domain still expands (`<details>`); printed,
//! the controls are hidden and every domain is expanded. Every value is escaped with
//! [`crate::sanitize::html`]: banners and replies come from servers we do not control. The
//! script never builds markup from text: it reads `data-*` attributes, sets `hidden` and
//! `textContent`, and moves rows.
//!
//! Each domain is one `<tbody>` (its row, then its details row), so sorting and filtering move
//! and hide a domain as a whole. Its `data-verdict`, `data-codes` (finding codes, space
//! separated) and `data-text` (lower-case search text) carry what the script needs.
//!
//! Beside this file: `domain` (a domain's row cells and its expandable details), `assets` (the
//! page's style and script, `style.css` and `script.js`, and the policy that allows them).

mod assets;
mod domain;

use std::fmt::Write as _;

use mailcheck::Verdict;

use super::{Chunk, Finish, Item, Render};
use crate::sanitize::html as esc;
use crate::summary::Summary;

pub use assets::content_security_policy;
pub use domain::anchor;

use assets::{SCRIPT, STYLE};
use domain::{change_rank, severity_key, trend_cell, verdict_class, verdict_rank};

/// Renders the HTML report.
#[derive(Debug, Clone, Default)]
pub struct HtmlRender {
    /// Pass-through column names (for the table header).
    pub columns: Vec<String>,
    /// The page title.
    pub title: String,
    /// The run is recorded in the history: the table has the change and trend columns.
    pub history: bool,
}

/// The "Changed since" section (history on): the counts and a list of the changed domains.
/// The page puts it first, right under the title.
pub fn changes_section(cs: &crate::summary::ChangeSummary) -> String {
    let mut out = format!(
        "<section id=\"changes\"><h2>{}</h2><p>{}{}</p>",
        esc(&cs.heading()),
        esc(&cs.counts_text()),
        if cs.new_broken > 0 {
            format!("; {} newly broken", cs.new_broken)
        } else {
            String::new()
        }
    );
    if !cs.changed.is_empty() {
        out.push_str("<ul>");
        let mut rows: Vec<_> = cs.changed.iter().collect();
        rows.sort_by_key(|r| r.changes.change);
        for r in rows {
            let c = &r.changes;
            let _ = write!(
                out,
                "<li class=\"ch-{}\"><b>{}</b> {}: {} → {}",
                c.change.as_str(),
                esc(c.change.as_str()),
                esc(&r.name),
                esc(c.previous.as_ref().map_or("", |p| p.verdict.as_str())),
                esc(r.verdict.as_str())
            );
            if !c.new_findings.is_empty() {
                let _ = write!(out, "; new: {}", esc(&c.new_labels()));
            }
            if !c.resolved_findings.is_empty() {
                let _ = write!(out, "; resolved: {}", esc(&c.resolved_labels()));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
        let more = cs.changed_total.saturating_sub(cs.changed.len() as u64);
        if more > 0 {
            let _ = write!(out, "<p>… and {more} more (see the table).</p>");
        }
    }
    out.push_str("</section>\n");
    out
}

impl Render for HtmlRender {
    fn start(&self, _columns: &[String]) -> String {
        String::new()
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let r = item.report;
        let name = r.display_name();
        let id = anchor(&item.row.source, item.row.line);
        let mut codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut text = vec![name, item.row.input.as_str()];
        text.extend(item.row.columns.iter().map(String::as_str));
        text.extend(r.mx.iter().map(|m| m.host.as_str()));
        let text = text.join(" ").to_lowercase();

        let mut body = format!(
            "<tbody id=\"{id}\" data-verdict=\"{}\" data-codes=\"{}\" data-text=\"{}\"><tr \
             class=\"row\">",
            esc(r.verdict.as_str()),
            esc(&codes.join(" ")),
            esc(&text)
        );
        for c in &item.row.columns {
            let _ = write!(body, "<td>{}</td>", esc(c));
        }
        let top = r.top_issue();
        let _ = write!(
            body,
            "<td class=\"dom\"><a href=\"#{id}\">{}</a></td><td class=\"v {}\" \
             data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td>",
            esc(name),
            verdict_class(r.verdict),
            verdict_rank(r.verdict),
            esc(r.verdict.as_str()),
            severity_key(r.worst),
            esc(r.worst.map_or("", |s| s.as_str())),
            r.findings.len(),
            r.findings.len(),
        );
        if self.history {
            match item.changes {
                Some(c) => {
                    let _ = write!(
                        body,
                        "<td class=\"ch-{}\" data-sort=\"{}\">{}</td>",
                        c.change.as_str(),
                        change_rank(c.change),
                        esc(c.change.as_str())
                    );
                }
                None => body.push_str("<td data-sort=\"9\"></td>"),
            }
            body.push_str(&trend_cell(item.trend, r.verdict));
        }
        let _ = writeln!(
            body,
            "<td>{}</td></tr>\n<tr class=\"more\"><td colspan=\"{}\"><details><summary>Details: \
             mail hosts, findings{}</summary>\n{}</details></td></tr></tbody>",
            esc(&top),
            self.width(item.row.columns.len()),
            if r.facts.is_some() {
                ", SMTP conversation"
            } else {
                ""
            },
            Self::details(item)
        );
        Chunk {
            body,
            details: String::new(),
        }
    }

    fn finish(&self, summary: &Summary) -> Finish {
        let mut head = String::new();
        let _ = write!(
            head,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style></head><body>\n<header><h1>{}</h1>\
             <p class=\"meta\">{} domain(s) checked in {:.1} s by mailcheck-audit {}</p>\
             </header>\n",
            content_security_policy(),
            esc(&self.title),
            esc(&self.title),
            summary.rows,
            summary.elapsed.as_secs_f64(),
            env!("CARGO_PKG_VERSION"),
        );
        if let Some(cs) = &summary.changes {
            head.push_str(&changes_section(cs));
        }

        head.push_str("<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">");
        let _ = write!(
            head,
            "<div class=\"card\"><b>{}</b>domains checked</div>",
            summary.rows
        );
        for (v, n) in summary.verdict_counts() {
            let _ = write!(
                head,
                "<div class=\"card {}\" title=\"{}\"><b>{n}</b>{}</div>",
                verdict_class(v),
                esc(v.explain()),
                esc(v.as_str())
            );
        }
        head.push_str("</div>\n");
        let codes = summary.code_counts();
        if !codes.is_empty() {
            head.push_str(
                "<table class=\"codes\"><thead><tr><th>Finding</th><th>Domains</th>\
                 <th>Meaning</th></tr></thead><tbody>\n",
            );
            for (c, n) in &codes {
                let _ = writeln!(
                    head,
                    "<tr><td><code>{}</code></td><td>{n}</td><td>{}</td></tr>",
                    esc(c.as_str()),
                    esc(c.fires_when())
                );
            }
            head.push_str("</tbody></table>\n");
        }
        head.push_str("</section>\n");

        if let Some(here) = summary.from_here() {
            head.push_str(
                "<section id=\"from-here\"><h2>From here</h2><p>This machine's vantage point (not \
                 the domains): outbound port 25, our public address and name, the blocklists' \
                 answers.</p><ul>",
            );
            for line in &here.lines {
                let _ = write!(head, "<li>{}</li>", esc(line));
            }
            head.push_str("</ul>");
            if !here.findings.is_empty() {
                head.push_str("<ul class=\"problems\">");
                for f in &here.findings {
                    let _ = write!(
                        head,
                        "<li><code>{}</code> {}: {}<br><small>{}</small></li>",
                        esc(f.code.as_str()),
                        esc(f.severity.as_str()),
                        esc(&f.summary),
                        esc(&f.advice)
                    );
                }
                head.push_str("</ul>");
            }
            head.push_str("</section>\n");
        }

        // The controls: hidden until the script shows them (without it they would do nothing).
        head.push_str(
            "<section id=\"list\"><h2>All domains</h2>\n<div id=\"controls\" class=\"controls\" \
             hidden>\n<div class=\"filters\" role=\"group\" aria-label=\"Filter by verdict\">\
             <span>Verdict</span>",
        );
        let _ = write!(
            head,
            "<button type=\"button\" data-filter=\"verdict\" data-value=\"\" \
             aria-pressed=\"true\">all <span class=\"n\">{}</span></button>",
            summary.rows
        );
        for (v, n) in summary.verdict_counts() {
            let _ = write!(
                head,
                "<button type=\"button\" data-filter=\"verdict\" data-value=\"{}\" \
                 aria-pressed=\"false\" class=\"{}\">{} <span class=\"n\">{n}</span></button>",
                esc(v.as_str()),
                verdict_class(v),
                esc(v.as_str())
            );
        }
        head.push_str("</div>\n");
        if !codes.is_empty() {
            head.push_str(
                "<div class=\"filters\" role=\"group\" aria-label=\"Filter by finding\">\
                 <span>Finding</span><button type=\"button\" data-filter=\"code\" data-value=\"\" \
                 aria-pressed=\"true\">any</button>",
            );
            for (c, n) in &codes {
                let _ = write!(
                    head,
                    "<button type=\"button\" data-filter=\"code\" data-value=\"{}\" \
                     aria-pressed=\"false\" title=\"{}\">{} <span class=\"n\">{n}</span></button>",
                    esc(c.as_str()),
                    esc(c.fires_when()),
                    esc(c.as_str())
                );
            }
            head.push_str("</div>\n");
        }
        head.push_str(
            "<div class=\"filters\"><span>Search</span><input type=\"search\" id=\"search\" \
             placeholder=\"domain, input, host, other columns\" aria-label=\"Search domains\" \
             autocomplete=\"off\"><button type=\"button\" id=\"expand\">expand all</button>\
             <button type=\"button\" id=\"collapse\">collapse all</button><span id=\"shown\" \
             role=\"status\"></span></div>\n</div>\n",
        );

        head.push_str("<table id=\"domains\" class=\"domains sortable\"><thead><tr>");
        let th = |label: &str| {
            format!(
                "<th scope=\"col\"><button type=\"button\" class=\"sort\">{}</button></th>",
                esc(label)
            )
        };
        for c in &self.columns {
            head.push_str(&th(c));
        }
        for label in ["Domain", "Verdict", "Worst", "Findings"] {
            head.push_str(&th(label));
        }
        if self.history {
            head.push_str(&th("Change"));
            let _ = write!(
                head,
                "<th scope=\"col\" title=\"Verdicts in the latest {} runs, then this one \
                 (framed)\">Trend</th>",
                crate::history::TREND_RUNS
            );
        }
        head.push_str("<th scope=\"col\">Top issue</th></tr></thead>\n");
        let middle =
            "</table>\n<p id=\"none\" hidden>No domain matches these filters.</p></section>\n"
                .to_owned();
        let tail = format!(
            "<footer>Generated by mailcheck-audit {} in {:.1} s. Verdicts: {}</footer>\n\
             <script>{SCRIPT}</script>\n</body></html>\n",
            env!("CARGO_PKG_VERSION"),
            summary.elapsed.as_secs_f64(),
            esc(&Verdict::ALL
                .iter()
                .map(|v| format!("{} = {}", v.as_str(), v.explain()))
                .collect::<Vec<_>>()
                .join(" "))
        );
        Finish::Document { head, middle, tail }
    }
}

#[cfg(test)]
mod tests;
