//! [`CacheService`]: where each read and write goes (memory, Redis, the fallback, the near
//! cache), coalescing of concurrent misses, invalidation, and the service's state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;

use super::config::CacheConfig;
use super::flights::Flights;
use super::key::{CacheKey, KeyPattern};
use super::memory::MemoryStore;
use super::near::{self, NearCache};
use super::redis::RedisStore;
use super::stats::{CacheStats, Counters, ReadLabels, Served, hit_rate};
use super::watch::{HealthTask, watch_redis};
use crate::error::CacheError;

/// Whether a value came from the cache or was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lookup {
    /// Served from the cache.
    Hit,
    /// Computed (by this caller, or by a concurrent one it waited for).
    Miss,
}

impl Lookup {
    /// `"hit"` or `"miss"`, as in the `x-cache` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
        }
    }
}

/// Where values live.
#[derive(Debug)]
pub(super) enum Backend {
    /// No Redis configured.
    Memory(MemoryStore),
    /// Redis, and the memory cache used while it is unreachable.
    Redis {
        /// The shared cache (shared with the near cache's task).
        redis: Arc<RedisStore>,
        /// Serves while Redis is down; emptied when Redis returns.
        fallback: MemoryStore,
    },
}

/// The generation a lookup read, and from which store, so a computed value is stored where
/// and under what it was looked up (or not at all if the serving store changed meanwhile).
#[derive(Debug)]
enum Ticket {
    /// The memory backend.
    Memory(String),
    /// Redis.
    Redis(String),
    /// The fallback memory cache.
    Fallback(String),
    /// The near cache (a hit; nothing is stored back).
    Near,
}

/// State shared by every clone of the service and its health task.
#[derive(Debug)]
pub(super) struct Shared {
    /// The configuration it was built with.
    pub(super) config: CacheConfig,
    /// Where values live.
    pub(super) backend: Backend,
    /// Hit and miss counters.
    counters: Counters,
    /// Keys being computed by `get_or_set`.
    flights: Flights,
    /// The near cache, when configured (with Redis).
    pub(super) near: Option<Arc<NearCache>>,
}

/// The cache service. Cheap to clone (two `Arc`s); the background health task stops when
/// the last clone is dropped.
#[derive(Clone, Debug)]
pub struct CacheService {
    /// Stores, counters and in-flight computations.
    pub(super) shared: Arc<Shared>,
    /// Held only for its drop: the health task lives as long as some clone does.
    _health: Arc<HealthTask>,
}

impl CacheService {
    /// Builds the service; never fails. Without `redis_url` it runs on memory. With a Redis
    /// that does not answer, it warns, serves from the fallback and keeps retrying.
    pub async fn new(config: CacheConfig) -> Self {
        let backend = match config.redis_url.as_deref() {
            None => {
                tracing::info!(
                    backend = "memory",
                    "cache backend: in-memory (no REDIS_URL)"
                );
                Backend::Memory(MemoryStore::new(config.memory_max_bytes))
            }
            Some(url) => {
                let redis = RedisStore::new(url, &config.prefix, config.redis_timeout);
                match redis.ping().await {
                    Ok(()) => {
                        redis.mark_up();
                        tracing::info!(backend = "redis", prefix = %config.prefix, "cache backend: redis connected");
                    }
                    Err(error) => {
                        redis.forget_connection();
                        tracing::warn!(backend = "memory", %error, "cache backend: redis unreachable at start; serving from the in-memory fallback and retrying");
                    }
                }
                Backend::Redis {
                    redis: Arc::new(redis),
                    fallback: MemoryStore::new(config.memory_max_bytes),
                }
            }
        };
        let mut tasks = Vec::new();
        let near = match &backend {
            Backend::Redis { redis, .. } if config.near => {
                let near = Arc::new(NearCache::new(config.near_lease));
                tasks.push(tokio::spawn(near::maintain(
                    Arc::clone(&near),
                    Arc::clone(redis),
                )));
                Some(near)
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            config,
            backend,
            counters: Counters::default(),
            flights: Flights::default(),
            near,
        });
        if matches!(shared.backend, Backend::Redis { .. }) {
            tasks.push(tokio::spawn(watch_redis(Arc::clone(&shared))));
        }
        Self {
            shared,
            _health: Arc::new(HealthTask(tasks)),
        }
    }

    /// The Redis it was configured with (`None`: memory only). Other users of the cache's
    /// Redis (the scraper's shared rate limiter) connect to the same one.
    pub fn redis_url(&self) -> Option<&str> {
        self.shared.config.redis_url.as_deref()
    }

    /// Reads `key`; counts a hit or a miss for its category.
    pub async fn get(&self, key: &CacheKey) -> Option<Bytes> {
        let (value, ticket) = self.lookup(key).await;
        self.record(key, &ticket, value.is_some());
        value
    }

    /// Stores `value` under `key` for `ttl` (default: `default_ttl`; capped at
    /// `fallback_ttl` while on the fallback). Never fails: a Redis error is logged and the
    /// value goes to the fallback.
    ///
    /// It stores under the generation current at write time; to store a value computed from
    /// the database, use [`CacheService::get_or_set`], which cannot revive stale data.
    pub async fn set(&self, key: &CacheKey, value: Bytes, ttl: Option<Duration>) {
        let ttl = ttl.unwrap_or(self.shared.config.default_ttl);
        match &self.shared.backend {
            Backend::Memory(memory) => memory.set(key, value, ttl).await,
            Backend::Redis { redis, fallback } => {
                if redis.is_up() {
                    match redis.set(key, &value, ttl).await {
                        Ok(()) => {
                            self.forget_near(key).await;
                            return;
                        }
                        Err(error) => {
                            tracing::debug!(%error, key = key.as_str(), "redis set failed")
                        }
                    }
                }
                fallback.set(key, value, self.fallback_ttl(ttl)).await;
            }
        }
    }

    /// Removes `key`; returns how many stored entries went. With Redis configured but down,
    /// removes it from the fallback and fails with [`CacheError::Unavailable`].
    pub async fn delete(&self, key: &CacheKey) -> Result<u64, CacheError> {
        match &self.shared.backend {
            Backend::Memory(memory) => Ok(memory.delete(key).await),
            Backend::Redis { redis, fallback } => {
                let local = fallback.delete(key).await;
                if !redis.is_up() {
                    return Err(CacheError::Unavailable);
                }
                let removed = local + redis.delete(key).await?;
                self.near_barrier(redis).await?;
                Ok(removed)
            }
        }
    }

    /// Removes every stored entry, of every generation, whose key matches `pattern`; returns
    /// how many went. Redis: `SCAN MATCH` + `UNLINK` in batches. With Redis configured but
    /// down, cleans the fallback and fails with [`CacheError::Unavailable`].
    #[tracing::instrument(skip_all, fields(pattern = pattern.as_str()))]
    pub async fn delete_pattern(&self, pattern: &KeyPattern) -> Result<u64, CacheError> {
        match &self.shared.backend {
            Backend::Memory(memory) => Ok(memory.delete_pattern(pattern).await),
            Backend::Redis { redis, fallback } => {
                let local = fallback.delete_pattern(pattern).await;
                if !redis.is_up() {
                    return Err(CacheError::Unavailable);
                }
                let removed = local + redis.delete_pattern(pattern).await?;
                self.near_barrier(redis).await?;
                Ok(removed)
            }
        }
    }

    /// Returns the cached value of `key`, or computes, stores and returns it.
    ///
    /// Concurrent misses of one key in this process run `compute` once; the others wait and
    /// get its value (reported as [`Lookup::Miss`]). If that computation fails, the next
    /// waiter computes itself. The value is stored under the generation read before
    /// computing, so a value computed across an invalidation is never served after it.
    pub async fn get_or_set<F, Fut, E>(
        &self,
        key: &CacheKey,
        ttl: Option<Duration>,
        compute: F,
    ) -> Result<(Bytes, Lookup), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let (value, ticket) = self.lookup(key).await;
        self.record(key, &ticket, value.is_some());
        if let Some(value) = value {
            return Ok((value, Lookup::Hit));
        }
        let flight = self.shared.flights.enter(key.as_str()).await;
        let (value, ticket) = self.lookup(key).await;
        if let Some(value) = value {
            return Ok((value, Lookup::Miss));
        }
        let value = compute().await?;
        let ttl = ttl.unwrap_or(self.shared.config.default_ttl);
        self.store(key, ticket, value.clone(), ttl).await;
        drop(flight);
        Ok((value, Lookup::Miss))
    }

    /// Invalidation after a data change: replaces the generation of every category of `known`
    /// that `pattern` can reach (so every value of those categories is superseded at once),
    /// then removes the matching entries. With Redis configured this must reach Redis: if it
    /// cannot, the fallback is emptied and the call fails with [`CacheError::Unavailable`],
    /// so the caller (a job) retries. Under Sentinel it also fails, with
    /// [`CacheError::NotReplicated`], when no replica acknowledged the new generations in
    /// time: the change could be lost in a fail-over.
    #[tracing::instrument(skip_all, fields(pattern = pattern.as_str()), err)]
    pub async fn invalidate(
        &self,
        pattern: &KeyPattern,
        known: &[&str],
    ) -> Result<u64, CacheError> {
        let categories = pattern.matching_categories(known);
        match &self.shared.backend {
            Backend::Memory(memory) => {
                memory.replace_generations(&categories);
                Ok(memory.delete_pattern(pattern).await)
            }
            Backend::Redis { redis, fallback } => {
                fallback.replace_generations(&categories);
                let local = fallback.delete_pattern(pattern).await;
                if let Err(error) = redis.replace_generations(&categories).await {
                    fallback.clear().await;
                    tracing::warn!(%error, "invalidation could not reach redis; fallback emptied");
                    return Err(match error {
                        CacheError::NotReplicated(wait) => CacheError::NotReplicated(wait),
                        _ => CacheError::Unavailable,
                    });
                }
                let removed = local + redis.delete_pattern(pattern).await?;
                self.near_barrier(redis).await?;
                Ok(removed)
            }
        }
    }

    /// Recomputes `key` and stores the result, whether or not a value is cached. Like
    /// [`CacheService::get_or_set`], the value is stored under the generation read before
    /// computing, so a recompute that straddles an invalidation is never served.
    pub async fn refresh<F, Fut, E>(
        &self,
        key: &CacheKey,
        ttl: Option<Duration>,
        compute: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let (_, ticket) = self.lookup_in(key, false).await;
        let value = compute().await?;
        let ttl = ttl.unwrap_or(self.shared.config.default_ttl);
        self.store(key, ticket, value.clone(), ttl).await;
        self.forget_near(key).await;
        Ok(value)
    }

    /// Completes a change made in Redis for every near cache (see `near.rs`): returns once
    /// every process holding a live lease has emptied its near cache or lost its lease.
    pub(super) async fn near_barrier(&self, redis: &RedisStore) -> Result<(), CacheError> {
        near::barrier(redis, self.shared.config.near_lease, None).await
    }

    /// After `key`'s value was replaced in Redis: waits until no near cache holds the old one
    /// (see `near.rs`). A failure (Redis not answering) is logged: a near cache may then hold
    /// the old value until its next invalidation, its lease lapsing, or the entry's 30 s
    /// lifetime, whichever comes first.
    async fn forget_near(&self, key: &CacheKey) {
        if let Backend::Redis { redis, .. } = &self.shared.backend
            && let Err(error) = near::barrier(redis, self.shared.config.near_lease, Some(key)).await
        {
            tracing::warn!(%error, key = key.as_str(), "near caches could not be told of a replaced value");
        }
    }

    /// Gives up this process' near-cache lease, if it has one (call at shutdown, after the
    /// last request): invalidations then stop waiting for this process at once.
    pub async fn release_near(&self) {
        if let (Some(near), Backend::Redis { redis, .. }) =
            (self.shared.near.as_deref(), &self.shared.backend)
        {
            near::release(near, redis).await;
        }
    }

    /// Entries in this process' near cache (0 without one).
    pub fn near_entries(&self) -> usize {
        self.shared.near.as_deref().map_or(0, NearCache::len)
    }

    /// Whether this process' near cache is in use right now (its lease holds).
    pub fn near_active(&self) -> bool {
        self.shared.near.as_deref().is_some_and(NearCache::usable)
    }

    /// A snapshot of the backend state and the hit/miss counters.
    pub async fn stats(&self) -> CacheStats {
        let (redis_used_memory, redis_keys) = match &self.shared.backend {
            Backend::Redis { redis, .. } if redis.is_up() => redis
                .server_stats()
                .await
                .map_or((None, None), |(used, keys)| (used, Some(keys))),
            _ => (None, None),
        };
        let memory_cache_size = self.memory_entries().await;
        let categories = self.shared.counters.categories();
        let hits = categories.values().map(|c| c.hits).sum();
        let misses = categories.values().map(|c| c.misses).sum();
        CacheStats {
            backend: self.backend(),
            redis_connected: self.redis_connected(),
            redis_used_memory,
            redis_keys,
            memory_cache_size,
            hits,
            misses,
            hit_rate: hit_rate(hits, misses),
            categories,
        }
    }

    /// Entries in the memory cache (the backend, or the fallback), without asking Redis.
    pub async fn memory_entries(&self) -> u64 {
        match &self.shared.backend {
            Backend::Memory(memory) => memory.len().await,
            Backend::Redis { fallback, .. } => fallback.len().await,
        }
    }

    /// Whether Redis is configured but unreachable, so reads go to the in-memory fallback.
    pub fn on_fallback(&self) -> bool {
        match &self.shared.backend {
            Backend::Memory(_) => false,
            Backend::Redis { redis, .. } => !redis.is_up(),
        }
    }

    /// The hit and miss families (`category`, `backend` labels), for registering in a
    /// Prometheus registry; clones share the counts.
    pub fn counter_families(&self) -> (Family<ReadLabels, Counter>, Family<ReadLabels, Counter>) {
        let counters = &self.shared.counters;
        (counters.hits.clone(), counters.misses.clone())
    }

    /// Creates `category`'s counters at zero (so they are exported before its first read).
    pub fn count_category(&self, category: &str) {
        self.shared.counters.category(category);
    }

    /// `"redis"` or `"memory"`: what serves reads right now.
    pub fn backend(&self) -> &'static str {
        if self.redis_connected() {
            "redis"
        } else {
            "memory"
        }
    }

    /// Whether Redis is configured and answers right now.
    pub fn redis_connected(&self) -> bool {
        match &self.shared.backend {
            Backend::Memory(_) => false,
            Backend::Redis { redis, .. } => redis.is_up(),
        }
    }

    /// The time-to-live used when a caller gives none.
    pub fn default_ttl(&self) -> Duration {
        self.shared.config.default_ttl
    }

    /// Reads `key` from whichever store serves now (the near cache first), without counting.
    async fn lookup(&self, key: &CacheKey) -> (Option<Bytes>, Ticket) {
        self.lookup_in(key, true).await
    }

    /// Reads `key` from whichever store serves now, without counting; the near cache is
    /// consulted only with `near` (a caller about to store needs Redis' generation).
    async fn lookup_in(&self, key: &CacheKey, near: bool) -> (Option<Bytes>, Ticket) {
        match &self.shared.backend {
            Backend::Memory(memory) => {
                let (value, generation) = memory.get(key).await;
                (value, Ticket::Memory(generation))
            }
            Backend::Redis { redis, fallback } => {
                if redis.is_up() {
                    let near = self.shared.near.as_deref().filter(|_| near);
                    if let Some(value) = near.and_then(|near| near.get(key)) {
                        return (Some(value), Ticket::Near);
                    }
                    let epoch = near.map(NearCache::epoch);
                    match redis.get(key).await {
                        Ok((value, generation)) => {
                            if let (Some(near), Some(epoch), Some(value)) = (near, epoch, &value) {
                                near.fill(key, value, epoch, self.shared.config.default_ttl);
                            }
                            return (value, Ticket::Redis(generation));
                        }
                        Err(error) => {
                            tracing::debug!(%error, key = key.as_str(), "redis get failed")
                        }
                    }
                }
                let (value, generation) = fallback.get(key).await;
                (value, Ticket::Fallback(generation))
            }
        }
    }

    /// Stores a computed value where, and under the generation, its lookup happened; drops it
    /// if the serving store changed since.
    async fn store(&self, key: &CacheKey, ticket: Ticket, value: Bytes, ttl: Duration) {
        match (&self.shared.backend, ticket) {
            (Backend::Memory(memory), Ticket::Memory(generation)) => {
                memory.set_at(key, &generation, value, ttl).await;
            }
            (Backend::Redis { redis, .. }, Ticket::Redis(generation)) if redis.is_up() => {
                if let Err(error) = redis.set_at(key, &generation, &value, ttl).await {
                    tracing::debug!(%error, key = key.as_str(), "redis set failed");
                }
            }
            (Backend::Redis { redis, fallback }, Ticket::Fallback(generation))
                if !redis.is_up() =>
            {
                fallback
                    .set_at(key, &generation, value, self.fallback_ttl(ttl))
                    .await;
            }
            _ => {}
        }
    }

    /// Counts a read and logs it at debug level.
    fn record(&self, key: &CacheKey, ticket: &Ticket, hit: bool) {
        let served = match ticket {
            Ticket::Redis(_) => Served::Redis,
            Ticket::Memory(_) | Ticket::Fallback(_) => Served::Memory,
            Ticket::Near => Served::Near,
        };
        self.shared.counters.record(key.category(), served, hit);
        tracing::debug!(
            key = key.as_str(),
            outcome = if hit { "hit" } else { "miss" },
            "cache read"
        );
    }

    /// `ttl`, capped at the fallback's time-to-live.
    fn fallback_ttl(&self, ttl: Duration) -> Duration {
        ttl.min(self.shared.config.fallback_ttl)
    }
}
