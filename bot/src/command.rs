//! The `/mailcheck domain:<text>` slash command.

use std::sync::Arc;
use std::time::Instant;

use mailcheck::{DomainName, Report};
use poise::CreateReply;
use serenity::all::{CreateAllowedMentions, EditInteractionResponse};
use tracing::{info, warn};

use crate::backend::{Progress, ProgressSender};
use crate::guard::CooldownHit;
use crate::render::{self, RenderContext, human_duration};
use crate::sanitize::untrusted;
use crate::{Error, HasMailcheck};

/// No mentions at all: not users, not roles, not `@everyone`, not the replied-to user.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

/// The user-facing text for input that is not a domain.
pub fn invalid_input_text(error: &mailcheck::InputError) -> String {
    format!(
        "I can't check that: {}.\nGive a domain (`example.com`), an e-mail address \
         (`someone@example.com`) or a URL (`https://example.com/`).",
        untrusted(&error.to_string())
    )
}

/// The user-facing text for a cooldown.
pub fn cooldown_text(hit: CooldownHit) -> String {
    let wait = human_duration(hit.remaining()).replace("ms", "milliseconds");
    match hit {
        CooldownHit::User(_) => format!("Please wait {wait} before your next check."),
        CooldownHit::Guild(_) => {
            format!("This server ran a check moments ago; please wait {wait}.")
        }
    }
}

/// The user-facing text when every check slot is busy.
pub const BUSY_TEXT: &str =
    "I'm running as many checks as I may right now; please try again in a minute.";

async fn ephemeral<U: HasMailcheck>(
    ctx: poise::Context<'_, U, Error>,
    text: String,
) -> Result<(), Error> {
    ctx.send(
        CreateReply::default()
            .ephemeral(true)
            .content(text)
            .allowed_mentions(no_mentions()),
    )
    .await?;
    Ok(())
}

/// Check a domain's mail delivery: MX, DNS, port 25, TLS, blocklists.
///
/// Accepts a domain, an e-mail address or a URL (IDN included). The answer is public in the
/// channel; problems with the input, cooldowns and a busy bot are answered privately.
#[poise::command(slash_command, rename = "mailcheck")]
#[allow(unreachable_pub)] // the macro wraps this function in `mailcheck()`, which is exported
pub async fn mailcheck<U: HasMailcheck>(
    ctx: poise::Context<'_, U, Error>,
    #[description = "A domain, e-mail address or URL, e.g. example.com"]
    #[max_length = 300]
    domain: String,
) -> Result<(), Error> {
    let data = ctx.data().mailcheck();
    let domain = match DomainName::parse(&domain) {
        Ok(d) => d,
        Err(e) => return ephemeral(ctx, invalid_input_text(&e)).await,
    };
    let user = ctx.author().id.get();
    let guild = ctx.guild_id().map(|g| g.get());
    let now = Instant::now();
    let cached = data.cache.get(domain.as_str(), now);
    // Take a slot before the cooldown, so a busy bot does not also cost the user a cooldown.
    // The slot is held until the answer is posted, so a graceful shutdown (which waits for every
    // slot) never cuts a check's answer off.
    let _permit = if cached.is_some() {
        None
    } else {
        match data.cap.try_acquire() {
            Some(p) => Some(p),
            None => return ephemeral(ctx, BUSY_TEXT.to_owned()).await,
        }
    };
    if let Err(hit) = data.cooldowns.try_start(user, guild, now) {
        return ephemeral(ctx, cooldown_text(hit)).await;
    }
    // Discord wants an answer within 3 s: acknowledge before any probing.
    ctx.defer().await?;
    let poise::Context::Application(actx) = ctx else {
        return Ok(());
    };
    let http = ctx.http();
    let edit = |builder: EditInteractionResponse| async move {
        actx.interaction
            .edit_response(http, builder.allowed_mentions(no_mentions()))
            .await
    };

    let (report, cached_age) = if let Some((report, age)) = cached {
        info!(domain = %domain, user, ?guild, age_s = age.as_secs(), "mailcheck answered from cache");
        (report, Some(age))
    } else {
        info!(domain = %domain, user, ?guild, "mailcheck started");
        let progress = render::render_progress(
            &domain,
            "Looking up the domain's mail servers (MX records)…",
            &[],
        );
        edit(EditInteractionResponse::new().embed(progress.to_embed())).await?;
        let (sender, mut rx) = ProgressSender::channel();
        let deadline = data.config.check_deadline();
        let check = tokio::time::timeout(deadline, data.diagnoser.diagnose(&domain, sender));
        // Progress edits run beside the check, so a slow Discord never holds the probes up. The
        // channel closes when the check ends (or is dropped at the deadline), which ends this
        // loop; the final edit below therefore always comes after the last progress edit.
        let show_progress = async {
            let mut mx = Vec::new();
            while let Some(first) = rx.recv().await {
                // Show only the newest of what queued up while the last edit was in flight:
                // fewer edits, fewer rate limits.
                let mut stage = String::new();
                for p in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                    stage = match p {
                        Progress::Stage(s) => s,
                        Progress::MxFound(hosts) => {
                            mx = hosts;
                            render::mx_found_stage(&mx)
                        }
                    };
                }
                let embed = render::render_progress(&domain, &stage, &mx);
                if let Err(e) = edit(EditInteractionResponse::new().embed(embed.to_embed())).await {
                    warn!(domain = %domain, "progress edit failed: {e}");
                }
            }
        };
        let (outcome, ()) = tokio::join!(check, show_progress);
        let Ok(report) = outcome else {
            warn!(domain = %domain, ?deadline, "mailcheck hit its deadline");
            let text = format!(
                "The check did not finish within {}: some mail server or DNS server is very \
                 slow. Please try again later.",
                human_duration(deadline)
            );
            edit(
                EditInteractionResponse::new()
                    .embed(render::render_failure(&domain, &text).to_embed()),
            )
            .await?;
            return Ok(());
        };
        let report: Arc<Report> = Arc::new(report);
        data.cache
            .put(domain.as_str(), Arc::clone(&report), Instant::now());
        info!(domain = %domain, verdict = %report.verdict, findings = report.findings.len(),
              elapsed_ms = report.elapsed_ms, "mailcheck finished");
        (report, None)
    };
    let rendered = render::render_report(&report, &RenderContext { cached_age });
    edit(
        EditInteractionResponse::new()
            .content("")
            .embed(rendered.embed.to_embed())
            .new_attachment(rendered.attachment()),
    )
    .await?;
    Ok(())
}
