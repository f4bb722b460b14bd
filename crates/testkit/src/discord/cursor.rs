//! The record as a test reads it: snapshots ([`DiscordStandIn::events`]), waits
//! ([`DiscordStandIn::wait_for`], [`DiscordStandIn::wait_ready`]) and the [`EventCursor`], a
//! position in the record that waits for the next matching event without polling (it wakes
//! when the event count changes).

use std::sync::Arc;
use std::time::Duration;

use super::events::{DiscordEvent, Recorded};
use super::state::Shared;
use super::{DiscordStandIn, StandInError};

/// A position in the record of events; each call moves it past what it returns.
#[derive(Debug)]
pub struct EventCursor {
    pub(super) shared: Arc<Shared>,
    pub(super) next: usize,
}

impl EventCursor {
    /// Returns the next event, waiting up to `timeout` for it.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Recorded, StandInError> {
        self.wait_for_inner(timeout, "the next event", |_| true)
            .await
    }

    /// Skips events until one that `pred` accepts, waiting up to `timeout` in all.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        self.wait_for_inner(timeout, "a matching event", pred).await
    }

    /// Like [`wait_for`](Self::wait_for), with a predicate over the whole record (status,
    /// error body, event).
    pub async fn wait_for_recorded(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Recorded) -> bool,
    ) -> Result<Recorded, StandInError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut count = self.shared.count.subscribe();
        loop {
            // Mark the current count as seen before scanning, so an event recorded after the
            // scan wakes `changed()` below.
            count.borrow_and_update();
            if let Some(found) = self.scan(&mut pred) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return Err(StandInError::Timeout {
                        after: timeout,
                        what: "a matching event".to_owned(),
                        recorded: self.shared.summary(),
                    });
                }
            }
        }
    }

    /// The events recorded since the cursor's position, without waiting; moves past them.
    pub fn drain(&mut self) -> Vec<Recorded> {
        let events = self.shared.lock_events();
        let out = events.get(self.next..).unwrap_or_default().to_vec();
        self.next = events.len();
        out
    }

    async fn wait_for_inner(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        self.wait_for_recorded(timeout, |r| pred(&r.event))
            .await
            .map_err(|e| match e {
                StandInError::Timeout {
                    after, recorded, ..
                } => StandInError::Timeout {
                    after,
                    what: what.to_owned(),
                    recorded,
                },
                other => other,
            })
    }

    fn scan(&mut self, pred: &mut impl FnMut(&Recorded) -> bool) -> Option<Recorded> {
        let events = self.shared.lock_events();
        while let Some(r) = events.get(self.next) {
            self.next += 1;
            if pred(r) {
                return Some(r.clone());
            }
        }
        None
    }
}

impl DiscordStandIn {
    /// Waits until a client has identified (or resumed) on a live connection.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), StandInError> {
        let mut rx = self.shared.ready.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            // The sender lives in `shared`, which we hold: it cannot be dropped.
            Ok(Err(_)) | Err(_) => Err(StandInError::Timeout {
                after: timeout,
                what: "gateway READY".to_owned(),
                recorded: self.shared.summary(),
            }),
        }
    }

    /// A snapshot of everything recorded so far, in arrival order.
    pub fn events(&self) -> Vec<Recorded> {
        self.shared.lock_events().clone()
    }

    /// The events concerning one interaction token, in arrival order.
    pub fn events_for(&self, token: &str) -> Vec<Recorded> {
        self.shared
            .lock_events()
            .iter()
            .filter(|r| r.event.token() == Some(token))
            .cloned()
            .collect()
    }

    /// A cursor at the current end of the record: it sees only events that arrive from now on.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            shared: Arc::clone(&self.shared),
            next: self.shared.lock_events().len(),
        }
    }

    /// A cursor at the start of the record: it sees every event.
    pub fn cursor_from_start(&self) -> EventCursor {
        EventCursor {
            shared: Arc::clone(&self.shared),
            next: 0,
        }
    }

    /// Waits for the first event (already recorded or still to come) that `pred` accepts.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl FnMut(&DiscordEvent) -> bool,
    ) -> Result<Recorded, StandInError> {
        self.cursor_from_start().wait_for(timeout, pred).await
    }
}
