//! `run` answering against the Discord stand-in: a check in flight survives SIGTERM and its
//! answer is posted before the exit; forced shards; JSON logs.

use mailcheck_testkit::discord::{CommandScope, DiscordEvent, DiscordStandIn};

use super::WAIT;
use super::child::{created_commands, health_addr, healthz, run_bot, terminate};

/// `mailcheck-bot run` against the Discord stand-in: it checks its own vantage point at
/// start-up (against a loopback canary that echoes a NAT address, never the public default
/// canaries) and logs it, registers /mailcheck in the guild, answers, and on SIGTERM lets the
/// running check finish and post its answer (here: the polite deadline message, since the mail
/// server never greets) before it exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_answers_and_shuts_down_gracefully_on_sigterm() {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use mailcheck_testkit::dns::DnsServer;
    use mailcheck_testkit::smtp::{Command as SmtpCommand, Hostile, SmtpServer};

    const GUILD: u64 = 555_000_000_000_000_003;
    let ip = Ipv4Addr::new(127, 0, 0, 63);
    let smtp = SmtpServer::builder()
        .hostname("mx.silent-bot.test")
        .hostile(Hostile::Silence)
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .build()
        .await;
    let dns = DnsServer::builder()
        .mx("silent-bot.test", 10, "mx.silent-bot.test")
        .a("mx.silent-bot.test", ip)
        .build()
        .await;
    let canary = SmtpServer::builder()
        .hostname("canary.silent-bot.test")
        .echo_as(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77)))
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 64)), 0))
        .build()
        .await;
    let discord = DiscordStandIn::start().await.unwrap();

    let (mut child, logs) = run_bot(
        &discord,
        &[],
        &[
            ("MAILCHECK_GUILD_ID", &GUILD.to_string()),
            ("MAILCHECK_RESOLVER", &dns.addr().to_string()),
            ("MAILCHECK_SMTP_PORT", &smtp.addr().port().to_string()),
            ("MAILCHECK_ALLOW_PRIVATE", "true"),
            ("MAILCHECK_CHECK_DEADLINE_SECS", "4"),
            ("MAILCHECK_EGRESS_CANARIES", &canary.addr().to_string()),
            ("MAILCHECK_HELO_NAME", "probe.silent-bot.test"),
        ],
    );
    discord.wait_ready(WAIT).await.unwrap();
    let registered = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::CreateCommand { .. }))
        .await
        .unwrap();
    assert!(
        matches!(
            registered.event,
            DiscordEvent::CreateCommand {
                scope: CommandScope::Guild(GUILD),
                ..
            }
        ),
        "{registered:?}"
    );

    let sent = discord
        .send_interaction(42, Some(GUILD), "silent-bot.test")
        .unwrap();
    discord
        .wait_for(WAIT, |e| {
            e.is_edit_original_of(&sent.token)
                && e.embeds()
                    .first()
                    .is_some_and(|m| m.to_string().contains("DNS done"))
        })
        .await
        .unwrap();
    // The check is now waiting for a greeting that never comes.
    smtp.wait_for_connections(1).await;
    let status = terminate(&mut child).await;
    let stderr = logs.finish().await;
    assert!(status.success(), "{status:?}\n{stderr}");
    // The running check was allowed to end (at its deadline, with what it found so far) and its
    // answer was posted before the exit.
    let answered = discord.events_for(&sent.token).into_iter().any(|r| {
        r.event.is_edit_original_of(&sent.token)
            && r.event
                .embeds()
                .first()
                .is_some_and(|m| m.to_string().contains("Partial result"))
    });
    assert!(answered, "{:#?}\n{stderr}", discord.events_for(&sent.token));
    // The start-up self-test greeted the canary (EHLO, QUIT; no transaction) and logged what
    // it learned; the EHLO name does not resolve, so the identity warning is loud.
    assert_eq!(canary.connections(), 1, "{stderr}");
    assert!(!canary.saw_command(SmtpCommand::Mail));
    for needle in [
        "From here: outbound port 25 over IPv4: open",
        "From here: public address: 192.0.2.77 (echoed by",
        "From here: EHLO name: probe.silent-bot.test",
        "probe.identity",
        "identity is poor",
        "allow_private is on",
        "registered /mailcheck in guild",
        "shutting down",
        "waiting for running checks",
        "stopped",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing in\n{stderr}");
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a non-terminal log: {stderr}"
    );
}

/// `--shards 2` runs two shards without asking for a recommendation, `/healthz` counts both,
/// and `--log-format json` writes one JSON object per line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_shards_and_json_logs() {
    const GUILD: u64 = 555_000_000_000_000_014;
    let discord = DiscordStandIn::start().await.unwrap();
    let (mut child, mut logs) = run_bot(
        &discord,
        &["--shards", "2", "--health-addr", "127.0.0.1:0"],
        &[
            ("MAILCHECK_GUILD_ID", &GUILD.to_string()),
            ("MAILCHECK_LOG_FORMAT", "json"),
        ],
    );
    let addr = health_addr(&mut logs).await;
    // serenity starts the second shard 5 s after the first.
    logs.wait_for("shard 0 connected to the gateway").await;
    logs.wait_for("shard 1 connected to the gateway").await;
    let (status, json) = healthz(addr).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        (json["shards"].as_u64(), json["shards_connected"].as_u64()),
        (Some(2), Some(2))
    );

    let events = discord.events();
    let identifies = events
        .iter()
        .filter(|r| matches!(r.event, DiscordEvent::Identify { .. }))
        .count();
    assert_eq!(identifies, 2, "{events:#?}");
    assert!(
        !events.iter().any(|r| matches!(
            &r.event,
            DiscordEvent::Other { path, .. } if path.starts_with("/api/v10/gateway/bot")
        )),
        "--shards needs no recommendation: {events:#?}"
    );
    // Registered once (a POST per command), by the first shard.
    assert_eq!(created_commands(&discord).len(), 2, "{events:#?}");

    let status = terminate(&mut child).await;
    let stderr = logs.finish().await;
    assert!(status.success(), "{status:?}\n{stderr}");
    let mut messages = Vec::new();
    for line in stderr.lines() {
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{stderr}"));
        for field in ["timestamp", "level", "target", "message"] {
            assert!(json.get(field).is_some(), "{field} missing: {line}");
        }
        messages.push(json["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        messages
            .iter()
            .any(|m| m == "running 2 shard(s) (--shards)"),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m == "stopped"), "{messages:#?}");
}
