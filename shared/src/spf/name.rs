//! Domain names as SPF sees them: the §4.3 initial-processing check, the §7.3 shaping of an
//! expanded target name (trailing dot, left truncation to 253 octets), and reverse names.

use std::net::IpAddr;

use super::macros::dotted_ip;

/// Why a name cannot be queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// Nothing left.
    #[error("empty name")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label of more than 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// More than 253 octets.
    #[error("name longer than 253 octets")]
    TooLong,
    /// One label only: not a domain name SPF checks.
    #[error("not a multi-label domain name")]
    SingleLabel,
    /// Control or non-ASCII characters, an address literal, or (for `<domain>`) a space.
    #[error("not a domain name (address literal, control or non-ASCII character)")]
    NotAName,
}

/// §4.3: whether `<domain>` can be checked at all. `Err` means the result is `none`.
///
/// # Errors
/// The first problem found.
pub fn check_domain(domain: &str) -> Result<(), NameProblem> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.starts_with('[') || !name.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(NameProblem::NotAName);
    }
    check_labels(name)?;
    if !name.contains('.') {
        return Err(NameProblem::SingleLabel);
    }
    Ok(())
}

fn check_labels(name: &str) -> Result<(), NameProblem> {
    if name.len() > 253 {
        return Err(NameProblem::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameProblem::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameProblem::LabelTooLong);
        }
    }
    Ok(())
}

/// §7.3: the name to query for an expanded domain-spec: one trailing dot dropped, leftmost labels
/// removed until it fits in 253 octets, then checked (a single label is allowed: it is queried
/// and simply does not match).
///
/// # Errors
/// A name that cannot be queried: the mechanism does not match (or `include`/`redirect` see no
/// record).
pub fn target_name(expanded: &str) -> Result<String, NameProblem> {
    let mut name = expanded.strip_suffix('.').unwrap_or(expanded);
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => return Err(NameProblem::TooLong),
        }
    }
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    // Printable ASCII; a space can come from `%_` and is queried as is.
    if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(NameProblem::NotAName);
    }
    check_labels(name)?;
    Ok(name.to_owned())
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` or 32 nibbles `.ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    let dotted = dotted_ip(ip);
    let mut parts: Vec<&str> = dotted.split('.').collect();
    parts.reverse();
    let suffix = match ip {
        IpAddr::V4(_) => "in-addr.arpa",
        IpAddr::V6(_) => "ip6.arpa",
    };
    format!("{}.{suffix}", parts.join("."))
}

/// Whether `name` is `parent` or below it (case-insensitive, trailing dots ignored).
pub fn is_same_or_subdomain(name: &str, parent: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let parent = parent.strip_suffix('.').unwrap_or(parent);
    if name.len() == parent.len() {
        return name.eq_ignore_ascii_case(parent);
    }
    name.len() > parent.len()
        && name.is_char_boundary(name.len() - parent.len())
        && name[name.len() - parent.len()..].eq_ignore_ascii_case(parent)
        && name.as_bytes()[name.len() - parent.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_processing() {
        assert_eq!(check_domain("example.com"), Ok(()));
        assert_eq!(check_domain("example.com."), Ok(()));
        assert_eq!(
            check_domain("A...example.com"),
            Err(NameProblem::EmptyLabel)
        );
        let long = format!("{}.example.com", "a".repeat(64));
        assert_eq!(check_domain(&long), Err(NameProblem::LabelTooLong));
        assert_eq!(check_domain(&long[1..]), Ok(()));
        assert_eq!(check_domain("A2345678"), Err(NameProblem::SingleLabel));
        assert_eq!(check_domain("[1.2.3.5]"), Err(NameProblem::NotAName));
        assert_eq!(check_domain("a b.example"), Err(NameProblem::NotAName));
        assert_eq!(check_domain(""), Err(NameProblem::Empty));
        assert_eq!(check_domain(&"a.".repeat(200)), Err(NameProblem::TooLong));
    }

    #[test]
    fn targets_are_truncated_from_the_left() {
        let long = format!(
            "foobar.{}.example.com",
            ["somewhat.long.exp.example.com"; 8].join(".")
        );
        let t = target_name(&long).unwrap();
        assert!(t.len() <= 253);
        assert!(t.starts_with("somewhat."));
        assert_eq!(
            target_name("mail.example.com."),
            Ok("mail.example.com".to_owned())
        );
        assert_eq!(
            target_name("JUMPIN%27%20JUPITER"),
            Ok("JUMPIN%27%20JUPITER".to_owned())
        );
        assert_eq!(
            target_name("mail.example...com"),
            Err(NameProblem::EmptyLabel)
        );
        assert_eq!(
            target_name(&format!("{}.bar", "%25".repeat(22))),
            Err(NameProblem::LabelTooLong)
        );
        assert_eq!(target_name(&"a".repeat(300)), Err(NameProblem::TooLong));
        assert_eq!(target_name("a\u{e9}.example"), Err(NameProblem::NotAName));
        assert_eq!(target_name("."), Err(NameProblem::Empty));
    }

    #[test]
    fn reverse_names_and_suffixes() {
        assert_eq!(
            reverse_name("192.0.2.3".parse().unwrap()),
            "3.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::cb01".parse().unwrap()),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert!(is_same_or_subdomain("mail.Example.com", "example.COM"));
        assert!(is_same_or_subdomain("example.com.", "example.com"));
        assert!(!is_same_or_subdomain("badexample.com", "example.com"));
        assert!(!is_same_or_subdomain("com", "example.com"));
    }
}
