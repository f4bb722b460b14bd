//! `/mailcheck-sender ip:<ip> [helo:<name>] [domain:<domain>] [private:<bool>]`: the sending
//! side. "My mail to Gmail bounces" is usually about the sender — no PTR, a generic PTR, a HELO
//! name that does not resolve or match, the IP on Spamhaus, SPF not authorizing it — and this
//! command checks exactly that with [`mailcheck::Checker::check_sender`] (through
//! [`crate::Diagnoser::check_sender`]), answering with one embed (verdict, the large receivers'
//! checklist, the findings with their fixes) and the full report as a file.
//!
//! The same rules as `/mailcheck`: the operator's guild/DM settings, input problems, private
//! addresses (refused in chat unless `allow_private` is set for a lab), a busy bot and cooldowns
//! are answered privately; a slot of the concurrency cap is held while the check runs; the
//! check stops at the configured deadline; everything DNS says is untrusted text; no mentions.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use mailcheck::facts::AddressScope;
use mailcheck::sender::{ChecklistState, SenderReport};
use mailcheck::{CheckOptions, Finding, SenderQuery, Verdict};
use serenity::all::{
    CreateInteractionResponse, CreateInteractionResponseMessage, EditInteractionResponse,
};
use tracing::{info, warn};

use crate::answer::{self, BUSY_TEXT, cooldown_text, no_mentions, with_retries};
use crate::command::ephemeral;
use crate::render::{
    EmbedDraft, FieldDraft, MAX_ATTACHMENT_BYTES, RenderContext, RenderedReport, human_duration,
    severity_icon, severity_word, verdict_colour, verdict_label,
};
use crate::sanitize::{clean_multiline, shown, truncate_chars};
use crate::{Error, HasMailcheck};

/// The user-facing text for an address that is not public.
pub fn private_address_text(scope: AddressScope) -> String {
    format!(
        "That is a {} address: receivers on the Internet never see it as a sender, and I do \
         not check internal addresses from chat. Give the public address your server sends from \
         (your firewall's or provider's outbound address).",
        scope.as_str()
    )
}

/// The user-facing text for input that cannot be a sender.
pub fn invalid_sender_text(error: &mailcheck::sender::SenderInputError) -> String {
    format!(
        "I can't check that: {}.\nGive the sending server's public IP (`ip:203.0.113.25`), and \
         optionally the name it says in HELO (`helo:mail.example.com`) and its sender domain \
         (`domain:example.com`).",
        crate::sanitize::untrusted(&error.to_string())
    )
}

/// Check a sending server: PTR, HELO name, blocklists, SPF — as Gmail and Outlook judge it.
///
/// Give the public IP the server sends from; the HELO name it announces and its sender domain
/// make the check complete (SPF and DMARC need the domain). The answer is public in the channel
/// unless the asker (or the server's default) makes it private; problems with the input,
/// cooldowns and a busy bot are answered privately.
#[poise::command(slash_command, rename = "mailcheck-sender")]
#[allow(unreachable_pub)] // the macro wraps it in `mailcheck_sender()`, which is exported
pub async fn mailcheck_sender<U: HasMailcheck>(
    ctx: poise::Context<'_, U, Error>,
    #[description = "The sending server's public IP address, e.g. 203.0.113.25"]
    #[max_length = 64]
    ip: String,
    #[description = "The name it announces in HELO/EHLO, e.g. mail.example.com"]
    #[max_length = 255]
    helo: Option<String>,
    #[description = "Its sender domain (or an address in it), for SPF and DMARC"]
    #[max_length = 300]
    domain: Option<String>,
    #[description = "Only you see the answer (default: this server's setting)"] private: Option<
        bool,
    >,
) -> Result<(), Error> {
    let data = ctx.data().mailcheck();
    let guild = ctx.guild_id().map(|g| g.get());
    if !data.config.allowed_in(guild) {
        return ephemeral(ctx, answer::NOT_HERE_TEXT.to_owned()).await;
    }
    let query = match SenderQuery::parse(&ip, helo.as_deref(), domain.as_deref()) {
        Ok(q) => q,
        Err(e) => return ephemeral(ctx, invalid_sender_text(&e)).await,
    };
    let scope = AddressScope::of(query.ip);
    if scope.is_private() && !data.config.allow_private {
        return ephemeral(ctx, private_address_text(scope)).await;
    }
    let poise::Context::Application(actx) = ctx else {
        return Ok(());
    };
    let interaction = actx.interaction;
    let http = ctx.http();
    // A slot before the cooldown, so a busy bot does not also cost the user a cooldown; held
    // until the answer is posted.
    let Some(_permit) = data.cap.try_acquire() else {
        return ephemeral(ctx, BUSY_TEXT.to_owned()).await;
    };
    let user = ctx.author().id.get();
    if let Err(hit) = data.cooldowns.try_start(user, guild, Instant::now()) {
        return ephemeral(ctx, cooldown_text(hit)).await;
    }
    let private = private.unwrap_or_else(|| data.config.private_default(guild));
    // Discord wants an answer within 3 s: acknowledge before any lookup.
    let defer = CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new().ephemeral(private),
    );
    if let Err(e) = interaction.create_response(http, defer).await {
        warn!(ip = %query.ip, "could not acknowledge the interaction, not checking: {e}");
        return Ok(());
    }
    info!(
        ip = %query.ip,
        helo = ?query.helo,
        domain = ?query.domain.as_ref().map(mailcheck::DomainName::as_str),
        user,
        ?guild,
        "mailcheck-sender started"
    );
    let deadline = data.config.check_deadline();
    let options = CheckOptions {
        fresh: false,
        deadline: Some(deadline),
    };
    let grace = (deadline / 10).clamp(Duration::from_secs(1), Duration::from_secs(10));
    let work = data.diagnoser.check_sender(&query, options);
    let report = match tokio::time::timeout(deadline + grace, work).await {
        Ok(Some(report)) => report,
        Ok(None) => SenderReport::invalid(
            &query.ip.to_string(),
            query.helo.as_deref(),
            query.domain.as_ref().map(mailcheck::DomainName::as_str),
            "this bot's checker cannot check senders",
        ),
        Err(_) => {
            let mut r = SenderReport::invalid(
                &query.ip.to_string(),
                query.helo.as_deref(),
                query.domain.as_ref().map(mailcheck::DomainName::as_str),
                format!(
                    "the check did not finish within {}: a DNS server is very slow; please \
                     try again later",
                    human_duration(deadline)
                ),
            );
            r.verdict = Verdict::Inconclusive;
            r
        }
    };
    data.health.check_finished();
    info!(
        ip = %query.ip,
        verdict = %report.verdict,
        findings = report.findings.len(),
        elapsed_ms = report.elapsed_ms,
        "mailcheck-sender finished"
    );
    let ctx_render = RenderContext {
        cached_age: None,
        host_note: data.host_note.get(),
    };
    let rendered = render_sender(&report, &ctx_render, data.config.allow_private);
    with_retries("sender answer", || async {
        interaction
            .edit_response(
                http,
                EditInteractionResponse::new()
                    .content("")
                    .embed(rendered.embed.to_embed())
                    .new_attachment(rendered.attachment())
                    .allowed_mentions(no_mentions()),
            )
            .await
            .map(drop)
    })
    .await
    .map_err(Into::into)
}

fn finding_field(f: &Finding, lab: bool) -> FieldDraft {
    let mut value = format!("`{}` · {}", f.code.as_str(), shown(&f.subject, lab));
    for line in f.evidence.iter().take(3) {
        let (l, _) = truncate_chars(&shown(line, lab), 200);
        let _ = write!(value, "\n• {l}");
    }
    if f.evidence.len() > 3 {
        let _ = write!(
            value,
            "\n• …{} more in the attached file",
            f.evidence.len() - 3
        );
    }
    if !f.advice.is_empty() {
        let _ = write!(value, "\n**Fix:** {}", shown(&f.advice, lab));
    }
    FieldDraft {
        name: format!(
            "{} {}: {}",
            severity_icon(f.severity),
            severity_word(f.severity),
            shown(&f.summary, lab)
        ),
        value,
        inline: false,
    }
}

const fn mark(state: ChecklistState) -> &'static str {
    match state {
        ChecklistState::Pass => "✅",
        ChecklistState::Fail => "❌",
        ChecklistState::Warn => "⚠️",
        ChecklistState::Unknown => "❔",
        ChecklistState::NotChecked => "➖",
    }
}

/// The embed and attachment for a sender report. `allow_private` (a lab) shows non-public
/// addresses; anywhere else they are hidden like in every other answer.
pub fn render_sender(
    report: &SenderReport,
    ctx: &RenderContext,
    allow_private: bool,
) -> RenderedReport {
    let lab = allow_private;
    let mut description = format!(
        "**{}** — {}",
        verdict_label(report.verdict),
        report.explain()
    );
    let mut who = vec![format!("IP **{}**", shown(&report.ip, lab))];
    if let Some(h) = &report.helo {
        who.push(format!("HELO **{}**", shown(h, lab)));
    }
    if let Some(d) = &report.domain {
        who.push(format!("domain **{}**", shown(d, lab)));
    }
    let _ = write!(description, "\n{}", who.join(" · "));
    if let Some(e) = &report.error {
        let _ = write!(description, "\n{}", shown(e, lab));
    }
    let faults = report
        .findings
        .iter()
        .filter(|f| f.severity.is_fault())
        .count();
    if report.error.is_none() {
        let _ = write!(
            description,
            "\n{}",
            match faults {
                0 => "No problems found".to_owned(),
                1 => "**1 problem to fix** (below, worst first)".to_owned(),
                n => format!("**{n} problems to fix** (below, worst first)"),
            }
        );
    }
    if let Some(p) = &report.partial {
        let _ = write!(
            description,
            "\n⚠️ **Partial result**: {}. Below is what was checked before that.",
            shown(p, lab)
        );
    }
    if let Some(at) = report.facts.as_ref().map(|f| f.observed_at) {
        let _ = write!(description, "\nChecked <t:{at}:R>");
    }
    let mut fields = Vec::new();
    let (major, minor): (Vec<&Finding>, Vec<&Finding>) =
        report.findings.iter().partition(|f| f.severity.is_fault());
    fields.extend(major.iter().map(|f| finding_field(f, lab)));
    if !report.checklist.is_empty() {
        let mut value = String::new();
        for i in &report.checklist {
            let _ = writeln!(
                value,
                "{} {} — {}",
                mark(i.state),
                i.requirement,
                shown(&i.detail, lab)
            );
        }
        fields.push(FieldDraft {
            name: "What Gmail, Yahoo and Microsoft require of a sender".to_owned(),
            value: value.trim_end().to_owned(),
            inline: false,
        });
    }
    fields.extend(minor.iter().map(|f| finding_field(f, lab)));
    let footer = crate::render::answer_footer(
        report.elapsed_ms,
        &report.resolver,
        "full report in the attached file",
        ctx.host_note.as_deref(),
    );
    let mut embed = EmbedDraft {
        title: format!("Sender check: {}", shown(&report.ip, lab)),
        description,
        colour: verdict_colour(report.verdict),
        fields,
        footer,
    };
    let truncated = embed.fit();
    let name: String = report
        .ip
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    RenderedReport {
        embed,
        truncated,
        file_name: format!("mailcheck-sender-{name}.txt"),
        file: report_text(report),
    }
}

/// The attachment: the checklist, then every finding with all its evidence and advice. Plain
/// text, control characters removed, at most [`MAX_ATTACHMENT_BYTES`].
pub fn report_text(report: &SenderReport) -> Vec<u8> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mailcheck sender report for {}{}{}",
        report.ip,
        report
            .helo
            .as_ref()
            .map_or_else(String::new, |h| format!(" (HELO {h})")),
        report
            .domain
            .as_ref()
            .map_or_else(String::new, |d| format!(" sending for {d}"))
    );
    let _ = writeln!(out, "verdict: {} — {}", report.verdict, report.explain());
    if let Some(e) = &report.error {
        let _ = writeln!(out, "why: {e}");
    }
    let _ = writeln!(
        out,
        "resolver: {} · {} ms\n",
        report.resolver, report.elapsed_ms
    );
    if !report.checklist.is_empty() {
        out.push_str("What Gmail, Yahoo and Microsoft require of a sender\n");
        for i in &report.checklist {
            let _ = writeln!(
                out,
                "    [{}] {} — {} ({})",
                i.state.as_str(),
                i.requirement,
                i.detail,
                i.required_by
            );
        }
        out.push('\n');
    }
    for f in &report.findings {
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

#[cfg(test)]
mod tests;
