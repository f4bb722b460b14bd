//! [`SmtpProber`]: the politeness layer over [`Session`].
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
//! - **Lingering:** a batch with room waits, until it is full or half the measured round trip (at most
//!   40 ms, not at all under 2 ms) passed, for domains about to ask, which then save a round trip.
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

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

use super::transaction::batch_room;
use super::{Session, SmtpClient};
use crate::config::SmtpConfig;
use crate::facts::{SmtpFacts, Speaker, Step, TranscriptLine};

/// The longest a batch with room waits for more domains.
const LINGER_MAX: std::time::Duration = std::time::Duration::from_millis(40);
/// Round trips too short to be worth a wait (a LAN, loopback).
const LINGER_MIN: std::time::Duration = std::time::Duration::from_millis(1);

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

/// Per-address state.
#[derive(Debug)]
struct Slot {
    /// One permit per session that may be open at a time.
    lanes: Semaphore,
    /// Never held across an await.
    state: Mutex<SlotState>,
    /// Told whenever a domain joins the queue (a lingering batch takes it).
    arrivals: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct SlotState {
    /// Domains waiting for this address.
    queue: VecDeque<Pending>,
    /// Open sessions waiting for the next batch.
    idle: Vec<Idle>,
    /// Sessions in use by a batch right now.
    active: usize,
    /// The address's reaper task is running.
    reaper: bool,
    /// When the next new connection may start.
    next_connect: Option<Instant>,
    /// A final connection-level failure, remembered for the run.
    failure: Option<SmtpFacts>,
    /// The latest transient connection-level failure and when its attempt started: shared
    /// only with domains that were already waiting then.
    transient: Option<(SmtpFacts, Instant)>,
    /// What the names of this address tell about SNI.
    names: Names,
    /// When the latest new connection got ready, and its connection-level facts (for the
    /// per-address budget).
    opened: Option<(Instant, SmtpFacts)>,
}

/// What each MX name of an address saw of TLS on its own session, and what follows.
#[derive(Debug, Default)]
struct Names {
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
enum TlsSeen {
    NoStartTls,
    Chain(Vec<String>),
    Failed(String),
}

impl Names {
    fn record(&mut self, host: &str, seen: TlsSeen) {
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
    fn may_serve(&self, session_host: &str, host: &str) -> bool {
        session_host == host || self.sharing == Sharing::Shared
    }
}

/// A domain waiting for the address.
#[derive(Debug)]
struct Pending {
    host: String,
    domain: String,
    requested: Instant,
    pipelining: bool,
    /// Not to be batched with others (a retry after its own recipient failed).
    solo: bool,
    /// The retry of a transient outcome: part of the same probe, so not held back by the
    /// per-address budget.
    retry: bool,
    tx: oneshot::Sender<Answer>,
}

/// Facts for a waiting domain, and whether they were copied from memory (not to be retried).
type Answer = (SmtpFacts, bool);

#[derive(Debug)]
struct Idle {
    session: Session,
    /// The connection-level facts (connect, greeting, EHLO, STARTTLS) and their transcript.
    base: SmtpFacts,
    /// Its share of the global connection cap.
    permit: Permit,
}

/// A share of the global connection cap (`None` when there is no cap).
type Permit = Option<OwnedSemaphorePermit>;

/// What a domain asks of the pool.
struct Request<'a> {
    host: &'a str,
    domain: &'a str,
    pipelining: bool,
    solo: bool,
    retry: bool,
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

    /// Runs one batch (all for hosts the same session may serve) and answers every domain in
    /// it.
    async fn run_batch(&self, slot: &Arc<Slot>, ip: IpAddr, mut batch: Vec<Pending>) {
        let cfg = self.client.config();
        let host = batch[0].host.clone();
        let pipelining = batch[0].pipelining;

        // An idle session that may serve this batch; idle sessions that cannot, and would keep
        // a new connection over the limit, are ended.
        let (mut found, mut stale) = (None, Vec::new());
        {
            let mut state = lock(&slot.state);
            let limit = usize::try_from(cfg.sessions_per_ip.max(1)).unwrap_or(1);
            let mut kept = Vec::new();
            for mut idle in std::mem::take(&mut state.idle) {
                let fits = found.is_none()
                    && state.names.may_serve(idle.session.host(), &host)
                    && idle.session.poll_alive()
                    && idle.session.idle_for() < cfg.reuse_idle
                    && idle.session.transactions() < cfg.max_transactions_per_session
                    && idle.session.errors() < cfg.max_session_errors;
                if fits {
                    found = Some(idle);
                } else if idle.session.is_alive() {
                    kept.push(idle);
                } else {
                    stale.push(idle);
                }
            }
            if found.is_none() {
                while kept.len() + state.active >= limit && !kept.is_empty() {
                    stale.push(kept.remove(0));
                }
            }
            state.idle = kept;
            state.active += 1;
        }
        for idle in stale {
            idle.session.quit_silently().await;
        }

        let mut reused = found.is_some();
        if found.is_none()
            && !batch.iter().any(|p| p.retry)
            && let Some(facts) = self.within_budget(slot, ip)
        {
            lock(&slot.state).active -= 1;
            self.answer_failure(slot, batch, &facts);
            return;
        }
        let (mut session, mut base, mut permit) = match found {
            Some(idle) => (idle.session, idle.base, idle.permit),
            None => match self.connect(slot, ip, &host).await {
                Ok(open) => open,
                Err(facts) => {
                    lock(&slot.state).active -= 1;
                    self.answer_failure(slot, batch, &facts);
                    return;
                }
            },
        };

        // Within the session's error budget; the rest waits for the next batch. Domains that
        // queued while the session was being set up join now.
        let room = batch_room(
            cfg.max_rcpts_per_transaction,
            cfg.max_session_errors,
            session.errors(),
        );
        {
            let mut state = lock(&slot.state);
            if batch.len() > room {
                for p in batch.split_off(room).into_iter().rev() {
                    state.queue.push_front(p);
                }
            } else {
                top_up(&mut state, &mut batch, session.host(), room);
            }
        }
        // A batch with room waits a moment for domains about to ask (their DNS is answering),
        // until it is full or half a round trip (at most LINGER_MAX) passed: each that joins
        // saves a round trip.
        if batch.len() < room
            && !batch[0].solo
            && let Some(rtt) = session.round_trip()
        {
            let linger = (rtt / 2).min(LINGER_MAX);
            if linger >= LINGER_MIN {
                let until = Instant::now() + linger;
                loop {
                    let arrival = slot.arrivals.notified();
                    top_up(&mut lock(&slot.state), &mut batch, session.host(), room);
                    if batch.len() >= room || tokio::time::timeout_at(until, arrival).await.is_err()
                    {
                        break;
                    }
                }
            }
        }

        let start = Instant::now();
        let domains: Vec<String> = batch.iter().map(|p| p.domain.clone()).collect();
        session.set_pipelining(pipelining);
        let mut shares = session.batch(&domains).await;
        // An idle connection the server dropped meanwhile must not look like a server that
        // drops after MAIL: then the batch gets a fresh connection.
        let unanswered = |shares: &[super::Share]| {
            shares.iter().any(|s| s.mail.is_some())
                && shares
                    .iter()
                    .all(|s| s.mail.as_ref().is_none_or(|m| m.reply().is_none()))
        };
        if reused && unanswered(&shares) {
            session.quit_silently().await;
            drop(permit);
            match self.connect(slot, ip, &host).await {
                Ok((s, b, p)) => {
                    (session, base, permit, reused) = (s, b, p, false);
                    session.set_pipelining(pipelining);
                    shares = session.batch(&domains).await;
                }
                Err(facts) => {
                    lock(&slot.state).active -= 1;
                    self.answer_failure(slot, batch, &facts);
                    return;
                }
            }
        }
        session.set_pipelining(true);

        let n = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        let mut all: Vec<SmtpFacts> = Vec::with_capacity(batch.len());
        for (p, share) in batch.iter().zip(shares) {
            let mut facts = base.clone();
            facts.host.clone_from(&p.host);
            facts.reused_session = reused;
            facts.transaction_domains = n;
            if p.host != session.host() {
                self.shared_name(&session, &mut facts);
            }
            if reused {
                facts.elapsed_ms = 0;
                push_note(
                    &mut facts,
                    format!(
                        "reusing this session for {} (domain {} on it)",
                        p.domain,
                        session.transactions()
                    ),
                );
            }
            share.apply(&mut facts);
            facts.elapsed_ms += ms_since(start);
            all.push(facts);
        }
        self.park(slot, session, base, permit, &mut all).await;
        self.answer(slot, batch, all, start);
    }

    /// A new connection for `host`, spaced from the previous one; records what the name saw
    /// of TLS. The facts alone when it did not get ready.
    async fn connect(
        &self,
        slot: &Arc<Slot>,
        ip: IpAddr,
        host: &str,
    ) -> Result<(Session, SmtpFacts, Permit), SmtpFacts> {
        let permit = match &self.connections {
            Some(cap) => Some(self.connection_permit(cap).await),
            None => None,
        };
        let interval = self.client.config().min_connect_interval;
        let at = {
            let mut state = lock(&slot.state);
            let now = Instant::now();
            let at = state.next_connect.map_or(now, |t| t.max(now));
            state.next_connect = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
        let (facts, session) = Session::open(&self.client, ip, host).await;
        let Some(session) = session else {
            return Err(facts);
        };
        let seen = match facts.starttls.as_ref().and_then(|s| s.handshake.as_ref()) {
            None => TlsSeen::NoStartTls,
            Some(Ok(_)) => TlsSeen::Chain(session.chain_digests()),
            Some(Err(e)) => TlsSeen::Failed(e.clone()),
        };
        {
            let mut state = lock(&slot.state);
            state.names.record(host, seen);
            state.opened = Some((Instant::now(), facts.clone()));
        }
        Ok((session, facts, permit))
    }

    /// A share of the global connection cap: a free one, else the one of the session that
    /// idled longest (ended with `QUIT`: waiting work goes before idle sessions), else the
    /// next to be freed.
    async fn connection_permit(&self, cap: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        loop {
            if let Ok(permit) = Arc::clone(cap).try_acquire_owned() {
                return permit;
            }
            let oldest = self
                .all_slots()
                .into_iter()
                .filter_map(|slot| {
                    let idle_for = lock(&slot.state)
                        .idle
                        .iter()
                        .map(|i| i.session.idle_for())
                        .max()?;
                    Some((idle_for, slot))
                })
                .max_by_key(|(idle_for, _)| *idle_for);
            let evicted = oldest.and_then(|(_, slot)| {
                let mut state = lock(&slot.state);
                let at = (0..state.idle.len()).max_by_key(|&i| state.idle[i].session.idle_for())?;
                Some(state.idle.remove(at))
            });
            match evicted {
                Some(idle) => {
                    let Idle {
                        session, permit, ..
                    } = idle;
                    session.quit_silently().await;
                    if let Some(permit) = permit {
                        return permit;
                    }
                }
                None => {
                    // The semaphore is never closed, so this always yields a permit.
                    if let Ok(permit) = Arc::clone(cap).acquire_owned().await {
                        return permit;
                    }
                }
            }
        }
    }

    /// Under the per-address budget, the facts to give instead of a new connection: those of
    /// the latest one, with their age, and no transaction for this domain.
    fn within_budget(&self, slot: &Arc<Slot>, ip: IpAddr) -> Option<SmtpFacts> {
        let budget = self.client.config().address_budget;
        if budget.is_zero() {
            return None;
        }
        let state = lock(&slot.state);
        let (at, facts) = state.opened.as_ref()?;
        let age = at.elapsed();
        if age >= budget {
            return None;
        }
        let mut facts = facts.clone();
        facts.elapsed_ms = 0;
        push_note(
            &mut facts,
            format!(
                "not reconnecting to {ip}: it was probed {} s ago, and an address is probed at most once every {} s from here (per-address budget); the connection facts above are from then, and RCPT TO for this domain was not sent",
                age.as_secs(),
                budget.as_secs()
            ),
        );
        Some(facts)
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

    /// The facts of a domain whose MX name is served by a session opened for another name of
    /// the same address: the certificate checked for this name, and a note saying why.
    fn shared_name(&self, session: &Session, facts: &mut SmtpFacts) {
        let opened_for = session.host().to_owned();
        if let Some(st) = facts.starttls.as_mut()
            && let Some(Ok(tls)) = st.handshake.as_ref()
            && let Some(checked) = session.tls_for_name(tls, &facts.host)
        {
            st.handshake = Some(Ok(checked));
        }
        push_note(
            facts,
            format!(
                "this address answered {opened_for} and another of its names alike (same certificate chain, or no STARTTLS): it ignores the name, so the session opened for {opened_for} serves {} too, the certificate checked for {}",
                facts.host, facts.host
            ),
        );
        facts.session_host = Some(opened_for);
    }

    /// Every domain of the batch gets the failed connection's facts.
    fn answer_failure(&self, slot: &Arc<Slot>, batch: Vec<Pending>, facts: &SmtpFacts) {
        let start = Instant::now();
        let all = batch
            .iter()
            .map(|p| {
                let mut f = facts.clone();
                f.host.clone_from(&p.host);
                f.rcpt_domain.clone_from(&p.domain);
                f
            })
            .collect();
        self.answer(slot, batch, all, start);
    }

    /// Remembers what must be remembered and sends each domain its facts.
    fn answer(&self, slot: &Arc<Slot>, batch: Vec<Pending>, all: Vec<SmtpFacts>, started: Instant) {
        {
            let mut state = lock(&slot.state);
            for facts in &all {
                if final_connection_failure(facts) {
                    state.failure = Some(facts.clone());
                } else if transient(facts) == Some(Transient::Connection) {
                    state.transient = Some((facts.clone(), started));
                } else {
                    state.transient = None;
                }
            }
        }
        for (p, facts) in batch.into_iter().zip(all) {
            let _ = p.tx.send((facts, false));
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

    /// After a batch: keeps the session for the next one (and schedules its QUIT after
    /// `reuse_idle`), or ends it now when it cannot serve another; its QUIT then shows in
    /// every domain's facts.
    async fn park(
        &self,
        slot: &Arc<Slot>,
        session: Session,
        base: SmtpFacts,
        permit: Permit,
        all: &mut [SmtpFacts],
    ) {
        let cfg = self.client.config();
        let reusable = session.is_alive()
            && !cfg.reuse_idle.is_zero()
            && session.transactions() < cfg.max_transactions_per_session
            && session.errors() < cfg.max_session_errors;
        if !reusable {
            lock(&slot.state).active -= 1;
            let (quit, lines) = session.quit().await;
            drop(permit);
            for facts in all.iter_mut() {
                facts.closing.extend(quit.clone());
                facts.transcript.extend(lines.iter().cloned());
            }
            return;
        }
        let start_reaper = {
            let mut state = lock(&slot.state);
            state.active -= 1;
            state.idle.push(Idle {
                session,
                base,
                permit,
            });
            !std::mem::replace(&mut state.reaper, true)
        };
        if start_reaper {
            tokio::spawn(reap(Arc::clone(slot), cfg.reuse_idle));
        }
    }
}

/// The address's reaper: ends idle sessions with `QUIT` once they idled `reuse_idle`, and
/// stops when none is left (one task per address, not one per parked session).
async fn reap(slot: Arc<Slot>, reuse_idle: std::time::Duration) {
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

/// Takes the next batch off the queue: the first waiting domain an open session can serve (else
/// the longest waiting) and the others a session for its host may serve in the same
/// transaction, up to `max`. Domains that can be answered from
/// memory (a remembered failure, a transient failure seen while they waited) are answered here.
fn take_batch(state: &mut SlotState, ip: IpAddr, max: u32) -> Vec<Pending> {
    while let Some(front) = state.queue.front() {
        let copy = if let Some(failure) = &state.failure {
            let note =
                format!("not reconnecting to {ip}: its earlier connection failed in this run");
            Some(reused(failure, &front.host, &front.domain, note))
        } else if let Some((facts, started)) = &state.transient
            && *started >= front.requested
        {
            let note = format!(
                "not reconnecting to {ip}: an attempt that started while this check waited for the address just failed"
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
fn top_up(state: &mut SlotState, batch: &mut Vec<Pending>, session_host: &str, max: usize) {
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an outcome is transient, and at which level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// The connection never got ready for MAIL: connect timeout or no route, no greeting, a
    /// 4xx greeting or EHLO. Says the same for every domain on the address.
    Connection,
    /// The transaction deferred or dropped: a 4xx, a timeout or a close at MAIL or RCPT.
    Transaction,
}

/// Whether the facts end in a transient outcome (worth one retry, never worth remembering).
fn transient(facts: &SmtpFacts) -> Option<Transient> {
    use crate::facts::ConnectOutcome as C;
    match &facts.connect {
        C::Connected { .. } => {}
        C::TimedOut { .. } | C::Unreachable { .. } => return Some(Transient::Connection),
        C::Refused | C::Error { .. } => return None,
    }
    let not_final = |step: Option<&Step>| {
        step.is_some_and(|s| s.reply().is_none_or(crate::facts::Reply::is_transient))
    };
    let Some(greeting) = &facts.greeting else {
        return None;
    };
    if greeting_transient(greeting) {
        return Some(Transient::Connection);
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    if !hello.is_some_and(Step::accepted) {
        return not_final(hello).then_some(Transient::Connection);
    }
    let (mail, rcpt) = facts.final_transaction();
    if not_final(mail) || (mail.is_some_and(Step::accepted) && not_final(rcpt)) {
        return Some(Transient::Transaction);
    }
    None
}

fn greeting_transient(greeting: &crate::facts::Greeting) -> bool {
    match &greeting.outcome {
        crate::facts::StepOutcome::Replied { reply } => reply.is_transient(),
        _ => true,
    }
}

/// A connection-level failure that will not change on a retry: refused, a 5xx greeting, EHLO
/// and HELO refused permanently.
fn final_connection_failure(facts: &SmtpFacts) -> bool {
    use crate::facts::ConnectOutcome as C;
    match &facts.connect {
        C::Refused => return true,
        C::Connected { .. } => {}
        _ => return false,
    }
    let Some(greeting) = &facts.greeting else {
        return false;
    };
    match &greeting.outcome {
        crate::facts::StepOutcome::Replied { reply } if reply.is_permanent() => return true,
        crate::facts::StepOutcome::Replied { reply } if reply.is_positive() => {}
        _ => return false,
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    hello
        .and_then(Step::reply)
        .is_some_and(crate::facts::Reply::is_permanent)
}

/// The connection closed (no reply) right after a `MAIL FROM`.
fn dropped_at_mail(facts: &SmtpFacts) -> bool {
    let (mail, _) = facts.final_transaction();
    mail.is_some_and(|m| matches!(m.outcome, crate::facts::StepOutcome::Closed))
}

/// What a transient attempt saw, in a few words.
fn describe_transient(facts: &SmtpFacts) -> String {
    use crate::facts::{ConnectOutcome as C, StepOutcome as O};
    let step = |s: &Step| match &s.outcome {
        O::Replied { reply } => format!("{} → {}", s.command, reply.one_line()),
        O::Closed => format!("{} → connection closed", s.command),
        O::TimedOut => format!("{} → no reply in time", s.command),
        O::Broken { detail } => format!("{} → broken reply: {detail}", s.command),
    };
    match &facts.connect {
        C::TimedOut { ms } => return format!("connect timed out after {ms} ms"),
        C::Unreachable { detail } => return format!("unreachable: {detail}"),
        _ => {}
    }
    if let Some(g) = facts.greeting.as_ref().filter(|g| greeting_transient(g)) {
        return match &g.outcome {
            O::Replied { reply } => format!("greeting {}", reply.one_line()),
            O::Closed => "closed before the greeting".to_owned(),
            O::TimedOut => "no greeting in time".to_owned(),
            O::Broken { detail } => format!("broken greeting: {detail}"),
        };
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    if let Some(h) = hello.filter(|h| !h.accepted()) {
        return step(h);
    }
    let (mail, rcpt) = facts.final_transaction();
    match (mail, rcpt) {
        (Some(m), _) if !m.accepted() => step(m),
        (_, Some(r)) => step(r),
        _ => "transient failure".to_owned(),
    }
}

/// A remembered outcome, copied for another domain on the same address.
fn reused(facts: &SmtpFacts, host: &str, domain: &str, note: String) -> SmtpFacts {
    let mut facts = facts.clone();
    facts.host = host.to_owned();
    facts.rcpt_domain = domain.to_owned();
    facts.elapsed_ms = 0;
    push_note(&mut facts, note);
    facts
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
