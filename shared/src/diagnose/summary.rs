//! The per-MX summary of a report: one row per host, one entry per address.

use crate::dnsbl::classify;
use crate::facts::{AddressFacts, ConnectOutcome, Facts, SmtpFacts, StepOutcome};
use crate::report::{AddressSummary, DnsblSummary, MxSummary, SmtpSummary};

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
                    "skipped"
                } else if a.unfinished.is_some() {
                    "unfinished"
                } else {
                    "not_probed"
                }
                .to_owned(),
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
        _ if blocked_here => "egress_blocked",
        ConnectOutcome::Refused => "refused",
        ConnectOutcome::TimedOut { .. } | ConnectOutcome::Unreachable { .. } => "unreachable",
        ConnectOutcome::Error { .. } => "error",
        ConnectOutcome::Connected { .. } => match s.greeting.as_ref().map(|g| &g.outcome) {
            None => "error",
            Some(StepOutcome::Replied { reply }) if reply.code != 220 => "greeting_rejected",
            Some(StepOutcome::Replied { .. }) => transaction_status(s),
            Some(_) => "no_greeting",
        },
    };
    SmtpSummary {
        status: status.to_owned(),
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
            "served on the session opened for {opened_for}: this address answers all its names alike (it ignores SNI), the certificate checked for {}",
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
fn transaction_status(s: &SmtpFacts) -> &'static str {
    if s.accepted_postmaster() {
        return "accepted";
    }
    let decisive = match (&s.mail, &s.rcpt) {
        (Some(mail), _) if !mail.accepted() => Some(mail),
        (_, Some(rcpt)) => Some(rcpt),
        (mail, None) => mail.as_ref(),
    };
    match decisive.map(|st| &st.outcome) {
        Some(StepOutcome::Replied { reply }) if reply.is_transient() => "tempfail",
        Some(_) => "rejected",
        None => "greeted",
    }
}

/// The short authentication states of a report, when the checks ran.
pub(super) fn auth_summary(
    facts: &Facts,
    findings: &[crate::finding::Finding],
) -> Option<crate::report::AuthSummary> {
    use crate::finding::{Code, Severity};
    let auth = facts.auth.as_ref()?;
    let has = |codes: &[Code]| findings.iter().any(|f| codes.contains(&f.code));
    let inconclusive = |code: Code| {
        findings
            .iter()
            .any(|f| f.code == code && f.severity == Severity::Inconclusive)
    };
    let spf = if has(&[Code::SpfLookupFailed]) {
        "unknown"
    } else if has(&[Code::SpfMissing]) {
        "missing"
    } else if has(&[Code::SpfMultiple, Code::SpfInvalid, Code::SpfTooManyLookups]) {
        "invalid"
    } else if has(&[Code::SpfPermissive]) {
        "permissive"
    } else {
        "ok"
    };
    let dmarc = if inconclusive(Code::DmarcMissing) {
        "unknown"
    } else if has(&[Code::DmarcMissing]) {
        "missing"
    } else if has(&[Code::DmarcInvalid]) {
        "invalid"
    } else {
        match auth
            .dmarc
            .as_ref()
            .and_then(|d| d.record())
            .map(|r| &r.policy)
        {
            Some(crate::auth::dmarc::DmarcPolicy::Reject) => "reject",
            Some(crate::auth::dmarc::DmarcPolicy::Quarantine) => "quarantine",
            Some(crate::auth::dmarc::DmarcPolicy::None) => "none",
            None => "unknown",
        }
    };
    let mta_sts = if has(&[Code::MtastsInvalid]) {
        "invalid"
    } else if has(&[Code::MtastsAbsent]) {
        "missing"
    } else {
        match auth
            .mta_sts
            .as_ref()
            .and_then(|m| m.policy_in_force())
            .map(|p| &p.mode)
        {
            Some(crate::auth::mtasts::StsMode::Enforce) => "enforce",
            Some(crate::auth::mtasts::StsMode::Testing) => "testing",
            Some(_) => "none",
            None => "unknown",
        }
    };
    let dane = if has(&[Code::DnsDnssecBogus]) {
        "bogus"
    } else if has(&[Code::DaneMismatch]) {
        "mismatch"
    } else if has(&[Code::DaneUnusable]) {
        "unusable"
    } else if has(&[Code::DaneValid]) {
        "valid"
    } else if auth.dane.as_ref().is_some_and(|d| d.unavailable.is_none()) {
        "none"
    } else {
        "unknown"
    };
    Some(crate::report::AuthSummary {
        spf: spf.to_owned(),
        dmarc: dmarc.to_owned(),
        mta_sts: mta_sts.to_owned(),
        dane: dane.to_owned(),
    })
}
