//! Row 4: no-op jobs through apalis on our queue (`mediawarm_shared::queue`): pushed with
//! `Queue::push` (the API's and scheduler's path, one `JobEnvelope` each), then processed by
//! a minimal apalis worker whose handler only counts, next to `redis-benchmark` on the same
//! Redis in the same run.
//!
//! Each round pushes fewer than 8,000 jobs before the worker starts: apalis-redis 1.0 cannot
//! fetch from a larger backlog (docs/ARCHITECTURE.md, "apalis").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use apalis::prelude::*;
use mediawarm_shared::jobs::{InvalidateCache, JobEnvelope, JobPayload};
use mediawarm_shared::queue::{Queue, QueueConfig, Storage};

use crate::Bench;
use crate::report::{Report, Row};
use crate::wrk::thousands;

const CONCURRENCY: usize = 16;

async fn noop(_job: JobEnvelope, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Pushed and processed jobs per second over `n` jobs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueRate {
    /// Jobs pushed per second (16 concurrent pushers).
    pub(crate) pushed: f64,
    /// Jobs processed per second (one worker, concurrency 16).
    pub(crate) processed: f64,
}

/// How the processing worker's Redis storage is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locks {
    /// As the service runs it (`mediawarm_shared::queue`): task locks and events off.
    Ours,
    /// apalis-redis's defaults: a lock per task and a pub/sub event per lock and ack.
    ApalisDefaults,
}

/// Pushes `n` no-op jobs, then processes them.
pub(crate) async fn measure(
    config: QueueConfig,
    n: u64,
    locks: Locks,
) -> anyhow::Result<QueueRate> {
    let queue = Queue::connect(config.clone()).await?;
    let started = Instant::now();
    let pushers: Vec<_> = (0..CONCURRENCY as u64)
        .map(|p| {
            let queue = queue.clone();
            tokio::spawn(async move {
                for i in (p..n).step_by(CONCURRENCY) {
                    let envelope = JobEnvelope {
                        job_id: format!("bench-{i}"),
                        payload: JobPayload::Invalidate(InvalidateCache { patterns: vec![] }),
                        request_id: None,
                    };
                    queue
                        .push(envelope, &mediawarm_shared::queue::new_task_id(), None)
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for p in pushers {
        p.await??;
    }
    let pushed = n as f64 / started.elapsed().as_secs_f64();

    let done = Arc::new(AtomicU64::new(0));
    let name = format!("bench-noop-{}", ulid::Ulid::generate());
    let poll = config.poll_interval;
    let mut monitor = Monitor::new();
    macro_rules! register {
        ($storage:expr) => {{
            let (storage, done, name) = ($storage, Arc::clone(&done), name.clone());
            monitor = monitor.register(move |restart| {
                WorkerBuilder::new(format!("{name}-{restart}"))
                    .backend(storage.clone().poll_with_interval(poll))
                    .data(Arc::clone(&done))
                    .concurrency(CONCURRENCY)
                    .build(noop)
            });
        }};
    }
    match queue.storage(mediawarm_shared::jobs::JobKind::Invalidate) {
        Storage::Redis(s) => {
            let s = match locks {
                Locks::Ours => s,
                Locks::ApalisDefaults => {
                    let cfg = s.get_config().clone().lock_tasks(true).emit_events(true);
                    s.with_config(cfg)
                }
            };
            register!(s)
        }
        Storage::Sqlite(s) => register!(s),
    }
    let monitor = monitor.shutdown_timeout(Duration::from_secs(5));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(monitor.run_with_signal(async move {
        let _ = stop_rx.await;
        Ok(())
    }));
    let deadline = started + Duration::from_secs(120);
    while done.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline || running.is_finished() {
            let _ = stop_tx.send(());
            bail!(
                "only {} of {n} jobs were processed",
                done.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let processed = n as f64 / started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = running.await;
    Ok(QueueRate { pushed, processed })
}

/// `redis-benchmark -q -n 100000 -t set,get` against `redis_url`: (SET/s, GET/s).
pub(crate) async fn redis_benchmark(redis_url: &str) -> anyhow::Result<(f64, f64)> {
    let (host, port) = redis_host_port(redis_url);
    let output = tokio::process::Command::new("redis-benchmark")
        .args([
            "-h",
            &host,
            "-p",
            &port.to_string(),
            "-q",
            "-n",
            "100000",
            "-t",
            "set,get",
        ])
        .output()
        .await
        .context("running redis-benchmark (Debian: apt-get install -y redis-tools)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = |what: &str| {
        text.split(['\r', '\n'])
            .rfind(|l| l.starts_with(what))
            .and_then(|l| l.split_once(':'))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    match (rate("SET"), rate("GET")) {
        (Some(set), Some(get)) => Ok((set, get)),
        _ => bail!("could not read redis-benchmark's output: {text}"),
    }
}

fn redis_host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap_or("127.0.0.1:6379");
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(6379)),
        None => (hostport.to_owned(), 6379),
    }
}

/// Row 4 on Redis (next to redis-benchmark) and on SQLite.
pub(crate) async fn queue_rows(bench: &Bench, report: &mut Report) -> anyhow::Result<()> {
    let config = |redis_url: Option<String>, ns: &str| QueueConfig {
        redis_url,
        sqlite_path: bench.work.join(format!("queue-{}.db", bench.run_id)),
        namespace: ns.to_owned(),
        poll_interval: Duration::from_millis(10),
        heartbeat: Duration::from_secs(2),
        missed_heartbeats: 3,
        fetch_batch: CONCURRENCY,
    };
    let (redis_n, sqlite_n) = if bench.quick {
        (3_000, 500)
    } else {
        (7_000, 2_000)
    };
    if bench.redis_ok {
        let had_key = key_exists(&bench.redis_url, "key:__rand_int__").await;
        let (set, get) = redis_benchmark(&bench.redis_url).await?;
        if !had_key {
            let _ = crate::data::clean_redis(&bench.redis_url, "key:__rand_int__").await;
        }
        let mut rates = Vec::new();
        for (prefix, locks) in [("q", Locks::Ours), ("ql", Locks::ApalisDefaults)] {
            let ns = format!("mwbench-{prefix}-{}", bench.run_id);
            let rate = measure(config(Some(bench.redis_url.clone()), &ns), redis_n, locks).await;
            let _ = crate::data::clean_redis(&bench.redis_url, &ns).await;
            rates.push(rate?);
        }
        let [rate, locked] = rates[..] else {
            bail!("two queue runs were measured, not {}", rates.len());
        };
        report.push(Row::measured(
            "queue, Redis: no-op jobs processed/s / redis-benchmark SET/s",
            format!("{:.3}×", rate.processed / set),
            "≥ 10,000 jobs/s processed",
            Some(rate.processed >= 10_000.0),
            format!(
                "{} jobs: {} pushed/s, {} processed/s; redis-benchmark: SET {}/s, GET {}/s",
                thousands(redis_n as f64),
                thousands(rate.pushed),
                thousands(rate.processed),
                thousands(set),
                thousands(get)
            ),
        ));
        report.push(Row::measured(
            "queue, Redis: processed/s, ours / apalis-redis defaults (task locks and events on)",
            format!("{:.2}×", rate.processed / locked.processed),
            "",
            None,
            format!(
                "{} jobs each: {} processed/s ours, {} with apalis-redis's defaults",
                thousands(redis_n as f64),
                thousands(rate.processed),
                thousands(locked.processed)
            ),
        ));
        if rate.processed < 10_000.0 {
            report.note(
                "What bounds the missed targets",
                format!(
                    "Queue on Redis: this row is apalis alone — a handler that only counts, \
                     our envelope a few dozen bytes of JSON — so {} processed/s is \
                     apalis-redis's rate here: every fetch and every acknowledgement is a Lua \
                     script run by the Redis server, which shares the {} cores with the \
                     pushing and processing process. Its task-lock script (an LREM over the \
                     whole waiting list per task) is already off in ours (see the row against \
                     apalis-redis's defaults); `redis-cli info commandstats` around this row \
                     shows where Redis spends the rest. Pushes reach {}/s against \
                     `redis-benchmark`'s SET {}/s on the same Redis.",
                    thousands(rate.processed),
                    std::thread::available_parallelism().map_or(0, usize::from),
                    thousands(rate.pushed),
                    thousands(set)
                ),
            );
        }
    } else {
        report.push(Row::skipped(
            "queue, Redis: no-op jobs processed/s / redis-benchmark SET/s",
            "≥ 10,000 jobs/s processed",
            "Redis unreachable",
        ));
        report.push(Row::skipped(
            "queue, Redis: processed/s, ours / apalis-redis defaults (task locks and events on)",
            "",
            "Redis unreachable",
        ));
    }
    let path = bench.work.join(format!("queue-{}.db", bench.run_id));
    let rate = measure(config(None, "mwbench"), sqlite_n, Locks::Ours).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let rate = rate?;
    report.push(Row::measured(
        "queue, SQLite: no-op jobs processed/s / pushed/s",
        format!("{:.2}×", rate.processed / rate.pushed),
        "",
        None,
        format!(
            "{} jobs: {} pushed/s, {} processed/s",
            thousands(sqlite_n as f64),
            thousands(rate.pushed),
            thousands(rate.processed)
        ),
    ));
    report.note(
        "Method",
        format!(
            "Queue: `Queue::push` from 16 concurrent tasks ({} jobs on Redis, {} on SQLite, a \
             fresh namespace), then one apalis worker (concurrency 16, fetch batch 16, poll \
             every 10 ms) whose handler only counts; processed/s is from the worker's start to \
             the last job counted. Not the real job path (no `jobs` table bookkeeping, which \
             costs a few database writes per job). `redis-benchmark -q -n 100000 -t set,get` \
             runs on the same Redis just before (50 clients). On Redis the worker runs as the \
             service does, with apalis-redis's task locks and pub/sub task events off \
             (`shared/src/queue.rs` says why: a fetch already gives each task to one worker, \
             and the lock script's `LREM` scans the whole waiting list once per task); the \
             next row runs the same jobs with apalis-redis's defaults, side by side.",
            redis_n, sqlite_n
        ),
    );
    Ok(())
}

async fn key_exists(url: &str, key: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut con) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut con)
        .await
        .map(|n| n > 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::redis_host_port;

    #[test]
    fn redis_urls_give_host_and_port() {
        assert_eq!(
            redis_host_port("redis://127.0.0.1:6379"),
            ("127.0.0.1".to_owned(), 6379)
        );
        assert_eq!(
            redis_host_port("redis://:pw@h:7000/2"),
            ("h".to_owned(), 7000)
        );
        assert_eq!(redis_host_port("redis://h"), ("h".to_owned(), 6379));
    }
}
