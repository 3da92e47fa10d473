//! The `mediawarm-api` command line: `serve` (the default), `migrate` and `import`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use futures::TryFutureExt as _;
use mediawarm_shared::cache::{CacheConfig, CacheService, KeyPattern};
use mediawarm_shared::config::{CacheArgs, StoreArgs};
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::redis_target::check_urls;
use mediawarm_shared::store::Store;
use mediawarm_shared::views::{CATEGORIES, DATA_CATEGORIES};

use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::jobs::{InvalidateCache, JobPayload};
use mediawarm_shared::queue::enqueue;
use mediawarm_worker::config::WorkerArgs;
use mediawarm_worker::{Context, connect_queue};
use tokio::sync::{OnceCell, watch};

use crate::auth::{OperatorToken, TokenChoice};
use crate::{AppParts, AppState, Application, QueueSlot, shutdown_signal};

/// mediawarm's API server and its maintenance commands.
#[derive(Debug, Parser)]
#[command(
    name = "mediawarm-api",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default when no command is given).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
    /// Bulk-load articles from a JSON Lines file (all or nothing; idempotent by URL).
    Import(ImportArgs),
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    worker: WorkerArgs,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8001")]
    bind: String,
    /// Bearer token of the operator endpoints. Required, at least 16 characters, in
    /// production mode (DATABASE_URL, REDIS_URL or QUEUE_REDIS_URL set); unset in embedded
    /// mode, a random one is generated and logged once at start-up.
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Also run the worker and the scheduler in this process (always on in embedded mode,
    /// without REDIS_URL).
    #[arg(long, env = "WITH_WORKER", default_value_t = false)]
    with_worker: bool,
    /// A TOML file of `[[source]]` definitions applied at start-up (created or updated,
    /// never deleted).
    #[arg(long, env = "SOURCES_FILE")]
    sources_file: Option<PathBuf>,
    /// Also serve a small demo news site on a loopback port and register it as the source
    /// `demo` (lets the scraper fetch 127.0.0.1) with a schedule of every minute, which
    /// schedulers started with --no-cron leave alone.
    #[arg(long, default_value_t = false)]
    demo: bool,
    /// With --demo: seconds between two new stories on the demo site.
    #[arg(
        long,
        env = "DEMO_PUBLISH_SECS",
        default_value_t = crate::demo::DEFAULT_PUBLISH_INTERVAL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    demo_publish_secs: u64,
    /// Keep values read from Redis in this process too (the near cache), under the lease and
    /// acknowledgement protocol that keeps reads fresh. Only with REDIS_URL.
    #[arg(long, env = "NEAR_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    near_cache: bool,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    worker: WorkerArgs,
    /// The file: one JSON object a line with source, url, title and optionally author,
    /// published_at (RFC 3339) and summary.
    file: PathBuf,
}

/// Parses the command line and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(args)) => {
            let store = open_store(&args.store).await?;
            tracing::info!(store = %store.describe(), "migrations applied");
            Ok(())
        }
        Some(Command::Import(args)) => import(args).await,
    }
}

async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    let config = args.store_config();
    if config.database_url.is_none() {
        tracing::info!(path = %config.sqlite_path.display(), "DATABASE_URL unset: using the embedded SQLite database");
    }
    let store = Store::connect(&config)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// The first configured variable that puts `serve` in production mode, if any.
fn production_variable(args: &ServeArgs) -> Option<&'static str> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    if set(&args.store.database_url) {
        Some("DATABASE_URL")
    } else if set(&args.cache.redis_url) {
        Some("REDIS_URL")
    } else if set(&args.worker.queue_redis_url) {
        Some("QUEUE_REDIS_URL")
    } else {
        None
    }
}

async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    check_urls(&[
        ("REDIS_URL", args.cache.redis_url.as_deref()),
        ("QUEUE_REDIS_URL", args.worker.queue_redis_url.as_deref()),
    ])?;
    let operator = match OperatorToken::choose(
        args.operator_token.as_deref(),
        production_variable(&args),
    )? {
        TokenChoice::Configured(token) => token,
        TokenChoice::Generated(token, value) => {
            tracing::warn!(operator_token = %value, "OPERATOR_TOKEN unset: generated a token for this run");
            token
        }
    };
    let store = open_store(&args.store).await?;
    tracing::info!(store = %store.describe(), "database ready");
    let cache = CacheService::new(CacheConfig {
        near: args.near_cache,
        ..args.cache.cache_config()
    })
    .await;
    if let Some(path) = &args.sources_file {
        mediawarm_worker::seed_sources(&store, &cache, path).await?;
    }
    if args.demo {
        let site = crate::demo::start(Duration::from_secs(args.demo_publish_secs))
            .await
            .context("starting the demo site")?;
        args.worker.scrape_allow_loopback = true;
        register_demo_source(&store, &site.feed_url).await?;
        tracing::info!(feed = %site.feed_url, source = crate::demo::DEMO_SOURCE, "demo site serving");
    }
    let hot = args.cache.hot_keys().context("hot keys")?;
    let _flusher = hot.spawn_flusher(Duration::from_secs(1));
    let metrics = Metrics::new(&cache, CATEGORIES, args.store.job_counts());
    let near_cache = cache.clone();
    let embedded = args.cache.redis_url.is_none();
    let run_worker = embedded || args.with_worker;
    let queue: QueueSlot = Arc::new(OnceCell::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = {
        let (queue, store, cache, hot, metrics) = (
            Arc::clone(&queue),
            store.clone(),
            cache.clone(),
            hot.clone(),
            metrics.clone(),
        );
        let queue_config = args.worker.queue_config(
            args.worker.queue_redis(args.cache.redis_url.as_deref()),
            &args.store.data_dir,
        );
        let worker_args = args.worker.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let connected = tokio::select! {
                connected = connect_queue(queue_config) => connected,
                _ = stop.wait_for(|s| *s) => return Ok::<(), anyhow::Error>(()),
            };
            let connected = connected.context("connecting to the queue")?;
            tracing::info!(queue = connected.backend(), "queue ready");
            let _ = queue.set(connected.clone());
            if !run_worker {
                return Ok(());
            }
            let ctx = Context::new(store, cache, hot, connected, worker_args, metrics).await?;
            mediawarm_worker::run(ctx, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        }
        .inspect_err(|error| {
            tracing::error!(error = %format!("{error:#}"), "the queue or the in-process worker stopped; reads go on, jobs cannot be enqueued or run");
        }))
    };
    let state = AppState::new(AppParts {
        store,
        cache,
        hot,
        queue,
        enqueue: args.worker.enqueue_options(),
        operator,
        metrics,
        query_timeout: crate::QUERY_TIMEOUT,
        misses: crate::MissLimits::default(),
    })
    .await?;
    let app = Application::bind(&args.bind, state)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    tracing::info!(addr = %app.local_addr()?, worker = run_worker, "mediawarm-api listening");
    app.run_until(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    near_cache.release_near().await;
    worker.await.context("worker task")??;
    Ok(())
}

/// Creates or updates the `demo` source to point at this run's demo site.
async fn register_demo_source(store: &Store, feed_url: &str) -> anyhow::Result<()> {
    let name = SourceName::parse(crate::demo::DEMO_SOURCE)?;
    let source = Source {
        name: name.clone(),
        kind: SourceKind::Rss,
        url: feed_url.to_owned(),
        selectors: None,
        schedule: Some(crate::demo::DEMO_SCHEDULE.to_owned()),
        rate_limit_per_sec: 1.0,
        enabled: true,
    };
    if store.get_source(&name).await?.is_some() {
        store.update_source(&source).await?;
    } else {
        store.insert_source(&source).await?;
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let reader = tokio::io::BufReader::with_capacity(1 << 20, file);
    let started = Instant::now();
    let bar = mediawarm_shared::progress::bar("import", size, "bytes");
    let mut last_report = Instant::now();
    let mut progress = |p: mediawarm_shared::store::ImportProgress| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} lines, {} new", p.lines, p.new));
        if !mediawarm_shared::progress::enabled() && last_report.elapsed() >= Duration::from_secs(1)
        {
            last_report = Instant::now();
            eprintln!(
                "import: {} lines so far ({:.0?})",
                p.lines,
                started.elapsed()
            );
        }
    };
    let report = store
        .import_jsonl(reader, &mut progress)
        .await
        .with_context(|| format!("importing {}", args.file.display()));
    bar.finish();
    let report = report?;
    eprintln!(
        "import: {} lines in {:.2?}: {} new, {} updated, {} unchanged, {} sources created",
        report.lines,
        started.elapsed(),
        report.new,
        report.updated,
        report.unchanged,
        report.sources_created
    );
    if report.new + report.updated == 0 {
        return Ok(());
    }
    let patterns: Vec<String> = DATA_CATEGORIES.iter().map(|c| format!("{c}:*")).collect();
    if args.cache.redis_url.is_some() {
        let cache = CacheService::new(args.cache.cache_config()).await;
        for raw in &patterns {
            let pattern = KeyPattern::parse(raw, CATEGORIES)?;
            cache
                .invalidate(&pattern, CATEGORIES)
                .await
                .context("invalidating the cache after the import (rerun the import to retry)")?;
        }
        eprintln!("import: derived cache keys invalidated");
    } else {
        // Embedded mode: the cache lives in the server process; its in-process worker takes
        // this job from the queue file (now, or when the server next starts).
        let queue = connect_queue(args.worker.queue_config(None, &args.store.data_dir)).await?;
        let payload = JobPayload::Invalidate(InvalidateCache { patterns });
        let job = enqueue(&store, &queue, payload, &args.worker.enqueue_options()).await?;
        eprintln!(
            "import: cache invalidation queued for the server (job {})",
            job.unwrap_or_default()
        );
    }
    Ok(())
}
