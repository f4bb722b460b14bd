//! Sniffing a CSV's layout: its delimiter, whether the first line is a header, which column holds
//! the domains.

/// Column names that hold the domain, best first; each entry is a group of equal rank.
pub(super) const DOMAIN_COLUMNS: &[&[&str]] = &[
    &[
        "domain",
        "domains",
        "domain name",
        "domain_name",
        "domainname",
        "mail domain",
        "mail_domain",
        "fqdn",
    ],
    &[
        "email",
        "e-mail",
        "email address",
        "email_address",
        "e-mail address",
        "mail",
        "address",
        "contact email",
    ],
    &[
        "website", "url", "web", "site", "homepage", "web site", "www",
    ],
    &["host", "hostname", "host name"],
];

/// The domain column if `fields` is a header line, `None` if it is data.
pub(super) fn header_of(fields: &[String]) -> Option<usize> {
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    for group in DOMAIN_COLUMNS {
        if let Some(i) = names.iter().position(|n| group.contains(&n.as_str())) {
            return Some(i);
        }
    }
    if names.iter().all(|n| !n.contains('.') && !n.contains('@')) {
        return Some(0);
    }
    None
}

pub(super) fn detect_delimiter(line: &str) -> u8 {
    let count = |c: char| line.chars().filter(|&x| x == c).count();
    let (commas, semis, tabs) = (count(','), count(';'), count('\t'));
    if commas == 0 && (semis > 0 || tabs > 0) {
        if semis >= tabs { b';' } else { b'\t' }
    } else {
        b','
    }
}
