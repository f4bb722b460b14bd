//! The buttons under an answer: "Re-check" (a fresh probe that updates the answer in place),
//! "Show transcript" (the report and SMTP transcript as a private file) and "Explain" (the step
//! ladder per address, privately).

use serenity::all::{ComponentInteraction, CreateAttachment, Http};
use tracing::info;

use crate::answer::{self, Asker, Request, Target};
use crate::render::{self, ButtonAction};
use crate::{Data, Error};

/// The text when a button's answer is no longer kept.
pub const TOO_OLD_TEXT: &str =
    "This answer is too old for its buttons now. Run /mailcheck again for a fresh one.";

/// Handles a click on one of our buttons; `false` when the button is not ours (a host bot's
/// own components pass through untouched).
pub async fn on_click(
    http: &Http,
    data: &Data,
    click: &ComponentInteraction,
) -> Result<bool, Error> {
    let Some((action, id)) = ButtonAction::parse(&click.data.custom_id) else {
        return Ok(false);
    };
    let target = Target::Component(click);
    let asker = Asker {
        user: click.user.id.get(),
        guild: click.guild_id.map(|g| g.get()),
    };
    if !data.config.allowed_in(asker.guild) {
        target
            .private_text(http, answer::NOT_HERE_TEXT.to_owned())
            .await?;
        return Ok(true);
    }
    let Some(found) = data.answers.get(id) else {
        target.private_text(http, TOO_OLD_TEXT.to_owned()).await?;
        return Ok(true);
    };
    info!(domain = %found.domain, user = asker.user, ?action, "button");
    match action {
        ButtonAction::Recheck => {
            let request = Request {
                domain: found.domain,
                private: found.private,
                fresh: true,
                answer_id: Some(id),
            };
            answer::answer(http, data, target, asker, request).await?;
        }
        ButtonAction::Transcript => {
            let rendered = render::render_report(&found.report, &render::RenderContext::default());
            let file = CreateAttachment::bytes(rendered.file, rendered.file_name);
            let embed = render::render_transcript_note(&found.report);
            target
                .private_embed(http, embed.to_embed(), Some(file))
                .await?;
        }
        ButtonAction::Explain => {
            let embed = render::render_explain(&found.report);
            target.private_embed(http, embed.to_embed(), None).await?;
        }
    }
    Ok(true)
}
