//! DNS and MX findings: `dns.nxdomain`, `dns.lookup_failed`, `mx.*`.

use crate::facts::{Facts, HostFacts, Lookup};
use crate::finding::{Code, Finding};

pub(super) fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let domain = facts.domain.as_str();
    match &facts.mx {
        Lookup::NxDomain => {
            out.push(
                Finding::new(
                    Code::DnsNxdomain,
                    domain,
                    format!("{domain} does not exist in DNS"),
                )
                .evidence(format!("MX {domain}: NXDOMAIN from {}", facts.resolver))
                .advice(
                    "Check the spelling of the domain. If it is right, the domain is not \
                     registered or its DNS zone is not delegated: renew it at the registrar \
                     or fix its name servers.",
                ),
            );
        }
        Lookup::Failed { .. } => {
            out.push(
                Finding::new(
                    Code::DnsLookupFailed,
                    domain,
                    format!("the MX lookup for {domain} failed, so nothing could be checked"),
                )
                .evidence(format!(
                    "MX {domain}: {} via {}",
                    facts.mx.describe(),
                    facts.resolver
                ))
                .advice(
                    "This is a DNS failure, not proof of a missing MX. Try again; if it persists, \
                     the domain's name servers are broken or unreachable (lame delegation, DNSSEC \
                     failure, all name servers down), which also stops mail.",
                ),
            );
        }
        Lookup::NoData => {
            implicit(facts, out);
            hosts(facts, out);
            reach(facts, out);
        }
        Lookup::Answer { records } if records.is_empty() => {
            implicit(facts, out);
            hosts(facts, out);
            reach(facts, out);
        }
        Lookup::Answer { records } => {
            let nulls: Vec<_> = records.iter().filter(|r| r.exchange == ".").collect();
            let listed: Vec<String> = records
                .iter()
                .map(|r| format!("MX {} {}", r.preference, r.exchange))
                .collect();
            if !nulls.is_empty() {
                if records.len() == 1 {
                    out.push(
                        Finding::new(
                            Code::MxNull,
                            domain,
                            format!("{domain} publishes a null MX: it accepts no mail, on purpose"),
                        )
                        .evidence_lines(listed.iter().cloned())
                        .advice(
                            "Nothing to do if the domain should not receive mail (RFC 7505). If it \
                             should, replace the null MX with the real mail servers.",
                        ),
                    );
                } else {
                    out.push(
                        Finding::new(
                            Code::MxNullMixed,
                            domain,
                            "a null MX (\"0 .\") is published together with other MX records",
                        )
                        .evidence_lines(listed.iter().cloned())
                        .advice(
                            "A null MX means \"no mail\" and must be the only MX record (RFC \
                             7505). Remove the `0 .` record if the domain receives mail, or remove \
                             the others if it does not.",
                        ),
                    );
                }
            }
            hosts(facts, out);
            if nulls.is_empty() || records.len() > 1 {
                reach(facts, out);
            }
            let real: Vec<&HostFacts> = facts.hosts.iter().filter(|h| !h.implicit).collect();
            let any_real_record = records.iter().any(|r| r.exchange != ".");
            let usable = real.iter().any(|h| {
                h.addresses
                    .iter()
                    .any(|a| facts.scope.allow_private || !a.scope.is_private())
            });
            let any_failed = real
                .iter()
                .any(|h| !h.ip_literal && h.addresses.is_empty() && h.lookups.any_failed());
            if any_real_record && !usable && !any_failed {
                out.push(
                    Finding::new(
                        Code::MxAllUnusable,
                        domain,
                        "no MX host has a usable address: mail cannot be delivered",
                    )
                    .evidence_lines(listed)
                    .evidence_lines(
                        real.iter()
                            .map(|h| format!("{}: {}", h.host, host_addresses(h))),
                    )
                    .advice(
                        "Senders will not fall back to the domain's own A record when MX records \
                         exist. Give the MX hosts public A/AAAA records (loopback and private \
                         addresses cannot be reached from the Internet; `MX 10 localhost.` \
                         is a placeholder, not a mail server), or point the MX records \
                         at hosts that have them.",
                    ),
                );
            }
        }
    }
}

/// A host's addresses with their scope, or what its lookups said.
fn host_addresses(h: &HostFacts) -> String {
    if h.ip_literal {
        return "an IP address written as a name".to_owned();
    }
    if h.addresses.is_empty() {
        return format!(
            "A {}; AAAA {}",
            h.lookups.a.describe(),
            h.lookups.aaaa.describe()
        );
    }
    h.addresses
        .iter()
        .map(|a| format!("{} ({})", a.ip, a.scope.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mx.no_ipv4`: mail hosts with addresses, none of them IPv4 (and every A lookup definite),
/// and `mx.not_all_checked`.
fn reach(facts: &Facts, out: &mut Vec<Finding>) {
    let domain = facts.domain.as_str();
    let hosts: Vec<&HostFacts> = facts.hosts.iter().filter(|h| !h.ip_literal).collect();
    let any_address = hosts.iter().any(|h| !h.addresses.is_empty());
    let any_v4 = hosts
        .iter()
        .any(|h| h.addresses.iter().any(|a| a.ip.is_ipv4()));
    let a_definite = hosts.iter().all(|h| !h.lookups.a.is_failed());
    if any_address && !any_v4 && a_definite {
        out.push(
            Finding::new(
                Code::MxNoIpv4,
                domain,
                format!(
                    "no mail host of {domain} has an IPv4 address: IPv4-only senders cannot deliver"
                ),
            )
            .evidence_lines(hosts.iter().map(|h| {
                format!(
                    "{}: A {}; AAAA {}",
                    h.host,
                    h.lookups.a.describe(),
                    super::describe_ips(&h.lookups.aaaa)
                )
            }))
            .advice(
                "Most of the Internet's mail servers still send over IPv4 only. Give at least one \
                 MX host an A record (dual stack), or add an MX host that has one.",
            ),
        );
    }
    if !facts.not_checked.is_empty() {
        out.push(
            Finding::new(
                Code::MxNotAllChecked,
                domain,
                format!(
                    "{domain} has more mail hosts or addresses than are probed in \
                     one check: {} not checked",
                    facts.not_checked.len()
                ),
            )
            .evidence_lines(facts.not_checked.iter().cloned())
            .advice(
                "Only the first hosts and addresses by preference are probed, so one check never \
                 turns into a scan. Check the rest from your own network if they matter.",
            ),
        );
    }
}

fn implicit(facts: &Facts, out: &mut Vec<Finding>) {
    let domain = facts.domain.as_str();
    let Some(lookups) = &facts.implicit else {
        return;
    };
    let ips = lookups.ips();
    let evidence = [
        format!("MX {domain}: {}", facts.mx.describe()),
        format!("A {domain}: {}", super::describe_ips(&lookups.a)),
        format!("AAAA {domain}: {}", super::describe_ips(&lookups.aaaa)),
    ];
    if !ips.is_empty() {
        out.push(
            Finding::new(
                Code::MxMissing,
                domain,
                format!("{domain} has no MX record; senders fall back to its A/AAAA address"),
            )
            .evidence_lines(evidence)
            .advice(format!(
                "Publish an MX record (e.g. `{domain}. MX 10 mail.{domain}.`) naming the server \
                 that should receive mail. The implicit fallback works (RFC 5321 §5.1), but many \
                 senders and filters treat a domain without MX as suspicious."
            )),
        );
    } else if lookups.any_failed() {
        out.push(
            Finding::new(
                Code::DnsLookupFailed,
                domain,
                format!("{domain} has no MX, and the A/AAAA fallback lookup failed"),
            )
            .evidence_lines(evidence)
            .advice(
                "Try again later; if it persists, the domain's name servers are \
                 not answering reliably.",
            ),
        );
    } else {
        out.push(
            Finding::new(
                Code::MxNoMailHost,
                domain,
                format!(
                    "{domain} has no MX and no A/AAAA record: there is nowhere to deliver mail"
                ),
            )
            .evidence_lines(evidence)
            .advice(format!(
                "Publish an MX record for {domain} naming your mail server (and give \
                 that server an A/AAAA record). If the domain should never receive mail, \
                 publish a null MX (`MX 0 .`)."
            )),
        );
    }
}

fn hosts(facts: &Facts, out: &mut Vec<Finding>) {
    for host in &facts.hosts {
        let name = host.host.as_str();
        if host.ip_literal {
            out.push(
                Finding::new(
                    Code::MxIpLiteral,
                    name,
                    format!("the MX target {name} is an IP address, not a host name"),
                )
                .evidence(format!("MX {} {name}", host.preference))
                .advice(format!(
                    "MX records must name a host. Create e.g. `mail.{}` with an A record \
                     {name} and point the MX at it.",
                    facts.domain
                )),
            );
            continue;
        }
        if !host.cname_chain.is_empty() {
            out.push(
                Finding::new(
                    Code::MxCname,
                    name,
                    format!("the MX target {name} is an alias (CNAME)"),
                )
                .evidence(format!("{name} CNAME {}", host.cname_chain.join(" -> ")))
                .advice(format!(
                    "RFC 2181 §10.3 forbids MX targets that are aliases; most senders cope, some \
                     do not. Point the MX record directly at the canonical name ({}).",
                    host.cname_chain.last().map_or(name, String::as_str)
                )),
            );
        }
        if host.addresses.is_empty() && !host.implicit {
            let evidence = [
                format!("A {name}: {}", super::describe_ips(&host.lookups.a)),
                format!("AAAA {name}: {}", super::describe_ips(&host.lookups.aaaa)),
            ];
            if host.lookups.any_failed() {
                out.push(
                    Finding::new(
                        Code::DnsLookupFailed,
                        name,
                        format!("the address lookup for MX host {name} failed"),
                    )
                    .evidence_lines(evidence)
                    .advice(
                        "Not proof that the host is missing; try again. If it persists, the \
                         host's DNS zone is broken.",
                    ),
                );
            } else {
                out.push(
                    Finding::new(
                        Code::MxUnresolvable,
                        name,
                        format!("the MX host {name} has no A or AAAA record"),
                    )
                    .evidence_lines(evidence)
                    .advice(format!(
                        "Add an A (and/or AAAA) record for {name}, or change the MX record \
                         to a host that has one."
                    )),
                );
            }
        }
        if !facts.scope.allow_private {
            let private: Vec<String> = host
                .addresses
                .iter()
                .filter(|a| a.scope.is_private())
                .map(|a| format!("{name} -> {} ({})", a.ip, a.scope.as_str()))
                .collect();
            if !private.is_empty() {
                out.push(
                    Finding::new(
                        Code::MxPrivateAddress,
                        name,
                        format!("the MX host {name} resolves to a private or reserved address"),
                    )
                    .evidence_lines(private)
                    .advice(
                        "Senders on the Internet cannot reach private, loopback or reserved \
                         addresses. Publish the server's public address in DNS (split-horizon DNS \
                         often leaks internal addresses).",
                    ),
                );
            }
        }
    }
}
