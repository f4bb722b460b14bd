//! Step 2 of `plan`: each domain's MX addresses (MX, then A/AAAA of every host; DNS only), as
//! the audit would probe them.

use std::io::IsTerminal as _;
use std::net::IpAddr;
use std::sync::Arc;

use futures::StreamExt as _;
use mailcheck::DomainName;
use mailcheck::facts::{AddressScope, Lookup};
use mailcheck::probe::dns::DnsSource;
use mailcheck::probe::mx::{MailHosts, MxCollector};

/// What DNS gave for one domain.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub(super) addresses: Vec<IpAddr>,
    pub(super) failed: bool,
    pub(super) private_ignored: Vec<IpAddr>,
}

/// Resolves every domain's mail hosts (MX, then A/AAAA of each host), `concurrency` at a time.
pub(super) async fn resolve_all(
    dns: Arc<dyn DnsSource>,
    domains: &[DomainName],
    concurrency: usize,
    allow_private: bool,
) -> Vec<Resolved> {
    let collector = Arc::new(MxCollector::new(dns));
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(domains.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "resolving MX {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    let mut out: Vec<Resolved> = (0..domains.len()).map(|_| Resolved::default()).collect();
    let mut results = futures::stream::iter(domains.iter().enumerate())
        .map(|(i, d)| {
            let collector = Arc::clone(&collector);
            async move { (i, collector.collect(d).await) }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, hosts)) = results.next().await {
        out[i] = addresses(&hosts, allow_private);
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// The addresses the audit would probe for these mail hosts, and whether a lookup failed.
pub(super) fn addresses(hosts: &MailHosts, allow_private: bool) -> Resolved {
    let mut r = Resolved {
        failed: matches!(hosts.mx, Lookup::Failed { .. })
            || hosts.implicit.as_ref().is_some_and(|l| l.any_failed()),
        ..Resolved::default()
    };
    for host in &hosts.hosts {
        r.failed |= host.lookups.any_failed();
        for a in &host.addresses {
            let private = AddressScope::of(a.ip).is_private() && !allow_private;
            let list = if private {
                &mut r.private_ignored
            } else {
                &mut r.addresses
            };
            if !list.contains(&a.ip) {
                list.push(a.ip);
            }
        }
    }
    r
}
