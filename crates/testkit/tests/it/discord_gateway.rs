//! The stand-in's gateway behaves like Discord's: serenity resumes after a dropped connection
//! and gets the dispatches it missed, follows op 7 (resume) and op 9 (identify again), and its
//! heartbeats are acknowledged; a silent client is closed with 4009. Assertions are on the
//! recorded order of events, never on durations.

use std::time::Duration;

use crate::discord_support::{Mode, RawGateway, WAIT, command, start_client};
use mailcheck_testkit::discord::{CloseCause, DiscordEvent, DiscordStandIn};
use serde_json::json;

fn identifies(discord: &DiscordStandIn) -> usize {
    discord
        .events()
        .iter()
        .filter(|r| matches!(r.event, DiscordEvent::Identify { .. }))
        .count()
}

fn is_resume(e: &DiscordEvent) -> bool {
    matches!(e, DiscordEvent::Resume { .. })
}

#[tokio::test]
async fn dropped_gateway_is_resumed_and_the_missed_interaction_delivered() {
    let discord = DiscordStandIn::start().await.unwrap();
    let _client = start_client(&discord, Mode::Proxy).await;
    let session = discord.current_session().unwrap();
    let mut cursor = discord.cursor();
    discord.drop_gateway().unwrap();
    // No connection now: the interaction waits in the session's replay buffer.
    let sent = discord.send_command(&command("defer_edit")).unwrap();

    let resume = cursor.wait_for(WAIT, is_resume).await.unwrap();
    let DiscordEvent::Resume {
        session_id,
        accepted,
        replayed,
        ..
    } = &resume.event
    else {
        unreachable!()
    };
    assert_eq!(session_id, &session);
    assert!(*accepted);
    assert_eq!(*replayed, 1, "the interaction, replayed");
    let defer = cursor
        .wait_for_recorded(WAIT, |r| r.event.is_defer_of(&sent.token))
        .await
        .unwrap();
    assert!(defer.succeeded(), "{defer:?}");
    assert!(defer.index > resume.index);
    let edit = cursor
        .wait_for(WAIT, |e| e.is_edit_original_of(&sent.token))
        .await
        .unwrap();
    assert_eq!(edit.event.content(), Some("done"));
    assert_eq!(identifies(&discord), 1, "resumed, not identified again");
    assert!(discord.events().iter().any(|r| matches!(
        r.event,
        DiscordEvent::GatewayClosed {
            cause: CloseCause::Dropped,
            ..
        }
    )));
}

#[tokio::test]
async fn reconnect_and_resumable_invalid_session_make_the_client_resume() {
    let discord = DiscordStandIn::start().await.unwrap();
    let _client = start_client(&discord, Mode::Proxy).await;
    let mut cursor = discord.cursor();

    discord.request_reconnect().unwrap();
    let resume = cursor.wait_for(WAIT, is_resume).await.unwrap();
    assert!(matches!(
        resume.event,
        DiscordEvent::Resume {
            accepted: true,
            replayed: 0,
            ..
        }
    ));
    discord.wait_ready(WAIT).await.unwrap();
    let sent = discord.send_command(&command("defer_edit")).unwrap();
    cursor
        .wait_for(WAIT, |e| e.is_edit_original_of(&sent.token))
        .await
        .unwrap();

    discord.invalidate_session(true).unwrap();
    let resume = cursor.wait_for(WAIT, is_resume).await.unwrap();
    assert!(matches!(
        resume.event,
        DiscordEvent::Resume { accepted: true, .. }
    ));
    assert_eq!(identifies(&discord), 1);
}

#[tokio::test]
async fn invalid_session_not_resumable_makes_the_client_identify_again() {
    let discord = DiscordStandIn::start().await.unwrap();
    let _client = start_client(&discord, Mode::Proxy).await;
    let first = discord.current_session().unwrap();
    let mut cursor = discord.cursor();

    discord.invalidate_session(false).unwrap();
    // Until the client identifies again there is no session to dispatch to.
    assert!(discord.send_command(&command("defer_edit")).is_err());
    // serenity waits 5 s between identifies; the wait ends when it comes.
    cursor
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Identify { .. }))
        .await
        .unwrap();
    let second = discord.current_session().unwrap();
    assert_ne!(first, second);
    let sent = discord.send_command(&command("defer_edit")).unwrap();
    cursor
        .wait_for(WAIT, |e| e.is_edit_original_of(&sent.token))
        .await
        .unwrap();
    assert_eq!(identifies(&discord), 2);
    assert!(!discord.events().iter().any(|r| is_resume(&r.event)));
}

#[tokio::test]
async fn serenity_heartbeats_are_acknowledged() {
    let discord = DiscordStandIn::builder()
        // serenity checks its timer about every 0.5 s: 3 s leaves it a margin in the 4.5 s
        // the stand-in allows.
        .heartbeat_interval(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let _client = start_client(&discord, Mode::Proxy).await;
    discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Heartbeat { .. }))
        .await
        .unwrap();
    assert!(
        !discord
            .events()
            .iter()
            .any(|r| matches!(r.event, DiscordEvent::GatewayClosed { .. })),
        "{:#?}",
        discord.events()
    );
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_dispatches_then_resumed() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut raw = RawGateway::connect(&discord).await;
    let ready = raw.identify().await;
    assert_eq!(ready["s"], 1);
    let session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(ready["d"]["resume_gateway_url"], discord.gateway_url());
    discord.dispatch("TEST_EVENT", json!({ "n": 1 })).unwrap();
    assert_eq!(raw.recv().await.unwrap()["s"], 2);

    discord.drop_gateway().unwrap();
    assert_eq!(raw.next().await, Err(None), "cut without a close frame");
    discord.dispatch("TEST_EVENT", json!({ "n": 2 })).unwrap();
    discord.dispatch("TEST_EVENT", json!({ "n": 3 })).unwrap();

    let mut raw = RawGateway::connect(&discord).await;
    raw.send(json!({ "op": 6, "d": { "token": "Bot x", "session_id": session_id, "seq": 2 } }))
        .await;
    for (s, n) in [(3, 2), (4, 3)] {
        let frame = raw.recv().await.unwrap();
        assert_eq!(
            (frame["s"].clone(), frame["d"]["n"].clone()),
            (json!(s), json!(n))
        );
    }
    let resumed = raw.recv().await.unwrap();
    assert_eq!(
        (resumed["t"].as_str(), resumed["s"].as_u64()),
        (Some("RESUMED"), Some(5))
    );
    discord.dispatch("TEST_EVENT", json!({ "n": 4 })).unwrap();
    assert_eq!(raw.recv().await.unwrap()["s"], 6, "live again");
    let resume = discord.wait_for(WAIT, is_resume).await.unwrap();
    assert!(matches!(
        resume.event,
        DiscordEvent::Resume {
            seq: 2,
            accepted: true,
            replayed: 2,
            ..
        }
    ));
}

#[tokio::test]
async fn unknown_session_resume_gets_invalid_session() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut raw = RawGateway::connect(&discord).await;
    raw.send(json!({ "op": 6, "d": { "token": "Bot x", "session_id": "nope", "seq": 7 } }))
        .await;
    assert_eq!(raw.recv().await.unwrap(), json!({ "op": 9, "d": false }));
    let resume = discord.wait_for(WAIT, is_resume).await.unwrap();
    assert!(matches!(
        resume.event,
        DiscordEvent::Resume {
            accepted: false,
            replayed: 0,
            ..
        }
    ));
}

#[tokio::test]
async fn heartbeats_are_acked() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut raw = RawGateway::connect(&discord).await;
    assert_eq!(raw.hello["d"]["heartbeat_interval"], 45_000);
    raw.identify().await;
    raw.send(json!({ "op": 1, "d": 1 })).await;
    assert_eq!(raw.recv().await.unwrap()["op"], 11);
    let beat = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Heartbeat { .. }))
        .await
        .unwrap();
    assert_eq!(beat.event, DiscordEvent::Heartbeat { seq: Some(1) });
}

#[tokio::test]
async fn a_silent_client_is_closed_with_4009() {
    let discord = DiscordStandIn::builder()
        .heartbeat_interval(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let mut raw = RawGateway::connect(&discord).await;
    assert_eq!(raw.hello["d"]["heartbeat_interval"], 100);
    // Never heartbeats: after 1.5 intervals the stand-in gives up on the client.
    assert_eq!(raw.next().await, Err(Some(4009)));
    let closed = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::GatewayClosed { .. }))
        .await
        .unwrap();
    assert_eq!(
        closed.event,
        DiscordEvent::GatewayClosed {
            session_id: None,
            cause: CloseCause::HeartbeatTimeout
        }
    );
}

#[tokio::test]
async fn close_with_a_code_is_seen_by_the_client() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut raw = RawGateway::connect(&discord).await;
    raw.identify().await;
    discord.close_gateway(4000).unwrap();
    assert_eq!(raw.next().await, Err(Some(4000)));
    assert!(
        discord.close_gateway(4000).is_err(),
        "nothing live any more"
    );
}
