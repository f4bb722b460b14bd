//! The `mailcheck-bot` binary: `--help` explains setup and names `preview`; `preview --lab`
//! prints the exact embed JSON for a lab domain without Discord or the internet.

use std::process::Command;

fn bot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcheck-bot"));
    // No settings from the environment of whoever runs the tests.
    for (key, _) in std::env::vars() {
        if key.starts_with("MAILCHECK_") || key == "DISCORD_TOKEN" {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

#[test]
fn help_explains_setup_and_names_preview() {
    let out = bot().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "preview",
        "run",
        "DISCORD_TOKEN",
        "applications.commands",
        "guild_id",
        "MAILCHECK_",
        "--lab",
        "helo_name",
        "mail_from",
        "public_ip",
        "egress_canaries",
        "ca_file",
        "From here",
        "inconclusive",
    ] {
        assert!(help.contains(needle), "{needle:?} missing in\n{help}");
    }
    let out = bot().args(["preview", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("closed.test") && help.contains("healthy.test"),
        "{help}"
    );
}

#[test]
fn preview_lab_closed_test_prints_the_embed_a_volunteer_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    let out = bot()
        .args(["preview", "--lab", "closed.test", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(
        json["attachments"][0]["filename"],
        "mailcheck-closed.test.txt"
    );
    let embed = &json["embeds"][0];
    assert_eq!(embed["title"], "Mail check: closed.test");
    assert_eq!(embed["color"], 0xE7_4C_3C);
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("Broken") && description.contains("cannot be delivered"),
        "{description}"
    );
    assert!(description.contains("1 problem to fix"), "{description}");
    let problem = &embed["fields"][0];
    let name = problem["name"].as_str().unwrap();
    assert!(name.starts_with("🔴 Error: mx.closed.test"), "{name}");
    let value = problem["value"].as_str().unwrap();
    assert!(
        value.contains("`smtp.refused`") && value.contains("**Fix:**"),
        "{value}"
    );
    let host = embed["fields"][1].to_string();
    assert!(host.contains("MX 10 mx.closed.test"), "{host}");
    assert!(
        host.contains("connection refused: no mail server listening"),
        "{host}"
    );
    let footer = embed["footer"]["text"].as_str().unwrap();
    assert!(footer.contains("attached file"), "{footer}");
    let report = std::fs::read_to_string(&file).unwrap();
    assert!(report.contains("verdict: broken"), "{report}");
    assert!(report.contains("smtp.refused"), "{report}");
}

#[test]
fn preview_rejects_input_that_is_not_a_domain() {
    let out = bot()
        .args(["preview", "--lab", "not a domain!"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("I can't check that"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `mailcheck-bot run` against the Discord stand-in: it checks its own vantage point at
/// start-up (against a loopback canary that echoes a NAT address, never the public default
/// canaries) and logs it, registers /mailcheck in the guild, answers, and on SIGTERM lets the
/// running check finish and post its answer (here: the polite deadline message, since the mail
/// server never greets) before it exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_answers_and_shuts_down_gracefully_on_sigterm() {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use mailcheck_testkit::discord::{DiscordEvent, DiscordStandIn};
    use mailcheck_testkit::dns::DnsServer;
    use mailcheck_testkit::smtp::{Command as SmtpCommand, Hostile, SmtpServer};

    const WAIT: Duration = Duration::from_secs(40);
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

    let mut child = tokio::process::Command::from(bot())
        .args(["run", "--discord-api", &discord.http_base()])
        .env("DISCORD_TOKEN", "standin-token")
        .env("RUST_LOG", "info,serenity=warn")
        .env("MAILCHECK_GUILD_ID", GUILD.to_string())
        .env("MAILCHECK_RESOLVER", dns.addr().to_string())
        .env("MAILCHECK_SMTP_PORT", smtp.addr().port().to_string())
        .env("MAILCHECK_ALLOW_PRIVATE", "true")
        .env("MAILCHECK_DNSBL_ZONES", "none")
        .env("MAILCHECK_CHECK_DEADLINE_SECS", "4")
        .env("MAILCHECK_EGRESS_CANARIES", canary.addr().to_string())
        .env("MAILCHECK_HELO_NAME", "probe.silent-bot.test")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    discord.wait_ready(WAIT).await.unwrap();
    let registered = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::RegisterCommands { .. }))
        .await
        .unwrap();
    assert!(
        registered.event.summary().contains(&GUILD.to_string()),
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
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the bot exits after SIGTERM")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
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
