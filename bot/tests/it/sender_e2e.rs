//! `/mailcheck-sender` end to end: the Discord stand-in (real serenity gateway and REST code)
//! in front, the REAL [`mailcheck::Checker`] behind, the in-process lab's sending side (PTR,
//! HELO names, SPF, DMARC, the lab blocklist and the lab's own copy of zen.spamhaus.org) as the
//! world. Nothing leaves loopback.

#[allow(dead_code)] // the shared harness has helpers for /mailcheck this file does not use
use std::time::Duration;

use crate::common::Bot;
use mailcheck_bot::{BotConfig, Data};
use mailcheck_testkit::discord::{CommandSpec, DEFAULT_CHANNEL_ID, Recorded};
use mailcheck_testkit::lab::{Lab, SENDER_DNSBL_ZONES};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(40);
const GUILD: u64 = 555_000_000_000_000_003;
const COMMAND_ID: u64 = 1_100_000_000_000_000_013;

fn base_config() -> BotConfig {
    BotConfig {
        guild_id: Some(GUILD),
        user_cooldown_secs: 600,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    }
}

/// The bot pointed at the lab, with the sender cases' blocklists; `allow_private` as given
/// (the lab's addresses are loopback and documentation ones).
fn lab_data(lab: &Lab, allow_private: bool) -> Data {
    let hints = lab.checker_hints();
    let mut config = mailcheck_bot::lab::bot_config(base_config(), &hints);
    config.dnsbl_zones = Some(SENDER_DNSBL_ZONES.iter().map(|z| (*z).to_owned()).collect());
    config.allow_private = allow_private;
    let check = mailcheck_bot::lab::check_config(&config, &hints).unwrap();
    Data::with_check_config(config, check).unwrap()
}

fn sender(user: u64, options: Value) -> CommandSpec {
    CommandSpec {
        name: "mailcheck-sender".to_owned(),
        command_id: COMMAND_ID,
        options,
        user_id: user,
        username: format!("user{user}"),
        guild_id: Some(GUILD),
        channel_id: DEFAULT_CHANNEL_ID,
    }
}

fn opt(name: &str, value: &str) -> Value {
    json!({ "name": name, "type": 3, "value": value })
}

/// Every message the bot sent for `token` went out with no allowed mentions.
fn assert_no_mentions_allowed(bot: &Bot, token: &str) {
    for r in bot.discord.events_for(token) {
        if let Some(payload) = r.event.message_payload()
            && (r.event.is_edit_original_of(token) || r.event.callback_type() == Some(4))
        {
            assert_eq!(
                payload["allowed_mentions"]["parse"],
                json!([]),
                "{}",
                r.event.summary()
            );
        }
    }
}

/// Sends the command and returns the defer and the final answer (the edit with the file).
async fn ask(bot: &Bot, spec: &CommandSpec) -> (Recorded, Recorded) {
    let sent = bot.discord.send_command(spec).unwrap();
    let first = bot.answer(&sent.token).await;
    assert!(first.event.is_defer_of(&sent.token), "{first:?}");
    let done = bot.final_edit(&sent.token).await;
    assert!(first.index < done.index);
    assert_no_mentions_allowed(bot, &sent.token);
    (first, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_get_their_verdict_checklist_and_fixes_in_discord() {
    let lab = Lab::start().await.unwrap();
    let bot = Bot::start(lab_data(&lab, true), WAIT).await;

    // An office line on the lab's zen.spamhaus.org with the PBL code: broken, red, and the
    // fix says to relay through the provider's smarthost.
    let (_, done) = ask(
        &bot,
        &sender(
            201,
            json!([
                opt("ip", "203.0.113.66"),
                opt("helo", "gw.smallfirm.test"),
                opt("domain", "smallfirm.test")
            ]),
        ),
    )
    .await;
    let embed = &done.event.embeds()[0];
    assert_eq!(embed["color"], 0xE7_4C_3C, "broken is red: {embed}");
    assert_eq!(embed["title"], "Sender check: 203.0.113.66");
    let text = embed.to_string();
    for want in [
        "Broken",
        "HELO **gw.smallfirm.test**",
        "`sender.listed`",
        "66.113.0.203.zen.spamhaus.org -> 127.0.0.10",
        "smarthost",
        "What Gmail, Yahoo and Microsoft require of a sender",
        "❌ The IP is not on the blocklists",
        "✅ The sending IP has a reverse DNS (PTR) record",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(!done.event.is_ephemeral(), "answers are public by default");
    let file = done.event.files()[0].text();
    assert!(
        file.contains("verdict: broken") && file.contains("fix:"),
        "{file}"
    );
    assert_eq!(
        done.event.files()[0].filename,
        "mailcheck-sender-203-0-113-66.txt"
    );

    // The cooldown is shared with /mailcheck and answered privately.
    let again = bot
        .discord
        .send_command(&sender(201, json!([opt("ip", "203.0.113.10")])))
        .unwrap();
    let answer = bot.answer(&again.token).await;
    assert!(answer.event.is_ephemeral(), "{answer:?}");
    assert!(
        answer
            .event
            .content()
            .unwrap_or_default()
            .contains("Please wait"),
        "{answer:?}"
    );

    // A good gateway: green, nothing to fix; the checklist passes.
    let (_, done) = ask(
        &bot,
        &sender(
            202,
            json!([
                opt("ip", "203.0.113.10"),
                opt("helo", "mail.goodsender.test"),
                opt("domain", "goodsender.test")
            ]),
        ),
    )
    .await;
    let embed = &done.event.embeds()[0];
    assert_eq!(embed["color"], 0x1F_8B_4C, "{embed}");
    assert!(embed.to_string().contains("No problems found"), "{embed}");

    // SPF fail, asked privately: the record to publish is in the fix.
    let (first, done) = ask(
        &bot,
        &sender(
            203,
            json!([
                opt("ip", "203.0.113.10"),
                opt("domain", "spf-fail.test"),
                json!({ "name": "private", "type": 5, "value": true })
            ]),
        ),
    )
    .await;
    assert!(
        first.event.is_ephemeral(),
        "the defer is private: {first:?}"
    );
    let text = done.event.embeds()[0].to_string();
    assert!(text.contains("`sender.spf_fail`"), "{text}");
    assert!(
        text.contains("v=spf1 ip4:203.0.113.10 ip4:198.51.100.0/24 -all"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_bad_addresses_are_refused_privately() {
    let lab = Lab::start().await.unwrap();
    let bot = Bot::start(lab_data(&lab, false), WAIT).await;
    for (user, ip, want) in [
        (301, "10.0.0.5", "private address"),
        (302, "127.0.0.1", "loopback address"),
        (304, "203.0.113.10", "reserved address"),
        (303, "not-an-ip", "is not an IP address"),
    ] {
        let sent = bot
            .discord
            .send_command(&sender(user, json!([opt("ip", ip)])))
            .unwrap();
        let answer = bot.answer(&sent.token).await;
        assert_eq!(answer.event.callback_type(), Some(4), "{answer:?}");
        assert!(answer.event.is_ephemeral(), "{answer:?}");
        let content = answer.event.content().unwrap_or_default();
        assert!(content.contains(want), "{ip}: {content}");
        assert_no_mentions_allowed(&bot, &sent.token);
    }
}
