//! The bot end to end with the REAL [`mailcheck::Checker`]: Discord is the loopback stand-in
//! (real serenity gateway and REST code), the mail world is the in-process lab of the test kit
//! (or a tiny DNS + SMTP pair built here). Nothing leaves loopback.
//!
//! This file runs the lab's domains (verdicts, the early defer, Explain); beside it
//! `mini_world` (a tiny DNS + SMTP pair: hostile banners, private addresses, the address budget)
//! and `vantage` (the start-up self-test and our own blocked port 25).

mod mini_world;
mod vantage;

use std::time::Duration;

use crate::common::Bot;
use mailcheck_bot::BotConfig;
use mailcheck_testkit::discord::Recorded;
use mailcheck_testkit::lab::{Lab, Scenario};
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
