//! [`MemoryZone`]: an in-memory [`SpfDns`] for tests and for evaluating records that are not
//! published yet. It answers like a resolver: CNAMEs followed (a loop is a failure), NXDOMAIN for
//! a name that does not exist, NODATA for a name (or an empty non-terminal) without records of
//! the asked type, and a chosen failure for names marked as failing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};

use super::dns::SpfDns;
use super::name::reverse_name;
use crate::facts::{DnsFailure, Lookup, MxRecord};
use crate::probe::dns::DnsFuture;

/// CNAME hops followed before giving up.
const MAX_CNAME_HOPS: usize = 8;

#[derive(Debug, Default)]
struct Node {
    txt: Vec<String>,
    a: Vec<IpAddr>,
    aaaa: Vec<IpAddr>,
    mx: Vec<MxRecord>,
    ptr: Vec<String>,
    cname: Option<String>,
    failure: Option<DnsFailure>,
}

/// An in-memory zone. Build it with the `&mut self` methods, then pass it as `&dyn SpfDns`.
///
/// ```
/// use mailcheck::spf::{MemoryZone, SpfResult, check_host};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut zone = MemoryZone::new();
/// zone.add_txt("example.test", "v=spf1 ip4:192.0.2.0/24 -all");
/// let ip = "192.0.2.7".parse().unwrap();
/// let eval = check_host(ip, "example.test", "a@example.test", "mx.example.test", &zone).await;
/// assert_eq!(eval.result, SpfResult::Pass);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryZone {
    nodes: BTreeMap<String, Node>,
    queries: Mutex<Vec<String>>,
}

/// Lower case, no trailing dot.
fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl MemoryZone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    fn node(&mut self, name: &str) -> &mut Node {
        self.nodes.entry(key(name)).or_default()
    }

    /// Makes `name` exist without records (NODATA for every type).
    pub fn exists(&mut self, name: &str) -> &mut Self {
        self.node(name);
        self
    }

    /// Adds a TXT record.
    pub fn add_txt(&mut self, name: &str, text: &str) -> &mut Self {
        self.node(name).txt.push(text.to_owned());
        self
    }

    /// Adds a TXT record of several character-strings (joined without separator, §3.3).
    pub fn add_txt_strings(&mut self, name: &str, strings: &[&str]) -> &mut Self {
        self.node(name).txt.push(strings.concat());
        self
    }

    /// Adds an A record.
    pub fn add_a(&mut self, name: &str, ip: Ipv4Addr) -> &mut Self {
        self.node(name).a.push(IpAddr::V4(ip));
        self
    }

    /// Adds an AAAA record.
    pub fn add_aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Self {
        self.node(name).aaaa.push(IpAddr::V6(ip));
        self
    }

    /// Adds an A or AAAA record, by the address's family.
    pub fn add_address(&mut self, name: &str, ip: IpAddr) -> &mut Self {
        match ip {
            IpAddr::V4(v4) => self.add_a(name, v4),
            IpAddr::V6(v6) => self.add_aaaa(name, v6),
        }
    }

    /// Adds an MX record (`""` or `"."` is a null MX).
    pub fn add_mx(&mut self, name: &str, preference: u16, exchange: &str) -> &mut Self {
        let exchange = match key(exchange) {
            e if e.is_empty() => ".".to_owned(),
            e => e,
        };
        self.node(name).mx.push(MxRecord {
            preference,
            exchange,
        });
        self
    }

    /// Adds a PTR record for `ip`.
    pub fn add_ptr(&mut self, ip: IpAddr, target: &str) -> &mut Self {
        self.add_ptr_at(&reverse_name(ip), target)
    }

    /// Adds a PTR record at a reverse name (`4.3.2.1.in-addr.arpa`).
    pub fn add_ptr_at(&mut self, reverse_name: &str, target: &str) -> &mut Self {
        self.node(reverse_name).ptr.push(key(target));
        self
    }

    /// Makes `name` an alias of `target`.
    pub fn add_cname(&mut self, name: &str, target: &str) -> &mut Self {
        self.node(name).cname = Some(key(target));
        self
    }

    /// Queries at `name` for a type it has no records of fail this way (SERVFAIL, timeout…).
    pub fn fail(&mut self, name: &str, failure: DnsFailure) -> &mut Self {
        self.node(name).failure = Some(failure);
        self
    }

    /// Queries at `name` for a type it has no records of time out.
    pub fn timeout(&mut self, name: &str) -> &mut Self {
        self.fail(name, DnsFailure::Timeout)
    }

    /// Every query asked so far, as `TYPE name`, in order.
    pub fn queries(&self) -> Vec<String> {
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lookup<T: Clone>(
        &self,
        rtype: &str,
        name: &str,
        records: impl Fn(&Node) -> &Vec<T>,
    ) -> Lookup<T> {
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{rtype} {name}"));
        let mut current = key(name);
        for _ in 0..=MAX_CNAME_HOPS {
            let Some(node) = self.nodes.get(&current) else {
                let suffix = format!(".{current}");
                return if self.nodes.keys().any(|k| k.ends_with(&suffix)) {
                    Lookup::NoData
                } else {
                    Lookup::NxDomain
                };
            };
            if let Some(target) = &node.cname {
                current.clone_from(target);
                continue;
            }
            let found = records(node);
            if !found.is_empty() {
                return Lookup::Answer {
                    records: found.clone(),
                };
            }
            return match node.failure {
                Some(failure) => Lookup::Failed {
                    failure,
                    detail: String::new(),
                },
                None => Lookup::NoData,
            };
        }
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            detail: format!("CNAME chain of {name} too long or looping"),
        }
    }
}

impl SpfDns for MemoryZone {
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        Box::pin(async move { self.lookup("TXT", name, |n| &n.txt) })
    }

    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(async move { self.lookup("A", name, |n| &n.a) })
    }

    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(async move { self.lookup("AAAA", name, |n| &n.aaaa) })
    }

    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>> {
        Box::pin(async move {
            match self.lookup("MX", name, |n| &n.mx) {
                Lookup::Answer { mut records } => {
                    records.sort_by_key(|r| r.preference);
                    Lookup::Answer { records }
                }
                other => other,
            }
        })
    }

    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>> {
        Box::pin(async move { self.lookup("PTR", &reverse_name(ip), |n| &n.ptr) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_like_a_resolver() {
        let mut z = MemoryZone::new();
        z.add_txt("Example.TEST.", "one")
            .add_txt_strings("example.test", &["v=spf1 ", "-all"])
            .add_a("host.example.test", Ipv4Addr::new(192, 0, 2, 1))
            .add_cname("alias.example.test", "host.example.test.")
            .add_cname("loop1.example.test", "loop2.example.test")
            .add_cname("loop2.example.test", "loop1.example.test")
            .add_mx("example.test", 20, "b.example.test")
            .add_mx("example.test", 10, "A.example.test.")
            .add_mx("null.example.test", 0, "")
            .timeout("slow.example.test")
            .add_txt("slow.example.test", "fast");
        assert_eq!(
            z.txt("example.test").await,
            Lookup::Answer {
                records: vec!["one".to_owned(), "v=spf1 -all".to_owned()]
            }
        );
        assert_eq!(
            z.a("ALIAS.example.test").await.records(),
            &[IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))]
        );
        assert!(z.a("loop1.example.test").await.is_failed());
        assert_eq!(z.aaaa("host.example.test").await, Lookup::NoData);
        assert_eq!(z.a("nowhere.example.test").await, Lookup::NxDomain);
        assert_eq!(z.a("test").await, Lookup::NoData, "empty non-terminal");
        let mx = z.mx("example.test").await;
        let names: Vec<&str> = mx.records().iter().map(|m| m.exchange.as_str()).collect();
        assert_eq!(names, ["a.example.test", "b.example.test"]);
        assert_eq!(z.mx("null.example.test").await.records()[0].exchange, ".");
        assert!(z.a("slow.example.test").await.is_failed());
        assert_eq!(z.txt("slow.example.test").await.records(), ["fast"]);
        assert_eq!(z.queries().len(), 10);
    }
}
