//! Rate limits, scripted faults and holds: serenity reaches the stand-in as
//! `https://discord.com` with its rate limiter on and waits out 429s; buckets carry Discord's
//! headers; scripted faults reach the client as Discord's edge sends them; a hold keeps a
//! request pending until the test releases it.

use std::time::Duration;

use super::{body_of, send};
use crate::discord_support::{GUILD, Mode, WAIT, command, http, plain_client, start_client};
use mailcheck_testkit::discord::{
    Bucket, CommandScope, DiscordEvent, DiscordStandIn, Fault, RateLimit, Recorded, RouteMatch,
    StandInError, install_ring_provider,
};
use serde_json::json;
use serenity::all as sy;

fn faults_on(discord: &DiscordStandIn, fragment: &str) -> Vec<Recorded> {
    discord
        .events()
        .into_iter()
        .filter(|r| r.event.is_fault_on(fragment))
        .collect()
}

#[tokio::test]
async fn tls_mode_rate_limiter_waits_out_a_429_storm_on_edit_original() {
    install_ring_provider();
    let discord = DiscordStandIn::start_tls().await.unwrap();
    discord.fail_next(
        RouteMatch::edit_original(),
        3,
        Fault::RateLimited {
            retry_after: Duration::from_millis(50),
            global: false,
        },
    );
    let _client = start_client(&discord, Mode::Tls).await;
    let sent = discord.send_command(&command("defer_edit")).unwrap();
    let edit = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| {
            r.event.is_edit_original_of(&sent.token) && r.succeeded()
        })
        .await
        .unwrap();
    assert_eq!(edit.event.content(), Some("done"));
    let faults = faults_on(&discord, &sent.token);
    assert_eq!(faults.len(), 3, "{faults:#?}");
    for fault in &faults {
        assert_eq!(fault.status, Some(429));
        assert!(fault.index < edit.index);
        assert_eq!(fault.error.as_ref().unwrap()["global"], false);
    }
    // The only successful edit is the one after the storm.
    let edits: Vec<_> = discord
        .events_for(&sent.token)
        .into_iter()
        .filter(|r| r.event.is_edit_original_of(&sent.token))
        .collect();
    assert_eq!(edits.len(), 1);
    assert_eq!(
        discord.original_message(&sent.token).unwrap()["content"],
        "done"
    );
}

#[tokio::test]
async fn tls_mode_global_rate_limit_is_waited_out() {
    install_ring_provider();
    let discord = DiscordStandIn::start_tls().await.unwrap();
    let http = http(&discord, Mode::Tls);
    assert!(http.ratelimiter.is_some(), "the rate limiter is on");
    discord.fail_next(
        RouteMatch::new("GET", "/api/v10/gateway"),
        2,
        Fault::RateLimited {
            retry_after: Duration::from_millis(30),
            global: true,
        },
    );
    let gateway = http.get_gateway().await.unwrap();
    assert_eq!(gateway.url, discord.gateway_url());
    let events = discord.events();
    let statuses: Vec<_> = events.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(429), Some(429), Some(200)]);
    assert!(matches!(
        &events[0].event,
        DiscordEvent::Fault {
            fault: Fault::RateLimited { global: true, .. },
            scripted: true,
            ..
        }
    ));
    assert_eq!(events[0].error.as_ref().unwrap()["global"], true);
}

#[tokio::test]
async fn tls_mode_serenity_honours_bucket_headers_instead_of_getting_429() {
    install_ring_provider();
    let discord = DiscordStandIn::builder()
        .tls(true)
        .rate_limit(
            Bucket::Gateway,
            RateLimit::new(1, Duration::from_millis(300)),
        )
        .start()
        .await
        .unwrap();
    let http = http(&discord, Mode::Tls);
    // The first answer says `remaining: 0`: serenity holds the second call until the reset.
    http.get_gateway().await.unwrap();
    http.get_gateway().await.unwrap();
    let events = discord.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(Recorded::succeeded));
}

#[tokio::test]
async fn empty_bucket_answers_429_with_discords_headers_and_body() {
    install_ring_provider();
    let discord = DiscordStandIn::start_tls().await.unwrap();
    discord.set_rate_limit(Bucket::Gateway, RateLimit::new(1, Duration::from_secs(60)));
    let client = discord.reqwest_client().unwrap();
    let url = "https://discord.com/api/v10/gateway";
    let first = client.get(url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let h = first.headers();
    assert_eq!(h["x-ratelimit-limit"], "1");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-bucket"], "standin-gateway");
    let reset_after: f64 = h["x-ratelimit-reset-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset_after > 0.0 && reset_after <= 60.0, "{reset_after}");
    let reset: f64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(reset > 1.7e9, "an epoch time: {reset}");

    let second = client.get(url).send().await.unwrap();
    assert_eq!(second.status(), 429);
    let h = second.headers().clone();
    assert!(h.contains_key("retry-after"));
    assert!(!h.contains_key("x-ratelimit-global"));
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let body = body_of(second).await;
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 0.0);
    // Other buckets are untouched; plain HTTP shares the same buckets and headers.
    let me = plain_client()
        .get(format!("{}/api/v10/users/@me", discord.http_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["x-ratelimit-bucket"], "standin-user");
    let refused = faults_on(&discord, "/api/v10/gateway");
    assert_eq!(refused.len(), 1);
    assert!(matches!(
        refused[0].event,
        DiscordEvent::Fault {
            scripted: false,
            ..
        }
    ));
}

#[tokio::test]
async fn server_errors_and_hang_ups_reach_the_client() {
    install_ring_provider();
    let discord = DiscordStandIn::start_tls().await.unwrap();
    let http = http(&discord, Mode::Tls);
    let gateway = RouteMatch::new("GET", "/api/v10/gateway");
    discord.fail_next(gateway.clone(), 1, Fault::ServerError(502));
    discord.fail_next(gateway, 1, Fault::HangUp);
    match http.get_gateway().await {
        Err(sy::Error::Http(sy::HttpError::UnsuccessfulRequest(e))) => {
            assert_eq!(e.status_code.as_u16(), 502);
        }
        other => panic!("want a 502, got {other:?}"),
    }
    assert!(http.get_gateway().await.is_err(), "hung up");
    http.get_gateway().await.unwrap();
    let statuses: Vec<_> = discord.events().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(502), None, Some(200)]);
}

/// A scripted hold keeps matching requests unanswered (and unrecorded) until the test releases
/// them, while other routes are served; a released request is served as usual at that moment,
/// scripted faults included. Dropping a hold releases it too.
#[tokio::test]
async fn a_hold_keeps_requests_pending_until_released() {
    let discord = DiscordStandIn::start().await.unwrap();
    let base = format!("{}/api/v10", discord.http_base());
    let app = discord.application_id();
    let path = format!("/api/v10/applications/{app}/guilds/{GUILD}/commands");
    let definition = json!({ "name": "mailcheck", "description": "Check a domain" });
    let hold = discord.hold(RouteMatch::create_command());
    let pending = tokio::spawn({
        let url = format!("{}{path}", discord.http_base());
        let definition = definition.clone();
        async move { send(&plain_client(), "POST", &url, &definition).await }
    });
    let held = hold.wait_arrived(1, WAIT).await.unwrap();
    assert_eq!(
        (held[0].method.as_str(), held[0].path.as_str()),
        ("POST", path.as_str())
    );
    assert_eq!(held[0].body, definition);
    let me = plain_client()
        .get(format!("{base}/users/@me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "other routes are served meanwhile");
    assert!(!pending.is_finished(), "held until released");
    assert_eq!(discord.events().len(), 1, "{:#?}", discord.events());

    discord.fail_next(
        RouteMatch::create_command(),
        1,
        Fault::Error {
            status: 403,
            code: 50001,
            message: "Missing Access".to_owned(),
        },
    );
    hold.release();
    let refused = pending.await.unwrap();
    assert_eq!(refused.status(), 403);
    let body = body_of(refused).await;
    assert_eq!(body, json!({ "message": "Missing Access", "code": 50001 }));
    // Released: later requests pass at once.
    let created = send(
        &plain_client(),
        "POST",
        &format!("{}{path}", discord.http_base()),
        &definition,
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(body_of(created).await["guild_id"], GUILD.to_string());
    assert_eq!(hold.arrived().len(), 1);
    assert!(matches!(
        hold.wait_arrived(2, Duration::from_millis(1)).await,
        Err(StandInError::Timeout { .. })
    ));
    let events = discord.events();
    assert!(matches!(&events[1].event, DiscordEvent::Fault { path: p, .. } if *p == path));
    assert!(matches!(
        &events[2].event,
        DiscordEvent::CreateCommand { scope: CommandScope::Guild(GUILD), command }
            if *command == definition
    ));

    let hold = discord.hold(RouteMatch::new("GET", "/api/v10/users/@me"));
    let pending = tokio::spawn({
        let url = format!("{base}/users/@me");
        async move { plain_client().get(url).send().await.unwrap() }
    });
    hold.wait_arrived(1, WAIT).await.unwrap();
    drop(hold);
    assert_eq!(pending.await.unwrap().status(), 200);
}
