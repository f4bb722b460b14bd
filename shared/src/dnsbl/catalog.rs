//! The blocklist catalogue: the zones queried by default, the dead ones, and for each list we
//! know its IPv6 coverage, its delisting page and what each return code means (listing kind or
//! error), including the Spamhaus PBL codes that forbid direct-to-MX sending.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

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
        delist: "https://www.uceprotect.net/en/rblcheck.php (expires about a week after the last \
                 hit)",
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

/// Whether a zone answers for this address family (unknown custom zones: IPv4 only unless they
/// are given IPv6 addresses explicitly — we assume RFC 5782 IPv4 behaviour).
pub fn covers(zone: &str, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some() || zone_info(zone).is_some_and(|z| z.ipv6),
    }
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
