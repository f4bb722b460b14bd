//! The per-MX summary of a report: one row per host, one entry per address.

use crate::dnsbl::classify;
use crate::facts::{AddressFacts, ConnectOutcome, Facts, SmtpFacts, StepOutcome};
use crate::report::{
    AddressSummary, AuthSummary, DaneState, DmarcState, DnsblSummary, MtaStsState, MxSummary,
    SmtpStatus, SmtpSummary, SpfState,
};

pub(super) fn mx_summary(facts: &Facts) -> Vec<MxSummary> {
    facts
        .hosts
        .iter()
        .map(|h| MxSummary {
            host: h.host.clone(),
            preference: h.preference,
            implicit: h.implicit,
            addresses: h.addresses.iter().map(|a| address(facts, a)).collect(),
        })
        .collect()
}

fn address(facts: &Facts, a: &AddressFacts) -> AddressSummary {
    AddressSummary {
        ip: a.ip,
        scope: a.scope,
        ptr: a
            .ptr
            .as_ref()
            .map(|p| p.names().to_vec())
            .unwrap_or_default(),
        fcrdns: a.ptr.as_ref().and_then(|p| p.confirms(a.ip)),
        smtp: a.smtp.as_ref().map_or_else(
            || SmtpSummary {
                status: if a.smtp_skipped.is_some() {
                    SmtpStatus::Skipped
                } else if a.unfinished.is_some() {
                    SmtpStatus::Unfinished
                } else {
                    SmtpStatus::NotProbed
                },
                banner: None,
                starttls: None,
                tls_version: None,
                cert_ok: None,
                last_reply: None,
                note: a.smtp_skipped.clone().or_else(|| a.unfinished.clone()),
            },
            |s| smtp(facts, a, s),
        ),
        dnsbl: a
            .dnsbl
            .iter()
            .map(|c| DnsblSummary {
                zone: c.zone.clone(),
                status: classify(c, facts.dnsbl_zones.iter().find(|z| z.zone == c.zone)),
            })
            .collect(),
    }
}

fn smtp(facts: &Facts, a: &AddressFacts, s: &SmtpFacts) -> SmtpSummary {
    let banner = s.greeting.as_ref().and_then(|g| match &g.outcome {
        StepOutcome::Replied { reply } => reply.lines.first().cloned(),
        _ => None,
    });
    let greeted = s
        .greeting
        .as_ref()
        .is_some_and(|g| matches!(&g.outcome, StepOutcome::Replied { reply } if reply.code == 220));
    let last_step = [
        s.relay_test.as_ref(),
        s.rcpt.as_ref(),
        s.mail.as_ref(),
        s.helo.as_ref(),
        s.ehlo.as_ref(),
    ]
    .into_iter()
    .flatten()
    .next();
    // A connect that failed while our own port 25 is blocked says nothing about the address.
    let blocked_here = !matches!(s.connect, ConnectOutcome::Connected { .. })
        && facts.vantage.egress_blocked(crate::facts::Family::of(a.ip));
    let status = match &s.connect {
        _ if blocked_here => SmtpStatus::EgressBlocked,
        ConnectOutcome::Refused => SmtpStatus::Refused,
        ConnectOutcome::TimedOut { .. } | ConnectOutcome::Unreachable { .. } => {
            SmtpStatus::Unreachable
        }
        ConnectOutcome::Error { .. } => SmtpStatus::Error,
        ConnectOutcome::Connected { .. } => match s.greeting.as_ref().map(|g| &g.outcome) {
            None => SmtpStatus::Error,
            Some(StepOutcome::Replied { reply }) if reply.code != 220 => {
                SmtpStatus::GreetingRejected
            }
            Some(StepOutcome::Replied { .. }) => transaction_status(s),
            Some(_) => SmtpStatus::NoGreeting,
        },
    };
    SmtpSummary {
        status,
        banner,
        starttls: greeted.then(|| s.advertises_starttls()),
        tls_version: s.tls().map(|t| t.version.clone()),
        cert_ok: s.tls().map(|t| t.problems.is_empty()),
        last_reply: last_step.map(|st| {
            format!(
                "{} → {}",
                st.command,
                super::smtp::outcome_text(&st.outcome)
            )
        }),
        note: session_note(s),
    }
}

/// How the conversation was shared with other domains' checks, when it was.
fn session_note(s: &SmtpFacts) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(opened_for) = &s.session_host {
        parts.push(format!(
            "served on the session opened for {opened_for}: this address answers all its names \
             alike (it ignores SNI), the certificate checked for {}",
            s.host
        ));
    } else if s.reused_session {
        parts.push("session shared with an earlier domain's check".to_owned());
    }
    if s.transaction_domains > 1 {
        parts.push(format!(
            "one transaction shared with {} other domain(s) on this address",
            s.transaction_domains - 1
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// After a 220 greeting: `accepted`, `tempfail`, `rejected` (by the step that decided: a
/// refused MAIL, else the RCPT), or `greeted` when no transaction was reached.
fn transaction_status(s: &SmtpFacts) -> SmtpStatus {
    if s.accepted_postmaster() {
        return SmtpStatus::Accepted;
    }
    let decisive = match (&s.mail, &s.rcpt) {
        (Some(mail), _) if !mail.accepted() => Some(mail),
        (_, Some(rcpt)) => Some(rcpt),
        (mail, None) => mail.as_ref(),
    };
    match decisive.map(|st| &st.outcome) {
        Some(StepOutcome::Replied { reply }) if reply.is_transient() => SmtpStatus::Tempfail,
        Some(_) => SmtpStatus::Rejected,
        None => SmtpStatus::Greeted,
    }
}

/// The short authentication states of a report, when the checks ran.
pub(super) fn auth_summary(
    facts: &Facts,
    findings: &[crate::finding::Finding],
) -> Option<AuthSummary> {
    use crate::auth::dmarc::DmarcPolicy;
    use crate::auth::mtasts::StsMode;
    use crate::finding::{Code, Severity};
    let auth = facts.auth.as_ref()?;
    let has = |codes: &[Code]| findings.iter().any(|f| codes.contains(&f.code));
    let inconclusive = |code: Code| {
        findings
            .iter()
            .any(|f| f.code == code && f.severity == Severity::Inconclusive)
    };
    let spf = if has(&[Code::SpfLookupFailed]) {
        SpfState::Unknown
    } else if has(&[Code::SpfMissing]) {
        SpfState::Missing
    } else if has(&[Code::SpfMultiple, Code::SpfInvalid, Code::SpfTooManyLookups]) {
        SpfState::Invalid
    } else if has(&[Code::SpfPermissive]) {
        SpfState::Permissive
    } else {
        SpfState::Ok
    };
    let dmarc = if inconclusive(Code::DmarcMissing) {
        DmarcState::Unknown
    } else if has(&[Code::DmarcMissing]) {
        DmarcState::Missing
    } else if has(&[Code::DmarcInvalid]) {
        DmarcState::Invalid
    } else {
        match auth
            .dmarc
            .as_ref()
            .and_then(|d| d.record())
            .map(|r| &r.policy)
        {
            Some(DmarcPolicy::Reject) => DmarcState::Reject,
            Some(DmarcPolicy::Quarantine) => DmarcState::Quarantine,
            Some(DmarcPolicy::None) => DmarcState::None,
            None => DmarcState::Unknown,
        }
    };
    let mta_sts = if has(&[Code::MtastsInvalid]) {
        MtaStsState::Invalid
    } else if has(&[Code::MtastsAbsent]) {
        MtaStsState::Missing
    } else {
        match auth
            .mta_sts
            .as_ref()
            .and_then(|m| m.policy_in_force())
            .map(|p| &p.mode)
        {
            Some(StsMode::Enforce) => MtaStsState::Enforce,
            Some(StsMode::Testing) => MtaStsState::Testing,
            Some(_) => MtaStsState::None,
            None => MtaStsState::Unknown,
        }
    };
    let dane = if has(&[Code::DnsDnssecBogus]) {
        DaneState::Bogus
    } else if has(&[Code::DaneMismatch]) {
        DaneState::Mismatch
    } else if has(&[Code::DaneUnusable]) {
        DaneState::Unusable
    } else if has(&[Code::DaneValid]) {
        DaneState::Valid
    } else if auth.dane.as_ref().is_some_and(|d| d.unavailable.is_none()) {
        DaneState::None
    } else {
        DaneState::Unknown
    };
    Some(AuthSummary {
        spf,
        dmarc,
        mta_sts,
        dane,
    })
}
