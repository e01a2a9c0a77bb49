//! A delaying work queue with de-duplication, like client-go's workqueue.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    hash::Hash,
    sync::Mutex,
};

use tokio::{sync::Notify, time::Instant};

/// Keys due at instants; a key queued twice keeps its earliest time; a key being processed
/// and queued again is processed once more after it finishes.
#[derive(Debug)]
pub(crate) struct WorkQueue<K> {
    inner: Mutex<Inner<K>>,
    notify: Notify,
}

#[derive(Debug)]
struct Inner<K> {
    due: BTreeSet<(Instant, u64, K)>,
    when: HashMap<K, (Instant, u64)>,
    processing: HashSet<K>,
    /// Keys queued while processing: (time) to re-add when done.
    dirty: HashMap<K, Instant>,
    seq: u64,
}

impl<K: Clone + Eq + Hash + Ord> WorkQueue<K> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                due: BTreeSet::new(),
                when: HashMap::new(),
                processing: HashSet::new(),
                dirty: HashMap::new(),
                seq: 0,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `key` at `at` (or keeps an earlier time already queued).
    pub(crate) fn add_at(&self, key: K, at: Instant) {
        let mut inner = self.lock();
        if inner.processing.contains(&key) {
            let slot = inner.dirty.entry(key).or_insert(at);
            *slot = (*slot).min(at);
            return;
        }
        if let Some(&(existing, seq)) = inner.when.get(&key) {
            if existing <= at {
                return;
            }
            inner.due.remove(&(existing, seq, key.clone()));
        }
        inner.seq += 1;
        let seq = inner.seq;
        inner.due.insert((at, seq, key.clone()));
        inner.when.insert(key, (at, seq));
        drop(inner);
        self.notify.notify_one();
    }

    /// Queues `key` now.
    pub(crate) fn add(&self, key: K) {
        self.add_at(key, Instant::now());
    }

    /// Takes a due key, marking it in process; None when nothing is due.
    pub(crate) fn try_take(&self) -> Option<K> {
        let mut inner = self.lock();
        let first = inner.due.first().cloned()?;
        if first.0 > Instant::now() {
            return None;
        }
        inner.due.remove(&first);
        inner.when.remove(&first.2);
        inner.processing.insert(first.2.clone());
        Some(first.2)
    }

    /// Waits until a key is due and takes it.
    pub(crate) async fn take(&self) -> K {
        loop {
            let notified = self.notify.notified();
            if let Some(key) = self.try_take() {
                return key;
            }
            let next = self.lock().due.first().map(|d| d.0);
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` done; re-queues it when it was queued while in process.
    pub(crate) fn done(&self, key: &K) {
        let mut inner = self.lock();
        inner.processing.remove(key);
        let again = inner.dirty.remove(key);
        drop(inner);
        if let Some(at) = again {
            self.add_at(key.clone(), at);
        }
    }

    /// Whether nothing is queued now or in process (future requeues do not count).
    pub(crate) fn is_idle(&self) -> bool {
        let inner = self.lock();
        let now = Instant::now();
        inner.processing.is_empty() && inner.dirty.is_empty() && inner.due.first().is_none_or(|d| d.0 > now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keys_come_out_when_due_once_each() {
        let queue = WorkQueue::new();
        queue.add_at("later", Instant::now() + Duration::from_secs(5));
        queue.add("now");
        queue.add("now");
        assert_eq!(queue.take().await, "now");
        queue.done(&"now");
        assert_eq!(queue.try_take(), None);
        assert_eq!(queue.take().await, "later");
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_queued_while_in_process_runs_again_after() {
        let queue = WorkQueue::new();
        queue.add(1);
        assert_eq!(queue.take().await, 1);
        queue.add(1);
        assert_eq!(queue.try_take(), None, "not twice at once");
        queue.done(&1);
        assert_eq!(queue.take().await, 1);
        queue.done(&1);
        assert!(queue.is_idle());
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_time_wins() {
        let queue = WorkQueue::new();
        queue.add_at("k", Instant::now() + Duration::from_secs(60));
        queue.add_at("k", Instant::now() + Duration::from_secs(1));
        let start = Instant::now();
        queue.take().await;
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
