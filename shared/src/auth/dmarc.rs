//! DMARC (RFC 7489): the policy record at `_dmarc.<domain>`, or at the organizational domain
//! (Public Suffix List) when the domain has none (§6.6.3); a pure parser of the record (§6.3,
//! §6.4) that says where it breaks; and the authorization of reports sent to another
//! organizational domain (§7.1).
//!
//! Receivers keep only the TXT records that start with `v=DMARC1`; when none is left they ask
//! the organizational domain; when more than one is left, no policy applies. [`DmarcLookup`]
//! records exactly that, plus the TXT records receivers throw away (a record that starts with
//! `p=`, a lower-case `v=dmarc1`), so the diagnosis can say why a published record is ignored.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::domain::DomainName;
use crate::facts::Lookup;
use crate::probe::dns::DnsSource;

/// The version every record starts with: `v=DMARC1`, the value case-sensitive (§6.4).
pub const VERSION: &str = "DMARC1";

/// The longest record we parse, in bytes.
pub const MAX_RECORD_LEN: usize = 8 * 1024;

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

    fn parse(value: &str) -> Option<Self> {
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
    /// Longer than [`MAX_RECORD_LEN`].
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
    #[error("there is no \"p=\" tag{}", if *treated_as_none { " (receivers treat the record as p=none because it has a valid rua)" } else { " (receivers ignore the record)" })]
    MissingPolicy {
        /// The record has a valid `rua`, so receivers apply `p=none`.
        treated_as_none: bool,
    },
}

/// A syntax error with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind} (at byte {position}{})", if tag.is_empty() { String::new() } else { format!(", {tag:?}") })]
pub struct DmarcParseError {
    /// What is wrong.
    pub kind: DmarcErrorKind,
    /// The offending `tag=value` as written (empty for whole-record problems).
    pub tag: String,
    /// Byte offset of the tag in the record (the record's length for a missing tag).
    pub position: usize,
}

/// `*WSP` of RFC 5234: space and horizontal tab.
const fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The items between semicolons with their byte offsets, surrounding `WSP` trimmed.
fn items(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for part in text.split(';') {
        let lead = part.len() - part.trim_start_matches(is_wsp).len();
        out.push((start + lead, part.trim_matches(is_wsp)));
        start += part.len() + 1;
    }
    out
}

/// `name=value` with `WSP` allowed around `=`.
fn tag_value(item: &str) -> Option<(&str, &str)> {
    let (name, value) = item.split_once('=')?;
    Some((name.trim_matches(is_wsp), value.trim_matches(is_wsp)))
}

/// Checks the first item: `v=DMARC1`.
fn check_version(first: (usize, &str)) -> Result<(), DmarcParseError> {
    let (position, item) = first;
    let error = |kind| DmarcParseError {
        kind,
        tag: item.to_owned(),
        position,
    };
    match tag_value(item) {
        Some((name, value)) if name.eq_ignore_ascii_case("v") => {
            if value == VERSION {
                Ok(())
            } else {
                Err(error(DmarcErrorKind::BadVersion {
                    found: value.to_owned(),
                }))
            }
        }
        _ => Err(error(DmarcErrorKind::NotFirst)),
    }
}

/// Whether a TXT string is a DMARC record as receivers select them (§6.6.3): its first tag is
/// `v=DMARC1`.
pub fn is_dmarc_record(text: &str) -> bool {
    items(text)
        .first()
        .is_some_and(|&f| check_version(f).is_ok())
}

/// The organizational domain of `name` (RFC 7489 §3.2): the public suffix (PSL, private
/// section included) plus one label; the name itself when it is a public suffix or not a
/// name the list can place. Lower case, no trailing dot.
pub fn organizational_domain(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    match psl::domain_str(&name) {
        Some(org) => org.to_owned(),
        None => name,
    }
}

/// Parses one DMARC record (the TXT strings already joined). Pure.
///
/// Tag names and the values of `p sp adkim aspf fo rf` are case-insensitive; `DMARC1` is not.
/// Empty items (`;;`, a trailing `;`) are tolerated; unknown tags are kept and ignored (§6.3).
///
/// # Errors
/// The first problem, with the tag and its byte offset.
pub fn parse_record(text: &str) -> Result<DmarcRecord, DmarcParseError> {
    if text.len() > MAX_RECORD_LEN {
        return Err(DmarcParseError {
            kind: DmarcErrorKind::TooLong {
                len: text.len(),
                max: MAX_RECORD_LEN,
            },
            tag: String::new(),
            position: 0,
        });
    }
    let items = items(text);
    check_version(items[0])?;
    let mut record = DmarcRecord {
        text: text.to_owned(),
        policy: DmarcPolicy::None,
        subdomain_policy: None,
        percent: None,
        rua: Vec::new(),
        ruf: Vec::new(),
        adkim: None,
        aspf: None,
        failure_options: None,
        report_interval: None,
        report_formats: None,
        unknown_tags: Vec::new(),
    };
    let mut policy = None;
    let mut seen: Vec<String> = vec!["v".to_owned()];
    for &(position, item) in &items[1..] {
        if item.is_empty() {
            continue;
        }
        let error = |kind| DmarcParseError {
            kind,
            tag: item.to_owned(),
            position,
        };
        let Some((name, value)) = tag_value(item).filter(|(n, _)| is_tag_name(n)) else {
            return Err(error(DmarcErrorKind::NotATag {
                text: item.to_owned(),
            }));
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(error(DmarcErrorKind::DuplicateTag { tag: name }));
        }
        seen.push(name.clone());
        let bad = |expected: &str| {
            error(DmarcErrorKind::BadValue {
                tag: name.clone(),
                value: value.to_owned(),
                expected: expected.to_owned(),
            })
        };
        match name.as_str() {
            "p" | "sp" => {
                let p =
                    DmarcPolicy::parse(value).ok_or_else(|| bad("none, quarantine or reject"))?;
                if name == "p" {
                    policy = Some(p);
                } else {
                    record.subdomain_policy = Some(p);
                }
            }
            "pct" => {
                record.percent = Some(
                    parse_number(value, 3)
                        .and_then(|n| u8::try_from(n).ok())
                        .filter(|n| *n <= 100)
                        .ok_or_else(|| bad("a whole number from 0 to 100"))?,
                );
            }
            "rua" | "ruf" => {
                let uris = parse_uris(value).map_err(|(uri, why)| {
                    error(DmarcErrorKind::BadUri {
                        tag: name.clone(),
                        uri,
                        why,
                    })
                })?;
                if name == "rua" {
                    record.rua = uris;
                } else {
                    record.ruf = uris;
                }
            }
            "adkim" | "aspf" => {
                let a = match value.to_ascii_lowercase().as_str() {
                    "r" => Alignment::Relaxed,
                    "s" => Alignment::Strict,
                    _ => return Err(bad("r (relaxed) or s (strict)")),
                };
                if name == "adkim" {
                    record.adkim = Some(a);
                } else {
                    record.aspf = Some(a);
                }
            }
            "fo" => {
                let options = colon_list(value);
                if options.is_empty()
                    || !options
                        .iter()
                        .all(|o| matches!(o.as_str(), "0" | "1" | "d" | "s"))
                {
                    return Err(bad("a colon-separated list of 0, 1, d and s"));
                }
                record.failure_options = Some(options);
            }
            "ri" => {
                record.report_interval = Some(
                    parse_number(value, 10)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("a number of seconds"))?,
                );
            }
            "rf" => {
                let formats = colon_list(value);
                if formats.is_empty()
                    || !formats.iter().all(|f| {
                        f.starts_with(|c: char| c.is_ascii_alphabetic())
                            && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
                {
                    return Err(bad("a colon-separated list of report formats (afrf)"));
                }
                record.report_formats = Some(formats);
            }
            _ => record.unknown_tags.push(item.to_owned()),
        }
    }
    match policy {
        Some(p) => {
            record.policy = p;
            Ok(record)
        }
        None => Err(DmarcParseError {
            kind: DmarcErrorKind::MissingPolicy {
                treated_as_none: !record.rua.is_empty(),
            },
            tag: String::new(),
            position: text.len(),
        }),
    }
}

/// `ALPHA *( ALPHA / DIGIT / "_" )`.
fn is_tag_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `1*DIGIT` of at most `max_digits` digits.
fn parse_number(value: &str, max_digits: usize) -> Option<u64> {
    (!value.is_empty() && value.len() <= max_digits && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

/// A colon-separated list, items trimmed and lower-cased.
fn colon_list(value: &str) -> Vec<String> {
    let items: Vec<String> = value
        .split(':')
        .map(|v| v.trim_matches(is_wsp).to_ascii_lowercase())
        .collect();
    if items.iter().any(String::is_empty) {
        Vec::new()
    } else {
        items
    }
}

/// `dmarc-uri *(*WSP "," *WSP dmarc-uri)`: the entry and what is wrong on failure.
fn parse_uris(value: &str) -> Result<Vec<ReportUri>, (String, String)> {
    value
        .split(',')
        .map(|part| {
            let part = part.trim_matches(is_wsp);
            parse_uri(part).map_err(|why| (part.to_owned(), why))
        })
        .collect()
}

/// `URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]` (§6.4); a `mailto:` URI must hold an
/// address whose domain is a valid name.
fn parse_uri(entry: &str) -> Result<ReportUri, String> {
    if entry.is_empty() {
        return Err("empty entry".to_owned());
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters".to_owned());
    }
    let (uri, max_size) = match entry.split_once('!') {
        Some((uri, size)) => {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || size.len() > digits.len() + 1
            {
                return Err(format!(
                    "the size limit {size:?} must be digits with an optional k, m, g or t"
                ));
            }
            (uri, Some(size.to_owned()))
        }
        None => (entry, None),
    };
    let Some((scheme, rest)) = uri.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        return Err(if uri.contains('@') {
            "it lacks the \"mailto:\" in front of the address".to_owned()
        } else {
            "not a URI (write mailto:address)".to_owned()
        });
    };
    if rest.is_empty() {
        return Err("nothing after the scheme".to_owned());
    }
    let destination = if scheme.eq_ignore_ascii_case("mailto") {
        let address = rest.split('?').next().unwrap_or_default();
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err("the mailto: address has no @domain".to_owned());
        };
        if local.is_empty() {
            return Err("the mailto: address has no local part".to_owned());
        }
        let domain = DomainName::parse(domain)
            .ok()
            .filter(|_| !domain.contains(['@', '/', ':']))
            .ok_or_else(|| format!("{domain:?} is not a valid domain"))?;
        Some(domain.as_str().to_owned())
    } else {
        None
    };
    Ok(ReportUri {
        uri: uri.to_owned(),
        destination,
        max_size,
    })
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986).
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The DMARC lookup at one domain (`_dmarc.<domain>`), as receivers select records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcLookup {
    /// The domain whose policy this is (the checked domain, or its organizational domain).
    pub domain: String,
    /// The name asked: `_dmarc.<domain>`.
    pub name: String,
    /// The TXT lookup.
    pub lookup: Lookup<String>,
    /// The TXT records that start with `v=DMARC1`: the ones receivers keep (§6.6.3). One when
    /// all is well; several means no policy applies.
    pub records: Vec<String>,
    /// The other TXT records at the name: receivers discard them, so a policy written there
    /// (a missing or misspelt `v=DMARC1` first) is not seen.
    pub ignored: Vec<String>,
    /// The parsed record, when there is exactly one and it parses.
    pub record: Option<DmarcRecord>,
    /// Why the record does not parse: the one kept record, or, when none was kept, the first
    /// ignored one that mentions DMARC.
    pub error: Option<DmarcParseError>,
}

impl DmarcLookup {
    /// Sorts and parses the answer of the TXT lookup at `_dmarc.<domain>`. Pure.
    pub fn from_answer(domain: &str, lookup: Lookup<String>) -> Self {
        let domain = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        let super::KeptRecords {
            records,
            ignored,
            record,
            error,
        } = super::keep_records(&lookup, is_dmarc_record, "dmarc", parse_record);
        Self {
            name: format!("_dmarc.{domain}"),
            domain,
            lookup,
            records,
            ignored,
            record,
            error,
        }
    }

    /// Receivers found at least one `v=DMARC1` record here (and stop looking).
    pub fn found(&self) -> bool {
        !self.records.is_empty()
    }
}

/// The §7.1 check for one destination host of `rua`/`ruf` addresses in another organizational
/// domain: the TXT at `<policy domain>._report._dmarc.<destination>` must start with `v=DMARC1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAuthorization {
    /// The destination host (the domain of the addresses).
    pub destination: String,
    /// The addresses that go there, with their tag (`rua=mailto:…`).
    pub uris: Vec<String>,
    /// The name asked.
    pub name: String,
    /// The TXT lookup.
    pub lookup: Lookup<String>,
    /// `Some(true)` when a record starts with `v=DMARC1`, `Some(false)` when the answer has
    /// none (NXDOMAIN and NODATA included), `None` when the lookup failed.
    pub authorized: Option<bool>,
}

impl ReportAuthorization {
    /// Judges the answer for `name`. Pure.
    pub fn from_answer(
        destination: &str,
        uris: Vec<String>,
        name: String,
        lookup: Lookup<String>,
    ) -> Self {
        let authorized = match &lookup {
            Lookup::Failed { .. } => None,
            other => Some(other.records().iter().any(|r| is_dmarc_record(r))),
        };
        Self {
            destination: destination.to_owned(),
            uris,
            name,
            lookup,
            authorized,
        }
    }
}

/// Whether reports for `policy_domain` sent to `destination` need the §7.1 authorization: the
/// two are in different organizational domains.
pub fn needs_authorization(policy_domain: &str, destination: &str) -> bool {
    organizational_domain(policy_domain) != organizational_domain(destination)
}

/// What DMARC discovery found for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DmarcFacts {
    /// The checked domain (lower case, no trailing dot).
    pub domain: String,
    /// Its organizational domain.
    pub organizational_domain: String,
    /// The lookups in the order receivers make them: `_dmarc.<domain>`, then, when it kept no
    /// record (and did not fail) and the domain is not its own organizational domain,
    /// `_dmarc.<organizational domain>`.
    pub lookups: Vec<DmarcLookup>,
    /// The §7.1 checks of the applied record's report addresses in other organizational
    /// domains, one per destination host.
    pub report_authorizations: Vec<ReportAuthorization>,
}

impl DmarcFacts {
    /// The lookup whose records receivers use: the first that kept a record.
    pub fn policy_lookup(&self) -> Option<&DmarcLookup> {
        self.lookups.iter().find(|l| l.found())
    }

    /// The policy record receivers apply, when there is exactly one and it parses.
    pub fn record(&self) -> Option<&DmarcRecord> {
        self.policy_lookup().and_then(|l| l.record.as_ref())
    }
}

/// Discovers the domain's DMARC record (§6.6.3) and checks the report authorizations (§7.1).
pub async fn collect(ctx: &AuthContext<'_>) -> DmarcFacts {
    collect_from(ctx.domain, ctx.dns).await
}

async fn collect_from(domain: &str, dns: &dyn DnsSource) -> DmarcFacts {
    let domain = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let org = organizational_domain(&domain);
    let ask = |d: String| async move {
        let lookup = dns.txt(&format!("_dmarc.{d}")).await;
        DmarcLookup::from_answer(&d, lookup)
    };
    let own = ask(domain.clone()).await;
    let mut lookups = vec![own];
    if org != domain && !lookups[0].found() && !lookups[0].lookup.is_failed() {
        lookups.push(ask(org.clone()).await);
    }
    let mut facts = DmarcFacts {
        domain,
        organizational_domain: org,
        lookups,
        report_authorizations: Vec::new(),
    };
    let Some(policy) = facts.policy_lookup() else {
        return facts;
    };
    let Some(record) = &policy.record else {
        return facts;
    };
    // One check per destination host, in the order the addresses are written.
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    for (tag, uri) in record.report_uris() {
        let Some(dest) = &uri.destination else {
            continue;
        };
        if !needs_authorization(&policy.domain, dest) {
            continue;
        }
        let label = format!("{tag}={}", uri.uri);
        match wanted.iter_mut().find(|(d, _)| d == dest) {
            Some((_, uris)) => uris.push(label),
            None => wanted.push((dest.clone(), vec![label])),
        }
    }
    let policy_domain = policy.domain.clone();
    let checks = wanted.into_iter().map(|(dest, uris)| {
        let name = format!("{policy_domain}._report._dmarc.{dest}");
        async move {
            let lookup = dns.txt(&name).await;
            ReportAuthorization::from_answer(&dest, uris, name, lookup)
        }
    });
    facts.report_authorizations = futures::future::join_all(checks).await;
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::DnsFailure;

    fn kind(text: &str) -> DmarcErrorKind {
        parse_record(text).unwrap_err().kind
    }

    #[test]
    fn a_full_record_parses() {
        let r = parse_record(
            "v=DMARC1; p=quarantine; sp=reject; pct=50; rua=mailto:agg@example.com,mailto:x@reports.example.net!10m; ruf=mailto:f@example.com; adkim=s; aspf=r; fo=0:d:S; ri=3600; rf=afrf; np=reject",
        )
        .unwrap();
        assert_eq!(r.policy, DmarcPolicy::Quarantine);
        assert_eq!(r.subdomain_policy, Some(DmarcPolicy::Reject));
        assert_eq!(r.percent, Some(50));
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[1].uri, "mailto:x@reports.example.net");
        assert_eq!(r.rua[1].destination.as_deref(), Some("reports.example.net"));
        assert_eq!(r.rua[1].max_size.as_deref(), Some("10m"));
        assert_eq!(r.ruf[0].destination.as_deref(), Some("example.com"));
        assert_eq!(r.adkim, Some(Alignment::Strict));
        assert_eq!(r.aspf, Some(Alignment::Relaxed));
        assert_eq!(
            r.failure_options,
            Some(vec!["0".to_owned(), "d".to_owned(), "s".to_owned()])
        );
        assert_eq!(r.report_interval, Some(3600));
        assert_eq!(r.report_formats, Some(vec!["afrf".to_owned()]));
        assert_eq!(r.unknown_tags, ["np=reject"]);
        assert_eq!(
            r.policy_for("example.com", "example.com"),
            DmarcPolicy::Quarantine
        );
        assert_eq!(
            r.policy_for("a.example.com", "example.com"),
            DmarcPolicy::Reject
        );
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<DmarcRecord>(&json).unwrap(), r);
    }

    #[test]
    fn spacing_case_and_trailing_semicolons_are_tolerated() {
        let r = parse_record("v = DMARC1 ;P=Reject;;  RUA = mailto:D@Example.COM ;").unwrap();
        assert_eq!(r.policy, DmarcPolicy::Reject);
        assert_eq!(r.rua[0].destination.as_deref(), Some("example.com"));
        assert_eq!(r.subdomain_policy, None);
        assert_eq!(
            r.policy_for("x.example.com", "example.com"),
            DmarcPolicy::Reject
        );
        assert!(parse_record("v=DMARC1;p=none").is_ok());
        assert!(parse_record("v=DMARC1; p=none; rua=https://reports.example/dmarc").is_ok());
    }

    #[test]
    fn the_version_must_come_first_and_exactly() {
        let e = parse_record("p=reject; v=DMARC1").unwrap_err();
        assert_eq!(e.kind, DmarcErrorKind::NotFirst);
        assert_eq!((e.position, e.tag.as_str()), (0, "p=reject"));
        assert_eq!(
            kind("v=dmarc1; p=reject"),
            DmarcErrorKind::BadVersion {
                found: "dmarc1".into()
            }
        );
        assert_eq!(kind(""), DmarcErrorKind::NotFirst);
        assert_eq!(
            kind("v=DMARC1x; p=none"),
            DmarcErrorKind::BadVersion {
                found: "DMARC1x".into()
            }
        );
        assert!(is_dmarc_record(" v=DMARC1; p=none"));
        assert!(!is_dmarc_record("v=DMARC2; p=none"));
        assert!(!is_dmarc_record("v=spf1 -all"));
    }

    #[test]
    fn bad_tags_say_where() {
        let e = parse_record("v=DMARC1; p=rejct").unwrap_err();
        assert_eq!(e.position, 10);
        assert_eq!(e.tag, "p=rejct");
        assert!(matches!(e.kind, DmarcErrorKind::BadValue { ref tag, .. } if tag == "p"));
        assert!(e.to_string().contains("at byte 10"), "{e}");
        for (text, tag) in [
            ("v=DMARC1; p=none; sp=block", "sp"),
            ("v=DMARC1; p=none; pct=101", "pct"),
            ("v=DMARC1; p=none; pct=-1", "pct"),
            ("v=DMARC1; p=none; adkim=x", "adkim"),
            ("v=DMARC1; p=none; aspf=", "aspf"),
            ("v=DMARC1; p=none; fo=2", "fo"),
            ("v=DMARC1; p=none; fo=0::1", "fo"),
            ("v=DMARC1; p=none; ri=daily", "ri"),
            ("v=DMARC1; p=none; rf=", "rf"),
        ] {
            assert!(
                matches!(kind(text), DmarcErrorKind::BadValue { tag: ref t, .. } if t == tag),
                "{text}: {:?}",
                kind(text)
            );
        }
        assert_eq!(
            kind("v=DMARC1; p=none; p=reject"),
            DmarcErrorKind::DuplicateTag { tag: "p".into() }
        );
        assert_eq!(
            kind("v=DMARC1; p=none; v=DMARC1"),
            DmarcErrorKind::DuplicateTag { tag: "v".into() }
        );
        assert_eq!(
            kind("v=DMARC1; p=none; reject"),
            DmarcErrorKind::NotATag {
                text: "reject".into()
            }
        );
        assert!(matches!(
            kind(&format!(
                "v=DMARC1; p=none; x={}",
                "a".repeat(MAX_RECORD_LEN)
            )),
            DmarcErrorKind::TooLong { .. }
        ));
    }

    #[test]
    fn report_addresses_must_be_uris() {
        let why = |text: &str| match kind(text) {
            DmarcErrorKind::BadUri { why, .. } => why,
            other => panic!("{text}: {other:?}"),
        };
        assert!(why("v=DMARC1; p=none; rua=dmarc@example.com").contains("mailto:"));
        assert!(why("v=DMARC1; p=none; rua=reports").contains("not a URI"));
        assert!(why("v=DMARC1; p=none; rua=mailto:example.com").contains("@domain"));
        assert!(why("v=DMARC1; p=none; rua=mailto:@example.com").contains("local part"));
        assert!(why("v=DMARC1; p=none; rua=mailto:a@bad_domain").contains("not a valid"));
        assert!(why("v=DMARC1; p=none; rua=mailto:a@example.com!10x").contains("size"));
        assert!(why("v=DMARC1; p=none; rua=mailto:a@example.com,").contains("empty"));
        assert!(
            why("v=DMARC1; p=none; ruf=mailto:a@example.com mailto:b@example.com")
                .contains("spaces")
        );
    }

    #[test]
    fn a_missing_policy_is_an_error_even_when_receivers_assume_none() {
        let e = parse_record("v=DMARC1; rua=mailto:d@example.com").unwrap_err();
        assert_eq!(
            e.kind,
            DmarcErrorKind::MissingPolicy {
                treated_as_none: true
            }
        );
        assert_eq!(e.position, "v=DMARC1; rua=mailto:d@example.com".len());
        assert_eq!(
            kind("v=DMARC1; sp=reject"),
            DmarcErrorKind::MissingPolicy {
                treated_as_none: false
            }
        );
    }

    #[test]
    fn organizational_domains_follow_the_public_suffix_list() {
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("A.B.Example.CO.UK."), "example.co.uk");
        assert_eq!(organizational_domain("mail.example.com"), "example.com");
        assert_eq!(organizational_domain("example.com"), "example.com");
        // Unknown TLDs fall back to the implicit "*" rule, as RFC 7489 §3.2 does.
        assert_eq!(organizational_domain("mx1.example.test"), "example.test");
        // A public suffix is its own organizational domain.
        assert_eq!(organizational_domain("co.uk"), "co.uk");
        assert!(needs_authorization("example.com", "reports.example.net"));
        assert!(!needs_authorization(
            "mail.example.com",
            "dmarc.example.com"
        ));
        assert!(!needs_authorization("a.example.co.uk", "b.example.co.uk"));
        assert!(needs_authorization("a.example.co.uk", "other.co.uk"));
    }

    #[test]
    fn lookups_keep_what_receivers_keep() {
        let answer = |r: &[&str]| Lookup::Answer {
            records: r.iter().map(|s| (*s).to_owned()).collect(),
        };
        let l = DmarcLookup::from_answer(
            "Example.COM.",
            answer(&["v=DMARC1; p=reject", "google-site-verification=x"]),
        );
        assert_eq!(l.name, "_dmarc.example.com");
        assert_eq!(l.records, ["v=DMARC1; p=reject"]);
        assert_eq!(l.ignored, ["google-site-verification=x"]);
        assert_eq!(l.record.as_ref().unwrap().policy, DmarcPolicy::Reject);
        assert!(l.error.is_none() && l.found());

        // Two records: no policy applies, nothing parsed.
        let l = DmarcLookup::from_answer(
            "example.com",
            answer(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]),
        );
        assert_eq!(l.records.len(), 2);
        assert!(l.record.is_none() && l.error.is_none() && l.found());

        // Only a misspelt record: receivers ignore it; the error says why.
        let l = DmarcLookup::from_answer("example.com", answer(&["p=reject; v=DMARC1"]));
        assert!(!l.found());
        assert_eq!(l.error.as_ref().unwrap().kind, DmarcErrorKind::NotFirst);

        let l = DmarcLookup::from_answer(
            "example.com",
            Lookup::Failed {
                failure: DnsFailure::ServFail,
                detail: String::new(),
            },
        );
        assert!(!l.found() && l.record.is_none() && l.error.is_none());
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<DmarcLookup>(&json).unwrap(), l);
    }

    #[test]
    fn report_authorization_needs_a_dmarc1_record() {
        let a = |lookup| {
            ReportAuthorization::from_answer("r.example", vec![], "x".into(), lookup).authorized
        };
        assert_eq!(
            a(Lookup::Answer {
                records: vec!["v=DMARC1".into()]
            }),
            Some(true)
        );
        assert_eq!(
            a(Lookup::Answer {
                records: vec!["v=spf1 -all".into()]
            }),
            Some(false)
        );
        assert_eq!(a(Lookup::NxDomain), Some(false));
        assert_eq!(
            a(Lookup::Failed {
                failure: DnsFailure::Timeout,
                detail: String::new()
            }),
            None
        );
    }
}
