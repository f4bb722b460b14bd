//! Reverse DNS: the PTR of an address (IPv4 `in-addr.arpa`, IPv6 `ip6.arpa`) and, for each PTR
//! name, the forward lookup of the same family (forward-confirmed reverse DNS, FCrDNS). Records
//! only; [`crate::facts::PtrFacts::confirms`] and the diagnosis judge.

use std::net::IpAddr;
use std::sync::Arc;

use futures::future::join_all;

use super::dns::DnsSource;
use super::memo::Memo;
use crate::facts::{ForwardCheck, PtrFacts};

/// At most this many PTR names are checked forward (a PTR set is normally one name).
pub(crate) const MAX_FORWARD_CHECKS: usize = 8;

/// The PTR of `ip` and the forward check of each PTR name: A for an IPv4 address, AAAA for an
/// IPv6 address. No memo; see [`ReverseDns`].
pub async fn reverse(dns: &dyn DnsSource, ip: IpAddr) -> PtrFacts {
    let lookup = dns.ptr(ip).await;
    let mut names: Vec<&String> = Vec::new();
    for name in lookup.records() {
        if !names.contains(&name) && names.len() < MAX_FORWARD_CHECKS {
            names.push(name);
        }
    }
    let forward = join_all(names.into_iter().map(|name| async move {
        let answer = match ip {
            IpAddr::V4(_) => dns.a(name).await,
            IpAddr::V6(_) => dns.aaaa(name).await,
        };
        ForwardCheck {
            name: name.clone(),
            lookup: answer.lookup,
        }
    }))
    .await;
    PtrFacts { lookup, forward }
}

/// Reverse DNS with a per-run memo: each address is looked up once.
#[derive(Debug)]
pub struct ReverseDns {
    dns: Arc<dyn DnsSource>,
    memo: Memo<IpAddr, PtrFacts>,
}

impl ReverseDns {
    /// Reverse lookups through `dns`.
    pub fn new(dns: Arc<dyn DnsSource>) -> Self {
        Self {
            dns,
            memo: Memo::new(),
        }
    }

    /// The PTR facts of `ip`, looked up once per run.
    pub async fn lookup(&self, ip: IpAddr) -> PtrFacts {
        self.memo
            .get_or_init(ip, || reverse(self.dns.as_ref(), ip))
            .await
    }

    /// Forgets the PTR facts of `ip` (a fresh check looks again).
    pub(crate) fn forget(&self, ip: IpAddr) {
        self.memo.remove(&ip);
    }
}
