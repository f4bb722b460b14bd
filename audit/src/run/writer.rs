//! The engine's writer thread: rows in input order to every sink, each batch recorded in the
//! history before any report shows it, then the summary's finish.

use tokio::sync::mpsc;

use super::{MAX_HISTORY_BATCH, WriterMsg};
use crate::error::AuditError;
use crate::history::ActiveRun;
use crate::history::store::Recorded;
use crate::output::Sink;

/// The writer thread: takes every row that is waiting (up to [`MAX_HISTORY_BATCH`]), records
/// them in the history in one transaction, then writes them to the sinks, flushing each.
pub(super) fn write_loop(
    mut rx: mpsc::Receiver<WriterMsg>,
    mut sinks: Vec<Sink>,
    history: Option<&ActiveRun>,
    handle: &tokio::runtime::Handle,
) -> Result<(), AuditError> {
    let mut held: Option<WriterMsg> = None;
    loop {
        let Some(msg) = held.take().or_else(|| rx.blocking_recv()) else {
            return Ok(());
        };
        match msg {
            WriterMsg::Row {
                chunks,
                resumed,
                record,
            } => {
                let mut batch = vec![(chunks, resumed)];
                let mut records: Vec<Recorded> = record.into_iter().map(|r| *r).collect();
                while batch.len() < MAX_HISTORY_BATCH {
                    match rx.try_recv() {
                        Ok(WriterMsg::Row {
                            chunks,
                            resumed,
                            record,
                        }) => {
                            batch.push((chunks, resumed));
                            records.extend(record.map(|r| *r));
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(h) = history {
                    handle.block_on(h.store.record(&h.run_id, &records))?;
                }
                for (chunks, resumed) in &batch {
                    for (sink, chunk) in sinks.iter_mut().zip(chunks) {
                        if !(*resumed && sink.resume_source) {
                            sink.write(chunk)?;
                        }
                    }
                }
            }
            WriterMsg::Finish(summary) => {
                for sink in sinks.drain(..) {
                    sink.finish(&summary)?;
                }
            }
        }
    }
}
