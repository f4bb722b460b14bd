//! Input normalisation: what a user types (a domain, an IDN, an e-mail address, a URL) becomes a
//! [`DomainName`], or a clear [`InputError`]. Pure, no I/O.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Why an input is not a domain we can check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing was given.
    #[error("no domain given")]
    Empty,
    /// An IP address was given where a domain is needed.
    #[error("{0} is an IP address, not a domain: give the domain part of the mail address")]
    IpAddress(String),
    /// The text cannot be a domain name.
    #[error("{input:?} is not a domain name: {reason}")]
    Invalid {
        /// What was given (bounded and cleaned for display).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl InputError {
    fn invalid(input: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            input: display_input(input),
            reason: reason.into(),
        }
    }
}

/// A validated, normalised domain name: lower case, no trailing dot, IDN labels in punycode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Parses what a user typed: `example.com`, `Example.COM.`, `bücher.example`,
    /// `user@example.com`, `mailto:user@example.com`, `https://www.example.com/path`.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let host = extract_host(input)?;
        normalise(input, host).map(Self)
    }

    /// The ASCII (punycode) form, as queried in DNS.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Unicode form for display (`xn--bcher-kva.example` → `bücher.example`).
    pub fn to_unicode(&self) -> String {
        let (s, res) = idna::domain_to_unicode(&self.0);
        if res.is_ok() { s } else { self.0.clone() }
    }

    /// The fully qualified form with a trailing dot, for DNS queries.
    pub fn fqdn(&self) -> String {
        format!("{}.", self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DomainName {
    type Error = InputError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DomainName> for String {
    fn from(d: DomainName) -> Self {
        d.0
    }
}

impl std::str::FromStr for DomainName {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Bounded, printable rendering of untrusted input for error messages: [`crate::sanitize::clean`]
/// and at most 80 characters before the ellipsis.
fn display_input(input: &str) -> String {
    crate::sanitize::truncate(&crate::sanitize::clean(input), 81).0
}

/// Reduces a URL or an e-mail address to its host part.
fn extract_host(input: &str) -> Result<&str, InputError> {
    let mut s = input.trim();
    if s.is_empty() {
        return Err(InputError::Empty);
    }
    if s.len() > 1024 {
        return Err(InputError::invalid(input, "far too long"));
    }
    s = s.trim_start_matches('<').trim_end_matches('>');
    if let Some(rest) = s.strip_prefix("mailto:") {
        s = rest;
    }
    if let Some(pos) = s.find("://") {
        let after = &s[pos + 3..];
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let mut authority = &after[..end];
        if let Some(at) = authority.rfind('@') {
            authority = &authority[at + 1..];
        }
        if authority.starts_with('[') {
            return Err(InputError::IpAddress(authority.to_owned()));
        }
        if let Some(colon) = authority.rfind(':')
            && authority[colon + 1..].chars().all(|c| c.is_ascii_digit())
        {
            authority = &authority[..colon];
        }
        s = authority;
    } else if let Some(at) = s.rfind('@') {
        s = &s[at + 1..];
    }
    let s = s.trim();
    if s.is_empty() {
        return Err(InputError::invalid(input, "no domain part"));
    }
    Ok(s)
}

fn normalise(input: &str, host: &str) -> Result<String, InputError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Err(InputError::IpAddress(bare.to_owned()));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InputError::invalid(
            input,
            "contains spaces or control characters",
        ));
    }
    let ascii = idna::domain_to_ascii(host)
        .map_err(|_| InputError::invalid(input, "not a valid (internationalised) domain name"))?;
    let ascii = ascii.to_ascii_lowercase();
    if ascii.len() > 253 {
        return Err(InputError::invalid(input, "longer than 253 characters"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(InputError::invalid(
            input,
            "a mail domain needs at least two labels, like example.com",
        ));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(InputError::invalid(
                input,
                "has an empty label (two dots in a row)",
            ));
        }
        if label.len() > 63 {
            return Err(InputError::invalid(
                input,
                "has a label longer than 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InputError::invalid(
                input,
                "may only contain letters, digits, hyphens and dots",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(InputError::invalid(
                input,
                "a label starts or ends with a hyphen",
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(InputError::invalid(input, "the last label is all digits"));
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        DomainName::parse(s).unwrap().to_string()
    }

    #[test]
    fn plain_and_normalised() {
        assert_eq!(ok("example.com"), "example.com");
        assert_eq!(ok("  Example.COM. "), "example.com");
        assert_eq!(ok("mail.example.co.uk"), "mail.example.co.uk");
    }

    #[test]
    fn emails_and_urls_reduce_to_domain() {
        assert_eq!(ok("User@Example.com"), "example.com");
        assert_eq!(ok("<user@example.com>"), "example.com");
        assert_eq!(ok("mailto:user@example.com"), "example.com");
        assert_eq!(ok("https://www.example.com/path?q=1"), "www.example.com");
        assert_eq!(ok("http://user:pw@example.com:8080/"), "example.com");
    }

    #[test]
    fn idn_becomes_punycode() {
        let d = DomainName::parse("Bücher.example").unwrap();
        assert_eq!(d.as_str(), "xn--bcher-kva.example");
        assert_eq!(d.to_unicode(), "bücher.example");
        assert_eq!(d.fqdn(), "xn--bcher-kva.example.");
    }

    #[test]
    fn garbage_is_rejected_clearly() {
        assert_eq!(DomainName::parse("  "), Err(InputError::Empty));
        assert!(matches!(
            DomainName::parse("192.0.2.1"),
            Err(InputError::IpAddress(_))
        ));
        assert!(matches!(
            DomainName::parse("http://[2001:db8::1]/"),
            Err(InputError::IpAddress(_))
        ));
        for bad in [
            "localhost",
            "exa mple.com",
            "example..com",
            "-bad.com",
            "under_score.com",
            "a.123",
            "x@",
            "bad\u{7}.com",
        ] {
            let err = DomainName::parse(bad).unwrap_err();
            assert!(matches!(err, InputError::Invalid { .. }), "{bad}: {err}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(DomainName::parse(&long).is_err());
    }

    #[test]
    fn error_text_is_bounded() {
        let huge = "x".repeat(500);
        let msg = DomainName::parse(&huge).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }
}
