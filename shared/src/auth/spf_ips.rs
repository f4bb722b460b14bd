//! SPF evaluated for concrete addresses: `check_host()` for each MX address, and for an address
//! no record lists.
//!
//! - An MX address that the domain's **own** record authorizes directly (a `+a`, `+mx`, `+ip4`
//!   or `+ip6` term of the top-level record matches it, not a term reached through `include` or
//!   `redirect`) sends the domain's mail: its blocklist listings and its greeting name then
//!   matter more (the contract's "MX IP that sends" rule; `diagnose::spf::sends_for_domain`).
//! - An address no record lists ([`UNLISTED`]) walks every term a receiver reaches for a
//!   sender that matches late or never, with the `a`/`mx`/`exists` lookups the record tree alone
//!   does not make: its void lookups count against the limit of two (RFC 7208 §4.6.4) and its
//!   failed lookups make SPF temperror.
//!
//! The lookups go through a small per-collection cache, so the tree, the unlisted check and
//! every MX address fetch each name once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::facts::{Lookup, MxRecord};
use crate::probe::dns::DnsFuture;
use crate::spf::record::{Mechanism, Qualifier};
use crate::spf::{SpfDns, SpfEvaluation, SpfResult, check_host, parse_record};

/// The address used for "a sender no record lists": in 240.0.0.0/4, reserved and never
/// routed, so only a `/0`-`/4` network term can match it.
pub const UNLISTED: IpAddr = IpAddr::V4(Ipv4Addr::new(240, 0, 0, 1));

/// `check_host()` for one address, reduced to what the diagnosis needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfIpCheck {
    /// The client address.
    pub ip: IpAddr,
    /// The result.
    pub result: SpfResult,
    /// The term of the domain's own (top-level) record that matched, as written: `mx`,
    /// `ip4:192.0.2.0/24`, `include:_spf.example.net`, `-all`. `None` when nothing matched
    /// there (a redirect decided, or an error).
    pub matched: Option<String>,
    /// Authorized directly: `matched` is an `a`, `mx`, `ip4` or `ip6` term with the `+`
    /// qualifier and the result is `pass`.
    pub direct: bool,
    /// DNS-querying terms evaluated.
    pub dns_terms: u32,
    /// Void lookups seen.
    pub void_lookups: u32,
    /// Why, for errors and the default result.
    pub reason: Option<String>,
}

impl SpfIpCheck {
    /// Reduces an evaluation. Pure.
    pub fn from_evaluation(e: &SpfEvaluation) -> Self {
        let matched = e.trace.root.matched.clone();
        let direct =
            e.result == SpfResult::Pass && matched.as_deref().is_some_and(is_direct_authorization);
        Self {
            ip: e.ip,
            result: e.result,
            matched,
            direct,
            dns_terms: e.trace.dns_terms,
            void_lookups: e.trace.void_lookups,
            reason: e.reason.clone(),
        }
    }
}

/// Whether a term of a record, as written, is `+a`, `+mx`, `+ip4` or `+ip6` (with or without
/// arguments).
pub fn is_direct_authorization(term: &str) -> bool {
    parse_record(&format!("v=spf1 {term}")).is_ok_and(|r| {
        r.terms
            .first()
            .and_then(|t| t.directive())
            .is_some_and(|d| {
                d.qualifier == Qualifier::Pass
                    && matches!(
                        d.mechanism,
                        Mechanism::A { .. }
                            | Mechanism::Mx { .. }
                            | Mechanism::Ip4 { .. }
                            | Mechanism::Ip6 { .. }
                    )
            })
    })
}

/// SPF for the MX addresses and for an unlisted sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpfIpFacts {
    /// One check per MX address, in the order given.
    pub mx: Vec<SpfIpCheck>,
    /// The check for [`UNLISTED`].
    pub unlisted: Option<SpfIpCheck>,
}

impl SpfIpFacts {
    /// The check of `ip`, if it was made.
    pub fn for_ip(&self, ip: IpAddr) -> Option<&SpfIpCheck> {
        self.mx.iter().find(|c| c.ip == ip)
    }
}

/// Runs `check_host()` for [`UNLISTED`], then for each address of `mx_ips` (duplicates once),
/// one after the other so that the cached lookups serve the later ones.
pub async fn collect(domain: &str, mx_ips: &[IpAddr], dns: &dyn SpfDns) -> SpfIpFacts {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let sender = format!("postmaster@{domain}");
    let sender = sender.as_str();
    let check = |ip| async move {
        SpfIpCheck::from_evaluation(&check_host(ip, domain, sender, domain, dns).await)
    };
    let unlisted = Some(check(UNLISTED).await);
    let mut mx: Vec<SpfIpCheck> = Vec::new();
    for &ip in mx_ips {
        if mx.iter().all(|c| c.ip != ip) {
            mx.push(check(ip).await);
        }
    }
    SpfIpFacts { mx, unlisted }
}

/// An [`SpfDns`] that asks each question once (for one domain's checks, not across runs).
#[derive(Debug)]
pub struct CachedSpfDns<'d> {
    inner: &'d dyn SpfDns,
    txt: Mutex<HashMap<String, Lookup<String>>>,
    a: Mutex<HashMap<String, Lookup<IpAddr>>>,
    aaaa: Mutex<HashMap<String, Lookup<IpAddr>>>,
    mx: Mutex<HashMap<String, Lookup<MxRecord>>>,
    ptr: Mutex<HashMap<IpAddr, Lookup<String>>>,
}

impl<'d> CachedSpfDns<'d> {
    /// An empty cache in front of `inner`.
    pub fn new(inner: &'d dyn SpfDns) -> Self {
        Self {
            inner,
            txt: Mutex::default(),
            a: Mutex::default(),
            aaaa: Mutex::default(),
            mx: Mutex::default(),
            ptr: Mutex::default(),
        }
    }
}

fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The cached answer for `k`, or asks and remembers it.
async fn cached<K, V>(
    map: &Mutex<HashMap<K, Lookup<V>>>,
    k: K,
    ask: DnsFuture<'_, Lookup<V>>,
) -> Lookup<V>
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    if let Some(hit) = map.lock().map_or(None, |m| m.get(&k).cloned()) {
        return hit;
    }
    let answer = ask.await;
    if let Ok(mut m) = map.lock() {
        m.insert(k, answer.clone());
    }
    answer
}

impl SpfDns for CachedSpfDns<'_> {
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        Box::pin(cached(&self.txt, key(name), self.inner.txt(name)))
    }

    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(cached(&self.a, key(name), self.inner.a(name)))
    }

    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(cached(&self.aaaa, key(name), self.inner.aaaa(name)))
    }

    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>> {
        Box::pin(cached(&self.mx, key(name), self.inner.mx(name)))
    }

    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>> {
        Box::pin(cached(&self.ptr, ip, self.inner.ptr(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::MemoryZone;

    #[test]
    fn direct_terms() {
        for t in [
            "a",
            "+mx",
            "mx:example.com/24",
            "ip4:192.0.2.0/24",
            "ip6:2001:db8::/32",
            "a/24",
        ] {
            assert!(is_direct_authorization(t), "{t}");
        }
        for t in [
            "-mx",
            "~a",
            "?ip4:192.0.2.1",
            "include:_spf.example.com",
            "all",
            "ptr",
            "exists:x.example.com",
            "redirect=x.example.com",
        ] {
            assert!(!is_direct_authorization(t), "{t}");
        }
    }

    #[tokio::test]
    async fn direct_only_at_the_top_level() {
        let mut z = MemoryZone::new();
        z.add_txt(
            "example.test",
            "v=spf1 mx ip4:192.0.2.20 -ip4:192.0.2.66 include:_spf.example.test \
             a:nothing.example.test a:nothing2.example.test -all",
        )
        .add_txt("_spf.example.test", "v=spf1 ip4:192.0.2.30 -all")
        .add_mx("example.test", 10, "mx.example.test")
        .add_a("mx.example.test", "192.0.2.10".parse().unwrap());
        let cache = CachedSpfDns::new(&z);
        let ips: Vec<IpAddr> = [
            "192.0.2.10",
            "192.0.2.20",
            "192.0.2.30",
            "192.0.2.66",
            "192.0.2.10",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let f = collect("example.test.", &ips, &cache).await;
        let got: Vec<(String, SpfResult, Option<&str>, bool)> =
            f.mx.iter()
                .map(|c| (c.ip.to_string(), c.result, c.matched.as_deref(), c.direct))
                .collect();
        assert_eq!(
            got,
            [
                ("192.0.2.10".into(), SpfResult::Pass, Some("mx"), true),
                (
                    "192.0.2.20".into(),
                    SpfResult::Pass,
                    Some("ip4:192.0.2.20"),
                    true
                ),
                (
                    "192.0.2.30".into(),
                    SpfResult::Pass,
                    Some("include:_spf.example.test"),
                    false
                ),
                (
                    "192.0.2.66".into(),
                    SpfResult::Fail,
                    Some("-ip4:192.0.2.66"),
                    false
                ),
            ]
        );
        // The unlisted sender reaches every term: the two void `a` lookups.
        let u = f.unlisted.as_ref().unwrap();
        assert_eq!(u.result, SpfResult::Fail);
        assert_eq!(u.matched.as_deref(), Some("-all"));
        assert_eq!((u.dns_terms, u.void_lookups), (4, 2));
        assert!(f.for_ip("192.0.2.10".parse().unwrap()).unwrap().direct);
        // Each name was asked once despite five evaluations.
        let txt = z
            .queries()
            .iter()
            .filter(|q| *q == "TXT example.test")
            .count();
        assert_eq!(txt, 1, "{:?}", z.queries());
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<SpfIpFacts>(&json).unwrap(), f);
    }

    #[tokio::test]
    async fn a_redirect_is_not_direct() {
        let mut z = MemoryZone::new();
        z.add_txt("example.test", "v=spf1 redirect=_spf.example.test")
            .add_txt("_spf.example.test", "v=spf1 ip4:192.0.2.10 -all");
        let f = collect("example.test", &["192.0.2.10".parse().unwrap()], &z).await;
        assert_eq!(f.mx[0].result, SpfResult::Pass);
        assert_eq!(f.mx[0].matched, None);
        assert!(!f.mx[0].direct);
    }
}
