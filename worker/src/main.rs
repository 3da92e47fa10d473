//! `mediawarm-worker`: a worker process (production). Consumes scrape, warm and invalidate
//! jobs, and runs the scheduler unless `--no-cron`.

use anyhow::Context as _;
use clap::Parser;
use mediawarm_shared::cache::CacheService;
use mediawarm_shared::config::{CacheArgs, StoreArgs};
use mediawarm_shared::store::Store;
use mediawarm_worker::config::WorkerArgs;
use mediawarm_worker::{Context, connect_queue, run, shutdown_signal};

/// mediawarm's worker process.
#[derive(Debug, Parser)]
#[command(name = "mediawarm-worker", version, about)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    worker: WorkerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dotenvy::dotenv().ok();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.cache.redis_url.is_none() {
        tracing::warn!(
            "REDIS_URL unset: this worker uses the SQLite queue file and cannot reach the cache of \
             an API process (in embedded mode, mediawarm-api runs the worker in-process)"
        );
    }
    let store = Store::connect(&cli.store.store_config())
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    let cache = CacheService::new(cli.cache.cache_config()).await;
    let hot = cli.cache.hot_keys().context("hot keys")?;
    let queue = connect_queue(
        cli.worker
            .queue_config(cli.cache.redis_url.as_deref(), &cli.store.data_dir),
    )
    .await
    .context("connecting to the queue")?;
    let ctx = Context::new(store, cache, hot, queue, cli.worker).await?;
    run(ctx, shutdown_signal()).await
}
