//! SPF (`spf.*`) over the record tree, and the "MX IP that sends for the domain" rule other
//! findings use.

use super::*;

#[test]
fn spf_missing_and_its_counter_cases() {
    let mut z = crate::spf::MemoryZone::new();
    z.add_txt(DOMAIN, "google-site-verification=abc");
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfMissing), Verdict::Degraded);
    let found = the(&f, Code::SpfMissing);
    assert!(
        found.evidence[0].contains("none of them starts with `v=spf1`"),
        "{found:?}"
    );
    assert!(found.advice.contains("v=spf1 mx -all"));

    // A failed lookup is not a missing record.
    let mut z = crate::spf::MemoryZone::new();
    z.fail(DOMAIN, DnsFailure::ServFail);
    let f = with_spf_zone(&z);
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::SpfLookupFailed, Severity::Inconclusive)]
        )
    );
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("SERVFAIL"));

    // When the domain itself does not resolve, the DNS finding says it all.
    let mut f = with_spf_zone(&crate::spf::MemoryZone::new());
    auth(&mut f).dmarc = Some(dmarc_facts(&[]));
    f.mx = Lookup::NxDomain;
    f.hosts.clear();
    assert_eq!(only(&f, Code::DnsNxdomain), Verdict::Broken);
}

#[test]
fn spf_multiple_and_invalid() {
    let mut z = spf_zone("v=spf1 mx -all");
    z.add_txt(DOMAIN, "v=spf1 ip4:192.0.2.1 -all");
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfMultiple), Verdict::Degraded);
    assert_eq!(the(&f, Code::SpfMultiple).evidence.len(), 2);

    let f = with_spf("v=spf1 mx ip4:192.0.2.300 -all");
    assert_eq!(only(&f, Code::SpfInvalid), Verdict::Degraded);
    let found = the(&f, Code::SpfInvalid);
    assert_eq!(found.severity, Severity::Error);
    assert!(found.evidence[0].ends_with("v=spf1 mx ip4:192.0.2.300 -all"));
    assert!(
        found.evidence[1].contains("at byte 10, the term `ip4:192.0.2.300`"),
        "{found:?}"
    );

    // An include of a domain without SPF is a permanent error too.
    let mut z = spf_zone("v=spf1 mx include:gone.example.net -all");
    z.add_txt("gone.example.net", "not spf");
    let f = with_spf_zone(&z);
    let found = the(&f, Code::SpfInvalid);
    assert!(
        found.summary.contains("include:gone.example.net"),
        "{found:?}"
    );
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("`include:gone.example.net` → gone.example.net"))
    );
    assert_eq!(run(&f).1, vec![Code::SpfInvalid]);

    // A permanent error only an evaluation sees: `mx` with more than 10 MX names.
    let mut z = spf_zone("v=spf1 mx -all");
    for i in 2..=11 {
        z.add_mx(DOMAIN, 10 + i, &format!("mx{i}.example.test"));
    }
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfInvalid), Verdict::Degraded);
    let found = the(&f, Code::SpfInvalid);
    assert!(found.evidence[1].contains("11 MX records"), "{found:?}");

    // Counter-case: a valid include.
    let mut z = spf_zone("v=spf1 mx include:spf.example.net -all");
    z.add_txt("spf.example.net", "v=spf1 ip4:198.51.100.0/24 -all");
    assert!(run(&with_spf_zone(&z)).1.is_empty());
}

#[test]
fn spf_too_many_lookups_over_the_tree_and_voids() {
    // 1 (mx) + 10 includes = 11 terms.
    let mut record = "v=spf1 mx".to_owned();
    let mut z = crate::spf::MemoryZone::new();
    for i in 0..10 {
        record.push_str(&format!(" include:s{i}.example.net"));
        z.add_txt(
            &format!("s{i}.example.net"),
            &format!("v=spf1 ip4:198.51.100.{i} -all"),
        );
    }
    record.push_str(" -all");
    z.add_txt(DOMAIN, &record)
        .add_mx(DOMAIN, 10, HOST)
        .add_address(HOST, ip());
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfTooManyLookups), Verdict::Degraded);
    let found = the(&f, Code::SpfTooManyLookups);
    assert!(found.summary.contains("needs 11 DNS lookups"), "{found:?}");
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("`include:s9.example.net` → s9.example.net"))
    );
    assert!(found.advice.contains("flatten"));

    // Counter-case: exactly 10.
    let record = record.replace(" include:s9.example.net", "");
    let mut z2 = crate::spf::MemoryZone::new();
    for i in 0..9 {
        z2.add_txt(
            &format!("s{i}.example.net"),
            &format!("v=spf1 ip4:198.51.100.{i} -all"),
        );
    }
    z2.add_txt(DOMAIN, &record)
        .add_mx(DOMAIN, 10, HOST)
        .add_address(HOST, ip());
    assert!(run(&with_spf_zone(&z2)).1.is_empty());

    // Three void lookups (names without addresses) for a sender the record does not list.
    let f = with_spf("v=spf1 mx a:old1.example.test a:old2.example.test a:old3.example.test -all");
    assert_eq!(only(&f, Code::SpfTooManyLookups), Verdict::Degraded);
    let found = the(&f, Code::SpfTooManyLookups);
    assert!(found.summary.contains("do not exist"), "{found:?}");
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("void lookups") && e.contains(": 3;"))
    );
    // Two are allowed.
    assert!(
        run(&with_spf(
            "v=spf1 mx a:old1.example.test a:old2.example.test -all"
        ))
        .1
        .is_empty()
    );
}

#[test]
fn spf_permissive_endings() {
    for record in [
        "v=spf1 mx +all",
        "v=spf1 mx ?all",
        "v=spf1 mx",
        "v=spf1 mx all",
    ] {
        let f = with_spf(record);
        assert_eq!(only(&f, Code::SpfPermissive), Verdict::Degraded, "{record}");
    }
    for record in ["v=spf1 mx ~all", "v=spf1 mx -all"] {
        assert!(run(&with_spf(record)).1.is_empty(), "{record}");
    }
    // A redirect decides: to a strict record it is fine, to a lax one it is not.
    let mut z = spf_zone("v=spf1 redirect=_spf.example.test");
    z.add_txt("_spf.example.test", "v=spf1 mx -all");
    assert!(run(&with_spf_zone(&z)).1.is_empty());
    let mut z = spf_zone("v=spf1 redirect=_spf.example.test");
    z.add_txt("_spf.example.test", "v=spf1 mx ?all");
    let f = with_spf_zone(&z);
    assert!(the(&f, Code::SpfPermissive).evidence[0].starts_with("TXT _spf.example.test"));
}

#[test]
fn spf_lookup_failed_below_the_top() {
    // An include that cannot be looked up.
    let mut z = spf_zone("v=spf1 mx include:down.example.net -all");
    z.fail("down.example.net", DnsFailure::Timeout);
    let f = with_spf_zone(&z);
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::SpfLookupFailed, Severity::Inconclusive)]
        )
    );
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("`include:down.example.net`"));
    // An `a:` whose lookup fails: only the check of an unlisted sender sees it.
    let mut z = spf_zone("v=spf1 mx a:down.example.net -all");
    z.fail("down.example.net", DnsFailure::ServFail);
    let f = with_spf_zone(&z);
    assert_eq!(only(&f, Code::SpfLookupFailed), Verdict::Inconclusive);
    assert!(the(&f, Code::SpfLookupFailed).evidence[0].contains("temperror"));
}

#[test]
fn spf_ptr_is_info() {
    let f = with_spf("v=spf1 mx ptr -all");
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::SpfPtrUsed, Severity::Info)])
    );
    assert!(the(&f, Code::SpfPtrUsed).evidence[0].contains("`ptr` in the record of example.test"));
    assert!(run(&with_spf("v=spf1 mx a -all")).1.is_empty());
}

#[test]
fn an_mx_ip_that_sends_for_the_domain() {
    // Authorized directly by `mx` at the top level: the listing is an error.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let found = the(&f, Code::DnsblListed);
    assert_eq!(found.severity, Severity::Error);
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.contains("authorizes 45.33.10.10 directly (`mx`)"))
    );
    assert_eq!(run(&f).0, Verdict::Degraded);
    // A policy listing of a sending address is a warning.
    let mut f = listed(&[[127, 0, 0, 10]], "zen.spamhaus.org");
    f.auth = Some(good_auth());
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);
    // Through an include only: not "sends" by this rule.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let mut z = spf_zone("v=spf1 include:_spf.example.test -all");
    z.add_txt("_spf.example.test", "v=spf1 ip4:45.33.10.0/24 -all");
    let (spf, spf_ips) = spf_facts(&z);
    auth(&mut f).spf = Some(spf);
    auth(&mut f).spf_ips = Some(spf_ips);
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);
    // Authorized by `ip4:` directly, but `-ip4:` first: it does not send.
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    f.auth = Some(good_auth());
    let (spf, spf_ips) = spf_facts(&spf_zone("v=spf1 -ip4:45.33.10.10 ip4:45.33.10.0/24 -all"));
    auth(&mut f).spf = Some(spf);
    auth(&mut f).spf_ips = Some(spf_ips);
    assert_eq!(the(&f, Code::DnsblListed).severity, Severity::Warning);

    // The banner name of a sending address is its HELO name: a mismatch is a warning.
    let mismatch = |f: &mut Facts| {
        let g = smtp(f).greeting.as_mut().unwrap();
        g.hostname = Some("mx.google.example".into());
        g.hostname_lookups = Some(AddressLookups {
            a: answer(vec!["45.33.99.99".parse().unwrap()]),
            aaaa: Lookup::NoData,
        });
    };
    let mut f = healthy_with_auth();
    mismatch(&mut f);
    assert_eq!(
        judged(&f),
        (
            Verdict::Degraded,
            vec![(Code::SmtpBannerMismatch, Severity::Warning)]
        )
    );
    // Counter-case: the SPF record lists the address only through an include.
    let mut z = spf_zone("v=spf1 include:_spf.example.test -all");
    z.add_txt("_spf.example.test", "v=spf1 mx -all");
    let mut f = with_spf_zone(&z);
    mismatch(&mut f);
    assert_eq!(
        judged(&f),
        (
            Verdict::Ok,
            vec![(Code::SmtpBannerMismatch, Severity::Info)]
        )
    );
}
