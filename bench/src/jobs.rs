//! Rows 9–11 (the job path, after the jobs table became the record): the real job path end to end.
//!
//! - **Job path**: invalidate jobs (one pattern, the cheapest kind) enqueued through
//!   `POST /api/v1/jobs/invalidate` by 32 concurrent HTTP clients until every one is `done`
//!   in the jobs table, on Redis + PostgreSQL (the API plus a separate `mediawarm-worker`)
//!   and on the embedded stack (SQLite, the API's in-process worker), next to row 4's no-op
//!   apalis worker on the same queue in the same run. Each run records the CPU time of every
//!   process involved and, on PostgreSQL, the transactions committed per job.
//! - **Recovery**: N jobs accepted while no worker runs, Redis restarted empty, then a worker
//!   started: the time from Redis answering again to the last job `done`.
//! - **Carrier memory**: Redis `used_memory` and key counts before and after many jobs
//!   through the real path with the reconciler's sweep running, against the same run with
//!   the sweep held off (a one-hour reconcile interval).
//!
//! Every Redis figure here is taken on a `redis-server` this run owns (no persistence,
//! killed at the end), so restarts and `used_memory` touch nobody else's data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mediawarm_shared::queue::QueueConfig;
use mediawarm_testkit::faults::{OwnRedis, redis_server_available};
use sqlx::Connection as _;

use crate::Bench;
use crate::queue::{Locks, measure};
use crate::report::{Report, Row};
use crate::server::{Child, Deployment, OPERATOR_TOKEN};
use crate::wrk::thousands;

/// The section of BENCHMARKS.md this module's notes go to.
pub(crate) const SECTION: &str = "Job path";
/// Every row name of this module starts with this.
pub(crate) const ROW_PREFIX: &str = "jobs";
/// The goal of the job path rows.
pub(crate) const TARGET: &str = "≥ 2,000 jobs/s end to end";
/// The goal of the carrier-memory row.
const CARRIER_TARGET: &str = "flat (growth ≤ 5 % of the growth without the sweep)";
/// Concurrent HTTP clients enqueueing.
const CLIENTS: usize = 32;
/// The job every client enqueues.
const BODY: &str = r#"{"patterns":["volume:*"]}"#;
/// How long a pending job must be untouched before the reconciler checks the queue for it
/// (`mediawarm_worker::reconcile::SETTLE`).
const SETTLE: Duration = mediawarm_worker::reconcile::SETTLE;
/// A run that has not finished by then failed: room for the carrier row's 100,000 jobs at
/// the slowest rate seen on a loaded 2-core machine (about 150 jobs/s).
const RUN_DEADLINE: Duration = Duration::from_secs(1800);

/// How many jobs each row runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Jobs per job-path run.
    pub(crate) path: u64,
    /// Jobs accepted before Redis is restarted empty.
    pub(crate) recovery: u64,
    /// Jobs through the carrier-memory runs.
    pub(crate) carrier: u64,
}

/// The worker's settings in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slots {
    /// `WORKER_CONCURRENCY` (also the fetch batch).
    concurrency: u32,
    /// `WORKER_POLL_MS`.
    poll_ms: u32,
}

impl Slots {
    const DEFAULTS: Self = Self {
        concurrency: 4,
        poll_ms: 100,
    };

    fn label(self) -> String {
        let defaults = if self == Self::DEFAULTS {
            "worker defaults, "
        } else {
            ""
        };
        format!(
            "{defaults}{} slots, poll {} ms",
            self.concurrency, self.poll_ms
        )
    }

    fn env(self) -> Vec<(String, String)> {
        vec![
            (
                "WORKER_CONCURRENCY".to_owned(),
                self.concurrency.to_string(),
            ),
            ("WORKER_POLL_MS".to_owned(), self.poll_ms.to_string()),
        ]
    }
}

const FAST: Slots = Slots {
    concurrency: 16,
    poll_ms: 10,
};
const WIDE: Slots = Slots {
    concurrency: 32,
    poll_ms: 10,
};

fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The jobs table, read by the bench while the services run.
#[derive(Debug)]
enum JobsTable {
    Pg(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

const UNFINISHED: &str = "select count(*) from jobs where status in ('pending', 'running')";
const DONE: &str = "select count(*) from jobs where status = 'done'";

impl JobsTable {
    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Self::Pg(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await?
            }
            Self::Sqlite(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    async fn close(&self) {
        match self {
            Self::Pg(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }

    /// Waits until no job is pending or running; counts its queries in `polls`. Fails when
    /// `worker` (the process that runs the jobs) exits first.
    async fn drained(
        &self,
        started: Instant,
        polls: &mut u64,
        worker: &mut Child,
    ) -> anyhow::Result<()> {
        loop {
            *polls += 1;
            if self.count(UNFINISHED).await? == 0 {
                return Ok(());
            }
            if worker.exited() {
                bail!("the process running the jobs exited (see its log in target/bench)");
            }
            if started.elapsed() > RUN_DEADLINE {
                bail!(
                    "jobs were still pending or running after {} s",
                    RUN_DEADLINE.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Enqueues `n` invalidate jobs through the API from [`CLIENTS`] concurrent clients; a 503
/// (`queue_full`) is retried after 5 ms. Returns how many 503s were met.
async fn enqueue(base: &str, n: u64) -> anyhow::Result<u64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let url = format!("{base}/api/v1/jobs/invalidate");
    let next = Arc::new(AtomicU64::new(0));
    let full = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url, next, full) = (
                client.clone(),
                url.clone(),
                Arc::clone(&next),
                Arc::clone(&full),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    loop {
                        let response = client
                            .post(&url)
                            .bearer_auth(OPERATOR_TOKEN)
                            .header("content-type", "application/json")
                            .body(BODY)
                            .send()
                            .await?;
                        let status = response.status();
                        let body = response.bytes().await?;
                        match status.as_u16() {
                            202 => break,
                            503 => {
                                full.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            _ => bail!(
                                "POST /api/v1/jobs/invalidate answered {status}: {}",
                                String::from_utf8_lossy(&body)
                            ),
                        }
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(full.load(Ordering::Relaxed))
}

/// CPU time (user + system) so far of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The PostgreSQL backends connected to database `db` (the run's services and the bench's
/// poll), by pid.
async fn backends(admin: &str, db: &str) -> anyhow::Result<Vec<u32>> {
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    let pids: Vec<i32> = sqlx::query_scalar("select pid from pg_stat_activity where datname = $1")
        .bind(db)
        .fetch_all(&mut conn)
        .await?;
    Ok(pids
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect())
}

/// (busy, total) ticks of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU used by each process of a run, between two snapshots.
#[derive(Debug, Clone, Default)]
struct Cpu {
    processes: Vec<(&'static str, u32)>,
    start: Vec<u64>,
    pg_start: HashMap<u32, u64>,
    machine_start: (u64, u64),
    /// (who, CPU seconds) once taken.
    used: Vec<(&'static str, f64)>,
    /// Share of the machine's CPU time that was busy.
    busy: f64,
}

impl Cpu {
    /// Starts counting for `processes` and the PostgreSQL backends `pg` (pids).
    fn start(processes: Vec<(&'static str, u32)>, pg: &[u32]) -> Self {
        let start = processes
            .iter()
            .map(|(_, pid)| cpu_ticks(*pid).unwrap_or(0))
            .collect();
        Self {
            processes,
            start,
            pg_start: pg
                .iter()
                .filter_map(|pid| cpu_ticks(*pid).map(|t| (*pid, t)))
                .collect(),
            machine_start: machine_ticks(),
            used: Vec::new(),
            busy: 0.0,
        }
    }

    /// Stops counting; `pg` are the backends connected now (a backend that connected during
    /// the run counts from zero).
    fn stop(&mut self, pg: Option<&[u32]>) {
        let mut used = Vec::new();
        for ((who, pid), start) in self.processes.iter().zip(&self.start) {
            let now = cpu_ticks(*pid).unwrap_or(*start);
            used.push((*who, now.saturating_sub(*start) as f64 / TICKS));
        }
        if let Some(pg) = pg {
            let mut pids: Vec<u32> = pg.to_vec();
            pids.extend(self.pg_start.keys().copied());
            pids.sort_unstable();
            pids.dedup();
            let ticks: u64 = pids
                .iter()
                .filter_map(|pid| {
                    let now = cpu_ticks(*pid)?;
                    Some(now.saturating_sub(self.pg_start.get(pid).copied().unwrap_or(0)))
                })
                .sum();
            used.push(("PostgreSQL (the run's backends)", ticks as f64 / TICKS));
        }
        let (busy, total) = machine_ticks();
        let (busy0, total0) = self.machine_start;
        self.busy =
            busy.saturating_sub(busy0) as f64 / (total.saturating_sub(total0)).max(1) as f64;
        self.used = used;
    }

    /// "API 1.2 s, worker 0.8 s, …" per 1,000 jobs, largest first, and the machine's load.
    fn per_thousand(&self, n: u64) -> String {
        let mut used = self.used.clone();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        let parts: Vec<String> = used
            .iter()
            .map(|(who, s)| format!("{who} {:.2}", s * 1000.0 / n as f64))
            .collect();
        let total: f64 = used.iter().map(|(_, s)| s).sum::<f64>() * 1000.0 / n as f64;
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        format!(
            "CPU s per 1,000 jobs: {total:.2} in all ({}), so {cores:.0} idle cores could run at most {} jobs/s at this cost; the machine's cores were {:.0} % busy over the run (other work included)",
            parts.join(", "),
            thousands(cores * 1000.0 / total.max(1e-9)),
            self.busy * 100.0
        )
    }
}

/// What one job-path run measured.
#[derive(Debug, Clone)]
struct PathRun {
    n: u64,
    /// From the first POST to the last 202.
    accept_secs: f64,
    /// From the first POST to the last job finished.
    done_secs: f64,
    /// 503 answers (queue full) met and retried.
    full: u64,
    cpu: Cpu,
    /// PostgreSQL transactions committed per job (the services' own, not the bench's).
    xacts_per_job: Option<f64>,
    /// Carrier memory before and after, when asked.
    memory: Option<(Carrier, Carrier)>,
    /// Redis commands per job, on Redis.
    redis: Option<String>,
}

impl PathRun {
    fn rate(&self) -> f64 {
        self.n as f64 / self.done_secs
    }

    fn summary(&self) -> String {
        format!(
            "{} jobs in {:.2} s = {} jobs/s (all accepted in {:.2} s = {}/s, {} `queue_full` retries)",
            thousands(self.n as f64),
            self.done_secs,
            thousands(self.rate()),
            self.accept_secs,
            thousands(self.n as f64 / self.accept_secs),
            thousands(self.full as f64),
        )
    }
}

/// Redis memory and keys of the queue namespace.
#[derive(Debug, Clone, Copy, Default)]
struct Carrier {
    used_memory: u64,
    /// `used_memory_dataset`: the data alone, without client buffers and scripts.
    dataset: u64,
    keys: u64,
    meta_keys: u64,
}

impl Carrier {
    async fn read(url: &str, ns: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut con)
            .await?;
        let used_memory = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .context("INFO memory without used_memory")?;
        let dataset = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory_dataset:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let (mut cursor, mut keys, mut meta_keys) = (0_u64, 0_u64, 0_u64);
        let meta = ":meta:";
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{ns}:*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut con)
                .await?;
            keys += batch.len() as u64;
            meta_keys += batch.iter().filter(|k| k.contains(meta)).count() as u64;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(Self {
            used_memory,
            dataset,
            keys,
            meta_keys,
        })
    }

    fn describe(&self) -> String {
        format!(
            "used_memory {:.2} MiB (dataset {:.2} MiB), {} keys in the queue namespace ({} task meta hashes)",
            self.used_memory as f64 / 1_048_576.0,
            self.dataset as f64 / 1_048_576.0,
            thousands(self.keys as f64),
            thousands(self.meta_keys as f64)
        )
    }
}

/// `INFO commandstats` of a Redis: (command, calls, microseconds) per command.
async fn command_stats(url: &str) -> anyhow::Result<HashMap<String, (u64, u64)>> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await?;
    let mut out = HashMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let field = |key: &str| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(name.to_owned(), (field("calls="), field("usec=")));
    }
    Ok(out)
}

/// What Redis did per job between two `INFO commandstats`: calls and server time per job,
/// and the commands that took most of it.
fn redis_per_job(
    before: &HashMap<String, (u64, u64)>,
    after: &HashMap<String, (u64, u64)>,
    n: u64,
) -> String {
    let mut deltas: Vec<(String, u64, u64)> = after
        .iter()
        .map(|(name, (calls, usec))| {
            let (c0, u0) = before.get(name).copied().unwrap_or((0, 0));
            (
                name.clone(),
                calls.saturating_sub(c0),
                usec.saturating_sub(u0),
            )
        })
        .filter(|(_, calls, _)| *calls > 0)
        .collect();
    deltas.sort_by_key(|d| std::cmp::Reverse(d.2));
    let calls: u64 = deltas.iter().map(|d| d.1).sum();
    let usec: u64 = deltas.iter().map(|d| d.2).sum();
    let n = n.max(1) as f64;
    let top: Vec<String> = deltas
        .iter()
        .take(5)
        .map(|(name, c, u)| format!("{name} {:.1} calls, {:.0} µs", *c as f64 / n, *u as f64 / n))
        .collect();
    format!(
        "Redis per job (`INFO commandstats`): {:.1} commands, {:.0} µs of command time ({})",
        calls as f64 / n,
        usec as f64 / n,
        top.join("; ")
    )
}

async fn redis_pid(url: &str) -> anyhow::Result<u32> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO server without process_id")
}

async fn flush_own(url: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    redis::cmd("FLUSHALL").query_async::<()>(&mut con).await?;
    Ok(())
}

async fn xact_commits(admin: &str, db: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    Ok(
        sqlx::query_scalar("select xact_commit from pg_stat_database where datname = $1")
            .bind(db)
            .fetch_one(&mut conn)
            .await?,
    )
}

/// How a Redis + PostgreSQL run is set up.
#[derive(Debug, Clone)]
struct PgRun {
    slots: Slots,
    n: u64,
    /// Extra environment for both processes.
    env: Vec<(String, String)>,
    /// Read the carrier's memory before and after, waiting this long after the last job so
    /// a reconcile pass has run.
    carrier_wait: Option<Duration>,
    /// `QUEUE_REDIS_URL`: the queue on a Redis of its own (the production layout), whose
    /// memory is then the carrier's alone; `None` shares the cache's Redis.
    queue_redis: Option<String>,
}

/// One job-path run on Redis + PostgreSQL: a fresh database, the run's own Redis flushed,
/// the API and a `mediawarm-worker` process.
async fn pg_path(bench: &Bench, redis_url: &str, run: &PgRun) -> anyhow::Result<PathRun> {
    let db = format!("mwbench_jobs_{}", bench.run_id);
    crate::data::create_database(&bench.admin_pg, &db, true).await?;
    let result = pg_path_in(bench, redis_url, run, &db).await;
    let _ = crate::data::drop_database(&bench.admin_pg, &db).await;
    result
}

async fn pg_path_in(
    bench: &Bench,
    redis_url: &str,
    run: &PgRun,
    db: &str,
) -> anyhow::Result<PathRun> {
    flush_own(redis_url).await?;
    let queue_url = run.queue_redis.as_deref().unwrap_or(redis_url);
    if queue_url != redis_url {
        flush_own(queue_url).await?;
    }
    let url = crate::data::database_url(&bench.admin_pg, db);
    let ns = format!("mwbench-j-{}", bench.run_id);
    let d = Deployment {
        database_url: Some(url.clone()),
        redis_url: Some(redis_url.to_owned()),
        data_dir: bench.work.join("jobs-pg"),
        cache_prefix: format!("mwbench:{}:jobs:", bench.run_id),
        queue_namespace: ns.clone(),
        log: bench.work.join("jobs-api-pg.log"),
    };
    let mut env = run.slots.env();
    env.extend(run.env.iter().cloned());
    if let Some(queue) = &run.queue_redis {
        env.push(("QUEUE_REDIS_URL".to_owned(), queue.clone()));
    }
    let env = as_refs(&env);
    let api = Child::api(&bench.api_bin, &d, &env).await?;
    let worker_d = Deployment {
        log: bench.work.join("jobs-worker-pg.log"),
        ..d.clone()
    };
    let mut worker = Child::worker(&bench.worker_bin, &worker_d, &["--no-cron"], &env)?;
    let table = JobsTable::Pg(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?,
    );
    let mut polls = 0_u64;
    let outcome = async {
        // One job first: the worker is up and polling, the clients' connections are open.
        let warm = Instant::now();
        enqueue(&api.base, 1).await?;
        table.drained(warm, &mut polls, &mut worker).await?;
        let before = match run.carrier_wait {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                Some(Carrier::read(queue_url, &ns).await?)
            }
            None => None,
        };
        let redis = redis_pid(queue_url).await?;
        let mut cpu = Cpu::start(
            vec![
                ("API", api.pid),
                ("worker", worker.pid),
                ("Redis", redis),
                ("bench (HTTP clients)", std::process::id()),
            ],
            &backends(&bench.admin_pg, db).await?,
        );
        let stats = command_stats(queue_url).await?;
        let started = Instant::now();
        let full = enqueue(&api.base, run.n).await?;
        let accept_secs = started.elapsed().as_secs_f64();
        table.drained(started, &mut polls, &mut worker).await?;
        let done_secs = started.elapsed().as_secs_f64();
        cpu.stop(Some(&backends(&bench.admin_pg, db).await?));
        let redis_use = redis_per_job(&stats, &command_stats(queue_url).await?, run.n);
        let done = table.count(DONE).await?;
        polls += 1;
        if done != i64::try_from(run.n + 1).unwrap_or(i64::MAX) {
            bail!(
                "{done} of {} jobs ended done (see the worker's log)",
                run.n + 1
            );
        }
        let memory = match (before, run.carrier_wait) {
            (Some(before), Some(wait)) => {
                tokio::time::sleep(wait).await;
                Some((before, Carrier::read(queue_url, &ns).await?))
            }
            _ => None,
        };
        anyhow::Ok(PathRun {
            n: run.n,
            accept_secs,
            done_secs,
            full,
            cpu,
            xacts_per_job: None,
            memory,
            redis: Some(redis_use),
        })
    }
    .await;
    worker.stop().await;
    api.stop().await;
    table.close().await;
    let mut run_result = outcome?;
    // Every backend has exited and flushed its counters; the bench's own polls are taken off.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let commits = xact_commits(&bench.admin_pg, db).await?;
    run_result.xacts_per_job = Some((commits as f64 - polls as f64).max(0.0) / (run.n + 1) as f64);
    Ok(run_result)
}

/// One job-path run on the embedded stack: the API alone (SQLite store, SQLite queue, its
/// in-process worker), in a fresh data directory.
async fn sqlite_path(bench: &Bench, slots: Slots, n: u64) -> anyhow::Result<PathRun> {
    let dir = bench.work.join(format!("jobs-sqlite-{}", bench.run_id));
    let _ = std::fs::remove_dir_all(&dir);
    let result = sqlite_path_in(bench, slots, n, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn sqlite_path_in(
    bench: &Bench,
    slots: Slots,
    n: u64,
    dir: &std::path::Path,
) -> anyhow::Result<PathRun> {
    let d = Deployment {
        database_url: None,
        redis_url: None,
        data_dir: dir.to_path_buf(),
        cache_prefix: "mw:".to_owned(),
        queue_namespace: "mediawarm".to_owned(),
        log: bench.work.join("jobs-api-sqlite.log"),
    };
    let env = slots.env();
    let mut api = Child::api(&bench.api_bin, &d, &as_refs(&env)).await?;
    let db: PathBuf = dir.join("mediawarm.db");
    let table = JobsTable::Sqlite(
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&format!("sqlite://{}?mode=ro", db.display()))
            .await?,
    );
    let mut polls = 0_u64;
    let outcome = async {
        let warm = Instant::now();
        enqueue(&api.base, 1).await?;
        table.drained(warm, &mut polls, &mut api).await?;
        let mut cpu = Cpu::start(
            vec![
                ("API + in-process worker", api.pid),
                ("bench (HTTP clients)", std::process::id()),
            ],
            &[],
        );
        let started = Instant::now();
        let full = enqueue(&api.base, n).await?;
        let accept_secs = started.elapsed().as_secs_f64();
        table.drained(started, &mut polls, &mut api).await?;
        let done_secs = started.elapsed().as_secs_f64();
        cpu.stop(None);
        let done = table.count(DONE).await?;
        if done != i64::try_from(n + 1).unwrap_or(i64::MAX) {
            bail!("{done} of {} jobs ended done (see the API's log)", n + 1);
        }
        anyhow::Ok(PathRun {
            n,
            accept_secs,
            done_secs,
            full,
            cpu,
            xacts_per_job: None,
            memory: None,
            redis: None,
        })
    }
    .await;
    table.close().await;
    api.stop().await;
    outcome
}

/// What the recovery run measured.
#[derive(Debug, Clone, Copy)]
struct Recovery {
    n: u64,
    /// Keys in Redis just before it was killed.
    keys_before: u64,
    /// From Redis answering again to the last job done.
    secs: f64,
}

/// `n` jobs accepted by an API with no worker anywhere, Redis killed and restarted empty
/// once the last job is older than [`SETTLE`], then a worker started with `env`.
async fn recovery(
    bench: &Bench,
    redis: &mut OwnRedis,
    slots: Slots,
    n: u64,
    env: &[(String, String)],
) -> anyhow::Result<Recovery> {
    let db = format!("mwbench_jobs_{}", bench.run_id);
    crate::data::create_database(&bench.admin_pg, &db, true).await?;
    let result = recovery_in(bench, redis, slots, n, env, &db).await;
    let _ = crate::data::drop_database(&bench.admin_pg, &db).await;
    result
}

async fn recovery_in(
    bench: &Bench,
    redis: &mut OwnRedis,
    slots: Slots,
    n: u64,
    env: &[(String, String)],
    db: &str,
) -> anyhow::Result<Recovery> {
    flush_own(&redis.url()).await?;
    let url = crate::data::database_url(&bench.admin_pg, db);
    let d = Deployment {
        database_url: Some(url.clone()),
        redis_url: Some(redis.url()),
        data_dir: bench.work.join("jobs-pg"),
        cache_prefix: format!("mwbench:{}:jobs:", bench.run_id),
        queue_namespace: format!("mwbench-r-{}", bench.run_id),
        log: bench.work.join("jobs-api-recovery.log"),
    };
    let depth = n.max(5_000).to_string();
    let api = Child::api(&bench.api_bin, &d, &[("QUEUE_MAX_DEPTH", depth.as_str())]).await?;
    let accepted = enqueue(&api.base, n).await;
    let last_accept = Instant::now();
    api.stop().await;
    accepted?;
    let keys_before = redis.dbsize().await;
    // The reconciler leaves a pending job alone for SETTLE after it was written (its push
    // may be in flight); wait that out so the figure is the recovery, not the settle window.
    let settle = SETTLE + Duration::from_millis(500);
    if let Some(left) = settle.checked_sub(last_accept.elapsed()) {
        tokio::time::sleep(left).await;
    }
    redis.kill().await;
    redis.restart().await;
    let back = Instant::now();
    if redis.dbsize().await != 0 {
        bail!("the restarted Redis was not empty");
    }
    let mut worker_env = slots.env();
    worker_env.extend(env.iter().cloned());
    let worker_d = Deployment {
        log: bench.work.join("jobs-worker-recovery.log"),
        ..d.clone()
    };
    let mut worker = Child::worker(
        &bench.worker_bin,
        &worker_d,
        &["--no-cron"],
        &as_refs(&worker_env),
    )?;
    let table = JobsTable::Pg(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?,
    );
    let mut polls = 0;
    let drained = table.drained(back, &mut polls, &mut worker).await;
    let secs = back.elapsed().as_secs_f64();
    let done = table.count(DONE).await;
    worker.stop().await;
    table.close().await;
    drained?;
    let done = done?;
    if done != i64::try_from(n).unwrap_or(i64::MAX) {
        bail!("{done} of {n} jobs ended done after the restart");
    }
    Ok(Recovery {
        n,
        keys_before,
        secs,
    })
}

/// Rows 9–11.
pub(crate) async fn job_rows(
    bench: &Bench,
    report: &mut Report,
    sizes: Sizes,
) -> anyhow::Result<()> {
    let pg_name = |slots: Slots| {
        format!(
            "jobs end to end, Redis + PostgreSQL (API → queue → mediawarm-worker → done; {}): jobs/s / no-op apalis jobs/s",
            slots.label()
        )
    };
    let sqlite_name = |slots: Slots| {
        format!(
            "jobs end to end, SQLite (API with its in-process worker; {}): jobs/s / no-op apalis jobs/s",
            slots.label()
        )
    };
    let recovery_name = "jobs after Redis restarted empty: orphans done/s / jobs end to end/s";
    let carrier_name =
        "jobs: carrier memory, the queue Redis' used_memory after / before (reconciler sweeping)";
    let pg_slots = [Slots::DEFAULTS, FAST, WIDE];
    let sqlite_slots = [Slots::DEFAULTS, FAST];
    let mut limits: Vec<String> = Vec::new();

    // Redis + PostgreSQL on a redis-server of our own.
    let redis_blocker = if !bench.pg_ok {
        Some("PostgreSQL unreachable")
    } else if !redis_server_available() {
        Some("redis-server is not on the PATH (apt-get install -y redis-server)")
    } else {
        None
    };
    if let Some(reason) = redis_blocker {
        for slots in pg_slots {
            report.push(Row::skipped(pg_name(slots), TARGET, reason));
        }
        report.push(Row::skipped(recovery_name, "", reason));
        report.push(Row::skipped(carrier_name, CARRIER_TARGET, reason));
    } else {
        let mut redis = OwnRedis::start().await;
        let noop_n = if bench.quick { 3_000 } else { 7_000 };
        let noop = measure(
            QueueConfig {
                redis_url: Some(redis.url()),
                sqlite_path: bench.work.join(format!("queue-{}-jobs.db", bench.run_id)),
                namespace: format!("mwbench-noop-{}", bench.run_id),
                poll_interval: Duration::from_millis(10),
                heartbeat: Duration::from_secs(2),
                missed_heartbeats: 3,
                fetch_batch: 16,
            },
            noop_n,
            Locks::Ours,
        )
        .await?;
        let mut best: Option<(Slots, PathRun)> = None;
        let mut defaults_rate = None;
        for slots in pg_slots {
            let run = PgRun {
                slots,
                n: sizes.path,
                env: Vec::new(),
                carrier_wait: None,
                queue_redis: None,
            };
            match pg_path(bench, &redis.url(), &run).await {
                Ok(r) => {
                    let rate = r.rate();
                    report.push(Row::measured(
                        pg_name(slots),
                        format!("{:.3}×", rate / noop.processed),
                        TARGET,
                        Some(rate >= 2_000.0),
                        format!(
                            "{}; {:.2} PostgreSQL transactions per job; no-op apalis on the same Redis: {} jobs, {} processed/s",
                            r.summary(),
                            r.xacts_per_job.unwrap_or(f64::NAN),
                            thousands(noop_n as f64),
                            thousands(noop.processed)
                        ),
                    ));
                    limits.push(format!(
                        "Redis + PostgreSQL, {}: {} jobs/s; {}; {:.2} PostgreSQL transactions per job; {}.",
                        slots.label(),
                        thousands(rate),
                        r.cpu.per_thousand(r.n),
                        r.xacts_per_job.unwrap_or(f64::NAN),
                        r.redis.as_deref().unwrap_or("")
                    ));
                    if slots == Slots::DEFAULTS {
                        defaults_rate = Some(rate);
                    }
                    if best.as_ref().is_none_or(|(_, b)| rate > b.rate()) {
                        best = Some((slots, r));
                    }
                }
                Err(e) => {
                    report.push(Row::skipped(
                        pg_name(slots),
                        TARGET,
                        &format!("failed: {e:#}"),
                    ));
                }
            }
        }

        // Recovery, on the worker's defaults with a 1 s reconcile interval.
        let reconcile = vec![("RECONCILE_INTERVAL_MS".to_owned(), "1000".to_owned())];
        match recovery(
            bench,
            &mut redis,
            Slots::DEFAULTS,
            sizes.recovery,
            &reconcile,
        )
        .await
        {
            Ok(r) => {
                let rate = r.n as f64 / r.secs;
                report.push(Row::measured(
                    recovery_name,
                    defaults_rate.map_or_else(
                        || "—".to_owned(),
                        |d| format!("{:.2}×", rate / d),
                    ),
                    "",
                    None,
                    format!(
                        "{} jobs accepted with no worker ({} Redis keys), Redis killed and restarted empty; last job done {:.2} s after Redis answered again = {} jobs/s (worker defaults, RECONCILE_INTERVAL_MS=1000, worker start-up included); against the worker-defaults job path{}",
                        thousands(r.n as f64),
                        thousands(r.keys_before as f64),
                        r.secs,
                        thousands(rate),
                        defaults_rate.map_or_else(String::new, |d| format!(
                            " ({} jobs/s)",
                            thousands(d)
                        ))
                    ),
                ));
            }
            Err(e) => report.push(Row::skipped(recovery_name, "", &format!("failed: {e:#}"))),
        }

        // Carrier memory, with and without the sweep, the queue on a Redis of its own.
        let mut queue_redis = OwnRedis::start().await;
        let slots = FAST;
        let with_sweep = PgRun {
            slots,
            n: sizes.carrier,
            env: vec![("RECONCILE_INTERVAL_MS".to_owned(), "2000".to_owned())],
            carrier_wait: Some(Duration::from_millis(4_500)),
            queue_redis: Some(queue_redis.url()),
        };
        let without = PgRun {
            env: vec![("RECONCILE_INTERVAL_MS".to_owned(), "3600000".to_owned())],
            ..with_sweep.clone()
        };
        let swept = pg_path(bench, &redis.url(), &with_sweep).await;
        let kept = pg_path(bench, &redis.url(), &without).await;
        match (swept, kept) {
            (Ok(s), Ok(k)) => {
                let (Some((b, a)), Some((kb, ka))) = (s.memory, k.memory) else {
                    bail!("the carrier runs read no memory");
                };
                let ratio = a.used_memory as f64 / b.used_memory as f64;
                let growth = a.used_memory as f64 - b.used_memory as f64;
                let kept_growth = ka.used_memory as f64 - kb.used_memory as f64;
                let share = growth / kept_growth.max(1.0);
                report.push(Row::measured(
                    carrier_name,
                    format!("{ratio:.3}×"),
                    CARRIER_TARGET,
                    Some(share <= 0.05),
                    format!(
                        "{} jobs ({}, RECONCILE_INTERVAL_MS=2000; {} jobs/s); before: {}; after, once a pass ran: {}; growth {} bytes per job. Same jobs with the sweep held off (RECONCILE_INTERVAL_MS=3600000): {} → {} = {:.2}×, growth {} bytes per job; growth with the sweep / without: {:.2} %",
                        thousands(s.n as f64),
                        slots.label(),
                        thousands(s.rate()),
                        b.describe(),
                        a.describe(),
                        thousands(growth / s.n as f64),
                        kb.describe(),
                        ka.describe(),
                        ka.used_memory as f64 / kb.used_memory as f64,
                        thousands(kept_growth / k.n as f64),
                        share * 100.0
                    ),
                ));
            }
            (s, k) => {
                let e = s
                    .err()
                    .or(k.err())
                    .map_or_else(String::new, |e| format!("{e:#}"));
                report.push(Row::skipped(
                    carrier_name,
                    CARRIER_TARGET,
                    &format!("failed: {e}"),
                ));
            }
        }
        queue_redis.kill().await;
        redis.kill().await;

        if let Some((slots, r)) = &best {
            report.note(
                SECTION,
                format!(
                    "Best on Redis + PostgreSQL: {} jobs/s ({}) against {} no-op jobs/s through apalis alone on the same Redis ({:.1} % of it).",
                    thousands(r.rate()),
                    slots.label(),
                    thousands(noop.processed),
                    100.0 * r.rate() / noop.processed
                ),
            );
        }
    }

    // The embedded stack.
    let sqlite_noop_n = if bench.quick { 500 } else { 2_000 };
    let path = bench.work.join(format!("queue-{}-jobs.db", bench.run_id));
    let noop = measure(
        QueueConfig {
            redis_url: None,
            sqlite_path: path.clone(),
            namespace: "mwbench".to_owned(),
            poll_interval: Duration::from_millis(10),
            heartbeat: Duration::from_secs(2),
            missed_heartbeats: 3,
            fetch_batch: 16,
        },
        sqlite_noop_n,
        Locks::Ours,
    )
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let noop = noop?;
    for slots in sqlite_slots {
        match sqlite_path(bench, slots, sizes.path).await {
            Ok(r) => {
                let rate = r.rate();
                report.push(Row::measured(
                    sqlite_name(slots),
                    format!("{:.3}×", rate / noop.processed),
                    TARGET,
                    Some(rate >= 2_000.0),
                    format!(
                        "{}; no-op apalis on SQLite: {} jobs, {} processed/s",
                        r.summary(),
                        thousands(sqlite_noop_n as f64),
                        thousands(noop.processed)
                    ),
                ));
                limits.push(format!(
                    "SQLite, {}: {} jobs/s; {}.",
                    slots.label(),
                    thousands(rate),
                    r.cpu.per_thousand(r.n)
                ));
            }
            Err(e) => report.push(Row::skipped(
                sqlite_name(slots),
                TARGET,
                &format!("failed: {e:#}"),
            )),
        }
    }
    report.note(
        SECTION,
        format!(
            "Method: each job-path run enqueues {} invalidate jobs (`{{\"patterns\":[\"volume:*\"]}}`, the cheapest kind) with `POST /api/v1/jobs/invalidate` from {CLIENTS} concurrent HTTP clients in the bench process (a 503 `queue_full` is retried after 5 ms; `QUEUE_MAX_DEPTH` stays at its default of 5,000), after one job that shows the worker polling; the time runs from the first POST to the moment no job is pending or running (the jobs table polled every 10 ms), and every job is checked `done`. Redis + PostgreSQL: a fresh database, a `redis-server` of the run's own (`--save \"\" --appendonly no`), `mediawarm-api` and a separate `mediawarm-worker --no-cron`, both with the slots and poll interval named (`WORKER_CONCURRENCY`, `WORKER_POLL_MS`). SQLite: `mediawarm-api` alone (embedded: SQLite store, SQLite queue file, in-process worker). The no-op figure is row 4's measurement (16 pushers, one apalis worker with 16 slots polling every 10 ms, a handler that only counts) on the same queue backend in the same run. PostgreSQL transactions per job are `pg_stat_database.xact_commit` of the run's database after every process exited, less the bench's own polls, over the jobs. CPU seconds are from `/proc/PID/stat` over the timed part; PostgreSQL's are summed over the backends connected to the run's database (`pg_stat_activity`), so other databases' work does not count. Redis figures per job are `INFO commandstats` deltas of the run's own `redis-server` over the same part.",
            thousands(sizes.path as f64)
        ),
    );
    report.note(
        SECTION,
        format!(
            "Recovery: {} jobs accepted by an API with no worker anywhere (`QUEUE_MAX_DEPTH` at least the count), the API stopped, and, once the last job is older than the reconciler's settle time ({} s; a pending job younger than that may still be being pushed), the run's `redis-server` killed and started again empty on the same port. The clock starts when it answers; a `mediawarm-worker` (defaults, `RECONCILE_INTERVAL_MS=1000`) is started then, and the clock stops when no job is pending or running; every job is checked `done`. The reconciler lets at most {} entries wait in a queue (`MAX_CARRIER_BACKLOG`), so a larger batch takes more than one pass.",
            thousands(sizes.recovery as f64),
            SETTLE.as_secs(),
            thousands(mediawarm_shared::queue::MAX_CARRIER_BACKLOG as f64)
        ),
    );
    report.note(
        SECTION,
        format!(
            "Carrier memory: {} jobs through the job path above ({} slots, poll 10 ms) with the queue on a Redis of its own (`QUEUE_REDIS_URL`, the production layout; the cache on another), so its `used_memory` is the carrier's alone, once with `RECONCILE_INTERVAL_MS=2000` (the reconciler sweeps acknowledged tasks' records each pass: done-set entry, data and result fields, meta hash) and once with `RECONCILE_INTERVAL_MS=3600000` (one pass at start-up, then none: what apalis-redis keeps without the sweep). `INFO memory` `used_memory` and a `SCAN` of the queue namespace are read 4.5 s after the warm-up job (before) and 4.5 s after the last job finished (after), so with the sweep on at least one pass ran in each window.",
            thousands(sizes.carrier as f64),
            FAST.concurrency
        ),
    );
    for l in limits {
        report.note(SECTION, format!("What the job path spends: {l}"));
    }
    Ok(())
}
