//! The DNS layer: a narrow, object-safe [`DnsSource`] trait returning our own outcome type
//! ([`Lookup`]), and [`HickoryDns`], its implementation over hickory-resolver 0.26.
//!
//! Every method answers with a [`Lookup`] that tells apart an answer, NXDOMAIN, NODATA and the
//! failures (SERVFAIL, REFUSED, timeout, other). Names are given with or without the trailing dot
//! and are always queried as fully qualified names (no search list). Names in answers come back in
//! lower case without the trailing dot (the root is `"."`).
//!
//! At most `dns.max_in_flight` queries are outstanding at once (a burst beyond what the
//! resolver's socket holds is dropped, and each drop costs a retransmission timeout).
//! Identical queries in flight at the same time are sent once (`InFlight`); answers are
//! cached by hickory for their TTL (`dns.cache_size` entries, negative answers at most
//! `NEGATIVE_MAX_TTL`), as a recursive resolver would. Memoisation per run of derived facts
//! is done by the callers (`memo::Memo`).
//!
//! Files: this one holds the trait and the name helpers; `hickory.rs` [`HickoryDns`] (the
//! resolver, its in-flight coalescing, the error classification); `direct.rs` questions sent to
//! one server directly (the MX of the consistency checks, the loopback PTR).

mod direct;
mod hickory;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;

use hickory_resolver::proto::rr::Name;

use crate::facts::{DnsFailure, Lookup, MxRecord};

pub use direct::DirectMx;
pub(crate) use direct::direct_mx;
pub use hickory::HickoryDns;
pub(crate) use hickory::{name_server, resolver_opts};

/// A boxed future as returned by [`DnsSource`] methods (object-safe async).
pub(crate) type DnsFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The A or AAAA lookup of one name, with the aliases followed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressAnswer {
    /// The lookup; only addresses of the asked family are in the records.
    pub lookup: Lookup<IpAddr>,
    /// The CNAME targets the resolver followed, in order (lower case, no trailing dot); empty
    /// when the name is not an alias.
    pub cname_chain: Vec<String>,
}

/// The DNS queries the probes need. Object-safe, so an `Arc<dyn DnsSource>` can be shared by all
/// probes and replaced by a fake in tests.
pub trait DnsSource: Send + Sync + fmt::Debug {
    /// MX records of `name`, sorted by preference (ties keep the answer order). The exchange is
    /// lower case without the trailing dot, `"."` for a null MX.
    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>>;

    /// IPv4 addresses of `name`, following CNAMEs.
    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer>;

    /// IPv6 addresses of `name`, following CNAMEs.
    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer>;

    /// The CNAME record at `name` itself (not followed): the alias target, if any.
    fn cname<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>>;

    /// PTR names of `ip` (lower case, no trailing dot).
    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>>;

    /// TXT records of `name`; the character-strings of one record are joined.
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>>;

    /// The A records of a blocklist query name (`2.0.0.127.zone.`), as return codes.
    fn dnsbl_a<'a>(&'a self, query_name: &'a str) -> DnsFuture<'a, Lookup<Ipv4Addr>>;

    /// Which resolver answers, for the record: `system (IP:PORT, …)` or `IP:PORT, …`.
    fn label(&self) -> String;

    /// Forgets cached answers, so the next queries ask the servers (a long-lived checker's
    /// caches expired). The default has nothing to forget.
    fn clear_cache(&self) {}

    /// NS names at `name` itself (lower case, no trailing dot): where the zone that holds a
    /// domain is delegated. The default answers "not supported" (a failed lookup), so DNS
    /// sources that never need it (fakes in tests) do not have to implement it.
    fn ns<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        let _ = name;
        Box::pin(async { failed(DnsFailure::Other, "NS lookups are not supported here") })
    }
}

/// Records of the asked type; none (only aliases, or other types) is NODATA.
fn answer<T>(records: Vec<T>) -> Lookup<T> {
    if records.is_empty() {
        Lookup::NoData
    } else {
        Lookup::Answer { records }
    }
}

/// Parses a name as absolute (a trailing dot is added when missing).
fn parse_name(name: &str) -> Result<Name, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty name".to_owned());
    }
    let fqdn = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fqdn).map_err(|e| format!("{name:?} is not a valid DNS name: {e}"))
}

/// Lower case, no trailing dot; the root is `"."`.
fn name_to_string(name: &Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    let s = name.to_lowercase().to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_owned()
}

fn failed<T>(failure: DnsFailure, detail: &str) -> Lookup<T> {
    Lookup::Failed {
        failure,
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use hickory_resolver::net::{DnsError, NetError};
    use hickory_resolver::proto::op::ResponseCode;

    use super::hickory::classify;
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(name_to_string(&Name::root()), ".");
        assert_eq!(
            name_to_string(&Name::from_ascii("MX1.Example.TEST.").unwrap()),
            "mx1.example.test"
        );
        assert!(parse_name("example.test").unwrap().is_fqdn());
        assert!(parse_name("example.test.").unwrap().is_fqdn());
        assert!(parse_name("").is_err());
        assert!(parse_name("a..b").is_err());
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            classify::<()>(&NetError::Timeout),
            Lookup::Failed {
                failure: DnsFailure::Timeout,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Dns(DnsError::ResponseCode(
                ResponseCode::ServFail
            ))),
            Lookup::Failed {
                failure: DnsFailure::ServFail,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Dns(DnsError::ResponseCode(
                ResponseCode::Refused
            ))),
            Lookup::Failed {
                failure: DnsFailure::Refused,
                ..
            }
        ));
        assert!(matches!(
            classify::<()>(&NetError::Msg("boom".to_owned())),
            Lookup::Failed {
                failure: DnsFailure::Other,
                ..
            }
        ));
    }

    #[test]
    fn empty_answers_are_nodata() {
        assert_eq!(answer::<u8>(vec![]), Lookup::NoData);
        assert_eq!(answer(vec![1]), Lookup::Answer { records: vec![1] });
    }
}
