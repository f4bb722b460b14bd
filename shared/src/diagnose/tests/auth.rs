//! DMARC, TLS-RPT and MTA-STS (`dmarc.*`, `tlsrpt.*`, `mtasts.*`), and a domain with good
//! authentication.

use super::*;

#[test]
fn good_authentication_is_clean() {
    let f = healthy_with_auth();
    let (v, codes) = run(&f);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), f);
}

/// MTA-STS facts for one `v=STSv1` record and `policy` fetched; the details are tested in
/// `diagnose::mtasts`.
fn with_mta_sts(mut f: Facts, policy: Option<&str>) -> Facts {
    use crate::auth::mtasts::{MtaStsFacts, PolicyFetch, parse_policy, parse_record};
    let record = "v=STSv1; id=1".to_owned();
    let fetch = policy.map(|body| PolicyFetch {
        url: format!("https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"),
        lookups: AddressLookups {
            a: answer(vec![ip()]),
            aaaa: Lookup::NoData,
        },
        peer: None,
        status: Some(200),
        content_type: Some("text/plain".into()),
        location: None,
        size: Some(body.len() as u64),
        body: Some(body.to_owned()),
        error: None,
        ms: 1,
    });
    let m = MtaStsFacts {
        txt: if policy.is_some() {
            answer(vec![record.clone()])
        } else {
            Lookup::NxDomain
        },
        sts_records: policy.map(|_| record.clone()).into_iter().collect(),
        record: policy.map(|_| parse_record(&record)),
        fetch,
        policy: policy.map(parse_policy),
        mx: vec![],
    };
    f.auth = Some(crate::auth::AuthFacts {
        mta_sts: Some(m),
        ..Default::default()
    });
    f
}

#[test]
fn mta_sts_codes() {
    let good = format!("version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n");
    let (v, codes) = run(&with_mta_sts(healthy(), Some(&good)));
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
    assert_eq!(
        only(&with_mta_sts(healthy(), None), Code::MtastsAbsent),
        Verdict::Ok
    );
    let wrong = good.replace(HOST, "mx.other.test");
    assert_eq!(
        only(
            &with_mta_sts(healthy(), Some(&wrong)),
            Code::MtastsMxMismatch
        ),
        Verdict::Degraded
    );
    let bad = good.replace("86400", "31557601");
    assert_eq!(
        only(&with_mta_sts(healthy(), Some(&bad)), Code::MtastsInvalid),
        Verdict::Degraded
    );
}

#[test]
fn dmarc_missing_or_not_looked_up() {
    let f = with_dmarc(&[]);
    assert_eq!(only(&f, Code::DmarcMissing), Verdict::Degraded);
    let found = the(&f, Code::DmarcMissing);
    assert_eq!(found.evidence, ["TXT _dmarc.example.test: NXDOMAIN"]);
    assert!(found.advice.contains("v=DMARC1; p=none; rua=mailto:"));

    // A failed lookup: inconclusive, same code.
    let mut f = healthy_with_auth();
    auth(&mut f).dmarc.as_mut().unwrap().lookups[0] =
        crate::auth::dmarc::DmarcLookup::from_answer(DOMAIN, failed(DnsFailure::ServFail));
    assert_eq!(
        judged(&f),
        (
            Verdict::Inconclusive,
            vec![(Code::DmarcMissing, Severity::Inconclusive)]
        )
    );

    // A subdomain without a record of its own is covered by its organizational domain's.
    let mut f = with_dmarc(&[]);
    let d = auth(&mut f).dmarc.as_mut().unwrap();
    d.domain = "mail.example.test".into();
    d.lookups = vec![
        dmarc_lookup("mail.example.test", &[]),
        dmarc_lookup(DOMAIN, &["v=DMARC1; p=reject"]),
    ];
    assert!(run(&f).1.is_empty());
    // …and when neither has one, the evidence names both lookups.
    auth(&mut f).dmarc.as_mut().unwrap().lookups[1] = dmarc_lookup(DOMAIN, &[]);
    assert_eq!(the(&f, Code::DmarcMissing).evidence.len(), 2);
}

#[test]
fn dmarc_invalid_records() {
    let f = with_dmarc(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]);
    assert_eq!(only(&f, Code::DmarcInvalid), Verdict::Degraded);
    assert!(the(&f, Code::DmarcInvalid).summary.contains("apply none"));

    let f = with_dmarc(&["v=DMARC1; p=rejct; rua=mailto:d@example.test"]);
    assert_eq!(only(&f, Code::DmarcInvalid), Verdict::Degraded);
    let found = the(&f, Code::DmarcInvalid);
    assert_eq!(found.severity, Severity::Error);
    assert!(
        found.evidence[1].contains("at byte 10, `p=rejct`"),
        "{found:?}"
    );

    let f = with_dmarc(&["p=reject; v=DMARC1"]);
    let found = the(&f, Code::DmarcInvalid);
    assert!(found.summary.contains("receivers ignore it"), "{found:?}");
    assert_eq!(run(&f).1, vec![Code::DmarcInvalid]);

    let f = with_dmarc(&["v=DMARC1; rua=mailto:d@example.test"]);
    assert!(
        the(&f, Code::DmarcInvalid)
            .summary
            .contains("treat it as `p=none`")
    );

    let f = with_dmarc(&["v=DMARC1; p=reject; rua=d@example.test"]);
    assert!(the(&f, Code::DmarcInvalid).advice.contains("mailto:"));
}

#[test]
fn dmarc_policy_none_is_info() {
    let f = with_dmarc(&["v=DMARC1; p=none; rua=mailto:d@example.test"]);
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::DmarcPolicyNone, Severity::Info)])
    );
    assert!(!the(&f, Code::DmarcPolicyNone).advice.contains("First add"));
    let f = with_dmarc(&["v=DMARC1; p=none"]);
    assert!(
        the(&f, Code::DmarcPolicyNone)
            .advice
            .contains("First add `rua=")
    );
    assert!(run(&with_dmarc(&["v=DMARC1; p=quarantine"])).1.is_empty());

    // Found at the organizational domain: `sp=` applies to a subdomain.
    let mut f = with_dmarc(&[]);
    let d = auth(&mut f).dmarc.as_mut().unwrap();
    d.domain = "mail.example.test".into();
    d.lookups = vec![
        dmarc_lookup("mail.example.test", &[]),
        dmarc_lookup(DOMAIN, &["v=DMARC1; p=reject; sp=none"]),
    ];
    assert!(the(&f, Code::DmarcPolicyNone).summary.contains("sp=none"));
}

#[test]
fn dmarc_reports_to_other_domains_need_their_consent() {
    let record = "v=DMARC1; p=reject; rua=mailto:d@example.test,mailto:x@reports.example.net";
    let authorization = |lookup| {
        crate::auth::dmarc::ReportAuthorization::from_answer(
            "reports.example.net",
            vec!["rua=mailto:x@reports.example.net".into()],
            "example.test._report._dmarc.reports.example.net".into(),
            lookup,
        )
    };
    let mut f = with_dmarc(&[record]);
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(Lookup::NxDomain)];
    assert_eq!(only(&f, Code::DmarcReportUnauthorized), Verdict::Degraded);
    let found = the(&f, Code::DmarcReportUnauthorized);
    assert_eq!(found.severity, Severity::Warning);
    assert!(
        found.evidence[1].contains("example.test._report._dmarc.reports.example.net: NXDOMAIN")
    );

    // Authorized: nothing to say.
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(answer(vec!["v=DMARC1".into()]))];
    assert!(run(&f).1.is_empty());

    // Could not be checked: worth knowing, but reports do not decide delivery.
    auth(&mut f).dmarc.as_mut().unwrap().report_authorizations =
        vec![authorization(failed(DnsFailure::Timeout))];
    assert_eq!(
        judged(&f),
        (
            Verdict::Ok,
            vec![(Code::DmarcReportUnauthorized, Severity::Info)]
        )
    );
}

#[test]
fn tlsrpt_invalid_and_absent() {
    use crate::auth::tlsrpt::TlsRptFacts;
    let mut f = healthy_with_auth();
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        answer(vec!["v=TLSRPTv1; rua=tls@example.test".into()]),
    ));
    assert_eq!(only(&f, Code::TlsrptInvalid), Verdict::Degraded);
    assert!(the(&f, Code::TlsrptInvalid).evidence[1].contains("mailto:"));

    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        answer(vec![
            "v=TLSRPTv1; rua=mailto:a@example.test".into(),
            "v=TLSRPTv1; rua=mailto:b@example.test".into(),
        ]),
    ));
    assert_eq!(only(&f, Code::TlsrptInvalid), Verdict::Degraded);

    // No record: nothing to say unless MTA-STS or DANE is in use.
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(DOMAIN, Lookup::NxDomain));
    assert!(run(&f).1.is_empty());
    auth(&mut f).mta_sts = Some(crate::auth::mtasts::MtaStsFacts {
        txt: answer(vec!["v=STSv1; id=1".into()]),
        sts_records: vec!["v=STSv1; id=1".into()],
        record: Some(crate::auth::mtasts::parse_record("v=STSv1; id=1")),
        fetch: None,
        policy: None,
        mx: vec![],
    });
    assert_eq!(
        judged(&f),
        (Verdict::Ok, vec![(Code::TlsrptAbsent, Severity::Info)])
    );
    assert!(the(&f, Code::TlsrptAbsent).summary.contains("MTA-STS"));
    // A failed lookup says nothing.
    auth(&mut f).tls_rpt = Some(TlsRptFacts::from_answer(
        DOMAIN,
        failed(DnsFailure::ServFail),
    ));
    assert!(run(&f).1.is_empty());
}
