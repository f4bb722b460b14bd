//! The bot's guards through the Discord stand-in: per-user and per-guild cooldowns, the result
//! cache, the busy cap, the deadline, and one probe for two users checking one domain.

use std::sync::atomic::Ordering;

use mailcheck_bot::BotConfig;

use super::harness::{GUILD, WAIT, lenient, start};

#[tokio::test]
async fn user_cooldown_answers_privately() {
    let config = BotConfig {
        user_cooldown_secs: 60,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    };
    let h = start(config, true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(42, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert_eq!(answer.event.callback_type(), Some(4));
    assert!(answer.event.is_ephemeral());
    assert!(
        answer.event.content().unwrap().contains("Please wait"),
        "{answer:?}"
    );
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn guild_cooldown_applies_to_other_users() {
    let config = BotConfig {
        user_cooldown_secs: 0,
        guild_cooldown_secs: 60,
        ..BotConfig::default()
    };
    let h = start(config, true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(43, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert!(answer.event.is_ephemeral());
    assert!(
        answer
            .event
            .content()
            .unwrap()
            .contains("This server ran a check"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn repeated_domain_comes_from_the_cache_and_says_so() {
    let h = start(lenient(), true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(43, None, "https://EXAMPLE.test/x");
    let edit = h.bot.final_edit(&second.token).await;
    let description = edit.event.embeds()[0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains("Cached result from"), "{description}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn busy_bot_answers_privately() {
    let config = BotConfig {
        max_concurrent_checks: 1,
        ..lenient()
    };
    let h = start(config, false).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .discord
        .wait_for(WAIT, |e| e.is_defer_of(&first.token))
        .await
        .unwrap();
    let second = h.bot.send(43, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert!(answer.event.is_ephemeral());
    assert!(
        answer.event.content().unwrap().contains("try again"),
        "{answer:?}"
    );
    h.open_gate.send_replace(true);
    h.bot.final_edit(&first.token).await;
}

#[tokio::test]
async fn deadline_ends_a_hanging_check_with_a_polite_message() {
    let config = BotConfig {
        check_deadline_secs: 1,
        ..lenient()
    };
    let h = start(config, false).await; // the gate never opens
    let sent = h.bot.send(42, None, "example.test");
    let edit = h
        .bot
        .discord
        .wait_for(WAIT, |e| {
            e.is_edit_original_of(&sent.token)
                && e.embeds()
                    .first()
                    .is_some_and(|m| m.to_string().contains("did not finish"))
        })
        .await
        .unwrap();
    let embed = edit.event.embeds()[0].to_string();
    assert!(embed.contains("Partial result"), "{embed}");
    // Its buttons are there, so the user can try again at once.
    let payload = edit.event.message_payload().unwrap().to_string();
    assert!(payload.contains("mailcheck:recheck:"), "{payload}");
}

#[tokio::test]
async fn two_users_checking_one_domain_at_once_share_one_probe() {
    let h = start(lenient(), false).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&first.token, "DNS done")
        .await;
    let second = h.bot.send(43, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&second.token, "Someone is checking this domain right now")
        .await;
    h.open_gate.send(true).unwrap();
    let a = h.bot.final_edit(&first.token).await;
    let b = h.bot.final_edit(&second.token).await;
    assert_eq!(
        h.scripted.calls.load(Ordering::SeqCst),
        1,
        "one probe for both"
    );
    assert_eq!(
        a.event.embeds()[0]["title"],
        b.event.embeds()[0]["title"],
        "the same result"
    );
}
