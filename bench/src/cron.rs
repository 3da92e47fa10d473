//! `--only-cron`: the scheduler's cost per poll with 10,000 sources whose schedules are
//! spread over the minute, two schedulers on one store and queue, nothing consuming.
//!
//! The clock is simulated in [`POLL`] steps over two minutes: in the first every tick is
//! recorded once (one scheduler records it, the other finds it taken); in the second every
//! tick is skipped because the source's job is still pending. Each poll's wall time is
//! measured; then the sources are changed a few times to time a reload of all of them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DurationRound, TimeDelta, Utc};
use clap::Parser as _;
use mediawarm_shared::cache::{CacheConfig, CacheService};
use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::Queue;
use mediawarm_shared::store::{JobCounts, Store, StoreConfig};
use mediawarm_shared::views::CATEGORIES;
use mediawarm_testkit::services::TestServices;
use mediawarm_worker::Context;
use mediawarm_worker::config::WorkerArgs;
use mediawarm_worker::cron::{POLL, PollReport, Scheduler};

/// Sources scheduled.
const SOURCES: usize = 10_000;

#[derive(clap::Parser)]
struct Defaults {
    #[command(flatten)]
    worker: WorkerArgs,
}

async fn context(dir: &Path, services: Option<&TestServices>) -> anyhow::Result<Arc<Context>> {
    let mut args = Defaults::parse_from(["bench"]).worker;
    args.queue_max_depth = 1_000_000;
    let store = Store::connect(&StoreConfig {
        database_url: services.map(|s| s.database.url.clone()),
        sqlite_path: dir.join("mediawarm.db"),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(10),
    })
    .await?;
    store.migrate().await?;
    if let Some(services) = services {
        args.queue_namespace = services.redis.namespace();
    }
    let redis = services.map(|s| s.redis.url.clone());
    let queue = Queue::connect(args.queue_config(redis.as_deref(), dir)).await?;
    let cache = CacheService::new(CacheConfig::default()).await;
    let metrics = Metrics::new(&cache, CATEGORIES, JobCounts::default());
    Ok(Context::new(
        store,
        cache,
        HotKeys::in_memory(Duration::from_secs(60)),
        queue,
        args,
        metrics,
    )
    .await?)
}

fn source(i: usize) -> anyhow::Result<Source> {
    let mut source = Source::import(SourceName::parse(&format!("c{i:05}"))?);
    source.kind = SourceKind::Rss;
    source.url = format!("http://127.0.0.1:9/{i}.xml");
    source.schedule = Some(format!("{} * * * * *", i % 60));
    Ok(source)
}

/// p50 and p99 of `samples`, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.5), at(0.99))
}

/// Measures one stack and prints its figures.
async fn measure(label: &str, dir: &Path, services: Option<&TestServices>) -> anyhow::Result<()> {
    let a = context(dir, services).await?;
    let b = context(dir, services).await?;
    let setup = Instant::now();
    for i in 0..SOURCES {
        a.store.insert_source(&source(i)?).await?;
    }
    println!(
        "{label}: {SOURCES} sources inserted in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let start = Utc::now().duration_trunc(TimeDelta::seconds(1))?;
    let (mut sa, mut sb) = (Scheduler::new(), Scheduler::new());
    let loaded = Instant::now();
    sa.poll(&a, start).await;
    let first_load = loaded.elapsed();
    sb.poll(&b, start).await;
    let step = TimeDelta::from_std(POLL)?;
    let steps_per_minute = 60_000 / POLL.as_millis() as i64;
    for (minute, what) in [
        (0, "first minute (every tick recorded once)"),
        (1, "second minute (every tick skipped: job pending)"),
    ] {
        let mut samples = Vec::new();
        let mut total = PollReport::default();
        let mut busy = Duration::ZERO;
        for i in 1..=steps_per_minute {
            let now = start + step * (minute * steps_per_minute + i) as i32;
            for (scheduler, ctx) in [(&mut sa, &a), (&mut sb, &b)] {
                let t = Instant::now();
                let report = scheduler.poll(ctx, now).await;
                let took = t.elapsed();
                samples.push(took);
                busy += took;
                total.enqueued += report.enqueued;
                total.skipped += report.skipped;
                total.duplicates += report.duplicates;
                total.failed += report.failed;
            }
        }
        let (p50, p99) = percentiles(&mut samples);
        let ticks = total.enqueued + total.skipped + total.duplicates + total.failed;
        println!(
            "{label}: {what}: {} polls, p50 {p50:.2} ms, p99 {p99:.2} ms per poll; {} recorded, {} found taken, {} skipped, {} failed; {:.0} ticks/s handled by one scheduler ({:.0} µs a tick); {:.1} s of polling for a minute of schedule",
            samples.len(),
            total.enqueued,
            total.duplicates,
            total.skipped,
            total.failed,
            ticks as f64 / busy.as_secs_f64(),
            busy.as_secs_f64() * 1e6 / ticks.max(1) as f64,
            busy.as_secs_f64(),
        );
    }
    let mut idle = Vec::new();
    let now = start + step * (2 * steps_per_minute + 1) as i32;
    for _ in 0..50 {
        let t = Instant::now();
        sa.poll(&a, now - TimeDelta::milliseconds(100)).await;
        idle.push(t.elapsed());
    }
    let mut reloads = Vec::new();
    for i in 0..5 {
        let mut changed = source(i)?;
        changed.schedule = Some(format!("{} * * * * *", (i + 1) % 60));
        a.store.update_source(&changed).await?;
        let t = Instant::now();
        let report = sa.poll(&a, now - TimeDelta::milliseconds(100)).await;
        reloads.push(t.elapsed());
        anyhow::ensure!(report.reloaded, "a changed source was not reloaded");
    }
    let (idle50, idle99) = percentiles(&mut idle);
    let (reload50, reload99) = percentiles(&mut reloads);
    println!(
        "{label}: poll with nothing due: p50 {idle50:.2} ms, p99 {idle99:.2} ms; first load of {} sources {:.0} ms; reload after one source changed p50 {reload50:.0} ms, max {reload99:.0} ms (seen at the next {} ms poll)",
        sa.scheduled(),
        first_load.as_secs_f64() * 1000.0,
        POLL.as_millis(),
    );
    Ok(())
}

/// Runs the measurement on SQLite, and on PostgreSQL + Redis when `TEST_DATABASE_URL` and
/// `TEST_REDIS_URL` are set; prints the figures and writes nothing.
pub(crate) async fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mwbench-cron-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = measure("sqlite", &dir.join("sqlite"), None).await;
    let postgres = if std::env::var_os("TEST_DATABASE_URL").is_some()
        && std::env::var_os("TEST_REDIS_URL").is_some()
    {
        let services = TestServices::create("mwbench_cron").await;
        std::fs::create_dir_all(dir.join("postgres"))?;
        measure("postgres+redis", &dir.join("postgres"), Some(&services)).await
    } else {
        println!("postgres+redis: skipped (set TEST_DATABASE_URL and TEST_REDIS_URL)");
        Ok(())
    };
    let _ = std::fs::remove_dir_all(&dir);
    sqlite.and(postgres)
}
