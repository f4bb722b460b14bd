//! DNS consistency findings: `dns.lame_delegation` (a delegated name server does not answer
//! authoritatively for the domain) and `dns.inconsistent` (the name servers, or a resolver and
//! the name servers, disagree on the MX set).
//!
//! MX answers are compared as sets of (preference, exchange): the order of the records and
//! their TTLs (which count down in resolver caches) are left out. A timeout is blamed on a name
//! server only when another of the domain's name servers answered us over the same address
//! family. When none answered at all, our own network may be what blocks direct DNS queries
//! (many networks let only their resolver out on port 53): nothing is reported then — the
//! domain is not blamed, and the facts keep what each server did.

use std::collections::BTreeSet;

use crate::auth::AuthFacts;
use crate::auth::consistency::{AskedServer, ConsistencyFacts};
use crate::facts::{DnsFailure, Facts, Lookup, MxRecord};
use crate::finding::{Code, Finding};
use crate::probe::dns::DirectMx;

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    let Some(c) = &auth.consistency else {
        return;
    };
    lame(facts, c, out);
    inconsistent(facts, c, out);
}

/// One server's MX answer as a set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MxView {
    /// The (preference, exchange) pairs.
    Records(BTreeSet<(u16, String)>),
    /// NOERROR without MX records.
    NoMx,
    /// The name does not exist.
    NxDomain,
    /// The name is an alias (a server asked without recursion does not follow it).
    Alias(String),
}

impl MxView {
    fn of(lookup: &Lookup<MxRecord>) -> Option<Self> {
        match lookup {
            Lookup::Answer { records } if !records.is_empty() => Some(Self::Records(
                records
                    .iter()
                    .map(|r| (r.preference, r.exchange.clone()))
                    .collect(),
            )),
            Lookup::Answer { .. } | Lookup::NoData => Some(Self::NoMx),
            Lookup::NxDomain => Some(Self::NxDomain),
            Lookup::Failed { .. } => None,
        }
    }

    fn of_reply(reply: &DirectMx) -> Option<Self> {
        match (&reply.cname, Self::of(&reply.mx)?) {
            (Some(target), Self::NoMx) => Some(Self::Alias(target.clone())),
            (_, view) => Some(view),
        }
    }

    fn show(&self) -> String {
        match self {
            Self::Records(set) => set
                .iter()
                .map(|(p, x)| format!("MX {p} {x}"))
                .collect::<Vec<_>>()
                .join(", "),
            Self::NoMx => "no MX records (NODATA)".to_owned(),
            Self::NxDomain => "NXDOMAIN".to_owned(),
            Self::Alias(target) => format!("CNAME {target}"),
        }
    }
}

/// What one name server address did, for the delegation.
enum Judged {
    /// An authoritative answer.
    Answered(MxView),
    /// A reply that is not an authoritative answer: REFUSED, SERVFAIL, another error code, or
    /// no AA bit.
    Lame(String),
    /// No reply: a timeout or an I/O error.
    Silent(String),
    /// A reply we do not judge (truncated).
    Unjudged,
}

fn judge(reply: &DirectMx) -> Judged {
    if reply.response_code.is_none() {
        return Judged::Silent(match &reply.mx {
            Lookup::Failed {
                failure: DnsFailure::Timeout,
                ..
            } => "no answer in time".to_owned(),
            other => format!("no answer: {}", other.describe()),
        });
    }
    if reply.truncated {
        return Judged::Unjudged;
    }
    match (&reply.mx, reply.authoritative) {
        (
            Lookup::Failed {
                failure: DnsFailure::Refused,
                ..
            },
            _,
        ) => Judged::Lame("REFUSED: it does not serve the zone (to us, at least)".to_owned()),
        (
            Lookup::Failed {
                failure: DnsFailure::ServFail,
                ..
            },
            _,
        ) => Judged::Lame("SERVFAIL: it cannot load or serve the zone".to_owned()),
        (failed @ Lookup::Failed { .. }, _) => Judged::Lame(failed.describe()),
        (_, false) => Judged::Lame(format!(
            "answered without the AA bit, so not from its own copy of the zone (a referral \
             or a cached answer): {}",
            MxView::of_reply(reply).map_or_else(String::new, |v| v.show())
        )),
        (_, true) => MxView::of_reply(reply).map_or(Judged::Unjudged, Judged::Answered),
    }
}

fn lame(facts: &Facts, c: &ConsistencyFacts, out: &mut Vec<Finding>) {
    let domain = facts.domain.as_str();
    let all_asked = || c.servers.iter().flat_map(|ns| ns.answers.iter());
    // An address family over which some name server of the domain replied reaches DNS from here.
    let reached =
        |v4: bool| all_asked().any(|a| a.server.is_ipv4() == v4 && a.reply.response_code.is_some());
    let (reached_v4, reached_v6) = (reached(true), reached(false));
    let mut lame_servers = Vec::new();
    let mut evidence = Vec::new();
    let mut not_judged = Vec::new();
    for ns in &c.servers {
        let mut bad = Vec::new();
        if ns.answers.is_empty() {
            let all = ns.lookups.ips();
            if ns.lookups.both_negative() {
                bad.push(format!(
                    "{}: has no address (A: {}, AAAA: {})",
                    ns.name,
                    ns.lookups.a.describe(),
                    ns.lookups.aaaa.describe()
                ));
            } else if !all.is_empty() {
                // Addresses, none asked: all loopback/private/reserved (not asked unless
                // private addresses are allowed).
                bad.push(format!(
                    "{}: has only loopback/private/reserved addresses ({}), which no resolver \
                     on the Internet can reach",
                    ns.name,
                    all.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for asked in &ns.answers {
            let line = |what: &str| format!("{} ({}): {what}", ns.name, asked.server);
            match judge(&asked.reply) {
                Judged::Lame(what) => bad.push(line(&what)),
                Judged::Silent(what) => {
                    let family_works = if asked.server.is_ipv4() {
                        reached_v4
                    } else {
                        reached_v6
                    };
                    if family_works {
                        bad.push(line(&format!("{what}, while other name servers answered")));
                    } else {
                        not_judged.push(line(&what));
                    }
                }
                Judged::Answered(_) | Judged::Unjudged => {}
            }
        }
        if !bad.is_empty() {
            lame_servers.push(ns.name.clone());
            evidence.extend(bad);
        }
    }
    let delegation = format!(
        "zone {}: name servers {}",
        c.zone,
        c.servers
            .iter()
            .map(|ns| ns.name.as_str())
            .chain(c.not_checked.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !lame_servers.is_empty() {
        let (them, verb) = if lame_servers.len() == 1 {
            ("name server", "does")
        } else {
            ("name servers", "do")
        };
        out.push(
            Finding::new(
                Code::DnsLameDelegation,
                domain,
                format!(
                    "{them} {} {verb} not serve {domain} to the Internet (unreachable, \
                     refusing, or not authoritative)",
                    lame_servers.join(", ")
                ),
            )
            .evidence(delegation)
            .evidence_lines(evidence)
            .evidence_lines(not_judged.iter().map(|l| format!("not judged: {l}")))
            .advice(
                "Every name server listed for the zone (at the registrar and in the zone's own \
                 NS records) must serve it. Resolvers that pick a lame one retry elsewhere or \
                 give up, so some senders see delays or temporary DNS failures and defer or \
                 bounce the mail. Fix the server (load the zone, allow queries from everyone) or \
                 remove it from the delegation.",
            ),
        );
    }
}

fn inconsistent(facts: &Facts, c: &ConsistencyFacts, out: &mut Vec<Finding>) {
    let domain = facts.domain.as_str();
    // The authoritative answers, each with its server.
    let authoritative: Vec<(String, MxView, Option<u32>)> = c
        .servers
        .iter()
        .flat_map(|ns| {
            ns.answers.iter().filter_map(|a| match judge(&a.reply) {
                Judged::Answered(view) => {
                    Some((format!("{} ({})", ns.name, a.server), view, a.reply.ttl))
                }
                _ => None,
            })
        })
        .collect();
    let mut distinct: Vec<&MxView> = Vec::new();
    for (_, view, _) in &authoritative {
        if !distinct.contains(&view) {
            distinct.push(view);
        }
    }
    // The resolvers: the one in use (its answer is the run's MX lookup) and those compared.
    let in_use =
        MxView::of(&facts.mx).map(|v| (format!("resolver in use ({})", facts.resolver), v));
    let compared: Vec<(String, Option<MxView>, &AskedServer)> = c
        .resolvers
        .iter()
        .map(|a| {
            let view = a
                .reply
                .response_code
                .and_then(|_| MxView::of_reply(&a.reply));
            (format!("compared resolver {}", a.server), view, a)
        })
        .collect();
    let mut resolver_views: Vec<(&str, &MxView)> = Vec::new();
    if let Some((label, view)) = &in_use {
        resolver_views.push((label, view));
    }
    for (label, view, _) in &compared {
        if let Some(view) = view {
            resolver_views.push((label, view));
        }
    }

    let summary = match distinct.as_slice() {
        [] => {
            // No authoritative answer to compare with: the resolvers among themselves.
            let first = resolver_views.first().map(|(_, v)| *v);
            if resolver_views.iter().all(|(_, v)| Some(*v) == first) {
                return;
            }
            format!("resolvers give different MX records for {domain}")
        }
        [one] => {
            // A resolver that followed an alias is not compared with the alias itself.
            if matches!(one, MxView::Alias(_)) {
                return;
            }
            let differ: Vec<&str> = resolver_views
                .iter()
                .filter(|(_, v)| v != one)
                .map(|(label, _)| *label)
                .collect();
            if differ.is_empty() {
                return;
            }
            format!(
                "the {} {} MX records for {domain} than its authoritative name servers",
                differ.join(" and the "),
                if differ.len() == 1 {
                    "gives other"
                } else {
                    "give other"
                }
            )
        }
        _ => format!("the authoritative name servers of {domain} disagree on its MX records"),
    };

    let mut evidence: Vec<String> = authoritative
        .iter()
        .map(|(label, view, ttl)| {
            let ttl = ttl.map_or_else(String::new, |t| format!(" (TTL {t} s)"));
            format!("{label}, authoritative: {}{ttl}", view.show())
        })
        .collect();
    if let Some((label, view)) = &in_use {
        evidence.push(format!("{label}: {}", view.show()));
    }
    for (label, view, asked) in &compared {
        evidence.push(match view {
            Some(view) => {
                let ttl = asked
                    .reply
                    .ttl
                    .map_or_else(String::new, |t| format!(" (TTL left: {t} s)"));
                format!("{label}: {}{ttl}", view.show())
            }
            None => format!("{label}: {} (not compared)", asked.reply.mx.describe()),
        });
    }
    let advice = if distinct.len() > 1 {
        "Make every name server of the zone serve the same MX records: a secondary that no longer \
         gets zone transfers (compare the SOA serials), or a change made at one DNS provider but \
         not the other, sends the senders that ask that server to other mail hosts. Until then, \
         delivery depends on which server a sender's resolver happens to ask."
    } else {
        "A resolver keeps an answer for its TTL: if the MX records changed recently, the \
         difference goes away within that time. If it stays, the resolver sees another version of \
         the zone (split-horizon DNS, a stale secondary, a filtering resolver): senders that use \
         it deliver to other hosts. Check with the resolver the sending mail servers really use."
    };
    out.push(
        Finding::new(Code::DnsInconsistent, domain, summary)
            .evidence_lines(evidence)
            .advice(advice),
    );
}

#[cfg(test)]
mod tests;
