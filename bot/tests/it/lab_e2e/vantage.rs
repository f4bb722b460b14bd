//! This host's own vantage point in the bot: the start-up self-test reports port 25 open or
//! blocked, and a blocked port 25 is shown as the bot's problem, not the domain's.

use std::net::{IpAddr, Ipv4Addr};

use mailcheck_bot::{BotConfig, Data};
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::lab::Lab;

use super::base_config;
use super::mini_world::{mini_world, world_config};

/// The start-up self-test with the real checker: against the lab, its loopback canary answers
/// and echoes the lab's NAT address; against a canary where nothing listens, port 25 counts as
/// blocked and the log says so at ERROR level. Never the public default canaries.
#[tokio::test]
async fn the_vantage_self_test_reports_open_and_blocked_port_25() {
    use mailcheck_bot::vantage::{Level, messages};

    let lab = Lab::start().await.unwrap();
    let data = mailcheck_bot::lab::data(base_config(), &lab.checker_hints()).unwrap();
    let view = data.diagnoser.vantage_view().await.unwrap();
    assert!(!view.port25_blocked, "{view:#?}");
    let log = messages(&view);
    let text: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("From here: outbound port 25 over IPv4: open")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("From here: public address: 192.0.2.77")),
        "{text:#?}"
    );
    assert!(log.iter().all(|(l, _)| *l != Level::Error), "{log:#?}");

    // Nothing listens on the canary's port: refused, like a provider's port 25 block.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let canary = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (dns, smtp) = mini_world("egress.test", Ipv4Addr::new(127, 0, 0, 65), None).await;
    let config = BotConfig {
        egress_canaries: vec![canary],
        helo_name: "probe.egress.test".to_owned(),
        ..world_config(&dns, &smtp, true)
    };
    config.validate().unwrap();
    let data = Data::new(config).unwrap();
    let view = data.diagnoser.vantage_view().await.unwrap();
    assert!(view.port25_blocked, "{view:#?}");
    assert!(
        view.findings
            .iter()
            .any(|f| f.code == mailcheck::Code::ProbeEgressBlocked),
        "{view:#?}"
    );
    let log = messages(&view);
    let (level, loud) = log.last().unwrap();
    assert_eq!(*level, Level::Error);
    assert!(loud.contains("inconclusive"), "{loud}");
    assert_eq!(smtp.connections(), 0, "the self-test checks no domain");
}

/// Our own port 25 blocked (here: the canary refuses like the MX does): the real checker
/// blames us, not the domain, and the embed says so at the top, on the address line and in a
/// field labelled as being about the bot's host.
#[tokio::test]
async fn our_blocked_port_25_is_shown_as_the_bots_problem_not_the_domains() {
    let ip = Ipv4Addr::new(127, 0, 0, 66);
    let closed = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dns = DnsServer::builder()
        .mx("egress-blocked.test", 10, "mx.egress-blocked.test")
        .a("mx.egress-blocked.test", ip)
        .ptr(IpAddr::V4(ip), "mx.egress-blocked.test")
        .txt("egress-blocked.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.egress-blocked.test", "v=DMARC1; p=reject")
        .build()
        .await;
    let config = BotConfig {
        resolver: vec![dns.addr().to_string()],
        smtp_port: port,
        dnsbl_zones: Some(Vec::new()),
        allow_private: true,
        helo_name: "probe.egress-blocked.test".to_owned(),
        egress_canaries: vec![format!("{ip}:{port}")],
        ..base_config()
    };
    config.validate().unwrap();
    let data = Data::new(config).unwrap();
    let domain = mailcheck::DomainName::parse("egress-blocked.test").unwrap();
    let (progress, _rx) = mailcheck_bot::ProgressSender::channel();
    let report = data
        .diagnoser
        .diagnose(&domain, mailcheck::CheckOptions::default(), progress)
        .await;
    assert_eq!(
        report.verdict,
        mailcheck::Verdict::Inconclusive,
        "{report:#?}"
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == mailcheck::Code::ProbeEgressBlocked),
        "{:#?}",
        report.findings
    );
    let rendered = mailcheck_bot::render_report(&report, &mailcheck_bot::RenderContext::default());
    let description = &rendered.embed.description;
    assert!(
        description.contains("Inconclusive")
            && description.contains("The bot's own host cannot reach port 25 over IPv4")
            && !description.contains("problem to fix"),
        "{description}"
    );
    let fields = &rendered.embed.fields;
    assert!(
        fields[0]
            .value
            .contains("not reachable from the bot's host: its own outbound port 25 is blocked"),
        "{fields:#?}"
    );
    let ours = fields.last().unwrap();
    assert!(
        ours.name.contains("about the bot's host, not the domain")
            && ours.value.contains("`probe.egress_blocked`"),
        "{ours:#?}"
    );
    let file = String::from_utf8(rendered.file).unwrap();
    assert!(
        file.contains("From here") && file.contains("outbound port 25 over IPv4: BLOCKED"),
        "{file}"
    );
}
