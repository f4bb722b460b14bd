//! The HELO name the sender uses: `sender.helo_unresolvable` (an address, not qualified, not
//! public, or not resolving) and `sender.helo_mismatch` (neither resolving to the IP nor its PTR
//! name), each with how to set the name in the common servers.

use super::{address_record, suggested_name};
use crate::finding::{Code, Finding};
use crate::identity::{HeloForm, HeloResolution, helo_form, helo_resolution, is_ptr_name};
use crate::sender::SenderFacts;

/// How to set the HELO name in the common servers.
fn helo_howto(name: &str) -> String {
    format!(
        "Postfix: `smtp_helo_name = {name}` (or `myhostname = {name}`) in main.cf, then `postfix \
         reload`; Exim: `helo_data = {name}` on the remote_smtp transport (or `primary_hostname = \
         {name}`); Exchange: the FQDN of the Internet Send connector (`Set-SendConnector \
         \"Internet\" -Fqdn {name}`); a firewall or appliance: its \"SMTP hostname\" / \"HELO \
         name\" setting."
    )
}

pub(super) fn helo(f: &SenderFacts, out: &mut Vec<Finding>) {
    let Some(helo) = &f.helo else { return };
    let ip = f.ip;
    let rr = address_record(ip);
    let name = suggested_name(f);
    let fix = |what: &str| {
        format!(
            "Receivers look the HELO name up (the seed: \"announce your publicly resolvable \
             name\"); Postfix's reject_unknown_helo_hostname / reject_non_fqdn_helo_hostname and \
             many filters refuse {what}. Make the server say a public name whose {rr} record is \
             {ip} — ideally its PTR name ({name}). {}",
            helo_howto(&name)
        )
    };
    let unresolvable = |summary: String| {
        Finding::new(Code::SenderHeloUnresolvable, helo, summary).evidence(format!("HELO {helo}"))
    };
    match helo_form(helo) {
        HeloForm::AddressLiteral(_) => out.push(
            unresolvable(format!(
                "the HELO name {helo} is an address literal, not a name"
            ))
            .advice(fix("or score such a HELO")),
        ),
        HeloForm::BareAddress(_) => out.push(
            unresolvable(format!(
                "the HELO name {helo} is a bare IP address, not a name"
            ))
            .advice(fix("a bare address (not even valid syntax: RFC 5321 \
                         wants a name or a bracketed literal)")),
        ),
        HeloForm::NotQualified => out.push(
            unresolvable(format!(
                "the HELO name {helo} is not a fully qualified name"
            ))
            .advice(fix(
                "a name without a domain (`localhost`, the machine's short name)",
            )),
        ),
        HeloForm::NonPublic(suffix) => out.push(
            unresolvable(format!(
                "the HELO name {helo} is not a public name (.{suffix})"
            ))
            .advice(fix(
                "an internal name (a Windows domain `.local`, `.lan`, `.internal`)",
            )),
        ),
        HeloForm::Name => {
            let Some(lookups) = &f.helo_lookups else {
                return;
            };
            match helo_resolution(lookups) {
                HeloResolution::Unresolvable => out.push(
                    unresolvable(format!("the HELO name {helo} does not resolve"))
                        .evidence(format!(
                            "A {helo}: {}; AAAA {helo}: {}",
                            lookups.a.describe(),
                            lookups.aaaa.describe()
                        ))
                        .advice(fix("a name that does not resolve (450 4.7.1 Helo command \
                                     rejected: Host not found)")),
                ),
                HeloResolution::LookupFailed => out.push(
                    Finding::new(
                        Code::DnsLookupFailed,
                        helo,
                        format!("the lookup of the HELO name {helo} failed"),
                    )
                    .evidence(format!(
                        "A {helo}: {}; AAAA {helo}: {}",
                        lookups.a.describe(),
                        lookups.aaaa.describe()
                    ))
                    .advice("Not proof that the name does not resolve; check again later."),
                ),
                HeloResolution::Resolves(ips) => {
                    let ptr = f.ptr.as_ref();
                    let ptr_unknown = ptr.is_none_or(|p| p.lookup.is_failed());
                    let is_ptr = ptr.is_some_and(|p| is_ptr_name(p, helo));
                    if ips.contains(&ip) || is_ptr || ptr_unknown {
                        return;
                    }
                    let ptr_line = match ptr {
                        Some(p) if !p.names().is_empty() => {
                            format!("PTR {ip}: {}", p.names().join(", "))
                        }
                        Some(p) => format!("PTR {ip}: {}", p.lookup.describe()),
                        None => format!("PTR {ip}: not looked up"),
                    };
                    out.push(
                        Finding::new(
                            Code::SenderHeloMismatch,
                            helo,
                            format!(
                                "the HELO name {helo} does not resolve to {ip} and is not its PTR \
                                 name"
                            ),
                        )
                        .evidence(format!(
                            "{helo} resolves to {}",
                            ips.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .evidence(ptr_line)
                        .advice(format!(
                            "Some receivers refuse or score a HELO name that neither resolves to \
                             the connecting address nor is its PTR name (the seed: \"some servers \
                             will disconnect you if your publicly resolvable name doesn't match \
                             what you type on the HELO line\"). Either point {helo}'s {rr} record \
                             at {ip} (if that is this server's own name), or have the server say \
                             {name}. {}",
                            helo_howto(&name)
                        )),
                    );
                }
            }
        }
    }
}
