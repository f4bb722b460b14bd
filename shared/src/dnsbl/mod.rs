//! The blocklist catalogue and the pure classification of blocklist answers (RFC 5782 and each
//! list's documented return and error codes). No I/O: the queries live in `probe::dnsbl`.
//!
//! The query names are here; the rest, re-exported here, by job:
//! - `catalog`: the lists we know (default and dead zones, IPv6 coverage, delisting pages) and
//!   what each return code means on each;
//! - `answer`: one address's answer classified with its zone's self-test ([`DnsblStatus`]),
//!   and a sending address's listings as they bear on the mail it sends ([`SendingListing`]).

mod answer;
mod catalog;

use std::net::IpAddr;

pub use answer::{
    DnsblStatus, SendingListing, classify, sending_listings, zone_problem, zone_problem_v6,
};
pub use catalog::{
    CATALOG, CodeMeaning, DEAD_ZONES, DEFAULT_ZONES, ListingKind, ZoneInfo, covers, delist_hint,
    forbids_direct_to_mx, is_dead, meaning, zone_info,
};

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

#[cfg(test)]
mod tests;
