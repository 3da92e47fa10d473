//! # mediawarm-worker
//!
//! The side of mediawarm that writes: apalis workers that scrape sources, upsert articles,
//! then invalidate the derived cache keys and rewarm the hot ones; the cron scheduler that
//! enqueues scrapes; and the retention of finished jobs. `mediawarm-worker` runs it as its
//! own process (production); `mediawarm-api` runs the same code in-process in embedded mode.
//!
//! ## Layout
//! - [`Context`]: what every job needs (store, cache, hot keys, queue, scraper).
//! - [`run`]: the apalis `Monitor` (one worker per job kind, unique names per process and
//!   restart, restarted on backend errors), the scheduler and the retention task, until
//!   shutdown.
//! - [`jobs`]: delivery, the retry policy and the handlers.
//! - [`cron`]: the scheduler (one job per tick across every process).
//! - [`reconcile`]: runs every accepted job whatever the queue forgot (one process at a time).
//! - [`backfill`]: the `backfill` command (stored dates corrected with the current extractor).
//! - [`config`]: the worker's options.
//! - [`metrics_server`]: the worker's own `/metrics` listener (`WORKER_METRICS_BIND`).
//! - `scraper`: fetching, feeds, listings and article assembly; it calls the pure extractor
//!   (`mediawarm-extract`, re-exported as `scraper::extract`) on the pages it fetches.

pub mod backfill;
pub mod config;
pub mod cron;
pub mod jobs;
pub mod metrics_server;
pub mod reconcile;
pub mod scraper;
#[cfg(test)]
mod test_support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use chrono::Utc;
use mediawarm_shared::cache::CacheService;
use mediawarm_shared::domain::CursorCodec;
use mediawarm_shared::error::StoreError;
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::jobs::{JobEnvelope, JobKind};
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::{Queue, Storage};
use mediawarm_shared::store::Store;
use mediawarm_shared::views::ViewContext;
use tokio::sync::watch;

use crate::config::WorkerArgs;
use crate::scraper::{ScrapeError, Scraper};

/// Everything a job handler needs. Shared by every worker of a process.
#[derive(Debug)]
pub struct Context {
    /// Articles, sources, runs and job records.
    pub store: Store,
    /// The cache the API reads through (invalidated and rewarmed after scrapes).
    pub cache: CacheService,
    /// Which keys are hot (rewarmed after scrapes).
    pub hot: HotKeys,
    /// Where retries are pushed.
    pub queue: Queue,
    /// The one HTTP client and extractor.
    pub scraper: Scraper,
    /// What views need to be computed (the cursor codec).
    pub views: ViewContext,
    /// The worker's options.
    pub args: WorkerArgs,
    /// The process' metrics (shared with the API in embedded mode).
    pub metrics: Metrics,
    /// This process' name as a job owner and reconciler: unique per process start.
    pub instance: String,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The scraper could not be built.
    #[error(transparent)]
    Scraper(#[from] ScrapeError),
}

impl Context {
    /// Builds the context; reads the deployment's cursor secret.
    pub async fn new(
        store: Store,
        cache: CacheService,
        hot: HotKeys,
        queue: Queue,
        args: WorkerArgs,
        metrics: Metrics,
    ) -> Result<Arc<Self>, StartError> {
        let secret = store.cursor_secret().await?;
        let scraper = Scraper::new(args.scraper_config_shared(cache.redis_url()))?;
        Ok(Arc::new(Self {
            views: ViewContext {
                cursors: CursorCodec::new(&secret),
            },
            store,
            cache,
            hot,
            queue,
            scraper,
            args,
            metrics,
            instance: format!("{}-{}", std::process::id(), ulid::Ulid::generate()),
        }))
    }
}

/// Every delivery is acknowledged: what it could not record, the reconciler repairs from
/// the jobs table, instead of apalis' fixed redelivery schedule.
async fn handle(envelope: JobEnvelope, ctx: Data<Arc<Context>>) -> Result<(), BoxDynError> {
    jobs::deliver(&ctx, envelope).await;
    Ok(())
}

/// A worker name unique to this process and restart (apalis never forgets a name).
fn worker_name(kind: JobKind, instance: &str, restart: usize) -> String {
    format!("{}-{instance}-{restart}", kind.as_str())
}

/// Runs the workers, the scheduler (unless `no_cron`), the reconciler and the retention task until
/// `shutdown` completes; in-flight jobs are given 30 s to finish (an unfinished one is
/// re-queued by the next worker, since its heartbeat stops).
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let instance = ctx.instance.clone();
    let poll = ctx.queue.config().poll_interval;
    let mut monitor = Monitor::new();
    for kind in JobKind::ALL {
        // Equal to the queue's fetch batch: jobs fetched beyond a worker's concurrency wait
        // in memory without a heartbeat, and a peer would re-queue and run them twice
        // (docs/ARCHITECTURE.md, "apalis").
        let concurrency = ctx.queue.config().fetch_batch.max(1);
        let (ctx, instance) = (Arc::clone(&ctx), instance.clone());
        macro_rules! register {
            ($storage:expr) => {{
                let storage = $storage;
                monitor = monitor.register(move |restart| {
                    WorkerBuilder::new(worker_name(kind, &instance, restart))
                        .backend(storage.clone().poll_with_interval(poll))
                        .data(Arc::clone(&ctx))
                        .concurrency(concurrency)
                        .build(handle)
                });
            }};
        }
        match ctx.queue.storage(kind) {
            Storage::Redis(storage) => register!(storage),
            Storage::Sqlite(storage) => register!(storage),
        }
    }
    let monitor = monitor
        .should_restart(|worker, error| {
            tracing::warn!(worker = worker.name(), %error, "worker stopped on an error; restarting");
            true
        })
        .shutdown_timeout(Duration::from_secs(30));

    let scheduler = (!ctx.args.no_cron).then(|| {
        let mut rx = stop_rx.clone();
        tokio::spawn(cron::run_scheduler(Arc::clone(&ctx), async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }))
    });
    let retention = tokio::spawn(retain(Arc::clone(&ctx), stop_rx.clone()));
    let reconciler = tokio::spawn(reconcile::run(Arc::clone(&ctx), stop_rx.clone()));
    match ctx.store.list_sources().await {
        Ok(sources) => {
            for source in &sources {
                ctx.metrics.register_source(source.name.as_str());
            }
        }
        Err(error) => tracing::warn!(%error, "listing sources for their metrics failed"),
    }
    tracing::info!(
        instance,
        queue = ctx.queue.backend(),
        concurrency = ctx.args.worker_concurrency,
        cron = !ctx.args.no_cron,
        "worker started"
    );
    let mut rx = stop_rx;
    let signal = async move {
        let _ = rx.wait_for(|stop| *stop).await;
        Ok(())
    };
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let result = monitor.run_with_signal(signal).await;
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    let _ = retention.await;
    let _ = reconciler.await;
    tracing::info!("worker stopped");
    result.map_err(|e| anyhow::anyhow!("worker monitor: {e}"))
}

/// Deletes finished jobs, scrape runs (each source's latest kept) and fetch-cache records
/// older than the retention, every 10 minutes.
async fn retain(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let age = Duration::from_secs(ctx.args.job_retention_hours.saturating_mul(3600));
    let mut ticks = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = ticks.tick() => {}
        }
        let before = Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
        match ctx.store.purge_finished_jobs(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "retention: finished jobs deleted"),
            Err(error) => tracing::warn!(%error, "retention: deleting finished jobs failed"),
        }
        match ctx.store.purge_runs(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(runs = n, "retention: old scrape runs deleted"),
            Err(error) => tracing::warn!(%error, "retention: deleting scrape runs failed"),
        }
        match ctx.store.purge_fetch_records(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "retention: old fetch-cache records deleted"),
            Err(error) => tracing::warn!(%error, "retention: deleting fetch records failed"),
        }
        if let Err(error) = ctx.queue.vacuum_before(age).await {
            tracing::warn!(%error, "retention: vacuuming the queue failed");
        }
    }
}

/// Connects to the queue. A Redis queue is retried every 2 s until it answers. A SQLite
/// queue file is retried for up to 30 s: another process sharing it (an API or a worker
/// mid-write) can hold its lock while this one runs the file's set-up, which SQLite then
/// refuses at once with "database is locked" instead of waiting.
pub async fn connect_queue(
    config: mediawarm_shared::queue::QueueConfig,
) -> Result<Queue, mediawarm_shared::queue::QueueError> {
    let sqlite_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut warned = false;
    loop {
        match Queue::connect(config.clone()).await {
            Ok(queue) => return Ok(queue),
            Err(error) if config.redis_url.is_some() => {
                if !warned {
                    tracing::warn!(%error, "queue unreachable; retrying every 2 s");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) if tokio::time::Instant::now() < sqlite_deadline => {
                tracing::debug!(%error, "queue file busy; retrying");
                let pause = rand::random_range(50..250);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Applies a `SOURCES_FILE` (created or updated, never deleted) and, when it changed
/// anything, invalidates the views that list sources.
pub async fn seed_sources(
    store: &Store,
    cache: &CacheService,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use mediawarm_shared::cache::KeyPattern;
    use mediawarm_shared::sources_file::{apply_sources_file, parse_sources_file};
    use mediawarm_shared::views::CATEGORIES;

    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let specs = parse_sources_file(&text).with_context(|| format!("in {}", path.display()))?;
    let report = apply_sources_file(store, &specs).await?;
    tracing::info!(file = %path.display(), created = report.created, updated = report.updated, unchanged = report.unchanged, "sources file applied");
    if report.created + report.updated > 0 {
        let pattern = KeyPattern::parse("simplified:*", CATEGORIES)?;
        if let Err(error) = cache.invalidate(&pattern, CATEGORIES).await {
            tracing::warn!(%error, "could not invalidate simplified:* after the sources file");
        }
    }
    Ok(())
}
