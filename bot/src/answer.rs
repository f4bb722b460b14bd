//! Answering a check, the same way for `/mailcheck` and for the Re-check button: guards
//! (cache, cap, cooldowns), the acknowledgement within Discord's 3 seconds, progress, one probe
//! per domain however many ask, the deadline's partial report, and every Discord call after the
//! acknowledgement retried on 5xx/429 with a follow-up message if editing keeps failing.
//!
//! Where an answer goes and how each Discord call is made and retried ([`Target`],
//! [`with_retries`]) is in `target` beside this file.

mod target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use mailcheck::{CheckOptions, DomainName, Report};
use serenity::all::{
    CreateAllowedMentions, CreateInteractionResponseFollowup, EditInteractionResponse, Http,
};
use tracing::{info, warn};

use crate::backend::{Progress, ProgressSender};
use crate::guard::{Answer, CooldownHit};
use crate::render::{self, RenderContext, human_duration};
use crate::{Data, Error};

pub use target::{Target, retryable, with_retries};

/// No mentions at all: not users, not roles, not `@everyone`, not the replied-to user.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
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

/// The user-facing text where the operator has not enabled the command.
pub const NOT_HERE_TEXT: &str = "mailcheck is not enabled here. Ask the bot's operator \
     (its `allowed_guilds` and `allow_dms` settings).";

/// Extra time the bot gives the library past the check's deadline before it gives up on it
/// (the library stops itself at the deadline and reports what it found): a tenth of the
/// deadline, between 1 and 10 s.
fn deadline_grace(deadline: Duration) -> Duration {
    (deadline / 10).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// Who asks, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    /// The user.
    pub user: u64,
    /// The guild, `None` in DMs.
    pub guild: Option<u64>,
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Request {
    /// The domain.
    pub domain: DomainName,
    /// Only the asker sees the answer.
    pub private: bool,
    /// A re-check: skip the result cache and what the checker remembers of the domain.
    pub fresh: bool,
    /// The answer being re-checked (its buttons keep working on the new result).
    pub answer_id: Option<u64>,
}

/// Runs a check for `request` and answers `target` with it.
pub async fn answer(
    http: &Http,
    data: &Data,
    target: Target<'_>,
    asker: Asker,
    request: Request,
) -> Result<(), Error> {
    let domain = &request.domain;
    let now = Instant::now();
    let cached = if request.fresh {
        None
    } else {
        data.cache.get(domain.as_str(), now)
    };
    // Take a slot before the cooldown, so a busy bot does not also cost the user a cooldown.
    // The slot is held until the answer is posted, so a graceful shutdown (which waits for every
    // slot) never cuts a check's answer off.
    let _permit = if cached.is_some() {
        None
    } else {
        match data.cap.try_acquire() {
            Some(p) => Some(p),
            None => return target.private_text(http, BUSY_TEXT.to_owned()).await,
        }
    };
    if let Err(hit) = data.cooldowns.try_start(asker.user, asker.guild, now) {
        return target.private_text(http, cooldown_text(hit)).await;
    }
    // Discord wants an answer within 3 s: acknowledge before any probing. If Discord refuses
    // (the interaction expired already), nobody would see the result: do not probe at all.
    if let Err(e) = target.acknowledge(http, request.private).await {
        warn!(domain = %domain, "could not acknowledge the interaction, not checking: {e}");
        return Ok(());
    }
    let (report, cached_age) = match cached {
        Some((report, age)) => {
            info!(
                domain = %domain,
                user = asker.user,
                guild = ?asker.guild,
                age_s = age.as_secs(),
                "mailcheck answered from cache"
            );
            (report, Some(age))
        }
        None => (run_check(http, data, target, asker, &request).await, None),
    };
    finish(http, data, target, &request, report, cached_age).await
}

/// The probe (shared with anyone checking the same domain meanwhile), with progress edits.
async fn run_check(
    http: &Http,
    data: &Data,
    target: Target<'_>,
    asker: Asker,
    request: &Request,
) -> Arc<Report> {
    let domain = &request.domain;
    if request.fresh {
        data.cache.remove(domain.as_str());
    }
    info!(
        domain = %domain,
        user = asker.user,
        guild = ?asker.guild,
        fresh = request.fresh,
        "mailcheck started"
    );
    let deadline = data.config.check_deadline();
    let (sender, mut rx) = ProgressSender::channel();
    let diagnoser = Arc::clone(&data.diagnoser);
    let options = CheckOptions {
        fresh: request.fresh,
        deadline: Some(deadline),
    };
    let owned = domain.clone();
    let (check, leader) = data.running.join_or_start(domain.as_str(), move || {
        async move {
            let work = diagnoser.diagnose(&owned, options, sender);
            match tokio::time::timeout(deadline + deadline_grace(deadline), work).await {
                Ok(report) => Arc::new(report),
                Err(_) => Arc::new(gave_up(&owned, deadline)),
            }
        }
        .boxed()
    });
    let first = if leader {
        "Looking up the domain's mail servers (MX records)…"
    } else {
        "Someone is checking this domain right now; showing that check's result when it ends…"
    };
    let progress = render::render_progress(domain, first, &[]);
    if let Err(e) = with_retries("progress edit", || {
        target.edit(
            http,
            EditInteractionResponse::new().embed(progress.to_embed()),
        )
    })
    .await
    {
        warn!(domain = %domain, "first progress edit failed: {e}");
    }
    // Progress edits run beside the check, so a slow Discord never holds the probes up. The
    // channel closes when the check ends, which ends this loop; the final edit therefore
    // always comes after the last progress edit. A check joined from someone else reports no
    // progress here (its channel closes at once).
    let show_progress = async {
        let mut mx = Vec::new();
        while let Some(first) = rx.recv().await {
            // Show only the newest of what queued up while the last edit was in flight.
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
            let embed = render::render_progress(domain, &stage, &mx);
            if let Err(e) = target
                .edit(http, EditInteractionResponse::new().embed(embed.to_embed()))
                .await
            {
                warn!(domain = %domain, "progress edit failed: {e}");
            }
        }
    };
    let (report, ()) = tokio::join!(check, show_progress);
    if leader {
        data.health.check_finished();
        data.cache
            .put(domain.as_str(), Arc::clone(&report), Instant::now());
        info!(
            domain = %domain,
            verdict = %report.verdict,
            findings = report.findings.len(),
            partial = report.partial.is_some(),
            elapsed_ms = report.elapsed_ms,
            "mailcheck finished"
        );
    }
    report
}

/// The report when the library did not even stop at the deadline (it always should).
fn gave_up(domain: &DomainName, deadline: Duration) -> Report {
    let mut report = Report::invalid(domain.as_str(), "");
    report.domain = domain.as_str().to_owned();
    report.verdict = mailcheck::Verdict::Inconclusive;
    report.error = Some(format!(
        "The check did not finish within {}: some mail server or DNS server is very slow. \
         Please try again later.",
        human_duration(deadline)
    ));
    report.partial = Some("nothing finished before the deadline".to_owned());
    report
}

/// The final answer: the report embed, its file and its buttons, edited in (retried), or as a
/// follow-up message when editing keeps failing.
async fn finish(
    http: &Http,
    data: &Data,
    target: Target<'_>,
    request: &Request,
    report: Arc<Report>,
    cached_age: Option<Duration>,
) -> Result<(), Error> {
    let id = match request.answer_id {
        Some(id) => {
            data.answers.update(id, Arc::clone(&report));
            id
        }
        None => data.answers.put(Answer {
            domain: request.domain.clone(),
            report: Arc::clone(&report),
            private: request.private,
        }),
    };
    let ctx = RenderContext {
        cached_age,
        host_note: data.host_note.get(),
    };
    let rendered = render::render_report(&report, &ctx);
    let edited = with_retries("final edit", || {
        target.edit(
            http,
            EditInteractionResponse::new()
                .content("")
                .embed(rendered.embed.to_embed())
                .components(render::answer_buttons(id))
                .clear_attachments()
                .new_attachment(rendered.attachment()),
        )
    })
    .await;
    if let Err(e) = edited {
        warn!(domain = %request.domain, "final edit failed, sending a follow-up instead: {e}");
        with_retries("follow-up", || {
            target.followup(
                http,
                CreateInteractionResponseFollowup::new()
                    .ephemeral(request.private)
                    .embed(rendered.embed.to_embed())
                    .components(render::answer_buttons(id))
                    .add_file(rendered.attachment()),
            )
        })
        .await?;
    }
    Ok(())
}
