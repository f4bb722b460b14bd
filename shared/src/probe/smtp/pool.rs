//! [`SmtpProber`]: the politeness layer over [`Session`].
//!
//! - At most one connection at a time per address (`ip`, port): a per-address async mutex is
//!   held for the whole conversation.
//! - An open session is reused for the next domain on the same address (and MX host name)
//!   while it is alive, idle for less than `reuse_idle` and below
//!   `max_transactions_per_session`; the facts then say `reused_session` and copy the
//!   connection-level facts. Idle sessions get `QUIT` after `reuse_idle` (a reaper task) or on
//!   [`SmtpProber::close_all`].
//! - New connections to the same address are at least `min_connect_interval` apart.
//! - A connection-level failure (refused, timed out, unreachable, no greeting, greeting
//!   rejected, EHLO/HELO refused: anything that ends the conversation before MAIL) is
//!   remembered for the run: later domains on that address get a copy with their own
//!   `rcpt_domain` (and a note in the transcript) instead of a new connection.
//!
//! So a batch of 1000 domains sharing 10 MX addresses opens at most 10 connections (plus one per
//! `max_transactions_per_session` domains, and the one reconnect after a failed STARTTLS).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use super::{Session, SmtpClient};
use crate::config::SmtpConfig;
use crate::facts::{SmtpFacts, Speaker, TranscriptLine};

/// Probes SMTP servers politely, sharing sessions between domains. Cheap to clone (all clones
/// share the pool). Call [`close_all`](Self::close_all) at the end of a run so idle sessions
/// are ended with `QUIT`.
#[derive(Clone)]
pub struct SmtpProber {
    client: SmtpClient,
    slots: Arc<Mutex<HashMap<SocketAddr, Arc<Slot>>>>,
}

impl fmt::Debug for SmtpProber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("SmtpProber")
            .field("client", &self.client)
            .field("addresses", &n)
            .finish()
    }
}

/// Per-address state, behind the per-address async mutex.
#[derive(Debug, Default)]
struct Slot {
    state: AsyncMutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    /// An open session waiting for the next domain.
    idle: Option<Idle>,
    /// Bumped whenever a session goes idle, so a reaper knows whether its session is still
    /// the one waiting.
    generation: u64,
    /// When the last new connection was started.
    last_connect: Option<Instant>,
    /// A connection-level failure, remembered for the run.
    failure: Option<SmtpFacts>,
}

#[derive(Debug)]
struct Idle {
    session: Session,
    /// The connection-level facts (connect, greeting, EHLO, STARTTLS) and their transcript.
    base: SmtpFacts,
    generation: u64,
}

impl SmtpProber {
    /// A prober for this configuration; see [`SmtpClient::new`] for what is checked.
    pub fn new(config: &SmtpConfig) -> Result<Self, crate::Error> {
        Ok(Self::with_client(SmtpClient::new(config)?))
    }

    /// A prober over an existing client.
    pub fn with_client(client: SmtpClient) -> Self {
        Self {
            client,
            slots: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The client (configuration, EHLO name, TLS).
    pub const fn client(&self) -> &SmtpClient {
        &self.client
    }

    /// One full conversation for `domain` with `ip` (the configured port), `host` being the MX
    /// host name the address belongs to: reusing an idle session to the same address and host
    /// when there is one, else connecting (politely spaced), unless an earlier connection to
    /// this address failed at the connection level in this run.
    pub async fn probe(&self, ip: IpAddr, host: &str, domain: &str) -> SmtpFacts {
        let cfg = self.client.config();
        let key = SocketAddr::new(ip, cfg.port);
        let slot = self.slot(key);
        let mut state = slot.state.lock().await;

        if let Some(failure) = &state.failure {
            let mut facts = failure.clone();
            facts.host = host.to_owned();
            facts.rcpt_domain = domain.to_owned();
            facts.elapsed_ms = 0;
            push_note(
                &mut facts,
                format!("not reconnecting to {key}: its earlier connection failed in this run"),
            );
            return facts;
        }

        if let Some(mut idle) = state.idle.take() {
            let fits = idle.session.poll_alive()
                && idle.session.host() == host
                && idle.session.idle_for() < cfg.reuse_idle
                && idle.session.transactions() < cfg.max_transactions_per_session;
            if fits {
                let Idle {
                    mut session, base, ..
                } = idle;
                let start = Instant::now();
                let mut facts = base.clone();
                facts.reused_session = true;
                facts.elapsed_ms = 0;
                push_note(
                    &mut facts,
                    format!(
                        "reusing this session for {domain} (transaction {})",
                        session.transactions() + 1
                    ),
                );
                session.transaction(domain, &mut facts).await;
                // A server that dropped the idle connection in the meantime must not look like
                // one that drops after MAIL: then this domain gets a fresh connection.
                if facts.mail.as_ref().is_some_and(|m| m.reply().is_some()) {
                    self.park(&slot, &mut state, session, base, &mut facts)
                        .await;
                    facts.elapsed_ms = ms_since(start);
                    return facts;
                }
            } else {
                idle.session.quit_silently().await;
            }
        }

        // A new connection, spaced from the previous one.
        if let Some(last) = state.last_connect {
            tokio::time::sleep_until(last + cfg.min_connect_interval).await;
        }
        state.last_connect = Some(Instant::now());
        let start = Instant::now();
        let (mut facts, session) = Session::open(&self.client, ip, host).await;
        facts.rcpt_domain = domain.to_owned();
        match session {
            // Whatever stopped the connection short of MAIL (refused, timed out, no greeting,
            // greeting rejected, EHLO/HELO refused, the reconnect after STARTTLS failing)
            // would stop every other domain on this address the same way.
            None => state.failure = Some(facts.clone()),
            Some(mut session) => {
                let base = facts.clone();
                session.transaction(domain, &mut facts).await;
                self.park(&slot, &mut state, session, base, &mut facts)
                    .await;
            }
        }
        facts.elapsed_ms = ms_since(start);
        facts
    }

    /// Sends `QUIT` on every idle session and forgets them (remembered failures stay).
    pub async fn close_all(&self) {
        let slots = self.all_slots();
        let quits = slots.into_iter().map(|slot| async move {
            let idle = slot.state.lock().await.idle.take();
            if let Some(idle) = idle {
                idle.session.quit_silently().await;
            }
        });
        futures::future::join_all(quits).await;
    }

    /// How many sessions are open and idle right now.
    pub async fn idle_sessions(&self) -> usize {
        let slots = self.all_slots();
        let mut n = 0;
        for slot in slots {
            n += usize::from(slot.state.lock().await.idle.is_some());
        }
        n
    }

    /// A snapshot of every address's slot (the map lock is not held across an await).
    fn all_slots(&self) -> Vec<Arc<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn slot(&self, key: SocketAddr) -> Arc<Slot> {
        Arc::clone(
            self.slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_default(),
        )
    }

    /// After a transaction: keeps the session for the next domain (and schedules its QUIT after
    /// `reuse_idle`), or ends it now when it cannot serve another one.
    async fn park(
        &self,
        slot: &Arc<Slot>,
        state: &mut SlotState,
        session: Session,
        base: SmtpFacts,
        facts: &mut SmtpFacts,
    ) {
        let cfg = self.client.config();
        let reusable = session.is_alive()
            && !cfg.reuse_idle.is_zero()
            && session.transactions() < cfg.max_transactions_per_session;
        if !reusable {
            session.quit(facts).await;
            return;
        }
        state.generation += 1;
        let generation = state.generation;
        state.idle = Some(Idle {
            session,
            base,
            generation,
        });
        let slot = Arc::clone(slot);
        let wait = cfg.reuse_idle;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let idle = {
                let mut state = slot.state.lock().await;
                match &state.idle {
                    Some(idle) if idle.generation == generation => state.idle.take(),
                    _ => None,
                }
            };
            if let Some(idle) = idle {
                idle.session.quit_silently().await;
            }
        });
    }
}

fn push_note(facts: &mut SmtpFacts, text: String) {
    let at_ms = facts.transcript.last().map_or(0, |l| l.at_ms);
    facts.transcript.push(TranscriptLine {
        who: Speaker::Note,
        at_ms,
        text,
    });
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
