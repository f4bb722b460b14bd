//! Per-run memoisation: [`Memo`] runs the work for a key once, however many callers ask for it,
//! concurrently or later. Used for host address lookups shared by many domains, PTR lookups per
//! IP and blocklist queries per IP. [`InFlight`] only coalesces callers that ask while the work
//! runs, and keeps nothing afterwards (DNS queries, whose answers the resolver caches with
//! their TTL).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// A per-run async memo. Concurrent callers for the same key wait for the one computation
/// (they are coalesced); later callers get the stored value. If the computing future is dropped
/// before it finishes, the next caller computes again.
pub(crate) struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> fmt::Debug for Memo<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("keys", &self.lock().len())
            .finish()
    }
}

impl<K, V> Memo<K, V> {
    /// An empty memo.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.cells.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many keys have been asked for (finished or in flight).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key has been asked for.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets everything (a new run).
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

impl<K: Eq + Hash, V> Memo<K, V> {
    /// Forgets `key`: the next caller computes it afresh (a user's "check again").
    pub(crate) fn remove(&self, key: &K) {
        self.lock().remove(key);
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    /// The value for `key`: computed by `init` the first time, shared afterwards. Concurrent
    /// callers for the same key run `init` once between them.
    pub(crate) async fn get_or_init<F, Fut>(&self, key: K, init: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.cell(key).get_or_init(init).await.clone()
    }

    /// The cell for `key`, created empty when there is none.
    fn cell(&self, key: K) -> Arc<OnceCell<V>> {
        Arc::clone(self.lock().entry(key).or_default())
    }

    /// Forgets `key` if it still holds `cell` (not a newer one).
    fn forget(&self, key: &K, cell: &Arc<OnceCell<V>>) {
        let mut cells = self.lock();
        if cells.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            cells.remove(key);
        }
    }

    /// The value for `key` if it has been computed.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).and_then(|c| c.get().cloned())
    }
}

/// Coalesces concurrent work for the same key: callers that ask while it runs share its
/// result; once it is done the key is forgotten, so a later caller runs the work again.
pub(crate) struct InFlight<K, V> {
    running: Memo<K, V>,
}

impl<K, V> Default for InFlight<K, V> {
    fn default() -> Self {
        Self {
            running: Memo::new(),
        }
    }
}

impl<K, V> fmt::Debug for InFlight<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("running", &self.running.len())
            .finish()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> InFlight<K, V> {
    /// The result of `work` for `key`, shared with every caller that asks before it is done.
    pub(crate) async fn run<F, Fut>(&self, key: K, work: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = self.running.cell(key.clone());
        let value = cell.get_or_init(work).await.clone();
        self.running.forget(&key, &cell);
        value
    }

    /// How many keys have work running.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_are_coalesced() {
        let memo: Memo<&str, usize> = Memo::new();
        let runs = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let work = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            42
        };
        let all = futures::future::join_all((0..10).map(|_| memo.get_or_init("k", work)));
        let release = async {
            // Let every caller reach the cell, then release the one computation.
            while runs.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            gate.notify_one();
        };
        let (values, ()) = tokio::join!(all, release);
        assert_eq!(values, vec![42; 10]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(memo.get(&"k"), Some(42));
        assert_eq!(memo.get_or_init("k", || async { 7 }).await, 42);
        assert_eq!(memo.get_or_init("other", || async { 7 }).await, 7);
        assert_eq!(memo.len(), 2);
        memo.clear();
        assert!(memo.is_empty());
    }

    #[tokio::test]
    async fn in_flight_work_is_shared_then_forgotten() {
        let flight: InFlight<&str, usize> = InFlight::default();
        let runs = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let work = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            runs.load(Ordering::SeqCst)
        };
        let all = futures::future::join_all((0..10).map(|_| flight.run("k", work)));
        let release = async {
            while runs.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            gate.notify_one();
        };
        let (values, ()) = tokio::join!(all, release);
        assert_eq!(values, vec![1; 10]);
        assert_eq!(flight.running(), 0);
        // Asked again later: the work runs again.
        gate.notify_one();
        assert_eq!(flight.run("k", work).await, 2);
    }

    #[tokio::test]
    async fn cancelled_init_is_retried() {
        let memo: Memo<u8, u8> = Memo::new();
        {
            let fut = memo.get_or_init(1, std::future::pending::<u8>);
            tokio::select! {
                biased;
                _ = fut => unreachable!(),
                () = std::future::ready(()) => {}
            }
        }
        assert_eq!(memo.get(&1), None);
        assert_eq!(memo.get_or_init(1, || async { 5 }).await, 5);
    }
}
