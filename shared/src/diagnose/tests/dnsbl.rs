//! Blocklist answers: `dnsbl.listed` and `dnsbl.unavailable`.

use super::*;

#[test]
fn dnsbl_listed_and_unavailable() {
    let f = listed(&[[127, 0, 0, 2]], "bl.test");
    assert_eq!(only(&f, Code::DnsblListed), Verdict::Degraded);
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].severity, Severity::Warning);
    assert!(
        r.findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("TXT: listed for testing"))
    );

    // A policy listing (PBL) is info: the domain stays ok.
    let f = listed(&[[127, 0, 0, 10]], "zen.spamhaus.org");
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].code, Code::DnsblListed);
    assert_eq!(r.findings[0].severity, Severity::Info);
    assert_eq!(r.verdict, Verdict::Ok);

    // A zone that cannot answer us is about this machine: shown, once per zone, and it does
    // not make the domain inconclusive by itself.
    let f = listed(&[[127, 255, 255, 254]], "zen.spamhaus.org");
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);
    let r = diagnose(&f, &Policy::default(), DOMAIN, 1);
    assert_eq!(r.findings[0].subject, crate::finding::THIS_MACHINE);

    let mut f = healthy();
    addr(&mut f).dnsbl[0].answer = Some(failed(DnsFailure::Refused));
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);

    let mut f = healthy();
    f.dnsbl_zones[0].positive = Lookup::NxDomain;
    let mut second = address_ok();
    let ip: IpAddr = "45.33.10.11".parse().unwrap();
    second.ip = ip;
    second.ptr.as_mut().unwrap().forward[0].lookup = answer(vec![ip]);
    f.hosts[0].addresses.push(second);
    assert_eq!(only(&f, Code::DnsblUnavailable), Verdict::Ok);
}
