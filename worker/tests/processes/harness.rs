//! The process harness: a deployment of one stack (embedded or production) that real
//! `mediawarm-worker` processes join, and guards over those processes.
//!
//! Guarantees: every spawned worker is SIGKILLed and reaped when its guard drops (a failing
//! test leaves no process behind); a production deployment gets its own PostgreSQL database
//! and Redis key prefix / queue namespace, removed when the [`Deployment`] drops; an
//! embedded one lives in a temporary `DATA_DIR` removed with it. Each worker's log goes to a
//! file in that directory, printed when a test fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediawarm_shared::domain::{Article, Source, SourceKind, SourceName};
use mediawarm_shared::jobs::{JobKind, JobPayload, JobRecord, JobStatus, ScrapeSource};
use mediawarm_shared::queue::{EnqueueOptions, OnPushFailure, Queue, QueueConfig, enqueue};
use mediawarm_shared::store::{Store, StoreConfig};
use mediawarm_testkit::services::TestServices;

/// Which services a deployment runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    /// A SQLite database file and a SQLite queue file in a shared `DATA_DIR`.
    Embedded,
    /// A fresh PostgreSQL database and Redis (cache and queue) under a unique prefix.
    Production,
}

/// The worker heartbeat the tests configure, in milliseconds. apalis measures worker
/// liveness in whole seconds, so a worker is re-queued after `3 × 1 s` of silence.
pub(crate) const HEARTBEAT_MS: u64 = 1000;

/// The job lease the tests configure (`JOB_LEASE_MS`, at least twice the orphan window):
/// a SIGKILLed worker's job is rerun once it lapsed.
pub(crate) const JOB_LEASE_MS: u64 = 6000;

/// Every scenario waits at most this long for one condition.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// One deployment that worker processes join: the store and queue as the test sees them,
/// and the environment every worker gets.
#[derive(Debug)]
pub(crate) struct Deployment {
    /// Which stack.
    pub(crate) stack: Stack,
    /// The store the workers write (seed sources, read jobs, runs and articles).
    pub(crate) store: Store,
    /// The queue the workers consume.
    pub(crate) queue: Queue,
    /// A read-only pool on the same database, for what `Store` does not expose.
    pub(crate) peek: Peek,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    /// A production deployment's database and Redis prefix, removed when it drops.
    _services: Option<TestServices>,
}

/// A read-only view of the database the `Store` API does not offer (de-dup keys).
#[derive(Debug)]
pub(crate) enum Peek {
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
}

impl Peek {
    /// How many scrape jobs are in each status (`"pending"`, `"running"`, `"done"`, …).
    pub(crate) async fn scrape_job_counts(&self) -> BTreeMap<String, i64> {
        const COUNTS: &str =
            "select status, count(*) from jobs where kind = 'scrape' group by status";
        let rows: Vec<(String, i64)> = match self {
            Peek::Postgres(pool) => sqlx::query_as(COUNTS).fetch_all(pool).await,
            Peek::Sqlite(pool) => sqlx::query_as(COUNTS).fetch_all(pool).await,
        }
        .expect("counting jobs by status");
        rows.into_iter().collect()
    }

    /// Whether no job holds `source`'s scrape lease.
    pub(crate) async fn source_lease_free(&self, source: &SourceName) -> bool {
        let holder: Option<String> = match self {
            Peek::Postgres(pool) => {
                sqlx::query_scalar("select lease_job from sources where name = $1")
                    .bind(source.as_str())
                    .fetch_one(pool)
                    .await
            }
            Peek::Sqlite(pool) => {
                sqlx::query_scalar("select lease_job from sources where name = ?1")
                    .bind(source.as_str())
                    .fetch_one(pool)
                    .await
            }
        }
        .expect("reading the source lease");
        holder.is_none()
    }

    /// `(dedup_key, job id)` of every job whose de-dup key starts with `prefix`.
    pub(crate) async fn dedup_keys(&self, prefix: &str) -> Vec<(String, String)> {
        let pattern = format!("{prefix}%");
        match self {
            Peek::Postgres(pool) => sqlx::query_as(
                "select dedup_key, id from jobs where dedup_key like $1 order by dedup_key",
            )
            .bind(pattern)
            .fetch_all(pool)
            .await
            .expect("reading de-dup keys"),
            Peek::Sqlite(pool) => sqlx::query_as(
                "select dedup_key, id from jobs where dedup_key like ?1 order by dedup_key",
            )
            .bind(pattern)
            .fetch_all(pool)
            .await
            .expect("reading de-dup keys"),
        }
    }
}

impl Deployment {
    /// A fresh deployment (the production stack panics when `TEST_DATABASE_URL` or
    /// `TEST_REDIS_URL` is unset).
    pub(crate) async fn new(stack: Stack) -> Self {
        Self::new_with(stack, None).await
    }

    /// [`Deployment::new`], with the production stack's cache and queue on `own_redis` (a
    /// Redis the test owns and may restart) instead of the shared one.
    pub(crate) async fn new_with(stack: Stack, own_redis: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temporary DATA_DIR");
        let data_dir = dir.path().to_owned();
        let mut env: Vec<(String, String)> = vec![
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("WORKER_POLL_MS".into(), "50".into()),
            ("WORKER_HEARTBEAT_MS".into(), HEARTBEAT_MS.to_string()),
            ("WORKER_CONCURRENCY".into(), "2".into()),
            ("JOB_RETRY_BASE_MS".into(), "200".into()),
            ("JOB_LEASE_MS".into(), JOB_LEASE_MS.to_string()),
            ("RECONCILE_INTERVAL_MS".into(), "1000".into()),
            ("SCRAPE_ALLOW_LOOPBACK".into(), "true".into()),
            ("DB_MAX_CONNECTIONS".into(), "4".into()),
            (
                "RUST_LOG".into(),
                "info,sqlx=warn,mediawarm_worker::cron=debug".into(),
            ),
        ];
        let (store_config, redis_url, namespace, services) = match stack {
            Stack::Embedded => (
                StoreConfig {
                    database_url: None,
                    sqlite_path: data_dir.join("mediawarm.db"),
                    max_connections: 4,
                    acquire_timeout: Duration::from_secs(5),
                },
                None,
                "mwtest".to_owned(),
                None,
            ),
            Stack::Production => {
                let services = TestServices::create("mwproc").await;
                let database_url = services.database.url.clone();
                let redis_url = own_redis.unwrap_or_else(|| services.redis.url.clone());
                let prefix = services.redis.prefix.clone();
                let namespace = services.redis.namespace();
                env.extend([
                    ("DATABASE_URL".into(), database_url.clone()),
                    ("REDIS_URL".into(), redis_url.clone()),
                    ("CACHE_PREFIX".into(), prefix.clone()),
                ]);
                (
                    StoreConfig {
                        database_url: Some(database_url),
                        sqlite_path: data_dir.join("unused.db"),
                        max_connections: 4,
                        acquire_timeout: Duration::from_secs(5),
                    },
                    Some(redis_url.clone()),
                    namespace.clone(),
                    Some(services),
                )
            }
        };
        env.push(("QUEUE_NAMESPACE".into(), namespace.clone()));
        let store = Store::connect(&store_config).await.expect("store");
        store.migrate().await.expect("migrations");
        let queue = Queue::connect(QueueConfig {
            redis_url: redis_url.clone(),
            sqlite_path: data_dir.join("queue.db"),
            namespace,
            poll_interval: Duration::from_millis(50),
            heartbeat: Duration::from_millis(HEARTBEAT_MS),
            missed_heartbeats: 3,
            fetch_batch: 2,
        })
        .await
        .expect("queue");
        let peek = match &store_config.database_url {
            Some(url) => Peek::Postgres(sqlx::PgPool::connect(url).await.expect("peek pool")),
            None => Peek::Sqlite(
                sqlx::SqlitePool::connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(data_dir.join("mediawarm.db"))
                        .read_only(true),
                )
                .await
                .expect("peek pool"),
            ),
        };
        Self {
            stack,
            store,
            queue,
            peek,
            env,
            dir,
            _services: services,
        }
    }

    /// Starts a worker process named `name` (its log is `name.log`) with the deployment's
    /// environment plus `extra`.
    pub(crate) fn spawn_worker(&self, name: &str, extra: &[(&str, &str)]) -> Worker {
        self.spawn_worker_without(name, extra, &[])
    }

    /// [`Deployment::spawn_worker`] with the variables `unset` removed from its environment
    /// (the deployment's own included).
    pub(crate) fn spawn_worker_without(
        &self,
        name: &str,
        extra: &[(&str, &str)],
        unset: &[&str],
    ) -> Worker {
        let log_path = self.dir.path().join(format!("{name}.log"));
        let log = File::create(&log_path).expect("worker log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_mediawarm-worker"));
        command
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("NO_CRON")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied());
        for var in unset {
            command.env_remove(var);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().expect("spawning mediawarm-worker");
        Worker {
            name: name.to_owned(),
            child,
            log_path,
            status: None,
        }
    }

    /// Records a feed source named `name` for `feed_url`, on `schedule` (or none).
    pub(crate) async fn add_source(
        &self,
        name: &str,
        feed_url: &str,
        schedule: Option<&str>,
    ) -> Source {
        let source = Source {
            name: SourceName::parse(name).expect("source name"),
            kind: SourceKind::Rss,
            url: feed_url.to_owned(),
            selectors: None,
            schedule: schedule.map(str::to_owned),
            rate_limit_per_sec: 1000.0,
            enabled: true,
        };
        self.store
            .insert_source(&source)
            .await
            .expect("inserting the source");
        source
    }

    /// Enqueues a scrape of `source` as the API does; returns the job id.
    pub(crate) async fn enqueue_scrape(&self, source: &SourceName) -> String {
        self.enqueue(JobPayload::Scrape(ScrapeSource {
            source: source.clone(),
            refresh: false,
        }))
        .await
    }

    /// Enqueues `payload` as the API does (4 attempts); returns the job id.
    pub(crate) async fn enqueue(&self, payload: JobPayload) -> String {
        let options = EnqueueOptions {
            max_attempts: 4,
            max_depth: 5000,
            dedup_key: None,
            request_id: None,
            on_push_failure: OnPushFailure::Withdraw,
        };
        enqueue(&self.store, &self.queue, payload, &options)
            .await
            .expect("enqueueing the job")
            .expect("a job without de-dup key is always enqueued")
    }

    /// The database URL the workers get.
    pub(crate) fn database_url(&self) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.as_str())
    }

    /// How many jobs of any kind are in each status.
    pub(crate) async fn job_counts(&self) -> std::collections::HashMap<JobStatus, i64> {
        let mut counts = std::collections::HashMap::new();
        for (_, status, n) in self.store.job_counts().await.expect("counting jobs") {
            *counts.entry(status).or_insert(0) += n;
        }
        counts
    }

    /// The job's record.
    pub(crate) async fn job(&self, id: &str) -> JobRecord {
        self.store
            .job(id)
            .await
            .expect("reading the job")
            .expect("the job exists")
    }

    /// Every scrape job recorded (newest first).
    pub(crate) async fn scrape_jobs(&self) -> Vec<JobRecord> {
        self.store
            .list_jobs(None, Some(JobKind::Scrape), 10_000)
            .await
            .expect("listing jobs")
    }

    /// Every article of `source`, newest first.
    pub(crate) async fn articles(&self, source: &SourceName) -> Vec<Article> {
        self.store
            .latest_after(Some(source), None, 1000)
            .await
            .expect("reading articles")
    }

    /// Whether no job holds `source`'s scrape lease.
    pub(crate) async fn source_lease_free(&self, source: &SourceName) -> bool {
        self.peek.source_lease_free(source).await
    }

    /// Every scrape run recorded, of every source.
    pub(crate) async fn all_runs(&self) -> Vec<mediawarm_shared::domain::ScrapeRun> {
        let mut runs = Vec::new();
        for source in self.store.list_sources().await.expect("listing sources") {
            runs.extend(
                self.store
                    .runs_for(&source.name, 1000)
                    .await
                    .expect("reading runs"),
            );
        }
        runs
    }

    /// Every article stored, of any source (newest first).
    pub(crate) async fn all_articles(&self) -> Vec<Article> {
        self.store
            .latest_after(None, None, 100_000)
            .await
            .expect("reading articles")
    }

    /// Polls `probe` every 50 ms until it yields a value; panics (with the workers' logs)
    /// after [`DEADLINE`].
    pub(crate) async fn wait_for<T, F, Fut>(&self, what: &str, workers: &[&Worker], probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        self.wait_within(DEADLINE, what, workers, probe).await
    }

    /// [`Self::wait_for`] with its own deadline, for conditions that take a whole workload
    /// (hundreds of jobs) to become true.
    pub(crate) async fn wait_within<T, F, Fut>(
        &self,
        deadline: Duration,
        what: &str,
        workers: &[&Worker],
        mut probe: F,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let until = Instant::now() + deadline;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if Instant::now() > until {
                for worker in workers {
                    worker.print_log();
                }
                panic!(
                    "{:?}: gave up waiting for {what} after {deadline:?}",
                    self.stack
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running `mediawarm-worker` process; SIGKILLed and reaped when dropped.
#[derive(Debug)]
pub(crate) struct Worker {
    /// Its name in the test (and its log file's).
    pub(crate) name: String,
    child: Child,
    log_path: PathBuf,
    status: Option<ExitStatus>,
}

impl Worker {
    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Prints its log (for a failing test's output).
    pub(crate) fn print_log(&self) {
        println!("----- {} log -----\n{}", self.name, self.log());
    }

    /// SIGKILL, as a crash or an OOM kill would; returns when the process is gone.
    pub(crate) fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Sends SIGTERM, as an orchestrator stopping the process does.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Whether it has exited (reaping it if so).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("polling the worker");
        }
        self.status
    }

    /// Waits (polling, up to [`DEADLINE`]) for it to exit on its own.
    pub(crate) async fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() > until {
                self.print_log();
                panic!("{} did not exit within {DEADLINE:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where it serves `GET /metrics` (started with `WORKER_METRICS_BIND=127.0.0.1:0`), from
    /// the address it logs.
    pub(crate) fn metrics_addr(&self) -> String {
        self.log()
            .lines()
            .find(|l| l.contains("worker metrics listening"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the worker logs its metrics address")
            .to_owned()
    }

    /// Its `/metrics` text.
    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics_addr()))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Waits until its log contains `needle`.
    pub(crate) async fn wait_log(&mut self, needle: &str) {
        let until = Instant::now() + DEADLINE;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Some(status) = self.exited() {
                self.print_log();
                panic!("{} exited ({status}) before logging {needle:?}", self.name);
            }
            if Instant::now() > until {
                self.print_log();
                panic!("{} did not log {needle:?} within {DEADLINE:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `later - earlier` in milliseconds, for the latency figures the tests print.
pub(crate) fn millis_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    (later - earlier).num_milliseconds()
}
