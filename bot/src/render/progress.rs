//! The embeds shown while a check runs, and when it fails inside the bot.

use std::fmt::Write as _;

use mailcheck::check::MailHost;
use mailcheck::{DomainName, Verdict};

use super::*;
use crate::sanitize::untrusted;

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
