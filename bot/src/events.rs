//! Gateway events the bot reacts to besides commands (poise's `event_handler` calls
//! [`on_event`] for each).
//!
//! poise hands events over only once the framework is set up, that is after `/mailcheck` was
//! registered, so a READY seen here means "this shard answers commands". serenity 0.12 does not
//! pass `ShardStageUpdate` to a framework; [`crate::health`] reads each shard's live stage from
//! the shard manager instead.

use serenity::all::{Context, FullEvent, Interaction};

use crate::Data;

/// Handles one gateway event: READY and RESUMED mark the shard connected in
/// [`crate::Data::health`]; a click on one of our buttons goes to [`crate::buttons`]; every
/// other event is ignored here.
pub async fn on_event(ctx: &Context, event: &FullEvent, data: &Data) {
    let shard = ctx.shard_id.0;
    match event {
        FullEvent::Ready { data_about_bot } => {
            let total = data_about_bot.shard.map(|s| s.total);
            data.health.shard_ready(shard, total);
            tracing::info!(
                shard,
                bot = %data_about_bot.user.name,
                "shard {shard} connected to the gateway"
            );
        }
        FullEvent::Resume { .. } => {
            data.health.shard_ready(shard, None);
            tracing::info!(shard, "shard {shard} resumed its gateway session");
        }
        FullEvent::InteractionCreate {
            interaction: Interaction::Component(click),
        } => {
            if let Err(e) = crate::buttons::on_click(&ctx.http, data, click).await {
                tracing::warn!(custom_id = %click.data.custom_id, "button click failed: {e}");
            }
        }
        _ => {}
    }
}
