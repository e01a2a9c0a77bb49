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
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// The most keys held at once.
pub(crate) const MAX_KEYS: usize = 10_000;
/// The longest username a login may name (bytes).
pub(crate) const MAX_USERNAME: usize = 256;

/// A refusal of a rate limit: `max` attempts under a key are in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; try again in {} s", self.retry_after_secs())]
pub struct Limited {
    /// How long until the oldest attempt in the window leaves it.
    pub wait: Duration,
}

impl Limited {
    /// The wait in whole seconds, at least 1 (what `Retry-After` and messages say).
    pub fn retry_after_secs(&self) -> u64 {
        self.wait.as_secs().max(1)
    }
}

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
    pub fn check(&self, key: &str, max: usize) -> Result<(), Limited> {
        let now = Instant::now();
        let keys = self.lock();
        let Some(list) = keys.get(key) else { return Ok(()) };
        let recent: Vec<&Instant> = list.iter().filter(|t| now.duration_since(**t) < WINDOW).collect();
        match recent.first() {
            Some(oldest) if recent.len() >= max => {
                Err(Limited { wait: WINDOW.saturating_sub(now.duration_since(**oldest)) })
            }
            _ => Ok(()),
        }
    }

    /// Counts an attempt under `key`, refusing (with the wait) when `max` were made in the window.
    pub fn hit(&self, key: &str, max: usize) -> Result<(), Limited> {
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
pub(crate) fn slow_down(failures: usize, free: usize) -> Duration {
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
        let wait = limiter.hit("a", 3).unwrap_err().wait;
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

/// The login and action limits of this replica, or of every replica when Redis is configured
/// (N replicas must not mean N times the attempts). Redis keeps each key as a sorted set of
/// attempt times under `fluxboard:limit:<key>` that expires with the window, so its memory is
/// bounded by time; when Redis cannot answer, this replica's own limiter stands in.
#[derive(Debug, Clone)]
pub enum Limits {
    Memory(std::sync::Arc<RateLimiter>),
    Redis { conn: RedisConn, local: std::sync::Arc<RateLimiter> },
}

/// A Redis connection shared by the replicas' common state (sessions, limits, audit).
#[derive(Clone)]
pub struct RedisConn(pub redis::aio::ConnectionManager);

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisConn")
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::Memory(std::sync::Arc::default())
    }
}

fn redis_key(key: &str) -> String {
    format!("fluxboard:limit:{key}")
}

fn millis(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Limits {
    /// The limiter of this replica (for the memory variant, the only one).
    fn local(&self) -> &RateLimiter {
        match self {
            Limits::Memory(l) | Limits::Redis { local: l, .. } => l,
        }
    }

    /// Attempts under `key` in the window, and the oldest one's time (Unix ms).
    async fn window(conn: &RedisConn, key: &str) -> redis::RedisResult<(usize, Option<i64>)> {
        let now = millis(std::time::SystemTime::now());
        let mut conn = conn.0.clone();
        let (_, count, oldest): ((), usize, Vec<(String, i64)>) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(redis_key(key))
            .arg(0)
            .arg(now - WINDOW.as_millis() as i64)
            .cmd("ZCARD")
            .arg(redis_key(key))
            .cmd("ZRANGE")
            .arg(redis_key(key))
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        Ok((count, oldest.first().map(|(_, t)| *t)))
    }

    /// How many attempts under `key` are in the window now.
    pub async fn count(&self, key: &str) -> usize {
        match self {
            Limits::Memory(l) => l.count(key),
            Limits::Redis { conn, local } => match Self::window(conn, key).await {
                Ok((count, _)) => count,
                Err(err) => {
                    tracing::warn!(%err, "Redis limits unavailable: this replica's limits apply");
                    local.count(key)
                }
            },
        }
    }

    /// Refuses when `max` attempts under `key` are in the window; counts nothing.
    pub async fn check(&self, key: &str, max: usize) -> Result<(), Limited> {
        match self {
            Limits::Memory(l) => l.check(key, max),
            Limits::Redis { conn, local } => match Self::window(conn, key).await {
                Ok((count, oldest)) if count >= max => {
                    let age = millis(std::time::SystemTime::now()) - oldest.unwrap_or(0);
                    Err(Limited { wait: WINDOW.saturating_sub(Duration::from_millis(age.max(0) as u64)) })
                }
                Ok(_) => Ok(()),
                Err(err) => {
                    tracing::warn!(%err, "Redis limits unavailable: this replica's limits apply");
                    local.check(key, max)
                }
            },
        }
    }

    /// Records an attempt under `key`, keeping at most `keep`.
    pub async fn record(&self, key: &str, keep: usize) {
        match self {
            Limits::Memory(l) => l.record(key, keep),
            Limits::Redis { conn, local } => {
                let now = millis(std::time::SystemTime::now());
                let member = format!("{now}-{}", rand::random::<u32>());
                let mut conn = conn.0.clone();
                let done: redis::RedisResult<()> = redis::pipe()
                    .cmd("ZADD")
                    .arg(redis_key(key))
                    .arg(now)
                    .arg(member)
                    .ignore()
                    .cmd("ZREMRANGEBYRANK")
                    .arg(redis_key(key))
                    .arg(0)
                    .arg(-(keep.max(1) as i64) - 1)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(redis_key(key))
                    .arg(WINDOW.as_millis() as i64)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                if let Err(err) = done {
                    tracing::warn!(%err, "Redis limits unavailable: this replica's limits apply");
                    local.record(key, keep);
                }
            }
        }
    }

    /// Counts an attempt under `key`, refusing (with the wait) when `max` were made.
    pub async fn hit(&self, key: &str, max: usize) -> Result<(), Limited> {
        self.check(key, max).await?;
        self.record(key, max).await;
        Ok(())
    }

    pub async fn forget(&self, key: &str) {
        self.local().forget(key);
        if let Limits::Redis { conn, .. } = self {
            let mut conn = conn.0.clone();
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(redis_key(key)).query_async(&mut conn).await;
        }
    }

    /// How many keys this replica holds (Redis keys expire by themselves).
    pub fn local_len(&self) -> usize {
        self.local().len()
    }
}
