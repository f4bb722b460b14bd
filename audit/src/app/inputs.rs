//! An audit's rows: the sources opened off the async threads (with a row estimate for the
//! progress bar and the input's identity for the history), and the rows `--resume` finds done.

use std::path::PathBuf;

use crate::error::AuditError;
use crate::history;
use crate::input::{Inputs, Source};
use crate::resume::Resume;

/// Opens the sources (off the async threads), with a row estimate for the progress bar and
/// the input's identity for the history.
pub(super) async fn open_inputs(
    sources: Vec<Source>,
    want_estimate: bool,
    want_identity: bool,
) -> Result<(Inputs, Option<u64>, Option<(String, String)>), AuditError> {
    tokio::task::spawn_blocking(move || {
        let estimate = if want_estimate {
            estimate_rows(&sources)
        } else {
            None
        };
        let identity = want_identity.then(|| history::input_identity(&sources));
        Inputs::open(sources).map(|i| (i, estimate, identity))
    })
    .await
    .map_err(|e| AuditError::Usage(format!("input thread failed: {e}")))?
}

/// The rows a resumed run already has.
pub(super) async fn load_resume(
    path: Option<&PathBuf>,
    quiet: bool,
) -> Result<Option<Resume>, AuditError> {
    let Some(p) = path.cloned() else {
        return Ok(None);
    };
    let resume = tokio::task::spawn_blocking(move || Resume::load(&p))
        .await
        .map_err(|e| AuditError::Usage(format!("resume thread failed: {e}")))??;
    if !quiet {
        eprintln!("Resuming: {} row(s) already done.", resume.done());
    }
    Ok(Some(resume))
}

/// Rows to expect, for the progress bar (files are counted by lines: an upper bound).
fn estimate_rows(sources: &[Source]) -> Option<u64> {
    let mut total = 0u64;
    for s in sources {
        total += match s {
            Source::Domains(d) => d.len() as u64,
            Source::Text { text, .. } => text.lines().count().saturating_sub(1) as u64,
            Source::File(p) => count_lines(p)?,
            Source::Stdin => return None,
        };
    }
    Some(total)
}

fn count_lines(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    let mut last = b'\n';
    loop {
        let k = f.read(&mut buf).ok()?;
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[k - 1];
    }
    if last != b'\n' {
        n += 1;
    }
    // The header line, if any, is not a row: an upper bound is fine for an ETA.
    Some(n)
}
