//! New connections: spaced `min_connect_interval` apart per address, within the global cap
//! (`max_connections`, evicting the longest-idle session when full), and the per-address
//! budget that gives a domain the latest connection's facts instead of a new one.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::outcome::push_note;
use super::slot::{Idle, Permit, Slot, TlsSeen};
use super::{SmtpProber, lock};
use crate::facts::SmtpFacts;
use crate::probe::smtp::Session;

impl SmtpProber {
    /// A new connection for `host`, spaced from the previous one; records what the name saw
    /// of TLS. The facts alone when it did not get ready.
    pub(super) async fn connect(
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
    pub(super) fn within_budget(&self, slot: &Arc<Slot>, ip: IpAddr) -> Option<SmtpFacts> {
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
                "not reconnecting to {ip}: it was probed {} s ago, and an address is probed at \
                 most once every {} s from here (per-address budget); the connection facts \
                 above are from then, and RCPT TO for this domain was not sent",
                age.as_secs(),
                budget.as_secs()
            ),
        );
        Some(facts)
    }
}
