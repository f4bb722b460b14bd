//! What the greeting and the EHLO reply say: the extensions offered and the greeting's host
//! name. Pure functions of recorded replies.

use std::net::IpAddr;

use crate::facts::Reply;

/// Whether an extension keyword is in the list.
pub(crate) fn has_ext(extensions: &[String], keyword: &str) -> bool {
    extensions.iter().any(|e| {
        e.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// The EHLO keywords (upper case) with their parameters, from the lines after the first.
pub(crate) fn extensions(reply: &Reply) -> Vec<String> {
    reply
        .lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let text = line.get(4..)?.trim();
            let mut parts = text.splitn(2, char::is_whitespace);
            let keyword = parts.next().filter(|k| !k.is_empty())?.to_ascii_uppercase();
            Some(match parts.next().map(str::trim) {
                Some(params) if !params.is_empty() => format!("{keyword} {params}"),
                _ => keyword,
            })
        })
        .collect()
}

/// The first token after the greeting's code, when it looks like a host name (dotted, DNS
/// characters, not an IP address). Lower case, no trailing dot.
pub(crate) fn greeting_hostname(reply: &Reply) -> Option<String> {
    let first = reply.lines.first()?;
    let token = first.get(4..)?.split_whitespace().next()?;
    let name = token.trim_end_matches('.').to_ascii_lowercase();
    if name.len() > 253 || !name.contains('.') || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let labels_ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let tld_ok = name
        .rsplit('.')
        .next()
        .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    (labels_ok && tld_ok).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: lines[0][..3].parse().unwrap(),
            enhanced: None,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn greeting_hostnames() {
        let name = |l: &str| greeting_hostname(&reply(&[l]));
        assert_eq!(
            name("220 MX.Example.org. ESMTP Postfix").as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(
            name("220-mx1.example.net ready"),
            Some("mx1.example.net".to_owned())
        );
        assert_eq!(name("220 ESMTP Postfix"), None);
        assert_eq!(name("220 192.0.2.1 ESMTP"), None);
        assert_eq!(name("220 [192.0.2.1]"), None);
        assert_eq!(name("220 ****************"), None);
        assert_eq!(name("220"), None);
        assert_eq!(name("220 localhost"), None);
    }

    #[test]
    fn ehlo_extensions() {
        let r = reply(&[
            "250-mx.example.org Hello",
            "250-pipelining",
            "250-SIZE 10240000",
            "250-auth PLAIN LOGIN",
            "250 STARTTLS",
        ]);
        let ext = extensions(&r);
        assert_eq!(
            ext,
            vec![
                "PIPELINING",
                "SIZE 10240000",
                "AUTH PLAIN LOGIN",
                "STARTTLS"
            ]
        );
        assert!(has_ext(&ext, "starttls"));
        assert!(has_ext(&ext, "SIZE"));
        assert!(!has_ext(&ext, "CHUNKING"));
    }
}
