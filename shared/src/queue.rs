//! The job queue: apalis storages behind one small module (its API moved between releases).
//!
//! One queue per [`JobKind`] (`{namespace}:scrape`, `…:warm`, `…:invalidate`), each carrying
//! [`JobEnvelope`]s: on Redis (`apalis-redis`) when `REDIS_URL` is set, else on a SQLite file
//! of its own (`apalis-sqlite` runs its own migrations, so it cannot share the store's file).
//! The queue only transports work; job state lives in the store's `jobs` table, which
//! records the task id of each job's latest push. The queue is a disposable carrier: what
//! it forgets (a Redis restarted empty, a crash between recording a job and pushing it), the
//! reconciler pushes again from the table (docs/ARCHITECTURE.md, "Job states and delivery").
//!
//! `REDIS_URL` (or `QUEUE_REDIS_URL`) may name a Sentinel service (`redis+sentinel://…`): the
//! storages then share a [`MasterConnection`], which looks the master up again after a
//! connection error or a `READONLY` answer, so workers and pushes follow a fail-over. What
//! the promoted replica had not received, the reconciler pushes again.
//!
//! Besides pushing, this module answers the reconciler's questions about the carrier: which
//! task ids it still holds ([`Queue::holds`]), how many entries wait in a queue
//! ([`Queue::backlog`]), and it removes the records apalis keeps of acknowledged tasks
//! ([`Queue::sweep_acknowledged`]), which it would otherwise keep for the whole retention.
//!
//! Settings that matter (docs/ARCHITECTURE.md, "apalis"): idle workers look for work every `poll_interval`; a
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
use apalis_sqlite::SqlitePool as QueuePool;
use apalis_sqlite::{Config as SqliteConfig, SqlitePool, SqliteStorage};
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::jobs::{JobEnvelope, JobKind, JobPayload, new_job_id};
use crate::redis_target::{MasterConnection, RedisTarget};
use crate::store::{JobInsert, NewJob, Store};

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
    /// On Redis, through a connection that follows the master across a Sentinel fail-over.
    Redis(RedisStorage<JobEnvelope, MasterConnection>),
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
    /// The SQLite queue file's pool (embedded mode), for the reconciler's questions.
    sqlite: Option<QueuePool>,
}

/// The largest number of due entries one Redis queue may hold before the reconciler stops
/// pushing into it: apalis-redis promotes every due scheduled entry of a queue with one Lua
/// `unpack`, which fails for good past about 8,000 entries (docs/ARCHITECTURE.md, "apalis").
pub const MAX_CARRIER_BACKLOG: u64 = 4_000;

/// A task id for a push: a ULID, which both backends accept.
pub fn new_task_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// Which of `ids` a Redis queue still carries (its task record exists and is not final).
static HOLDS_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local out = {}
        for i, id in ipairs(ARGV) do
            local status = redis.call('hget', KEYS[1] .. ':' .. id, 'status')
            if status and status ~= 'Done' and status ~= 'Failed' and status ~= 'Killed' then
                out[i] = 1
            else
                out[i] = 0
            end
        end
        return out
        ",
    )
});

/// Removes up to `ARGV[1]` acknowledged tasks of a Redis queue: their entry in the done set,
/// their data and result fields and their meta hash. Returns how many it removed.
static SWEEP_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local ids = redis.call('spop', KEYS[1], tonumber(ARGV[1]))
        for _, id in ipairs(ids) do
            redis.call('hdel', KEYS[2], id)
            redis.call('hdel', KEYS[3] .. ':result', id)
            redis.call('del', KEYS[3] .. ':' .. id)
        end
        return #ids
        ",
    )
});

impl Queue {
    /// Connects to Redis, or opens (and sets up) the SQLite queue file. The heartbeat and
    /// missed heartbeats are raised to [`MIN_HEARTBEAT`] and [`MIN_MISSED_HEARTBEATS`].
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(mut config: QueueConfig) -> Result<Self, QueueError> {
        config.heartbeat = config.heartbeat.max(MIN_HEARTBEAT);
        config.missed_heartbeats = config.missed_heartbeats.max(MIN_MISSED_HEARTBEATS);
        let mut sqlite = None;
        let storages = match &config.redis_url {
            Some(url) => {
                let target =
                    RedisTarget::from_env(url).map_err(|e| QueueError::Redis(e.to_string()))?;
                let conn = MasterConnection::connect(target, Duration::from_secs(5))
                    .await
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
                sqlite = Some(pool.clone());
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
            sqlite,
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

    /// Pushes a job under `task_id`, to run as soon as a worker is free or not before
    /// `run_at`. On Redis a failed push is tried once more with the same task id (the first
    /// command after a Redis restart meets the old, broken connection); a push of a task id
    /// the queue already holds changes nothing, so the retry cannot make a duplicate.
    #[tracing::instrument(skip_all, fields(job_id = %envelope.job_id, task_id), err)]
    pub async fn push(
        &self,
        envelope: JobEnvelope,
        task_id: &str,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let kind = envelope.payload.kind();
        let id = ulid::Ulid::from_string(task_id)
            .map_err(|e| QueueError::Push(format!("task id {task_id:?}: {e}")))?;
        let mut builder = TaskBuilder::new(envelope).task_id(TaskId::from_ulid(id));
        if let Some(at) = run_at {
            builder = builder.run_at_timestamp(u64::try_from(at.timestamp()).unwrap_or(0));
        }
        let task = builder.build();
        match self.storage(kind) {
            Storage::Redis(mut s) => match s.push_task(task.clone()).await {
                Ok(()) => Ok(()),
                Err(first) => {
                    tracing::debug!(error = %first, "push failed; trying once more");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    s.push_task(task)
                        .await
                        .map_err(|e| QueueError::Push(e.to_string()))
                }
            },
            Storage::Sqlite(mut s) => s
                .push_task(task)
                .await
                .map_err(|e| QueueError::Push(e.to_string())),
        }
    }

    /// Which of `task_ids` the queue of `kind` still carries: waiting, scheduled or in
    /// flight, not acknowledged. Answers in the order asked.
    pub async fn holds(&self, kind: JobKind, task_ids: &[String]) -> Result<Vec<bool>, QueueError> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        match self.storage(kind) {
            Storage::Redis(mut s) => {
                let meta = s.get_config().job_meta_hash();
                let mut invocation = HOLDS_SCRIPT.key(meta);
                for id in task_ids {
                    invocation.arg(id);
                }
                let held: Vec<i64> = invocation
                    .invoke_async(s.get_connection())
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?;
                Ok(held.into_iter().map(|h| h == 1).collect())
            }
            Storage::Sqlite(_) => {
                let pool = self.sqlite_pool()?;
                let mut held = Vec::with_capacity(task_ids.len());
                for chunk in task_ids.chunks(500) {
                    let placeholders = vec!["?"; chunk.len()].join(", ");
                    let sql = format!(
                        "select id from Jobs where id in ({placeholders}) \
                         and status in ('Pending', 'Queued', 'Running')"
                    );
                    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    let found: std::collections::HashSet<String> = query
                        .fetch_all(pool)
                        .await
                        .map_err(|e| QueueError::Sqlite(e.to_string()))?
                        .into_iter()
                        .collect();
                    held.extend(chunk.iter().map(|id| found.contains(id)));
                }
                Ok(held)
            }
        }
    }

    /// Entries waiting in the queue of `kind` (due or scheduled), which bounds how many the
    /// reconciler may add ([`MAX_CARRIER_BACKLOG`]).
    pub async fn backlog(&self, kind: JobKind) -> Result<u64, QueueError> {
        match self.storage(kind) {
            Storage::Redis(mut s) => {
                let config = s.get_config().clone();
                let (active, scheduled): (u64, u64) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCARD")
                    .arg(config.scheduled_jobs_set())
                    .query_async(s.get_connection())
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?;
                Ok(active + scheduled)
            }
            Storage::Sqlite(_) => {
                let pool = self.sqlite_pool()?;
                let waiting: i64 = sqlx::query_scalar(
                    "select count(*) from Jobs where job_type = ?1 and status in ('Pending', 'Queued')",
                )
                .bind(self.queue_name(kind))
                .fetch_one(pool)
                .await
                .map_err(|e| QueueError::Sqlite(e.to_string()))?;
                Ok(u64::try_from(waiting).unwrap_or(0))
            }
        }
    }

    /// Tasks of `kind` the queue keeps a record of, finished or not: what the sweep and the
    /// retention vacuum bound.
    pub async fn records(&self, kind: JobKind) -> Result<u64, QueueError> {
        match self.storage(kind) {
            Storage::Redis(mut s) => {
                let data = s.get_config().job_data_hash();
                redis::cmd("HLEN")
                    .arg(data)
                    .query_async(s.get_connection())
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))
            }
            Storage::Sqlite(_) => {
                let pool = self.sqlite_pool()?;
                let n: i64 = sqlx::query_scalar("select count(*) from Jobs where job_type = ?1")
                    .bind(self.queue_name(kind))
                    .fetch_one(pool)
                    .await
                    .map_err(|e| QueueError::Sqlite(e.to_string()))?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }
    }

    /// Removes up to `max` of the records apalis keeps of tasks of `kind` it has
    /// acknowledged (the job table holds their outcome); returns how many it removed.
    pub async fn sweep_acknowledged(&self, kind: JobKind, max: usize) -> Result<u64, QueueError> {
        match self.storage(kind) {
            Storage::Redis(mut s) => {
                let config = s.get_config().clone();
                SWEEP_SCRIPT
                    .key(config.done_jobs_set())
                    .key(config.job_data_hash())
                    .key(config.job_meta_hash())
                    .arg(max)
                    .invoke_async(s.get_connection())
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))
            }
            Storage::Sqlite(_) => {
                let pool = self.sqlite_pool()?;
                let removed = sqlx::query(
                    "delete from Jobs where rowid in (select rowid from Jobs \
                     where job_type = ?1 and status in ('Done', 'Killed') limit ?2)",
                )
                .bind(self.queue_name(kind))
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .execute(pool)
                .await
                .map_err(|e| QueueError::Sqlite(e.to_string()))?
                .rows_affected();
                Ok(removed)
            }
        }
    }

    /// The name of `kind`'s queue (Redis key prefix, SQLite job type).
    fn queue_name(&self, kind: JobKind) -> String {
        format!("{}:{}", self.config.namespace, kind.as_str())
    }

    fn sqlite_pool(&self) -> Result<&QueuePool, QueueError> {
        self.sqlite
            .as_ref()
            .ok_or_else(|| QueueError::Sqlite("the SQLite queue has no pool".to_owned()))
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
    /// bricks its queue past ~8,000 due jobs, see [`MAX_CARRIER_BACKLOG`]).
    pub max_depth: i64,
    /// A de-duplication key (a scheduler tick): a second job with the same key is dropped.
    pub dedup_key: Option<String>,
    /// The id of the HTTP request enqueueing the job, recorded with it and carried to the
    /// worker that runs it.
    pub request_id: Option<String>,
    /// What happens to the job's record when the push fails.
    pub on_push_failure: OnPushFailure,
}

/// What [`enqueue`] does with a recorded job whose push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPushFailure {
    /// Delete the record and report the failure: the caller (an API client) is told to
    /// retry, and its retry makes no duplicate.
    Withdraw,
    /// Keep the record `pending` and report success: the reconciler pushes it once the
    /// queue answers (the scheduler's ticks).
    LeaveForReconciler,
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
    /// The queue refused the push (the job's record was withdrawn).
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Records `payload` as a new pending job and pushes it. Returns the job id, or `None`
/// when `dedup_key` was already used (the job exists already). The record is written before
/// the push, with the push's task id, so a crash between the two leaves a row that the
/// reconciler pushes; a failed push is handled as `options.on_push_failure` says.
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
    let task_id = new_task_id();
    let json = serde_json::to_value(&payload).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let job = NewJob {
        id: &id,
        kind: payload.kind(),
        payload: &json,
        max_attempts: options.max_attempts,
        dedup_key: options.dedup_key.as_deref(),
        request_id: options.request_id.as_deref(),
        task_id: &task_id,
    };
    if !store.insert_job(&job, Utc::now()).await? {
        return Ok(None);
    }
    push_recorded(queue, store, id, task_id, payload, options)
        .await
        .map(Some)
}

/// What [`enqueue_unless_pending`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// The job was recorded (and pushed, or left for the reconciler); its id.
    Job(String),
    /// Its de-duplication key was taken: another caller enqueued it.
    Duplicate,
    /// Skipped: a pending job whose key shares the prefix waits still.
    Pending,
}

/// Like [`enqueue`], unless a `pending` job whose de-duplication key starts with
/// `pending_prefix` exists; the check and the record are atomic per prefix (see
/// [`Store::insert_job_unless_pending`]). The scheduler passes `cron:<source>:` so a
/// source whose last scheduled scrape has not started yet gets no second one.
///
/// `options.max_depth` is not checked here: the caller enqueueing many jobs at once (the
/// scheduler) reads the depth once per batch instead of counting the table per job.
pub async fn enqueue_unless_pending(
    store: &Store,
    queue: &Queue,
    payload: JobPayload,
    options: &EnqueueOptions,
    pending_prefix: &str,
) -> Result<Enqueued, EnqueueError> {
    let id = new_job_id();
    let task_id = new_task_id();
    let json = serde_json::to_value(&payload).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let job = NewJob {
        id: &id,
        kind: payload.kind(),
        payload: &json,
        max_attempts: options.max_attempts,
        dedup_key: options.dedup_key.as_deref(),
        request_id: options.request_id.as_deref(),
        task_id: &task_id,
    };
    match store
        .insert_job_unless_pending(&job, pending_prefix, Utc::now())
        .await?
    {
        JobInsert::Inserted => push_recorded(queue, store, id, task_id, payload, options)
            .await
            .map(Enqueued::Job),
        JobInsert::Duplicate => Ok(Enqueued::Duplicate),
        JobInsert::Pending => Ok(Enqueued::Pending),
    }
}

/// Pushes a job just recorded; on failure withdraws it or leaves it to the reconciler.
async fn push_recorded(
    queue: &Queue,
    store: &Store,
    id: String,
    task_id: String,
    payload: JobPayload,
    options: &EnqueueOptions,
) -> Result<String, EnqueueError> {
    let envelope = JobEnvelope {
        job_id: id.clone(),
        payload,
        request_id: options.request_id.clone(),
    };
    if let Err(error) = queue.push(envelope, &task_id, None).await {
        match options.on_push_failure {
            OnPushFailure::Withdraw => {
                store.delete_unstarted_job(&id).await?;
                return Err(error.into());
            }
            OnPushFailure::LeaveForReconciler => {
                tracing::warn!(job_id = %id, %error, "push failed; the reconciler will push the job");
            }
        }
    }
    Ok(id)
}
