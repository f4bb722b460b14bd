//! The stand-in's REST side behaves like Discord's: payload limits, the callback window and
//! token expiry are answered as Discord does; rate limits, scripted faults and holds are in
//! `faults`. No assertion depends on wall-clock durations: only on what was recorded, in which
//! order.

mod faults;

use std::time::Duration;

use crate::discord_support::{Mode, RawGateway, WAIT, command, plain_client, start_client};
use mailcheck_testkit::discord::DiscordStandIn;
use serde_json::json;

/// Sends a JSON body, as a bot would.
async fn send(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    http.request(method.parse().unwrap(), url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn body_of(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn oversize_embed_gets_invalid_form_body() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut client = start_client(&discord, Mode::Proxy).await;
    let sent = discord.send_command(&command("big_embed")).unwrap();
    let refused = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| r.event.token() == Some(sent.token.as_str()))
        .await
        .unwrap();
    assert_eq!(refused.event.callback_type(), Some(4));
    assert_eq!(refused.status, Some(400));
    assert_eq!(refused.error_code(), Some(50035));
    let error = refused.error.unwrap();
    assert_eq!(error["message"], "Invalid Form Body");
    let title = &error["errors"]["data"]["embeds"]["0"]["title"]["_errors"][0];
    assert_eq!(title["code"], "BASE_TYPE_MAX_LENGTH", "{error}");
    assert_eq!(title["message"], "Must be 256 or fewer in length.");
    // Refused, so not acknowledged: no original response.
    assert_eq!(discord.original_message(&sent.token), None);
    let seen = client.next_seen().await;
    assert!(seen.starts_with("error"), "{seen}");
}

#[tokio::test]
async fn late_callback_gets_unknown_interaction() {
    let discord = DiscordStandIn::builder()
        .interaction_deadline(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let _client = start_client(&discord, Mode::Proxy).await;
    let sent = discord.send_command(&command("defer_edit")).unwrap();
    let callback = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| r.event.is_defer_of(&sent.token))
        .await
        .unwrap();
    assert_eq!(callback.status, Some(404));
    assert_eq!(callback.error_code(), Some(10062));
    assert_eq!(callback.error.unwrap()["message"], "Unknown interaction");
}

/// Acting as the bot by hand: identify on the gateway, read the interaction, answer over HTTP.
#[tokio::test]
async fn callback_window_and_token_lifetime_by_hand() {
    // A window no machine can miss: only `expire_interaction` makes a callback late here.
    let discord = DiscordStandIn::builder()
        .interaction_deadline(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let http = plain_client();
    let mut gateway = RawGateway::connect(&discord).await;
    gateway.identify().await;
    let base = format!("{}/api/v10", discord.http_base());
    let app = discord.application_id();

    // In time: acknowledged; then the token expires and the webhook refuses it.
    let sent = discord.send_command(&command("hand")).unwrap();
    let create = gateway.recv().await.unwrap();
    assert_eq!(create["d"]["token"], sent.token.as_str());
    let callback = format!("{base}/interactions/{}/{}/callback", sent.id, sent.token);
    let r = send(&http, "POST", &callback, &json!({"type": 5})).await;
    assert_eq!(r.status(), 204);
    let r = send(&http, "POST", &callback, &json!({"type": 5})).await;
    assert_eq!(r.status(), 400, "acknowledged twice");
    let original = format!("{base}/webhooks/{app}/{}/messages/@original", sent.token);
    let r = send(&http, "PATCH", &original, &json!({"content": "ok"})).await;
    assert_eq!(r.status(), 200);
    discord.expire_token(&sent.token);
    let r = send(&http, "PATCH", &original, &json!({"content": "late"})).await;
    assert_eq!(r.status(), 401);
    let body = body_of(r).await;
    assert_eq!(body["code"], 50027);
    assert_eq!(body["message"], "Invalid Webhook Token");
    assert_eq!(
        discord.original_message(&sent.token).unwrap()["content"],
        "ok"
    );

    // Marked expired before the callback: 10062.
    let sent = discord.send_command(&command("hand")).unwrap();
    gateway.recv().await.unwrap();
    discord.expire_interaction(&sent.token);
    let callback = format!("{base}/interactions/{}/{}/callback", sent.id, sent.token);
    let r = send(
        &http,
        "POST",
        &callback,
        &json!({"type": 4, "data": {"content": "hi"}}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let body = body_of(r).await;
    assert_eq!(body["code"], 10062);

    // A zero token lifetime: the follow-up after an in-time callback is refused.
    discord.set_token_lifetime(Duration::ZERO);
    let sent = discord.send_command(&command("hand")).unwrap();
    gateway.recv().await.unwrap();
    let callback = format!("{base}/interactions/{}/{}/callback", sent.id, sent.token);
    let r = send(&http, "POST", &callback, &json!({"type": 5})).await;
    assert_eq!(r.status(), 204);
    let followup = format!("{base}/webhooks/{app}/{}", sent.token);
    let r = send(&http, "POST", &followup, &json!({"content": "x"})).await;
    assert_eq!(r.status(), 401);

    // Component-only callback types are refused for a command.
    discord.set_token_lifetime(Duration::from_secs(900));
    let sent = discord.send_command(&command("hand")).unwrap();
    gateway.recv().await.unwrap();
    let callback = format!("{base}/interactions/{}/{}/callback", sent.id, sent.token);
    let r = send(&http, "POST", &callback, &json!({"type": 7, "data": {}})).await;
    assert_eq!(r.status(), 400);
    let r = send(
        &http,
        "POST",
        &callback,
        &json!({"type": 4, "data": {"content": "é".repeat(2001)}}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body = body_of(r).await;
    assert_eq!(
        body["errors"]["data"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let r = send(
        &http,
        "POST",
        &callback,
        &json!({"type": 4, "data": {"content": "é".repeat(2000)}}),
    )
    .await;
    assert_eq!(r.status(), 204, "2000 code points are fine");
}
