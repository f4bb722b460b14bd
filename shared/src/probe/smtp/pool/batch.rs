//! Serving one batch: an idle session that fits or a new connection, the transaction shared by
//! the batch's domains (after a short linger for domains about to ask), each domain's facts,
//! and the session parked for the next batch or ended.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::time::Instant;

use super::outcome::{Transient, final_connection_failure, push_note, transient};
use super::slot::{Idle, Pending, Permit, Slot, reap, top_up};
use super::{SmtpProber, lock, ms_since};
use crate::facts::SmtpFacts;
use crate::probe::smtp::transaction::batch_room;
use crate::probe::smtp::{Session, Share};

/// The longest a batch with room waits for more domains.
const LINGER_MAX: std::time::Duration = std::time::Duration::from_millis(40);
/// Round trips too short to be worth a wait (a LAN, loopback).
const LINGER_MIN: std::time::Duration = std::time::Duration::from_millis(1);

impl SmtpProber {
    /// Runs one batch (all for hosts the same session may serve) and answers every domain in
    /// it.
    pub(super) async fn run_batch(&self, slot: &Arc<Slot>, ip: IpAddr, mut batch: Vec<Pending>) {
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
        let unanswered = |shares: &[Share]| {
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
                "this address answered {opened_for} and another of its names alike (same \
                 certificate chain, or no STARTTLS): it ignores the name, so the session opened \
                 for {opened_for} serves {} too, the certificate checked for {}",
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
