//! Drives the real serenity client and a trivial poise command against the Discord stand-in.

use std::time::Duration;

use mailcheck_testkit::discord::{CommandScope, DiscordEvent, DiscordStandIn};
use poise::serenity_prelude as serenity;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const GUILD: u64 = 777_000_000_000_000_001;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Context<'a> = poise::Context<'a, (), Error>;

/// Defers, then edits the response with an embed and a text attachment.
#[poise::command(slash_command)]
async fn mailcheck(
    ctx: Context<'_>,
    #[description = "Domain to check"] domain: String,
) -> Result<(), Error> {
    ctx.defer().await?;
    let embed = serenity::CreateEmbed::new()
        .title(format!("Mail check: {domain}"))
        .colour(serenity::Colour::DARK_GREEN)
        .field("MX", "10 mx1.example.test", false)
        .footer(serenity::CreateEmbedFooter::new("mailcheck"));
    if let poise::Context::Application(a) = ctx {
        let edit = serenity::EditInteractionResponse::new()
            .embed(embed)
            .allowed_mentions(serenity::CreateAllowedMentions::new())
            .new_attachment(serenity::CreateAttachment::bytes(
                b"220 mx1.example.test ESMTP\r\n".to_vec(),
                "transcript.txt",
            ));
        a.interaction.edit_response(ctx.http(), edit).await?;
    }
    Ok(())
}

async fn start_bot(discord: &DiscordStandIn, guild: Option<u64>) -> tokio::task::JoinHandle<()> {
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: vec![mailcheck()],
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, _ready, fw| {
            Box::pin(async move {
                match guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(
                            ctx,
                            &fw.options().commands,
                            serenity::GuildId::new(g),
                        )
                        .await?;
                    }
                    None => poise::builtins::register_globally(ctx, &fw.options().commands).await?,
                }
                Ok(())
            })
        })
        .build();
    let http = serenity::HttpBuilder::new("Bot standin-test-token")
        .proxy(discord.http_base())
        .ratelimiter_disabled(true)
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::GUILDS)
        .framework(framework)
        .await
        .expect("serenity client builds against the stand-in");
    tokio::spawn(async move {
        if let Err(e) = client.start().await {
            eprintln!("serenity client stopped: {e}");
        }
    })
}

#[tokio::test]
async fn serenity_and_poise_run_end_to_end_against_the_stand_in() {
    let discord = DiscordStandIn::start().await.unwrap();
    let client = start_bot(&discord, Some(GUILD)).await;

    discord.wait_ready(WAIT).await.unwrap();
    let identify = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Identify { .. }))
        .await;
    let DiscordEvent::Identify { token, intents } = identify.unwrap().event else {
        unreachable!()
    };
    assert_eq!(token, "Bot standin-test-token");
    assert_eq!(intents, 1);

    let registered = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::RegisterCommands { .. }))
        .await
        .unwrap();
    let DiscordEvent::RegisterCommands { scope, commands } = registered.event else {
        unreachable!()
    };
    assert_eq!(scope, CommandScope::Guild(GUILD));
    assert_eq!(commands[0]["name"], "mailcheck");
    assert_eq!(commands[0]["options"][0]["name"], "domain");

    let sent = discord
        .send_interaction(42, Some(GUILD), "example.test")
        .unwrap();
    let mut cursor = discord.cursor_from_start();
    let defer = cursor
        .wait_for(WAIT, |e| e.token() == Some(sent.token.as_str()))
        .await
        .unwrap();
    assert!(
        defer.event.is_defer_of(&sent.token),
        "first answer must be the defer: {defer:?}"
    );
    let DiscordEvent::Callback {
        interaction_id,
        body,
        ..
    } = &defer.event
    else {
        unreachable!()
    };
    assert_eq!(*interaction_id, sent.id);
    // poise sends `{"type":5,"data":{"flags":0,"attachments":[]}}`: a public "thinking…".
    assert_eq!(body["type"], 5);
    assert!(!defer.event.is_ephemeral());

    let edit = cursor
        .wait_for(WAIT, |e| e.is_edit_original_of(&sent.token))
        .await
        .unwrap();
    assert!(edit.at >= defer.at && edit.index > defer.index);
    let embed = &edit.event.embeds()[0];
    assert_eq!(embed["title"], "Mail check: example.test");
    assert_eq!(embed["color"], serenity::Colour::DARK_GREEN.0);
    assert_eq!(embed["fields"][0]["name"], "MX");
    let payload = edit.event.message_payload().unwrap();
    assert_eq!(payload["allowed_mentions"]["parse"], Value::Array(vec![]));
    let files = edit.event.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].filename, "transcript.txt");
    assert_eq!(files[0].text(), "220 mx1.example.test ESMTP\r\n");

    // The stand-in keeps the original message as edited.
    let original = discord.original_message(&sent.token).unwrap();
    assert_eq!(original["embeds"][0]["title"], "Mail check: example.test");
    assert_eq!(original["attachments"][0]["filename"], "transcript.txt");

    // Nothing unexpected reached the REST API: only the gateway URL lookup.
    let others: Vec<_> = discord
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            DiscordEvent::Other { method, path, .. } => Some(format!("{method} {path}")),
            _ => None,
        })
        .collect();
    assert_eq!(others, ["GET /api/v10/gateway"]);
    client.abort();
}

#[tokio::test]
async fn dm_interaction_and_global_registration() {
    let discord = DiscordStandIn::start().await.unwrap();
    let client = start_bot(&discord, None).await;
    discord.wait_ready(WAIT).await.unwrap();
    let registered = discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::RegisterCommands { .. }))
        .await
        .unwrap();
    assert!(matches!(
        registered.event,
        DiscordEvent::RegisterCommands {
            scope: CommandScope::Global,
            ..
        }
    ));
    let sent = discord.send_interaction(43, None, "dm.example").unwrap();
    let edit = discord
        .wait_for(WAIT, |e| e.is_edit_original_of(&sent.token))
        .await
        .unwrap();
    assert_eq!(edit.event.embeds()[0]["title"], "Mail check: dm.example");
    client.abort();
}

#[tokio::test]
async fn waits_time_out_with_a_summary_instead_of_hanging() {
    let discord = DiscordStandIn::start().await.unwrap();
    assert!(
        discord.send_interaction(1, None, "x.test").is_err(),
        "no client connected"
    );
    let err = discord
        .wait_for(Duration::from_millis(50), |e| {
            matches!(e, DiscordEvent::Followup { .. })
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("recorded so far: nothing"),
        "{err}"
    );
    assert!(discord.wait_ready(Duration::from_millis(50)).await.is_err());
}
