//! The bot against a tiny DNS + SMTP pair built here: a hostile banner arrives neutralized, a
//! private MX address is reported but neither probed nor shown, and a second domain on the same
//! MX address within the budget opens no connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::common::{Bot, assert_neutralized};
use mailcheck_bot::{BotConfig, Data};
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::SmtpServer;

use super::{GUILD, WAIT, assert_no_mentions_allowed, base_config};

/// A tiny mail world: `<domain>` MX 10 `mx.<domain>` A `ip`, and an SMTP server on `ip`.
pub(super) async fn mini_world(
    domain: &str,
    ip: Ipv4Addr,
    greeting: Option<&str>,
) -> (DnsServer, SmtpServer) {
    let host = format!("mx.{domain}");
    let mut smtp = SmtpServer::builder()
        .hostname(&host)
        .bind(SocketAddr::new(IpAddr::V4(ip), 0));
    if let Some(g) = greeting {
        smtp = smtp.greeting(g);
    }
    let smtp = smtp.build().await;
    let dns = DnsServer::builder()
        .mx(domain, 10, &host)
        .a(&host, ip)
        .build()
        .await;
    (dns, smtp)
}

/// A bot configured like production (through [`Data::new`]), only with a loopback resolver and
/// SMTP port, no blocklists, no egress check (its default canaries are public hosts), and
/// private addresses allowed or not.
pub(super) fn world_config(dns: &DnsServer, smtp: &SmtpServer, allow_private: bool) -> BotConfig {
    BotConfig {
        resolver: vec![dns.addr().to_string()],
        smtp_port: smtp.addr().port(),
        dnsbl_zones: Some(Vec::new()),
        egress_canaries: vec![mailcheck_bot::config::NO_EGRESS_CHECK.to_owned()],
        allow_private,
        ..base_config()
    }
}

#[tokio::test]
async fn a_hostile_banner_from_a_real_server_arrives_neutralized() {
    let (dns, smtp) = mini_world(
        "hostile.test",
        Ipv4Addr::new(127, 0, 0, 61),
        Some("220 mx.hostile.test ESMTP @everyone <@123> **x**"),
    )
    .await;
    let bot = Bot::start(Data::new(world_config(&dns, &smtp, true)).unwrap(), WAIT).await;
    let sent = bot.send(301, Some(GUILD), "hostile.test");
    let edit = bot.final_edit(&sent.token).await;
    assert!(
        smtp.connections() > 0,
        "the lab-configured bot probes loopback"
    );
    let payload = edit.event.message_payload().unwrap();
    assert_eq!(payload["allowed_mentions"]["parse"], serde_json::json!([]));
    let text = edit.event.embeds()[0].to_string();
    assert!(
        text.contains("greeting: 220 mx.hostile.test ESMTP"),
        "{text}"
    );
    assert_neutralized(&text, &["@everyone", "<@123>", "**x**"]);
    assert_no_mentions_allowed(&bot, &sent.token);
}

#[tokio::test]
async fn a_private_address_mx_is_reported_not_probed_nor_shown() {
    let (dns, smtp) = mini_world("private.test", Ipv4Addr::new(127, 0, 0, 62), None).await;
    let bot = Bot::start(Data::new(world_config(&dns, &smtp, false)).unwrap(), WAIT).await;
    let sent = bot.send(401, Some(GUILD), "private.test");
    let edit = bot.final_edit(&sent.token).await;
    let text = edit.event.embeds()[0].to_string();
    assert!(text.contains("mx.private_address"), "{text}");
    assert!(
        text.contains("a loopback address (not shown; not tested from chat)"),
        "{text}"
    );
    // Outside a lab, a non-public address is never shown in chat, not even in evidence.
    assert!(!text.contains("127.0.0.62"), "{text}");
    assert!(text.contains("not tested"), "{text}");
    assert_eq!(smtp.connections(), 0, "a private MX must not be probed");
    // Not even its reverse DNS was asked: the bot only looked the names up.
    assert_eq!(
        dns.queries_for("62.0.0.127.in-addr.arpa"),
        0,
        "{:?}",
        dns.query_log()
    );
}

/// The per-address budget across users: a second user checking another domain on the same
/// MX address within the budget window makes no new connection; the answer says the address
/// was probed moments ago instead of pretending to know.
#[tokio::test]
async fn a_second_domain_on_the_same_mx_address_within_the_budget_opens_no_connection() {
    let ip = Ipv4Addr::new(127, 0, 0, 63);
    let smtp = SmtpServer::builder()
        .hostname("mx.first.test")
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .build()
        .await;
    let dns = DnsServer::builder()
        .mx("first.test", 10, "mx.first.test")
        .mx("second.test", 10, "mx.first.test")
        .a("mx.first.test", ip)
        .build()
        .await;
    let config = BotConfig {
        address_budget_secs: 120,
        ..world_config(&dns, &smtp, true)
    };
    let bot = Bot::start(Data::new(config).unwrap(), WAIT).await;
    let first = bot.send(501, Some(GUILD), "first.test");
    bot.final_edit(&first.token).await;
    assert_eq!(smtp.connections(), 1);
    let second = bot.send(502, Some(GUILD), "second.test");
    let edit = bot.final_edit(&second.token).await;
    assert_eq!(smtp.connections(), 1, "no new connection within the budget");
    let file = edit.event.files()[0].text();
    assert!(file.contains("per-address budget"), "{file}");
    let text = edit.event.embeds()[0].to_string();
    assert!(text.contains("smtp.incomplete"), "{text}");
}
