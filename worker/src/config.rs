//! The worker's options (flags and environment variables), shared by `mediawarm-worker` and
//! by `mediawarm-api` when it runs the worker in-process.

use std::path::Path;
use std::time::Duration;

use mediawarm_shared::queue::{EnqueueOptions, MIN_HEARTBEAT, OnPushFailure, QueueConfig};

use crate::scraper::ScraperConfig;

/// How workers run jobs.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Scrape jobs one worker process runs at a time (also its fetch batch).
    #[arg(long = "concurrency", env = "WORKER_CONCURRENCY", default_value_t = 4)]
    pub worker_concurrency: usize,
    /// How often an idle worker looks for new jobs, in milliseconds.
    #[arg(long, env = "WORKER_POLL_MS", default_value_t = 100)]
    pub worker_poll_ms: u64,
    /// A worker's heartbeat, in milliseconds (at least 1000: apalis counts liveness in whole
    /// seconds); its jobs are re-queued by another worker after three missed heartbeats (a
    /// worker killed mid-job).
    #[arg(long, env = "WORKER_HEARTBEAT_MS", default_value_t = 2000)]
    pub worker_heartbeat_ms: u64,
    /// Attempts per job before it ends dead.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 4)]
    pub job_max_attempts: i32,
    /// First retry delay in milliseconds; doubles each attempt (with jitter), capped at 5 min.
    #[arg(long, env = "JOB_RETRY_BASE_MS", default_value_t = 2000)]
    pub job_retry_base_ms: u64,
    /// Finished jobs are deleted after this many hours.
    #[arg(long, env = "JOB_RETENTION_HOURS", default_value_t = 168)]
    pub job_retention_hours: u64,
    /// Enqueueing is refused (503 `queue_full`) past this many waiting or running jobs.
    #[arg(long, env = "QUEUE_MAX_DEPTH", default_value_t = 5000)]
    pub queue_max_depth: i64,
    /// Prefix of the queue names (isolates deployments sharing one Redis).
    #[arg(long, env = "QUEUE_NAMESPACE", default_value = "mediawarm")]
    pub queue_namespace: String,
    /// How many of the hottest keys a scrape rewarms, and a warm job's default.
    #[arg(long, env = "WARM_TOP_N", default_value_t = 50)]
    pub warm_top_n: usize,
    /// Let the scraper fetch 127.0.0.0/8 (tests and the demo); private ranges stay closed.
    #[arg(long, env = "SCRAPE_ALLOW_LOOPBACK", default_value_t = false)]
    pub scrape_allow_loopback: bool,
    /// The User-Agent the scraper sends.
    #[arg(
        long,
        env = "SCRAPE_USER_AGENT",
        default_value = "mediawarm/0.1 (+https://github.com/mediawarm/mediawarm)"
    )]
    pub scrape_user_agent: String,
    /// Retries of one request on 429/502/503/504 and timeouts, within a scrape (honouring
    /// `Retry-After`); the job's own retries come after these.
    #[arg(long, env = "SCRAPE_MAX_RETRIES", default_value_t = 3)]
    pub scrape_max_retries: u32,
    /// Do not run the cron scheduler in this process (consume jobs only).
    #[arg(long, env = "NO_CRON", default_value_t = false)]
    pub no_cron: bool,
    /// The queue's own Redis (persistent, `noeviction`); unset: the cache's `REDIS_URL`.
    #[arg(long, env = "QUEUE_REDIS_URL")]
    pub queue_redis_url: Option<String>,
    /// How long a running job is held by its delivery without a renewal, in milliseconds
    /// (renewed every third of it). Raised to twice the queue's orphan window (heartbeat × 3),
    /// so apalis' own re-queue of a dead worker's tasks comes before the reconciler's.
    #[arg(long, env = "JOB_LEASE_MS", default_value_t = 10_000)]
    pub job_lease_ms: u64,
    /// How often the reconciler runs (one process at a time), in milliseconds.
    #[arg(long, env = "RECONCILE_INTERVAL_MS", default_value_t = 10_000)]
    pub reconcile_interval_ms: u64,
    /// Wall-clock limit of one scrape attempt, in seconds (the scraper's 600 s run budget
    /// plus 60 s); past it the attempt fails as transient and frees its worker slot.
    #[arg(long, env = "SCRAPE_DEADLINE_SECS", default_value_t = 660)]
    pub scrape_deadline_secs: u64,
    /// Wall-clock limit of one warm attempt, in seconds.
    #[arg(long, env = "WARM_DEADLINE_SECS", default_value_t = 120)]
    pub warm_deadline_secs: u64,
    /// Wall-clock limit of one invalidate attempt, in seconds.
    #[arg(long, env = "INVALIDATE_DEADLINE_SECS", default_value_t = 120)]
    pub invalidate_deadline_secs: u64,
}

impl WorkerArgs {
    /// The queue's Redis: `QUEUE_REDIS_URL`, else `cache_redis_url` (the cache's).
    pub fn queue_redis<'a>(&'a self, cache_redis_url: Option<&'a str>) -> Option<&'a str> {
        self.queue_redis_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .or(cache_redis_url)
    }

    /// How long a delivery holds its running job without renewing: `JOB_LEASE_MS`, raised to
    /// twice the queue's orphan window.
    pub fn job_lease(&self) -> Duration {
        let heartbeat = Duration::from_millis(self.worker_heartbeat_ms).max(MIN_HEARTBEAT);
        let orphan = heartbeat * mediawarm_shared::queue::MIN_MISSED_HEARTBEATS;
        Duration::from_millis(self.job_lease_ms).max(orphan * 2)
    }

    /// How often the reconciler runs.
    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_millis(self.reconcile_interval_ms.max(100))
    }

    /// The wall-clock limit of one attempt of a job of `kind`.
    pub fn deadline(&self, kind: mediawarm_shared::jobs::JobKind) -> Duration {
        use mediawarm_shared::jobs::JobKind;
        let secs = match kind {
            JobKind::Scrape => self.scrape_deadline_secs,
            JobKind::Warm => self.warm_deadline_secs,
            JobKind::Invalidate => self.invalidate_deadline_secs,
        };
        Duration::from_secs(secs.max(1))
    }

    /// The queue configuration for `redis_url` (or the SQLite file in `data_dir`).
    pub fn queue_config(&self, redis_url: Option<&str>, data_dir: &Path) -> QueueConfig {
        let concurrency = self.worker_concurrency.max(1);
        QueueConfig {
            redis_url: redis_url.filter(|u| !u.is_empty()).map(str::to_owned),
            sqlite_path: data_dir.join("queue.db"),
            namespace: self.queue_namespace.clone(),
            poll_interval: Duration::from_millis(self.worker_poll_ms.max(1)),
            heartbeat: Duration::from_millis(self.worker_heartbeat_ms).max(MIN_HEARTBEAT),
            missed_heartbeats: 3,
            fetch_batch: concurrency,
        }
    }

    /// How jobs are enqueued (by the API, the scheduler and retries by hand).
    pub fn enqueue_options(&self) -> EnqueueOptions {
        EnqueueOptions {
            max_attempts: self.job_max_attempts.max(1),
            max_depth: self.queue_max_depth.max(1),
            dedup_key: None,
            request_id: None,
            on_push_failure: OnPushFailure::Withdraw,
        }
    }

    /// The scraper's configuration, with per-host limits per process.
    pub fn scraper_config(&self) -> ScraperConfig {
        self.scraper_config_shared(None)
    }

    /// The scraper's configuration, with per-host rate and concurrency limits shared through
    /// the Redis at `redis_url` (the cache's) by every process of the deployment,
    /// under the queue namespace; `None` keeps them per process.
    pub fn scraper_config_shared(&self, redis_url: Option<&str>) -> ScraperConfig {
        ScraperConfig {
            user_agent: self.scrape_user_agent.clone(),
            allow_loopback: self.scrape_allow_loopback,
            redis_url: redis_url.filter(|u| !u.is_empty()).map(str::to_owned),
            redis_prefix: format!("{}:", self.queue_namespace),
            max_retries: self.scrape_max_retries,
            ..ScraperConfig::default()
        }
    }
}
