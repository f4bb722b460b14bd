//! The network floors a run is compared with: the floor with sharing ([`FloorModel`]), the
//! in-flight bound of `-j`, and the old per-reply floors.

use mailcheck::CheckConfig;

use crate::Args;

/// The network floor with sharing, in round trips, for the domains on one address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloorModel {
    pub(crate) tls: bool,
    pub(crate) pipelining: bool,
    pub(crate) batch: usize,
    pub(crate) sessions: usize,
    pub(crate) domains_per_session: usize,
}

impl FloorModel {
    pub(crate) fn from_config(a: &Args, config: &CheckConfig) -> Self {
        Self {
            tls: a.tls,
            pipelining: a.pipelining,
            batch: config.smtp.max_rcpts_per_transaction.max(1) as usize,
            sessions: config.smtp.sessions_per_ip.max(1) as usize,
            domains_per_session: config.smtp.max_transactions_per_session.max(1) as usize,
        }
    }

    /// Connect + greeting, EHLO, [STARTTLS, TLS handshake, EHLO].
    pub(crate) fn setup(&self) -> usize {
        if self.tls { 5 } else { 2 }
    }

    /// Round trips for `domains` domains on one address: its sessions share them, each session
    /// a fresh set-up every `domains_per_session` domains, then its transactions.
    pub(crate) fn address(&self, domains: usize) -> usize {
        if domains == 0 {
            return 0;
        }
        let per_session = domains.div_ceil(self.sessions.min(domains));
        let transactions = per_session.div_ceil(self.batch);
        let exchanges = if self.pipelining {
            transactions
        } else {
            // MAIL, one per RCPT, RSET.
            2 * transactions + per_session
        };
        per_session.div_ceil(self.domains_per_session) * self.setup() + exchanges
    }

    /// How [`address`](Self::address) counts, in words.
    pub(crate) fn describe(&self, domains: usize) -> String {
        let sessions = self.sessions.min(domains).max(1);
        let per_session = domains.div_ceil(sessions);
        let setups = per_session.div_ceil(self.domains_per_session);
        let mut text = format!(
            "{}{} set-up + ceil({per_session} / {}) transactions",
            if setups > 1 {
                format!("{setups} × ")
            } else {
                String::new()
            },
            self.setup(),
            self.batch
        );
        if !self.pipelining {
            text.push_str(" × 2 RTT (MAIL, RSET) + 1 RTT per RCPT");
        }
        if sessions > 1 {
            text.push_str(&format!(" in each of {sessions} parallel sessions"));
        }
        text
    }

    /// The slowest address, in round trips.
    pub(crate) fn floor(&self, domains_per_address: &[usize]) -> usize {
        domains_per_address
            .iter()
            .map(|d| self.address(*d))
            .max()
            .unwrap_or(0)
    }
}

/// The sharing floor, raised to the in-flight bound when `-j` binds: each domain holds one of
/// the `-j` slots for at least one round trip, so N domains take ≥ ceil(N / -j) RTT.
pub(crate) fn with_inflight_bound(
    sharing: usize,
    n: usize,
    concurrency: usize,
    note: String,
) -> (usize, String) {
    let inflight = n.div_ceil(concurrency.max(1));
    if inflight > sharing {
        (
            inflight,
            format!(
                "-j bound ceil({n} / {concurrency}), above the sharing floor of {sharing} RTT \
                 ({note})"
            ),
        )
    } else {
        (sharing, note)
    }
}

/// The pre-sharing floors (per-reply model): the issue's (critical path × N / C) and the
/// politeness floor (one session per address, 3 replies per further domain), in seconds.
pub(crate) fn old_floors(a: &Args, n: usize, per_address: usize) -> (f64, f64, f64) {
    let l = a.rtt().as_secs_f64();
    let fresh = if a.tls { 7.0 } else { 5.0 };
    let issue = fresh * l * n as f64 / a.concurrency as f64;
    let polite = fresh * l + (per_address as f64 - 1.0).max(0.0) * 3.0 * l;
    (issue, polite, fresh)
}
