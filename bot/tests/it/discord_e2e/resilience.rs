//! Answers that arrive although Discord fails: a 429 storm, server errors then a follow-up, a
//! gateway reconnect mid-check; and a rejected late acknowledgement means no probe at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::Bot;
use mailcheck_bot::{BotConfig, Data, Diagnoser};
use mailcheck_testkit::discord::{DiscordEvent, Fault, RouteMatch};
use tokio::sync::watch;

use super::harness::{GUILD, Scripted, WAIT, lenient, sample_report, start};

#[tokio::test]
async fn an_answer_still_arrives_through_a_429_storm() {
    let h = start(lenient(), false).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot.discord.fail_next(
        RouteMatch::edit_original(),
        3,
        Fault::RateLimited {
            retry_after: Duration::from_millis(50),
            global: false,
        },
    );
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{edit:?}");
    let faults = h
        .bot
        .discord
        .events()
        .iter()
        .filter(|r| r.event.is_fault_on(&sent.token))
        .count();
    assert_eq!(faults, 3);
}

#[tokio::test]
async fn server_errors_are_retried_and_then_a_follow_up_carries_the_answer() {
    let h = start(lenient(), false).await;
    // A few 502s: the final edit is retried until it lands.
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot
        .discord
        .fail_next(RouteMatch::edit_original(), 2, Fault::ServerError(502));
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{edit:?}");

    // Editing keeps failing: the answer comes as a follow-up message instead.
    h.open_gate.send(false).unwrap();
    let sent = h.bot.send(43, Some(GUILD), "other.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot
        .discord
        .fail_next(RouteMatch::edit_original(), 10, Fault::ServerError(503));
    h.open_gate.send(true).unwrap();
    let followup = h
        .bot
        .discord
        .wait_for(WAIT, |e| {
            matches!(e, DiscordEvent::Followup { .. })
                && e.token() == Some(sent.token.as_str())
                && !e.files().is_empty()
        })
        .await
        .unwrap();
    assert!(followup.succeeded(), "{followup:?}");
    h.bot.discord.clear_faults();
}

#[tokio::test]
async fn an_answer_still_arrives_after_a_gateway_reconnect_mid_check() {
    let h = start(lenient(), false).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot.discord.drop_gateway().unwrap();
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded());
    // The client came back (a RESUME) and answers new commands.
    h.bot
        .discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Resume { .. }))
        .await
        .unwrap();
    let again = h.bot.send(43, Some(GUILD), "other.test");
    assert!(h.bot.final_edit(&again.token).await.succeeded());
}

#[tokio::test]
async fn a_rejected_late_acknowledgement_means_no_probe_at_all() {
    let (open_gate, gate) = watch::channel(true);
    let scripted = Arc::new(Scripted {
        report: sample_report(),
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
    let bot = Bot::start_with(
        mailcheck_testkit::discord::DiscordStandIn::builder().interaction_deadline(Duration::ZERO),
        data,
        WAIT,
    )
    .await;
    let sent = bot.send(42, Some(GUILD), "example.test");
    let refused = bot.answer(&sent.token).await;
    assert_eq!(refused.error_code(), Some(10062), "{refused:?}");
    // Discord's window again: the next command is answered, and only it was probed.
    bot.discord.set_interaction_deadline(Duration::from_secs(3));
    let next = bot.send(43, Some(GUILD), "other.test");
    assert!(bot.final_edit(&next.token).await.succeeded());
    assert_eq!(
        scripted.calls.load(Ordering::SeqCst),
        1,
        "the refused one never probed"
    );
    drop(open_gate);
}
