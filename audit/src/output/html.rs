//! The HTML report a client can be handed: one self-contained page (inline CSS and a few lines of
//! inline JS to sort the table; no external assets), with the summary, a sortable table of every
//! row, and per-domain details (mail hosts, findings with advice, SMTP transcripts). Every value
//! is HTML-escaped: banners and replies come from servers we do not control.

use std::fmt::Write as _;

use mailcheck::{Report, Verdict};

use super::{Chunk, Finish, Item, Render};
use crate::sanitize::html as esc;
use crate::summary::Summary;

/// Renders the HTML report.
#[derive(Debug, Clone, Default)]
pub struct HtmlRender {
    /// Pass-through column names (for the table header).
    pub columns: Vec<String>,
    /// The page title.
    pub title: String,
}

/// The "Changed since" section (history on): the counts and a list of the changed domains.
/// Kept plain and in this one function; the page puts it right under the title.
pub fn changes_section(cs: &crate::summary::ChangeSummary) -> String {
    let mut out = format!(
        "<section id=\"changes\" style=\"order:-1\"><h2>{}</h2><p>{}{}</p>",
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
                "<li><b>{}</b> {}: {} → {}",
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
    }
    out.push_str("</section>\n");
    out
}

/// A stable anchor for a row: its source and line.
pub fn anchor(source: &str, line: u64) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in source.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("r{h:08x}-{line}")
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Degraded => "degraded",
        Verdict::Broken | Verdict::Invalid => "broken",
        Verdict::NoMail | Verdict::Inconclusive => "other",
    }
}

fn display_name(input: &str, report: &Report) -> String {
    if report.domain.is_empty() {
        input.to_owned()
    } else {
        report.domain.clone()
    }
}

const STYLE: &str = r#"body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222;display:flex;flex-direction:column}
h1{margin-bottom:.2em;order:-2}#summary{order:-1}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border-radius:6px;padding:.5em 1em;background:#eee}.card b{font-size:1.4em;display:block}
.ok{background:#d8f3dc}.degraded{background:#fff3bf}.broken{background:#ffd6d6}.other{background:#dbe9f6}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none}th.sorted-asc:after{content:" \25B2"}th.sorted-desc:after{content:" \25BC"}
td.v{font-weight:bold}section.domain{border-top:2px solid #ddd;padding-top:.5em}
.sev-critical,.sev-error{color:#b00020}.sev-warning{color:#8a6d00}.sev-inconclusive{color:#1f5f99}.sev-info{color:#666}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85em}
.evidence{font-family:monospace;font-size:.85em;color:#444}footer{color:#777;font-size:.85em;margin-top:2em}"#;

const SCRIPT: &str = r"document.querySelectorAll('table.sortable').forEach(function(t){
var ths=t.tHead.rows[0].cells;Array.prototype.forEach.call(ths,function(th,i){th.addEventListener('click',function(){
var asc=!th.classList.contains('sorted-asc');Array.prototype.forEach.call(ths,function(h){h.classList.remove('sorted-asc','sorted-desc');});
th.classList.add(asc?'sorted-asc':'sorted-desc');var b=t.tBodies[0];var rows=Array.prototype.slice.call(b.rows);
rows.sort(function(x,y){var a=x.cells[i].getAttribute('data-sort')||x.cells[i].textContent;var c=y.cells[i].getAttribute('data-sort')||y.cells[i].textContent;
var n=a.localeCompare(c,undefined,{numeric:true});return asc?n:-n;});rows.forEach(function(r){b.appendChild(r);});});});});";

impl HtmlRender {
    fn details(&self, item: Item<'_>) -> String {
        let r = item.report;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<section class=\"domain\" id=\"{}\"><h3>{} <span class=\"card {}\">{}</span></h3>",
            anchor(&item.row.source, item.row.line),
            esc(&display_name(&item.row.input, r)),
            verdict_class(r.verdict),
            esc(r.verdict.as_str())
        );
        let _ = writeln!(
            out,
            "<p>{} <small>({}{}, line {})</small></p>",
            esc(r.verdict.explain()),
            esc(&item.row.source),
            if r.input != r.domain {
                format!(", input {}", esc(&r.input))
            } else {
                String::new()
            },
            item.row.line
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "<p>Why: {}</p></section>", esc(e));
            return out;
        }
        if !r.mx.is_empty() {
            out.push_str("<table><thead><tr><th>Pref</th><th>Host</th><th>Address</th><th>PTR</th><th>FCrDNS</th><th>SMTP</th><th>STARTTLS</th><th>TLS</th><th>Certificate</th><th>Blocklists</th></tr></thead><tbody>\n");
            for mx in &r.mx {
                let pref = if mx.implicit {
                    "(A)".to_owned()
                } else {
                    mx.preference.to_string()
                };
                if mx.addresses.is_empty() {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td colspan=\"8\">no address</td></tr>",
                        esc(&pref),
                        esc(&mx.host)
                    );
                }
                for a in &mx.addresses {
                    let b = |v: Option<bool>| match v {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "–",
                    };
                    let bl = a
                        .dnsbl
                        .iter()
                        .map(|d| format!("{} {}", d.zone, d.status.word()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&pref),
                        esc(&mx.host),
                        esc(&a.ip.to_string()),
                        esc(&a.ptr.join(" ")),
                        b(a.fcrdns),
                        esc(&a.smtp.status),
                        b(a.smtp.starttls),
                        esc(a.smtp.tls_version.as_deref().unwrap_or("–")),
                        match a.smtp.cert_ok {
                            Some(true) => "ok",
                            Some(false) => "problem",
                            None => "–",
                        },
                        esc(&bl)
                    );
                }
            }
            out.push_str("</tbody></table>\n");
        }
        if let Some(a) = &r.auth {
            let _ = writeln!(
                out,
                "<h4>Authentication and TLS policy</h4><table class=\"auth\"><thead><tr><th>SPF</th><th>DMARC</th><th>MTA-STS</th><th>DANE</th></tr></thead><tbody><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></tbody></table>",
                esc(&a.spf),
                esc(&a.dmarc),
                esc(&a.mta_sts),
                esc(&a.dane)
            );
        }
        if r.findings.is_empty() {
            out.push_str("<p>No findings.</p>\n");
        } else {
            out.push_str("<ul class=\"findings\">\n");
            for f in &r.findings {
                let _ = write!(
                    out,
                    "<li><b class=\"sev-{}\">{}</b> <code>{}</code> ({}): {}",
                    f.severity.as_str(),
                    esc(f.severity.as_str()),
                    esc(f.code.as_str()),
                    esc(&f.subject),
                    esc(&f.summary)
                );
                for e in &f.evidence {
                    let _ = write!(out, "<div class=\"evidence\">{}</div>", esc(e));
                }
                if !f.advice.is_empty() {
                    let _ = write!(out, "<div><i>What to do:</i> {}</div>", esc(&f.advice));
                }
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        let transcript = r.transcript_text();
        if !transcript.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>SMTP conversation</summary><pre>{}</pre></details>",
                transcript.lines().map(esc).collect::<Vec<_>>().join("\n")
            );
        }
        out.push_str("</section>\n");
        out
    }
}

impl Render for HtmlRender {
    fn start(&self, _columns: &[String]) -> String {
        String::new()
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let r = item.report;
        let mut body = String::from("<tr>");
        for c in &item.row.columns {
            let _ = write!(body, "<td>{}</td>", esc(c));
        }
        let top = match (&r.error, r.findings.first()) {
            (Some(e), _) => e.clone(),
            (None, Some(f)) => format!("{}: {}", f.code, f.summary),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            body,
            "<td><a href=\"#{}\">{}</a></td><td class=\"v {}\" data-sort=\"{}\">{}</td><td>{}</td><td data-sort=\"{:04}\">{}</td><td>{}</td></tr>",
            anchor(&item.row.source, item.row.line),
            esc(&display_name(&item.row.input, r)),
            verdict_class(r.verdict),
            r.verdict.badness(),
            esc(r.verdict.as_str()),
            esc(r.worst.map_or("", |s| s.as_str())),
            r.findings.len(),
            r.findings.len(),
            esc(&top)
        );
        Chunk {
            body,
            details: self.details(item),
        }
    }

    fn finish(&self, summary: &Summary) -> Finish {
        let mut head = String::new();
        let _ = write!(
            head,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
        if let Some(here) = summary.from_here() {
            head.push_str("<section id=\"from-here\"><h2>From here</h2><p>This machine's vantage point (not the domains): outbound port 25, our public address and name, the blocklists' answers.</p><ul>");
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
        if let Some(cs) = &summary.changes {
            head.push_str(&changes_section(cs));
        }
        head.push_str("<div id=\"summary\">\n<div class=\"cards\">");
        let _ = write!(
            head,
            "<div class=\"card\"><b>{}</b>domains checked</div>",
            summary.rows
        );
        for (v, n) in summary.verdict_counts() {
            let _ = write!(
                head,
                "<div class=\"card {}\"><b>{n}</b>{}</div>",
                verdict_class(v),
                esc(v.as_str())
            );
        }
        head.push_str("</div>\n");
        let codes = summary.code_counts();
        if !codes.is_empty() {
            head.push_str("<table><thead><tr><th>Finding</th><th>Domains</th><th>Meaning</th></tr></thead><tbody>\n");
            for (c, n) in codes {
                let _ = writeln!(
                    head,
                    "<tr><td><code>{}</code></td><td>{n}</td><td>{}</td></tr>",
                    esc(c.as_str()),
                    esc(c.describe())
                );
            }
            head.push_str("</tbody></table>\n");
        }
        head.push_str("</div>\n<h2>All domains</h2>\n<table class=\"sortable\"><thead><tr>");
        for c in &self.columns {
            let _ = write!(head, "<th>{}</th>", esc(c));
        }
        head.push_str("<th>Domain</th><th>Verdict</th><th>Worst</th><th>Findings</th><th>Top issue</th></tr></thead><tbody>\n");
        let middle = "</tbody></table>\n<h2>Details</h2>\n".to_owned();
        let tail = format!(
            "<footer>Generated by mailcheck-audit {} in {:.1} s. Verdicts: {}.</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
            env!("CARGO_PKG_VERSION"),
            summary.elapsed.as_secs_f64(),
            Verdict::ALL
                .iter()
                .map(|v| format!("{} = {}", v.as_str(), v.explain()))
                .collect::<Vec<_>>()
                .join(" ")
                .replace('&', "&amp;")
                .replace('<', "&lt;")
        );
        Finish::Document { head, middle, tail }
    }
}
