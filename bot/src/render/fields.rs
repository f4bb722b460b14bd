//! The embed fields of a report: one per MX host (its addresses), one per finding.

use std::fmt::Write as _;

use mailcheck::report::{AddressSummary, MxSummary};
use mailcheck::{Finding, Report};

use super::*;
use crate::sanitize::{truncate_chars, untrusted};

pub(super) fn address_lines(addr: &AddressSummary, report: &Report, out: &mut String) {
    let smtp = &addr.smtp;
    let port = report.facts.as_ref().map_or(25, |f| f.scope.smtp_port);
    let allow_private = report.facts.as_ref().is_some_and(|f| f.scope.allow_private);
    let lab = allow_private;
    let tested = smtp.status.tested();
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

pub(super) fn mx_field(mx: &MxSummary, report: &Report) -> FieldDraft {
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

pub(super) fn finding_field(f: &Finding, lab: bool) -> FieldDraft {
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
        let keys: Vec<String> = mailcheck::setting::settings_for(f.code)
            .iter()
            .map(|s| format!("`{}`", crate::config::config_key(*s)))
            .collect();
        if !keys.is_empty() {
            let _ = write!(value, " (bot settings: {})", keys.join(", "));
        }
    }
    FieldDraft {
        name,
        value,
        inline: false,
    }
}
