//! STARTTLS in the conversation: `smtp.starttls_missing`, `smtp.starttls_failed` (the command,
//! the handshake or the EHLO inside TLS), and `tls.legacy_version` from the version probe.

use super::{Ctx, outcome_text, step_text};
use crate::finding::{Code, Finding};

pub(super) fn starttls(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let smtp = ctx.smtp;
    if !smtp.advertises_starttls() {
        out.push(
            ctx.finding(
                Code::SmtpStarttlsMissing,
                format!(
                    "{} does not offer STARTTLS: mail to it travels unencrypted",
                    ctx.at()
                ),
            )
            .evidence(format!(
                "extensions: {}",
                if smtp.extensions.is_empty() {
                    "none (HELO only)".to_owned()
                } else {
                    smtp.extensions.join(", ")
                }
            ))
            .advice(
                "Enable STARTTLS with a certificate for the MX host name (Postfix: \
                 smtpd_tls_security_level = may plus smtpd_tls_chain_files). If the \
                 banner or extensions look masked (asterisks, XXXXXXXA), a firewall's SMTP \
                 inspection is stripping it.",
            ),
        );
        return;
    }
    let Some(st) = &smtp.starttls else { return };
    if let Some(legacy) = st.legacy.as_ref().filter(|l| l.legacy_only()) {
        let version = legacy.outcome.as_deref().unwrap_or("an old version");
        out.push(
            ctx.finding(
                Code::TlsLegacyVersion,
                format!(
                    "{} speaks only {version}: modern senders cannot start TLS with it",
                    ctx.at()
                ),
            )
            .evidence(format!("TLS 1.2/1.3 handshake failed: {}", legacy.trigger))
            .evidence(format!("version probe: the server chose {version}"))
            .advice(
                "Enable TLS 1.2 and 1.3 on the mail server (TLS 1.0/1.1 are deprecated, RFC 8996); \
                 until then senders fall back to unencrypted delivery or defer.",
            ),
        );
        return;
    }
    let command_ok = st.command.reply().is_some_and(|r| r.code == 220);
    let failure = if !command_ok {
        Some(format!("STARTTLS: {}", outcome_text(&st.command.outcome)))
    } else {
        match (&st.handshake, &st.ehlo) {
            (Some(Err(e)), _) => Some(format!("TLS handshake failed: {e}")),
            (None, _) => Some("TLS handshake did not happen".to_owned()),
            (Some(Ok(_)), Some(ehlo)) if !ehlo.accepted() => {
                Some(format!("EHLO inside TLS failed: {}", step_text(ehlo)))
            }
            (Some(Ok(_)), _) => None,
        }
    };
    if let Some(failure) = failure {
        let mut f = ctx
            .finding(
                Code::SmtpStarttlsFailed,
                format!("{} offers STARTTLS but it fails", ctx.at()),
            )
            .evidence(failure);
        if smtp.retried_without_tls {
            f = f.evidence(
                "reconnected without TLS to finish the check, as opportunistic senders do",
            );
        }
        out.push(f.advice(
            "Fix the TLS setup (certificate and key files readable, matching, supported key \
             type) or stop advertising STARTTLS; senders that fail the handshake may retry in \
             clear text or defer the mail.",
        ));
    }
}
