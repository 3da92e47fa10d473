//! The `mediawarm-api` command line: `serve` (the default), `migrate` and `import`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mediawarm_shared::cache::{CacheService, KeyPattern};
use mediawarm_shared::config::{CacheArgs, StoreArgs};
use mediawarm_shared::store::Store;
use mediawarm_shared::views::{CATEGORIES, DATA_CATEGORIES};

use crate::auth::OperatorToken;
use crate::{AppState, Application, shutdown_signal};

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
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8001")]
    bind: String,
    /// Bearer token of the operator endpoints. Unset: a random one is generated and logged
    /// once at start-up.
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    tracing::info!(store = %store.describe(), "database ready");
    let cache = CacheService::new(args.cache.cache_config()).await;
    let operator = match args.operator_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => OperatorToken::new(token),
        None => {
            let (token, value) = OperatorToken::generate();
            tracing::warn!(operator_token = %value, "OPERATOR_TOKEN unset: generated a token for this run");
            token
        }
    };
    let state = AppState::new(store, cache, operator).await?;
    let app = Application::bind(&args.bind, state)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    tracing::info!(addr = %app.local_addr()?, "mediawarm-api listening");
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let reader = tokio::io::BufReader::with_capacity(1 << 20, file);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut progress = |p: mediawarm_shared::store::ImportProgress| {
        if last_report.elapsed() >= Duration::from_secs(1) {
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
        .with_context(|| format!("importing {}", args.file.display()))?;
    eprintln!(
        "import: {} lines in {:.2?}: {} new, {} updated, {} unchanged, {} sources created",
        report.lines,
        started.elapsed(),
        report.new,
        report.updated,
        report.unchanged,
        report.sources_created
    );
    if report.new + report.updated > 0 && args.cache.redis_url.is_some() {
        let cache = CacheService::new(args.cache.cache_config()).await;
        for category in DATA_CATEGORIES {
            let pattern = KeyPattern::parse(&format!("{category}:*"), CATEGORIES)?;
            cache
                .invalidate(&pattern, CATEGORIES)
                .await
                .context("invalidating the cache after the import (rerun the import to retry)")?;
        }
        eprintln!("import: derived cache keys invalidated");
    }
    Ok(())
}
