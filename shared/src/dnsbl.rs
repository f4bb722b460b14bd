//! The blocklist catalogue and the pure classification of blocklist answers (RFC 5782 and each
//! list's documented return and error codes). No I/O: the queries live in `probe::dnsbl`.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::facts::{DnsblCheck, Lookup, ZoneHealth};

/// Zones queried when none are configured: widely used, alive, IP-based lists. Each is
/// re-validated per run by its RFC 5782 test points. (SORBS, AHBL, NJABL, SpamCannibal are dead
/// and must never be here.)
pub const DEFAULT_ZONES: &[&str] = &[
    "zen.spamhaus.org",
    "b.barracudacentral.org",
    "bl.spamcop.net",
    "psbl.surriel.com",
    "bl.mailspike.net",
];

/// Zones known to be dead (some later wildcarded and "listed" the whole Internet).
pub const DEAD_ZONES: &[&str] = &[
    "sorbs.net",
    "ahbl.org",
    "spamcannibal.org",
    "njabl.org",
    "dsbl.org",
    "rfc-ignorant.org",
    "abuseat.org",
];

/// Whether a zone is on the dead list (the zone or a parent of it).
pub fn is_dead(zone: &str) -> bool {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    DEAD_ZONES
        .iter()
        .any(|d| zone == *d || zone.ends_with(&format!(".{d}")))
}

/// What kind of listing a return code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingKind {
    /// The IP sent spam, is exploited or is part of a spam operation.
    Abuse,
    /// The IP (range) should not send direct-to-MX (e.g. Spamhaus PBL): not an accusation.
    Policy,
}

/// What one returned code means on one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMeaning {
    /// A listing.
    Listed(ListingKind, &'static str),
    /// The list refuses us or reports an error: not a listing.
    Error(&'static str),
}

/// What we know about a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneInfo {
    /// The zone apex.
    pub zone: &'static str,
    /// Answers IPv6 queries.
    pub ipv6: bool,
    /// Where a listed operator can look up and request removal.
    pub delist: &'static str,
    meanings: &'static [(u8, u8, u8, CodeMeaning)],
    /// The policy codes that say "this address must not send mail directly to receivers'
    /// MX hosts" (Spamhaus PBL: an end-user or dynamic range).
    direct_to_mx: &'static [(u8, u8, u8)],
}

/// Spamhaus's PBL codes: 127.0.0.10 (maintained by the ISP) and 127.0.0.11 (by Spamhaus).
const PBL: &[(u8, u8, u8)] = &[(0, 0, 10), (0, 0, 11)];

const SPAMHAUS: &[(u8, u8, u8, CodeMeaning)] = &[
    (
        0,
        0,
        2,
        CodeMeaning::Listed(ListingKind::Abuse, "SBL: spam source or operation"),
    ),
    (
        0,
        0,
        3,
        CodeMeaning::Listed(ListingKind::Abuse, "CSS: snowshoe spam"),
    ),
    (
        0,
        0,
        4,
        CodeMeaning::Listed(ListingKind::Abuse, "XBL: exploited or infected host"),
    ),
    (
        0,
        0,
        9,
        CodeMeaning::Listed(ListingKind::Abuse, "DROP: hijacked or criminal network"),
    ),
    (
        0,
        0,
        10,
        CodeMeaning::Listed(
            ListingKind::Policy,
            "PBL (ISP): should not send mail directly",
        ),
    ),
    (
        0,
        0,
        11,
        CodeMeaning::Listed(
            ListingKind::Policy,
            "PBL (Spamhaus): should not send mail directly",
        ),
    ),
    (
        0,
        0,
        30,
        CodeMeaning::Listed(ListingKind::Policy, "BCL: botnet controller list"),
    ),
    (
        255,
        255,
        252,
        CodeMeaning::Error("typo in the DNSBL zone name"),
    ),
    (
        255,
        255,
        254,
        CodeMeaning::Error("query via a public/open resolver: Spamhaus refuses it"),
    ),
    (
        255,
        255,
        255,
        CodeMeaning::Error("excessive number of queries"),
    ),
];

const SINGLE: &[(u8, u8, u8, CodeMeaning)] =
    &[(0, 0, 2, CodeMeaning::Listed(ListingKind::Abuse, "listed"))];

const MAILSPIKE: &[(u8, u8, u8, CodeMeaning)] = &[
    (
        0,
        0,
        2,
        CodeMeaning::Listed(ListingKind::Abuse, "part of a distributed spam wave"),
    ),
    (
        0,
        0,
        10,
        CodeMeaning::Listed(ListingKind::Abuse, "worst possible reputation (L5)"),
    ),
    (
        0,
        0,
        11,
        CodeMeaning::Listed(ListingKind::Abuse, "very bad reputation (L4)"),
    ),
    (
        0,
        0,
        12,
        CodeMeaning::Listed(ListingKind::Abuse, "bad reputation (L3)"),
    ),
];

/// The lists we know by name.
pub const CATALOG: &[ZoneInfo] = &[
    ZoneInfo {
        zone: "zen.spamhaus.org",
        ipv6: true,
        delist: "https://check.spamhaus.org/",
        meanings: SPAMHAUS,
        direct_to_mx: PBL,
    },
    ZoneInfo {
        zone: "sbl.spamhaus.org",
        ipv6: true,
        delist: "https://check.spamhaus.org/",
        meanings: SPAMHAUS,
        direct_to_mx: PBL,
    },
    ZoneInfo {
        zone: "xbl.spamhaus.org",
        ipv6: true,
        delist: "https://check.spamhaus.org/",
        meanings: SPAMHAUS,
        direct_to_mx: PBL,
    },
    ZoneInfo {
        zone: "pbl.spamhaus.org",
        ipv6: true,
        delist: "https://check.spamhaus.org/",
        meanings: SPAMHAUS,
        direct_to_mx: PBL,
    },
    ZoneInfo {
        zone: "b.barracudacentral.org",
        ipv6: false,
        delist: "https://www.barracudacentral.org/rbl/removal-request",
        meanings: SINGLE,
        direct_to_mx: &[],
    },
    ZoneInfo {
        zone: "bl.spamcop.net",
        ipv6: false,
        delist: "https://www.spamcop.net/bl.shtml (listings expire 24 h after the last report)",
        meanings: SINGLE,
        direct_to_mx: &[],
    },
    ZoneInfo {
        zone: "psbl.surriel.com",
        ipv6: false,
        delist: "https://psbl.org/remove",
        meanings: SINGLE,
        direct_to_mx: &[],
    },
    ZoneInfo {
        zone: "bl.mailspike.net",
        ipv6: false,
        delist: "https://mailspike.io/ (self-service)",
        meanings: MAILSPIKE,
        direct_to_mx: &[],
    },
    ZoneInfo {
        zone: "dnsbl-1.uceprotect.net",
        ipv6: false,
        delist: "https://www.uceprotect.net/en/rblcheck.php (expires about a week after the last hit)",
        meanings: SINGLE,
        direct_to_mx: &[],
    },
];

/// The catalogue entry of a zone, if we know it.
pub fn zone_info(zone: &str) -> Option<&'static ZoneInfo> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    CATALOG.iter().find(|z| z.zone == zone)
}

/// Where the operator of an address listed on `zone` looks it up and asks for removal: the
/// catalogue's page, or the zone's own lookup page for a list we do not know.
pub fn delist_hint(zone: &str) -> String {
    zone_info(zone).map_or_else(
        || format!("the {zone} operator's lookup page"),
        |z| z.delist.to_owned(),
    )
}

/// Whether `code` on `zone` is a policy listing that forbids sending directly to receivers'
/// MX hosts (Spamhaus PBL): harmless for a server that only relays through its provider's
/// smarthost, fatal for one that delivers itself.
pub fn forbids_direct_to_mx(zone: &str, code: Ipv4Addr) -> bool {
    let o = code.octets();
    o[0] == 127 && zone_info(zone).is_some_and(|z| z.direct_to_mx.contains(&(o[1], o[2], o[3])))
}

/// One listing of a sending address, classified for what it means to the mail it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingListing {
    /// The zone.
    pub zone: String,
    /// The name queried.
    pub query: String,
    /// Abuse (worst of the codes) or policy.
    pub kind: ListingKind,
    /// A policy code that forbids direct-to-MX sending (Spamhaus PBL) is among the codes.
    pub direct_to_mx: bool,
    /// The returned codes.
    pub codes: Vec<Ipv4Addr>,
    /// What they mean.
    pub meanings: Vec<String>,
    /// The list's TXT explanation, if any.
    pub txt: Vec<String>,
    /// Where to look it up and ask for removal.
    pub delist: String,
}

impl SendingListing {
    /// Whether receivers that use the list refuse mail this address sends directly: an abuse
    /// listing, or a policy listing that forbids direct-to-MX sending.
    pub const fn blocks_sending(&self) -> bool {
        matches!(self.kind, ListingKind::Abuse) || self.direct_to_mx
    }
}

/// The answers for one sending address, classified with each zone's self-test: its listings,
/// and the zones that could not answer (zone, why). Lists that do not cover the address family
/// and clean answers give neither.
pub fn sending_listings(
    checks: &[DnsblCheck],
    zones: &[ZoneHealth],
) -> (Vec<SendingListing>, Vec<(String, String)>) {
    let mut listed = Vec::new();
    let mut unavailable = Vec::new();
    for check in checks {
        let health = zones.iter().find(|z| z.zone == check.zone);
        match classify(check, health) {
            DnsblStatus::Listed {
                kind,
                codes,
                meanings,
            } => listed.push(SendingListing {
                zone: check.zone.clone(),
                query: check.query.clone(),
                kind,
                direct_to_mx: codes.iter().any(|c| forbids_direct_to_mx(&check.zone, *c)),
                codes,
                meanings,
                txt: check.txt.clone(),
                delist: delist_hint(&check.zone),
            }),
            DnsblStatus::Unavailable { reason } => unavailable.push((check.zone.clone(), reason)),
            DnsblStatus::NotListed | DnsblStatus::NotCovered => {}
        }
    }
    (listed, unavailable)
}

/// Whether a zone answers for this address family (unknown custom zones: IPv4 only unless they
/// are given IPv6 addresses explicitly — we assume RFC 5782 IPv4 behaviour).
pub fn covers(zone: &str, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some() || zone_info(zone).is_some_and(|z| z.ipv6),
    }
}

/// The name to query for `ip` in `zone`: reversed octets for IPv4, reversed nibbles for IPv6
/// (RFC 5782 §2.1, §2.4); IPv4-mapped IPv6 is queried as IPv4.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return query_name(IpAddr::V4(v4), zone);
            }
            nibble_query_name(v6, zone)
        }
    }
}

/// The reversed-nibble name of an IPv6 address in `zone`, also for IPv4-mapped addresses (the
/// RFC 5782 §5 IPv6 test points `::ffff:7f00:2` and `::ffff:7f00:1` are asked this way).
pub fn nibble_query_name(v6: std::net::Ipv6Addr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    let mut s = String::with_capacity(64 + zone.len() + 2);
    for byte in v6.octets().iter().rev() {
        s.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        s.push('.');
        s.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        s.push('.');
    }
    s.push_str(zone);
    s.push('.');
    s
}

/// Meaning of one returned code on one zone.
pub fn meaning(zone: &str, code: Ipv4Addr) -> CodeMeaning {
    let o = code.octets();
    if o[0] != 127 {
        return CodeMeaning::Error("answer outside 127.0.0.0/8: the zone is broken or wildcarded");
    }
    if let Some(info) = zone_info(zone)
        && let Some((_, _, _, m)) = info
            .meanings
            .iter()
            .find(|(a, b, c, _)| (*a, *b, *c) == (o[1], o[2], o[3]))
    {
        return *m;
    }
    match (o[1], o[2], o[3]) {
        (255, 255, _) => CodeMeaning::Error("list error code (127.255.255.x)"),
        (0, 0, 1) => CodeMeaning::Error("127.0.0.1: the list refuses to answer us"),
        (0, 1, 255) => CodeMeaning::Error("an IP was sent to a domain list"),
        (0, 0, 2) => CodeMeaning::Listed(ListingKind::Abuse, "listed (the standard RFC 5782 code)"),
        (0, 0, 255) => CodeMeaning::Error("over the query limit"),
        _ => CodeMeaning::Listed(
            ListingKind::Abuse,
            "listed (code not documented for this list)",
        ),
    }
}

/// The verdict for one address on one list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DnsblStatus {
    /// Listed.
    Listed {
        /// The worst kind among the returned codes (abuse beats policy).
        kind: ListingKind,
        /// The returned codes.
        codes: Vec<Ipv4Addr>,
        /// What they mean.
        meanings: Vec<String>,
    },
    /// Not listed (and the list's self-test passed).
    NotListed,
    /// The list does not answer for this address family.
    NotCovered,
    /// We could not tell.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl DnsblStatus {
    /// Short word for tables: `listed`, `clean`, `n/a`, `unknown`.
    pub const fn word(&self) -> &'static str {
        match self {
            Self::Listed { .. } => "listed",
            Self::NotListed => "clean",
            Self::NotCovered => "n/a",
            Self::Unavailable { .. } => "unknown",
        }
    }
}

/// Why the zone's self-test failed, if it did.
pub fn zone_problem(health: &ZoneHealth) -> Option<String> {
    test_point_problem(
        &health.zone,
        &health.positive,
        &health.negative,
        "127.0.0.2",
        "127.0.0.1",
    )
}

/// What is wrong with a zone's IPv6 test points (`::ffff:7f00:2` listed, `::ffff:7f00:1` not),
/// when they were asked (lists that cover IPv6).
pub fn zone_problem_v6(health: &ZoneHealth) -> Option<String> {
    let (Some(positive), Some(negative)) = (&health.positive_v6, &health.negative_v6) else {
        return None;
    };
    test_point_problem(
        &health.zone,
        positive,
        negative,
        "::ffff:7f00:2",
        "::ffff:7f00:1",
    )
}

fn test_point_problem(
    zone: &str,
    positive: &Lookup<Ipv4Addr>,
    negative: &Lookup<Ipv4Addr>,
    listed_point: &str,
    unlisted_point: &str,
) -> Option<String> {
    let positive_ok = positive
        .records()
        .iter()
        .any(|c| matches!(meaning(zone, *c), CodeMeaning::Listed(..)));
    if !positive_ok {
        return Some(match positive {
            Lookup::Failed { .. } => format!(
                "its test point {listed_point} could not be looked up: {}",
                positive.describe()
            ),
            Lookup::Answer { records } => format!(
                "its test point {listed_point} answered {} instead of a listing code",
                join(records)
            ),
            _ => format!(
                "its test point {listed_point} is not listed (the list is silently not answering us, e.g. a public resolver)"
            ),
        });
    }
    if let Lookup::Answer { records } = negative
        && !records.is_empty()
    {
        return Some(format!(
            "it lists {unlisted_point} ({}): it is listing the whole Internet, so its answers mean nothing",
            join(records)
        ));
    }
    if negative.is_failed() {
        return Some(format!(
            "its test point {unlisted_point} could not be looked up: {}",
            negative.describe()
        ));
    }
    None
}

fn join(codes: &[Ipv4Addr]) -> String {
    codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Classifies one address's answer from one zone, given the zone's self-test.
pub fn classify(check: &DnsblCheck, health: Option<&ZoneHealth>) -> DnsblStatus {
    let Some(answer) = &check.answer else {
        return DnsblStatus::NotCovered;
    };
    let v6 = check.query.len() > 64 && !check.query.contains(".in-addr.");
    let problem = health.and_then(|h| {
        if v6 {
            zone_problem(h).or_else(|| zone_problem_v6(h))
        } else {
            zone_problem(h)
        }
    });
    if let Some(problem) = problem {
        return DnsblStatus::Unavailable {
            reason: format!("{} failed its self-test: {problem}", check.zone),
        };
    }
    match answer {
        Lookup::NxDomain | Lookup::NoData => DnsblStatus::NotListed,
        Lookup::Failed { .. } => DnsblStatus::Unavailable {
            reason: format!("{} did not answer: {}", check.zone, answer.describe()),
        },
        Lookup::Answer { records } if records.is_empty() => DnsblStatus::NotListed,
        Lookup::Answer { records } => {
            let mut errors = Vec::new();
            let mut listed = Vec::new();
            let mut meanings = Vec::new();
            let mut kind = ListingKind::Policy;
            for code in records {
                match meaning(&check.zone, *code) {
                    CodeMeaning::Error(why) => errors.push(format!("{code}: {why}")),
                    CodeMeaning::Listed(k, why) => {
                        if k == ListingKind::Abuse {
                            kind = ListingKind::Abuse;
                        }
                        listed.push(*code);
                        meanings.push(format!("{code}: {why}"));
                    }
                }
            }
            if !errors.is_empty() {
                // An error code anywhere in the answer makes the whole answer untrustworthy.
                DnsblStatus::Unavailable {
                    reason: format!(
                        "{} answered with an error code: {}",
                        check.zone,
                        errors.join("; ")
                    ),
                }
            } else {
                DnsblStatus::Listed {
                    kind,
                    codes: listed,
                    meanings,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(zone: &str, answer: Lookup<Ipv4Addr>) -> DnsblCheck {
        DnsblCheck {
            zone: zone.to_owned(),
            query: String::new(),
            answer: Some(answer),
            txt: vec![],
        }
    }

    fn healthy(zone: &str) -> ZoneHealth {
        ZoneHealth {
            zone: zone.to_owned(),
            positive: Lookup::Answer {
                records: vec![Ipv4Addr::new(127, 0, 0, 2)],
            },
            negative: Lookup::NxDomain,
            positive_v6: None,
            negative_v6: None,
        }
    }

    fn ans(codes: &[[u8; 4]]) -> Lookup<Ipv4Addr> {
        Lookup::Answer {
            records: codes.iter().map(|c| Ipv4Addr::from(*c)).collect(),
        }
    }

    #[test]
    fn query_names() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "zen.spamhaus.org"),
            "99.2.0.192.zen.spamhaus.org."
        );
        assert_eq!(
            query_name("2001:db8:7ca6:22::45".parse().unwrap(), "zen.spamhaus.org"),
            "5.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.2.0.0.6.a.c.7.8.b.d.0.1.0.0.2.zen.spamhaus.org."
        );
        assert_eq!(
            query_name("::ffff:192.0.2.1".parse().unwrap(), "bl.test."),
            "1.2.0.192.bl.test."
        );
    }

    #[test]
    fn spamhaus_error_code_is_unavailable_not_listed() {
        let z = "zen.spamhaus.org";
        let s = classify(&check(z, ans(&[[127, 255, 255, 254]])), Some(&healthy(z)));
        assert!(matches!(s, DnsblStatus::Unavailable { .. }), "{s:?}");
    }

    #[test]
    fn abuse_and_policy_codes() {
        let z = "zen.spamhaus.org";
        let s = classify(&check(z, ans(&[[127, 0, 0, 10]])), Some(&healthy(z)));
        assert!(
            matches!(
                s,
                DnsblStatus::Listed {
                    kind: ListingKind::Policy,
                    ..
                }
            ),
            "{s:?}"
        );
        let s = classify(
            &check(z, ans(&[[127, 0, 0, 10], [127, 0, 0, 4]])),
            Some(&healthy(z)),
        );
        assert!(
            matches!(s, DnsblStatus::Listed { kind: ListingKind::Abuse, ref codes, .. } if codes.len() == 2),
            "{s:?}"
        );
    }

    #[test]
    fn failed_canary_makes_everything_unavailable() {
        let z = "bl.test";
        let mut h = healthy(z);
        h.positive = Lookup::NxDomain;
        let s = classify(&check(z, Lookup::NxDomain), Some(&h));
        assert!(matches!(s, DnsblStatus::Unavailable { .. }));
        let mut h = healthy(z);
        h.negative = ans(&[[127, 0, 0, 2]]);
        let s = classify(&check(z, ans(&[[127, 0, 0, 2]])), Some(&h));
        assert!(matches!(s, DnsblStatus::Unavailable { .. }));
    }

    #[test]
    fn failures_are_unavailable_and_nx_is_clean() {
        let z = "bl.test";
        let failed = Lookup::Failed {
            failure: crate::facts::DnsFailure::Refused,
            detail: String::new(),
        };
        assert!(matches!(
            classify(&check(z, failed), Some(&healthy(z))),
            DnsblStatus::Unavailable { .. }
        ));
        assert_eq!(
            classify(&check(z, Lookup::NxDomain), Some(&healthy(z))),
            DnsblStatus::NotListed
        );
        assert!(matches!(
            classify(&check(z, ans(&[[10, 0, 0, 1]])), Some(&healthy(z))),
            DnsblStatus::Unavailable { .. }
        ));
    }

    #[test]
    fn pbl_forbids_direct_to_mx_and_sending_listings_say_so() {
        let z = "zen.spamhaus.org";
        assert!(forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 10)));
        assert!(forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 11)));
        assert!(!forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 30)));
        assert!(!forbids_direct_to_mx(z, Ipv4Addr::new(127, 0, 0, 2)));
        assert!(!forbids_direct_to_mx(
            "bl.test",
            Ipv4Addr::new(127, 0, 0, 10)
        ));
        let (listed, unavailable) = sending_listings(
            &[
                check(z, ans(&[[127, 0, 0, 10]])),
                check("bl.test", ans(&[[127, 0, 0, 2]])),
                check("down.test", ans(&[[127, 255, 255, 254]])),
                check("clean.test", Lookup::NxDomain),
            ],
            &[
                healthy(z),
                healthy("bl.test"),
                healthy("down.test"),
                healthy("clean.test"),
            ],
        );
        assert_eq!(listed.len(), 2);
        assert!(listed[0].direct_to_mx && listed[0].kind == ListingKind::Policy);
        assert!(listed[0].blocks_sending());
        assert_eq!(listed[0].delist, "https://check.spamhaus.org/");
        assert!(listed[1].kind == ListingKind::Abuse && !listed[1].direct_to_mx);
        assert!(listed[1].delist.contains("bl.test"));
        assert_eq!(unavailable.len(), 1);
        assert_eq!(unavailable[0].0, "down.test");
    }

    #[test]
    fn coverage_and_dead_lists() {
        assert!(covers("zen.spamhaus.org", "2001:db8::1".parse().unwrap()));
        assert!(!covers("bl.spamcop.net", "2001:db8::1".parse().unwrap()));
        assert!(is_dead("dnsbl.sorbs.net"));
        assert!(!DEFAULT_ZONES.iter().any(|z| is_dead(z)));
    }
}
