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

use std::fmt::Write as _;

use mailcheck::{Severity, Verdict};

use super::{Chunk, Finish, Item, Render};
use crate::history::{Change, Past};
use crate::sanitize::html as esc;
use crate::summary::Summary;

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

/// A stable anchor for a row: its source and line.
pub fn anchor(source: &str, line: u64) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in source.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("r{h:08x}-{line}")
}

/// The colour group of a verdict (a CSS class).
const fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Degraded => "degraded",
        Verdict::Broken | Verdict::Invalid => "broken",
        Verdict::NoMail | Verdict::Inconclusive => "other",
    }
}

/// Sort key of a verdict: its place in [`Verdict::ALL`] (the verdict order, worst first).
fn verdict_rank(v: Verdict) -> usize {
    Verdict::ALL.iter().position(|a| *a == v).unwrap_or(0)
}

/// Sort key of a change: its place in [`Change::ALL`] (worse first).
fn change_rank(c: Change) -> usize {
    Change::ALL.iter().position(|a| *a == c).unwrap_or(0)
}

/// Sort key of the worst severity: its place in [`Severity::ALL`] (the severity order, worst
/// first), none last.
fn severity_key(s: Option<Severity>) -> usize {
    s.map_or(9, |s| {
        Severity::ALL.iter().position(|a| *a == s).unwrap_or(0)
    })
}

/// Standard base64 (with padding), for the CSP hashes.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(A[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn csp_hash(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!("'sha256-{}'", base64(d.as_ref()))
}

/// The page's Content-Security-Policy: nothing may load (no images, fonts, frames or
/// connections), only our own style and script apply (by hash), no forms, no base URL. (`frame-ancestors` is not allowed in a `<meta>` policy:
/// browsers ignore it there, with a console error.)
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

const STYLE: &str = r#"
:root{--ok:#d8f3dc;--degraded:#fff3bf;--broken:#ffd6d6;--other:#dbe9f6;--line:#ccc}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:80em;padding:0 1em;color:#222;line-height:1.35}
h1{margin:0 0 .2em}.meta{color:#666;margin:0 0 1em}h2{margin:1.2em 0 .4em}
[hidden]{display:none!important}
section#changes{border:2px solid #e0a800;border-radius:6px;padding:.3em 1em;background:#fffbea}
section#changes li.ch-worse b{color:#b00020}section#changes li.ch-better b{color:#1b7f3b}
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0}
.card{border-radius:6px;padding:.4em .9em;background:#eee}.card b{font-size:1.4em;display:block}
.ok{background:var(--ok)}.degraded{background:var(--degraded)}.broken{background:var(--broken)}.other{background:var(--other)}
table{border-collapse:collapse;width:100%;margin:.4em 0 1.2em}
th,td{border:1px solid var(--line);padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4;white-space:nowrap}
.controls{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid var(--line);z-index:1}
.filters{display:flex;flex-wrap:wrap;gap:.3em;align-items:center;margin:.2em 0}
.filters>span{color:#555;min-width:5.5em}
.controls button{font:inherit;font-size:.9em;border:1px solid #999;border-radius:4px;background:#fafafa;padding:.15em .55em;cursor:pointer}
.controls button[aria-pressed="true"]{background:#234;color:#fff;border-color:#234}
.controls button .n{opacity:.75}
.controls input[type=search]{font:inherit;padding:.2em .4em;min-width:18em}
#shown{color:#555;margin-left:.5em}
th button.sort{all:unset;cursor:default}
.js th button.sort{cursor:pointer}.js th button.sort:after{content:" \2195";color:#999}
.js th button.sort:focus-visible{outline:2px solid #234}
th[aria-sort=ascending] button.sort:after{content:" \25B2";color:#222}
th[aria-sort=descending] button.sort:after{content:" \25BC";color:#222}
table.domains>tbody{border-top:2px solid #bbb}
td.v{font-weight:bold}
tr.more>td{padding:0 .5em;background:#fcfcfc}
tr.more summary{cursor:pointer;color:#345;padding:.2em 0}
tr.more details[open]{padding-bottom:.6em}
.trend{white-space:nowrap}
.trend i{display:inline-block;width:.8em;height:1.1em;margin-right:1px;border:1px solid #999;vertical-align:middle}
.trend i.now{border:2px solid #222}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
td.ch-worse,span.ch-worse{color:#b00020;font-weight:bold}td.ch-better,span.ch-better{color:#1b7f3b}
table.mx td{overflow-wrap:anywhere}
.sev-critical,.sev-error{color:#b00020}.sev-warning{color:#8a6d00}.sev-inconclusive{color:#1f5f99}.sev-info{color:#666}
ul.findings li{margin:.3em 0}.advice{margin-left:1em}
pre{background:#f4f4f4;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85em}
.evidence{font-family:monospace;font-size:.85em;color:#444;margin-left:1em}
footer{color:#777;font-size:.85em;margin-top:2em}
@media print{
.controls{display:none!important}
body{max-width:none;margin:0;font-size:10pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none}
a{color:inherit;text-decoration:none}
th button.sort:after{content:none!important}
pre{white-space:pre-wrap}
}
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var d = document, table = d.getElementById('domains');
  if (!table) { return; }
  d.documentElement.classList.add('js');
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  var rows = Array.prototype.slice.call(table.tBodies);
  var state = { verdict: '', code: '', q: '' };
  var shown = d.getElementById('shown'), none = d.getElementById('none');
  var hasWord = function (list, w) { return (' ' + (list || '') + ' ').indexOf(' ' + w + ' ') >= 0; };
  function apply() {
    var n = 0;
    rows.forEach(function (tb) {
      var ok = (!state.verdict || tb.getAttribute('data-verdict') === state.verdict) &&
        (!state.code || hasWord(tb.getAttribute('data-codes'), state.code)) &&
        (!state.q || (tb.getAttribute('data-text') || '').indexOf(state.q) >= 0);
      tb.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n === rows.length ? 'all ' + n + ' shown' : n + ' of ' + rows.length + ' shown';
    none.hidden = n > 0;
  }
  each(d.querySelectorAll('button[data-filter]'), function (b) {
    b.addEventListener('click', function () {
      state[b.getAttribute('data-filter')] = b.getAttribute('data-value');
      each(b.parentNode.querySelectorAll('button[data-filter]'), function (o) {
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      });
      apply();
    });
  });
  var search = d.getElementById('search');
  search.addEventListener('input', function () {
    state.q = search.value.trim().toLowerCase();
    apply();
  });
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, i) {
    var b = th.querySelector('button.sort');
    if (!b) { return; }
    b.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var key = function (tb) {
        var c = tb.rows[0].cells[i], k = c.getAttribute('data-sort');
        return k === null ? c.textContent.trim() : k;
      };
      rows.sort(function (x, y) {
        var n = key(x).localeCompare(key(y), undefined, { numeric: true, sensitivity: 'base' });
        return asc ? n : -n;
      });
      rows.forEach(function (tb) { table.appendChild(tb); });
    });
  });
  var openAll = function (open) { each(table.querySelectorAll('details'), function (x) { x.open = open; }); };
  d.getElementById('expand').addEventListener('click', function () { openAll(true); });
  d.getElementById('collapse').addEventListener('click', function () { openAll(false); });
  var closed = [];
  window.addEventListener('beforeprint', function () {
    closed = Array.prototype.filter.call(d.querySelectorAll('details'), function (x) { return !x.open; });
    closed.forEach(function (x) { x.open = true; });
  });
  window.addEventListener('afterprint', function () {
    closed.forEach(function (x) { x.open = false; });
    closed = [];
  });
  function reveal() {
    var t = location.hash.length > 1 ? d.getElementById(location.hash.slice(1)) : null;
    var x = t && t.tagName === 'TBODY' ? t.querySelector('details') : null;
    if (x) { x.open = true; }
  }
  window.addEventListener('hashchange', reveal);
  reveal();
  d.getElementById('controls').hidden = false;
  apply();
}());
"#;

/// The trend cell: the earlier verdicts, oldest first, then today's.
fn trend_cell(trend: &[Past], now: Verdict) -> String {
    let mut out = String::from("<td class=\"trend\">");
    let mut words = Vec::with_capacity(trend.len() + 1);
    for p in trend {
        let _ = write!(
            out,
            "<i class=\"{}\" title=\"{}: {}\"></i>",
            verdict_class(p.verdict),
            esc(&crate::history::time::local(p.started_at)),
            esc(p.verdict.as_str())
        );
        words.push(p.verdict.as_str());
    }
    let _ = write!(
        out,
        "<i class=\"{} now\" title=\"this run: {}\"></i>",
        verdict_class(now),
        esc(now.as_str())
    );
    words.push(now.as_str());
    // The same as text, for screen readers and for copying.
    let _ = write!(
        out,
        "<span class=\"sr\">{}</span></td>",
        esc(&words.join(" → "))
    );
    out
}

impl HtmlRender {
    /// Table columns of one domain's row (for the details row's colspan).
    fn width(&self, passthrough: usize) -> usize {
        passthrough + if self.history { 7 } else { 5 }
    }

    /// The expandable part under a domain's row.
    fn details(item: Item<'_>) -> String {
        let r = item.report;
        let mut out = String::new();
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
            let _ = writeln!(out, "<p>Why: {}</p>", esc(e));
            return out;
        }
        if let Some(p) = &r.partial {
            let _ = writeln!(
                out,
                "<p><b>Stopped at the deadline:</b> {} was not finished.</p>",
                esc(p)
            );
        }
        if let Some(c) = item.changes {
            out.push_str("<h4>Since the previous run</h4><p>");
            match &c.previous {
                Some(p) => {
                    let _ = write!(
                        out,
                        "<span class=\"ch-{}\">{}</span>: {} on {} → {} now",
                        c.change.as_str(),
                        esc(c.change.as_str()),
                        esc(p.verdict.as_str()),
                        esc(&crate::history::time::local(p.started_at)),
                        esc(r.verdict.as_str())
                    );
                }
                None => out.push_str("first recorded run of this domain"),
            }
            if !c.new_findings.is_empty() {
                let _ = write!(out, "; new: {}", esc(&c.new_labels()));
            }
            if !c.resolved_findings.is_empty() {
                let _ = write!(out, "; resolved: {}", esc(&c.resolved_labels()));
            }
            out.push_str("</p>\n");
        }
        if !r.mx.is_empty() {
            out.push_str("<h4>Mail hosts</h4><table class=\"mx\"><thead><tr><th>Pref</th><th>Host</th><th>Address</th><th>PTR</th><th>FCrDNS</th><th>SMTP</th><th>Banner</th><th>STARTTLS</th><th>TLS</th><th>Certificate</th><th>Blocklists</th></tr></thead><tbody>\n");
            for mx in &r.mx {
                let pref = if mx.implicit {
                    "(A)".to_owned()
                } else {
                    mx.preference.to_string()
                };
                if mx.addresses.is_empty() {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td colspan=\"9\">no address</td></tr>",
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
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&pref),
                        esc(&mx.host),
                        esc(&a.ip.to_string()),
                        esc(&a.ptr.join(" ")),
                        b(a.fcrdns),
                        esc(a.smtp.status.as_str()),
                        esc(a.smtp.banner.as_deref().unwrap_or("–")),
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
                esc(a.spf.as_str()),
                esc(a.dmarc.as_str()),
                esc(a.mta_sts.as_str()),
                esc(a.dane.as_str())
            );
        }
        if r.findings.is_empty() {
            out.push_str("<p>No findings.</p>\n");
        } else {
            out.push_str("<h4>Findings</h4><ul class=\"findings\">\n");
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
                    let _ = write!(
                        out,
                        "<div class=\"advice\"><i>What to do:</i> {}</div>",
                        esc(&f.advice)
                    );
                }
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        let transcript = r.transcript_text();
        if !transcript.is_empty() {
            let _ = writeln!(
                out,
                "<details class=\"transcript\"><summary>SMTP conversation</summary><pre>{}</pre></details>",
                transcript.lines().map(esc).collect::<Vec<_>>().join("\n")
            );
        }
        out
    }
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
            "<tbody id=\"{id}\" data-verdict=\"{}\" data-codes=\"{}\" data-text=\"{}\"><tr class=\"row\">",
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
            "<td class=\"dom\"><a href=\"#{id}\">{}</a></td><td class=\"v {}\" data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td>",
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
            "<td>{}</td></tr>\n<tr class=\"more\"><td colspan=\"{}\"><details><summary>Details: mail hosts, findings{}</summary>\n{}</details></td></tr></tbody>",
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
             <p class=\"meta\">{} domain(s) checked in {:.1} s by mailcheck-audit {}</p></header>\n",
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
            head.push_str("<table class=\"codes\"><thead><tr><th>Finding</th><th>Domains</th><th>Meaning</th></tr></thead><tbody>\n");
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

        // The controls: hidden until the script shows them (without it they would do nothing).
        head.push_str("<section id=\"list\"><h2>All domains</h2>\n<div id=\"controls\" class=\"controls\" hidden>\n<div class=\"filters\" role=\"group\" aria-label=\"Filter by verdict\"><span>Verdict</span>");
        let _ = write!(
            head,
            "<button type=\"button\" data-filter=\"verdict\" data-value=\"\" aria-pressed=\"true\">all <span class=\"n\">{}</span></button>",
            summary.rows
        );
        for (v, n) in summary.verdict_counts() {
            let _ = write!(
                head,
                "<button type=\"button\" data-filter=\"verdict\" data-value=\"{}\" aria-pressed=\"false\" class=\"{}\">{} <span class=\"n\">{n}</span></button>",
                esc(v.as_str()),
                verdict_class(v),
                esc(v.as_str())
            );
        }
        head.push_str("</div>\n");
        if !codes.is_empty() {
            head.push_str("<div class=\"filters\" role=\"group\" aria-label=\"Filter by finding\"><span>Finding</span><button type=\"button\" data-filter=\"code\" data-value=\"\" aria-pressed=\"true\">any</button>");
            for (c, n) in &codes {
                let _ = write!(
                    head,
                    "<button type=\"button\" data-filter=\"code\" data-value=\"{}\" aria-pressed=\"false\" title=\"{}\">{} <span class=\"n\">{n}</span></button>",
                    esc(c.as_str()),
                    esc(c.fires_when()),
                    esc(c.as_str())
                );
            }
            head.push_str("</div>\n");
        }
        head.push_str("<div class=\"filters\"><span>Search</span><input type=\"search\" id=\"search\" placeholder=\"domain, input, host, other columns\" aria-label=\"Search domains\" autocomplete=\"off\"><button type=\"button\" id=\"expand\">expand all</button><button type=\"button\" id=\"collapse\">collapse all</button><span id=\"shown\" role=\"status\"></span></div>\n</div>\n");

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
                "<th scope=\"col\" title=\"Verdicts in the latest {} runs, then this one (framed)\">Trend</th>",
                crate::history::TREND_RUNS
            );
        }
        head.push_str("<th scope=\"col\">Top issue</th></tr></thead>\n");
        let middle =
            "</table>\n<p id=\"none\" hidden>No domain matches these filters.</p></section>\n"
                .to_owned();
        let tail = format!(
            "<footer>Generated by mailcheck-audit {} in {:.1} s. Verdicts: {}</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
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
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use mailcheck::facts::AddressScope;
    use mailcheck::report::{AddressSummary, MxSummary, SmtpSummary};
    use mailcheck::{Code, Finding, Report};

    use super::*;
    use crate::history::{Baseline, compare};
    use crate::input::Row;

    const HOSTILE: &str =
        "220 mx <script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=1\"> ' ESMTP";

    fn row(line: u64, input: &str) -> Row {
        Row {
            source: Arc::from("list.csv"),
            line,
            input: input.to_owned(),
            columns: vec![format!("Client <b>{line}</b>")],
            problem: None,
            origin: None,
        }
    }

    fn hostile_report() -> Report {
        let mut r = Report::invalid("hostile.test", "");
        r.error = None;
        r.domain = "hostile.test".to_owned();
        r.verdict = Verdict::Broken;
        r.worst = Some(Severity::Error);
        r.findings = vec![
            Finding::new(
                Code::SmtpRcptRejected,
                "127.0.0.77",
                "refused <img src=x onerror=alert(1)>",
            )
            .evidence(HOSTILE),
        ];
        r.mx = vec![MxSummary {
            host: "mx.hostile.test".to_owned(),
            preference: 10,
            implicit: false,
            addresses: vec![AddressSummary {
                ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77)),
                scope: AddressScope::Loopback,
                ptr: vec!["mx.hostile.test".to_owned()],
                fcrdns: Some(true),
                smtp: SmtpSummary {
                    status: mailcheck::report::SmtpStatus::Rejected,
                    banner: Some(HOSTILE.to_owned()),
                    starttls: Some(false),
                    tls_version: None,
                    cert_ok: None,
                    last_reply: None,
                    note: None,
                },
                dnsbl: Vec::new(),
            }],
        }];
        r
    }

    /// The whole page as the sink assembles it, with `history` rows compared with `baseline`.
    fn page(reports: &[(Row, Report)], baseline: Option<&Baseline>, history: bool) -> String {
        let render = HtmlRender {
            columns: vec!["client <i>".to_owned()],
            title: "Audit <of> \"clients\"".to_owned(),
            history,
        };
        let mut summary = Summary::default();
        let mut rows = String::new();
        let trend = [Past {
            run_id: "r0".to_owned(),
            started_at: 0,
            verdict: Verdict::Ok,
        }];
        for (row, report) in reports {
            let changes = history.then(|| compare(baseline, report));
            summary.add(report);
            if let Some(c) = &changes {
                summary.add_changes(&report.domain, report, c);
            }
            let chunk = render.row(Item {
                row,
                report,
                columns: &render.columns,
                changes: changes.as_ref(),
                run_id: history.then_some("r1"),
                trend: if history { &trend } else { &[] },
            });
            assert!(chunk.details.is_empty(), "details live under each row");
            rows.push_str(&chunk.body);
        }
        let Finish::Document { head, middle, tail } = render.finish(&summary) else {
            panic!("HTML is a document");
        };
        format!("{head}{rows}{middle}{tail}")
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let reports = [
            (row(2, "hostile.test"), hostile_report()),
            (
                row(3, "<svg onload=alert(1)>"),
                Report::invalid("<svg onload=alert(1)>", "not a domain: <b>"),
            ),
        ];
        let p = page(&reports, None, false);
        assert!(
            p.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
            "{p}"
        );
        assert!(p.contains("&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;"));
        assert!(p.contains("&lt;svg onload=alert(1)&gt;"));
        assert!(p.contains("Client &lt;b&gt;2&lt;/b&gt;") && p.contains("client &lt;i&gt;"));
        assert!(p.contains("<title>Audit &lt;of&gt; &quot;clients&quot;</title>"));
        for bad in ["<img", "<svg", "Client <b>", "client <i>", "onerror=\""] {
            assert!(!p.contains(bad), "{bad} unescaped");
        }
        assert_eq!(p.matches("<script>").count(), 1, "only our own script");
        // The search text and codes go into attributes: quotes are escaped there too.
        assert!(p.contains("data-verdict=\"broken\" data-codes=\"smtp.rcpt_rejected\""));
        assert!(p.contains(
            "data-text=\"hostile.test hostile.test client &lt;b&gt;2&lt;/b&gt; mx.hostile.test\""
        ));
    }

    #[test]
    fn self_contained_with_a_strict_policy() {
        let p = page(&[(row(2, "hostile.test"), hostile_report())], None, false);
        let csp = content_security_policy();
        assert!(p.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
        )));
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!csp.contains("unsafe"), "{csp}");
        // The hashes are those of the very style and script on the page.
        assert!(p.contains(&format!("<style>{STYLE}</style>")));
        assert!(p.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(
            !p.contains(" style=\""),
            "inline style attributes would be blocked"
        );
        // Nothing to fetch: no URL with a scheme at all, no external resource attributes.
        assert!(!p.contains("http://") && !p.contains("https://"), "{p}");
        assert!(!p.contains("src=\"") && !p.contains("<link") && !p.contains("url("));
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
        // Works without the script: controls hidden, domains in <details>; printable.
        assert!(p.contains("<div id=\"controls\" class=\"controls\" hidden>"));
        assert!(p.contains("<details><summary>Details: mail hosts"));
        assert!(STYLE.contains("@media print"));
        assert!(!p.contains("<th scope=\"col\"><button type=\"button\" class=\"sort\">Change"));
        assert!(!p.contains("class=\"trend\""), "no history, no trend");
    }

    #[test]
    fn changes_come_first_and_rows_carry_change_and_trend() {
        let before = Baseline {
            run_id: "r0".to_owned(),
            started_at: 0,
            verdict: Verdict::Ok,
            findings: Vec::new(),
        };
        let p = page(
            &[(row(2, "hostile.test"), hostile_report())],
            Some(&before),
            true,
        );
        let changes = p.find("<section id=\"changes\">").expect("changes section");
        let summary = p.find("<section id=\"summary\">").unwrap();
        let table = p.find("<table id=\"domains\"").unwrap();
        assert!(changes < summary && summary < table, "changes on top");
        assert!(p.contains("<li class=\"ch-worse\"><b>worse</b> hostile.test: ok → broken"));
        assert!(p.contains("<td class=\"ch-worse\" data-sort=\"0\">worse</td>"));
        assert!(p.contains("<td class=\"trend\"><i class=\"ok\" title=\""));
        assert!(p.contains("<span class=\"sr\">ok → broken</span>"));
        // Pass-through column + 7 = every cell of the row.
        assert!(p.contains("<td colspan=\"8\">"));
    }

    #[test]
    fn filter_buttons_and_sort_keys() {
        let mut ok = hostile_report();
        ok.domain = "fine.test".to_owned();
        ok.verdict = Verdict::Ok;
        ok.worst = None;
        ok.findings.clear();
        let p = page(
            &[
                (row(2, "hostile.test"), hostile_report()),
                (row(3, "fine.test"), ok),
            ],
            None,
            false,
        );
        assert!(p.contains("data-filter=\"verdict\" data-value=\"broken\" aria-pressed=\"false\" class=\"broken\">broken <span class=\"n\">1</span>"));
        assert!(p.contains("data-filter=\"code\" data-value=\"smtp.rcpt_rejected\""));
        assert!(p.contains("<td class=\"v broken\" data-sort=\"1\">broken</td>"));
        assert!(p.contains("<td class=\"v ok\" data-sort=\"5\">ok</td>"));
        assert_eq!(
            p.matches("<tbody id=\"r").count(),
            2,
            "one tbody per domain"
        );
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
