//! The sender diagnosis from constructed facts: every `sender.*` code fires on its case and stays
//! silent on its counter-case; failed lookups are inconclusive, never "missing"; the verdict
//! follows the contract's rule. Long on purpose: one test per group of `sender.*` codes (reverse
//! DNS, HELO name, blocklists, SPF, the sender domain), each with its counter-cases, on the facts
//! builders at the top; the diagnosis' `every_code_has_a_scenario_here` reads this file for the
//! sender codes.

use std::net::{IpAddr, Ipv4Addr};

use super::checklist::ChecklistState;
use super::facts::{DomainAuthFacts, SenderFacts};
use super::{SenderQuery, SenderReport, diagnose_sender};
use crate::diagnose::testutil::{answer, dmarc_facts, failed};
use crate::facts::{
    AddressLookups, DnsFailure, DnsblCheck, ForwardCheck, Lookup, MxRecord, PtrFacts, ZoneHealth,
};
use crate::finding::{Code, Severity};
use crate::report::Verdict;
use crate::spf::MemoryZone;

const IP: &str = "45.33.10.25";
const NAME: &str = "mail.example.test";
const DOMAIN: &str = "example.test";
const ZEN: &str = "zen.spamhaus.org";

fn ip() -> IpAddr {
    IP.parse().unwrap()
}

fn ptr_to(names: &[(&str, Lookup<IpAddr>)]) -> PtrFacts {
    PtrFacts {
        lookup: answer(names.iter().map(|(n, _)| (*n).to_owned()).collect()),
        forward: names
            .iter()
            .map(|(n, l)| ForwardCheck {
                name: (*n).to_owned(),
                lookup: l.clone(),
            })
            .collect(),
    }
}

fn resolves(ips: &[&str]) -> AddressLookups {
    AddressLookups {
        a: answer(ips.iter().map(|i| i.parse().unwrap()).collect()),
        aaaa: Lookup::NoData,
    }
}

fn healthy_zone(zone: &str) -> ZoneHealth {
    ZoneHealth {
        zone: zone.to_owned(),
        positive: answer(vec![Ipv4Addr::new(127, 0, 0, 2)]),
        negative: Lookup::NxDomain,
        positive_v6: None,
        negative_v6: None,
    }
}

fn dnsbl_answer(zone: &str, answer: Lookup<Ipv4Addr>) -> DnsblCheck {
    DnsblCheck {
        zone: zone.to_owned(),
        query: crate::dnsbl::query_name(ip(), zone)
            .trim_end_matches('.')
            .to_owned(),
        answer: Some(answer),
        txt: Vec::new(),
    }
}

/// The domain's facts as the probe records them from `zone`: MX, the SPF tree with
/// `check_host()` of [`IP`], the unlisted check, and DMARC `p=reject`.
fn domain_facts(zone: &MemoryZone, dmarc: &[&str]) -> DomainAuthFacts {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (spf, spf_ips) = rt.block_on(async {
        let spf = crate::spf::SpfFacts::collect(DOMAIN, zone)
            .await
            .with_evaluation(ip(), &format!("postmaster@{DOMAIN}"), NAME, zone)
            .await;
        (spf, crate::auth::spf_ips::collect(DOMAIN, &[], zone).await)
    });
    DomainAuthFacts {
        domain: DOMAIN.to_owned(),
        mx: answer(vec![MxRecord {
            preference: 10,
            exchange: NAME.to_owned(),
        }]),
        spf: Some(spf),
        spf_ips: Some(spf_ips),
        dmarc: Some(dmarc_facts(dmarc)),
    }
}

fn spf(record: Option<&str>) -> DomainAuthFacts {
    let mut z = MemoryZone::new();
    if let Some(r) = record {
        z.add_txt(DOMAIN, r);
    }
    z.add_mx(DOMAIN, 10, NAME).add_address(NAME, ip());
    domain_facts(&z, &["v=DMARC1; p=reject; rua=mailto:dmarc@example.test"])
}

/// A sender in order: PTR `mail.example.test` resolving back, HELO the same name, clean on
/// zen.spamhaus.org, SPF `v=spf1 ip4:45.33.10.25 -all`, DMARC `p=reject`.
fn good() -> SenderFacts {
    let mut f = SenderFacts::new(ip(), 1_790_000_000);
    f.resolver = "test".to_owned();
    f.ptr = Some(ptr_to(&[(NAME, answer(vec![ip()]))]));
    f.helo = Some(NAME.to_owned());
    f.helo_lookups = Some(resolves(&[IP]));
    f.dnsbl_enabled = true;
    f.dnsbl_zones = vec![healthy_zone(ZEN)];
    f.dnsbl = vec![dnsbl_answer(ZEN, Lookup::NxDomain)];
    f.domain = Some(spf(Some(&format!("v=spf1 ip4:{IP} -all"))));
    f
}

fn run(f: &SenderFacts) -> (Verdict, Vec<Code>) {
    let r = diagnose_sender(f, 0);
    let mut codes = r.codes();
    codes.sort();
    (r.verdict, codes)
}

fn report(f: &SenderFacts) -> SenderReport {
    diagnose_sender(f, 0)
}

fn state(r: &SenderReport, key: &str) -> ChecklistState {
    r.checklist.iter().find(|i| i.key == key).unwrap().state
}

#[test]
fn a_good_sender_is_ok_with_a_passing_checklist() {
    let r = report(&good());
    assert_eq!(
        (r.verdict, r.codes()),
        (Verdict::Ok, vec![]),
        "{:#?}",
        r.findings
    );
    for key in [
        "ptr",
        "fcrdns",
        "helo",
        "blocklists",
        "spf_or_dkim",
        "dmarc",
    ] {
        assert_eq!(
            state(&r, key),
            ChecklistState::Pass,
            "{key}: {:#?}",
            r.checklist
        );
    }
    assert_eq!(state(&r, "tls"), ChecklistState::NotChecked);
    assert_eq!((r.ip.as_str(), r.domain.as_deref()), (IP, Some(DOMAIN)));
    // Facts survive JSON, and the diagnosis is deterministic.
    let f = good();
    let again: SenderFacts = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(again, f);
    assert_eq!(report(&again), r);
}

#[test]
fn no_ptr_breaks_and_a_failed_lookup_is_only_inconclusive() {
    let mut f = good();
    f.ptr = Some(PtrFacts {
        lookup: Lookup::NxDomain,
        forward: vec![],
    });
    assert_eq!(run(&f), (Verdict::Broken, vec![Code::SenderNoPtr]));
    let r = report(&f);
    let no_ptr = &r.findings[0];
    assert!(no_ptr.evidence[0].contains("NXDOMAIN"), "{no_ptr:?}");
    assert!(
        no_ptr.advice.contains("provider") && no_ptr.advice.contains("5.7.25"),
        "{}",
        no_ptr.advice
    );
    assert_eq!(state(&r, "ptr"), ChecklistState::Fail);

    f.ptr = Some(PtrFacts {
        lookup: failed(DnsFailure::ServFail),
        forward: vec![],
    });
    assert_eq!(
        run(&f),
        (Verdict::Inconclusive, vec![Code::DnsLookupFailed])
    );
    assert_eq!(state(&report(&f), "ptr"), ChecklistState::Unknown);
}

#[test]
fn an_ipv6_sender_without_ptr_is_told_about_ipv6() {
    let mut f = good();
    let v6: IpAddr = "2600:3c00::25".parse().unwrap();
    f.ip = v6;
    f.ptr = Some(PtrFacts {
        lookup: Lookup::NoData,
        forward: vec![],
    });
    f.helo = None;
    f.domain = None;
    f.dnsbl = vec![];
    let r = report(&f);
    assert_eq!(r.codes(), vec![Code::SenderNoPtr]);
    assert!(
        r.findings[0].advice.contains("IPv6"),
        "{}",
        r.findings[0].advice
    );
    assert!(r.findings[0].advice.contains("AAAA"));
}

#[test]
fn ptr_mismatch_only_when_every_forward_lookup_answered() {
    let mut f = good();
    f.ptr = Some(ptr_to(&[(
        NAME,
        answer(vec!["45.33.10.99".parse().unwrap()]),
    )]));
    assert_eq!(run(&f), (Verdict::Degraded, vec![Code::SenderPtrMismatch]));
    let r = report(&f);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("45.33.10.99"))
    );
    assert_eq!(state(&r, "fcrdns"), ChecklistState::Fail);

    f.ptr = Some(ptr_to(&[(NAME, failed(DnsFailure::Timeout))]));
    assert_eq!(
        run(&f),
        (Verdict::Inconclusive, vec![Code::DnsLookupFailed])
    );
    // Several PTR names: one that resolves back is enough.
    f.ptr = Some(ptr_to(&[
        (
            "old.example.test",
            answer(vec!["45.33.10.99".parse().unwrap()]),
        ),
        (NAME, answer(vec![ip()])),
    ]));
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
}

#[test]
fn generic_ptr_is_a_warning_and_a_specific_name_is_not() {
    let mut f = good();
    let generic = "25-10-33-45.dyn.isp.test";
    f.ptr = Some(ptr_to(&[(generic, answer(vec![ip()]))]));
    f.helo = Some(generic.to_owned());
    assert_eq!(run(&f), (Verdict::Degraded, vec![Code::SenderPtrGeneric]));
    let r = report(&f);
    let g = &r.findings[0];
    assert_eq!(g.severity, Severity::Warning);
    assert!(g.evidence[0].contains(generic), "{g:?}");
    assert!(g.advice.contains("smarthost"), "{}", g.advice);
    // The checklist's PTR items still pass: a generic PTR exists and resolves back.
    assert_eq!(state(&r, "fcrdns"), ChecklistState::Pass);
    assert_eq!(run(&good()).1, vec![]);
}

#[test]
fn helo_names_that_are_not_public_or_do_not_resolve() {
    for (helo, lookups) in [
        (
            "nothere.example.test",
            Some(AddressLookups {
                a: Lookup::NxDomain,
                aaaa: Lookup::NxDomain,
            }),
        ),
        ("exchange.corp.local", None),
        ("localhost", None),
        ("[45.33.10.25]", None),
        ("45.33.10.25", None),
    ] {
        let mut f = good();
        f.helo = Some(helo.to_owned());
        f.helo_lookups = lookups;
        assert_eq!(
            run(&f),
            (Verdict::Degraded, vec![Code::SenderHeloUnresolvable]),
            "{helo}"
        );
        let r = report(&f);
        let h = &r.findings[0];
        assert_eq!(h.subject, helo);
        // The advice names how to set it, with the forward-confirmed PTR name as the name.
        assert!(
            h.advice.contains("smtp_helo_name = mail.example.test")
                && h.advice.contains("Set-SendConnector"),
            "{}",
            h.advice
        );
        assert_eq!(state(&r, "helo"), ChecklistState::Fail, "{helo}");
    }
    // No HELO given: nothing to judge.
    let mut f = good();
    f.helo = None;
    f.helo_lookups = None;
    let r = report(&f);
    assert_eq!((r.verdict, r.codes()), (Verdict::Ok, vec![]));
    assert_eq!(state(&r, "helo"), ChecklistState::NotChecked);
    // Its lookup failed: inconclusive, not "does not resolve".
    let mut f = good();
    f.helo_lookups = Some(AddressLookups {
        a: failed(DnsFailure::ServFail),
        aaaa: Lookup::NoData,
    });
    assert_eq!(
        run(&f),
        (Verdict::Inconclusive, vec![Code::DnsLookupFailed])
    );
}

#[test]
fn helo_mismatch_unless_it_resolves_to_the_ip_or_is_a_ptr_name() {
    let mut f = good();
    f.helo = Some("other.example.test".to_owned());
    f.helo_lookups = Some(resolves(&["45.33.10.99"]));
    assert_eq!(run(&f), (Verdict::Degraded, vec![Code::SenderHeloMismatch]));
    let r = report(&f);
    let m = &r.findings[0];
    assert!(
        m.evidence.iter().any(|e| e.contains("45.33.10.99"))
            && m.evidence
                .iter()
                .any(|e| e.contains("PTR 45.33.10.25: mail.example.test")),
        "{m:?}"
    );
    assert!(m.advice.contains("mail.example.test"), "{}", m.advice);
    assert_eq!(state(&r, "helo"), ChecklistState::Warn);

    // A PTR name of the address, even one resolving elsewhere: no mismatch.
    f.ptr = Some(ptr_to(&[
        (NAME, answer(vec![ip()])),
        (
            "other.example.test",
            answer(vec!["45.33.10.99".parse().unwrap()]),
        ),
    ]));
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
    // Resolving to the address (with another PTR name): no mismatch.
    let mut f = good();
    f.helo = Some("out.example.test".to_owned());
    f.helo_lookups = Some(resolves(&["45.33.10.99", IP]));
    assert_eq!(run(&f), (Verdict::Ok, vec![]));
    // The PTR lookup failed: cannot tell whether it is a PTR name.
    let mut f = good();
    f.helo = Some("other.example.test".to_owned());
    f.helo_lookups = Some(resolves(&["45.33.10.99"]));
    f.ptr = Some(PtrFacts {
        lookup: failed(DnsFailure::Timeout),
        forward: vec![],
    });
    assert_eq!(
        run(&f),
        (Verdict::Inconclusive, vec![Code::DnsLookupFailed])
    );
}

#[test]
fn listings_abuse_and_pbl_break_other_policy_degrades_errors_are_unavailable() {
    let listed = |codes: &[[u8; 4]], txt: &str| {
        let mut f = good();
        let mut check = dnsbl_answer(
            ZEN,
            answer(codes.iter().map(|c| Ipv4Addr::from(*c)).collect()),
        );
        check.txt = vec![txt.to_owned()];
        f.dnsbl = vec![check];
        f
    };
    let abuse = listed(
        &[[127, 0, 0, 4]],
        "https://check.spamhaus.org/query/ip/45.33.10.25",
    );
    assert_eq!(run(&abuse), (Verdict::Broken, vec![Code::SenderListed]));
    let r = report(&abuse);
    let l = &r.findings[0];
    assert_eq!(l.severity, Severity::Error);
    for want in [
        "25.10.33.45.zen.spamhaus.org -> 127.0.0.4",
        "XBL",
        "TXT: https://check.spamhaus.org/query/ip/45.33.10.25",
        "look up and delist: https://check.spamhaus.org/",
    ] {
        assert!(l.evidence.iter().any(|e| e.contains(want)), "{want}: {l:?}");
    }
    assert!(l.advice.contains("MAIL FROM"), "{}", l.advice);
    assert_eq!(state(&r, "blocklists"), ChecklistState::Fail);

    // PBL: a policy listing, but one that forbids direct-to-MX sending: an error too.
    let pbl = listed(&[[127, 0, 0, 10]], "PBL");
    assert_eq!(run(&pbl), (Verdict::Broken, vec![Code::SenderListed]));
    let r = report(&pbl);
    assert_eq!(r.findings[0].severity, Severity::Error);
    assert!(
        r.findings[0].advice.contains("smarthost"),
        "{}",
        r.findings[0].advice
    );
    assert!(r.findings[0].summary.contains("no direct-to-MX"));

    // Another policy listing (Spamhaus BCL as the catalogue has it): a warning.
    let other = listed(&[[127, 0, 0, 30]], "BCL");
    assert_eq!(run(&other), (Verdict::Degraded, vec![Code::SenderListed]));
    assert_eq!(report(&other).findings[0].severity, Severity::Warning);

    // An error code is not a listing: the list could not answer us.
    let refused = listed(&[[127, 255, 255, 254]], "");
    assert_eq!(
        run(&refused),
        (Verdict::Inconclusive, vec![Code::DnsblUnavailable])
    );
    let r = report(&refused);
    assert_eq!(r.findings[0].subject, crate::finding::THIS_MACHINE);
    assert_eq!(state(&r, "blocklists"), ChecklistState::Unknown);
    // A failed self-test: every answer of the zone means nothing.
    let mut broken_zone = listed(&[[127, 0, 0, 4]], "");
    broken_zone.dnsbl_zones[0].positive = Lookup::NxDomain;
    assert_eq!(
        run(&broken_zone),
        (Verdict::Inconclusive, vec![Code::DnsblUnavailable])
    );
    // An IPv4-only list and an IPv6 sender: not covered, nothing to say.
    let mut v6 = good();
    v6.ip = "2600:3c00::25".parse().unwrap();
    v6.ptr = Some(ptr_to(&[(NAME, answer(vec![v6.ip]))]));
    v6.helo = None;
    v6.domain = None;
    v6.dnsbl = vec![DnsblCheck {
        zone: "bl.spamcop.net".to_owned(),
        query: String::new(),
        answer: None,
        txt: vec![],
    }];
    let r = report(&v6);
    assert_eq!((r.verdict, r.codes()), (Verdict::Ok, vec![]));
    assert_eq!(state(&r, "blocklists"), ChecklistState::NotChecked);
    // Blocklists off: not checked.
    let mut off = good();
    off.dnsbl_enabled = false;
    off.dnsbl.clear();
    assert_eq!(
        state(&report(&off), "blocklists"),
        ChecklistState::NotChecked
    );
}

#[test]
fn spf_results_give_their_codes() {
    let with = |record: Option<&str>| {
        let mut f = good();
        f.domain = Some(spf(record));
        f
    };
    let fail = with(Some("v=spf1 ip4:192.0.2.0/24 -all"));
    assert_eq!(run(&fail), (Verdict::Broken, vec![Code::SenderSpfFail]));
    let r = report(&fail);
    let s = &r.findings[0];
    for want in [
        "check_host(45.33.10.25, example.test, postmaster@example.test) = fail",
        "TXT example.test: v=spf1 ip4:192.0.2.0/24 -all",
        "decided by `-all`",
        "DMARC of example.test (_dmarc.example.test): p=reject",
    ] {
        assert!(
            s.evidence.iter().any(|e| e.contains(want)),
            "{want}: {s:#?}"
        );
    }
    assert!(
        s.advice
            .contains("`v=spf1 ip4:45.33.10.25 ip4:192.0.2.0/24 -all`"),
        "{}",
        s.advice
    );
    assert_eq!(state(&r, "spf_or_dkim"), ChecklistState::Fail);

    let soft = with(Some("v=spf1 ip4:192.0.2.0/24 ~all"));
    assert_eq!(
        run(&soft),
        (Verdict::Degraded, vec![Code::SenderSpfSoftfail])
    );
    assert_eq!(state(&report(&soft), "spf_or_dkim"), ChecklistState::Warn);

    let neutral = with(Some("v=spf1 ip4:192.0.2.0/24 ?all"));
    assert_eq!(
        run(&neutral),
        (
            Verdict::Degraded,
            vec![Code::SpfPermissive, Code::SenderSpfNeutral]
        )
    );
    let none = with(None);
    assert_eq!(
        run(&none),
        (
            Verdict::Degraded,
            vec![Code::SpfMissing, Code::SenderSpfNeutral]
        )
    );
    let r = report(&none);
    assert!(
        r.findings.iter().any(|f| f.code == Code::SenderSpfNeutral
            && f.advice.contains("v=spf1 ip4:45.33.10.25 -all")),
        "{:#?}",
        r.findings
    );

    let perm = with(Some("v=spf1 ip4:192.0.2.300 -all"));
    assert_eq!(
        run(&perm),
        (
            Verdict::Broken,
            vec![Code::SpfInvalid, Code::SenderSpfError]
        )
    );

    // temperror: the domain's spf.lookup_failed, not a sender.spf_* code.
    let mut z = MemoryZone::new();
    z.add_txt(DOMAIN, "v=spf1 include:_spf.example.test -all")
        .fail("_spf.example.test", DnsFailure::ServFail);
    let mut temp = good();
    temp.domain = Some(domain_facts(&z, &["v=DMARC1; p=reject"]));
    let (v, codes) = run(&temp);
    assert_eq!(
        (v, codes.clone()),
        (Verdict::Inconclusive, vec![Code::SpfLookupFailed])
    );
    assert_eq!(
        state(&report(&temp), "spf_or_dkim"),
        ChecklistState::Unknown
    );

    // Through an include: pass, with the trace.
    let mut z = MemoryZone::new();
    z.add_txt(DOMAIN, "v=spf1 include:_spf.example.test -all")
        .add_txt("_spf.example.test", &format!("v=spf1 ip4:{IP} -all"));
    let mut inc = good();
    inc.domain = Some(domain_facts(
        &z,
        &["v=DMARC1; p=none; rua=mailto:d@example.test"],
    ));
    // p=none is info only; SPF passes.
    assert_eq!(run(&inc), (Verdict::Ok, vec![Code::DmarcPolicyNone]));
    assert_eq!(state(&report(&inc), "dmarc"), ChecklistState::Pass);
}

#[test]
fn the_sender_domain_itself() {
    // No DMARC: the domain's own finding, a warning.
    let mut f = good();
    f.domain = Some({
        let mut d = spf(Some(&format!("v=spf1 ip4:{IP} -all")));
        d.dmarc = Some(dmarc_facts(&[]));
        d
    });
    assert_eq!(run(&f), (Verdict::Degraded, vec![Code::DmarcMissing]));
    assert_eq!(state(&report(&f), "dmarc"), ChecklistState::Fail);

    // A domain that does not exist: receivers refuse it; its SPF is none.
    let mut z = MemoryZone::new();
    z.exists("unrelated.test");
    let mut d = domain_facts(&z, &[]);
    d.mx = Lookup::NxDomain;
    let mut f = good();
    f.domain = Some(d);
    assert_eq!(
        run(&f),
        (
            Verdict::Degraded,
            vec![Code::DnsNxdomain, Code::SenderSpfNeutral]
        )
    );

    // Its MX lookup failed: inconclusive.
    let mut f = good();
    f.domain.as_mut().unwrap().mx = failed(DnsFailure::Timeout);
    assert_eq!(
        run(&f),
        (Verdict::Inconclusive, vec![Code::DnsLookupFailed])
    );

    // No domain given: the SPF and DMARC items are not checked.
    let mut f = good();
    f.domain = None;
    let r = report(&f);
    assert_eq!((r.verdict, r.codes()), (Verdict::Ok, vec![]));
    assert_eq!(state(&r, "spf_or_dkim"), ChecklistState::NotChecked);
    assert_eq!(state(&r, "dmarc"), ChecklistState::NotChecked);
}

#[test]
fn verdict_rule_first_match_wins() {
    // A breaker beats any other fault; an unfinished check is inconclusive.
    let mut f = good();
    f.ptr = Some(PtrFacts {
        lookup: Lookup::NxDomain,
        forward: vec![],
    });
    f.helo = Some("other.example.test".to_owned());
    f.helo_lookups = Some(resolves(&["45.33.10.99"]));
    let (v, codes) = run(&f);
    assert_eq!(v, Verdict::Broken);
    assert_eq!(codes, vec![Code::SenderNoPtr, Code::SenderHeloMismatch]);
    let r = report(&f);
    assert_eq!(r.findings[0].code, Code::SenderNoPtr, "worst first");
    assert_eq!(r.worst, Some(Severity::Error));

    let mut f = good();
    f.partial = Some("the deadline came first".to_owned());
    f.dnsbl.clear();
    assert_eq!(run(&f), (Verdict::Inconclusive, vec![]));
    assert_eq!(
        super::verdict(&[], false),
        Verdict::Ok,
        "nothing found, nothing missing"
    );
}

#[test]
fn queries_parse_what_users_type() {
    let q = SenderQuery::parse(
        " [2001:db8::25] ",
        Some("Mail.Example.TEST."),
        Some("alice@Example.test"),
    )
    .unwrap();
    assert_eq!(q.ip, "2001:db8::25".parse::<IpAddr>().unwrap());
    assert_eq!(q.helo.as_deref(), Some("mail.example.test"));
    assert_eq!(q.domain.unwrap().as_str(), "example.test");
    let q = SenderQuery::parse("::ffff:192.0.2.1", Some(""), None).unwrap();
    assert_eq!(q.ip, "192.0.2.1".parse::<IpAddr>().unwrap());
    assert_eq!((q.helo, q.domain), (None, None));
    assert!(matches!(
        SenderQuery::parse("mail.example.com", None, None),
        Err(super::SenderInputError::BadIp(_))
    ));
    assert!(matches!(
        SenderQuery::parse("192.0.2.1", Some("two words"), None),
        Err(super::SenderInputError::BadHelo(_))
    ));
    assert!(matches!(
        SenderQuery::parse("192.0.2.1", None, Some("not a domain!")),
        Err(super::SenderInputError::BadDomain { .. })
    ));
    let r = SenderReport::invalid("bogus\u{1b}[2J", None, Some(" "), "why");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(!r.ip.contains('\u{1b}'));
    assert_eq!(r.domain, None);
}
