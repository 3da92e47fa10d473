//! The job queue: apalis storages behind one small module (its API moved between releases).
//!
//! One queue per [`JobKind`] (`{namespace}:scrape`, `…:warm`, `…:invalidate`), each carrying
//! [`JobEnvelope`]s: on Redis (`apalis-redis`) when `REDIS_URL` is set, else on a SQLite file
//! of its own (`apalis-sqlite` runs its own migrations, so it cannot share the store's file).
//! The queue only transports work; job state lives in the store's `jobs` table.
//!
//! Settings that matter (APALIS-NOTES): idle workers look for work every `poll_interval`; a
//! worker that stops heart-beating for `heartbeat × missed_heartbeats` has its jobs re-queued
//! by any live worker, including a fresh one after a deploy.
//!
//! On Redis, task locks and pub/sub task events are off. A fetch already moves each task
//! atomically into the fetching worker's in-flight set, and re-queueing after a lapsed
//! heartbeat reads only those sets, so the lock adds no exclusivity; what it does cost is a
//! Lua call per batch whose `LREM` scans the whole waiting list once per task (quadratic in
//! the backlog). Nothing subscribes to apalis' events: job state is ours.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use apalis_core::backend::TaskSink;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_redis::{Config as RedisConfig, RedisStorage};
use apalis_sqlite::{Config as SqliteConfig, SqlitePool, SqliteStorage};
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::jobs::{JobEnvelope, JobKind, JobPayload, JobStatus, new_job_id};
use crate::store::{NewJob, Store};

/// How to reach the queue and how workers poll it.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Redis URL; `None` selects the SQLite queue file.
    pub redis_url: Option<String>,
    /// The SQLite queue file (embedded mode).
    pub sqlite_path: PathBuf,
    /// Prefix of queue names (Redis keys, SQLite job types): isolates deployments and tests.
    pub namespace: String,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// How often a worker proves it is alive; at least [`MIN_HEARTBEAT`].
    pub heartbeat: Duration,
    /// Missed heartbeats after which a worker's jobs are re-queued; at least
    /// [`MIN_MISSED_HEARTBEATS`].
    pub missed_heartbeats: u32,
    /// Jobs one worker fetches at a time (keep it equal to its concurrency: jobs waiting in
    /// a busy worker's memory get no heartbeat and would be run twice).
    pub fetch_batch: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            sqlite_path: PathBuf::from("./data/queue.db"),
            namespace: "mediawarm".to_owned(),
            poll_interval: Duration::from_millis(100),
            heartbeat: Duration::from_secs(2),
            missed_heartbeats: 3,
            fetch_batch: 4,
        }
    }
}

/// The shortest heartbeat [`Queue::connect`] configures. apalis records worker liveness
/// in whole seconds and truncates `heartbeat × missed_heartbeats` to whole seconds, so a
/// shorter heartbeat lets a peer declare a live, heart-beating worker dead and run its job
/// a second time (seen with 500 ms: the 1.5 s window became 1 s).
pub const MIN_HEARTBEAT: Duration = Duration::from_secs(1);

/// The fewest missed heartbeats [`Queue::connect`] configures: with whole-second liveness
/// the orphan window must exceed one heartbeat plus a second of rounding.
pub const MIN_MISSED_HEARTBEATS: u32 = 3;

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis refused or did not answer.
    #[error("queue (redis): {0}")]
    Redis(String),
    /// The SQLite queue file failed.
    #[error("queue (sqlite): {0}")]
    Sqlite(String),
    /// A push was refused.
    #[error("queue push failed: {0}")]
    Push(String),
}

/// The storage of one job kind's queue.
#[derive(Debug, Clone)]
pub enum Storage {
    /// On Redis.
    Redis(RedisStorage<JobEnvelope>),
    /// On SQLite.
    Sqlite(SqliteStorage<JobEnvelope>),
}

/// The three queues. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    config: QueueConfig,
    scrape: Storage,
    warm: Storage,
    invalidate: Storage,
}

impl Queue {
    /// Connects to Redis, or opens (and sets up) the SQLite queue file. The heartbeat and
    /// missed heartbeats are raised to [`MIN_HEARTBEAT`] and [`MIN_MISSED_HEARTBEATS`].
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(mut config: QueueConfig) -> Result<Self, QueueError> {
        config.heartbeat = config.heartbeat.max(MIN_HEARTBEAT);
        config.missed_heartbeats = config.missed_heartbeats.max(MIN_MISSED_HEARTBEATS);
        let storages = match &config.redis_url {
            Some(url) => {
                let conn = tokio::time::timeout(
                    Duration::from_secs(5),
                    apalis_redis::connect(url.as_str()),
                )
                .await
                .map_err(|_| QueueError::Redis("connection timed out".to_owned()))?
                .map_err(|e| QueueError::Redis(e.to_string()))?;
                let make = |kind: JobKind| {
                    let cfg = RedisConfig::default()
                        .queue(format!("{}:{}", config.namespace, kind.as_str()))
                        .batch_size(config.fetch_batch)
                        .heartbeat_interval(config.heartbeat)
                        .missed_heartbeats(config.missed_heartbeats as usize)
                        .idempotency_ttl(Some(Duration::from_secs(24 * 3600)))
                        .lock_tasks(false)
                        .emit_events(false);
                    Storage::Redis(RedisStorage::new(conn.clone()).with_config(cfg))
                };
                [
                    make(JobKind::Scrape),
                    make(JobKind::Warm),
                    make(JobKind::Invalidate),
                ]
            }
            None => {
                if let Some(dir) = config.sqlite_path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| QueueError::Sqlite(e.to_string()))?;
                }
                let options = apalis_sqlite::SqliteConnectOptions::from_str(&format!(
                    "sqlite://{}",
                    config.sqlite_path.display()
                ))
                .map_err(|e| QueueError::Sqlite(e.to_string()))?
                .create_if_missing(true)
                .busy_timeout(Duration::from_secs(5));
                // One connection: SQLite serialises writers anyway, and a single connection
                // per process never meets a lock-upgrade deadlock (SQLITE_BUSY without waiting)
                // between its own pushes, fetches and heartbeats.
                let pool: SqlitePool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|e| QueueError::Sqlite(e.to_string()))?;
                SqliteStorage::<()>::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Sqlite(e.to_string()))?;
                let make = |kind: JobKind| {
                    let cfg = SqliteConfig::default()
                        .queue(format!("{}:{}", config.namespace, kind.as_str()))
                        .batch_size(config.fetch_batch)
                        .heartbeat_interval(config.heartbeat)
                        .missed_heartbeats(config.missed_heartbeats as usize);
                    Storage::Sqlite(SqliteStorage::new(&pool).with_config(cfg))
                };
                [
                    make(JobKind::Scrape),
                    make(JobKind::Warm),
                    make(JobKind::Invalidate),
                ]
            }
        };
        let [scrape, warm, invalidate] = storages;
        Ok(Self {
            config,
            scrape,
            warm,
            invalidate,
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// `"redis"` or `"sqlite"`.
    pub fn backend(&self) -> &'static str {
        match self.scrape {
            Storage::Redis(_) => "redis",
            Storage::Sqlite(_) => "sqlite",
        }
    }

    /// The storage of `kind`'s queue (workers poll it).
    pub fn storage(&self, kind: JobKind) -> Storage {
        match kind {
            JobKind::Scrape => self.scrape.clone(),
            JobKind::Warm => self.warm.clone(),
            JobKind::Invalidate => self.invalidate.clone(),
        }
    }

    /// Pushes a job, to run as soon as a worker is free or not before `run_at`.
    #[tracing::instrument(skip_all, fields(job_id = %envelope.job_id), err)]
    pub async fn push(
        &self,
        envelope: JobEnvelope,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let kind = envelope.payload.kind();
        let mut builder =
            TaskBuilder::new(envelope).task_id(TaskId::from_ulid(ulid::Ulid::generate()));
        if let Some(at) = run_at {
            builder = builder.run_at_timestamp(u64::try_from(at.timestamp()).unwrap_or(0));
        }
        let task = builder.build();
        match self.storage(kind) {
            Storage::Redis(mut s) => s
                .push_task(task)
                .await
                .map_err(|e| QueueError::Push(e.to_string())),
            Storage::Sqlite(mut s) => s
                .push_task(task)
                .await
                .map_err(|e| QueueError::Push(e.to_string())),
        }
    }
}

impl Queue {
    /// Removes the queue's own records of tasks scheduled more than `age` ago that have
    /// finished (apalis keeps them forever otherwise); returns what the backends report. On
    /// SQLite the figure counts each deleted task twice (apalis-sqlite's vacuum runs its
    /// `DELETE` and a `VACUUM` as one batch, and the row count of the first is reported again
    /// for the second), and the first kind's vacuum clears every kind (they share one table).
    pub async fn vacuum_before(&self, age: Duration) -> Result<usize, QueueError> {
        use apalis_core::backend::Vacuum;
        let mut removed = 0;
        for kind in JobKind::ALL {
            removed += match self.storage(kind) {
                Storage::Redis(mut s) => s
                    .vacuum_before(age)
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?,
                Storage::Sqlite(mut s) => s
                    .vacuum_before(age)
                    .await
                    .map_err(|e| QueueError::Sqlite(e.to_string()))?,
            };
        }
        Ok(removed)
    }
}

/// How a job is enqueued.
#[derive(Debug, Clone)]
pub struct EnqueueOptions {
    /// Attempts before the job ends dead.
    pub max_attempts: i32,
    /// Refuse when this many jobs are already waiting or running (backpressure: apalis-redis
    /// bricks its queue past ~8,000 due jobs, APALIS-NOTES 15).
    pub max_depth: i64,
    /// A de-duplication key (a scheduler tick): a second job with the same key is dropped.
    pub dedup_key: Option<String>,
    /// The id of the HTTP request enqueueing the job, recorded with it and carried to the
    /// worker that runs it.
    pub request_id: Option<String>,
}

/// Why a job was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// Too many jobs are waiting; try again later.
    #[error("the queue is full ({depth} jobs waiting or running); retry later")]
    QueueFull {
        /// Jobs waiting or running.
        depth: i64,
    },
    /// The jobs table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue refused the push (the job was recorded dead).
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Records `payload` as a new pending job and pushes it. Returns the job id, or `None`
/// when `dedup_key` was already used (the job exists already).
#[tracing::instrument(skip_all, fields(kind = %payload.kind()), err)]
pub async fn enqueue(
    store: &Store,
    queue: &Queue,
    payload: JobPayload,
    options: &EnqueueOptions,
) -> Result<Option<String>, EnqueueError> {
    let depth = store.unfinished_jobs().await?;
    if depth >= options.max_depth {
        return Err(EnqueueError::QueueFull { depth });
    }
    let id = new_job_id();
    let json = serde_json::to_value(&payload).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let job = NewJob {
        id: &id,
        kind: payload.kind(),
        payload: &json,
        max_attempts: options.max_attempts,
        dedup_key: options.dedup_key.as_deref(),
        request_id: options.request_id.as_deref(),
    };
    if !store.insert_job(&job, Utc::now()).await? {
        return Ok(None);
    }
    let envelope = JobEnvelope {
        job_id: id.clone(),
        payload,
        request_id: options.request_id.clone(),
    };
    if let Err(error) = queue.push(envelope, None).await {
        let message = format!("could not be queued: {error}");
        store
            .finish_job(&id, JobStatus::Dead, None, Some(&message), Utc::now())
            .await?;
        return Err(error.into());
    }
    Ok(Some(id))
}
