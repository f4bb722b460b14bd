//! The run in the history: where it is kept (`--fail-on worse|new-broken` needs one), the run
//! begun (or the resumed one continued), and its vantage facts and end recorded.

use crate::cli::{Cli, FailOn};
use crate::error::AuditError;
use crate::history::{self, ActiveRun, History, RunMeta};
use crate::summary::Summary;

/// Where the run history is kept, if anywhere; `--fail-on worse|new-broken` needs one.
pub(super) fn history_location(cli: &Cli) -> Result<Option<history::Location>, AuditError> {
    let location = cli.history_location()?;
    if let Some(f) = cli.fail_on
        && f.needs_history()
        && location.is_none()
    {
        return Err(AuditError::Usage(format!(
            "--fail-on {}: compares with previous runs, so it needs the history{}",
            if f == FailOn::Worse {
                "worse"
            } else {
                "new-broken"
            },
            if cli.demo {
                " (--demo records only with --history PATH)"
            } else {
                " (drop --no-history / MAILCHECK_HISTORY=off)"
            }
        )));
    }
    Ok(location)
}

/// Opens the history and starts this run in it, or continues the run a resumed JSONL names.
pub(super) async fn open_run(
    location: &history::Location,
    resume_run: Option<&str>,
    (input_name, input_hash): (String, String),
    quiet: bool,
) -> Result<ActiveRun, AuditError> {
    let store = History::open(location).await?;
    if let Some(id) = resume_run
        && let Some(run) = store.continue_run(id).await?
    {
        if !quiet {
            eprintln!(
                "History: continuing run {id} ({} row(s) recorded) in {}.",
                run.rows,
                location.display()
            );
        }
        return Ok(ActiveRun {
            store,
            run_id: run.meta.run_id,
            started_at: run.meta.started_at,
        });
    }
    let started_at = history::time::now_ms();
    let meta = RunMeta {
        run_id: history::new_run_id(started_at),
        started_at,
        input_name,
        input_hash,
        host: mailcheck::probe::smtp::default_helo_name(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    store.begin_run(&meta).await?;
    Ok(ActiveRun {
        store,
        run_id: meta.run_id,
        started_at,
    })
}

/// Records the run's vantage facts and its end in the history.
pub(super) async fn finish_run(a: &ActiveRun, summary: &Summary) -> Result<(), AuditError> {
    if let Some((vantage, zones)) = &summary.vantage {
        let json = serde_json::json!({ "vantage": vantage, "dnsbl_zones": zones });
        a.store.set_vantage(&a.run_id, &json.to_string()).await?;
    }
    a.store
        .finish_run(&a.run_id, history::time::now_ms())
        .await?;
    a.store.close().await;
    Ok(())
}
