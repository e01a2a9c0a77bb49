//! Session stores: tower-sessions' memory store for one replica, Redis for several (every
//! replica reads the same sessions, so a user keeps their login whichever replica answers).
//!
//! The Redis store keeps each session as JSON under `fluxboard:session:<id>` with a TTL equal
//! to the session's expiry, so Redis forgets expired sessions by itself.

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

impl RedisStore {
    /// Connects (and keeps reconnecting) to the Redis server at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<RedisStore> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("bad Redis URL {url:?}: {e}"))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Redis at {url}: {e}"))?;
        Ok(RedisStore { conn })
    }
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

/// The configured store: memory or Redis.
#[derive(Debug, Clone)]
pub enum Store {
    Memory(tower_sessions::MemoryStore),
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
