//! Configuration both binaries share: where the database and Redis are, and how the cache
//! behaves. Every option is a CLI flag and an environment variable (`.env` is honoured by the
//! binaries); values that may hold secrets are never printed by `--help`.

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::CacheConfig;
use crate::error::CacheError;
use crate::hot::HotKeys;
use crate::store::StoreConfig;

/// Where the articles live.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// PostgreSQL URL (`postgres://user@host/db`). Unset: a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the embedded mode's files (`mediawarm.db`, `queue.db`).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Largest number of database connections this process opens.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// How old, in milliseconds, the job counts that `/api/v1/queue/stats` and `/metrics`
    /// report may be: they are counted at most once per this period per process (0: on
    /// every request).
    #[arg(long, env = "JOB_COUNTS_MAX_AGE_MS", default_value_t = 1000)]
    pub job_counts_max_age_ms: u64,
}

impl StoreArgs {
    /// The store configuration these arguments describe.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            sqlite_path: self.data_dir.join("mediawarm.db"),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(2),
        }
    }

    /// The per-process job counts cache these arguments describe.
    pub fn job_counts(&self) -> crate::store::JobCounts {
        crate::store::JobCounts::new(Duration::from_millis(self.job_counts_max_age_ms))
    }
}

/// How the cache behaves.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Redis URL (`redis://host:6379/0`) for the shared cache and the queue. Unset: in-memory
    /// cache and a SQLite queue file.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Time to live of cached reads, in seconds.
    #[arg(long, env = "CACHE_TTL_SECONDS", default_value_t = 300)]
    pub cache_ttl_seconds: u64,
    /// Prefix of every key this deployment stores in Redis.
    #[arg(long, env = "CACHE_PREFIX", default_value = "mw:")]
    pub cache_prefix: String,
    /// Time to live of entries cached while Redis is unreachable, in seconds (short, because
    /// a process on the fallback cannot see other processes' invalidations).
    #[arg(long, env = "CACHE_FALLBACK_TTL_SECONDS", default_value_t = 5)]
    pub cache_fallback_ttl_seconds: u64,
    /// Upper bound of the in-memory cache, in MiB.
    #[arg(long, env = "CACHE_MEMORY_MB", default_value_t = 256)]
    pub cache_memory_mb: u64,
    /// Half-life of hot-key scores, in seconds: how fast a key that stops being read stops
    /// being warmed.
    #[arg(long, env = "HOT_HALF_LIFE_SECONDS", default_value_t = 600)]
    pub hot_half_life_seconds: u64,
}

impl CacheArgs {
    /// The cache configuration these arguments describe.
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            redis_url: self.redis_url.clone().filter(|u| !u.is_empty()),
            prefix: self.cache_prefix.clone(),
            default_ttl: Duration::from_secs(self.cache_ttl_seconds.max(1)),
            fallback_ttl: Duration::from_secs(self.cache_fallback_ttl_seconds.max(1)),
            memory_max_bytes: self.cache_memory_mb.saturating_mul(1024 * 1024),
            ..CacheConfig::default()
        }
    }

    /// The hot-key tracker: shared through Redis when it is configured, else in-process.
    pub fn hot_keys(&self) -> Result<HotKeys, CacheError> {
        let half_life = Duration::from_secs(self.hot_half_life_seconds.max(1));
        match self.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => HotKeys::shared(url, &self.cache_prefix, half_life),
            None => Ok(HotKeys::in_memory(half_life)),
        }
    }
}
