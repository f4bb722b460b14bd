//! Classifying blocklist answers: one address on one zone, given the zone's RFC 5782 self-test
//! (listed, clean, not covered or unavailable), and the listings of a sending address for what
//! they mean to the mail it sends.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{CodeMeaning, ListingKind, delist_hint, forbids_direct_to_mx, meaning};
use crate::facts::{DnsblCheck, Lookup, ZoneHealth};

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
                "its test point {listed_point} is not listed (the list is silently not answering \
                 us, e.g. a public resolver)"
            ),
        });
    }
    if let Lookup::Answer { records } = negative
        && !records.is_empty()
    {
        return Some(format!(
            "it lists {unlisted_point} ({}): it is listing the whole Internet, so its answers \
             mean nothing",
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
