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

use std::fmt::Write as _;
use std::time::Duration;

use mailcheck::check::MailHost;
use mailcheck::facts::Family;
use mailcheck::finding::THIS_MACHINE;
use mailcheck::report::{AddressSummary, MxSummary};
use mailcheck::{Code, DomainName, Finding, Report, Severity, Verdict};
use serde_json::Value;
use serenity::all::{
    ButtonStyle, Colour, CreateActionRow, CreateAttachment, CreateButton, CreateEmbed,
    CreateEmbedFooter,
};

use crate::sanitize::{clean_multiline, truncate_chars, untrusted};

/// `untrusted`, showing non-public addresses only for a lab.
fn shown(lab: bool, s: &str) -> String {
    crate::sanitize::shown(s, lab)
}

/// Whether the report comes from a lab (private targets allowed): its loopback addresses are
/// shown; anywhere else non-public addresses are not.
fn is_lab(report: &Report) -> bool {
    report.facts.as_ref().is_some_and(|f| f.scope.allow_private)
}

/// Discord's embed limits (characters).
pub mod limits {
    /// Title.
    pub const TITLE: usize = 256;
    /// Description.
    pub const DESCRIPTION: usize = 4096;
    /// Number of fields.
    pub const FIELDS: usize = 25;
    /// Field name.
    pub const FIELD_NAME: usize = 256;
    /// Field value.
    pub const FIELD_VALUE: usize = 1024;
    /// Footer text.
    pub const FOOTER: usize = 2048;
    /// Title + description + field names and values + footer, across all embeds of a message.
    pub const TOTAL: usize = 6000;
    /// Message content.
    pub const CONTENT: usize = 2000;
}

/// Largest attachment we send (Discord's base limit is 8 MiB; stay well under it).
pub const MAX_ATTACHMENT_BYTES: usize = 1024 * 1024;

/// One embed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDraft {
    /// Name (at most 256 characters).
    pub name: String,
    /// Value (at most 1024 characters).
    pub value: String,
    /// Shown side by side with neighbours.
    pub inline: bool,
}

/// An embed as plain strings, before it is fitted and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedDraft {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Sidebar colour (`0xRRGGBB`).
    pub colour: u32,
    /// Fields, most important first (fitting drops from the end).
    pub fields: Vec<FieldDraft>,
    /// Footer text.
    pub footer: String,
}

impl EmbedDraft {
    /// Characters counted against Discord's 6000 total.
    pub fn total_chars(&self) -> usize {
        let n = |s: &str| s.chars().count();
        n(&self.title)
            + n(&self.description)
            + n(&self.footer)
            + self
                .fields
                .iter()
                .map(|f| n(&f.name) + n(&f.value))
                .sum::<usize>()
    }

    /// Fits the draft to every Discord limit: each part is truncated with `…`, surplus fields are
    /// replaced by one note field, and the description is cut if the total is still too large.
    /// Returns whether anything was cut or dropped.
    pub fn fit(&mut self) -> bool {
        let mut cut = false;
        let mut clip = |s: &mut String, max: usize| {
            let (t, c) = truncate_chars(s, max);
            *s = t;
            cut |= c;
        };
        clip(&mut self.title, limits::TITLE);
        clip(&mut self.description, limits::DESCRIPTION);
        clip(&mut self.footer, limits::FOOTER);
        for f in &mut self.fields {
            clip(&mut f.name, limits::FIELD_NAME);
            clip(&mut f.value, limits::FIELD_VALUE);
            if f.name.is_empty() {
                f.name = "\u{200B}".to_owned();
            }
            if f.value.is_empty() {
                f.value = "\u{200B}".to_owned();
            }
        }
        // Room for the note field when something must go.
        const NOTE_RESERVE: usize = 160;
        if self.fields.len() > limits::FIELDS || self.total_chars() > limits::TOTAL {
            let mut dropped = 0usize;
            while !self.fields.is_empty()
                && (self.fields.len() >= limits::FIELDS
                    || self.total_chars() + NOTE_RESERVE > limits::TOTAL)
            {
                self.fields.pop();
                dropped += 1;
            }
            if dropped > 0 {
                cut = true;
                self.fields.push(FieldDraft {
                    name: "More".to_owned(),
                    value: format!(
                        "{dropped} more section(s) did not fit in Discord's limits; the \
                         attached file has the full report."
                    ),
                    inline: false,
                });
            }
        }
        let total = self.total_chars();
        if total > limits::TOTAL {
            let keep = self
                .description
                .chars()
                .count()
                .saturating_sub(total - limits::TOTAL);
            let (t, _) = truncate_chars(&self.description, keep);
            self.description = t;
            cut = true;
        }
        cut
    }

    /// The serenity builder for this draft (call [`EmbedDraft::fit`] first).
    pub fn to_embed(&self) -> CreateEmbed {
        let mut embed = CreateEmbed::new()
            .title(&self.title)
            .description(&self.description)
            .colour(Colour::new(self.colour))
            .footer(CreateEmbedFooter::new(&self.footer));
        for f in &self.fields {
            embed = embed.field(&f.name, &f.value, f.inline);
        }
        embed
    }
}

/// Colour of a verdict.
pub const fn verdict_colour(verdict: Verdict) -> u32 {
    match verdict {
        Verdict::Ok => 0x1F_8B_4C,           // dark green
        Verdict::Degraded => 0xE6_7E_22,     // orange
        Verdict::Broken => 0xE7_4C_3C,       // red
        Verdict::Inconclusive => 0xF1_C4_0F, // gold
        Verdict::NoMail => 0x34_98_DB,       // blue
        Verdict::Invalid => 0x95_A5_A6,      // grey
    }
}

/// Emoji and word for a verdict.
pub const fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "✅ OK",
        Verdict::Degraded => "⚠️ Degraded",
        Verdict::Broken => "❌ Broken",
        Verdict::Inconclusive => "❔ Inconclusive",
        Verdict::NoMail => "📭 Accepts no mail",
        Verdict::Invalid => "🚫 Invalid input",
    }
}

/// Emoji for a severity.
pub const fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🛑",
        Severity::Error => "🔴",
        Severity::Warning => "🟠",
        Severity::Inconclusive => "❔",
        Severity::Info => "ℹ️",
    }
}

/// A severity as a capitalised word for field titles.
pub const fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::Error => "Error",
        Severity::Warning => "Warning",
        Severity::Inconclusive => "Could not check",
        Severity::Info => "Note",
    }
}

/// How the domain is shown: Unicode form, with the punycode form when it differs.
pub fn display_domain(domain: &str) -> String {
    match DomainName::parse(domain) {
        Ok(d) => {
            let unicode = d.to_unicode();
            if unicode == d.as_str() {
                untrusted(d.as_str())
            } else {
                format!("{} ({})", untrusted(&unicode), d.as_str())
            }
        }
        Err(_) => untrusted(domain),
    }
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

/// Short human form of a duration: `850 ms`, `4.2 s`, `3 min`, `2 h`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} h", d.as_secs() / 3600)
    }
}

/// What an SMTP status means, in words a support volunteer can repeat.
pub fn smtp_status_text(status: &str) -> String {
    match status {
        "accepted" => "accepts mail for the domain ✓".to_owned(),
        "rejected" => "answers, but refuses mail for the domain".to_owned(),
        "tempfail" => "answers, but says \"try again later\" (temporary failure)".to_owned(),
        "refused" => "connection refused: no mail server listening".to_owned(),
        "unreachable" => "no answer: timed out or unreachable (firewall?)".to_owned(),
        "egress_blocked" => "not reachable from the bot's host: its own outbound port 25 is \
                             blocked (not the domain's fault)"
            .to_owned(),
        "no_greeting" => "connects, but the server never says hello".to_owned(),
        "greeting_rejected" => "the server turns connections away".to_owned(),
        "greeted" => "answers".to_owned(),
        "error" => "the conversation failed".to_owned(),
        "skipped" | "not_probed" => "not tested".to_owned(),
        "unfinished" => "not finished: the check's time ran out first".to_owned(),
        other => untrusted(&other.replace('_', " ")),
    }
}

/// Whether a finding is about the bot's own host rather than the checked domain.
pub fn about_this_machine(f: &Finding) -> bool {
    f.subject == THIS_MACHINE
}

/// What an address's SMTP status means, read together with the findings about it: a refusal
/// the diagnosis pins on us (or greylisting, or our own blocked port 25) is not worded as the
/// target refusing mail.
pub fn address_status_text(addr: &AddressSummary, report: &Report) -> String {
    let status = addr.smtp.status.as_str();
    if status == "accepted" {
        return smtp_status_text(status);
    }
    let subject = addr.ip.to_string();
    let has = |code: Code| {
        report
            .findings
            .iter()
            .any(|f| f.code == code && f.subject == subject)
    };
    let text = if has(Code::SmtpProbeBlocked) {
        "answers, but refuses the bot itself (its address, name or sender), not the domain"
    } else if has(Code::SmtpDisconnectAfterMail) {
        "answers, but hung up after MAIL FROM (usually about the sending address: the bot's)"
    } else if has(Code::SmtpGreylisted) {
        "answers, but greylists (\"try again later\"): real senders retry and deliver"
    } else if has(Code::SmtpNoPostmaster) {
        "answers for the domain, but postmaster@ does not exist"
    } else if has(Code::SmtpIncomplete) {
        "the conversation stopped before the recipient could be tested"
    } else {
        return smtp_status_text(status);
    };
    text.to_owned()
}

fn address_lines(addr: &AddressSummary, report: &Report, out: &mut String) {
    let smtp = &addr.smtp;
    let port = report.facts.as_ref().map_or(25, |f| f.scope.smtp_port);
    let allow_private = report.facts.as_ref().is_some_and(|f| f.scope.allow_private);
    let lab = allow_private;
    let tested = !matches!(smtp.status.as_str(), "skipped" | "not_probed");
    // Private addresses are reported, not probed, unless the bot runs against a lab; outside
    // a lab they are not shown either (an internal network's layout is nobody's business).
    let private_skip = !tested && addr.scope.is_private() && !allow_private;
    if addr.scope.is_private() && !allow_private {
        let _ = write!(
            out,
            "a {} address (not shown{})",
            addr.scope.as_str(),
            if private_skip {
                "; not tested from chat"
            } else {
                ""
            }
        );
    } else {
        let _ = write!(out, "`{}`", addr.ip);
        if addr.scope.is_private() {
            let _ = write!(out, " ({})", addr.scope.as_str());
        }
    }
    match addr.ptr.first() {
        Some(ptr) => {
            let confirmed = match addr.fcrdns {
                Some(true) => " ✓",
                Some(false) => " ✗ (does not point back)",
                None => "",
            };
            let _ = write!(out, " · PTR {}{confirmed}", shown(lab, ptr));
        }
        None if tested => out.push_str(" · no PTR"),
        None => {}
    }
    out.push('\n');
    let _ = write!(out, "port {port}: {}", address_status_text(addr, report));
    if let Some(banner) = &smtp.banner {
        let (b, _) = truncate_chars(&shown(lab, banner), 120);
        let _ = write!(out, "\ngreeting: {b}");
    }
    // Why an address was not tested (a cap, the same address under another name), unless it
    // is the private-address rule already said above.
    if !private_skip && let Some(note) = &smtp.note {
        let (n, _) = truncate_chars(&shown(lab, note), 120);
        let _ = write!(out, " · {n}");
    }
    out.push('\n');
    match (smtp.starttls, &smtp.tls_version, smtp.cert_ok) {
        (Some(false), ..) => out.push_str("TLS: STARTTLS not offered\n"),
        (Some(true), version, cert) => {
            let version = version
                .as_deref()
                .map_or_else(|| "handshake failed".to_owned(), untrusted);
            let cert = match cert {
                Some(true) => " · certificate ok",
                Some(false) => " · certificate problem",
                None => "",
            };
            let _ = writeln!(out, "TLS: {version}{cert}");
        }
        (None, ..) => {}
    }
    if !addr.dnsbl.is_empty() {
        let listed: Vec<String> = addr
            .dnsbl
            .iter()
            .filter(|d| d.status.word() == "listed")
            .map(|d| shown(lab, &d.zone))
            .collect();
        let unknown = addr
            .dnsbl
            .iter()
            .filter(|d| d.status.word() == "unknown")
            .count();
        if listed.is_empty() {
            let _ = write!(out, "blocklists: clean ({} checked", addr.dnsbl.len());
            if unknown > 0 {
                let _ = write!(out, ", {unknown} could not answer");
            }
            out.push_str(")\n");
        } else {
            let _ = writeln!(out, "blocklists: **listed** on {}", listed.join(", "));
        }
    }
}

fn mx_field(mx: &MxSummary, report: &Report) -> FieldDraft {
    let lab = is_lab(report);
    let name = if mx.implicit {
        format!("No MX: mail goes to {} itself", shown(lab, &mx.host))
    } else {
        format!("MX {} {}", mx.preference, shown(lab, &mx.host))
    };
    let mut value = String::new();
    if mx.addresses.is_empty() {
        value.push_str("no address (A/AAAA) found\n");
    }
    for addr in &mx.addresses {
        address_lines(addr, report, &mut value);
    }
    FieldDraft {
        name,
        value: value.trim_end().to_owned(),
        inline: false,
    }
}

/// How a non-public address is shown in chat.
pub const PRIVATE_ADDRESS: &str = "private address";

/// The label of findings about the bot's own host.
pub const THIS_MACHINE_LABEL: &str = "about the bot's host, not the domain";

fn finding_field(f: &Finding, lab: bool) -> FieldDraft {
    // The summary is the headline (field names show bold); the value says where, shows the
    // evidence and ends with the advice.
    let ours = about_this_machine(f);
    let name = if ours {
        format!(
            "🖥️ {} ({THIS_MACHINE_LABEL}): {}",
            severity_word(f.severity),
            shown(lab, &f.summary)
        )
    } else {
        format!(
            "{} {}: {}",
            severity_icon(f.severity),
            severity_word(f.severity),
            shown(lab, &f.summary)
        )
    };
    let mut value = if ours {
        format!(
            "`{}` · the bot's own host (this machine), not the checked domain",
            f.code.as_str()
        )
    } else {
        format!("`{}` · {}", f.code.as_str(), shown(lab, &f.subject))
    };
    for line in f.evidence.iter().take(2) {
        let (l, _) = truncate_chars(&shown(lab, line), 200);
        let _ = write!(value, "\n• {l}");
    }
    if f.evidence.len() > 2 {
        let _ = write!(
            value,
            "\n• …{} more in the attached file",
            f.evidence.len() - 2
        );
    }
    if !f.advice.is_empty() {
        let who = if ours {
            "Fix (for the bot's operator)"
        } else {
            "Fix"
        };
        let _ = write!(value, "\n**{who}:** {}", shown(lab, &f.advice));
    }
    FieldDraft {
        name,
        value,
        inline: false,
    }
}

/// Findings sorted for display: worst first, then by code and subject, stable.
pub fn sorted_findings(report: &Report) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| {
        b.severity
            .rank()
            .cmp(&a.severity.rank())
            .then(a.code.cmp(&b.code))
            .then(a.subject.cmp(&b.subject))
    });
    findings
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
                shown(lab, &a.spf),
                shown(lab, &a.dmarc),
                shown(lab, &a.mta_sts),
                shown(lab, &a.dane)
            ),
            inline: false,
        });
    }
    fields.extend(minor.iter().map(|f| finding_field(f, lab)));
    fields.extend(ours.iter().map(|f| finding_field(f, lab)));
    let resolver = if report.resolver.is_empty() {
        "—"
    } else {
        &report.resolver
    };
    let mut footer = format!(
        "mailcheck · took {} · resolver {} · full report and SMTP transcript in the attached file",
        human_duration(Duration::from_millis(report.elapsed_ms)),
        clean_for_footer(resolver)
    );
    if let Some(note) = &ctx.host_note {
        footer = format!("⚠ {} · {footer}", clean_for_footer(note));
    }
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

/// The progress embed shown while a check runs: the stage, then (once DNS is done) the mail
/// hosts with their addresses.
pub fn render_progress(domain: &DomainName, stage: &str, mx: &[MailHost]) -> EmbedDraft {
    let mut description = format!("⏳ {}", untrusted(stage));
    for h in mx.iter().take(10) {
        let _ = write!(description, "\nMX {} {}", h.preference, untrusted(&h.host));
        if h.addresses.is_empty() {
            description.push_str(" · no address");
        }
        for (i, ip) in h.addresses.iter().take(4).enumerate() {
            let _ = write!(description, "{} `{ip}`", if i == 0 { " ·" } else { "," });
        }
        if h.addresses.len() > 4 {
            let _ = write!(description, " (+{})", h.addresses.len() - 4);
        }
    }
    if mx.len() > 10 {
        let _ = write!(description, "\n…and {} more", mx.len() - 10);
    }
    let mut embed = EmbedDraft {
        title: format!("Mail check: {}", display_domain(domain.as_str())),
        description,
        colour: 0x95_A5_A6,
        fields: Vec::new(),
        footer: "mailcheck · working…".to_owned(),
    };
    embed.fit();
    embed
}

/// The progress stage shown once DNS is done.
pub fn mx_found_stage(mx: &[MailHost]) -> String {
    let addresses: usize = mx.iter().map(|h| h.addresses.len()).sum();
    if mx.is_empty() {
        "DNS done: no mail server found; writing the report…".to_owned()
    } else {
        format!(
            "DNS done: {} mail server(s), {addresses} address(es). Now testing each one: \
             port 25, greeting, TLS, blocklists…",
            mx.len()
        )
    }
}

/// The `custom_id` prefix of our buttons: `mailcheck:<action>:<answer id>`.
pub const BUTTON_PREFIX: &str = "mailcheck:";

/// What a button under an answer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Check the domain again, fresh, and update the answer.
    Recheck,
    /// Send the SMTP transcript privately, as a file.
    Transcript,
    /// Explain the result step by step, privately.
    Explain,
}

impl ButtonAction {
    const fn word(self) -> &'static str {
        match self {
            Self::Recheck => "recheck",
            Self::Transcript => "transcript",
            Self::Explain => "explain",
        }
    }

    /// The button's `custom_id` for answer `id`.
    pub fn custom_id(self, id: u64) -> String {
        format!("{BUTTON_PREFIX}{}:{id}", self.word())
    }

    /// Reads one of our `custom_id`s (`None` for anyone else's).
    pub fn parse(custom_id: &str) -> Option<(Self, u64)> {
        let rest = custom_id.strip_prefix(BUTTON_PREFIX)?;
        let (word, id) = rest.split_once(':')?;
        let action = [Self::Recheck, Self::Transcript, Self::Explain]
            .into_iter()
            .find(|a| a.word() == word)?;
        Some((action, id.parse().ok()?))
    }
}

/// The buttons under an answer.
pub fn answer_buttons(id: u64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(ButtonAction::Recheck.custom_id(id))
            .label("Re-check")
            .emoji('🔄')
            .style(ButtonStyle::Primary),
        CreateButton::new(ButtonAction::Transcript.custom_id(id))
            .label("Show transcript")
            .style(ButtonStyle::Secondary),
        CreateButton::new(ButtonAction::Explain.custom_id(id))
            .label("Explain")
            .style(ButtonStyle::Secondary),
    ])]
}

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

/// A short embed for a check that ran out of time or failed inside the bot.
pub fn render_failure(domain: &DomainName, what: &str) -> EmbedDraft {
    let mut embed = EmbedDraft {
        title: format!("Mail check: {}", display_domain(domain.as_str())),
        description: untrusted(what),
        colour: verdict_colour(Verdict::Inconclusive),
        fields: Vec::new(),
        footer: "mailcheck".to_owned(),
    };
    embed.fit();
    embed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: usize, len: usize) -> FieldDraft {
        FieldDraft {
            name: format!("f{n}"),
            value: "v".repeat(len),
            inline: false,
        }
    }

    #[test]
    fn fit_respects_every_limit() {
        let mut e = EmbedDraft {
            title: "t".repeat(400),
            description: "d".repeat(5000),
            colour: 0,
            fields: (0..40).map(|n| field(n, 2000)).collect(),
            footer: "f".repeat(3000),
        };
        assert!(e.fit());
        assert!(e.title.chars().count() <= limits::TITLE);
        assert!(e.description.chars().count() <= limits::DESCRIPTION);
        assert!(e.footer.chars().count() <= limits::FOOTER);
        assert!(e.fields.len() <= limits::FIELDS);
        assert!(
            e.fields
                .iter()
                .all(|f| f.value.chars().count() <= limits::FIELD_VALUE)
        );
        assert!(e.total_chars() <= limits::TOTAL, "{}", e.total_chars());
        assert!(e.fields.last().unwrap().value.contains("did not fit"));
    }

    #[test]
    fn fit_leaves_small_embeds_alone() {
        let mut e = EmbedDraft {
            title: "t".into(),
            description: "d".into(),
            colour: 0,
            fields: vec![field(0, 10)],
            footer: "f".into(),
        };
        let before = e.clone();
        assert!(!e.fit());
        assert_eq!(e, before);
    }

    #[test]
    fn exactly_25_fields_fit_without_a_note() {
        let mut e = EmbedDraft {
            title: "t".into(),
            description: String::new(),
            colour: 0,
            fields: (0..25).map(|n| field(n, 10)).collect(),
            footer: String::new(),
        };
        assert!(!e.fit());
        assert_eq!(e.fields.len(), 25);
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(human_duration(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(human_duration(Duration::from_secs(190)), "3 min");
    }

    #[test]
    fn huge_hostile_report_fits_and_serializes_within_limits() {
        use mailcheck::{Code, Finding};
        let mut report = Report::invalid("example.test", "");
        "example.test".clone_into(&mut report.domain);
        report.error = None;
        report.verdict = Verdict::Degraded;
        report.findings = (0..60)
            .map(|i| {
                Finding::new(
                    Code::SmtpBannerMismatch,
                    format!("192.0.2.{i}"),
                    "@everyone ".repeat(100),
                )
                .evidence("x".repeat(3000))
                .advice("<@1> **y** ".repeat(300))
            })
            .collect();
        let r = render_report(&report, &RenderContext::default());
        assert!(r.truncated);
        let json = r.embed_json();
        let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let fields = json["fields"].as_array().unwrap();
        assert!(fields.len() <= limits::FIELDS);
        let total = n(&json["title"])
            + n(&json["description"])
            + n(&json["footer"]["text"])
            + fields
                .iter()
                .map(|f| n(&f["name"]) + n(&f["value"]))
                .sum::<usize>();
        assert!(total <= limits::TOTAL, "{total}");
        for f in fields {
            assert!(n(&f["value"]) <= limits::FIELD_VALUE && n(&f["name"]) <= limits::FIELD_NAME);
        }
        let text = json.to_string();
        assert!(
            !text.contains("@everyone") && !text.contains("<@1>"),
            "{text}"
        );
        let file = String::from_utf8(r.file).unwrap();
        assert_eq!(file.matches("smtp.banner_mismatch").count(), 60);
    }

    fn summary(ip: &str, status: &str, note: Option<&str>) -> AddressSummary {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        AddressSummary {
            ip,
            scope: mailcheck::facts::AddressScope::of(ip),
            ptr: Vec::new(),
            fcrdns: None,
            smtp: mailcheck::report::SmtpSummary {
                status: status.to_owned(),
                banner: None,
                starttls: None,
                tls_version: None,
                cert_ok: None,
                last_reply: None,
                note: note.map(str::to_owned),
            },
            dnsbl: Vec::new(),
        }
    }

    fn report_with(findings: Vec<Finding>, addresses: Vec<AddressSummary>) -> Report {
        let mut report = Report::invalid("example.test", "");
        "example.test".clone_into(&mut report.domain);
        report.error = None;
        report.verdict = Verdict::Degraded;
        report.findings = findings;
        report.mx = vec![MxSummary {
            host: "mx.example.test".to_owned(),
            preference: 10,
            implicit: false,
            addresses,
        }];
        report
    }

    #[test]
    fn findings_about_this_machine_come_last_and_are_labelled() {
        let report = report_with(
            vec![
                Finding::new(
                    Code::DnsblUnavailable,
                    THIS_MACHINE,
                    "zen refused our resolver",
                )
                .advice("Use your own resolver."),
                Finding::new(Code::ProbeListed, THIS_MACHINE, "our address is listed"),
                Finding::new(Code::RdnsMissing, "192.0.2.10", "no PTR"),
                Finding::new(
                    Code::MxNotAllChecked,
                    "example.test",
                    "more MX than the cap",
                ),
            ],
            vec![summary("192.0.2.10", "accepted", None)],
        );
        let r = render_report(&report, &RenderContext::default());
        let names: Vec<&str> = r.embed.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(names[0].starts_with("🟠 Warning: no PTR"), "{names:#?}");
        assert!(names[1].starts_with("MX 10 mx.example.test"), "{names:#?}");
        assert!(names[2].starts_with("ℹ️ Note: more MX"), "{names:#?}");
        for (i, summary) in [
            (3, "zen refused our resolver"),
            (4, "our address is listed"),
        ] {
            assert_eq!(
                names[i],
                format!("🖥️ Could not check ({THIS_MACHINE_LABEL}): {summary}"),
                "{names:#?}"
            );
            let value = &r.embed.fields[i].value;
            assert!(
                value.contains("the bot's own host (this machine), not the checked domain"),
                "{value}"
            );
        }
        assert!(
            r.embed.fields[3]
                .value
                .contains("**Fix (for the bot's operator):** Use your own resolver.")
        );
        // Counted apart: one problem of the domain, one note, two notes about us.
        let d = &r.embed.description;
        assert!(
            d.contains("**1 problem to fix**")
                && d.contains("· 1 note(s) ·")
                && d.contains("2 note(s) about the bot's own host"),
            "{d}"
        );
        assert!(!d.contains("cannot reach port 25"), "{d}");
        // The attachment lists them after the domain's findings too.
        let file = String::from_utf8(r.file).unwrap();
        let pos = |needle: &str| file.find(needle).unwrap();
        assert!(
            pos("rdns.missing") < pos("probe.listed this machine"),
            "{file}"
        );
        assert!(pos("mx.not_all_checked") < pos("dnsbl.unavailable this machine"));
    }

    #[test]
    fn address_lines_do_not_blame_the_target_for_what_is_about_us() {
        let report = report_with(
            vec![
                Finding::new(Code::SmtpProbeBlocked, "192.0.2.10", "refused us"),
                Finding::new(Code::SmtpGreylisted, "192.0.2.11", "greylisted"),
                Finding::new(Code::SmtpNoPostmaster, "192.0.2.12", "no postmaster"),
                Finding::new(Code::SmtpIncomplete, "192.0.2.14", "stopped early"),
            ],
            vec![
                summary("192.0.2.10", "rejected", None),
                summary("192.0.2.11", "tempfail", None),
                summary("192.0.2.12", "rejected", None),
                summary("192.0.2.13", "rejected", None),
                summary("192.0.2.14", "greeted", None),
            ],
        );
        let text = |i: usize| address_status_text(&report.mx[0].addresses[i], &report);
        assert!(text(0).contains("refuses the bot itself"), "{}", text(0));
        assert!(!text(0).contains("refuses mail for the domain"));
        assert!(text(1).contains("greylists"), "{}", text(1));
        assert!(
            text(2).contains("postmaster@ does not exist"),
            "{}",
            text(2)
        );
        // No finding pins it on anyone else: the plain status stands.
        assert_eq!(text(3), smtp_status_text("rejected"));
        assert!(
            text(4).contains("stopped before the recipient"),
            "{}",
            text(4)
        );
    }

    #[test]
    fn a_blocked_port_25_here_shows_in_every_answers_footer() {
        let report = Report::invalid("example.com", "x");
        let plain = render_report(&report, &RenderContext::default());
        assert!(!plain.embed.footer.contains("port 25"));
        let ctx = RenderContext {
            host_note: Some(crate::vantage::FOOTER_PORT25_BLOCKED.to_owned()),
            ..RenderContext::default()
        };
        let noted = render_report(&report, &ctx);
        assert!(
            noted
                .embed
                .footer
                .starts_with("⚠ the bot's host cannot reach port 25"),
            "{}",
            noted.embed.footer
        );
    }

    #[test]
    fn buttons_carry_the_answer_id_and_parse_back() {
        for action in [
            ButtonAction::Recheck,
            ButtonAction::Transcript,
            ButtonAction::Explain,
        ] {
            let id = action.custom_id(77);
            assert!(id.len() <= 100, "Discord's custom_id limit");
            assert_eq!(ButtonAction::parse(&id), Some((action, 77)));
        }
        assert_eq!(ButtonAction::parse("mailcheck:recheck:x"), None);
        assert_eq!(ButtonAction::parse("other:recheck:1"), None);
        assert_eq!(answer_buttons(1).len(), 1);
    }

    #[test]
    fn untested_addresses_say_why() {
        let report = report_with(
            Vec::new(),
            vec![
                summary(
                    "93.184.216.20",
                    "skipped",
                    Some("not checked: MX host mx11.example.test over the cap of 10 hosts"),
                ),
                summary(
                    "10.0.0.1",
                    "skipped",
                    Some("private address: not probed (only allowed for labs and internal audits)"),
                ),
            ],
        );
        let r = render_report(&report, &RenderContext::default());
        let value = &r.embed.fields[0].value;
        assert!(
            value.contains(
                "port 25: not tested · not checked: MX host mx11.example.test over the cap"
            ),
            "{value}"
        );
        assert!(
            value.contains("a private address (not shown; not tested from chat)"),
            "{value}"
        );
        assert!(!value.contains("only allowed for labs"), "{value}");
    }

    #[test]
    fn idn_domains_show_both_forms() {
        assert_eq!(
            display_domain("xn--bcher-kva.example"),
            "bücher.example (xn--bcher-kva.example)"
        );
        assert_eq!(display_domain("example.com"), "example.com");
    }
}
