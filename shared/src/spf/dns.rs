//! The DNS SPF needs: five lookups behind [`SpfDns`], object-safe like
//! [`DnsSource`], each answering with the library's [`Lookup`] so that an
//! answer, NXDOMAIN, NODATA and a failure are told apart (§4.4, §4.6.4 void lookups, §5).

use std::fmt;
use std::net::IpAddr;

use crate::facts::{Lookup, MxRecord};
use crate::probe::dns::{DnsFuture, DnsSource};

/// The lookups `check_host()` makes. Names come with or without the trailing dot and in any
/// case; names in answers are lower case without the trailing dot.
pub trait SpfDns: Send + Sync + fmt::Debug {
    /// TXT records of `name`, the character-strings of each record joined (§3.3). CNAMEs are
    /// followed.
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>>;

    /// IPv4 addresses of `name`, CNAMEs followed.
    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>>;

    /// IPv6 addresses of `name`, CNAMEs followed.
    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>>;

    /// MX records of `name` by preference; the exchange is `"."` for a null MX.
    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>>;

    /// PTR names of `ip`.
    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>>;
}

/// [`SpfDns`] over any [`DnsSource`] (the real resolver, or a probe's fake).
///
/// `DnsSource` already has the right shapes: `txt` joins the strings of a record, `mx` sorts by
/// preference and spells a null MX `"."`, `a`/`aaaa` follow CNAMEs and keep only the asked
/// family in their [`AddressAnswer`](crate::probe::dns::AddressAnswer).
#[derive(Debug, Clone, Copy)]
pub struct DnsSourceAdapter<'d>(pub &'d dyn DnsSource);

impl SpfDns for DnsSourceAdapter<'_> {
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
        self.0.txt(name)
    }

    fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(async move { self.0.a(name).await.lookup })
    }

    fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<IpAddr>> {
        Box::pin(async move { self.0.aaaa(name).await.lookup })
    }

    fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>> {
        self.0.mx(name)
    }

    fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>> {
        self.0.ptr(ip)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::facts::DnsFailure;
    use crate::probe::dns::AddressAnswer;
    use crate::spf::{MemoryZone, SpfResult, check_host};

    /// A `DnsSource` answering from a [`MemoryZone`], to test the adapter without a network.
    #[derive(Debug)]
    struct ZoneSource(MemoryZone);

    impl DnsSource for ZoneSource {
        fn mx<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<MxRecord>> {
            SpfDns::mx(&self.0, name)
        }
        fn a<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer> {
            Box::pin(async move {
                AddressAnswer {
                    lookup: SpfDns::a(&self.0, name).await,
                    cname_chain: Vec::new(),
                }
            })
        }
        fn aaaa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, AddressAnswer> {
            Box::pin(async move {
                AddressAnswer {
                    lookup: SpfDns::aaaa(&self.0, name).await,
                    cname_chain: Vec::new(),
                }
            })
        }
        fn cname<'a>(&'a self, _name: &'a str) -> DnsFuture<'a, Lookup<String>> {
            Box::pin(async { Lookup::NoData })
        }
        fn ptr(&self, ip: IpAddr) -> DnsFuture<'_, Lookup<String>> {
            SpfDns::ptr(&self.0, ip)
        }
        fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Lookup<String>> {
            SpfDns::txt(&self.0, name)
        }
        fn dnsbl_a<'a>(&'a self, _query_name: &'a str) -> DnsFuture<'a, Lookup<Ipv4Addr>> {
            Box::pin(async {
                Lookup::Failed {
                    failure: DnsFailure::Other,
                    detail: "not in this test".to_owned(),
                }
            })
        }
        fn label(&self) -> String {
            "zone".to_owned()
        }
    }

    #[tokio::test]
    async fn check_host_through_a_dns_source() {
        let mut zone = MemoryZone::new();
        zone.add_txt("example.test", "v=spf1 mx a:relay.example.test -all")
            .add_mx("example.test", 10, "mx.example.test")
            .add_a("mx.example.test", "192.0.2.10".parse().unwrap())
            .add_aaaa("relay.example.test", "2001:db8::25".parse().unwrap())
            .add_ptr("192.0.2.10".parse().unwrap(), "mx.example.test");
        let source = ZoneSource(zone);
        let dns = DnsSourceAdapter(&source);
        let run = |ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            async move { check_host(ip, "example.test", "a@example.test", "h.example", &dns).await }
        };
        assert_eq!(run("192.0.2.10").await.result, SpfResult::Pass);
        assert_eq!(run("2001:db8::25").await.result, SpfResult::Pass);
        assert_eq!(run("192.0.2.11").await.result, SpfResult::Fail);
        assert_eq!(
            dns.ptr("192.0.2.10".parse().unwrap()).await,
            Lookup::Answer {
                records: vec!["mx.example.test".to_owned()]
            }
        );
    }
}
