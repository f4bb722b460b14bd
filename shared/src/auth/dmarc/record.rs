//! A parsed DMARC record (RFC 7489 §6.3): its policy, alignment and report tags, and why a
//! TXT record is not one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the domain owner asks receivers to do with mail that fails DMARC (`p=`, `sp=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// `none`: deliver as usual, only report (monitoring).
    None,
    /// `quarantine`: treat as suspicious (usually the spam folder).
    Quarantine,
    /// `reject`: refuse it during the SMTP transaction.
    Reject,
}

impl DmarcPolicy {
    /// The record's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }

    pub(super) fn parse(value: &str) -> Option<Self> {
        [Self::None, Self::Quarantine, Self::Reject]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(value))
    }
}

impl fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment (`adkim=`, `aspf=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// `r`: the organizational domains must match (the default).
    Relaxed,
    /// `s`: the domains must be identical.
    Strict,
}

/// One report address of `rua=` or `ruf=`: `URI [ "!" size ]` (§6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportUri {
    /// The URI as written, without the size limit.
    pub uri: String,
    /// For a `mailto:` URI, the domain of the address, normalised (lower case, A-labels): the
    /// "destination host" of §7.1. `None` for other schemes.
    pub destination: Option<String>,
    /// The size limit as written (`10m`), if any.
    pub max_size: Option<String>,
}

/// A parsed DMARC record. Optional tags are `None` when not published (the RFC's defaults
/// then apply: `pct=100`, `adkim=r`, `aspf=r`, `fo=0`, `ri=86400`, `rf=afrf`, and `sp` = `p`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRecord {
    /// The record as published.
    pub text: String,
    /// `p=`.
    pub policy: DmarcPolicy,
    /// `sp=`: the policy for subdomains.
    pub subdomain_policy: Option<DmarcPolicy>,
    /// `pct=`: the percentage of failing mail the policy applies to.
    pub percent: Option<u8>,
    /// `rua=`: where aggregate reports go.
    pub rua: Vec<ReportUri>,
    /// `ruf=`: where failure reports go.
    pub ruf: Vec<ReportUri>,
    /// `adkim=`.
    pub adkim: Option<Alignment>,
    /// `aspf=`.
    pub aspf: Option<Alignment>,
    /// `fo=`: failure reporting options (`0`, `1`, `d`, `s`), lower case.
    pub failure_options: Option<Vec<String>>,
    /// `ri=`: the aggregate report interval in seconds.
    pub report_interval: Option<u32>,
    /// `rf=`: failure report formats.
    pub report_formats: Option<Vec<String>>,
    /// Tags this parser does not know, as written: receivers ignore them (§6.3).
    pub unknown_tags: Vec<String>,
}

impl DmarcRecord {
    /// The policy for mail from `domain` when this record was found at `policy_domain`: `sp=`
    /// (else `p=`) when the record was found at the organizational domain of a subdomain.
    pub fn policy_for(&self, domain: &str, policy_domain: &str) -> DmarcPolicy {
        if domain.eq_ignore_ascii_case(policy_domain) {
            self.policy
        } else {
            self.subdomain_policy.unwrap_or(self.policy)
        }
    }

    /// Every report address, with its tag (`rua` or `ruf`).
    pub fn report_uris(&self) -> impl Iterator<Item = (&'static str, &ReportUri)> {
        self.rua
            .iter()
            .map(|u| ("rua", u))
            .chain(self.ruf.iter().map(|u| ("ruf", u)))
    }
}

/// Why a TXT record is not a valid DMARC record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DmarcErrorKind {
    /// The first tag is not `v` (receivers ignore the record).
    #[error("a DMARC record must start with \"v=DMARC1\"")]
    NotFirst,
    /// `v=` with another value than `DMARC1` (receivers ignore the record).
    #[error("the version must be exactly \"v=DMARC1\" (upper case), not {found:?}")]
    BadVersion {
        /// The value found.
        found: String,
    },
    /// Longer than [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN).
    #[error("record of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// An item between semicolons that is not `name=value`.
    #[error("{text:?} is not a tag=value pair")]
    NotATag {
        /// The item as written.
        text: String,
    },
    /// A tag given twice.
    #[error("the tag {tag:?} appears more than once")]
    DuplicateTag {
        /// The tag name.
        tag: String,
    },
    /// A known tag with a value outside its grammar.
    #[error("{tag}={value:?} is not valid: {expected}")]
    BadValue {
        /// The tag name.
        tag: String,
        /// The value as written.
        value: String,
        /// What the tag takes.
        expected: String,
    },
    /// A `rua`/`ruf` entry that is not a usable report URI.
    #[error("{tag}: {uri:?} is not a report address: {why}")]
    BadUri {
        /// `rua` or `ruf`.
        tag: String,
        /// The entry as written.
        uri: String,
        /// What is wrong.
        why: String,
    },
    /// No `p=` tag. With a valid `rua`, receivers act as if `p=none` were published (§6.6.3);
    /// without one the record is not a DMARC record at all.
    #[error(
        "there is no \"p=\" tag{}",
        if *treated_as_none {
            " (receivers treat the record as p=none because it has a valid rua)"
        } else {
            " (receivers ignore the record)"
        }
    )]
    MissingPolicy {
        /// The record has a valid `rua`, so receivers apply `p=none`.
        treated_as_none: bool,
    },
}

/// A syntax error with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "{kind} (at byte {position}{})",
    if tag.is_empty() { String::new() } else { format!(", {tag:?}") }
)]
pub struct DmarcParseError {
    /// What is wrong.
    pub kind: DmarcErrorKind,
    /// The offending `tag=value` as written (empty for whole-record problems).
    pub tag: String,
    /// Byte offset of the tag in the record (the record's length for a missing tag).
    pub position: usize,
}
