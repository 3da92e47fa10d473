//! `mediawarm-worker`: a worker process (production). Consumes scrape, warm and invalidate
//! jobs, and runs the scheduler unless `--no-cron`.
//!
//! `mediawarm-worker extract [--url URL] FILE.html` prints the article the scraper would store
//! for a saved page (JSON on stdout, nothing else); `mediawarm-worker extract --labels DIR`
//! scores the extractor on a labelled folder. `mediawarm-worker backfill --source NAME`
//! corrects the stored dates of a source's articles with the current extractor
//! (docs/OPERATIONS.md): a table on stderr, one JSON line on stdout. Logs go to stderr.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use mediawarm_shared::cache::CacheService;
use mediawarm_shared::config::{CacheArgs, StoreArgs};
use mediawarm_shared::domain::SourceName;
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::Queue;
use mediawarm_shared::redis_target::check_urls;
use mediawarm_shared::shutdown::shutdown_signal;
use mediawarm_shared::store::Store;
use mediawarm_shared::views::CATEGORIES;
use mediawarm_worker::backfill::BackfillOptions;
use mediawarm_worker::config::WorkerArgs;
use mediawarm_worker::metrics_server::MetricsServer;
use mediawarm_worker::scraper::extract::decode_html;
use mediawarm_worker::scraper::{evaluate, page_article};
use mediawarm_worker::{Context, connect_queue, run};

/// mediawarm's worker process.
#[derive(Debug, Parser)]
#[command(name = "mediawarm-worker", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the article the scraper would store for a saved page, or score the extractor
    /// on a labelled folder (`pages/*.html` + `labels.jsonl`).
    Extract(ExtractArgs),
    /// Fetch a source's stored article pages again and correct the dates the current
    /// extractor reads differently (`published_at` and `sort_at`); then invalidate the
    /// derived views.
    Backfill(Box<BackfillArgs>),
}

/// Options of `backfill`.
#[derive(Debug, Args)]
struct BackfillArgs {
    /// The source whose stored articles are checked.
    #[arg(long, value_name = "NAME")]
    source: String,
    /// Most stored pages fetched (lowest ids first); default: all of them.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Fetch and count what would change; write nothing, invalidate nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    worker: WorkerArgs,
}

/// Options of the worker itself (the default command).
#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    worker: WorkerArgs,
    /// Where this worker serves `GET /metrics` (e.g. 0.0.0.0:9101). Unset: no listener.
    #[arg(long, env = "WORKER_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
}

/// Options of `extract`.
#[derive(Debug, Args)]
struct ExtractArgs {
    /// The page's address (resolves links, recognises the site name, dates from the path).
    #[arg(long, conflicts_with = "labels")]
    url: Option<url::Url>,
    /// Score labelled folders instead: prints, for each folder, per-field accuracy (exact and
    /// lenient) per origin as the corpus' score.py does, how many labelled pages each rule of
    /// each field's cascade decided and got right, and the extraction time per page.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with = "file")]
    labels: Vec<PathBuf>,
    /// With --labels: score only half A or B of each folder's pages (halves by a stable hash
    /// of the page's host, so that no site is in both).
    #[arg(long, value_name = "HALF", requires = "labels", value_parser = parse_half)]
    split: Option<evaluate::Half>,
    /// With --labels: also write the predictions (one JSON object a line, score.py's input);
    /// with several folders, to FILE.1, FILE.2, … in folder order.
    #[arg(long, value_name = "FILE", requires = "labels")]
    predictions: Option<PathBuf>,
    /// The saved HTML page.
    #[arg(required_unless_present = "labels")]
    file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dotenvy::dotenv().ok();
    mediawarm_shared::telemetry::init()?;
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Extract(args)) => extract(args),
        Some(Command::Backfill(args)) => backfill(*args).await,
        None => worker(cli.run).await,
    }
}

/// The worker process.
async fn worker(cli: RunArgs) -> anyhow::Result<()> {
    check_urls(&[
        ("REDIS_URL", cli.cache.redis_url.as_deref()),
        ("QUEUE_REDIS_URL", cli.worker.queue_redis_url.as_deref()),
    ])?;
    if cli.cache.redis_url.is_none() {
        tracing::warn!(
            "REDIS_URL unset: this worker uses the SQLite queue file and cannot reach the cache of \
             an API process (in embedded mode, mediawarm-api runs the worker in-process)"
        );
    }
    let Services {
        store,
        cache,
        hot,
        queue,
        metrics,
    } = Services::open(&cli.store, &cli.cache, &cli.worker).await?;
    if let Some(addr) = cli.metrics_bind {
        let server = MetricsServer::bind(addr, metrics.clone(), store.clone())
            .await
            .with_context(|| format!("binding WORKER_METRICS_BIND {addr}"))?;
        tracing::info!(addr = %server.local_addr()?, "worker metrics listening");
        tokio::spawn(async move {
            if let Err(error) = server.run_until(shutdown_signal()).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let ctx = Context::new(store, cache, hot, queue, cli.worker, metrics).await?;
    run(ctx, shutdown_signal()).await
}

/// What a worker context is built from, opened as the options say: the migrated store, the
/// cache, hot keys, the queue and the process' metrics. Shared by `run` and `backfill`.
struct Services {
    store: Store,
    cache: CacheService,
    hot: HotKeys,
    queue: Queue,
    metrics: Metrics,
}

impl Services {
    async fn open(
        store_args: &StoreArgs,
        cache_args: &CacheArgs,
        worker: &WorkerArgs,
    ) -> anyhow::Result<Self> {
        let store = Store::connect(&store_args.store_config())
            .await
            .context("connecting to the database")?;
        store.migrate().await.context("applying migrations")?;
        let cache = CacheService::new(cache_args.cache_config()).await;
        let hot = cache_args.hot_keys().context("hot keys")?;
        let queue = connect_queue(worker.queue_config(
            worker.queue_redis(cache_args.redis_url.as_deref()),
            &store_args.data_dir,
        ))
        .await
        .context("connecting to the queue")?;
        let metrics = Metrics::new(&cache, CATEGORIES, store_args.job_counts());
        Ok(Self {
            store,
            cache,
            hot,
            queue,
            metrics,
        })
    }
}

/// `backfill`: the report as a table on stderr and one JSON line on stdout.
async fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let name = SourceName::parse(&args.source)
        .map_err(|e| anyhow::anyhow!("--source {:?}: {e}", args.source))?;
    let Services {
        store,
        cache,
        hot,
        queue,
        metrics,
    } = Services::open(&args.store, &args.cache, &args.worker).await?;
    let ctx = Context::new(store, cache, hot, queue, args.worker, metrics).await?;
    let options = BackfillOptions {
        limit: args.limit,
        dry_run: args.dry_run,
    };
    let report =
        mediawarm_worker::backfill::backfill(&ctx, &name, &options, shutdown_signal()).await?;
    let mut stderr = std::io::stderr().lock();
    let mode = if report.dry_run { " (dry run)" } else { "" };
    writeln!(stderr, "backfill of {}{mode}", report.source)?;
    for (what, n) in [
        ("pages fetched", report.pages),
        ("unchanged", report.unchanged),
        ("changed", report.changed),
        ("written", report.written),
        ("no date on page", report.no_date),
        ("failed", report.failed),
        ("hot keys rewarmed", report.hot_keys_rewarmed),
    ] {
        writeln!(stderr, "  {what:<18} {n:>8}")?;
    }
    writeln!(
        stderr,
        "  {:<18} {:>8}",
        "views invalidated", report.invalidated
    )?;
    if report.interrupted {
        writeln!(stderr, "  interrupted: pages after these were not read")?;
    }
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string(&report)?
    )?;
    if report.interrupted {
        anyhow::bail!("interrupted after {} pages", report.pages);
    }
    Ok(())
}

/// `--split A|B`.
fn parse_half(s: &str) -> Result<evaluate::Half, String> {
    match s {
        "A" | "a" => Ok(evaluate::Half::A),
        "B" | "b" => Ok(evaluate::Half::B),
        _ => Err(format!("{s:?} is not a half: A or B")),
    }
}

/// `extract`: one page to stdout as JSON, or labelled folders scored.
fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let folders = args.labels.len();
    for (i, dir) in args.labels.iter().enumerate() {
        let bar = mediawarm_shared::progress::bar("extract", 0, " pages");
        let evaluation = evaluate::evaluate(dir, args.split, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        });
        bar.finish_and_clear();
        let evaluation = evaluation?;
        if let Some(path) = &args.predictions {
            let path = if folders == 1 {
                path.clone()
            } else {
                let mut numbered = path.clone().into_os_string();
                numbered.push(format!(".{}", i + 1));
                PathBuf::from(numbered)
            };
            let mut lines = String::new();
            for prediction in &evaluation.predictions {
                lines.push_str(&serde_json::to_string(prediction)?);
                lines.push('\n');
            }
            std::fs::write(&path, lines).with_context(|| format!("writing {}", path.display()))?;
        }
        let half = match args.split {
            Some(evaluate::Half::A) => ", half A",
            Some(evaluate::Half::B) => ", half B",
            None => "",
        };
        writeln!(
            stdout,
            "== {} ({} pages{half})",
            dir.display(),
            evaluation.predictions.len()
        )?;
        for group in &evaluation.groups {
            writeln!(stdout, "{group}")?;
        }
        writeln!(stdout, "rules (labelled pages decided, right):")?;
        for rule in &evaluation.rules {
            writeln!(stdout, "  {rule}")?;
        }
        let ms = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        if let Some((file, worst)) = evaluation.slowest() {
            writeln!(
                stdout,
                "time per page: p50 {:.2} ms, p99 {:.2} ms, worst {:.2} ms ({file}; CPU time of the extracting thread)",
                ms(evaluation.time_quantile(0.5)),
                ms(evaluation.time_quantile(0.99)),
                ms(Some(*worst)),
            )?;
        }
    }
    if folders > 0 {
        return Ok(());
    }
    let file = args.file.context("a FILE.html or --labels DIR is needed")?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let article = page_article(&decode_html(&bytes, None), args.url.as_ref());
    if article.title.is_none() {
        anyhow::bail!(
            "{} has no title: the scraper would store nothing for it",
            file.display()
        );
    }
    writeln!(stdout, "{}", serde_json::to_string(&article)?)?;
    Ok(())
}
