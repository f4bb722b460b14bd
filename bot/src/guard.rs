//! Keeping the bot polite: per-user and per-guild cooldowns, a per-domain result cache (failures
//! kept shorter), one probe per domain however many ask at once, a global cap on concurrent
//! checks, and the answers the buttons act on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use mailcheck::{Report, Verdict};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Per-user and per-guild cooldowns.
#[derive(Debug)]
pub struct Cooldowns {
    user: Duration,
    guild: Duration,
    last_user: Mutex<HashMap<u64, Instant>>,
    last_guild: Mutex<HashMap<u64, Instant>>,
}

/// Why a check may not start yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CooldownHit {
    /// This user checked too recently; wait this long.
    User(Duration),
    /// This guild checked too recently; wait this long.
    Guild(Duration),
}

impl CooldownHit {
    /// How long to wait.
    pub const fn remaining(self) -> Duration {
        match self {
            Self::User(d) | Self::Guild(d) => d,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cooldowns {
    /// Cooldowns of these lengths (zero: none).
    pub fn new(user: Duration, guild: Duration) -> Self {
        Self {
            user,
            guild,
            last_user: Mutex::new(HashMap::new()),
            last_guild: Mutex::new(HashMap::new()),
        }
    }

    /// Checks both cooldowns at `now` and, when neither is running, starts both.
    pub fn try_start(
        &self,
        user: u64,
        guild: Option<u64>,
        now: Instant,
    ) -> Result<(), CooldownHit> {
        let mut users = lock(&self.last_user);
        let mut guilds = lock(&self.last_guild);
        let remaining = |last: Option<&Instant>, len: Duration| {
            last.and_then(|t| (*t + len).checked_duration_since(now))
                .filter(|d| !d.is_zero())
        };
        if let Some(d) = remaining(users.get(&user), self.user) {
            return Err(CooldownHit::User(d));
        }
        if let Some(g) = guild
            && let Some(d) = remaining(guilds.get(&g), self.guild)
        {
            return Err(CooldownHit::Guild(d));
        }
        if !self.user.is_zero() {
            users.insert(user, now);
        }
        if let Some(g) = guild.filter(|_| !self.guild.is_zero()) {
            guilds.insert(g, now);
        }
        // Forget entries whose cooldown is over, so the maps stay small.
        let (user_len, guild_len) = (self.user, self.guild);
        users.retain(|_, t| now.duration_since(*t) < user_len);
        guilds.retain(|_, t| now.duration_since(*t) < guild_len);
        Ok(())
    }
}

/// A per-domain cache of reports: ok answers for `ttl`, broken, inconclusive and partial ones
/// for the shorter `failure_ttl` (a fix should show soon).
#[derive(Debug)]
pub struct ReportCache {
    ttl: Duration,
    failure_ttl: Duration,
    entries: Mutex<HashMap<String, Cached>>,
}

/// A cached report: when it was taken, how long it is kept.
type Cached = (Instant, Duration, Arc<Report>);

impl ReportCache {
    /// A cache keeping reports for `ttl`, and failures for `failure_ttl` (zero: nothing is
    /// kept).
    pub fn new(ttl: Duration, failure_ttl: Duration) -> Self {
        Self {
            ttl,
            failure_ttl: failure_ttl.min(ttl),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How long `report` is kept.
    pub fn ttl_for(&self, report: &Report) -> Duration {
        let failure = matches!(report.verdict, Verdict::Broken | Verdict::Inconclusive)
            || report.partial.is_some();
        if failure { self.failure_ttl } else { self.ttl }
    }

    /// The cached report for `domain` and its age, if fresh at `now`.
    pub fn get(&self, domain: &str, now: Instant) -> Option<(Arc<Report>, Duration)> {
        let entries = lock(&self.entries);
        let (at, ttl, report) = entries.get(domain)?;
        let age = now.saturating_duration_since(*at);
        (age < *ttl).then(|| (Arc::clone(report), age))
    }

    /// Stores a report taken at `now`.
    pub fn put(&self, domain: &str, report: Arc<Report>, now: Instant) {
        let ttl = self.ttl_for(&report);
        if ttl.is_zero() {
            return;
        }
        let mut entries = lock(&self.entries);
        entries.retain(|_, (at, ttl, _)| now.saturating_duration_since(*at) < *ttl);
        entries.insert(domain.to_owned(), (now, ttl, report));
    }

    /// Forgets `domain` (a re-check).
    pub fn remove(&self, domain: &str) {
        lock(&self.entries).remove(domain);
    }
}

/// A check that is running, shared by everyone who asks for the same domain meanwhile.
pub type SharedCheck = Shared<BoxFuture<'static, Arc<Report>>>;

/// Checks running now, by domain: a second `/mailcheck` of a domain being checked waits for the
/// same probe instead of starting another.
#[derive(Debug, Default)]
pub struct RunningChecks {
    running: Mutex<HashMap<String, SharedCheck>>,
}

impl RunningChecks {
    /// The running check of `domain`, or `start()` as the new one. True when this call
    /// started it.
    pub fn join_or_start(
        self: &Arc<Self>,
        domain: &str,
        start: impl FnOnce() -> BoxFuture<'static, Arc<Report>>,
    ) -> (SharedCheck, bool) {
        let mut running = lock(&self.running);
        if let Some(check) = running.get(domain) {
            return (check.clone(), false);
        }
        let this = Arc::clone(self);
        let key = domain.to_owned();
        let work = start();
        let check = async move {
            let report = work.await;
            lock(&this.running).remove(&key);
            report
        }
        .boxed()
        .shared();
        running.insert(domain.to_owned(), check.clone());
        (check, true)
    }

    /// How many domains are being checked.
    pub fn len(&self) -> usize {
        lock(&self.running).len()
    }

    /// Whether no check is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the buttons under an answer act on: the report it shows, by answer id. Bounded: the
/// oldest answers are forgotten first (their buttons then say to check again).
#[derive(Debug)]
pub struct Answers {
    max: usize,
    next: std::sync::atomic::AtomicU64,
    entries: Mutex<std::collections::VecDeque<(u64, Answer)>>,
}

/// One answer the bot gave.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The domain.
    pub domain: mailcheck::DomainName,
    /// The report shown.
    pub report: Arc<Report>,
    /// Whether it was shown privately.
    pub private: bool,
}

impl Answers {
    /// A store of at most `max` answers.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            next: std::sync::atomic::AtomicU64::new(1),
            entries: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Keeps `answer`; returns its id.
    pub fn put(&self, answer: Answer) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = lock(&self.entries);
        while entries.len() >= self.max {
            entries.pop_front();
        }
        entries.push_back((id, answer));
        id
    }

    /// The answer with this id, while it is kept.
    pub fn get(&self, id: u64) -> Option<Answer> {
        lock(&self.entries)
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, a)| a.clone())
    }

    /// Replaces the report of answer `id` (after a re-check edits that message).
    pub fn update(&self, id: u64, report: Arc<Report>) {
        if let Some((_, a)) = lock(&self.entries).iter_mut().find(|(i, _)| *i == id) {
            a.report = report;
        }
    }
}

/// The global cap on concurrent checks.
#[derive(Debug, Clone)]
pub struct ConcurrencyCap {
    semaphore: Arc<Semaphore>,
    max: u32,
}

impl ConcurrencyCap {
    /// At most `max` checks at once.
    pub fn new(max: usize) -> Self {
        let max = u32::try_from(max.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        Self {
            semaphore: Arc::new(Semaphore::new(max as usize)),
            max,
        }
    }

    /// A slot, if one is free now.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.semaphore).try_acquire_owned().ok()
    }

    /// Waits until no check is running (for a graceful shutdown). Stop taking new commands
    /// first, or this may wait for ever; callers bound it with a timeout.
    pub async fn wait_idle(&self) {
        if let Ok(all) = self.semaphore.acquire_many(self.max).await {
            drop(all);
        }
    }

    /// Checks running now.
    pub fn running(&self) -> usize {
        (self.max as usize).saturating_sub(self.semaphore.available_permits())
    }

    /// Free slots now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }
}

#[cfg(test)]
mod tests;
