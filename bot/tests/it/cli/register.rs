//! Registration against the Discord stand-in: `/healthz` stays 503 until Discord confirmed it,
//! commands are created one by one per guild (never a bulk overwrite), and a refusal stops the
//! bot with exit 1 and Discord's words.

use mailcheck_testkit::discord::{
    CommandScope, DiscordEvent, DiscordStandIn, Fault, Recorded, RouteMatch,
};

use super::WAIT;
use super::child::{
    created_commands, guild_commands, health_addr, healthz, raw_get, run_bot, terminate,
};

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
    let asked = |r: &Recorded| {
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
