//! Buttons: a message the bot posted keeps its id and components; `click` pushes a message
//! component interaction that serenity parses, and the handler's answer (update, deferred
//! update then edit, or a new ephemeral message) is recorded and applied to the stored message.

use crate::discord_support::{GUILD, Mode, WAIT, command, start_client};
use mailcheck_testkit::discord::{
    CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE_MESSAGE, CALLBACK_UPDATE_MESSAGE,
    DiscordStandIn, FLAG_EPHEMERAL, Recorded, StandInError,
};

/// The first answer to `token` (the callback), which must have succeeded.
async fn callback_of(discord: &DiscordStandIn, token: &str) -> Recorded {
    let r = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| {
            r.event.token() == Some(token) && r.event.callback_type().is_some()
        })
        .await
        .unwrap();
    assert!(r.succeeded(), "{r:?}");
    r
}

#[tokio::test]
async fn button_clicks_reach_the_handler_and_its_answers_are_applied() {
    install();
    let discord = DiscordStandIn::start_tls().await.unwrap();
    let mut client = start_client(&discord, Mode::Tls).await;
    let sent = discord.send_command(&command("buttons")).unwrap();
    let answer = callback_of(&discord, &sent.token).await;
    assert_eq!(answer.event.callback_type(), Some(CALLBACK_CHANNEL_MESSAGE));
    let id = discord.original_message_id(&sent.token).unwrap();
    let message = discord.message(id).unwrap();
    assert_eq!(message["content"], "pick one");
    let row = message["components"][0]["components"].as_array().unwrap();
    assert_eq!(row.len(), 4, "three buttons and a link");

    // Type 7: the clicked message is updated in place, keeping its id and buttons.
    let click = discord
        .click(&sent.token, "update", 43, Some(GUILD))
        .unwrap();
    let seen = client.next_seen().await;
    assert_eq!(
        seen,
        format!("click update on {id} by 43"),
        "serenity parsed the message"
    );
    let update = callback_of(&discord, &click.token).await;
    assert_eq!(update.event.callback_type(), Some(CALLBACK_UPDATE_MESSAGE));
    let message = discord.message(id).unwrap();
    assert_eq!(message["content"], "updated");
    assert_eq!(
        message["components"][0]["components"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Type 6, then an edit of @original: that is the clicked message too. From a DM this time.
    let click = discord.click(id, "ack", 44, None).unwrap();
    assert_eq!(client.next_seen().await, format!("click ack on {id} by 44"));
    let ack = callback_of(&discord, &click.token).await;
    assert_eq!(
        ack.event.callback_type(),
        Some(CALLBACK_DEFERRED_UPDATE_MESSAGE)
    );
    let edit = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| r.event.is_edit_original_of(&click.token))
        .await
        .unwrap();
    assert!(edit.succeeded(), "{edit:?}");
    assert_eq!(discord.original_message_id(&click.token), Some(id));
    assert_eq!(discord.message(id).unwrap()["content"], "acked");

    // Type 4 with flags 64: a new, ephemeral message; the clicked one is unchanged.
    let click = discord.click(id, "reply", 45, Some(GUILD)).unwrap();
    client.next_seen().await;
    let reply = callback_of(&discord, &click.token).await;
    assert_eq!(reply.event.callback_type(), Some(CALLBACK_CHANNEL_MESSAGE));
    assert!(reply.event.is_ephemeral());
    let reply_id = discord.original_message_id(&click.token).unwrap();
    assert_ne!(reply_id, id);
    let flags = discord.message(reply_id).unwrap()["flags"]
        .as_u64()
        .unwrap();
    assert_eq!(flags & FLAG_EPHEMERAL, FLAG_EPHEMERAL);
    assert_eq!(discord.message(id).unwrap()["content"], "acked");

    // Clicking what is not there is the test's mistake, reported at once.
    assert!(matches!(
        discord.click(id, "nope", 46, None),
        Err(StandInError::UnknownComponent { .. })
    ));
    assert!(matches!(
        discord.click(1u64, "update", 46, None),
        Err(StandInError::UnknownMessage(_))
    ));
}

#[tokio::test]
async fn a_button_on_an_ephemeral_followup_can_be_clicked() {
    let discord = DiscordStandIn::start().await.unwrap();
    let mut client = start_client(&discord, Mode::Proxy).await;
    let sent = discord.send_command(&command("followup_buttons")).unwrap();
    let followup = discord
        .cursor_from_start()
        .wait_for_recorded(WAIT, |r| {
            r.event.token() == Some(sent.token.as_str())
                && matches!(
                    r.event,
                    mailcheck_testkit::discord::DiscordEvent::Followup { .. }
                )
        })
        .await
        .unwrap();
    assert!(followup.succeeded(), "{followup:?}");
    assert!(followup.event.is_ephemeral());
    let stored = discord.followup_messages(&sent.token);
    assert_eq!(stored.len(), 1);
    let id: u64 = stored[0]["id"].as_str().unwrap().parse().unwrap();
    assert_ne!(Some(id), discord.original_message_id(&sent.token));

    let click = discord.click(id, "fu", 42, Some(GUILD)).unwrap();
    assert_eq!(client.next_seen().await, format!("click fu on {id} by 42"));
    let update = callback_of(&discord, &click.token).await;
    assert_eq!(update.event.callback_type(), Some(CALLBACK_UPDATE_MESSAGE));
    assert_eq!(discord.message(id).unwrap()["content"], "fu clicked");
}

fn install() {
    mailcheck_testkit::discord::install_ring_provider();
}
