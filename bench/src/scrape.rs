//! Row 5: article pages scraped per second end to end (fetch, extract, upsert, invalidate)
//! against loopback fixture sites, next to the fixture server's own requests per second
//! under wrk; then the real job path (`ScrapeSource` through the queue to a
//! `mediawarm-worker` process) for the worker's peak RSS.
//!
//! The fixture is two `mediawarm_testkit::FixtureSite`s of 5,000 articles each (the
//! scraper reads at most 5,000 links from one feed), served from this process.

use std::time::{Duration, Instant};

use mediawarm_shared::cache::{CacheConfig, CacheService, KeyPattern};
use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::jobs::{JobPayload, JobStatus, ScrapeSource};
use mediawarm_shared::queue::{EnqueueOptions, Queue, QueueConfig, enqueue};
use mediawarm_shared::store::{Store, StoreConfig};
use mediawarm_shared::views::{CATEGORIES, DATA_CATEGORIES};
use mediawarm_testkit::FixtureSite;
use mediawarm_worker::scraper::{Scraper, ScraperConfig};

use crate::Bench;
use crate::report::{Report, Row};
use crate::server::{Child, Deployment};
use crate::wrk::{self, thousands};

const PER_SITE: usize = 5_000;

/// Row 5; returns the worker's peak RSS (MiB) when the job path ran.
pub(crate) async fn scrape_rows(bench: &Bench, report: &mut Report) -> anyhow::Result<Option<f64>> {
    let sites = [FixtureSite::start().await, FixtureSite::start().await];
    let now = chrono::Utc::now();
    for site in &sites {
        site.publish("s", PER_SITE, now);
    }
    let generator = format!(
        "function request()\n  return wrk.format(\"GET\", \"/a/s-\" .. math.random(0, {}))\nend\n",
        PER_SITE - 1
    );
    let fixture = wrk::run(
        &bench.wrk,
        &bench.work,
        &sites[0].base,
        "/a/s-0",
        &generator,
        bench.throughput_load(),
    )
    .await?;

    let db = format!("mwbench_scrape_{}", bench.run_id);
    let database_url = if bench.pg_ok {
        crate::data::create_database(&bench.admin_pg, &db, true).await?;
        Some(crate::data::database_url(&bench.admin_pg, &db))
    } else {
        None
    };
    let result = measure(bench, report, &sites, &fixture, database_url.clone()).await;
    if bench.pg_ok {
        let _ = crate::data::drop_database(&bench.admin_pg, &db).await;
    }
    let _ = std::fs::remove_file(bench.work.join("scrape.db"));
    result
}

async fn measure(
    bench: &Bench,
    report: &mut Report,
    sites: &[FixtureSite; 2],
    fixture: &wrk::WrkResult,
    database_url: Option<String>,
) -> anyhow::Result<Option<f64>> {
    let store = Store::connect(&StoreConfig {
        database_url: database_url.clone(),
        sqlite_path: bench.work.join("scrape.db"),
        ..StoreConfig::default()
    })
    .await?;
    store.migrate().await?;
    let prefix = format!("mwbench:{}:scrape:", bench.run_id);
    let cache = CacheService::new(CacheConfig {
        redis_url: bench.redis_ok.then(|| bench.redis_url.clone()),
        prefix: prefix.clone(),
        ..CacheConfig::default()
    })
    .await;
    let mut sources = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let source = Source {
            name: SourceName::parse(&format!("fixture-{i}"))?,
            kind: SourceKind::Rss,
            url: site.feed_url(),
            selectors: None,
            schedule: None,
            rate_limit_per_sec: 1_000_000.0,
            enabled: true,
        };
        store.insert_source(&source).await?;
        sources.push(source);
    }
    let scraper = Scraper::new(ScraperConfig {
        allow_loopback: true,
        max_articles_per_run: PER_SITE,
        page_concurrency: 16,
        ..ScraperConfig::default()
    })?;
    let started = Instant::now();
    let runs = sources.iter().map(|source| {
        let (scraper, store, cache) = (scraper.clone(), store.clone(), cache.clone());
        async move {
            let out = scraper.scrape(source, &store, false).await?;
            let outcome = store
                .upsert_articles(&out.articles, chrono::Utc::now())
                .await?;
            if outcome.changed() {
                for category in DATA_CATEGORIES {
                    let pattern = KeyPattern::parse(&format!("{category}:*"), CATEGORIES)?;
                    cache.invalidate(&pattern, CATEGORIES).await?;
                }
            }
            anyhow::Ok((out.pages_fetched, outcome.new))
        }
    });
    let results = futures::future::try_join_all(runs).await?;
    let secs = started.elapsed().as_secs_f64();
    let pages: i64 = results.iter().map(|r| r.0).sum();
    let new: u64 = results.iter().map(|r| r.1).sum();
    let rate = pages as f64 / secs;
    report.push(Row::measured(
        "scrape: pages/s end to end / fixture's own req/s under wrk",
        format!("{:.3}×", rate / fixture.rps()),
        "≥ 1,000 pages/s",
        Some(rate >= 1_000.0),
        format!(
            "{} pages ({} new articles) in {secs:.2} s = {} pages/s ({}); fixture: {}",
            thousands(pages as f64),
            thousands(new as f64),
            thousands(rate),
            store.kind(),
            fixture.summary()
        ),
    ));
    report.note(
        "Method",
        format!(
            "Scrape: two fixture sites of {PER_SITE} article pages each (RSS feed + pages with \
             OpenGraph/JSON-LD), in this process on loopback; both sources scraped at once \
             through `mediawarm_worker::scraper::Scraper` (the job handler's scraper: address \
             guard, fetch, extraction) with the per-run cap lifted to {PER_SITE} and 16 pages \
             in flight, then `Store::upsert_articles` and invalidation of every derived \
             category — the job handler's steps without the queue. The fixture's req/s is \
             `wrk` on random article pages with the hit-path settings."
        ),
    );

    let worker_rss = if bench.redis_ok {
        job_path(bench, report, &store, &sources, database_url).await?
    } else {
        None
    };
    let _ = crate::data::clean_redis(&bench.redis_url, &prefix).await;
    Ok(worker_rss)
}

/// The real job path on the default settings: a `ScrapeSource { refresh: true }` per source
/// through the Redis queue to a `mediawarm-worker` process.
async fn job_path(
    bench: &Bench,
    report: &mut Report,
    store: &Store,
    sources: &[Source],
    database_url: Option<String>,
) -> anyhow::Result<Option<f64>> {
    let ns = format!("mwbench-w-{}", bench.run_id);
    let prefix = format!("mwbench:{}:worker:", bench.run_id);
    let deployment = Deployment {
        database_url,
        redis_url: Some(bench.redis_url.clone()),
        data_dir: bench.work.join("worker"),
        cache_prefix: prefix.clone(),
        queue_namespace: ns.clone(),
        log: bench.work.join("worker.log"),
    };
    let worker = Child::worker(&bench.worker_bin, &deployment, &["--no-cron"], &[])?;
    let queue = Queue::connect(QueueConfig {
        redis_url: Some(bench.redis_url.clone()),
        namespace: ns.clone(),
        ..QueueConfig::default()
    })
    .await?;
    let options = EnqueueOptions {
        max_attempts: 1,
        max_depth: 1_000,
        dedup_key: None,
        request_id: None,
        on_push_failure: mediawarm_shared::queue::OnPushFailure::Withdraw,
    };
    let started = Instant::now();
    let mut ids = Vec::new();
    for source in sources {
        let payload = JobPayload::Scrape(ScrapeSource {
            source: source.name.clone(),
            refresh: true,
        });
        if let Some(id) = enqueue(store, &queue, payload, &options).await? {
            ids.push(id);
        }
    }
    let mut pages = 0_i64;
    let mut failed = None;
    for id in &ids {
        loop {
            let record = store.job(id).await?;
            match record {
                Some(r) if r.status == JobStatus::Done => {
                    pages += r
                        .result
                        .as_ref()
                        .and_then(|v| v.get("pages_fetched"))
                        .and_then(serde_json::Value::as_i64)
                        .unwrap_or(0);
                    break;
                }
                Some(r) if r.status == JobStatus::Dead => {
                    failed = r.error;
                    break;
                }
                _ if started.elapsed() > Duration::from_secs(120) => {
                    failed = Some("timed out after 120 s".to_owned());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rss = worker.peak_rss_mib();
    worker.stop().await;
    let _ = crate::data::clean_redis(&bench.redis_url, &ns).await;
    let _ = crate::data::clean_redis(&bench.redis_url, &prefix).await;
    match failed {
        Some(error) => report.push(Row::skipped(
            "scrape, real job path (queue → mediawarm-worker, default limits)",
            "",
            &format!("a job failed: {error}"),
        )),
        None => report.push(Row::measured(
            "scrape, real job path (queue → mediawarm-worker, default limits): pages/s",
            format!("{} pages/s", thousands(pages as f64 / secs)),
            "",
            None,
            format!(
                "{} jobs, {pages} pages (refresh; at most 200 a run, 4 in flight) in {secs:.2} s, enqueue to done",
                ids.len()
            ),
        )),
    }
    Ok(rss)
}
