//! The cache service: Redis with an in-memory fallback, generations for freshness,
//! concurrent-miss coalescing and statistics.
//!
//! ## Guarantees
//! - **Reads never fail.** With no Redis configured the service runs on memory. With Redis
//!   configured but unreachable (at start or later) it serves from a fallback memory cache
//!   whose entries live only `fallback_ttl`, warns once, keeps retrying, and returns to Redis
//!   within a few health intervals of Redis answering again, emptying the fallback first (a
//!   process on the fallback could not see other processes' invalidations).
//! - **Freshness.** Each category has a random generation token; values are stored under
//!   `{prefix}{key}@{generation}`. [`CacheService::invalidate`] replaces the tokens of every
//!   category a pattern can reach, and [`CacheService::get_or_set`] stores under the token it
//!   read *before* computing, so a value computed from data older than an invalidation can
//!   never be read after it. Tokens are random, never counters: if Redis loses them, new ones
//!   cannot revive old values.
//! - **Coalescing.** Concurrent misses of one key in one process run one computation.
//! - **Bounded calls.** Every Redis call is bounded by `redis_timeout`.
//!
//! ## Layout
//! - `key`: [`CacheKey`] and [`KeyPattern`], parsed at the edge.
//! - `memory`: the moka-backed store (the memory backend and the fallback).
//! - `redis`: the Redis store, its Lua scripts and its up/down state.
//! - `flights`: the per-key locks behind coalescing.

mod flights;
mod key;
mod memory;
mod near;
mod redis;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use tokio::task::JoinHandle;

pub use key::{CacheKey, KeyError, KeyPattern};

use self::flights::Flights;
use self::memory::MemoryStore;
use self::near::NearCache;
use self::redis::RedisStore;
use crate::error::CacheError;

/// How the cache service is set up.
#[derive(Clone)]
pub struct CacheConfig {
    /// Redis URL (`redis://host:6379/0`); `None` runs on memory only.
    pub redis_url: Option<String>,
    /// Prepended to every key stored in Redis, so several deployments (or tests) can share
    /// one Redis database.
    pub prefix: String,
    /// Time-to-live of entries when the caller gives none.
    pub default_ttl: Duration,
    /// Longest time-to-live of entries written while on the fallback: short, because a
    /// process on the fallback cannot see other processes' invalidations.
    pub fallback_ttl: Duration,
    /// Byte budget of the memory cache (keys and values).
    pub memory_max_bytes: u64,
    /// How often Redis is pinged to detect loss and return.
    pub health_interval: Duration,
    /// Longest wait for one Redis answer before Redis is considered down.
    pub redis_timeout: Duration,
    /// Keep values read from Redis in this process too (the near cache; see `near.rs` for
    /// the protocol that keeps it fresh). Only with Redis; for processes that serve reads.
    pub near: bool,
    /// The near cache's lease length: how long, at most, an invalidation waits for a process
    /// that stopped acknowledging.
    pub near_lease: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            prefix: "mw:".to_owned(),
            default_ttl: Duration::from_secs(300),
            fallback_ttl: Duration::from_secs(5),
            memory_max_bytes: 256 * 1024 * 1024,
            health_interval: Duration::from_secs(1),
            redis_timeout: Duration::from_millis(250),
            near: false,
            near_lease: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("prefix", &self.prefix)
            .field("default_ttl", &self.default_ttl)
            .field("fallback_ttl", &self.fallback_ttl)
            .field("memory_max_bytes", &self.memory_max_bytes)
            .field("health_interval", &self.health_interval)
            .field("redis_timeout", &self.redis_timeout)
            .field("near", &self.near)
            .field("near_lease", &self.near_lease)
            .finish()
    }
}

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

/// Hits and misses of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryStats {
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when there were no reads.
    pub hit_rate: f64,
}

/// A snapshot of the cache's state and counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheStats {
    /// `redis` or `memory`: what serves reads right now.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub backend: &'static str,
    /// Whether Redis answers right now.
    pub redis_connected: bool,
    /// Redis' `used_memory_human` (e.g. `"2.50M"`), when Redis answered.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub redis_used_memory: Option<String>,
    /// Redis' `DBSIZE`, when Redis answered.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub redis_keys: Option<u64>,
    /// Entries in the memory cache (the backend, or the fallback).
    pub memory_cache_size: u64,
    /// Reads served from the cache, all categories.
    pub hits: u64,
    /// Reads that found nothing, all categories.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when there were no reads.
    pub hit_rate: f64,
    /// The same counters per category (`media`, `volume`, `simplified`).
    pub categories: BTreeMap<String, CategoryStats>,
}

/// `hits / (hits + misses)`, or 0.
fn hit_rate(hits: u64, misses: u64) -> f64 {
    let reads = hits + misses;
    if reads == 0 {
        0.0
    } else {
        hits as f64 / reads as f64
    }
}

/// Where values live.
#[derive(Debug)]
enum Backend {
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

/// What [`CacheService::invalidate_and_rewarm`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rewarm {
    /// Keys computed and installed with the new generation.
    pub warmed: u64,
    /// Keys whose computation or store failed (they will be computed on their next read).
    pub failed: u64,
    /// Whether the category switched to the warmed generation (false: a concurrent
    /// invalidation won and the category was invalidated plainly).
    pub switched: bool,
}

/// `category`, `backend` of a cache read, as the Prometheus families label them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReadLabels {
    category: String,
    backend: &'static str,
}

/// Which store answered a read: `redis`, `memory` (the memory backend or the fallback), or
/// `near` (the near cache in front of Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    Redis,
    Memory,
    Near,
}

impl Served {
    const ALL: [Self; 3] = [Self::Redis, Self::Memory, Self::Near];

    fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Memory => "memory",
            Self::Near => "near",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Redis => 0,
            Self::Memory => 1,
            Self::Near => 2,
        }
    }
}

/// One category's counters: hits then misses, each by [`Served`].
#[derive(Debug, Clone)]
struct CategoryCounters {
    hits: [Counter; 3],
    misses: [Counter; 3],
}

/// Hit and miss counters per category and serving backend. They are the Prometheus series
/// themselves (`mediawarm_cache_hits_total`, `mediawarm_cache_misses_total`): counting a read
/// is a read-locked map lookup by `&str` and one atomic add.
#[derive(Debug, Default)]
struct Counters {
    hits: Family<ReadLabels, Counter>,
    misses: Family<ReadLabels, Counter>,
    /// A std lock: held for one lookup or one insert, never across an await.
    per_category: RwLock<HashMap<String, CategoryCounters>>,
}

impl Counters {
    /// `category`'s counters, created at zero on first use.
    fn category(&self, category: &str) -> CategoryCounters {
        if let Some(counters) = self
            .per_category
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(category)
        {
            return counters.clone();
        }
        let series = |family: &Family<ReadLabels, Counter>| {
            Served::ALL.map(|served| {
                family
                    .get_or_create(&ReadLabels {
                        category: category.to_owned(),
                        backend: served.as_str(),
                    })
                    .clone()
            })
        };
        let counters = CategoryCounters {
            hits: series(&self.hits),
            misses: series(&self.misses),
        };
        self.per_category
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(category.to_owned())
            .or_insert(counters)
            .clone()
    }

    /// Counts one read of `category` answered by `served`.
    fn record(&self, category: &str, served: Served, hit: bool) {
        let index = served.index();
        {
            let map = self
                .per_category
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(counters) = map.get(category) {
                let series = if hit {
                    &counters.hits
                } else {
                    &counters.misses
                };
                series[index].inc();
                return;
            }
        }
        let counters = self.category(category);
        let series = if hit {
            &counters.hits
        } else {
            &counters.misses
        };
        series[index].inc();
    }

    /// The counters per category (both backends summed).
    fn categories(&self) -> BTreeMap<String, CategoryStats> {
        self.per_category
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(category, counters)| {
                let hits = counters.hits.iter().map(Counter::get).sum();
                let misses = counters.misses.iter().map(Counter::get).sum();
                let stats = CategoryStats {
                    hits,
                    misses,
                    hit_rate: hit_rate(hits, misses),
                };
                (category.clone(), stats)
            })
            .collect()
    }
}

/// State shared by every clone of the service and its health task.
#[derive(Debug)]
struct Shared {
    /// The configuration it was built with.
    config: CacheConfig,
    /// Where values live.
    backend: Backend,
    /// Hit and miss counters.
    counters: Counters,
    /// Keys being computed by `get_or_set`.
    flights: Flights,
    /// The near cache, when configured (with Redis).
    near: Option<Arc<NearCache>>,
}

/// Stops the background tasks (Redis health, near-cache lease) when the last service clone
/// goes away.
#[derive(Debug)]
struct HealthTask(Vec<JoinHandle<()>>);

impl Drop for HealthTask {
    fn drop(&mut self) {
        for task in self.0.drain(..) {
            task.abort();
        }
    }
}

/// The cache service. Cheap to clone (two `Arc`s); the background health task stops when
/// the last clone is dropped.
#[derive(Clone, Debug)]
pub struct CacheService {
    /// Stores, counters and in-flight computations.
    shared: Arc<Shared>,
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
    /// so the caller (a job) retries.
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
                    return Err(CacheError::Unavailable);
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

    /// Invalidates `category` after a data change and, in the same step, installs freshly
    /// computed values for `keys` (the category's hot keys), so their readers see neither a
    /// miss nor a stale value.
    ///
    /// The values are computed (after the caller's data change) and stored under a new
    /// generation that no reader uses yet; then the category switches to it with a
    /// compare-and-set. Readers see the old values until the switch and the new ones after.
    /// If another invalidation replaced the generation meanwhile, the computed values may
    /// predate its change, so they are abandoned and the category is plainly invalidated
    /// instead (fresh, at the cost of misses). With Redis configured this must reach Redis;
    /// if it cannot, the fallback is emptied and the call fails with
    /// [`CacheError::Unavailable`] so the caller (a job) retries. Keys outside `category` are
    /// ignored.
    #[tracing::instrument(skip_all, fields(category, keys = keys.len()), err)]
    pub async fn invalidate_and_rewarm<F, Fut, E>(
        &self,
        category: &str,
        keys: &[CacheKey],
        compute: F,
    ) -> Result<Rewarm, CacheError>
    where
        F: Fn(CacheKey) -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
        E: fmt::Display,
    {
        let expected = match &self.shared.backend {
            Backend::Memory(memory) => memory.generation(category),
            Backend::Redis { redis, fallback } => {
                fallback.replace_generations(&[category]);
                match redis.generation(category).await {
                    Ok(generation) => generation,
                    Err(error) => {
                        fallback.clear().await;
                        tracing::warn!(%error, "invalidation could not reach redis; fallback emptied");
                        return Err(CacheError::Unavailable);
                    }
                }
            }
        };
        let next = memory::new_generation();
        let ttl = self.shared.config.default_ttl;
        let mut report = Rewarm::default();
        for key in keys.iter().filter(|k| k.category() == category) {
            let value = match compute(key.clone()).await {
                Ok(value) => value,
                Err(error) => {
                    tracing::warn!(key = key.as_str(), %error, "rewarm: computing a hot key failed");
                    report.failed += 1;
                    continue;
                }
            };
            let stored = match &self.shared.backend {
                Backend::Memory(memory) => {
                    memory.set_at(key, &next, value, ttl).await;
                    true
                }
                Backend::Redis { redis, .. } => redis.set_at(key, &next, &value, ttl).await.is_ok(),
            };
            if stored {
                report.warmed += 1;
            } else {
                report.failed += 1;
            }
        }
        report.switched = match &self.shared.backend {
            Backend::Memory(memory) => memory.swap_generation(category, &expected, &next),
            Backend::Redis { redis, .. } => {
                redis.swap_generation(category, &expected, &next).await?
            }
        };
        if !report.switched {
            tracing::info!(
                category,
                "rewarm: a concurrent invalidation won; invalidating plainly"
            );
            report.warmed = 0;
            match &self.shared.backend {
                Backend::Memory(memory) => memory.replace_generations(&[category]),
                Backend::Redis { redis, .. } => redis.replace_generations(&[category]).await?,
            }
        }
        if let Backend::Redis { redis, .. } = &self.shared.backend {
            self.near_barrier(redis).await?;
        }
        Ok(report)
    }

    /// Completes a change made in Redis for every near cache (see `near.rs`): returns once
    /// every process holding a live lease has emptied its near cache or lost its lease.
    async fn near_barrier(&self, redis: &RedisStore) -> Result<(), CacheError> {
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

/// Pings Redis every `health_interval`: marks it down on failure (dropping the connection so
/// the next ping opens a fresh one), and back up on success after emptying the fallback.
async fn watch_redis(shared: Arc<Shared>) {
    let Backend::Redis { redis, fallback } = &shared.backend else {
        return;
    };
    let mut ticks = tokio::time::interval(shared.config.health_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match redis.ping().await {
            Ok(()) if !redis.is_up() => {
                fallback.clear().await;
                redis.mark_up();
                fallback.clear().await;
                tracing::info!(
                    backend = "redis",
                    "redis reachable again; serving from redis, in-memory fallback emptied"
                );
            }
            Ok(()) => {}
            Err(error) => {
                redis.mark_down(&error);
                redis.forget_connection();
            }
        }
    }
}
