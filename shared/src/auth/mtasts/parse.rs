//! The pure MTA-STS parsers: the `_mta-sts` TXT record (RFC 8461 §3.1), the policy file
//! (§3.2) and its `mx:` patterns, with the matching of a host against a pattern (§4.1).

use super::{MAX_AGE_LIMIT, StsMode, StsPolicy, StsRecord};

/// The longest policy `id` in the TXT record (RFC 8461 §3.1).
const MAX_ID_LEN: usize = 32;

/// Whether a TXT record is an MTA-STS record, i.e. starts with `v=STSv1` (followed by `;`,
/// white space or nothing). The others are ignored.
pub fn is_sts_record(txt: &str) -> bool {
    txt.strip_prefix("v=STSv1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// Parses an MTA-STS TXT record (RFC 8461 §3.1): `v=STSv1; id=<1–32 letters/digits>` plus
/// optional `key=value` extensions, fields separated by `;` with optional white space, an
/// optional trailing `;`. Of repeated fields the first counts.
pub fn parse_record(txt: &str) -> Result<StsRecord, String> {
    let rest = txt
        .strip_prefix("v=STSv1")
        .ok_or_else(|| "the record does not start with v=STSv1".to_owned())?;
    let mut fields = rest.split(';');
    if !fields
        .next()
        .unwrap_or_default()
        .trim_matches(is_wsp)
        .is_empty()
    {
        return Err("v=STSv1 must be followed by ';'".to_owned());
    }
    let fields: Vec<&str> = fields.map(|f| f.trim_matches(is_wsp)).collect();
    let mut id = None;
    let mut extensions = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() {
            // Only the trailing `;` may leave an empty field.
            if i + 1 == fields.len() {
                continue;
            }
            return Err("empty field between ';' separators".to_owned());
        }
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("field {field:?} is not key=value"))?;
        if key == "id" {
            if value.is_empty()
                || value.len() > MAX_ID_LEN
                || !value.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "id={value:?} must be 1 to {MAX_ID_LEN} letters and digits"
                ));
            }
            id.get_or_insert_with(|| value.to_owned());
        } else if key == "v" {
            return Err("v= appears more than once".to_owned());
        } else {
            if !is_ext_name(key) {
                return Err(format!("{key:?} is not a valid field name"));
            }
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
            {
                return Err(format!("the value of {key} is not valid: {value:?}"));
            }
            extensions.push((key.to_owned(), value.to_owned()));
        }
    }
    let id = id.ok_or_else(|| "the id= field is missing".to_owned())?;
    Ok(StsRecord { id, extensions })
}

const fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`
fn is_ext_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Parses an MTA-STS policy (RFC 8461 §3.2). Lines end in CRLF or LF; each is `key: value`
/// (white space allowed after the colon). `version: STSv1`, `mode` and `max_age` are required,
/// and at least one `mx` unless the mode is `none`. Unknown keys are ignored, empty lines
/// tolerated, and of a repeated key other than `mx` the first occurrence counts.
pub fn parse_policy(text: &str) -> Result<StsPolicy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    let mut extensions = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let at = |what: String| format!("line {}: {what}", n + 1);
        if line.trim_matches(is_wsp).is_empty() {
            continue;
        }
        if line.contains('\r') {
            return Err(at("a bare CR inside the line".to_owned()));
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| at(format!("{line:?} is not key: value")))?;
        let value = value.trim_matches(is_wsp);
        if !is_ext_name(key) {
            return Err(at(format!("{key:?} is not a valid key")));
        }
        match key {
            "version" => {
                if version.is_none() {
                    if value != "STSv1" {
                        return Err(at(format!("version {value:?} is not STSv1")));
                    }
                    version = Some(());
                }
            }
            "mode" => {
                if mode.is_none() {
                    mode = Some(match value {
                        "enforce" => StsMode::Enforce,
                        "testing" => StsMode::Testing,
                        "none" => StsMode::None,
                        other => {
                            return Err(at(format!(
                                "mode {other:?} is not enforce, testing or none"
                            )));
                        }
                    });
                }
            }
            "max_age" => {
                if max_age.is_none() {
                    let age = parse_max_age(value).map_err(at)?;
                    max_age = Some(age);
                }
            }
            "mx" => {
                check_pattern(value).map_err(at)?;
                mx.push(value.to_owned());
            }
            _ => {
                if value.is_empty() || value.chars().any(|c| c.is_ascii_control() && c != '\t') {
                    return Err(at(format!("the value of {key} is not valid")));
                }
                extensions.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    if version.is_none() {
        return Err("the version: STSv1 line is missing".to_owned());
    }
    let mode = mode.ok_or_else(|| "the mode: line is missing".to_owned())?;
    let max_age = max_age.ok_or_else(|| "the max_age: line is missing".to_owned())?;
    if mx.is_empty() && mode != StsMode::None {
        return Err(format!(
            "no mx: line: a policy in {mode} mode must list its MX hosts"
        ));
    }
    Ok(StsPolicy {
        mode,
        mx,
        max_age,
        extensions,
    })
}

/// `max_age`: 1 to 10 digits, at most [`MAX_AGE_LIMIT`].
fn parse_max_age(value: &str) -> Result<u64, String> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("max_age {value:?} is not a number of seconds"));
    }
    let age: u64 = value
        .parse()
        .map_err(|_| format!("max_age {value:?} is not a number of seconds"))?;
    if age > MAX_AGE_LIMIT {
        return Err(format!(
            "max_age {age} is above the maximum of {MAX_AGE_LIMIT} seconds (one year)"
        ));
    }
    Ok(age)
}

/// An `mx:` pattern: a host name, optionally preceded by `*.` (RFC 8461 §3.2).
fn check_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    let bad = || {
        format!(
            "mx pattern {pattern:?} is not a host name or *. followed by one (the wildcard may \
             only be the whole leftmost label)"
        )
    };
    if name.is_empty() || name.len() > 253 || name.ends_with('.') {
        return Err(bad());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// Whether an MX host matches a policy pattern (RFC 8461 §4.1): equal ignoring case (and a
/// trailing dot on the host), or `*.rest` where the host is exactly one label followed by
/// `.rest`: `*.example.com` matches `mx1.example.com` but neither `a.b.example.com` nor
/// `example.com`.
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(first, tail)| {
            !first.is_empty() && first != "*" && tail.eq_ignore_ascii_case(rest)
        }),
        None => !pattern.is_empty() && pattern.eq_ignore_ascii_case(host),
    }
}
