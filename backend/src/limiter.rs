//! Login rate limits: sliding windows of attempts per key, bounded in memory whatever the input.
//!
//! Keys are an address (every attempt counts), a (username, address) pair (failures count), and
//! a username alone (failures only slow its next attempts down, so nobody elsewhere can lock a
//! user out with a handful of wrong passwords). Usernames longer than [`MAX_USERNAME`] are
//! refused before they reach a limiter. At most [`MAX_KEYS`] keys are held: past that, idle keys
//! are dropped first and then the least recently used, so a flood of addresses or usernames
//! costs bounded memory (at worst it forgets some counts early).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window every limit counts in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The most keys held at once.
pub const MAX_KEYS: usize = 10_000;
/// The longest username a login may name (bytes).
pub const MAX_USERNAME: usize = 256;

/// Sliding-window counters.
#[derive(Debug)]
pub struct RateLimiter {
    keys: Mutex<HashMap<String, VecDeque<Instant>>>,
    max_keys: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(MAX_KEYS)
    }
}

impl RateLimiter {
    pub fn new(max_keys: usize) -> RateLimiter {
        RateLimiter { keys: Mutex::new(HashMap::new()), max_keys: max_keys.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many attempts under `key` are in the window now.
    pub fn count(&self, key: &str) -> usize {
        let now = Instant::now();
        self.lock().get(key).map_or(0, |list| list.iter().filter(|t| now.duration_since(**t) < WINDOW).count())
    }

    /// Refuses (with the wait until a slot frees) when `max` attempts under `key` are in the
    /// window; does not count anything.
    pub fn check(&self, key: &str, max: usize) -> Result<(), Duration> {
        let now = Instant::now();
        let keys = self.lock();
        let Some(list) = keys.get(key) else { return Ok(()) };
        let recent: Vec<&Instant> = list.iter().filter(|t| now.duration_since(**t) < WINDOW).collect();
        match recent.first() {
            Some(oldest) if recent.len() >= max => Err(WINDOW.saturating_sub(now.duration_since(**oldest))),
            _ => Ok(()),
        }
    }

    /// Counts an attempt under `key`, refusing (with the wait) when `max` were made in the window.
    pub fn hit(&self, key: &str, max: usize) -> Result<(), Duration> {
        self.check(key, max)?;
        self.record(key, max);
        Ok(())
    }

    /// Records an attempt under `key`, keeping at most `keep` of them.
    pub fn record(&self, key: &str, keep: usize) {
        let now = Instant::now();
        let mut keys = self.lock();
        if !keys.contains_key(key) && keys.len() >= self.max_keys {
            keys.retain(|_, list| list.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if keys.len() >= self.max_keys {
                let least_recent = keys.iter().min_by_key(|(_, list)| list.back().copied()).map(|(k, _)| k.clone());
                if let Some(k) = least_recent {
                    keys.remove(&k);
                }
            }
        }
        let list = keys.entry(key.to_owned()).or_default();
        while list.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) || list.len() >= keep.max(1) {
            list.pop_front();
        }
        list.push_back(now);
    }

    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The pause before checking a password for a username that failed `failures` times in the
/// window: none up to `free`, then doubling from 250 ms, at most 5 s. Failures elsewhere slow a
/// user's login down; they never lock it.
pub fn slow_down(failures: usize, free: usize) -> Duration {
    match failures.checked_sub(free) {
        None | Some(0) => Duration::ZERO,
        Some(n) => Duration::from_millis(250u64.saturating_mul(1 << (n - 1).min(5))).min(Duration::from_secs(5)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_limited_per_key() {
        let limiter = RateLimiter::default();
        for _ in 0..3 {
            assert!(limiter.hit("a", 3).is_ok());
        }
        let wait = limiter.hit("a", 3).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= WINDOW, "{wait:?}");
        assert!(limiter.hit("b", 3).is_ok(), "other keys are not affected");
        limiter.forget("a");
        assert!(limiter.hit("a", 3).is_ok());
        assert_eq!(limiter.count("a"), 1);
    }

    #[test]
    fn memory_is_bounded_whatever_the_keys() {
        let limiter = RateLimiter::new(100);
        for i in 0..10_000 {
            let _ = limiter.hit(&format!("addr:{i}"), 20);
        }
        assert_eq!(limiter.len(), 100);
        // A key keeps no more timestamps than its limit needs.
        for _ in 0..1000 {
            limiter.record("user:x", 5);
        }
        assert_eq!(limiter.count("user:x"), 5);
    }

    #[test]
    fn failures_elsewhere_only_slow_a_user_down() {
        assert_eq!(slow_down(0, 5), Duration::ZERO);
        assert_eq!(slow_down(5, 5), Duration::ZERO);
        assert_eq!(slow_down(6, 5), Duration::from_millis(250));
        assert_eq!(slow_down(7, 5), Duration::from_millis(500));
        assert_eq!(slow_down(1000, 5), Duration::from_secs(5));
    }
}
