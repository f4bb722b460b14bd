//! MTA-STS policy fetches that fail, each `invalid`: a certificate for another name or from
//! another issuer, every HTTP and policy-text failure, a policy host on a private address
//! (unless allowed), and a host that is silent or closes the connection.

use super::*;

#[tokio::test]
async fn a_certificate_for_another_name_or_issuer_is_invalid() {
    let ca = TestCa::new();
    let other_ca = TestCa::new();
    let https = HttpsServer::builder()
        .sni(
            None,
            &[
                ("mta-sts.wrongname.test", &ca.leaf(&["www.wrongname.test"])),
                (
                    "mta-sts.otherca.test",
                    &other_ca.leaf(&["mta-sts.otherca.test"]),
                ),
                (
                    "mta-sts.expired.test",
                    &ca.expired(&["mta-sts.expired.test"]),
                ),
            ],
        )
        .route(
            MTA_STS_PATH,
            HttpResponse::text(&policy("enforce", &["mx.example.test"])),
        )
        .build()
        .await;
    let mut b = DnsServer::builder();
    for d in ["wrongname.test", "otherca.test", "expired.test"] {
        b = sts_domain(b, d, Ipv4Addr::LOCALHOST);
    }
    let dns = b.build().await;
    let checker = checker(config(&dns, https.addr().port(), &ca), &dns);
    for (domain, needle) in [
        ("wrongname.test", "mta-sts.wrongname.test"),
        ("otherca.test", "UnknownIssuer"),
        ("expired.test", "expired"),
    ] {
        let r = checker.check_input(domain).await;
        assert_eq!(
            codes(&r),
            vec![(Code::MtastsInvalid, Severity::Error)],
            "{domain}: {}",
            explain(&r)
        );
        let fetch = facts(&r).fetch.as_ref().unwrap();
        let error = fetch.error.as_ref().unwrap();
        assert_eq!(
            error.kind,
            FetchErrorKind::Certificate,
            "{domain}: {error:?}"
        );
        assert!(error.detail.contains(needle), "{domain}: {error:?}");
        let evidence = sts_findings(&r)[0].evidence.join("\n");
        assert!(evidence.contains(RECORD), "{evidence}");
        assert!(evidence.contains(&fetch.url), "{evidence}");
    }
    // The handshake failed on the client's side: no request was made.
    assert!(https.requests().iter().all(|q| q.status.is_none()));
    checker.shutdown().await;
}

#[tokio::test]
async fn every_way_a_fetch_or_a_policy_fails_is_invalid() {
    let ca = TestCa::new();
    let big = format!(
        "{}x-padding: {}\n",
        policy("enforce", &["mx.big.test"]),
        "y".repeat(70_000)
    );
    let cases: Vec<(&str, HttpResponse, Want)> = vec![
        (
            "notfound.test",
            HttpResponse::not_found(),
            Fetch(FetchErrorKind::Status),
        ),
        (
            "servererror.test",
            HttpResponse::new(500).body("oops"),
            Fetch(FetchErrorKind::Status),
        ),
        (
            "moved.test",
            HttpResponse::redirect(301, "https://mta-sts.good.test/.well-known/mta-sts.txt"),
            Fetch(FetchErrorKind::Redirect),
        ),
        (
            "html.test",
            HttpResponse::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(policy("enforce", &["mx.html.test"])),
            Fetch(FetchErrorKind::ContentType),
        ),
        (
            "notype.test",
            HttpResponse::new(200).body(policy("enforce", &["mx.notype.test"])),
            Fetch(FetchErrorKind::ContentType),
        ),
        (
            "big.test",
            HttpResponse::text(&big),
            Fetch(FetchErrorKind::TooLarge),
        ),
        (
            "bigstream.test",
            HttpResponse::text(&big).without_content_length(),
            Fetch(FetchErrorKind::TooLarge),
        ),
        (
            "syntax.test",
            HttpResponse::text(
                "version: STSv1\nmode: enforce\nmx mx.syntax.test\nmax_age: 86400\n",
            ),
            Parse("line 3"),
        ),
        (
            "maxage.test",
            HttpResponse::text(
                "version: STSv1\nmode: enforce\nmx: mx.maxage.test\nmax_age: 31557601\n",
            ),
            Parse("max_age"),
        ),
        (
            "json.test",
            HttpResponse::text("{\"version\": \"STSv1\", \"mode\": \"enforce\"}"),
            Parse("not a valid key"),
        ),
    ];
    let names: Vec<String> = cases.iter().map(|(d, ..)| format!("mta-sts.{d}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut hb = HttpsServer::builder()
        .bind("127.0.0.9:0".parse().unwrap())
        .cert(&ca.leaf(&name_refs));
    let mut db = DnsServer::builder();
    for (domain, response, _) in &cases {
        hb = hb.mta_sts_policy(domain, response.clone());
        db = sts_domain(db, domain, Ipv4Addr::new(127, 0, 0, 9));
    }
    let https = hb.build().await;
    let dns = db.build().await;
    let checker = std::sync::Arc::new(checker(config(&dns, https.addr().port(), &ca), &dns));
    let runs = cases.iter().map(|(domain, _, want)| {
        let checker = checker.clone();
        async move { (*domain, want, checker.check_input(domain).await) }
    });
    for (domain, want, r) in futures::future::join_all(runs).await {
        assert_eq!(
            codes(&r),
            vec![(Code::MtastsInvalid, Severity::Error)],
            "{domain}: {}",
            explain(&r)
        );
        let m = facts(&r);
        let fetch = m.fetch.as_ref().unwrap();
        match want {
            Fetch(kind) => {
                assert_eq!(
                    fetch.error.as_ref().map(|e| e.kind),
                    Some(*kind),
                    "{domain}: {fetch:#?}"
                );
                assert_eq!(m.policy, None);
            }
            Parse(needle) => {
                assert_eq!(fetch.error, None, "{domain}");
                let err = m.policy.as_ref().unwrap().as_ref().unwrap_err();
                assert!(err.contains(needle), "{domain}: {err}");
            }
        }
    }
    let moved = facts(&checker.check_input("moved.test").await)
        .fetch
        .clone()
        .unwrap();
    assert_eq!(moved.status, Some(301));
    assert_eq!(
        moved.location.as_deref(),
        Some("https://mta-sts.good.test/.well-known/mta-sts.txt")
    );
    // The redirect was not followed: every request went to its own domain's policy host.
    for q in https.requests() {
        assert_eq!(q.path, MTA_STS_PATH, "{q:?}");
        assert!(
            q.host.as_deref() != Some("mta-sts.good.test"),
            "redirect followed: {q:?}"
        );
    }
    checker.shutdown().await;
}

#[tokio::test]
async fn a_private_policy_host_is_refused_unless_allowed() {
    let ca = TestCa::new();
    let https = HttpsServer::builder()
        .cert(&ca.leaf(&["mta-sts.lan.test"]))
        .mta_sts_policy(
            "lan.test",
            HttpResponse::text(&policy("enforce", &["mx.lan.test"])),
        )
        .build()
        .await;
    let dns = sts_domain(DnsServer::builder(), "lan.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let mut c = config(&dns, https.addr().port(), &ca);
    c.allow_private = false;
    let checker = checker(c, &dns);
    let r = checker.check_input("lan.test").await;
    let error = facts(&r).fetch.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(error.kind, FetchErrorKind::PrivateAddress, "{error:?}");
    assert!(https.requests().is_empty());
    checker.shutdown().await;
}

#[tokio::test]
async fn a_silent_or_closed_policy_host_is_invalid() {
    let ca = TestCa::new();
    // Accepts TCP connections (the kernel's backlog) but never speaks TLS.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dns = sts_domain(DnsServer::builder(), "quiet.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    for (port, kind) in [
        (silent.local_addr().unwrap().port(), FetchErrorKind::Timeout),
        (crate::common::unused_port(), FetchErrorKind::Connect),
    ] {
        let mut c = config(&dns, port, &ca);
        c.auth.https_timeout = Duration::from_secs(1);
        let checker = checker(c, &dns);
        let r = checker.check_input("quiet.test").await;
        assert_eq!(
            codes(&r),
            vec![(Code::MtastsInvalid, Severity::Error)],
            "{}",
            explain(&r)
        );
        let error = facts(&r).fetch.as_ref().unwrap().error.clone().unwrap();
        assert_eq!(error.kind, kind, "{error:?}");
        checker.shutdown().await;
    }
}
