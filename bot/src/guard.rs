//! Keeping the bot polite: per-user and per-guild cooldowns, a per-domain result cache and a
//! global cap on concurrent checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mailcheck::Report;
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

/// A per-domain cache of reports.
#[derive(Debug)]
pub struct ReportCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<Report>)>>,
}

impl ReportCache {
    /// A cache keeping reports for `ttl` (zero: nothing is kept).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached report for `domain` and its age, if fresh at `now`.
    pub fn get(&self, domain: &str, now: Instant) -> Option<(Arc<Report>, Duration)> {
        let entries = lock(&self.entries);
        let (at, report) = entries.get(domain)?;
        let age = now.saturating_duration_since(*at);
        (age < self.ttl).then(|| (Arc::clone(report), age))
    }

    /// Stores a report taken at `now`.
    pub fn put(&self, domain: &str, report: Arc<Report>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = lock(&self.entries);
        let ttl = self.ttl;
        entries.retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
        entries.insert(domain.to_owned(), (now, report));
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
mod tests {
    use super::*;

    #[test]
    fn cooldowns_per_user_and_guild() {
        let c = Cooldowns::new(Duration::from_secs(30), Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(c.try_start(1, Some(10), t0), Ok(()));
        assert_eq!(
            c.try_start(1, Some(11), t0 + Duration::from_secs(1)),
            Err(CooldownHit::User(Duration::from_secs(29)))
        );
        assert_eq!(
            c.try_start(2, Some(10), t0 + Duration::from_secs(2)),
            Err(CooldownHit::Guild(Duration::from_secs(3)))
        );
        assert_eq!(c.try_start(2, None, t0 + Duration::from_secs(2)), Ok(()));
        assert_eq!(
            c.try_start(3, Some(10), t0 + Duration::from_secs(6)),
            Ok(())
        );
        assert_eq!(c.try_start(1, None, t0 + Duration::from_secs(30)), Ok(()));
    }

    #[test]
    fn zero_cooldowns_never_block() {
        let c = Cooldowns::new(Duration::ZERO, Duration::ZERO);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(c.try_start(1, Some(1), t0), Ok(()));
        }
    }

    #[test]
    fn cache_expires() {
        let cache = ReportCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        cache.put("example.com", Arc::new(Report::invalid("x", "y")), t0);
        let (_, age) = cache
            .get("example.com", t0 + Duration::from_secs(10))
            .unwrap();
        assert_eq!(age, Duration::from_secs(10));
        assert!(
            cache
                .get("example.com", t0 + Duration::from_secs(60))
                .is_none()
        );
        assert!(cache.get("other.com", t0).is_none());
    }

    #[test]
    fn cap_limits_concurrency() {
        let cap = ConcurrencyCap::new(1);
        let permit = cap.try_acquire().unwrap();
        assert!(cap.try_acquire().is_none());
        drop(permit);
        assert!(cap.try_acquire().is_some());
    }

    #[tokio::test]
    async fn wait_idle_returns_once_every_slot_is_back() {
        let cap = ConcurrencyCap::new(2);
        cap.wait_idle().await;
        let permit = cap.try_acquire().unwrap();
        let waiter = tokio::spawn({
            let cap = cap.clone();
            async move { cap.wait_idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(permit);
        waiter.await.unwrap();
        assert_eq!(cap.available(), 2);
    }
}
