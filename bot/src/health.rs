//! `GET /healthz`: whether the bot is connected to Discord and answering, for an orchestrator's
//! probe (Docker `HEALTHCHECK`, a Kubernetes HTTP probe, a monitoring check).
//!
//! [`HealthState`] is the shared state (held in [`crate::Data::health`]); [`serve`] answers on a
//! listener the binary binds (`mailcheck-bot run --health-addr 127.0.0.1:8080`); [`probe`] asks
//! it (`mailcheck-bot health`, the image's `HEALTHCHECK`).
//!
//! The answer is `200` with `"status":"ok"` when every shard is connected, else `503` with
//! `"status":"degraded"` and the same fields:
//!
//! ```json
//! {"status":"ok","gateway_connected":true,"shards":1,"shards_connected":1,
//!  "checks_running":0,"last_check_age_secs":null,"uptime_secs":42}
//! ```
//!
//! A shard counts as connected when its READY (or RESUMED) has gone through the framework —
//! which happens only after `/mailcheck` was registered — and the shard manager still reports
//! it connected. So `200` means "registered, connected, answering", and a shard that drops or
//! reconnects turns the answer to `503` until it is back. Any other path is `404`.
//!
//! The responder is a small HTTP/1.1 server: one request per connection, a request head of at
//! most 8 KiB read within 5 s, at most 32 connections at once; it never reads a body.
//! That server and [`probe`] are in `http` beside this file.

mod http;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use serde::Serialize;
use serenity::all::{ConnectionStage, ShardManager};

use crate::guard::ConcurrencyCap;

pub use http::{probe, serve};

/// The bot's health, shared by the command, the gateway events and the `/healthz` responder.
/// Cheap to clone: every clone sees the same state.
#[derive(Clone)]
pub struct HealthState {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    cap: ConcurrencyCap,
    last_check: Mutex<Option<Instant>>,
    expected_shards: AtomicU32,
    /// Shards whose READY or RESUMED went through the framework.
    ready: Mutex<BTreeSet<u32>>,
    shard_manager: OnceLock<Arc<ShardManager>>,
    fatal: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthState")
            .field("uptime", &self.inner.started.elapsed())
            .field("expected_shards", &self.expected_shards())
            .field("ready", &*lock(&self.inner.ready))
            .field("last_check", &*lock(&self.inner.last_check))
            .field("fatal", &*lock(&self.inner.fatal))
            .finish_non_exhaustive()
    }
}

impl HealthState {
    /// A fresh state: started now, no shard connected, no check finished. `cap` is the
    /// command's concurrency cap, whose taken slots are the running checks.
    pub fn new(cap: ConcurrencyCap) -> Self {
        Self {
            inner: Arc::new(Inner {
                started: Instant::now(),
                cap,
                last_check: Mutex::new(None),
                expected_shards: AtomicU32::new(0),
                ready: Mutex::new(BTreeSet::new()),
                shard_manager: OnceLock::new(),
                fatal: Mutex::new(None),
            }),
        }
    }

    /// Records that a check has just finished, whatever its verdict (a partial report or one
    /// cut off by the deadline counts too). Call it once per diagnosis the bot ran; an answer
    /// served from the result cache is not a check. `/healthz` shows the time since then as
    /// `last_check_age_secs`.
    pub fn check_finished(&self) {
        *lock(&self.inner.last_check) = Some(Instant::now());
    }

    /// The number of shards this process runs (from `--shards` or Discord's recommendation).
    /// Until it is set, the count is learned from READY events.
    pub fn set_expected_shards(&self, total: u32) {
        self.inner.expected_shards.store(total, Ordering::Relaxed);
    }

    fn expected_shards(&self) -> u32 {
        self.inner.expected_shards.load(Ordering::Relaxed)
    }

    /// Lets the state read each shard's live connection stage from serenity's shard manager
    /// (the framework does this once it is set up). Later calls are ignored.
    pub fn attach_shard_manager(&self, manager: Arc<ShardManager>) {
        let _ = self.inner.shard_manager.set(manager);
    }

    /// Records that `shard` got READY or RESUMED through the framework. `total` is the shard
    /// count READY announced, if any.
    pub fn shard_ready(&self, shard: u32, total: Option<u32>) {
        if let Some(total) = total {
            let _ = self.inner.expected_shards.compare_exchange(
                0,
                total,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        lock(&self.inner.ready).insert(shard);
    }

    /// Records why the bot is stopping on its own (e.g. the command could not be registered);
    /// `mailcheck-bot run` returns it as its error. The first reason is kept.
    pub fn set_fatal(&self, reason: String) {
        lock(&self.inner.fatal).get_or_insert(reason);
    }

    /// Why the bot is stopping on its own, if it is.
    pub fn fatal(&self) -> Option<String> {
        lock(&self.inner.fatal).clone()
    }

    /// The report `/healthz` answers with, as of now.
    pub async fn report(&self) -> HealthReport {
        let ready = lock(&self.inner.ready).clone();
        let live = match self.inner.shard_manager.get() {
            Some(manager) => Some(
                manager
                    .runners
                    .lock()
                    .await
                    .iter()
                    .filter(|(_, runner)| runner.stage == ConnectionStage::Connected)
                    .map(|(id, _)| id.0)
                    .collect::<BTreeSet<u32>>(),
            ),
            None => None,
        };
        let last_check = *lock(&self.inner.last_check);
        HealthReport::new(
            self.expected_shards(),
            &ready,
            live.as_ref(),
            self.fatal().is_some(),
            self.inner.cap.running(),
            last_check.map(|t| t.elapsed().as_secs()),
            self.inner.started.elapsed().as_secs(),
        )
    }
}

/// What `/healthz` answers, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// `ok` when every shard is connected, else `degraded`.
    pub status: &'static str,
    /// Every shard is connected (and the command registered).
    pub gateway_connected: bool,
    /// Shards this process runs (0 until known).
    pub shards: u32,
    /// Shards connected now.
    pub shards_connected: u32,
    /// Checks running now.
    pub checks_running: usize,
    /// Seconds since the last check finished; `None` (JSON `null`) before the first one.
    pub last_check_age_secs: Option<u64>,
    /// Seconds since the process started.
    pub uptime_secs: u64,
}

impl HealthReport {
    /// `ready`: shards whose READY went through the framework; `live`: shards the shard manager
    /// reports connected (`None`: no shard manager known, trust `ready`).
    fn new(
        expected: u32,
        ready: &BTreeSet<u32>,
        live: Option<&BTreeSet<u32>>,
        fatal: bool,
        checks_running: usize,
        last_check_age_secs: Option<u64>,
        uptime_secs: u64,
    ) -> Self {
        let connected = ready
            .iter()
            .filter(|id| live.is_none_or(|live| live.contains(id)))
            .count();
        let shards_connected = u32::try_from(connected).unwrap_or(u32::MAX);
        let shards = expected.max(u32::try_from(ready.len()).unwrap_or(u32::MAX));
        let gateway_connected = !fatal && shards > 0 && shards_connected >= shards;
        Self {
            status: if gateway_connected { "ok" } else { "degraded" },
            gateway_connected,
            shards,
            shards_connected,
            checks_running,
            last_check_age_secs,
            uptime_secs,
        }
    }

    /// Whether the answer is `200` (every shard connected).
    pub fn is_ok(&self) -> bool {
        self.gateway_connected
    }
}

#[cfg(test)]
mod tests;
