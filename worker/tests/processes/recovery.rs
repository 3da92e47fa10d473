//! Jobs are never lost: real `mediawarm-worker` processes recover every accepted job from
//! the jobs table, whatever the queue forgot and whichever process or service failed.
//!
//! - Redis restarted empty with 1,000 jobs queued and no worker: a worker started afterwards
//!   runs all 1,000, the depth returns to 0, and enqueueing works again.
//! - A worker SIGKILLed mid-scrape while Redis restarts empty: every scrape ends done, each
//!   article is stored once, each job has one run record.
//! - A job recorded but never pushed (a crash between the two): it runs.
//! - PostgreSQL cut for 30 s in the middle of deliveries: no job stays running, none is lost.
//! - A job that never returns: each attempt fails at its deadline, the job ends dead after
//!   its attempts, and the worker's other slot keeps running other jobs meanwhile.
//!
//! The cases that restart Redis own a `redis-server` (the production stack only). The
//! production cases are ignored unless asked for (`-- --include-ignored`) and then fail
//! without `TEST_DATABASE_URL`, `TEST_REDIS_URL` or `redis-server`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use mediawarm_shared::domain::{ErrorClass, RunStatus, SourceName};
use mediawarm_shared::jobs::{InvalidateCache, JobKind, JobPayload, JobStatus};
use mediawarm_shared::queue::new_task_id;
use mediawarm_shared::store::NewJob;
use mediawarm_testkit::faults::{Cut, OwnRedis, Proxy, redis_server_available};
use mediawarm_testkit::{FeedBehaviour, FixtureSite};

use super::harness::{Deployment, Stack};
use super::{SERIAL, finished, in_flight};

/// Fast reconciliation, no scheduler.
const RECONCILING: &[(&str, &str)] = &[("NO_CRON", "true"), ("RECONCILE_INTERVAL_MS", "500")];

/// How long a recovery may take before the case fails.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(180);

/// A production deployment on a Redis the test owns (it needs `TEST_DATABASE_URL`,
/// `TEST_REDIS_URL` for the prefix it cleans, and `redis-server`).
async fn on_own_redis() -> (Deployment, OwnRedis) {
    assert!(
        redis_server_available(),
        "redis-server is needed on the PATH for the Redis recovery cases"
    );
    let redis = OwnRedis::start().await;
    let dep = Deployment::new_with(Stack::Production, Some(redis.url())).await;
    (dep, redis)
}

/// One sample's value in a metrics text (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0.0)
}

/// `sources` fixture sites of `articles` articles each, whose feeds answer after 300 ms,
/// registered as `{prefix}{i}`, and `rounds` scrapes of each enqueued: the sites (kept
/// alive by the caller), the source names and the job ids.
async fn slow_scrapes(
    dep: &Deployment,
    prefix: &str,
    sources: usize,
    articles: usize,
    rounds: usize,
) -> (Vec<FixtureSite>, Vec<SourceName>, Vec<String>) {
    let mut sites = Vec::new();
    let mut names = Vec::new();
    for i in 0..sources {
        let site = FixtureSite::start().await;
        site.publish(&format!("{prefix}{i}-"), articles, Utc::now());
        site.set_feed(FeedBehaviour::Slow(Duration::from_millis(300)));
        names.push(
            dep.add_source(&format!("{prefix}{i}"), &site.feed_url(), None)
                .await
                .name,
        );
        sites.push(site);
    }
    let mut ids = Vec::new();
    for _ in 0..rounds {
        for source in &names {
            ids.push(dep.enqueue_scrape(source).await);
        }
    }
    (sites, names, ids)
}

fn invalidate() -> JobPayload {
    JobPayload::Invalidate(InvalidateCache {
        patterns: vec!["volume:*".to_owned()],
    })
}

/// Waits until no job is pending or running and returns how many are done.
async fn drained(dep: &Deployment, what: &str, workers: &[&super::harness::Worker]) -> i64 {
    dep.wait_within(RECOVERY_DEADLINE, what, workers, || async {
        let counts = dep.job_counts().await;
        let open = counts.get(&JobStatus::Pending).copied().unwrap_or(0)
            + counts.get(&JobStatus::Running).copied().unwrap_or(0);
        (open == 0).then(|| counts.get(&JobStatus::Done).copied().unwrap_or(0))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL, TEST_REDIS_URL and redis-server"]
async fn redis_restarted_empty_with_a_thousand_jobs_queued_loses_none() {
    let _serial = SERIAL.lock().await;
    let (dep, mut redis) = on_own_redis().await;
    const JOBS: usize = 1000;
    let mut ids = HashSet::new();
    for _ in 0..JOBS {
        ids.insert(dep.enqueue(invalidate()).await);
    }
    assert!(redis.dbsize().await > 0, "the jobs were queued in Redis");
    redis.kill().await;
    redis.restart().await;
    assert_eq!(redis.dbsize().await, 0, "Redis came back empty");
    let back = Instant::now();
    let mut worker = dep.spawn_worker(
        "after-restart",
        &[
            ("NO_CRON", "true"),
            ("RECONCILE_INTERVAL_MS", "500"),
            ("WORKER_METRICS_BIND", "127.0.0.1:0"),
        ],
    );
    worker.wait_log("worker metrics listening").await;
    let done = drained(&dep, "every job to finish", &[&worker]).await;
    let recovery = back.elapsed();
    let metrics = worker.metrics().await;
    let repushed = sample(
        &metrics,
        "mediawarm_jobs_repushed_total{kind=\"invalidate\"}",
    );
    assert!(
        repushed >= JOBS as f64,
        "the reconciler's pushes are counted by kind: {repushed}"
    );
    assert_eq!(done, JOBS as i64, "every accepted job ran");
    assert_eq!(dep.store.unfinished_jobs().await.expect("depth"), 0);
    for id in &ids {
        assert_eq!(dep.job(id).await.status, JobStatus::Done, "job {id}");
    }
    let after = dep.enqueue(invalidate()).await;
    assert_eq!(
        finished(&dep, &after, &[&worker]).await.status,
        JobStatus::Done,
        "enqueueing works after the recovery"
    );
    let completions = worker.log().matches("job done").count();
    println!(
        "redis restarted empty: {JOBS} jobs offered, {done} done, {} duplicate completions, \
         last orphan done {recovery:?} after Redis returned",
        completions.saturating_sub(JOBS + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL, TEST_REDIS_URL and redis-server"]
async fn a_sigkilled_worker_and_an_emptied_redis_lose_no_scrape() {
    let _serial = SERIAL.lock().await;
    let (dep, mut redis) = on_own_redis().await;
    const SOURCES: usize = 12;
    const ROUNDS: usize = 3;
    const ARTICLES: usize = 2;
    let (_sites, sources, ids) = slow_scrapes(&dep, "kill", SOURCES, ARTICLES, ROUNDS).await;
    let mut victim = dep.spawn_worker("victim", RECONCILING);
    dep.wait_for(
        "a third of the scrapes done and one running",
        &[&victim],
        || async {
            let counts = dep.job_counts().await;
            let done = counts.get(&JobStatus::Done).copied().unwrap_or(0);
            let running = counts.get(&JobStatus::Running).copied().unwrap_or(0);
            (done >= (SOURCES * ROUNDS / 3) as i64 && running > 0).then_some(())
        },
    )
    .await;
    victim.kill();
    redis.kill().await;
    redis.restart().await;
    let back = Instant::now();
    let survivor = dep.spawn_worker("survivor", RECONCILING);
    let done = drained(&dep, "every scrape to finish", &[&victim, &survivor]).await;
    let recovery = back.elapsed();
    assert_eq!(done, (SOURCES * ROUNDS) as i64, "every scrape ended done");
    for source in &sources {
        let articles = dep.articles(source).await;
        let urls: HashSet<&str> = articles.iter().map(|a| a.url.as_str()).collect();
        assert_eq!(
            (articles.len(), urls.len()),
            (ARTICLES, ARTICLES),
            "{source}: each article stored once"
        );
    }
    for id in &ids {
        let runs = dep
            .all_runs()
            .await
            .into_iter()
            .filter(|r| &r.job_id == id)
            .count();
        assert_eq!(runs, 1, "job {id}: one run record");
    }
    println!(
        "worker SIGKILLed + Redis emptied: {} scrapes offered, {done} done, last done {recovery:?} \
         after Redis returned",
        ids.len()
    );
}

async fn a_job_recorded_but_never_pushed_runs(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let id = mediawarm_shared::jobs::new_job_id();
    let payload = serde_json::to_value(invalidate()).expect("payload");
    let job = NewJob {
        id: &id,
        kind: JobKind::Invalidate,
        payload: &payload,
        max_attempts: 3,
        dedup_key: None,
        request_id: None,
        task_id: &new_task_id(),
    };
    assert!(
        dep.store
            .insert_job(&job, Utc::now())
            .await
            .expect("insert")
    );
    let started = Instant::now();
    let worker = dep.spawn_worker("reconciler", RECONCILING);
    let record = finished(&dep, &id, &[&worker]).await;
    assert_eq!(record.status, JobStatus::Done, "{stack:?}");
    assert_eq!(record.attempts, 1);
    println!(
        "{stack:?}: a job never pushed ran {:?} after the worker started",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_recorded_but_never_pushed_runs_embedded() {
    a_job_recorded_but_never_pushed_runs(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_job_recorded_but_never_pushed_runs_production() {
    a_job_recorded_but_never_pushed_runs(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn postgres_cut_for_30_s_mid_deliveries_leaves_no_job_running() {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(Stack::Production).await;
    let mut url =
        url::Url::parse(dep.database_url().expect("a production database")).expect("database URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    );
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .expect("resolving the database")
        .next()
        .expect("an address");
    let proxy = Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(proxy.addr.port())).expect("port");
    let proxied = url.to_string();

    const SOURCES: usize = 8;
    const ROUNDS: usize = 3;
    let (_sites, _sources, ids) = slow_scrapes(&dep, "cut", SOURCES, 2, ROUNDS).await;
    let extra = [
        ("NO_CRON", "true"),
        ("RECONCILE_INTERVAL_MS", "500"),
        ("DATABASE_URL", proxied.as_str()),
    ];
    let worker = dep.spawn_worker("cut-off", &extra);
    dep.wait_for("a few scrapes done and one running", &[&worker], || async {
        let counts = dep.job_counts().await;
        let done = counts.get(&JobStatus::Done).copied().unwrap_or(0);
        let running = counts.get(&JobStatus::Running).copied().unwrap_or(0);
        (done >= 3 && running > 0).then_some(())
    })
    .await;
    proxy.set(Cut::Refuse);
    tokio::time::sleep(Duration::from_secs(30)).await;
    proxy.set(Cut::Open);
    let back = Instant::now();
    let done = drained(&dep, "every scrape to finish after the cut", &[&worker]).await;
    assert_eq!(done, ids.len() as i64, "no job lost");
    println!(
        "PostgreSQL cut for 30 s: {} scrapes offered, {done} done, last done {:?} after the cut healed",
        ids.len(),
        back.elapsed()
    );
}

async fn a_job_that_never_returns_fails_at_its_deadline(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let stuck_site = FixtureSite::start().await;
    stuck_site.publish("s", 1, Utc::now());
    stuck_site.set_feed(FeedBehaviour::Slow(Duration::from_secs(120)));
    let quick_site = FixtureSite::start().await;
    quick_site.publish("q", 1, Utc::now());
    let stuck = dep.add_source("stuck", &stuck_site.feed_url(), None).await;
    let quick = dep.add_source("quick", &quick_site.feed_url(), None).await;
    let worker = dep.spawn_worker(
        "deadlines",
        &[("NO_CRON", "true"), ("SCRAPE_DEADLINE_SECS", "1")],
    );
    let stuck_job = dep.enqueue_scrape(&stuck.name).await;
    in_flight(&dep, &stuck_site, &stuck_job, &[&worker]).await;
    let quick_job = dep.enqueue_scrape(&quick.name).await;
    let quick_record = finished(&dep, &quick_job, &[&worker]).await;
    assert_eq!(
        quick_record.status,
        JobStatus::Done,
        "{stack:?}: the other slot kept working"
    );
    let record = finished(&dep, &stuck_job, &[&worker]).await;
    assert_eq!(
        (record.status, record.attempts),
        (JobStatus::Dead, 4),
        "{stack:?}: {:?}",
        record.error
    );
    assert!(
        record.error.as_deref().unwrap_or("").contains("deadline"),
        "{stack:?}: {:?}",
        record.error
    );
    let again = dep.enqueue_scrape(&quick.name).await;
    assert_eq!(
        finished(&dep, &again, &[&worker]).await.status,
        JobStatus::Done
    );
    let runs = dep.store.runs_for(&stuck.name, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "{stack:?}: one run record for the stuck job");
    assert_eq!(
        (runs[0].status, runs[0].error_class),
        (RunStatus::Failed, Some(ErrorClass::Timeout)),
        "{stack:?}: the stopped run is settled, not left running: {:?}",
        runs[0]
    );
    dep.wait_for(
        "the stuck source's lease to be given back",
        &[&worker],
        || async { dep.source_lease_free(&stuck.name).await.then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_returns_fails_at_its_deadline_then_dies_embedded() {
    a_job_that_never_returns_fails_at_its_deadline(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_job_that_never_returns_fails_at_its_deadline_then_dies_production() {
    a_job_that_never_returns_fails_at_its_deadline(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL, TEST_REDIS_URL and redis-server"]
async fn queue_and_cache_on_two_redis_servers_keep_to_their_own() {
    let _serial = SERIAL.lock().await;
    let (dep, queue_redis) = on_own_redis().await;
    let cache_redis = OwnRedis::start().await;
    let site = FixtureSite::start().await;
    site.publish("two", 2, Utc::now());
    let source = dep.add_source("tworedis", &site.feed_url(), None).await;
    let worker = dep.spawn_worker(
        "split",
        &[
            ("NO_CRON", "true"),
            ("REDIS_URL", cache_redis.url().as_str()),
            ("QUEUE_REDIS_URL", queue_redis.url().as_str()),
        ],
    );
    let job = dep.enqueue_scrape(&source.name).await;
    let record = finished(&dep, &job, &[&worker]).await;
    assert_eq!(record.status, JobStatus::Done, "{:?}", record.error);
    assert_eq!(
        record
            .result
            .as_ref()
            .and_then(|r| r["invalidated"].as_bool()),
        Some(true)
    );
    let queue_keys = keys(&queue_redis).await;
    let cache_keys = keys(&cache_redis).await;
    let is_queue_key = |k: &String| k.ends_with(":scrape:workers") || k.contains(":scrape:meta");
    assert!(
        queue_keys.iter().any(is_queue_key),
        "the queue lives on QUEUE_REDIS_URL: {queue_keys:?}"
    );
    assert!(
        !cache_keys.iter().any(is_queue_key),
        "no queue key on the cache's Redis: {cache_keys:?}"
    );
    assert!(
        !cache_keys.is_empty(),
        "the scrape's invalidation and rate limits used the cache's Redis"
    );
}

/// Every key of `redis`.
async fn keys(redis: &OwnRedis) -> Vec<String> {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("keys")
}
