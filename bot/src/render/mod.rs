//! Turning a [`Report`] into a Discord embed and an attachment, within every Discord limit.
//!
//! The embed is built as an [`EmbedDraft`] (plain strings), fitted to Discord's limits by
//! [`EmbedDraft::fit`], then converted to serenity's `CreateEmbed`. `preview` prints the same
//! JSON the bot sends. All server- and DNS-supplied text goes through
//! [`crate::sanitize::untrusted`].
//!
//! Two sides: findings about the domain come first; findings about the bot's own host (subject
//! "this machine": its blocked port 25, its identity, its blocklist status, blocklists that
//! refuse its resolver) are labelled as such and come last, and an address line never blames
//! the target for what a finding pins on us (a refusal of the prober, greylisting, our own
//! blocked port 25).
//!
//! - [`embed`]: [`EmbedDraft`] and Discord's limits.
//! - [`wording`]: verdict and severity words and colours, statuses in plain words.
//! - `fields`: the MX and finding fields of a report.
//! - [`progress`]: the embeds while a check runs, or when it fails inside the bot.
//! - [`components`]: the buttons under an answer.
//! - [`explain`]: the private answers of the buttons (the step ladder, the transcript note).
//! - this module: [`render_report`] and the attached [`report_text`].

use std::fmt::Write as _;
use std::time::Duration;

use mailcheck::facts::Family;
use mailcheck::{Code, Finding, Report, Verdict};
use serde_json::Value;
use serenity::all::CreateAttachment;

use crate::sanitize::clean_multiline;

pub mod components;
pub mod embed;
pub mod explain;
mod fields;
pub mod progress;
#[cfg(test)]
mod tests;
pub mod wording;

pub use components::*;
pub use embed::*;
pub use explain::*;
use fields::{finding_field, mx_field};
pub use progress::*;
pub use wording::*;

/// `untrusted`, showing non-public addresses only for a lab.
fn shown(lab: bool, s: &str) -> String {
    crate::sanitize::shown(s, lab)
}

/// Whether the report comes from a lab (private targets allowed): its loopback addresses are
/// shown; anywhere else non-public addresses are not.
fn is_lab(report: &Report) -> bool {
    report.facts.as_ref().is_some_and(|f| f.scope.allow_private)
}

/// Context of a rendering that is not in the report itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderContext {
    /// The result came from the cache and is this old.
    pub cached_age: Option<Duration>,
    /// A warning about the bot's own host for the footer (its outbound port 25 is blocked).
    pub host_note: Option<String>,
}

/// What the bot sends for a report: one embed and the full text as an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// The fitted embed.
    pub embed: EmbedDraft,
    /// Whether fitting cut or dropped something.
    pub truncated: bool,
    /// Attachment file name.
    pub file_name: String,
    /// Attachment bytes (findings with all evidence, then the SMTP transcript).
    pub file: Vec<u8>,
}

impl RenderedReport {
    /// The serenity attachment.
    pub fn attachment(&self) -> CreateAttachment {
        CreateAttachment::bytes(self.file.clone(), self.file_name.clone())
    }

    /// The exact embed JSON the bot sends.
    pub fn embed_json(&self) -> Value {
        serde_json::to_value(self.embed.to_embed()).unwrap_or(Value::Null)
    }
}

/// Renders a finished report.
pub fn render_report(report: &Report, ctx: &RenderContext) -> RenderedReport {
    let lab = is_lab(report);
    let domain_shown = if report.domain.is_empty() {
        shown(lab, &report.input)
    } else {
        display_domain(&report.domain)
    };
    let mut description = format!(
        "**{}** — {}",
        verdict_label(report.verdict),
        report.verdict.explain()
    );
    if let Some(error) = &report.error {
        let _ = write!(description, "\n{}", shown(lab, error));
    }
    let ours = report
        .findings
        .iter()
        .filter(|f| about_this_machine(f))
        .count();
    let faults = report.faults().filter(|f| !about_this_machine(f)).count();
    if report.verdict != Verdict::Invalid {
        let not_checked = report.facts.as_ref().map_or(0, |f| f.not_checked.len());
        let hosts = match (report.mx.len(), not_checked) {
            (0, _) => "no mail server found".to_owned(),
            (1, 0) => "1 mail server checked".to_owned(),
            (n, 0) => format!("{n} mail servers checked"),
            (n, k) => format!("{n} mail servers, {k} address(es) over the limit not tested"),
        };
        let notes = report.findings.len() - faults - ours;
        let problems = match faults {
            0 => "No problems found".to_owned(),
            1 => "**1 problem to fix** (below, worst first)".to_owned(),
            n => format!("**{n} problems to fix** (below, worst first)"),
        };
        let _ = write!(description, "\n{problems} · {hosts}");
        if notes > 0 {
            let _ = write!(description, " · {notes} note(s)");
        }
        if ours > 0 {
            let _ = write!(
                description,
                " · {ours} note(s) about the bot's own host (at the end)"
            );
        }
    }
    // Our own blocked port 25 explains the whole result: say so at the top, not only in a
    // field that fitting might drop.
    if report
        .findings
        .iter()
        .any(|f| f.code == Code::ProbeEgressBlocked)
    {
        let blocked: Vec<&str> = [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .filter(|family| {
                report
                    .facts
                    .as_ref()
                    .is_some_and(|f| f.vantage.egress_blocked(*family))
            })
            .map(Family::as_str)
            .collect();
        let over = if blocked.is_empty() {
            String::new()
        } else {
            format!(" over {}", blocked.join(" and "))
        };
        let _ = write!(
            description,
            "\n🖥️ **The bot's own host cannot reach port 25{over}**, so its SMTP results say \
             nothing about {domain_shown}: this is about the bot, not the domain. Its operator \
             has to move it or get port 25 unblocked."
        );
    }
    if let Some(partial) = &report.partial {
        let _ = write!(
            description,
            "\n⚠️ **Partial result**: {}. Below is what was checked before that; press \
             Re-check to try again.",
            shown(lab, partial)
        );
    }
    if let Some(at) = report.facts.as_ref().map(|f| f.observed_at) {
        // Discord shows it in the reader's time zone and keeps "5 minutes ago" current.
        let _ = write!(description, "\nChecked <t:{at}:R>");
    }
    if let Some(age) = ctx.cached_age {
        let _ = write!(
            description,
            "\n_Cached result from {} ago; press Re-check for a fresh one._",
            human_duration(age)
        );
    }
    let mut fields: Vec<FieldDraft> = Vec::new();
    // Faults first (most useful), then the hosts, then the rest of the findings.
    // Findings about the bot's own host come last, apart from the domain's.
    let (ours, theirs): (Vec<&Finding>, Vec<&Finding>) = sorted_findings(report)
        .into_iter()
        .partition(|f| about_this_machine(f));
    let (major, minor): (Vec<&Finding>, Vec<&Finding>) =
        theirs.into_iter().partition(|f| f.severity.is_fault());
    fields.extend(major.iter().map(|f| finding_field(f, lab)));
    fields.extend(report.mx.iter().map(|mx| mx_field(mx, report)));
    if let Some(a) = &report.auth {
        fields.push(FieldDraft {
            name: "Authentication and TLS policy".to_owned(),
            value: format!(
                "SPF **{}** · DMARC **{}** · MTA-STS **{}** · DANE **{}**",
                shown(lab, a.spf.as_str()),
                shown(lab, a.dmarc.as_str()),
                shown(lab, a.mta_sts.as_str()),
                shown(lab, a.dane.as_str())
            ),
            inline: false,
        });
    }
    fields.extend(minor.iter().map(|f| finding_field(f, lab)));
    fields.extend(ours.iter().map(|f| finding_field(f, lab)));
    let footer = answer_footer(
        report.elapsed_ms,
        &report.resolver,
        "full report and SMTP transcript in the attached file",
        ctx.host_note.as_deref(),
    );
    let mut embed = EmbedDraft {
        title: format!("Mail check: {domain_shown}"),
        description,
        colour: verdict_colour(report.verdict),
        fields,
        footer,
    };
    let truncated = embed.fit();
    let file_name = format!(
        "mailcheck-{}.txt",
        if report.domain.is_empty() {
            "input"
        } else {
            report.domain.as_str()
        }
    );
    RenderedReport {
        embed,
        truncated,
        file_name,
        file: report_text(report),
    }
}

/// Footers show no markdown, so only control characters and mentions matter there.
fn clean_for_footer(s: &str) -> String {
    crate::sanitize::neutralize_mentions(&crate::sanitize::clean_line(s))
}

/// The footer of an answer: how long it took, the resolver, what the attached file holds, and
/// the note about the bot's own host first when there is one.
pub fn answer_footer(
    elapsed_ms: u64,
    resolver: &str,
    attached: &str,
    host_note: Option<&str>,
) -> String {
    let resolver = if resolver.is_empty() { "—" } else { resolver };
    let footer = format!(
        "mailcheck · took {} · resolver {} · {attached}",
        human_duration(Duration::from_millis(elapsed_ms)),
        clean_for_footer(resolver)
    );
    match host_note {
        Some(note) => format!("⚠ {} · {footer}", clean_for_footer(note)),
        None => footer,
    }
}

/// The attachment: every finding with all its evidence, then the SMTP transcript. Plain text,
/// control characters removed, at most [`MAX_ATTACHMENT_BYTES`].
pub fn report_text(report: &Report) -> Vec<u8> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mailcheck report for {} (input: {})",
        report.domain, report.input
    );
    let _ = writeln!(
        out,
        "verdict: {} — {}",
        report.verdict,
        report.verdict.explain()
    );
    let _ = writeln!(
        out,
        "resolver: {} · {} ms\n",
        report.resolver, report.elapsed_ms
    );
    if let Some(facts) = &report.facts {
        let view = mailcheck::diagnose::vantage::view(&facts.vantage, &facts.dnsbl_zones);
        if !view.lines.is_empty() {
            out.push_str(
                "From here (the bot's own host; findings about it say \"this machine\")\n",
            );
            for line in &view.lines {
                let _ = writeln!(out, "    {line}");
            }
            out.push('\n');
        }
    }
    let (ours, theirs): (Vec<&Finding>, Vec<&Finding>) = sorted_findings(report)
        .into_iter()
        .partition(|f| about_this_machine(f));
    for f in theirs.into_iter().chain(ours) {
        let _ = writeln!(
            out,
            "[{}] {} {}: {}",
            f.severity, f.code, f.subject, f.summary
        );
        for e in &f.evidence {
            let _ = writeln!(out, "    {e}");
        }
        if !f.advice.is_empty() {
            let _ = writeln!(out, "    fix: {}", f.advice);
        }
    }
    let transcript = report.transcript_text();
    if !transcript.is_empty() {
        out.push_str("\nSMTP transcript\n===============\n");
        out.push_str(&transcript);
    }
    let mut text = clean_multiline(&out);
    if text.len() > MAX_ATTACHMENT_BYTES {
        let mut cut = MAX_ATTACHMENT_BYTES - 64;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n[... cut: the report is larger than 1 MiB]\n");
    }
    text.into_bytes()
}
