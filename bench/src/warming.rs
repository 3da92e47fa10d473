//! Row 6: the hit rate of the 100 hottest keys while scrapes keep changing the data, and the
//! time the worker takes to rewarm them.
//!
//! Production shape: a `mediawarm-api` process and a `mediawarm-worker` process sharing a
//! fresh PostgreSQL database and this run's Redis prefix. 100 views (80 `latest` pages of
//! different sizes, 20 `volume` views) are read until they are the hot keys; then `wrk` reads
//! them at random for the whole window while, once a second, the fixture site publishes a
//! story and a scrape job is enqueued through the API — each scrape adds an article, so it
//! invalidates every derived category and rewarms the hot keys. The hit rate is what `wrk`
//! saw in `x-cache`; the rewarm time is the worker's own `mediawarm_warm_duration_seconds`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::store::{Store, StoreConfig};
use mediawarm_testkit::FixtureSite;
use serde_json::Value;

use crate::Bench;
use crate::report::{Report, Row};
use crate::server::{Child, Deployment, OPERATOR_TOKEN};
use crate::wrk::{self, thousands};

/// The row's name.
pub(crate) const NAME: &str = "warming: hot-key hit rate during continuous scrapes (hits / reads)";
/// The row's target.
pub(crate) const TARGET: &str = "≥ 99 %";

/// The 100 hot views.
fn hot_paths() -> Vec<String> {
    let mut paths: Vec<String> = (1..=80)
        .map(|n| format!("/api/v1/media/latest?limit={n}"))
        .collect();
    for tz in [
        "UTC",
        "Europe/Paris",
        "Europe/London",
        "America/New_York",
        "America/Los_Angeles",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Australia/Sydney",
        "America/Sao_Paulo",
        "Africa/Lagos",
    ] {
        for interval in ["hour", "day"] {
            paths.push(format!("/api/v1/volume?interval={interval}&tz={tz}"));
        }
    }
    paths
}

/// Row 6; returns the worker's peak RSS (MiB).
pub(crate) async fn warming_row(bench: &Bench, report: &mut Report) -> anyhow::Result<Option<f64>> {
    if !(bench.pg_ok && bench.redis_ok) {
        report.push(Row::skipped(
            NAME,
            TARGET,
            "needs PostgreSQL and Redis (the production shape)",
        ));
        return Ok(None);
    }
    let db = format!("mwbench_warm_{}", bench.run_id);
    crate::data::create_database(&bench.admin_pg, &db, true).await?;
    let deployment = Deployment {
        database_url: Some(crate::data::database_url(&bench.admin_pg, &db)),
        redis_url: Some(bench.redis_url.clone()),
        data_dir: bench.work.join("warm"),
        cache_prefix: format!("mwbench:{}:warm:", bench.run_id),
        queue_namespace: format!("mwbench-warm-{}", bench.run_id),
        log: bench.work.join("warm.log"),
    };
    let result = measure(bench, report, &deployment).await;
    let _ = crate::data::clean_redis(&bench.redis_url, &deployment.cache_prefix).await;
    let _ = crate::data::clean_redis(&bench.redis_url, &deployment.queue_namespace).await;
    let _ = crate::data::drop_database(&bench.admin_pg, &db).await;
    result
}

async fn measure(
    bench: &Bench,
    report: &mut Report,
    d: &Deployment,
) -> anyhow::Result<Option<f64>> {
    let site = Arc::new(FixtureSite::start().await);
    site.publish("seed", 50, chrono::Utc::now() - chrono::Duration::hours(2));
    let store = Store::connect(&StoreConfig {
        database_url: d.database_url.clone(),
        ..StoreConfig::default()
    })
    .await?;
    store.migrate().await?;
    store
        .insert_source(&Source {
            name: SourceName::parse("warm")?,
            kind: SourceKind::Rss,
            url: site.feed_url(),
            selectors: None,
            schedule: None,
            rate_limit_per_sec: 1_000_000.0,
            enabled: true,
        })
        .await?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let api = Child::api(&bench.api_bin, d, &[("WARM_TOP_N", "100")]).await?;
    let worker = Child::worker(
        &bench.worker_bin,
        d,
        &["--no-cron"],
        &[
            ("WARM_TOP_N", "100"),
            ("WORKER_METRICS_BIND", &metrics_bind),
        ],
    )?;
    let client = reqwest::Client::new();
    let first = scrape(&client, &api.base).await?;
    wait_done(&client, &api.base, &first).await?;

    let paths = hot_paths();
    for _ in 0..3 {
        for path in &paths {
            let status = client
                .get(format!("{}{path}", api.base))
                .send()
                .await?
                .status();
            if !status.is_success() {
                bail!("GET {path}: {status}");
            }
        }
    }
    // The API flushes its hot-key counts to Redis every second.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let window = if bench.quick { 6 } else { 20 };
    let generator = format!(
        "local paths = {{{}}}\nfunction request()\n  return wrk.format(\"GET\", paths[math.random(1, #paths)])\nend\n",
        paths
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let scrapes = {
        let (client, base) = (client.clone(), api.base.clone());
        let site_clone = Arc::clone(&site);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.tick().await;
            for i in 0..window {
                ticks.tick().await;
                site_clone.publish(&format!("live{i}"), 1, chrono::Utc::now());
                ids.push(scrape(&client, &base).await?);
            }
            anyhow::Ok(ids)
        })
    };
    let load = wrk::Load {
        threads: 2,
        connections: 16,
        seconds: window + 1,
    };
    let result = wrk::run(
        &bench.wrk,
        &bench.work,
        &api.base,
        &paths[0],
        &generator,
        load,
    )
    .await?;
    let ids = scrapes.await.context("the scrape loop")??;
    let mut new_articles = 0;
    for id in &ids {
        let job = wait_done(&client, &api.base, id).await?;
        new_articles += job["result"]["articles_new"].as_u64().unwrap_or(0);
    }
    let worker_metrics = client
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let rss = worker.peak_rss_mib();
    worker.stop().await;
    api.stop().await;

    let reads = result.hits + result.misses;
    let hit_rate = result.hits as f64 / reads.max(1) as f64;
    let rewarm: Vec<String> = ["media", "volume", "simplified"]
        .iter()
        .filter_map(|category| {
            let sum = sample(
                &worker_metrics,
                &format!("mediawarm_warm_duration_seconds_sum{{category=\"{category}\"}}"),
            )?;
            let count = sample(
                &worker_metrics,
                &format!("mediawarm_warm_duration_seconds_count{{category=\"{category}\"}}"),
            )?;
            (count > 0.0).then(|| format!("{category} {:.1} ms", sum / count * 1000.0))
        })
        .collect();
    let runs = sample(
        &worker_metrics,
        "mediawarm_warm_duration_seconds_count{category=\"media\"}",
    )
    .unwrap_or(0.0);
    report.push(Row::measured(
        NAME,
        format!("{:.2} %", hit_rate * 100.0),
        TARGET,
        Some(hit_rate >= 0.99),
        format!(
            "{} reads of {} hot keys in {} s under wrk ({}), {} misses; {} scrapes (one a \
             second) added {new_articles} articles, each invalidating every category and \
             rewarming the hot keys; time to rewarm (invalidate + recompute + install, mean \
             per category over {runs:.0} runs, the worker's `mediawarm_warm_duration_seconds`): {}",
            thousands(reads as f64),
            paths.len(),
            window + 1,
            result.summary(),
            thousands(result.misses as f64),
            ids.len(),
            rewarm.join(", ")
        ),
    ));
    Ok(rss)
}

/// Enqueues a scrape of the `warm` source through the API; returns the job id.
async fn scrape(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/jobs/scrape"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&serde_json::json!({"source": "warm"}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != 202 {
        bail!("enqueueing a scrape: {status} {body}");
    }
    body["job_id"]
        .as_str()
        .map(str::to_owned)
        .context("no job_id in the answer")
}

/// Waits (up to 120 s) for job `id` to be done; fails if it dies.
async fn wait_done(client: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        let job: Value = client
            .get(format!("{base}/api/v1/jobs/{id}"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?
            .json()
            .await?;
        match job["status"].as_str() {
            Some("done") => return Ok(job),
            Some("dead") => bail!("scrape job {id} died: {}", job["error"]),
            _ if started.elapsed() > Duration::from_secs(120) => {
                bail!("scrape job {id} did not finish within 120 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The value of one exported series (`name{labels}` exactly as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, v)| v.parse().ok())
}
