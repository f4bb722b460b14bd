//! Our own vantage point: canary connects.

use std::time::Duration;

use mailcheck::config::EgressConfig;
use mailcheck::facts::ConnectOutcome;
use mailcheck::probe::egress::check_egress;

#[tokio::test]
async fn canaries_connected_refused_and_bad() {
    let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = EgressConfig {
        enabled: true,
        canaries: vec![
            format!("127.0.0.1:{open_port}"),
            format!("localhost:{open_port}"),
            format!("127.0.0.1:{closed_port}"),
            "localhost:notaport".to_owned(),
        ],
        timeout: Duration::from_secs(5),
    };
    let facts = check_egress(&config, None).await;
    assert_eq!(facts.canaries.len(), 4);
    assert_eq!(facts.canaries[0].target, format!("127.0.0.1:{open_port}"));
    assert!(matches!(
        facts.canaries[0].outcome,
        ConnectOutcome::Connected { .. }
    ));
    assert!(
        matches!(facts.canaries[1].outcome, ConnectOutcome::Connected { .. }),
        "{:?}",
        facts.canaries[1]
    );
    assert_eq!(facts.canaries[2].outcome, ConnectOutcome::Refused);
    assert!(matches!(
        facts.canaries[3].outcome,
        ConnectOutcome::Error { .. }
    ));
    assert!(!facts.blocked());

    let only_closed = EgressConfig {
        canaries: vec![format!("127.0.0.1:{closed_port}")],
        ..config.clone()
    };
    assert!(check_egress(&only_closed, None).await.blocked());
    let from_v6 = check_egress(&config, Some("::1".parse().unwrap())).await;
    assert!(matches!(
        from_v6.canaries[0].outcome,
        ConnectOutcome::Error { .. }
    ));
    assert!(
        check_egress(
            &EgressConfig {
                canaries: vec![],
                ..config
            },
            None
        )
        .await
        .canaries
        .is_empty()
    );
    drop(open);
}
