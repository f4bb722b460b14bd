//! One domain in the HTML report: its stable anchor, the verdict colours and sort keys of its
//! row, the trend cell, and the expandable details under the row (mail hosts, authentication,
//! findings with advice, what changed, the SMTP conversation).

use std::fmt::Write as _;

use mailcheck::{Severity, Verdict};

use super::HtmlRender;
use crate::history::{Change, Past};
use crate::output::Item;
use crate::sanitize::html as esc;

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
pub(super) const fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Degraded => "degraded",
        Verdict::Broken | Verdict::Invalid => "broken",
        Verdict::NoMail | Verdict::Inconclusive => "other",
    }
}

/// Sort key of a verdict: its place in [`Verdict::ALL`] (the verdict order, worst first).
pub(super) fn verdict_rank(v: Verdict) -> usize {
    Verdict::ALL.iter().position(|a| *a == v).unwrap_or(0)
}

/// Sort key of a change: its place in [`Change::ALL`] (worse first).
pub(super) fn change_rank(c: Change) -> usize {
    Change::ALL.iter().position(|a| *a == c).unwrap_or(0)
}

/// Sort key of the worst severity: its place in [`Severity::ALL`] (the severity order, worst
/// first), none last.
pub(super) fn severity_key(s: Option<Severity>) -> usize {
    s.map_or(9, |s| {
        Severity::ALL.iter().position(|a| *a == s).unwrap_or(0)
    })
}

/// The trend cell: the earlier verdicts, oldest first, then today's.
pub(super) fn trend_cell(trend: &[Past], now: Verdict) -> String {
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
    pub(super) fn width(&self, passthrough: usize) -> usize {
        passthrough + if self.history { 7 } else { 5 }
    }

    /// The expandable part under a domain's row.
    pub(super) fn details(item: Item<'_>) -> String {
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
            out.push_str(
                "<h4>Mail hosts</h4><table class=\"mx\"><thead><tr><th>Pref</th><th>Host</th>\
                 <th>Address</th><th>PTR</th><th>FCrDNS</th><th>SMTP</th><th>Banner</th>\
                 <th>STARTTLS</th><th>TLS</th><th>Certificate</th><th>Blocklists</th></tr></thead>\
                 <tbody>\n",
            );
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
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
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
                "<h4>Authentication and TLS policy</h4><table class=\"auth\"><thead><tr>\
                 <th>SPF</th><th>DMARC</th><th>MTA-STS</th><th>DANE</th></tr></thead><tbody><tr>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></tbody></table>",
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
                "<details class=\"transcript\"><summary>SMTP conversation</summary>\
                 <pre>{}</pre></details>",
                transcript.lines().map(esc).collect::<Vec<_>>().join("\n")
            );
        }
        out
    }
}
