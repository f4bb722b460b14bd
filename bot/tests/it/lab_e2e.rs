//! The bot end to end with the REAL [`mailcheck::Checker`]: Discord is the loopback stand-in
//! (real serenity gateway and REST code), the mail world is the in-process lab of the test kit
//! (or a tiny DNS + SMTP pair built here). Nothing leaves loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::common::{Bot, assert_neutralized};
use mailcheck_bot::{BotConfig, Data};
use mailcheck_testkit::discord::Recorded;
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::lab::{Lab, Scenario};
use mailcheck_testkit::smtp::SmtpServer;
use serde_json::Value;

/// Generous: a wait ends as soon as the awaited event arrives.
const WAIT: Duration = Duration::from_secs(40);
const GUILD: u64 = 555_000_000_000_000_002;

/// Cooldowns per guild off, per user on (each test uses a new user per check).
fn base_config() -> BotConfig {
    BotConfig {
        guild_id: Some(GUILD),
        user_cooldown_secs: 600,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    }
}

async fn lab_bot(lab: &Lab) -> Bot {
    Bot::start(
        mailcheck_bot::lab::data(base_config(), &lab.checker_hints()).unwrap(),
        WAIT,
    )
    .await
}

fn scenario(lab: &Lab, input: &str) -> Scenario {
    lab.scenarios()
        .into_iter()
        .find(|s| s.input == input)
        .unwrap()
}

fn description(edit: &Recorded) -> String {
    edit.event
        .embeds()
        .first()
        .and_then(|e| e["description"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Every message the bot sent for `token` went out with no allowed mentions.
fn assert_no_mentions_allowed(bot: &Bot, token: &str) {
    for r in bot.discord.events_for(token) {
        if let Some(payload) = r.event.message_payload()
            && (r.event.is_edit_original_of(token) || r.event.callback_type() == Some(4))
        {
            assert_eq!(
                payload["allowed_mentions"]["parse"],
                serde_json::json!([]),
                "{}",
                r.event.summary()
            );
        }
    }
}

/// Sends `/mailcheck <domain>` and checks the whole exchange: the defer comes first, then the
/// "DNS done" progress edit naming the mail hosts, then the final embed with the scenario's
/// verdict and codes (the file says the same). Returns the final embed and the progress edit.
async fn check_scenario(bot: &Bot, lab: &Lab, user: u64, input: &str) -> (Value, Recorded) {
    let s = scenario(lab, input);
    let sent = bot.send(user, Some(GUILD), input);
    let (first, progress) = bot.first_answer_and_progress(&sent.token, "DNS done").await;
    assert!(first.event.is_defer_of(&sent.token), "{input}: {first:?}");
    assert!(progress.event.files().is_empty());
    let done = bot.final_edit(&sent.token).await;
    assert!(
        first.index < progress.index && progress.index < done.index,
        "{input}: defer {}, progress {}, final {}",
        first.index,
        progress.index,
        done.index
    );
    let embed = done.event.embeds()[0].clone();
    let text = embed.to_string();
    let file = done.event.files()[0].text();
    assert!(
        file.contains(&format!("verdict: {} ", s.verdict)),
        "{input}: want {}\n{file}",
        s.verdict
    );
    for code in s.codes {
        assert!(text.contains(code), "{input}: {code} missing in {text}");
    }
    // The open-relay test never runs from chat: the only recipient ever tried is postmaster.
    for line in file.lines().filter(|l| l.contains("RCPT TO:")) {
        assert!(line.contains("postmaster@"), "{input}: {line}");
    }
    assert_no_mentions_allowed(bot, &sent.token);
    (embed, progress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_domains_get_their_verdicts_and_findings_in_discord() {
    let lab = Lab::start().await.unwrap();
    let bot = lab_bot(&lab).await;

    let (healthy, _) = check_scenario(&bot, &lab, 101, "healthy.test").await;
    assert_eq!(healthy["color"], 0x1F_8B_4C, "ok is green");
    let text = healthy.to_string();
    assert!(
        text.contains("OK") && text.contains("No problems found"),
        "{text}"
    );
    assert!(text.contains("MX 10 mx.healthy.test"), "{text}");
    assert!(text.contains("accepts mail for the domain"), "{text}");
    assert!(text.contains("TLSv1.3 · certificate ok"), "{text}");

    let (nomx, _) = check_scenario(&bot, &lab, 102, "nomx.test").await;
    let text = nomx.to_string();
    assert!(text.contains("Degraded"), "{text}");
    assert!(
        text.contains("No MX: mail goes to nomx.test itself"),
        "{text}"
    );

    let (closed, _) = check_scenario(&bot, &lab, 103, "closed.test").await;
    assert_eq!(closed["color"], 0xE7_4C_3C, "broken is red");
    let text = closed.to_string();
    assert!(
        text.contains("Broken") && text.contains("smtp.refused"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    // The problem comes first, with its advice.
    let first = closed["fields"][0].to_string();
    assert!(
        first.contains("smtp.refused") && first.contains("Fix:"),
        "{first}"
    );

    let (listed, _) = check_scenario(&bot, &lab, 104, "listed.test").await;
    let text = listed.to_string();
    assert!(text.contains("blocklists: **listed** on bl.test"), "{text}");

    // A finding about the bot's own host (its resolver is refused by the blocklist) is shown
    // last and labelled as such, not under the MX address; the domain stays ok.
    let (bldown, _) = check_scenario(&bot, &lab, 107, "bldown.test").await;
    assert_eq!(bldown["color"], 0x1F_8B_4C, "{bldown}");
    let fields = bldown["fields"].as_array().unwrap();
    let ours = fields.last().unwrap().to_string();
    assert!(
        ours.contains("about the bot's host, not the domain")
            && ours.contains("`dnsbl.unavailable`")
            && ours.contains("Fix (for the bot's operator)"),
        "{ours}"
    );
    assert!(fields[0].to_string().contains("MX 10 mx.bldown.test"));
    let d = bldown["description"].as_str().unwrap();
    assert!(
        d.contains("No problems found") && d.contains("1 note(s) about the bot's own host"),
        "{d}"
    );

    // Greylisting is inconclusive, and the address line does not call it a refusal.
    let (grey, _) = check_scenario(&bot, &lab, 108, "greylist.test").await;
    let text = grey.to_string();
    assert!(text.contains("Inconclusive"), "{text}");
    assert!(text.contains("greylists"), "{text}");
    assert!(!text.contains("refuses mail"), "{text}");

    // The MTA-STS policy is fetched from the lab's HTTPS server (the bot trusts the lab CA
    // there too): a policy that lists another host than the MX.
    check_scenario(&bot, &lab, 109, "sts-mismatch.test").await;
    assert!(
        lab.https().requests().iter().any(|r| r.host.as_deref()
            == Some("mta-sts.sts-mismatch.test")
            && r.status == Some(200)),
        "{:#?}",
        lab.https().requests()
    );

    // No open-relay test from chat, even against a server that would relay: the server only
    // ever saw the postmaster recipient.
    let relay = bot.send(106, Some(GUILD), "openrelay.test");
    let done = bot.final_edit(&relay.token).await;
    let text = done.event.embeds()[0].to_string();
    assert!(!text.contains("smtp.open_relay"), "{text}");
    let server = lab.server("mx.openrelay.test").unwrap();
    let rcpts: Vec<String> = server
        .transcripts()
        .iter()
        .flat_map(|t| t.lines.clone())
        .filter(|l| l.to_ascii_uppercase().starts_with("RCPT TO:"))
        .collect();
    assert_eq!(rcpts, ["RCPT TO:<postmaster@openrelay.test>"]);

    // The real checker's bot still answers a second check from the same user privately.
    let again = bot.send(101, Some(GUILD), "closed.test");
    let answer = bot.answer(&again.token).await;
    assert_eq!(answer.event.callback_type(), Some(4), "{answer:?}");
    assert!(answer.event.is_ephemeral());
    assert!(answer.event.content().unwrap().contains("Please wait"));
    assert_no_mentions_allowed(&bot, &again.token);

    // Input that is not a domain: a private hint, no check, no DNS query.
    let queries = lab.dns().queries();
    let bad = bot.send(105, Some(GUILD), "not a domain!");
    let answer = bot.answer(&bad.token).await;
    assert_eq!(answer.event.callback_type(), Some(4), "{answer:?}");
    assert!(answer.event.is_ephemeral());
    assert!(
        answer
            .event
            .content()
            .unwrap()
            .starts_with("I can't check that")
    );
    assert_eq!(lab.dns().queries(), queries);
}

/// `slow.test` greets only after 6 s: the defer and the MX progress reach Discord while the
/// probe still waits for the greeting, and the final embed comes after both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_defer_comes_before_a_slow_probe_finishes() {
    let lab = Lab::start().await.unwrap();
    let bot = lab_bot(&lab).await;
    let (embed, progress) = check_scenario(&bot, &lab, 201, "slow.test").await;
    let text = embed.to_string();
    assert!(text.contains("smtp.slow_greeting"), "{text}");
    // The progress edit named the host and its address before the probe was done.
    let d = description(&progress);
    assert!(d.contains("MX 10 mx.slow.test · `127.0.0.17`"), "{d}");
}

/// A tiny mail world: `<domain>` MX 10 `mx.<domain>` A `ip`, and an SMTP server on `ip`.
async fn mini_world(domain: &str, ip: Ipv4Addr, greeting: Option<&str>) -> (DnsServer, SmtpServer) {
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
fn world_config(dns: &DnsServer, smtp: &SmtpServer, allow_private: bool) -> BotConfig {
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

/// "Explain" on a real check: the seed's ladder up to the step that failed, with what the
/// server said and the advice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_walks_the_seeds_ladder_to_the_failing_step() {
    let lab = Lab::start().await.unwrap();
    let bot = lab_bot(&lab).await;
    let sent = bot.send(601, Some(GUILD), "relay.test");
    let done = bot.final_edit(&sent.token).await;
    let payload = done.event.message_payload().unwrap();
    let explain = payload["components"][0]["components"][2]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let click = bot
        .discord
        .click(sent.token.as_str(), &explain, 602, Some(GUILD))
        .unwrap();
    let answer = bot.answer(&click.token).await;
    assert!(
        answer.event.is_ephemeral() && answer.succeeded(),
        "{answer:?}"
    );
    let text = answer.event.embeds()[0].to_string();
    for step in ["MX ✓", "greeting ✓", "EHLO ✓", "MAIL FROM ✓", "RCPT TO ✗"] {
        assert!(text.contains(step), "{step} missing in {text}");
    }
    assert!(text.contains("Relay access denied"), "{text}");
    assert!(text.contains("What to do"), "{text}");
}
