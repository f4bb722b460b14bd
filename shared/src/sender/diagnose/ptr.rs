//! The sending IP's reverse DNS: `sender.no_ptr`, `sender.ptr_mismatch` (FCrDNS fails),
//! `sender.ptr_generic` (a dynamic or end-user name); a failed lookup is `dns.lookup_failed`.

use std::net::IpAddr;

use super::{address_record, suggested_name};
use crate::facts::{Lookup, PtrFacts};
use crate::finding::{Code, Finding};
use crate::identity::{PtrState, generic_ptr, ptr_state};
use crate::sender::SenderFacts;

fn ptr_evidence(ip: IpAddr, ptr: &PtrFacts) -> Vec<String> {
    let mut lines = vec![format!(
        "PTR {ip}: {}",
        if ptr.names().is_empty() {
            ptr.lookup.describe()
        } else {
            ptr.names().join(", ")
        }
    )];
    lines.extend(ptr.forward.iter().map(|c| {
        format!(
            "{} {}: {}",
            address_record(ip),
            c.name,
            describe_ips(&c.lookup)
        )
    }));
    lines
}

fn describe_ips(lookup: &Lookup<IpAddr>) -> String {
    match lookup {
        Lookup::Answer { records } if !records.is_empty() => records
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.describe(),
    }
}

pub(super) fn reverse_dns(f: &SenderFacts, out: &mut Vec<Finding>) {
    let Some(ptr) = &f.ptr else { return };
    let ip = f.ip;
    let subject = ip.to_string();
    let rr = address_record(ip);
    let name = suggested_name(f);
    match ptr_state(ptr, ip) {
        PtrState::LookupFailed => out.push(
            Finding::new(
                Code::DnsLookupFailed,
                &subject,
                format!("the reverse DNS (PTR) lookup of {ip} failed"),
            )
            .evidence(format!("PTR {ip}: {}", ptr.lookup.describe()))
            .advice(
                "Not proof that the PTR is missing. Receivers whose lookup fails too usually \
                 defer the mail (4xx) and retry. Check again later; if it keeps failing, the name \
                 servers of the reverse zone (your provider's) are broken.",
            ),
        ),
        PtrState::Missing => out.push(
            Finding::new(
                Code::SenderNoPtr,
                &subject,
                format!("{ip} has no reverse DNS (PTR) record"),
            )
            .evidence(format!("PTR {ip}: {}", ptr.lookup.describe()))
            .advice(format!(
                "Receivers look up the PTR of every connecting address: Gmail refuses mail \
                 without one (550-5.7.25), Outlook and most others junk or refuse it. The PTR is \
                 set by whoever holds the address block — your hosting or cloud provider, or your \
                 ISP (its control panel calls it \"reverse DNS\", \"rDNS\" or \"PTR\"; a business \
                 line: ask support) — not at your domain's DNS host or registrar. Set it to your \
                 mail server's name ({name}), and make sure that name's {rr} record points back \
                 to {ip}.{v6}",
                v6 = if ip.is_ipv6() {
                    " An IPv6 sender needs this for its IPv6 address too (or send over IPv4)."
                } else {
                    ""
                }
            )),
        ),
        PtrState::ForwardFailed => out.push(
            Finding::new(
                Code::DnsLookupFailed,
                &subject,
                format!("could not confirm the PTR name of {ip}: its forward lookup failed"),
            )
            .evidence_lines(ptr_evidence(ip, ptr))
            .advice("Not proof of a mismatch; check again later."),
        ),
        PtrState::NotConfirmed => out.push(
            Finding::new(
                Code::SenderPtrMismatch,
                &subject,
                format!("the PTR name of {ip} does not resolve back to it (FCrDNS fails)"),
            )
            .evidence_lines(ptr_evidence(ip, ptr))
            .advice(format!(
                "Receivers check that the PTR name resolves back to the connecting address \
                 (forward-confirmed reverse DNS; Gmail: 550-5.7.25 \"the corresponding forward \
                 DNS entry does not point to the sending IP\"). Add an {rr} record {} → {ip} in \
                 that name's zone, or have the provider change the PTR of {ip} to a name whose \
                 {rr} record is {ip} — ideally the server's HELO name ({name}).",
                ptr.names().first().map_or("(the PTR name)", String::as_str)
            )),
        ),
        PtrState::Confirmed => {}
    }
    let generic: Vec<String> = ptr
        .names()
        .iter()
        .filter_map(|n| generic_ptr(n, ip).map(|why| format!("PTR {ip}: {n} — {why}")))
        .collect();
    if !generic.is_empty() {
        out.push(
            Finding::new(
                Code::SenderPtrGeneric,
                &subject,
                format!("the PTR name of {ip} looks like a dynamic or end-user address"),
            )
            .evidence_lines(generic)
            .advice(format!(
                "A name like this tells receivers \"an end-user or dynamic line\": many refuse or \
                 junk mail such addresses deliver directly, and policy blocklists (Spamhaus PBL) \
                 often list them too. Either get a static address with a PTR of your own — your \
                 mail server's name ({name}), the same name it uses in HELO, resolving back to \
                 {ip} — from the provider, or send through your provider's smarthost or a relay \
                 service (port 587 with authentication: Postfix `relayhost`, Exchange a smart \
                 host on the Send connector) instead of delivering directly."
            )),
        );
    }
}
