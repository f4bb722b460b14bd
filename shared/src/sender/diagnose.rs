//! The pure sender diagnosis: [`SenderFacts`] in, [`SenderReport`] out, no I/O, no clock.
//!
//! - Reverse DNS: `sender.no_ptr`, `sender.ptr_mismatch`, `sender.ptr_generic` (a failed lookup
//!   is `dns.lookup_failed`, inconclusive — never "missing").
//! - The HELO name: `sender.helo_unresolvable`, `sender.helo_mismatch`.
//! - Blocklists: `sender.listed` (error for abuse lists and for policy lists that forbid
//!   direct-to-MX sending, warning for other policy listings); a list that cannot answer us is
//!   `dnsbl.unavailable` about this machine.
//! - The envelope sender domain: `dns.nxdomain` / `dns.lookup_failed` for the domain itself,
//!   its own `spf.*` and `dmarc.*` findings, and `check_host()` of the IP:
//!   `sender.spf_fail`, `sender.spf_softfail`, `sender.spf_neutral`, `sender.spf_error`
//!   (temperror is `spf.lookup_failed`).

use std::net::IpAddr;

use super::checklist::checklist;
use super::facts::{DomainAuthFacts, SenderFacts};
use super::{SenderReport, verdict};
use crate::auth::AuthFacts;
use crate::dnsbl::{ListingKind, SendingListing, sending_listings};
use crate::facts::{Facts, Lookup, PtrFacts};
use crate::finding::{Code, Finding, Severity, THIS_MACHINE};
use crate::identity::{
    HeloForm, HeloResolution, PtrState, generic_ptr, helo_form, helo_resolution, is_ptr_name,
    ptr_state,
};
use crate::spf::{SpfEvaluation, SpfResult, TraceNode};

/// The most lines of the SPF evaluation trace shown as evidence.
const MAX_TRACE_LINES: usize = 24;

/// Diagnoses recorded sender facts; `elapsed_ms` is how long the probing took.
pub fn diagnose_sender(facts: &SenderFacts, elapsed_ms: u64) -> SenderReport {
    let findings = findings(facts);
    let verdict = verdict(&findings, facts.partial.is_some());
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .filter(|s| s.is_fault() || *s == Severity::Info)
        .max();
    SenderReport {
        ip: facts.ip.to_string(),
        helo: facts.helo.clone(),
        domain: facts.domain.as_ref().map(|d| d.domain.clone()),
        verdict,
        worst,
        checklist: checklist(facts),
        findings,
        error: None,
        resolver: facts.resolver.clone(),
        elapsed_ms,
        facts: Some(facts.clone()),
        partial: facts.partial.clone(),
    }
}

/// Every finding for the facts, worst first (stable within a severity: in the order found).
pub fn findings(facts: &SenderFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    reverse_dns(facts, &mut out);
    helo(facts, &mut out);
    listings(facts, &mut out);
    if let Some(domain) = &facts.domain {
        sender_domain(facts, domain, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// `A` for an IPv4 address, `AAAA` for IPv6.
const fn address_record(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "A" } else { "AAAA" }
}

/// The name to suggest for the server: its forward-confirmed, non-generic PTR name, else the
/// HELO name when it is a name, else `mail.<domain>`.
fn suggested_name(f: &SenderFacts) -> String {
    if let Some(ptr) = &f.ptr
        && ptr_state(ptr, f.ip) == PtrState::Confirmed
        && let Some(name) = ptr
            .forward
            .iter()
            .find(|c| c.lookup.records().contains(&f.ip) && generic_ptr(&c.name, f.ip).is_none())
    {
        return name.name.clone();
    }
    if let Some(helo) = &f.helo
        && helo_form(helo) == HeloForm::Name
    {
        return helo.clone();
    }
    match &f.domain {
        Some(d) => format!("mail.{}", d.domain),
        None => "mail.example.com".to_owned(),
    }
}

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

fn reverse_dns(f: &SenderFacts, out: &mut Vec<Finding>) {
    let Some(ptr) = &f.ptr else { return };
    let ip = f.ip;
    let subject = ip.to_string();
    let rr = address_record(ip);
    let name = suggested_name(f);
    match ptr_state(ptr, ip) {
        PtrState::LookupFailed => out.push(
            Finding::new(Code::DnsLookupFailed, &subject, format!("the reverse DNS (PTR) lookup of {ip} failed"))
                .evidence(format!("PTR {ip}: {}", ptr.lookup.describe()))
                .advice("Not proof that the PTR is missing. Receivers whose lookup fails too usually defer the mail (4xx) and retry. Check again later; if it keeps failing, the name servers of the reverse zone (your provider's) are broken."),
        ),
        PtrState::Missing => out.push(
            Finding::new(Code::SenderNoPtr, &subject, format!("{ip} has no reverse DNS (PTR) record"))
                .evidence(format!("PTR {ip}: {}", ptr.lookup.describe()))
                .advice(format!(
                    "Receivers look up the PTR of every connecting address: Gmail refuses mail without one (550-5.7.25), Outlook and most others junk or refuse it. The PTR is set by whoever holds the address block — your hosting or cloud provider, or your ISP (its control panel calls it \"reverse DNS\", \"rDNS\" or \"PTR\"; a business line: ask support) — not at your domain's DNS host or registrar. Set it to your mail server's name ({name}), and make sure that name's {rr} record points back to {ip}.{v6}",
                    v6 = if ip.is_ipv6() { " An IPv6 sender needs this for its IPv6 address too (or send over IPv4)." } else { "" }
                )),
        ),
        PtrState::ForwardFailed => out.push(
            Finding::new(Code::DnsLookupFailed, &subject, format!("could not confirm the PTR name of {ip}: its forward lookup failed"))
                .evidence_lines(ptr_evidence(ip, ptr))
                .advice("Not proof of a mismatch; check again later."),
        ),
        PtrState::NotConfirmed => out.push(
            Finding::new(Code::SenderPtrMismatch, &subject, format!("the PTR name of {ip} does not resolve back to it (FCrDNS fails)"))
                .evidence_lines(ptr_evidence(ip, ptr))
                .advice(format!(
                    "Receivers check that the PTR name resolves back to the connecting address (forward-confirmed reverse DNS; Gmail: 550-5.7.25 \"the corresponding forward DNS entry does not point to the sending IP\"). Add an {rr} record {} → {ip} in that name's zone, or have the provider change the PTR of {ip} to a name whose {rr} record is {ip} — ideally the server's HELO name ({name}).",
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
            Finding::new(Code::SenderPtrGeneric, &subject, format!("the PTR name of {ip} looks like a dynamic or end-user address"))
                .evidence_lines(generic)
                .advice(format!(
                    "A name like this tells receivers \"an end-user or dynamic line\": many refuse or junk mail such addresses deliver directly, and policy blocklists (Spamhaus PBL) often list them too. Either get a static address with a PTR of your own — your mail server's name ({name}), the same name it uses in HELO, resolving back to {ip} — from the provider, or send through your provider's smarthost or a relay service (port 587 with authentication: Postfix `relayhost`, Exchange a smart host on the Send connector) instead of delivering directly."
                )),
        );
    }
}

/// How to set the HELO name in the common servers.
fn helo_howto(name: &str) -> String {
    format!(
        "Postfix: `smtp_helo_name = {name}` (or `myhostname = {name}`) in main.cf, then `postfix reload`; Exim: `helo_data = {name}` on the remote_smtp transport (or `primary_hostname = {name}`); Exchange: the FQDN of the Internet Send connector (`Set-SendConnector \"Internet\" -Fqdn {name}`); a firewall or appliance: its \"SMTP hostname\" / \"HELO name\" setting."
    )
}

fn helo(f: &SenderFacts, out: &mut Vec<Finding>) {
    let Some(helo) = &f.helo else { return };
    let ip = f.ip;
    let rr = address_record(ip);
    let name = suggested_name(f);
    let fix = |what: &str| {
        format!(
            "Receivers look the HELO name up (the seed: \"announce your publicly resolvable name\"); Postfix's reject_unknown_helo_hostname / reject_non_fqdn_helo_hostname and many filters refuse {what}. Make the server say a public name whose {rr} record is {ip} — ideally its PTR name ({name}). {}",
            helo_howto(&name)
        )
    };
    let unresolvable = |summary: String| {
        Finding::new(Code::SenderHeloUnresolvable, helo, summary).evidence(format!("HELO {helo}"))
    };
    match helo_form(helo) {
        HeloForm::AddressLiteral(_) => out.push(
            unresolvable(format!("the HELO name {helo} is an address literal, not a name"))
                .advice(fix("or score such a HELO")),
        ),
        HeloForm::BareAddress(_) => out.push(
            unresolvable(format!("the HELO name {helo} is a bare IP address, not a name"))
                .advice(fix("a bare address (not even valid syntax: RFC 5321 wants a name or a bracketed literal)")),
        ),
        HeloForm::NotQualified => out.push(
            unresolvable(format!("the HELO name {helo} is not a fully qualified name"))
                .advice(fix("a name without a domain (`localhost`, the machine's short name)")),
        ),
        HeloForm::NonPublic(suffix) => out.push(
            unresolvable(format!("the HELO name {helo} is not a public name (.{suffix})"))
                .advice(fix("an internal name (a Windows domain `.local`, `.lan`, `.internal`)")),
        ),
        HeloForm::Name => {
            let Some(lookups) = &f.helo_lookups else { return };
            match helo_resolution(lookups) {
                HeloResolution::Unresolvable => out.push(
                    unresolvable(format!("the HELO name {helo} does not resolve"))
                        .evidence(format!(
                            "A {helo}: {}; AAAA {helo}: {}",
                            lookups.a.describe(),
                            lookups.aaaa.describe()
                        ))
                        .advice(fix("a name that does not resolve (450 4.7.1 Helo command rejected: Host not found)")),
                ),
                HeloResolution::LookupFailed => out.push(
                    Finding::new(Code::DnsLookupFailed, helo, format!("the lookup of the HELO name {helo} failed"))
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
                        Finding::new(Code::SenderHeloMismatch, helo, format!("the HELO name {helo} does not resolve to {ip} and is not its PTR name"))
                            .evidence(format!(
                                "{helo} resolves to {}",
                                ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                            ))
                            .evidence(ptr_line)
                            .advice(format!(
                                "Some receivers refuse or score a HELO name that neither resolves to the connecting address nor is its PTR name (the seed: \"some servers will disconnect you if your publicly resolvable name doesn't match what you type on the HELO line\"). Either point {helo}'s {rr} record at {ip} (if that is this server's own name), or have the server say {name}. {}",
                                helo_howto(&name)
                            )),
                    );
                }
            }
        }
    }
}

fn listing_advice(ip: IpAddr, l: &SendingListing) -> String {
    let delist = &l.delist;
    match (l.kind, l.direct_to_mx) {
        (ListingKind::Abuse, _) => format!(
            "Receivers that use {} refuse mail from {ip} (the seed: \"if you get disconnected after MAIL FROM, you probably have an RBL problem on your sending IP\"). Find out why it was listed first — the list's lookup page says: usually a compromised mailbox or password sending spam, an infected machine behind the same address (NAT), an open relay, or a web form that mails anyone. Fix that, then request removal at {delist}. Until then, send through another, clean relay.",
            l.zone
        ),
        (ListingKind::Policy, true) => format!(
            "{} says {ip} is in an end-user range that should not deliver mail directly to receivers (Spamhaus PBL: an office, home or dynamic line), and receivers that use it refuse such direct mail. Send through your provider's smarthost (its SMTP server on port 587 with authentication: Postfix `relayhost`, Exchange a smart host on the Send connector, a firewall's \"relay\" setting). If this is a static address meant for a mail server, ask the ISP to take it out of the PBL, or use the PBL removal at {delist}.",
            l.zone
        ),
        (ListingKind::Policy, false) => format!(
            "A policy listing, not an accusation of spam, but some receivers score it. If {ip} should send mail directly, ask the range owner to update the listing ({delist}); otherwise send through your provider's smarthost."
        ),
    }
}

fn listings(f: &SenderFacts, out: &mut Vec<Finding>) {
    if !f.dnsbl_enabled {
        return;
    }
    let ip = f.ip;
    let (listed, unavailable) = sending_listings(&f.dnsbl, &f.dnsbl_zones);
    for l in &listed {
        let codes: Vec<String> = l.codes.iter().map(ToString::to_string).collect();
        let what = match (l.kind, l.direct_to_mx) {
            (ListingKind::Abuse, _) => "an abuse listing",
            (ListingKind::Policy, true) => "a policy listing: no direct-to-MX sending",
            (ListingKind::Policy, false) => "a policy listing",
        };
        out.push(
            Finding::new(
                Code::SenderListed,
                ip.to_string(),
                format!("{ip} is listed on {} ({what})", l.zone),
            )
            .severity(if l.blocks_sending() {
                Severity::Error
            } else {
                Severity::Warning
            })
            .evidence(format!("{} -> {}", l.query, codes.join(", ")))
            .evidence_lines(l.meanings.iter().cloned())
            .evidence_lines(l.txt.iter().map(|t| format!("TXT: {t}")))
            .evidence(format!("look up and delist: {}", l.delist))
            .advice(listing_advice(ip, l)),
        );
    }
    let mut zones: Vec<(String, Vec<String>)> = Vec::new();
    for (zone, reason) in unavailable {
        match zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, reasons)) => reasons.push(reason),
            None => zones.push((zone, vec![reason])),
        }
    }
    for (zone, reasons) in zones {
        out.push(
            Finding::new(Code::DnsblUnavailable, THIS_MACHINE, format!("the blocklist {zone} could not answer our resolver: whether {ip} is listed there is unknown"))
                .evidence_lines(reasons)
                .advice("This is about our resolver, not the sender. Blocklists refuse queries from public or unregistered resolvers: use your own recursive resolver or the list's registered/keyed access, or look the address up on the list's own page."),
        );
    }
}

fn sender_domain(f: &SenderFacts, d: &DomainAuthFacts, out: &mut Vec<Finding>) {
    let domain = &d.domain;
    match &d.mx {
        Lookup::NxDomain => out.push(
            Finding::new(Code::DnsNxdomain, domain, format!("the sender domain {domain} does not exist"))
                .evidence(format!("MX {domain}: NXDOMAIN"))
                .advice(format!("Receivers refuse mail whose envelope sender domain does not exist (Postfix reject_unknown_sender_domain: 550 5.1.8 Domain not found; Gmail and Outlook likewise), and bounces could not come back. Send as an address in a domain that exists, or register {domain} and publish its records.")),
        ),
        Lookup::Failed { .. } => out.push(
            Finding::new(Code::DnsLookupFailed, domain, format!("the MX lookup of the sender domain {domain} failed"))
                .evidence(format!("MX {domain}: {}", d.mx.describe()))
                .advice("Receivers whose lookups fail too defer the mail (450 4.1.8 Domain not found, temporarily). Check that all the domain's name servers answer; then check again."),
        ),
        _ => {}
    }
    // The domain's own record findings, exactly as the domain check reports them.
    let mut facts = Facts::new(
        domain.as_str(),
        f.observed_at,
        crate::facts::ProbeScope::default(),
    );
    facts.mx = d.mx.clone();
    facts.auth = Some(AuthFacts {
        spf: d.spf.clone(),
        spf_ips: d.spf_ips.clone(),
        dmarc: d.dmarc.clone(),
        ..AuthFacts::default()
    });
    crate::diagnose::spf_dmarc_findings(&facts, out);
    if let Some(e) = d.spf.as_ref().and_then(|s| s.evaluation.as_ref()) {
        spf_result(f, d, e, out);
    }
}

/// The evaluation as evidence: the call, the records, the tree as evaluated, what decided.
fn spf_evidence(e: &SpfEvaluation) -> Vec<String> {
    let mut lines = vec![format!(
        "check_host({}, {}, {}) = {}",
        e.ip, e.domain, e.sender, e.result
    )];
    for r in &e.trace.root.records {
        lines.push(format!("TXT {}: {r}", e.trace.root.domain));
    }
    if e.trace.root.records.is_empty() && !e.trace.root.lookup.is_empty() {
        lines.push(format!(
            "TXT {}: {}",
            e.trace.root.domain, e.trace.root.lookup
        ));
    }
    if let Some(m) = &e.matched {
        lines.push(format!(
            "decided by `{}` in the record of {}",
            m.term, m.domain
        ));
    }
    if let Some(r) = &e.reason {
        lines.push(format!("why: {r}"));
    }
    if let Some(x) = &e.explanation {
        lines.push(format!("the domain's explanation (exp=): {x}"));
    }
    if !e.trace.root.children.is_empty() {
        lines.push(format!(
            "evaluation: {} DNS-querying term(s), {} void lookup(s)",
            e.trace.dns_terms, e.trace.void_lookups
        ));
        let mut tree = Vec::new();
        trace_lines(&e.trace.root, 0, &mut tree);
        lines.extend(tree);
    }
    lines
}

fn trace_lines(node: &TraceNode, depth: usize, out: &mut Vec<String>) {
    if out.len() >= MAX_TRACE_LINES {
        return;
    }
    let indent = "  ".repeat(depth);
    let head = match &node.term {
        Some(term) => format!("{indent}{term} ({})", node.domain),
        None => format!("{indent}{}", node.domain),
    };
    let matched = node
        .matched
        .as_ref()
        .map_or_else(String::new, |m| format!(", matched `{m}`"));
    out.push(format!("{head}: {}{matched}", node.result));
    for child in &node.children {
        trace_lines(child, depth + 1, out);
    }
    if depth == 0 && out.len() >= MAX_TRACE_LINES {
        out.push("… (the tree goes on)".to_owned());
    }
}

/// The record with `ip4:`/`ip6:` of the sending address put first, as a suggestion.
fn suggested_record(ip: IpAddr, records: &[String]) -> Option<String> {
    let term = match ip {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => format!("ip6:{v6}"),
    };
    let [record] = records else {
        return None;
    };
    let rest = record.get(6..).unwrap_or_default();
    Some(format!("v=spf1 {term}{rest}"))
}

/// The DMARC policy receivers apply to mail from the domain, as evidence.
fn dmarc_line(d: &DomainAuthFacts) -> Option<String> {
    let dmarc = d.dmarc.as_ref()?;
    let lookup = dmarc.policy_lookup()?;
    let record = lookup.record.as_ref()?;
    let policy = record.policy_for(&d.domain, &lookup.domain);
    Some(format!(
        "DMARC of {} ({}): p={policy}",
        d.domain, lookup.name
    ))
}

fn spf_result(f: &SenderFacts, d: &DomainAuthFacts, e: &SpfEvaluation, out: &mut Vec<Finding>) {
    let ip = f.ip;
    let domain = &d.domain;
    let records = &e.trace.root.records;
    let authorize = match suggested_record(ip, records) {
        Some(r) => format!(
            "If {ip} is yours and sends {domain}'s mail, authorize it: put `{}:{ip}` into the record before the `all` term — `{r}` — or, if it is a provider's server, the `include:` its documentation names.",
            if ip.is_ipv4() { "ip4" } else { "ip6" }
        ),
        None => format!(
            "If {ip} is yours and sends {domain}'s mail, publish one SPF record at {domain} that authorizes it: `v=spf1 {}:{ip} -all` (add `mx` and your provider's `include:` as needed).",
            if ip.is_ipv4() { "ip4" } else { "ip6" }
        ),
    };
    let evidence = || {
        let mut lines = spf_evidence(e);
        lines.extend(dmarc_line(d));
        lines
    };
    match e.result {
        SpfResult::Pass => {}
        SpfResult::Fail => out.push(
            Finding::new(Code::SenderSpfFail, domain, format!("SPF fails for {ip} sending as {domain}"))
                .evidence_lines(evidence())
                .advice(format!(
                    "Receivers refuse mail that fails SPF when the domain's DMARC policy says so and no DKIM signature passes (Gmail 550-5.7.26, Outlook 550 5.7.509), and junk most of the rest. {authorize} If {ip} should not send for {domain}, route the mail through the server that is authorized."
                )),
        ),
        SpfResult::SoftFail => out.push(
            Finding::new(Code::SenderSpfSoftfail, domain, format!("SPF soft-fails for {ip} sending as {domain} (`~all`)"))
                .evidence_lines(evidence())
                .advice(format!(
                    "`~all` says \"probably not authorized\": receivers accept but mark the mail, and with DMARC quarantine/reject and no DKIM signature it goes to spam or is refused. {authorize}"
                )),
        ),
        SpfResult::Neutral | SpfResult::None => {
            let summary = if e.result == SpfResult::None {
                format!("{domain} has no SPF record that could authorize {ip}")
            } else {
                format!("SPF is neutral for {ip} sending as {domain}: it is not authorized")
            };
            out.push(
                Finding::new(Code::SenderSpfNeutral, domain, summary)
                    .evidence_lines(evidence())
                    .advice(format!(
                        "SPF does not vouch for {ip}, so the mail passes DMARC only with a DKIM signature of {domain}; with DMARC p=reject or p=quarantine and no DKIM it is refused or junked, and Gmail and Yahoo require SPF or DKIM from every sender. {authorize}"
                    )),
            );
        }
        SpfResult::PermError => out.push(
            Finding::new(Code::SenderSpfError, domain, format!("the SPF record of {domain} cannot be evaluated for {ip} (permerror)"))
                .evidence_lines(evidence())
                .advice(format!(
                    "Receivers treat a permanent SPF error like a failure (and DMARC may reject the mail). Fix the record of {domain} first — the spf.* finding says where it breaks — then check again."
                )),
        ),
        SpfResult::TempError => {
            let known = out
                .iter()
                .any(|x| x.code == Code::SpfLookupFailed && x.subject == *domain);
            if !known {
                out.push(
                    Finding::new(Code::SpfLookupFailed, domain, format!("SPF could not be evaluated for {ip}: a lookup it needs failed (temperror)"))
                        .evidence_lines(spf_evidence(e))
                        .advice("Receivers defer mail on a temporary SPF error (451 4.7.24). Check that the name servers of every name the record reaches answer; then check again."),
                );
            }
        }
    }
}
