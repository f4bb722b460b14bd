//! "What Gmail, Yahoo and Microsoft require of a sender", item by item, marked from the facts
//! (Google's and Yahoo's sender guidelines of 2024, Microsoft's for Outlook.com of 2025: every
//! sender needs a PTR with matching forward DNS, SPF or DKIM, TLS; bulk senders also SPF *and*
//! DKIM, and DMARC — `p=none` is enough). Pure.

use serde::{Deserialize, Serialize};

use super::facts::SenderFacts;
use crate::dnsbl::sending_listings;
use crate::identity::{HeloForm, HeloResolution, PtrState, helo_form, helo_resolution, ptr_state};
use crate::spf::SpfResult;

/// How one requirement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecklistState {
    /// Met.
    Pass,
    /// Not met: receivers refuse or junk such mail.
    Fail,
    /// Met only in part, or only if something we cannot see from here is right.
    Warn,
    /// A lookup failed: we cannot tell.
    Unknown,
    /// Not checked (nothing to check it with, or it cannot be seen from here).
    NotChecked,
}

impl ChecklistState {
    /// `pass`, `fail`, `warn`, `unknown`, `not checked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Unknown => "unknown",
            Self::NotChecked => "not checked",
        }
    }

    /// A mark for text tables: `✓`, `✗`, `!`, `?`, `-`.
    pub const fn mark(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::Unknown => "?",
            Self::NotChecked => "-",
        }
    }
}

/// One requirement of the large receivers and how this sender stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Stable key: `ptr`, `fcrdns`, `helo`, `blocklists`, `spf_or_dkim`, `dmarc`, `tls`.
    pub key: String,
    /// The requirement in plain words.
    pub requirement: String,
    /// Who requires it.
    pub required_by: String,
    /// How this sender stands.
    pub state: ChecklistState,
    /// Why, in a few words.
    pub detail: String,
}

fn item(
    key: &str,
    requirement: &str,
    required_by: &str,
    state: ChecklistState,
    detail: impl Into<String>,
) -> ChecklistItem {
    ChecklistItem {
        key: key.to_owned(),
        requirement: requirement.to_owned(),
        required_by: required_by.to_owned(),
        state,
        detail: detail.into(),
    }
}

const ALL_THREE: &str = "Gmail, Yahoo, Microsoft";

/// The checklist for these facts.
pub fn checklist(f: &SenderFacts) -> Vec<ChecklistItem> {
    use ChecklistState::{Fail, NotChecked, Pass, Unknown, Warn};
    let ip = f.ip;
    let mut out = Vec::new();

    let ptr = f.ptr.as_ref().map(|p| (p, ptr_state(p, ip)));
    let (state, detail) = match ptr {
        None => (Unknown, "the lookup did not finish".to_owned()),
        Some((_, PtrState::LookupFailed)) => (Unknown, "the PTR lookup failed".to_owned()),
        Some((_, PtrState::Missing)) => (Fail, format!("{ip} has no PTR record")),
        Some((p, _)) => (Pass, format!("PTR {}", p.names().join(", "))),
    };
    out.push(item(
        "ptr",
        "The sending IP has a reverse DNS (PTR) record",
        ALL_THREE,
        state,
        detail,
    ));

    let (state, detail) = match ptr {
        None | Some((_, PtrState::LookupFailed | PtrState::ForwardFailed)) => {
            (Unknown, "could not be looked up".to_owned())
        }
        Some((_, PtrState::Missing)) => (Fail, "no PTR name to confirm".to_owned()),
        Some((p, PtrState::NotConfirmed)) => (
            Fail,
            format!("{} does not resolve back to {ip}", p.names().join(", ")),
        ),
        Some((p, PtrState::Confirmed)) => (
            Pass,
            format!("{} resolves back to {ip}", p.names().join(", ")),
        ),
    };
    out.push(item(
        "fcrdns",
        "The PTR name resolves back to the IP (forward-confirmed reverse DNS)",
        ALL_THREE,
        state,
        detail,
    ));

    let (state, detail) = match &f.helo {
        None => (NotChecked, "no HELO name given".to_owned()),
        Some(helo) => match helo_form(helo) {
            HeloForm::Name => match f.helo_lookups.as_ref().map(helo_resolution) {
                None => (Unknown, "the lookup did not finish".to_owned()),
                Some(HeloResolution::LookupFailed) => {
                    (Unknown, format!("the lookup of {helo} failed"))
                }
                Some(HeloResolution::Unresolvable) => (Fail, format!("{helo} does not resolve")),
                Some(HeloResolution::Resolves(ips)) => {
                    let is_ptr = f
                        .ptr
                        .as_ref()
                        .is_some_and(|p| crate::identity::is_ptr_name(p, helo));
                    if ips.contains(&ip) {
                        (Pass, format!("{helo} resolves to {ip}"))
                    } else if is_ptr {
                        (Pass, format!("{helo} is the PTR name of {ip}"))
                    } else {
                        (Warn, format!("{helo} does not resolve to {ip}"))
                    }
                }
            },
            _ => (Fail, format!("{helo} is not a public host name")),
        },
    };
    out.push(item(
        "helo",
        "The HELO name is a public name that resolves to the IP (ideally its PTR name)",
        "Microsoft, most receivers (Gmail and Yahoo score it)",
        state,
        detail,
    ));

    let (state, detail) = if f.dnsbl_enabled {
        let (listed, unavailable) = sending_listings(&f.dnsbl, &f.dnsbl_zones);
        let blocking: Vec<&str> = listed
            .iter()
            .filter(|l| l.blocks_sending())
            .map(|l| l.zone.as_str())
            .collect();
        if !blocking.is_empty() {
            (Fail, format!("listed on {}", blocking.join(", ")))
        } else if !listed.is_empty() {
            let zones: Vec<&str> = listed.iter().map(|l| l.zone.as_str()).collect();
            (Warn, format!("policy listing on {}", zones.join(", ")))
        } else if !unavailable.is_empty() {
            let zones: Vec<&str> = unavailable.iter().map(|(z, _)| z.as_str()).collect();
            (Unknown, format!("no answer from {}", zones.join(", ")))
        } else if f.dnsbl.iter().all(|c| c.answer.is_none()) {
            (
                NotChecked,
                "no configured list covers this address family".to_owned(),
            )
        } else {
            (Pass, format!("not listed on {} list(s)", f.dnsbl.len()))
        }
    } else {
        (NotChecked, "blocklists are off".to_owned())
    };
    out.push(item(
        "blocklists",
        "The IP is not on the blocklists receivers use (Spamhaus and others)",
        ALL_THREE,
        state,
        detail,
    ));

    let domain = f.domain.as_ref();
    let evaluation = domain
        .and_then(|d| d.spf.as_ref())
        .and_then(|s| s.evaluation.as_ref());
    let (state, detail) = match (domain, evaluation) {
        (None, _) => (NotChecked, "no sender domain given".to_owned()),
        (Some(_), None) => (Unknown, "the SPF check did not finish".to_owned()),
        (Some(d), Some(e)) => match e.result {
            SpfResult::Pass => (Pass, format!("SPF of {} passes for {ip}", d.domain)),
            SpfResult::Fail | SpfResult::PermError => (
                Fail,
                format!(
                    "SPF {} for {ip}: only a DKIM signature could still pass",
                    e.result
                ),
            ),
            SpfResult::TempError => (Unknown, "SPF could not be evaluated (temperror)".to_owned()),
            other => (
                Warn,
                format!(
                    "SPF {other} for {ip}: the mail needs a DKIM signature (not checkable here)"
                ),
            ),
        },
    };
    out.push(item(
        "spf_or_dkim",
        "SPF or DKIM authenticates the mail (bulk senders: both); shown: SPF for this IP",
        ALL_THREE,
        state,
        detail,
    ));

    let (state, detail) = match domain {
        None => (NotChecked, "no sender domain given".to_owned()),
        Some(d) => match &d.dmarc {
            None => (Unknown, "the lookup did not finish".to_owned()),
            Some(dmarc) if dmarc.lookups.iter().any(|l| l.lookup.is_failed()) => {
                (Unknown, "the DMARC lookup failed".to_owned())
            }
            Some(dmarc) => match (dmarc.record(), dmarc.policy_lookup()) {
                (Some(r), Some(l)) => (Pass, format!("{}: p={}", l.name, r.policy.as_str())),
                (None, Some(l)) => (Fail, format!("{} does not parse", l.name)),
                _ => (Fail, format!("no DMARC record for {}", d.domain)),
            },
        },
    };
    out.push(item(
        "dmarc",
        "A DMARC record is published (required for bulk senders; p=none is enough)",
        ALL_THREE,
        state,
        detail,
    ));

    out.push(item(
        "tls",
        "The sending server uses TLS (STARTTLS) when it delivers",
        ALL_THREE,
        NotChecked,
        "cannot be seen from here: make sure the server offers STARTTLS when it sends (Postfix: \
         smtp_tls_security_level = may; Exim: on by default with a certificate; Exchange: on by \
         default)",
    ));
    out
}
