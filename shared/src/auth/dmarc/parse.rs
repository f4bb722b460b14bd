//! The pure DMARC record parser (RFC 7489 §6.3, §6.4): tags between semicolons, each value
//! checked against its grammar, the first problem reported with its tag and byte offset.

use super::{
    Alignment, DmarcErrorKind, DmarcParseError, DmarcPolicy, DmarcRecord, MAX_RECORD_LEN,
    ReportUri, VERSION,
};
use crate::domain::DomainName;

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
