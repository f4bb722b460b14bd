//! The `mailcheck-bot` binary: `--help` explains setup and names `preview`; `preview --lab`
//! prints the exact embed JSON for a lab domain without Discord or the internet; `run` against
//! the Discord stand-in registers `/mailcheck` without replacing other commands, serves
//! `/healthz`, shards, logs JSON on request, stops with exit 1 when Discord refuses the
//! registration, and shuts down gracefully on SIGTERM.

use std::process::Command;
use std::time::Duration;

use mailcheck_testkit::discord::{CommandScope, DiscordEvent, DiscordStandIn, Fault, RouteMatch};

/// Generous: a wait ends as soon as the awaited event or line arrives.
const WAIT: Duration = Duration::from_secs(40);

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
        "allowed_guilds",
        "allow_dms",
        "private_by_default",
        "private_guilds",
        "failure_cache_ttl_secs",
        "address_budget_secs",
        "max_smtp_connections",
        "max_mx_hosts",
        "max_addresses_per_host",
        "max_addresses_per_domain",
        "--health-addr",
        "/healthz",
        "--shards",
        "--log-format",
        "exits 1",
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

/// The lines a child writes to stderr, read as they come (so the pipe never fills); waits wake
/// on each new line.
///
/// The lines live in the watch channel itself, its lock the only one: a wait's predicate reads
/// them under the channel's read lock and takes no other. (A `Mutex` beside a count channel
/// deadlocked: the reader notified while holding the `Mutex`, a waiter's predicate locked it
/// while holding the channel's read lock, and with both runtime threads frozen no timeout fired.)
struct LogLines {
    lines: tokio::sync::watch::Receiver<Vec<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LogLines {
    fn capture(stderr: tokio::process::ChildStderr) -> Self {
        use tokio::io::AsyncBufReadExt;
        let (tx, lines) = tokio::sync::watch::channel(Vec::new());
        let reader = tokio::spawn(async move {
            let mut stderr = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = stderr.next_line().await {
                tx.send_modify(|lines| lines.push(line));
            }
        });
        Self { lines, reader }
    }

    fn text(&self) -> String {
        self.lines.borrow().join("\n")
    }

    /// The first line containing `needle`, waiting for it until `WAIT` (or the end of the
    /// output) if it has not come yet.
    async fn wait_for(&mut self, needle: &str) -> String {
        let found = |lines: &[String]| lines.iter().find(|l| l.contains(needle)).cloned();
        let waited =
            tokio::time::timeout(WAIT, self.lines.wait_for(|lines| found(lines).is_some())).await;
        let line = match &waited {
            Ok(Ok(lines)) => found(lines),
            _ => None,
        };
        drop(waited);
        line.unwrap_or_else(|| panic!("{needle:?} not logged; stderr:\n{}", self.text()))
    }

    /// Everything, once the child closed stderr.
    async fn finish(self) -> String {
        let closed = tokio::time::timeout(WAIT, self.reader).await;
        let text = self.lines.borrow().join("\n");
        assert!(
            closed.is_ok(),
            "stderr still open {WAIT:?} after the exit:\n{text}"
        );
        text
    }
}

/// `mailcheck-bot run` against the stand-in with `extra` arguments and logs captured. Unless
/// `env` says otherwise no check leaves loopback: blocklists and the egress self-test are off,
/// and the resolver is a closed loopback port.
fn run_bot(
    discord: &DiscordStandIn,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, LogLines) {
    let mut cmd = tokio::process::Command::from(bot());
    cmd.args(["run", "--discord-api", &discord.http_base()])
        .args(extra)
        .env("DISCORD_TOKEN", "standin-token")
        .env("RUST_LOG", "info,serenity=warn")
        .env("MAILCHECK_RESOLVER", "127.0.0.1:9")
        .env("MAILCHECK_DNSBL_ZONES", "none")
        .env("MAILCHECK_EGRESS_CANARIES", "none")
        .env("MAILCHECK_HELO_NAME", "probe.deploy.test")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().unwrap();
    let logs = LogLines::capture(child.stderr.take().unwrap());
    (child, logs)
}

/// Sends SIGTERM and waits for the exit.
async fn terminate(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the bot exits after SIGTERM")
        .unwrap()
}

/// `/healthz` as JSON, with its status code.
async fn healthz(addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let (status, body) = mailcheck_bot::health::probe(addr, WAIT).await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, json)
}

/// The address in the "serving GET /healthz on http://ADDR/healthz" line.
async fn health_addr(logs: &mut LogLines) -> std::net::SocketAddr {
    let line = logs.wait_for("serving GET /healthz on http://").await;
    let start = line.find("http://").unwrap() + "http://".len();
    let rest = &line[start..];
    rest[..rest.find("/healthz").unwrap()].parse().unwrap()
}

/// `/healthz` answers 503 while the bot connects and while Discord has not yet confirmed the
/// registration, then 200 with every field; /mailcheck is created command by command (POST,
/// an upsert by name) in each configured guild, never by replacing the application's command
/// list (PUT), with its install and interaction contexts stated; the shard count comes from
/// `GET /gateway/bot`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_turns_ok_once_registered_and_registration_upserts_per_guild() {
    const GUILD_A: u64 = 555_000_000_000_000_011;
    const GUILD_B: u64 = 555_000_000_000_000_012;
    let discord = DiscordStandIn::start().await.unwrap();
    let hold = discord.hold(RouteMatch::create_command());
    let (mut child, mut logs) = run_bot(
        &discord,
        &["--health-addr", "127.0.0.1:0"],
        &[
            ("MAILCHECK_GUILD_ID", &GUILD_A.to_string()),
            ("MAILCHECK_ALLOWED_GUILDS", &format!("{GUILD_A},{GUILD_B}")),
        ],
    );
    let addr = health_addr(&mut logs).await;
    let fields = [
        "status",
        "gateway_connected",
        "shards",
        "shards_connected",
        "checks_running",
        "last_check_age_secs",
        "uptime_secs",
    ];

    // Registration is held: the gateway session is up, but nothing answers commands yet.
    let held = hold.wait_arrived(1, WAIT).await.unwrap();
    let (status, json) = healthz(addr).await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["gateway_connected"], false);
    assert_eq!(json["shards"], 1, "known from /gateway/bot: {json}");
    assert_eq!(json["shards_connected"], 0);
    for field in fields {
        assert!(json.get(field).is_some(), "{field} missing: {json}");
    }
    assert_eq!(held[0].path, guild_commands(&discord, GUILD_A));

    hold.release();
    logs.wait_for("shard 0 connected to the gateway").await;
    let (status, json) = healthz(addr).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["gateway_connected"], true);
    assert_eq!(
        (json["shards"].as_u64(), json["shards_connected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(json["checks_running"], 0);
    assert_eq!(json["last_check_age_secs"], serde_json::Value::Null);
    assert!(json["uptime_secs"].is_u64(), "{json}");
    let (status, _) = raw_get(addr, "/").await;
    assert_eq!(status, 404);

    // One POST per command and guild (/mailcheck, /mailcheck-sender), each carrying the whole
    // definition, all answered before the shard counts as connected; no bulk overwrite.
    let posts = created_commands(&discord);
    let scopes: Vec<CommandScope> = posts.iter().map(|(scope, _)| *scope).collect();
    assert_eq!(
        scopes,
        [
            CommandScope::Guild(GUILD_A),
            CommandScope::Guild(GUILD_A),
            CommandScope::Guild(GUILD_B),
            CommandScope::Guild(GUILD_B)
        ]
    );
    for ((_, body), (name, option)) in posts.iter().zip(
        [("mailcheck", "domain"), ("mailcheck-sender", "ip")]
            .iter()
            .cycle(),
    ) {
        assert_eq!(body["name"], *name, "{body}");
        assert_eq!(body["options"][0]["name"], *option);
        assert_eq!(body["integration_types"], serde_json::json!([0, 1]));
        assert_eq!(body["contexts"], serde_json::json!([0, 1, 2]));
    }
    let events = discord.events();
    assert!(
        !events.iter().any(
            |r| matches!(&r.event, DiscordEvent::RegisterCommands { .. })
                || matches!(&r.event, DiscordEvent::Other { method, .. } if method == "PUT")
        ),
        "nothing may replace the command list: {events:#?}"
    );
    // Autosharding: the recommended count was asked for.
    let asked = |r: &mailcheck_testkit::discord::Recorded| {
        matches!(&r.event, DiscordEvent::Other { method, path, .. }
            if method == "GET" && path == "/api/v10/gateway/bot")
    };
    assert!(events.iter().any(asked), "{events:#?}");

    let status = terminate(&mut child).await;
    let stderr = logs.finish().await;
    assert!(status.success(), "{status:?}\n{stderr}");
    for needle in [
        format!("registered /mailcheck in guild {GUILD_A}"),
        format!("registered /mailcheck in guild {GUILD_B}"),
        "running 1 shard(s), as Discord recommends".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} missing in\n{stderr}");
    }
}

/// The path of command registration in `guild`.
fn guild_commands(discord: &DiscordStandIn, guild: u64) -> String {
    format!(
        "/api/v10/applications/{}/guilds/{guild}/commands",
        discord.application_id()
    )
}

/// The commands created so far (each `POST …/commands` answered 201): scope and definition.
fn created_commands(discord: &DiscordStandIn) -> Vec<(CommandScope, serde_json::Value)> {
    discord
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            DiscordEvent::CreateCommand { scope, command } => Some((scope, command)),
            _ => None,
        })
        .collect()
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// Discord refuses the registration (the bot was invited without `applications.commands`):
/// the bot does not stay connected answering nothing; it stops its shard and exits 1 with
/// Discord's words and what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_stops_the_bot_with_exit_1_and_discords_words() {
    const GUILD: u64 = 555_000_000_000_000_013;
    let discord = DiscordStandIn::start().await.unwrap();
    // Held first, to see what the bot sent; then refused as Discord refuses it.
    let hold = discord.hold(RouteMatch::create_command());
    discord.fail_next(
        RouteMatch::create_command(),
        1,
        Fault::Error {
            status: 403,
            code: 50001,
            message: "Missing Access".to_owned(),
        },
    );
    let (mut child, logs) = run_bot(
        &discord,
        &["--health-addr", "127.0.0.1:0"],
        &[("MAILCHECK_GUILD_ID", &GUILD.to_string())],
    );
    // What the bot sent: the definition of /mailcheck, to that guild.
    let held = hold.wait_arrived(1, WAIT).await.unwrap();
    assert_eq!(held[0].path, guild_commands(&discord, GUILD));
    assert_eq!(held[0].body["name"], "mailcheck");
    hold.release();
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the bot stops on its own")
        .unwrap();
    let stderr = logs.finish().await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    let expected = format!(
        "error: cannot register /mailcheck in guild {GUILD}: Missing Access [HTTP 403, code \
         50001] (is the bot invited with the applications.commands scope?)"
    );
    assert!(
        stderr.lines().any(|l| l == expected),
        "{expected:?} missing in\n{stderr}"
    );
    // Nothing more: that one POST, refused.
    let events = discord.events();
    let registrations: Vec<_> = events
        .iter()
        .filter(|r| match &r.event {
            DiscordEvent::CreateCommand { .. } | DiscordEvent::RegisterCommands { .. } => true,
            DiscordEvent::Fault { path, .. } => path.ends_with("/commands"),
            _ => false,
        })
        .collect();
    assert_eq!(registrations.len(), 1, "{events:#?}");
    assert_eq!(registrations[0].status, Some(403));
    assert_eq!(hold.arrived().len(), 1);
    assert!(!stderr.contains("registered /mailcheck"), "{stderr}");
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
