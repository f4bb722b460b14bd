//! The private answers of the buttons: the step ladder ("Explain") and the transcript note.

use std::fmt::Write as _;

use mailcheck::Report;

use super::*;
use crate::sanitize::truncate_chars;

/// The "Explain" answer: the seed's step ladder per probed address (MX ✓ → port 25 ✓ → … →
/// RCPT ✗ relay denied), each with what the server said, and the advice in plain words.
pub fn render_explain(report: &Report) -> EmbedDraft {
    let lab = is_lab(report);
    let ladders = mailcheck::ladder::ladders(report);
    let mut description = format!(
        "**{}** — {}\nEach mail server, step by step as a sending server meets it:",
        verdict_label(report.verdict),
        report.verdict.explain()
    );
    if ladders.is_empty() {
        let _ = write!(
            description,
            "\nNo mail server was talked to: {}",
            report
                .findings
                .iter()
                .find(|f| f.severity.is_fault())
                .map_or_else(
                    || "see the findings.".to_owned(),
                    |f| shown(lab, &f.summary)
                )
        );
    }
    let fields = ladders
        .iter()
        .map(|l| {
            let ip = if !lab && mailcheck::facts::AddressScope::of(l.ip).is_private() {
                PRIVATE_ADDRESS.to_owned()
            } else {
                l.ip.to_string()
            };
            let ladder: Vec<String> = l
                .rungs
                .iter()
                .map(|r| format!("{} {}", shown(lab, &r.step), r.mark.symbol()))
                .collect();
            let mut value = ladder.join(" → ");
            if let Some(last) = l.rungs.last() {
                let (detail, _) = truncate_chars(&shown(lab, &last.detail), 300);
                let _ = write!(value, "\n**{}:** {detail}", shown(lab, &last.step));
            }
            if let Some(advice) = &l.advice {
                let _ = write!(value, "\n**What to do:** {}", shown(lab, advice));
            }
            FieldDraft {
                name: format!("{} ({ip})", shown(lab, &l.host)),
                value,
                inline: false,
            }
        })
        .collect();
    let mut embed = EmbedDraft {
        title: format!("Explained: {}", display_domain(&report.domain)),
        description,
        colour: verdict_colour(report.verdict),
        fields,
        footer: "mailcheck · ✓ worked · ✗ failed · ? unsure or later · – not reached".to_owned(),
    };
    embed.fit();
    embed
}

/// The private note that comes with the "Show transcript" file.
pub fn render_transcript_note(report: &Report) -> EmbedDraft {
    let mut description = format!(
        "The full report — every finding with all its evidence — and the SMTP transcript of \
         each mail server are in the attached file ({}).",
        verdict_label(report.verdict)
    );
    if let Some(at) = report.facts.as_ref().map(|f| f.observed_at) {
        let _ = write!(description, "\nChecked <t:{at}:R>");
    }
    let mut embed = EmbedDraft {
        title: format!("Transcript: {}", display_domain(&report.domain)),
        description,
        colour: verdict_colour(report.verdict),
        fields: Vec::new(),
        footer: "mailcheck · C: what the bot sent · S: what the server answered".to_owned(),
    };
    embed.fit();
    embed
}
