//! The Markdown report (tickets, wikis): the summary, a table of every row, then the findings
//! with advice for each domain that has any. Cells are escaped for Markdown tables. With the
//! history on, it leads with "Changed since &lt;date&gt;": the counts and a table of the domains whose
//! verdict or findings changed.

use std::fmt::Write as _;

use super::{Chunk, Finish, Item, Render};
use crate::sanitize::markdown as md;
use crate::summary::{ChangeSummary, Summary};

/// The "Changed since" section: counts, then a table of the changed domains, worst change first.
pub fn changes_section(cs: &ChangeSummary) -> String {
    let mut out = format!("## {}\n\n{}", md(&cs.heading()), cs.counts_text());
    if cs.new_broken > 0 {
        let _ = write!(out, "; {} newly broken", cs.new_broken);
    }
    out.push_str(".\n\n");
    if cs.changed.is_empty() {
        if cs.since().is_some() {
            out.push_str("No domain changed.\n\n");
        }
        return out;
    }
    out.push_str(
        "| domain | change | was | now | new findings | resolved findings |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut rows: Vec<_> = cs.changed.iter().collect();
    rows.sort_by_key(|r| r.changes.change);
    for r in rows {
        let c = &r.changes;
        let _ = writeln!(
            out,
            "| {} | **{}** | {} | {} | {} | {} |",
            md(&r.name),
            c.change,
            c.previous.as_ref().map_or("", |p| p.verdict.as_str()),
            r.verdict,
            md(&c.new_labels()),
            md(&c.resolved_labels())
        );
    }
    if cs.changed_total > cs.changed.len() as u64 {
        let _ = writeln!(
            out,
            "\n… and {} more changed domain(s).",
            cs.changed_total - cs.changed.len() as u64
        );
    }
    out.push('\n');
    out
}

/// Renders Markdown.
#[derive(Debug, Clone, Default)]
pub struct MarkdownRender {
    /// Pass-through column names.
    pub columns: Vec<String>,
    /// The title.
    pub title: String,
}

impl Render for MarkdownRender {
    fn start(&self, _columns: &[String]) -> String {
        String::new()
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let r = item.report;
        let name = r.display_name();
        let top = r.top_issue();
        let mut body = String::from("|");
        for c in &item.row.columns {
            let _ = write!(body, " {} |", md(c));
        }
        let _ = writeln!(
            body,
            " {} | **{}** | {} | {} |",
            md(name),
            r.verdict.as_str(),
            r.worst.map_or("", |s| s.as_str()),
            md(&top)
        );
        let mut details = String::new();
        if !r.findings.is_empty() || r.error.is_some() {
            let _ = writeln!(
                details,
                "### {} — {}\n\n{}\n",
                md(name),
                r.verdict.as_str(),
                r.verdict.explain()
            );
            if let Some(e) = &r.error {
                let _ = writeln!(details, "Why: {}\n", md(e));
            }
            if let Some(c) = item.changes.filter(|c| c.is_change())
                && let Some(p) = &c.previous
            {
                let _ = writeln!(
                    details,
                    "Changed since {}: **{}** (was {}).{}{}\n",
                    crate::history::time::local(p.started_at),
                    c.change,
                    p.verdict,
                    if c.new_findings.is_empty() {
                        String::new()
                    } else {
                        format!(" New: {}.", md(&c.new_labels()))
                    },
                    if c.resolved_findings.is_empty() {
                        String::new()
                    } else {
                        format!(" Resolved: {}.", md(&c.resolved_labels()))
                    }
                );
            }
            if let Some(a) = &r.auth {
                let _ = writeln!(
                    details,
                    "Authentication and TLS policy: SPF {} · DMARC {} · MTA-STS {} · DANE {}\n",
                    md(a.spf.as_str()),
                    md(a.dmarc.as_str()),
                    md(a.mta_sts.as_str()),
                    md(a.dane.as_str())
                );
            }
            for f in &r.findings {
                let _ = writeln!(
                    details,
                    "- **{}** `{}` ({}): {}",
                    f.severity.as_str(),
                    f.code.as_str(),
                    md(&f.subject),
                    md(&f.summary)
                );
                for e in &f.evidence {
                    let _ = writeln!(details, "  - evidence: {}", md(e));
                }
                if !f.advice.is_empty() {
                    let _ = writeln!(
                        details,
                        "  - what to do: {}{}",
                        md(&f.advice),
                        md(&crate::cli::settings_hint(f.code))
                    );
                }
            }
            details.push('\n');
        }
        Chunk { body, details }
    }

    fn finish(&self, summary: &Summary) -> Finish {
        let mut head = format!("# {}\n\n", md(&self.title));
        if let Some(cs) = &summary.changes {
            head.push_str(&changes_section(cs));
        }
        if let Some(here) = summary.from_here() {
            head.push_str("## From here\n\nThis machine's vantage point (not the domains):\n\n");
            for line in &here.lines {
                let _ = writeln!(head, "- {}", md(line));
            }
            for f in &here.findings {
                let _ = writeln!(
                    head,
                    "- **`{}`** {}: {} — {}",
                    f.code.as_str(),
                    f.severity,
                    md(&f.summary),
                    md(&f.advice)
                );
            }
            head.push('\n');
        }
        let _ = writeln!(head, "{} domain(s) checked.\n", summary.rows);
        head.push_str("| verdict | domains |\n|---|---|\n");
        for (v, n) in summary.verdict_counts() {
            let _ = writeln!(head, "| {} | {n} |", v.as_str());
        }
        let codes = summary.code_counts();
        if !codes.is_empty() {
            head.push_str("\n| finding | domains | meaning |\n|---|---|---|\n");
            for (c, n) in codes {
                let _ = writeln!(head, "| `{}` | {n} | {} |", c.as_str(), md(c.fires_when()));
            }
        }
        head.push_str("\n## All domains\n\n|");
        for c in &self.columns {
            let _ = write!(head, " {} |", md(c));
        }
        head.push_str(" domain | verdict | worst | top issue |\n|");
        for _ in 0..self.columns.len() + 4 {
            head.push_str("---|");
        }
        head.push('\n');
        Finish::Document {
            head,
            middle: "\n## Details\n\n".to_owned(),
            tail: String::new(),
        }
    }
}
