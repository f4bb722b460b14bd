//! Reverse DNS findings: `rdns.missing`, `rdns.mismatch` (and an inconclusive lookup failure).

use crate::facts::{Facts, Lookup};
use crate::finding::{Code, Finding};

pub(super) fn check(facts: &Facts, out: &mut Vec<Finding>) {
    for (host, addr) in facts.addresses() {
        let Some(ptr) = &addr.ptr else { continue };
        let ip = addr.ip;
        let subject = ip.to_string();
        match &ptr.lookup {
            Lookup::Failed { .. } => out.push(
                Finding::new(
                    Code::DnsLookupFailed,
                    &subject,
                    format!("the reverse DNS (PTR) lookup of {ip} failed"),
                )
                .evidence(format!(
                    "PTR {ip} ({}): {}",
                    host.host,
                    ptr.lookup.describe()
                ))
                .advice("Not proof that the PTR is missing; try again later."),
            ),
            l if l.is_negative() => out.push(
                Finding::new(
                    Code::RdnsMissing,
                    &subject,
                    format!("{ip} ({}) has no reverse DNS (PTR) record", host.host),
                )
                .evidence(format!("PTR {ip}: {}", ptr.lookup.describe()))
                .advice(format!(
                    "Ask whoever owns the address block (your hosting provider or ISP, not your \
                     domain registrar) to set the PTR of {ip} to {}, and make sure that name's \
                     A/AAAA points back to {ip}.",
                    host.host
                )),
            ),
            Lookup::Answer { .. } => match ptr.confirms(ip) {
                Some(false) => {
                    let mut evidence = vec![format!("PTR {ip}: {}", ptr.names().join(", "))];
                    evidence.extend(ptr.forward.iter().map(|f| {
                        let what = if ip.is_ipv4() { "A" } else { "AAAA" };
                        format!("{what} {}: {}", f.name, super::describe_ips(&f.lookup))
                    }));
                    out.push(
                        Finding::new(
                            Code::RdnsMismatch,
                            &subject,
                            format!(
                                "the PTR name of {ip} does not resolve back to it (FCrDNS fails)"
                            ),
                        )
                        .evidence_lines(evidence)
                        .advice(format!(
                            "Make the PTR name's {} record point to {ip}, or change the PTR to a \
                             name that does (ideally the MX host name {}). Many receivers reject \
                             mail from addresses without forward-confirmed reverse DNS.",
                            if ip.is_ipv4() { "A" } else { "AAAA" },
                            host.host
                        )),
                    );
                }
                None if ptr.forward.iter().any(|f| f.lookup.is_failed()) => out.push(
                    Finding::new(
                        Code::DnsLookupFailed,
                        &subject,
                        format!(
                            "could not confirm the PTR name of {ip}: its forward lookup failed"
                        ),
                    )
                    .evidence_lines(
                        ptr.forward
                            .iter()
                            .map(|f| format!("{}: {}", f.name, f.lookup.describe())),
                    )
                    .advice("Try again later."),
                ),
                _ => {}
            },
            _ => {}
        }
    }
}
