//! [`SmtpProber`]: the politeness layer over [`Session`](super::Session).
//!
//! - **Per-address session limit:** at most `sessions_per_ip` connections to one address
//!   (`ip`, port) are open at a time, idle ones included.
//! - **Batched transactions:** domains waiting for the same address are served together: one
//!   `MAIL FROM`, then one `RCPT TO:<postmaster@…>` per domain (at most
//!   `max_rcpts_per_transaction`, within the session's error budget), in one write when the
//!   server pipelines. Whoever holds a free session slot serves the queue (flat combining), so
//!   no domain waits for a batch to fill.
//! - **Session reuse:** an open session serves the next batch while it is alive, idle for less
//!   than `reuse_idle`, below `max_transactions_per_session` domains and below
//!   `max_session_errors` refusals; idle sessions get `QUIT` after `reuse_idle` (a reaper
//!   task) or on [`SmtpProber::close_all`].
//! - **MX names sharing an address:** the first two names get their own session (their own
//!   STARTTLS and SNI). When both saw the same thing — the same certificate chain, the same
//!   handshake failure, or no STARTTLS — the server ignores the name, and every name on the
//!   address shares sessions, each checked against the recorded certificate; otherwise each
//!   name gets its own connection, spaced. The facts say which (`session_host`).
//! - **Lingering:** a batch with room waits, until it is full or half the measured round trip
//!   (at most 40 ms, not at all under 2 ms) passed, for domains about to ask, which then save a
//!   round trip.
//! - **Spacing:** new connections to one address start at least `min_connect_interval` apart;
//!   reused sessions are not spaced.
//! - **Transient outcomes** (connect timeout or no route, no greeting, a 4xx, a drop) are
//!   retried once after `retry_backoff` before they count; a domain whose own recipient failed
//!   transiently is retried alone, and a drop after a pipelined `MAIL`+`RCPT` one command at a
//!   time. Transient outcomes are never remembered: a connection-level one is shared only with
//!   domains that were already waiting for the address when its attempt started.
//! - **Final connection failures** (refused, greeting 5xx, EHLO and HELO refused) are
//!   remembered for the run: later domains on that address get a copy with their own
//!   `rcpt_domain` (and a note) instead of a new connection.
//! - **Per-address budget** (`address_budget`, the bot's): within the budget after a new
//!   connection to an address, no other new connection goes there; a domain is served on the
//!   open session if there is one, else it gets that connection's facts, their age, and no
//!   transaction of its own. [`SmtpProber::forget`] lifts the budget and the remembered
//!   outcomes of an address (a user's "check again").
//! - **Global cap** (`max_connections`): connections open at once across all addresses, idle
//!   ones included; a new connection waits for a free one.
//!
//! So 1000 domains sharing 10 MX addresses open 10 connections and about 1000/10 transactions.
//!
//! Files: this one holds [`SmtpProber`] and the request flow (queue, serve, retry once);
//! `slot.rs` the per-address state and how a batch is taken off its queue; `batch.rs` serving
//! one batch on one session (lingering, answering, parking the session); `connect.rs` new
//! connections (spacing, the global cap, the per-address budget); `outcome.rs` which outcomes
//! are transient or final, and the notes on copied facts.

mod batch;
mod connect;
mod outcome;
mod slot;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;

use super::SmtpClient;
use crate::config::SmtpConfig;
use crate::facts::{SmtpFacts, Speaker, TranscriptLine};
use outcome::{Transient, describe_transient, dropped_at_mail, reused, transient};
use slot::{Answer, Pending, Request, Slot, SlotState, take_batch};

/// Probes SMTP servers politely, sharing sessions and transactions between domains. Cheap to
/// clone (all clones share the pool). Call [`close_all`](Self::close_all) at the end of a run
/// so idle sessions are ended with `QUIT`.
#[derive(Clone)]
pub struct SmtpProber {
    client: SmtpClient,
    slots: Arc<Mutex<HashMap<SocketAddr, Arc<Slot>>>>,
    /// One permit per connection that may be open at once (`max_connections`), when capped.
    connections: Option<Arc<Semaphore>>,
}

impl fmt::Debug for SmtpProber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = lock(&self.slots).len();
        f.debug_struct("SmtpProber")
            .field("client", &self.client)
            .field("addresses", &n)
            .finish()
    }
}
impl SmtpProber {
    /// A prober for this configuration; see [`SmtpClient::new`] for what is checked.
    pub fn new(config: &SmtpConfig) -> Result<Self, crate::Error> {
        Ok(Self::with_client(SmtpClient::new(config)?))
    }

    /// A prober over an existing client.
    pub(crate) fn with_client(client: SmtpClient) -> Self {
        let cap = client.config().max_connections;
        Self {
            client,
            slots: Arc::new(Mutex::new(HashMap::new())),
            connections: (cap > 0).then(|| Arc::new(Semaphore::new(cap))),
        }
    }

    /// The client (configuration, EHLO name, TLS).
    pub(crate) const fn client(&self) -> &SmtpClient {
        &self.client
    }

    /// The conversation for `domain` with `ip` (the configured port), `host` being the MX host
    /// name the address belongs to: in a transaction shared with the other domains waiting for
    /// the address, on an open session when one fits, else on a new, politely spaced
    /// connection — unless an earlier connection to this address failed finally in this run.
    /// A transient outcome is retried once after `retry_backoff`; the facts are of the last
    /// attempt, with `retried` saying what the earlier one saw and both in the transcript.
    pub async fn probe(&self, ip: IpAddr, host: &str, domain: &str) -> SmtpFacts {
        let cfg = self.client.config();
        let key = SocketAddr::new(ip, cfg.port);
        let slot = self.slot(key);
        let request = Request {
            host,
            domain,
            pipelining: true,
            solo: false,
            retry: false,
        };
        let (first, remembered) = self.request(&slot, ip, &request).await;
        if remembered {
            return first;
        }
        let Some(kind) = transient(&first) else {
            return first;
        };
        let first_start = Instant::now();
        let wait = cfg.retry_backoff;
        tokio::time::sleep(wait).await;
        // A drop right after a pipelined MAIL+RCPT cannot be pinned on MAIL: ask again alone.
        let request = Request {
            pipelining: !(first.mail_pipelined && dropped_at_mail(&first)),
            solo: kind == Transient::Transaction,
            retry: true,
            ..request
        };
        let (mut second, _) = self.request(&slot, ip, &request).await;
        let seen = describe_transient(&first);
        let mut transcript = first.transcript;
        transcript.push(TranscriptLine {
            who: Speaker::Note,
            at_ms: transcript.last().map_or(0, |l| l.at_ms),
            text: format!(
                "transient outcome ({seen}): retrying once after {} ms before it counts",
                wait.as_millis()
            ),
        });
        transcript.append(&mut second.transcript);
        second.transcript = transcript;
        second.retried = first.retried;
        second.retried.push(seen);
        second.elapsed_ms = first.elapsed_ms + ms_since(first_start);
        second
    }

    /// Queues the domain for the address and serves the queue whenever a session slot is
    /// free, until this domain's answer arrives.
    async fn request(&self, slot: &Arc<Slot>, ip: IpAddr, request: &Request<'_>) -> Answer {
        let requested = Instant::now();
        loop {
            let (tx, mut rx) = oneshot::channel();
            {
                let mut state = lock(&slot.state);
                if let Some(failure) = &state.failure {
                    let note = format!(
                        "not reconnecting to {ip}: its earlier connection failed in this run"
                    );
                    return (reused(failure, request.host, request.domain, note), true);
                }
                state.queue.push_back(Pending {
                    host: request.host.to_owned(),
                    domain: request.domain.to_owned(),
                    requested,
                    pipelining: request.pipelining,
                    solo: request.solo,
                    retry: request.retry,
                    tx,
                });
            }
            slot.arrivals.notify_waiters();
            loop {
                tokio::select! {
                    biased;
                    answer = &mut rx => match answer {
                        Ok(answer) => return answer,
                        // Whoever was serving it was cancelled: queue it again.
                        Err(_) => break,
                    },
                    permit = slot.lanes.acquire() => {
                        let Ok(permit) = permit else { break };
                        if !self.serve(slot, ip).await {
                            // Someone else took this domain: wait for its answer.
                            drop(permit);
                            match rx.await {
                                Ok(answer) => return answer,
                                Err(_) => break,
                            }
                        }
                    }
                }
            }
        }
    }

    /// Serves one batch from the queue. False when the queue was empty.
    async fn serve(&self, slot: &Arc<Slot>, ip: IpAddr) -> bool {
        let cfg = self.client.config();
        let batch = {
            let mut state = lock(&slot.state);
            take_batch(&mut state, ip, cfg.max_rcpts_per_transaction)
        };
        if batch.is_empty() {
            return false;
        }
        self.run_batch(slot, ip, batch).await;
        true
    }
    /// Forgets what is remembered about `ip` (the configured port): a final failure, a
    /// transient one, the per-address budget; idle sessions get `QUIT`. The next domain on it
    /// gets a new connection (a user's "check again").
    pub async fn forget(&self, ip: IpAddr) {
        let key = SocketAddr::new(ip, self.client.config().port);
        let Some(slot) = lock(&self.slots).get(&key).cloned() else {
            return;
        };
        let idle = {
            let mut state = lock(&slot.state);
            state.failure = None;
            state.transient = None;
            state.opened = None;
            std::mem::take(&mut state.idle)
        };
        for i in idle {
            i.session.quit_silently().await;
        }
    }

    /// Sends `QUIT` on every idle session and forgets them (remembered failures stay).
    pub async fn close_all(&self) {
        let slots = self.all_slots();
        let quits = slots.into_iter().map(|slot| async move {
            let idle = std::mem::take(&mut lock(&slot.state).idle);
            for i in idle {
                i.session.quit_silently().await;
            }
        });
        futures::future::join_all(quits).await;
    }

    /// How many sessions are open and idle right now.
    pub async fn idle_sessions(&self) -> usize {
        self.all_slots()
            .iter()
            .map(|slot| lock(&slot.state).idle.len())
            .sum()
    }

    /// A snapshot of every address's slot.
    fn all_slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.slots).values().cloned().collect()
    }

    fn slot(&self, key: SocketAddr) -> Arc<Slot> {
        let permits = usize::try_from(self.client.config().sessions_per_ip.max(1)).unwrap_or(1);
        Arc::clone(lock(&self.slots).entry(key).or_insert_with(|| {
            Arc::new(Slot {
                lanes: Semaphore::new(permits),
                state: Mutex::new(SlotState::default()),
                arrivals: tokio::sync::Notify::new(),
            })
        }))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
