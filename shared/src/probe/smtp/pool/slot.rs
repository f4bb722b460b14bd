//! The per-address state of the pool: the queue of waiting domains, the idle sessions, what
//! the MX names of the address showed of TLS, the remembered outcomes; taking the next batch
//! off the queue, and the reaper that ends sessions idle too long.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

use super::lock;
use super::outcome::reused;
use crate::facts::SmtpFacts;
use crate::probe::smtp::Session;

/// Per-address state.
#[derive(Debug)]
pub(super) struct Slot {
    /// One permit per session that may be open at a time.
    pub(super) lanes: Semaphore,
    /// Never held across an await.
    pub(super) state: Mutex<SlotState>,
    /// Told whenever a domain joins the queue (a lingering batch takes it).
    pub(super) arrivals: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(super) struct SlotState {
    /// Domains waiting for this address.
    pub(super) queue: VecDeque<Pending>,
    /// Open sessions waiting for the next batch.
    pub(super) idle: Vec<Idle>,
    /// Sessions in use by a batch right now.
    pub(super) active: usize,
    /// The address's reaper task is running.
    pub(super) reaper: bool,
    /// When the next new connection may start.
    pub(super) next_connect: Option<Instant>,
    /// A final connection-level failure, remembered for the run.
    pub(super) failure: Option<SmtpFacts>,
    /// The latest transient connection-level failure and when its attempt started: shared
    /// only with domains that were already waiting then.
    pub(super) transient: Option<(SmtpFacts, Instant)>,
    /// What the names of this address tell about SNI.
    pub(super) names: Names,
    /// When the latest new connection got ready, and its connection-level facts (for the
    /// per-address budget).
    pub(super) opened: Option<(Instant, SmtpFacts)>,
}

/// What each MX name of an address saw of TLS on its own session, and what follows.
#[derive(Debug, Default)]
pub(super) struct Names {
    seen: Vec<(String, TlsSeen)>,
    sharing: Sharing,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Sharing {
    /// Fewer than two names had their own session.
    #[default]
    Unknown,
    /// Two names saw the same thing: the server ignores the name.
    Shared,
    /// Two names saw different things (certificates selected by SNI): one session per name.
    PerName,
}

/// What one name's own session saw of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TlsSeen {
    NoStartTls,
    Chain(Vec<String>),
    Failed(String),
}

impl Names {
    pub(super) fn record(&mut self, host: &str, seen: TlsSeen) {
        if self.sharing != Sharing::Unknown || self.seen.iter().any(|(h, _)| h == host) {
            return;
        }
        if let Some((_, first)) = self.seen.first() {
            self.sharing = if *first == seen {
                Sharing::Shared
            } else {
                Sharing::PerName
            };
        }
        self.seen.push((host.to_owned(), seen));
    }

    /// Whether a session opened for `session_host` may serve `host`.
    pub(super) fn may_serve(&self, session_host: &str, host: &str) -> bool {
        session_host == host || self.sharing == Sharing::Shared
    }
}

/// A domain waiting for the address.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) host: String,
    pub(super) domain: String,
    pub(super) requested: Instant,
    pub(super) pipelining: bool,
    /// Not to be batched with others (a retry after its own recipient failed).
    pub(super) solo: bool,
    /// The retry of a transient outcome: part of the same probe, so not held back by the
    /// per-address budget.
    pub(super) retry: bool,
    pub(super) tx: oneshot::Sender<Answer>,
}

/// Facts for a waiting domain, and whether they were copied from memory (not to be retried).
pub(super) type Answer = (SmtpFacts, bool);

#[derive(Debug)]
pub(super) struct Idle {
    pub(super) session: Session,
    /// The connection-level facts (connect, greeting, EHLO, STARTTLS) and their transcript.
    pub(super) base: SmtpFacts,
    /// Its share of the global connection cap.
    pub(super) permit: Permit,
}

/// A share of the global connection cap (`None` when there is no cap).
pub(super) type Permit = Option<OwnedSemaphorePermit>;

/// What a domain asks of the pool.
pub(super) struct Request<'a> {
    pub(super) host: &'a str,
    pub(super) domain: &'a str,
    pub(super) pipelining: bool,
    pub(super) solo: bool,
    pub(super) retry: bool,
}

/// The address's reaper: ends idle sessions with `QUIT` once they idled `reuse_idle`, and
/// stops when none is left (one task per address, not one per parked session).
pub(super) async fn reap(slot: Arc<Slot>, reuse_idle: std::time::Duration) {
    loop {
        let (expired, next) = {
            let mut state = lock(&slot.state);
            let (expired, kept): (Vec<Idle>, Vec<Idle>) = std::mem::take(&mut state.idle)
                .into_iter()
                .partition(|i| i.session.idle_for() >= reuse_idle);
            let next = kept
                .iter()
                .map(|i| reuse_idle.saturating_sub(i.session.idle_for()))
                .min();
            state.idle = kept;
            if next.is_none() {
                state.reaper = false;
            }
            (expired, next)
        };
        for idle in expired {
            idle.session.quit_silently().await;
        }
        match next {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return,
        }
    }
}

/// Takes the next batch off the queue: the first waiting domain an open session can serve
/// (else the longest waiting) and the others a session for its host may serve in the same
/// transaction, up to `max`. Domains that can be answered from memory (a remembered failure, a
/// transient failure seen while they waited) are answered here.
pub(super) fn take_batch(state: &mut SlotState, ip: IpAddr, max: u32) -> Vec<Pending> {
    while let Some(front) = state.queue.front() {
        let copy = if let Some(failure) = &state.failure {
            let note =
                format!("not reconnecting to {ip}: its earlier connection failed in this run");
            Some(reused(failure, &front.host, &front.domain, note))
        } else if let Some((facts, started)) = &state.transient
            && *started >= front.requested
        {
            let note = format!(
                "not reconnecting to {ip}: an attempt that started while this check waited \
                 for the address just failed"
            );
            Some(reused(facts, &front.host, &front.domain, note))
        } else {
            None
        };
        let Some(copy) = copy else { break };
        if let Some(p) = state.queue.pop_front() {
            let _ = p.tx.send((copy, true));
        }
    }
    // The first domain an open session can serve goes first (its host's session is reused
    // rather than ended for another name's); otherwise the longest waiting.
    let at = state
        .queue
        .iter()
        .position(|p| {
            state
                .idle
                .iter()
                .any(|i| state.names.may_serve(i.session.host(), &p.host))
        })
        .unwrap_or(0);
    let Some(first) = state.queue.remove(at) else {
        return Vec::new();
    };
    let max = usize::try_from(max.max(1)).unwrap_or(1);
    let host = first.host.clone();
    let mut batch = vec![first];
    top_up(state, &mut batch, &host, max);
    batch
}

/// Moves waiting domains into `batch` (up to `max`) that can join its transaction on a session
/// opened for `session_host`: not retried alone, the same pipelining, a name the session may
/// serve, a domain not already in it.
pub(super) fn top_up(
    state: &mut SlotState,
    batch: &mut Vec<Pending>,
    session_host: &str,
    max: usize,
) {
    if batch.is_empty() || batch[0].solo || batch.len() >= max || state.queue.is_empty() {
        return;
    }
    let mut rest = VecDeque::with_capacity(state.queue.len());
    while let Some(p) = state.queue.pop_front() {
        let fits = batch.len() < max
            && !p.solo
            && p.pipelining == batch[0].pipelining
            && state.names.may_serve(session_host, &p.host)
            && !batch.iter().any(|b| b.domain == p.domain);
        if fits {
            batch.push(p);
        } else {
            rest.push_back(p);
        }
    }
    state.queue = rest;
}
