//! SMTP TLS Reporting (RFC 8460): the TXT record at `_smtp._tls.<domain>` that tells sending
//! servers where to report TLS failures (with MTA-STS or DANE, the only way a domain learns
//! that senders could not deliver securely). A pure parser and the lookup.
//!
//! `tlsrpt-record = %s"v=TLSRPTv1" 1*(field-delim tlsrpt-field) [field-delim]` (§3): the
//! version first and case-sensitive, then `rua=` (required, once) with one or more `mailto:`
//! or `https:` URIs separated by commas, and optional extensions `name=value`. Senders keep only
//! the records that start with `v=TLSRPTv1`; unless exactly one is left and it is valid, they
//! assume the domain does not use TLS-RPT.

use serde::{Deserialize, Serialize};

use super::AuthContext;
use crate::domain::DomainName;
use crate::facts::Lookup;

/// The version every record starts with (case-sensitive).
pub const VERSION: &str = "v=TLSRPTv1";

/// The longest record we parse, in bytes.
pub const MAX_RECORD_LEN: usize = 8 * 1024;

/// A parsed TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRptRecord {
    /// The record as published.
    pub text: String,
    /// The report URIs of `rua=`, as written.
    pub rua: Vec<String>,
    /// Extension fields (`name=value`), as written: senders ignore those they do not know.
    pub extensions: Vec<String>,
}

/// Why a TXT record is not a valid TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsRptErrorKind {
    /// Does not start with `v=TLSRPTv1` (senders ignore the record).
    #[error("a TLS-RPT record must start with \"v=TLSRPTv1\" (exactly so, case included)")]
    NotFirst,
    /// Longer than [`MAX_RECORD_LEN`].
    #[error("record of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// An item between semicolons that is not `name=value`, or a name outside the grammar.
    #[error("{text:?} is not a field (name=value)")]
    NotAField {
        /// The item as written.
        text: String,
    },
    /// An extension value with a space or a character the grammar does not allow.
    #[error("the value of {name:?} has characters a field value may not hold")]
    BadValue {
        /// The field name.
        name: String,
    },
    /// `rua=` more than once.
    #[error(
        "\"rua=\" appears more than once (write one rua= with the addresses separated by commas)"
    )]
    DuplicateRua,
    /// No `rua=` field.
    #[error("there is no \"rua=\" field: senders have nowhere to send reports")]
    MissingRua,
    /// A `rua` entry that is not a `mailto:` or `https:` URI.
    #[error("{uri:?} is not a report address: {why}")]
    BadUri {
        /// The entry as written.
        uri: String,
        /// What is wrong.
        why: String,
    },
}

/// A syntax error with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "{kind} (at byte {position}{})",
    if field.is_empty() { String::new() } else { format!(", {field:?}") }
)]
pub struct TlsRptParseError {
    /// What is wrong.
    pub kind: TlsRptErrorKind,
    /// The offending field as written (empty for whole-record problems).
    pub field: String,
    /// Byte offset of the field in the record (the record's length for a missing field).
    pub position: usize,
}

const fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Whether a TXT string is a TLS-RPT record as senders select them: it starts with
/// `v=TLSRPTv1`, followed by `;`, white space or the end.
pub fn is_tlsrpt_record(text: &str) -> bool {
    text.trim_start_matches(is_wsp)
        .strip_prefix(VERSION)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// Parses one TLS-RPT record (the TXT strings already joined). Pure.
///
/// # Errors
/// The first problem, with the field and its byte offset.
pub fn parse_record(text: &str) -> Result<TlsRptRecord, TlsRptParseError> {
    let whole = |kind, position| TlsRptParseError {
        kind,
        field: String::new(),
        position,
    };
    if text.len() > MAX_RECORD_LEN {
        return Err(whole(
            TlsRptErrorKind::TooLong {
                len: text.len(),
                max: MAX_RECORD_LEN,
            },
            0,
        ));
    }
    if !is_tlsrpt_record(text) {
        return Err(whole(TlsRptErrorKind::NotFirst, 0));
    }
    let mut record = TlsRptRecord {
        text: text.to_owned(),
        rua: Vec::new(),
        extensions: Vec::new(),
    };
    let mut seen_rua = false;
    let mut start = 0;
    for (i, part) in text.split(';').enumerate() {
        let position = start + part.len() - part.trim_start_matches(is_wsp).len();
        start += part.len() + 1;
        let item = part.trim_matches(is_wsp);
        let error = |kind| TlsRptParseError {
            kind,
            field: item.to_owned(),
            position,
        };
        if i == 0 {
            // `v=TLSRPTv1 rua=…`: the version must be followed by `;`.
            if item != VERSION {
                return Err(error(TlsRptErrorKind::NotAField {
                    text: item.to_owned(),
                }));
            }
            continue;
        }
        if item.is_empty() {
            continue;
        }
        let Some((name, value)) = item.split_once('=').filter(|(n, _)| is_field_name(n)) else {
            return Err(error(TlsRptErrorKind::NotAField {
                text: item.to_owned(),
            }));
        };
        if name == "rua" {
            if seen_rua {
                return Err(error(TlsRptErrorKind::DuplicateRua));
            }
            seen_rua = true;
            for entry in value.split(',') {
                let entry = entry.trim_matches(is_wsp);
                check_uri(entry).map_err(|why| {
                    error(TlsRptErrorKind::BadUri {
                        uri: entry.to_owned(),
                        why,
                    })
                })?;
                record.rua.push(entry.to_owned());
            }
        } else {
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=')
            {
                return Err(error(TlsRptErrorKind::BadValue {
                    name: name.to_owned(),
                }));
            }
            record.extensions.push(item.to_owned());
        }
    }
    if seen_rua {
        Ok(record)
    } else {
        Err(whole(TlsRptErrorKind::MissingRua, text.len()))
    }
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
fn is_field_name(name: &str) -> bool {
    name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A `mailto:` URI with an address at a valid domain, or an `https:` URI with a host.
fn check_uri(entry: &str) -> Result<(), String> {
    if entry.is_empty() {
        return Err("empty entry".to_owned());
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters".to_owned());
    }
    let Some((scheme, rest)) = entry.split_once(':') else {
        return Err(if entry.contains('@') {
            "it lacks the \"mailto:\" in front of the address".to_owned()
        } else {
            "not a URI (write mailto:address or https://host/path)".to_owned()
        });
    };
    if scheme.eq_ignore_ascii_case("mailto") {
        let address = rest.split('?').next().unwrap_or_default();
        match address.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.contains(['/', ':'])
                    && DomainName::parse(domain).is_ok() =>
            {
                Ok(())
            }
            _ => Err("the mailto: address is not local@domain".to_owned()),
        }
    } else if scheme.eq_ignore_ascii_case("https") {
        let host = rest
            .strip_prefix("//")
            .map(|r| r.split(['/', '?', '#']).next().unwrap_or_default())
            .unwrap_or_default();
        if host.is_empty() {
            Err("the https: URI has no host (write https://host/path)".to_owned())
        } else {
            Ok(())
        }
    } else {
        Err(format!(
            "the scheme {scheme:?} is not one senders use (only mailto: and https:)"
        ))
    }
}

/// What the TLS-RPT lookup found for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsRptFacts {
    /// The name asked: `_smtp._tls.<domain>`.
    pub name: String,
    /// The TXT lookup; `None` when it was not made.
    pub lookup: Option<Lookup<String>>,
    /// The records that start with `v=TLSRPTv1`: one when all is well.
    pub records: Vec<String>,
    /// The other TXT records at the name: senders discard them.
    pub ignored: Vec<String>,
    /// The parsed record, when there is exactly one and it parses.
    pub record: Option<TlsRptRecord>,
    /// Why the record does not parse: the one kept record, or, when none was kept, the first
    /// ignored one that mentions TLS-RPT.
    pub error: Option<TlsRptParseError>,
}

impl TlsRptFacts {
    /// Sorts and parses the answer of the TXT lookup at `_smtp._tls.<domain>`. Pure.
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
        } = super::keep_records(&lookup, is_tlsrpt_record, "tlsrpt", parse_record);
        Self {
            name: format!("_smtp._tls.{domain}"),
            lookup: Some(lookup),
            records,
            ignored,
            record,
            error,
        }
    }
}

/// Looks up and parses the domain's TLS-RPT record.
pub async fn collect(ctx: &AuthContext<'_>) -> TlsRptFacts {
    let domain = ctx.domain.strip_suffix('.').unwrap_or(ctx.domain);
    let lookup = ctx.dns.txt(&format!("_smtp._tls.{domain}")).await;
    TlsRptFacts::from_answer(domain, lookup)
}

#[cfg(test)]
mod tests;
