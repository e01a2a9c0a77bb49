//! Session stores: a bounded memory store for one replica, Redis for several (every replica
//! reads the same sessions, so a user keeps their login whichever replica answers).
//!
//! The memory store forgets expired sessions (a sweep on every write past a threshold and a
//! periodic one) and holds at most [`MAX_SESSIONS`]: when full, the session closest to expiry
//! makes room, so no flood of logins or SSO starts can grow memory without bound.
//!
//! The Redis store keeps each session as JSON under `fluxboard:session:<id>` with a TTL equal
//! to the session's expiry, so Redis forgets expired sessions by itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use redis::AsyncCommands as _;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

/// Sessions in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// Why the Redis session store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    /// `sessions.redisUrl` is not a Redis URL.
    #[error("bad Redis URL {url:?}: {source}")]
    BadUrl {
        /// The URL configured.
        url: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The first connection failed.
    #[error("cannot reach Redis at {url}: {source}")]
    Unreachable {
        /// The URL configured.
        url: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The first connection did not succeed in time.
    #[error("cannot reach Redis at {url}: no connection after {after:?}")]
    TimedOut {
        /// The URL configured.
        url: String,
        /// How long it tried.
        after: std::time::Duration,
    },
}

/// How long one connection attempt to Redis may take.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the first connection (its retries included) may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl RedisStore {
    /// The connection, for the other state the replicas share (limits, audit).
    pub fn connection(&self) -> crate::auth::limiter::RedisConn {
        crate::auth::limiter::RedisConn(self.conn.clone())
    }

    /// Connects (and keeps reconnecting) to the Redis server at `url`.
    pub async fn connect(url: &str) -> std::result::Result<RedisStore, SessionStoreError> {
        let client =
            redis::Client::open(url).map_err(|source| SessionStoreError::BadUrl { url: redacted(url), source })?;
        // One attempt first, bounded (a host whose name does not resolve can hang for minutes):
        // a replica that cannot reach Redis says so at once and exits, where the manager would
        // retry for a while. Then the manager, whose attempts are bounded too, and so is its start.
        let unreachable = |source| SessionStoreError::Unreachable { url: redacted(url), source };
        let timed_out = |after| SessionStoreError::TimedOut { url: redacted(url), after };
        tokio::time::timeout(ATTEMPT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| timed_out(ATTEMPT_TIMEOUT))?
            .map_err(unreachable)?;
        let config = redis::aio::ConnectionManagerConfig::new().set_connection_timeout(ATTEMPT_TIMEOUT);
        let conn =
            tokio::time::timeout(CONNECT_TIMEOUT, redis::aio::ConnectionManager::new_with_config(client, config))
                .await
                .map_err(|_| timed_out(CONNECT_TIMEOUT))?
                .map_err(unreachable)?;
        Ok(RedisStore { conn })
    }
}

/// `url` without its password, for messages and logs: `redis://user:***@host:6379/0`. Without
/// a colon the whole user part may be the password (`redis://secret@host`): all of it goes. The
/// user part ends at the last `@` of the URL (a password may hold `/`, `?` or `#` unencoded), and
/// a `password=` or `pass=` in the query (`redis+unix:///run/redis.sock?pass=...`) is hidden too.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) if !user.contains(['/', '?', '#']) => format!("{user}:***"),
                _ => "***".to_owned(),
            };
            format!("{user}@{host}")
        }
        None => rest.to_owned(),
    };
    let Some((before, query)) = rest.split_once('?') else { return format!("{scheme}://{rest}") };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if matches!(name, "password" | "pass") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{before}?{}", query.join("&"))
}

fn key(id: &Id) -> String {
    format!("fluxboard:session:{id}")
}

fn ttl(record: &Record) -> u64 {
    (record.expiry_date - time::OffsetDateTime::now_utc()).whole_seconds().max(1) as u64
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let mut conn = self.conn.clone();
        let data = serde_json::to_string(&record).map_err(|e| Error::Encode(e.to_string()))?;
        // A fresh id that no other session holds (SET NX), retried on the unlikely collision.
        loop {
            let set: Option<String> = redis::cmd("SET")
                .arg(key(&record.id))
                .arg(&data)
                .arg("NX")
                .arg("EX")
                .arg(ttl(record))
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::Backend(e.to_string()))?;
            if set.is_some() {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let mut conn = self.conn.clone();
        let data = serde_json::to_string(&record).map_err(|e| Error::Encode(e.to_string()))?;
        conn.set_ex::<_, _, ()>(key(&record.id), data, ttl(record)).await.map_err(|e| Error::Backend(e.to_string()))
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let mut conn = self.conn.clone();
        let data: Option<String> = conn.get(key(id)).await.map_err(|e| Error::Backend(e.to_string()))?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| Error::Decode(e.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let mut conn = self.conn.clone();
        conn.del::<_, ()>(key(id)).await.map_err(|e| Error::Backend(e.to_string()))
    }
}

/// The most sessions the memory store holds.
pub(crate) const MAX_SESSIONS: usize = 50_000;

/// Sessions in memory, bounded in number and forgotten when expired.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Sessions>,
    cap: usize,
}

#[derive(Debug, Default)]
struct Sessions {
    records: HashMap<i128, Record>,
    /// (expiry in Unix nanoseconds, id): the next to expire first.
    by_expiry: BTreeSet<(i128, i128)>,
}

fn expiry_key(record: &Record) -> (i128, i128) {
    (record.expiry_date.unix_timestamp_nanos(), record.id.0)
}

impl Sessions {
    fn remove(&mut self, id: i128) -> Option<Record> {
        let record = self.records.remove(&id)?;
        self.by_expiry.remove(&expiry_key(&record));
        Some(record)
    }

    fn insert(&mut self, record: Record, cap: usize) {
        self.remove(record.id.0);
        self.sweep();
        while self.records.len() >= cap {
            let Some(&(_, oldest)) = self.by_expiry.iter().next() else { break };
            self.remove(oldest);
        }
        self.by_expiry.insert(expiry_key(&record));
        self.records.insert(record.id.0, record);
    }

    /// Forgets every expired session.
    fn sweep(&mut self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        while let Some(&(expiry, id)) = self.by_expiry.iter().next() {
            if expiry > now {
                break;
            }
            self.remove(id);
        }
    }
}

impl MemoryStore {
    pub fn new(cap: usize) -> MemoryStore {
        MemoryStore { inner: Mutex::new(Sessions::default()), cap: cap.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many sessions are held (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every expired session now.
    pub fn sweep(&self) {
        self.lock().sweep();
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(MAX_SESSIONS)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let mut sessions = self.lock();
        while sessions.records.contains_key(&record.id.0) {
            record.id = Id::default();
        }
        sessions.insert(record.clone(), self.cap);
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.lock().insert(record.clone(), self.cap);
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let mut sessions = self.lock();
        match sessions.records.get(&id.0) {
            Some(r) if r.expiry_date > time::OffsetDateTime::now_utc() => Ok(Some(r.clone())),
            Some(_) => {
                sessions.remove(id.0);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.lock().remove(id.0);
        Ok(())
    }
}

/// The configured store: memory or Redis.
#[derive(Debug, Clone)]
pub enum Store {
    Memory(std::sync::Arc<MemoryStore>),
    Redis(RedisStore),
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            Store::Memory(s) => s.create(record).await,
            Store::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            Store::Memory(s) => s.save(record).await,
            Store::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            Store::Memory(s) => s.load(id).await,
            Store::Redis(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            Store::Memory(s) => s.delete(id).await,
            Store::Redis(s) => s.delete(id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_in_messages_have_no_password() {
        for (url, shown) in [
            ("redis://user:s3cret@redis:6379/0", "redis://user:***@redis:6379/0"),
            ("rediss://:s3cret@redis.example", "rediss://:***@redis.example"),
            ("redis://s3cret@redis/1?protocol=resp3", "redis://***@redis/1?protocol=resp3"),
            ("redis://redis:6379", "redis://redis:6379"),
            ("redis://user:p@ss@word@redis", "redis://user:***@redis"),
            ("redis://:p?ss@redis:6379", "redis://:***@redis:6379"),
            ("redis://u:a/b#c@redis/0", "redis://u:***@redis/0"),
            ("redis+unix:///run/redis.sock?db=1&pass=s3cret", "redis+unix:///run/redis.sock?db=1&pass=***"),
            ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redacted(url), shown);
        }
    }

    #[tokio::test]
    async fn a_redis_start_up_error_does_not_print_the_password() {
        // Nothing listens on port 1.
        let err = RedisStore::connect("redis://user:s3cret@127.0.0.1:1/0").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("redis://user:***@127.0.0.1:1/0"), "{text}");
        let err = RedisStore::connect("redis://:s3cret@[::1/0").await.map(|_| ()).unwrap_err();
        assert!(matches!(err, SessionStoreError::BadUrl { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err:?}");
    }

    fn record(id: i128, expires_in: time::Duration) -> Record {
        Record { id: Id(id), data: Default::default(), expiry_date: time::OffsetDateTime::now_utc() + expires_in }
    }

    #[tokio::test]
    async fn the_memory_store_is_bounded_and_forgets_expired_sessions() {
        let store = MemoryStore::new(3);
        for id in 0..10 {
            store.create(&mut record(id, time::Duration::minutes(10 + id as i64))).await.unwrap();
        }
        assert_eq!(store.len(), 3, "at most the cap");
        // The sessions closest to expiry made room: the last three remain.
        assert!(store.load(&Id(9)).await.unwrap().is_some());
        assert!(store.load(&Id(0)).await.unwrap().is_none());
        let store = MemoryStore::new(100);
        store.save(&record(1, time::Duration::seconds(-1))).await.unwrap();
        store.save(&record(2, time::Duration::minutes(5))).await.unwrap();
        assert!(store.load(&Id(1)).await.unwrap().is_none(), "expired");
        store.save(&record(3, time::Duration::seconds(-1))).await.unwrap();
        store.sweep();
        assert_eq!(store.len(), 1);
        // Saving again moves a session's expiry instead of keeping a second index entry.
        store.save(&record(2, time::Duration::minutes(50))).await.unwrap();
        store.delete(&Id(2)).await.unwrap();
        assert!(store.is_empty());
        assert!(store.lock().by_expiry.is_empty());
    }
}
