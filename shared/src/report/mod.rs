//! The [`Report`]: verdict, findings and a per-MX summary of one domain, plus the facts they rest
//! on. This is the JSON every front-end consumes (`--format json`, JSONL lines, the bot). Pure
//! data.
//!
//! The [`Verdict`] and the [`Report`] are here; the summaries a report carries for tables and
//! CSV columns (per MX host and address, and the authentication states in one word) are in
//! `summary`, re-exported here.

mod summary;

use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::finding::{Finding, Severity};

pub use summary::{
    AddressSummary, AuthSummary, DaneState, DmarcState, DnsblSummary, MtaStsState, MxSummary,
    SmtpStatus, SmtpSummary, SpfState,
};

/// The domain's overall verdict (`spec/findings.md`, first match wins).
///
/// Verdicts are ordered by how bad they are, and **a greater verdict is worse**:
/// `ok < no_mail < inconclusive < degraded < broken < invalid`, so `max()` is the worst of a
/// run and `verdict >= Verdict::Degraded` reads "degraded or worse". [`Verdict::ALL`] lists them
/// in that order, worst first. (The declaration order below is the contract's "first match
/// wins" order of the rules, not the order of badness.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The input is not a domain name.
    Invalid,
    /// Mail to the domain cannot be delivered.
    Broken,
    /// A valid null MX: the domain accepts no mail, on purpose.
    NoMail,
    /// Mail can be delivered, but something is wrong.
    Degraded,
    /// Nothing wrong found, but something could not be checked.
    Inconclusive,
    /// All good.
    Ok,
}

impl Verdict {
    /// The contract's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Broken => "broken",
            Self::NoMail => "no_mail",
            Self::Degraded => "degraded",
            Self::Inconclusive => "inconclusive",
            Self::Ok => "ok",
        }
    }

    /// Every verdict, worst first (descending [`Ord`]).
    pub const ALL: &'static [Self] = &[
        Self::Invalid,
        Self::Broken,
        Self::Degraded,
        Self::Inconclusive,
        Self::NoMail,
        Self::Ok,
    ];

    /// How bad: the one order behind [`Ord`], 0 for `ok` up to 5 for `invalid`.
    const fn rank(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::NoMail => 1,
            Self::Inconclusive => 2,
            Self::Degraded => 3,
            Self::Broken => 4,
            Self::Invalid => 5,
        }
    }

    /// One line a newcomer understands.
    pub const fn explain(self) -> &'static str {
        match self {
            Self::Invalid => "This is not a domain name we can check.",
            Self::Broken => "Mail to this domain cannot be delivered.",
            Self::NoMail => "This domain says it accepts no mail (null MX), on purpose.",
            Self::Degraded => "Mail can be delivered, but something needs fixing.",
            Self::Inconclusive => "Nothing wrong found, but some checks could not be made.",
            Self::Ok => "Mail to this domain should be delivered.",
        }
    }
}

impl Ord for Verdict {
    /// Worse is greater (see [`Verdict`]).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Verdict {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown verdict {s:?}"))
    }
}

/// The result of checking one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The normalised domain (empty when the input was invalid).
    pub domain: String,
    /// What the user gave.
    pub input: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The worst fault severity among the findings, if any.
    pub worst: Option<Severity>,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// Per mail host: preference, addresses, PTR, SMTP and blocklist results.
    pub mx: Vec<MxSummary>,
    /// Why the input was rejected (verdict `invalid`).
    pub error: Option<String>,
    /// The resolver used.
    pub resolver: String,
    /// Milliseconds the check took.
    pub elapsed_ms: u64,
    /// Everything observed (absent for invalid input).
    pub facts: Option<Facts>,
    /// Mail authentication and TLS policy in short states (`None`: not checked).
    #[serde(default)]
    pub auth: Option<AuthSummary>,
    /// The check stopped at its deadline: what did not finish. The findings are those of what
    /// was checked so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

impl Report {
    /// The report for input that is not a domain.
    pub fn invalid(input: &str, error: impl std::fmt::Display) -> Self {
        Self {
            domain: String::new(),
            input: input.to_owned(),
            verdict: Verdict::Invalid,
            worst: None,
            findings: Vec::new(),
            mx: Vec::new(),
            error: Some(error.to_string()),
            resolver: String::new(),
            elapsed_ms: 0,
            facts: None,
            auth: None,
            partial: None,
        }
    }

    /// The name a report is shown and keyed under: the normalised domain, or the input as given
    /// when it is not a domain (verdict `invalid`). Untrusted: escape it for the target.
    pub fn display_name(&self) -> &str {
        if self.domain.is_empty() {
            &self.input
        } else {
            &self.domain
        }
    }

    /// The one-line headline of a report in tables: why the input is invalid, else the first
    /// (worst) finding as `code: summary`, else empty. Untrusted: escape it for the target.
    pub fn top_issue(&self) -> String {
        top_issue(self.error.as_deref(), &self.findings)
    }

    /// The SMTP transcripts of every probed address, each under a header line.
    pub fn transcript_text(&self) -> String {
        let Some(facts) = &self.facts else {
            return String::new();
        };
        let mut out = String::new();
        for (host, addr) in facts.addresses() {
            if let Some(smtp) = &addr.smtp {
                out.push_str(&format!(
                    "=== {} [{}] port {} ===\n",
                    host.host, addr.ip, smtp.port
                ));
                out.push_str(&smtp.transcript_text());
                out.push('\n');
            }
        }
        out
    }

    /// Findings of at least warning severity (faults).
    pub fn faults(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity.is_fault())
    }
}

/// A report's headline: the error, else the first finding as `code: summary`, else empty.
pub(crate) fn top_issue(error: Option<&str>, findings: &[Finding]) -> String {
    match (error, findings.first()) {
        (Some(e), _) => e.to_owned(),
        (None, Some(f)) => format!("{}: {}", f.code, f.summary),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_the_order_worst_first() {
        assert!(Verdict::ALL.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(Verdict::ALL.len(), 6);
        assert_eq!(Verdict::ALL.iter().max(), Some(&Verdict::Invalid));
        assert!(Verdict::NoMail > Verdict::Ok && Verdict::Degraded > Verdict::Inconclusive);
    }
}
