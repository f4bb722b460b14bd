//! The bot end to end through the real serenity gateway and REST code, against the loopback
//! Discord stand-in of the test kit. Checks are answered by a scripted [`Diagnoser`], so these
//! tests exercise the bot (defer, progress, rendering, safety, cooldowns, cache, cap) and not the
//! probes.
//!
//! This file holds the answer itself (defer, progress, the final embed, privacy, where the
//! command works, the buttons, oversized text); beside it `harness` (the scripted diagnoser and
//! the bot it answers for), `guards` (cooldowns, cache, cap, deadline, one probe per domain) and
//! `resilience` (Discord failing: 429s, 5xx, a gateway reconnect, a late acknowledgement).

mod guards;
mod harness;
mod resilience;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{Bot, assert_neutralized};
use mailcheck::{Code, Finding};
use mailcheck_bot::{BotConfig, Data, Diagnoser};
use mailcheck_testkit::discord::{CommandSpec, DiscordEvent};
use tokio::sync::watch;

use harness::{GUILD, Scripted, WAIT, lenient, sample_report, start};

#[tokio::test]
async fn registers_defers_first_then_shows_progress_and_a_safe_final_embed() {
    let h = start(lenient(), false).await;
    let registered = h
        .bot
        .discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::CreateCommand { .. }))
        .await
        .unwrap();
    let DiscordEvent::CreateCommand { command, .. } = &registered.event else {
        unreachable!()
    };
    assert_eq!(command["name"], "mailcheck");
    assert_eq!(command["options"][0]["name"], "domain");
    assert_eq!(command["options"][1]["name"], "private");
    // Upserted by name: never a bulk overwrite that would drop a host bot's other commands.
    assert!(
        !h.bot
            .discord
            .events()
            .iter()
            .any(|r| matches!(r.event, DiscordEvent::RegisterCommands { .. }))
    );

    let sent = h.bot.send(42, Some(GUILD), "Postmaster@Example.TEST");
    // The first answer is the defer, and it comes while the check is still held at the gate;
    // then progress: the MX list, still before the check is allowed to finish.
    let (first, progress) = h
        .bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    assert!(first.event.is_defer_of(&sent.token), "{first:?}");
    assert!(!first.event.is_ephemeral());
    assert!(progress.event.files().is_empty());
    h.open_gate.send_replace(true);

    let edit = h.bot.final_edit(&sent.token).await;
    let payload = edit.event.message_payload().unwrap();
    assert_eq!(payload["allowed_mentions"]["parse"], serde_json::json!([]));
    let embed = &edit.event.embeds()[0];
    assert_eq!(embed["title"], "Mail check: example.test");
    assert_eq!(embed["color"], 0xE7_4C_3C, "broken is red");
    let text = embed.to_string();
    assert!(text.contains("Broken"), "{text}");
    assert!(
        text.contains("dnsbl.listed") && text.contains("smtp.banner_mismatch"),
        "{text}"
    );
    assert!(
        text.contains("blocklists: **listed** on zen.example"),
        "{text}"
    );
    assert!(text.contains("TLSv1.3"), "{text}");
    // The hostile banner arrives neutralized.
    assert_neutralized(&text, &["@everyone", "@here", "<@123>", "<@&77>", "**x**"]);
    // Errors before warnings.
    let fields = embed["fields"].as_array().unwrap();
    let first_field = fields[0]["value"].as_str().unwrap();
    assert!(first_field.contains("dnsbl.listed"), "{fields:?}");
    assert!(embed["footer"]["text"].as_str().unwrap().contains("1.2 s"));
    // The full report as a file.
    let file = &edit.event.files()[0];
    assert_eq!(file.filename, "mailcheck-example.test.txt");
    assert!(file.text().contains("verdict: broken"));
    // Nothing else reached the API.
    let others: Vec<String> = h
        .bot
        .discord
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            DiscordEvent::Other { method, path, .. } => Some(format!("{method} {path}")),
            _ => None,
        })
        .collect();
    assert_eq!(others, ["GET /api/v10/gateway"]);
}

#[tokio::test]
async fn invalid_input_is_answered_privately_without_a_check() {
    let h = start(lenient(), true).await;
    let sent = h.bot.send(42, Some(GUILD), "not a domain <@1>");
    let answer = h.bot.answer(&sent.token).await;
    assert_eq!(answer.event.callback_type(), Some(4), "{answer:?}");
    assert!(answer.event.is_ephemeral());
    let content = answer.event.content().unwrap();
    assert!(content.starts_with("I can't check that"), "{content}");
    assert!(!content.contains("<@1>"), "{content}");
    assert_eq!(
        answer.event.message_payload().unwrap()["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn private_answers_are_ephemeral_by_choice_or_by_the_guilds_default() {
    let h = start(
        BotConfig {
            private_guilds: vec![GUILD],
            ..lenient()
        },
        true,
    )
    .await;
    // The guild's default: private.
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    let defer = h.bot.answer(&sent.token).await;
    assert!(
        defer.event.is_defer_of(&sent.token) && defer.event.is_ephemeral(),
        "{defer:?}"
    );
    h.bot.final_edit(&sent.token).await;
    // The asker says public.
    let mut spec = CommandSpec::mailcheck(43, Some(GUILD), "other.test");
    spec.options = serde_json::json!([
        { "name": "domain", "type": 3, "value": "other.test" },
        { "name": "private", "type": 5, "value": false }
    ]);
    let sent = h.bot.discord.send_command(&spec).unwrap();
    let defer = h.bot.answer(&sent.token).await;
    assert!(
        defer.event.is_defer_of(&sent.token) && !defer.event.is_ephemeral(),
        "{defer:?}"
    );
    h.bot.final_edit(&sent.token).await;
    // In a DM, with no default: public unless asked.
    let mut spec = CommandSpec::mailcheck(44, None, "third.test");
    spec.options = serde_json::json!([
        { "name": "domain", "type": 3, "value": "third.test" },
        { "name": "private", "type": 5, "value": true }
    ]);
    let sent = h.bot.discord.send_command(&spec).unwrap();
    let defer = h.bot.answer(&sent.token).await;
    assert!(defer.event.is_ephemeral(), "{defer:?}");
}

#[tokio::test]
async fn operators_choose_the_guilds_and_whether_dms_work() {
    let other_guild = GUILD + 1;
    let h = start(
        BotConfig {
            allowed_guilds: vec![GUILD],
            allow_dms: false,
            ..lenient()
        },
        true,
    )
    .await;
    for guild in [Some(other_guild), None] {
        let sent = h.bot.send(42, guild, "example.test");
        let answer = h.bot.answer(&sent.token).await;
        assert!(answer.event.is_ephemeral(), "{answer:?}");
        assert!(
            answer
                .event
                .content()
                .is_some_and(|c| c.contains("not enabled here")),
            "{answer:?}"
        );
    }
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 0);
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&sent.token).await;
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

/// The custom ids of the buttons on an answer's message.
fn button_ids(edit: &mailcheck_testkit::discord::Recorded) -> Vec<String> {
    let payload = edit.event.message_payload().unwrap();
    payload["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_buttons_recheck_show_the_transcript_and_explain() {
    let h = start(lenient(), true).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    let first = h.bot.final_edit(&sent.token).await;
    let ids = button_ids(&first);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[0].starts_with("mailcheck:recheck:"), "{ids:?}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);

    // Re-check: a fresh probe (not the cached result), the same message updated in place.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[0], 43, Some(GUILD))
        .unwrap();
    let ack = h.bot.answer(&click.token).await;
    assert_eq!(ack.event.callback_type(), Some(6), "{ack:?}");
    let updated = h.bot.final_edit(&click.token).await;
    assert!(updated.succeeded(), "{updated:?}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 2, "a fresh probe");
    assert_eq!(button_ids(&updated), ids, "the buttons keep working");

    // Show transcript: privately, as a file.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[1], 44, Some(GUILD))
        .unwrap();
    let answer = h.bot.answer(&click.token).await;
    assert_eq!(answer.event.callback_type(), Some(4));
    assert!(
        answer.event.is_ephemeral() && answer.succeeded(),
        "{answer:?}"
    );
    let file = answer.event.files()[0].text();
    assert!(file.contains("mailcheck report for example.test"), "{file}");

    // Explain: privately, the step ladder.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[2], 45, Some(GUILD))
        .unwrap();
    let answer = h.bot.answer(&click.token).await;
    assert!(
        answer.event.is_ephemeral() && answer.succeeded(),
        "{answer:?}"
    );
    let embed = answer.event.embeds()[0].to_string();
    assert!(embed.contains("Explained: example.test"), "{embed}");
}

#[tokio::test]
async fn oversized_server_text_never_makes_discord_refuse_the_answer() {
    let (open_gate, gate) = watch::channel(true);
    let mut report = sample_report();
    let huge = format!("{} {}", "x".repeat(5000), "\u{301}".repeat(500));
    report.mx = (0..30)
        .map(|i| {
            let mut mx = report.mx[0].clone();
            mx.host = format!("mx{i}.{}", "a".repeat(200));
            mx.addresses[0].smtp.banner = Some(huge.clone());
            mx
        })
        .collect();
    report.findings = (0..40)
        .map(|i| {
            Finding::new(
                Code::SmtpBannerMismatch,
                format!("192.0.2.{i}"),
                huge.clone(),
            )
            .evidence(huge.clone())
            .evidence(huge.clone())
            .advice(huge.clone())
        })
        .collect();
    report.error = Some(huge.clone());
    let scripted = Arc::new(Scripted {
        report,
        gate,
        calls: AtomicUsize::new(0),
    });
    let data = Data::with_diagnoser(
        BotConfig {
            guild_id: Some(GUILD),
            ..lenient()
        },
        Arc::clone(&scripted) as Arc<dyn Diagnoser>,
    );
    let bot = Bot::start(data, WAIT).await;
    let sent = bot.send(42, Some(GUILD), "example.test");
    let edit = bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{:?}", edit.error);
    // Explain renders the same flood within the limits too.
    let ids = button_ids(&edit);
    let click = bot
        .discord
        .click(sent.token.as_str(), &ids[2], 43, Some(GUILD))
        .unwrap();
    let answer = bot.answer(&click.token).await;
    assert!(answer.succeeded(), "{:?}", answer.error);
    // No call the bot made was refused.
    let refused: Vec<_> = bot
        .discord
        .events()
        .into_iter()
        .filter(|r| r.status.is_some_and(|s| s >= 400))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    drop(open_gate);
}
