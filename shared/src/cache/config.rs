//! [`CacheConfig`]: how the cache service is set up.

use std::fmt;
use std::time::Duration;

/// How the cache service is set up.
#[derive(Clone)]
pub struct CacheConfig {
    /// Redis URL (`redis://host:6379/0`, or `redis+sentinel://…` for a Sentinel service's
    /// master; see `crate::redis_target`); `None` runs on memory only.
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
