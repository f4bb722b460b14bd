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
//! - A session that collected `max_session_errors` refusals is not reused: the next domain gets
//!   a fresh one before the server's error budget runs out.
//! - A transient outcome (connect timeout or no route, no greeting, a 4xx, a dropped
//!   connection) is retried once after `retry_backoff` before it counts; a drop after a
//!   pipelined `MAIL`+`RCPT` is retried one command at a time. Transient outcomes are never
//!   remembered: a connection-level one is shared only with domains that were already waiting
//!   for the address when it was observed (in flight, not cached).
//! - A final connection-level failure (refused, greeting 5xx, EHLO and HELO refused) is
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
use crate::facts::{SmtpFacts, Speaker, Step, TranscriptLine};

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
    /// A final connection-level failure, remembered for the run.
    failure: Option<SmtpFacts>,
    /// The latest transient connection-level failure and when its attempt started: shared
    /// only with probes that were already waiting then.
    transient: Option<(SmtpFacts, Instant)>,
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
    /// this address failed finally in this run. A transient outcome is retried once after
    /// `retry_backoff`; the facts are of the last attempt, with `retried` saying what the
    /// earlier one saw and both in the transcript.
    pub async fn probe(&self, ip: IpAddr, host: &str, domain: &str) -> SmtpFacts {
        let cfg = self.client.config();
        let key = SocketAddr::new(ip, cfg.port);
        let requested = Instant::now();
        let slot = self.slot(key);
        let mut state = slot.state.lock().await;

        if let Some(failure) = &state.failure {
            let note =
                format!("not reconnecting to {key}: its earlier connection failed in this run");
            return reused(failure, host, domain, note);
        }
        if let Some((facts, started)) = &state.transient
            && *started >= requested
        {
            let note = format!(
                "not reconnecting to {key}: an attempt that started while this check waited for the address just failed"
            );
            return reused(facts, host, domain, note);
        }

        let (first, first_start) = self
            .attempt(&slot, &mut state, ip, host, domain, true)
            .await;
        let Some(kind) = transient(&first) else {
            return self.settle(&mut state, first, first_start);
        };
        if kind == Transient::Connection {
            state.transient = Some((first.clone(), first_start));
        }
        let wait = cfg.retry_backoff;
        tokio::time::sleep(wait).await;
        // A drop right after a pipelined MAIL+RCPT cannot be pinned on MAIL: ask again alone.
        let pipelining = !(first.mail_pipelined && dropped_at_mail(&first));
        let (mut second, second_start) = self
            .attempt(&slot, &mut state, ip, host, domain, pipelining)
            .await;
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
        second.elapsed_ms = ms_since(first_start);
        if transient(&second) == Some(Transient::Connection) {
            state.transient = Some((second.clone(), second_start));
        }
        self.settle(&mut state, second, second_start)
    }

    /// Remembers a final connection-level failure for the run; clears the transient memory
    /// when the address answered.
    fn settle(&self, state: &mut SlotState, facts: SmtpFacts, started: Instant) -> SmtpFacts {
        if final_connection_failure(&facts) {
            state.failure = Some(facts.clone());
        } else if transient(&facts) != Some(Transient::Connection) {
            state.transient = None;
        }
        let _ = started;
        facts
    }

    /// One attempt: on the idle session when it fits, else on a new, politely spaced
    /// connection. Returns the facts and when the attempt started.
    async fn attempt(
        &self,
        slot: &Arc<Slot>,
        state: &mut SlotState,
        ip: IpAddr,
        host: &str,
        domain: &str,
        pipelining: bool,
    ) -> (SmtpFacts, Instant) {
        let cfg = self.client.config();
        if let Some(mut idle) = state.idle.take() {
            let fits = idle.session.poll_alive()
                && idle.session.host() == host
                && idle.session.idle_for() < cfg.reuse_idle
                && idle.session.transactions() < cfg.max_transactions_per_session
                && idle.session.errors() < cfg.max_session_errors;
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
                session.set_pipelining(pipelining);
                session.transaction(domain, &mut facts).await;
                // A server that dropped the idle connection in the meantime must not look like
                // one that drops after MAIL: then this domain gets a fresh connection.
                if facts.mail.as_ref().is_some_and(|m| m.reply().is_some()) {
                    session.set_pipelining(true);
                    self.park(slot, state, session, base, &mut facts).await;
                    facts.elapsed_ms = ms_since(start);
                    return (facts, start);
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
        if let Some(mut session) = session {
            let base = facts.clone();
            session.set_pipelining(pipelining);
            session.transaction(domain, &mut facts).await;
            session.set_pipelining(true);
            self.park(slot, state, session, base, &mut facts).await;
        }
        facts.elapsed_ms = ms_since(start);
        (facts, start)
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
            && session.transactions() < cfg.max_transactions_per_session
            && session.errors() < cfg.max_session_errors;
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
