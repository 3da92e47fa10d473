//! Fault injection: what the API and the worker survive, proven against real services.
//!
//! Each case owns the service it breaks: a `redis-server` it starts on a free port and kills,
//! or a TCP proxy it controls in front of the shared PostgreSQL (which is never stopped).
//! - `redis_killed_under_read_load_then_restarted`: zero 5xx while Redis is gone, reads served
//!   from the memory fallback, Redis used again within 5 s of its return, stats say so.
//! - `postgres_cut_*`: cached reads keep serving, uncached ones answer 503
//!   `database_unavailable`, and everything recovers without a restart, whether the proxy
//!   refuses connections or swallows traffic (a black hole).
//! - `poison_job_*`: a job that always fails ends dead after its attempts while jobs queued
//!   behind it run, on the SQLite queue and on the Redis queue.
//!
//! The cases are ignored unless asked for (`-- --include-ignored`): they need `redis-server`
//! on the PATH or, for the PostgreSQL cases, `TEST_DATABASE_URL`, and fail without them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use mediawarm_api::auth::OperatorToken;
use mediawarm_api::{AppParts, AppState, Application, QueueSlot};
use mediawarm_shared::cache::{CacheConfig, CacheService};
use mediawarm_shared::domain::{NewArticle, Source, SourceKind, SourceName};
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::jobs::JobStatus;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::Queue;
use mediawarm_shared::store::{JobCounts, Store, StoreConfig};
use mediawarm_shared::views::CATEGORIES;
use mediawarm_testkit::faults::{Cut, OwnRedis, Proxy, redis_server_available};
use mediawarm_testkit::services::TestDatabase;
use mediawarm_testkit::{FeedBehaviour, FixtureSite};
use mediawarm_worker::Context;
use mediawarm_worker::config::WorkerArgs;
use serde_json::Value;
use tokio::sync::{OnceCell, watch};

const TOKEN: &str = "fault-operator-token";

// ---------------------------------------------------------------------------------------
// The application under test.
// ---------------------------------------------------------------------------------------

/// A running API (and optionally worker) over the given store, cache and queue.
struct App {
    base: String,
    client: reqwest::Client,
    store: Store,
    _stop: watch::Sender<bool>,
}

impl App {
    async fn start(
        store: Store,
        cache: CacheService,
        hot: HotKeys,
        queue: Option<Queue>,
        worker: Option<WorkerArgs>,
    ) -> Self {
        let (stop_tx, stop_rx) = watch::channel(false);
        let metrics = Metrics::new(&cache, CATEGORIES, JobCounts::default());
        if let (Some(queue), Some(args)) = (&queue, worker.clone()) {
            let ctx = Context::new(
                store.clone(),
                cache.clone(),
                hot.clone(),
                queue.clone(),
                args,
                metrics.clone(),
            )
            .await
            .expect("worker context");
            let mut stop = stop_rx.clone();
            tokio::spawn(mediawarm_worker::run(ctx, async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
        }
        let slot: QueueSlot = Arc::new(OnceCell::new_with(queue));
        let state = AppState::new(AppParts {
            store: store.clone(),
            cache: cache.clone(),
            hot,
            queue: slot,
            enqueue: worker.unwrap_or_else(worker_args).enqueue_options(),
            operator: OperatorToken::new(TOKEN),
            metrics,
            query_timeout: mediawarm_api::QUERY_TIMEOUT,
            misses: mediawarm_api::MissLimits::default(),
        })
        .await
        .expect("state");
        let app = Application::bind("127.0.0.1:0", state).await.expect("bind");
        let base = format!("http://{}", app.local_addr().expect("addr"));
        let mut stop = stop_rx;
        tokio::spawn(app.run_until(async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
        Self {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            store,
            _stop: stop_tx,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// The value of one series of `GET /metrics` (`name{labels}` as exported).
    async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.get("/metrics").await.text().await.expect("text");
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
    }

    async fn stats(&self) -> Value {
        let body: Value = self
            .get("/api/v1/media/cache/stats")
            .await
            .json()
            .await
            .expect("json");
        body["cache"].clone()
    }

    async fn job(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/api/v1/jobs/{id}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// Creates import sources and stores `n` articles of each of `sources`.
    async fn seed(&self, sources: &[&str], n: usize) {
        let names: Vec<SourceName> = sources
            .iter()
            .map(|s| SourceName::parse(s).expect("name"))
            .collect();
        self.store
            .ensure_import_sources(&names)
            .await
            .expect("sources");
        let now = Utc::now();
        let articles: Vec<NewArticle> = names
            .iter()
            .flat_map(|source| {
                (0..n).map(move |i| NewArticle {
                    source: source.clone(),
                    url: format!("https://{source}.example/a/{i}"),
                    title: format!("Article {i} of {source}"),
                    author: None,
                    published_at: Some(now - chrono::Duration::minutes(i as i64 * 7)),
                    summary: None,
                })
            })
            .collect();
        self.store
            .upsert_articles(&articles, now)
            .await
            .expect("upsert");
    }
}

/// Worker options for the cases: fast polling, short retries.
fn worker_args() -> WorkerArgs {
    WorkerArgs {
        worker_concurrency: 4,
        worker_poll_ms: 50,
        worker_heartbeat_ms: 1000,
        job_max_attempts: 4,
        job_retry_base_ms: 500,
        job_retention_hours: 168,
        queue_max_depth: 5000,
        queue_namespace: format!("mwfault:{}:q", ulid::Ulid::generate()),
        warm_top_n: 50,
        scrape_allow_loopback: true,
        scrape_user_agent: "mediawarm-faults".to_owned(),
        scrape_max_retries: 0,
        no_cron: true,
        queue_redis_url: None,
        job_lease_ms: 6_000,
        reconcile_interval_ms: 1_000,
        scrape_deadline_secs: 660,
        warm_deadline_secs: 120,
        invalidate_deadline_secs: 120,
    }
}

fn sqlite_config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig {
        database_url: None,
        sqlite_path: dir.path().join("mediawarm.db"),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(2),
    }
}

/// The read paths the load cycles through.
fn read_paths() -> Vec<String> {
    let mut paths = vec![
        "/api/v1/simplified".to_owned(),
        "/api/v1/volume".to_owned(),
        "/api/v1/volume?interval=hour".to_owned(),
        "/api/v1/volume?source=gazette".to_owned(),
    ];
    for limit in [5, 10, 20] {
        paths.push(format!("/api/v1/media/latest?limit={limit}"));
        paths.push(format!("/api/v1/media/latest?limit={limit}&source=herald"));
        paths.push(format!("/api/v1/media/latest?limit={limit}&offset=10"));
    }
    paths
}

/// Status counts of a load run.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    server_errors: AtomicU64,
    other: AtomicU64,
}

/// Runs `workers` readers over `paths` until `stop` is set.
fn read_load(
    app: &App,
    paths: Vec<String>,
    workers: usize,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|w| {
            let (client, base, paths, tally, stop) = (
                app.client.clone(),
                app.base.clone(),
                paths.clone(),
                Arc::clone(&tally),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    let path = &paths[i % paths.len()];
                    i += 1;
                    match client.get(format!("{base}{path}")).send().await {
                        Ok(r) if r.status().is_success() => {
                            tally.ok.fetch_add(1, Ordering::Relaxed)
                        }
                        Ok(r) if r.status().is_server_error() => {
                            eprintln!("5xx on {path}: {}", r.status());
                            tally.server_errors.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => tally.other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect()
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns how long it took.
async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

// ---------------------------------------------------------------------------------------
// (a) Redis killed under read load, then restarted.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server"]
async fn redis_killed_under_read_load_then_restarted() {
    assert!(
        redis_server_available(),
        "this test needs redis-server on the PATH"
    );
    let mut redis = OwnRedis::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&sqlite_config(&dir)).await.expect("store");
    store.migrate().await.expect("migrate");
    let prefix = format!("mwfault:{}:", ulid::Ulid::generate());
    let cache = CacheService::new(CacheConfig {
        redis_url: Some(redis.url()),
        prefix: prefix.clone(),
        ..CacheConfig::default()
    })
    .await;
    let hot = HotKeys::shared(&redis.url(), &prefix, Duration::from_secs(600)).expect("hot");
    let _flusher = hot.spawn_flusher(Duration::from_millis(200));
    let app = App::start(store, cache, hot, None, None).await;
    app.seed(&["gazette", "herald"], 60).await;
    assert_eq!(app.stats().await["backend"], "redis");

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = read_load(&app, read_paths(), 8, Arc::clone(&tally), Arc::clone(&stop));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_outage = tally.ok.load(Ordering::Relaxed);
    assert!(redis.dbsize().await > 0, "reads are cached in Redis");

    redis.kill().await;
    let on_fallback = wait_until(Duration::from_secs(5), || async {
        app.stats().await["backend"] == "memory"
    })
    .await;
    assert!(on_fallback.is_some(), "stats never reported the fallback");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = app.stats().await;
    assert_eq!(stats["backend"], "memory");
    assert_eq!(stats["redis_connected"], false);
    assert!(
        stats["memory_cache_size"].as_u64().unwrap_or(0) > 0,
        "the fallback holds entries: {stats}"
    );
    let hits_on_fallback = stats["hits"].as_u64().unwrap_or(0);
    assert_eq!(
        app.metric("mediawarm_cache_memory_fallback").await,
        Some(1.0),
        "the fallback gauge is up during the outage"
    );
    let memory_hits = app
        .metric("mediawarm_cache_hits_total{category=\"media\",backend=\"memory\"}")
        .await;
    assert!(
        memory_hits.unwrap_or(0.0) > 0.0,
        "hits served by the fallback are labelled backend=memory: {memory_hits:?}"
    );
    let during_outage = tally.ok.load(Ordering::Relaxed) - before_outage;
    assert!(during_outage > 0, "reads were served during the outage");

    redis.restart().await;
    let back = wait_until(Duration::from_secs(5), || async {
        app.stats().await["backend"] == "redis"
    })
    .await;
    assert!(
        back.is_some(),
        "Redis was not used again within 5 s of its return"
    );
    let reused = wait_until(Duration::from_secs(5), || async {
        redis.dbsize().await > 0
    })
    .await;
    assert!(
        reused.is_some(),
        "no value was written to the returned Redis"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    let stats = app.stats().await;
    assert_eq!(stats["redis_connected"], true);
    assert!(stats["hits"].as_u64().unwrap_or(0) > hits_on_fallback);
    assert_eq!(
        app.metric("mediawarm_cache_memory_fallback").await,
        Some(0.0)
    );
    let redis_hits = app
        .metric("mediawarm_cache_hits_total{category=\"media\",backend=\"redis\"}")
        .await;
    assert!(redis_hits.unwrap_or(0.0) > 0.0, "{redis_hits:?}");

    let (ok, errors, other) = (
        tally.ok.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    println!(
        "redis fault: {ok} reads ok ({during_outage} during the outage), {errors} 5xx, {other} other; \
         fallback reported after {on_fallback:?}, redis back in use {back:?} after its return"
    );
    assert_eq!(errors, 0, "5xx during the Redis outage");
    assert_eq!(other, 0, "non-2xx answers during the Redis outage");
}

// ---------------------------------------------------------------------------------------
// (b) PostgreSQL unreachable behind a proxy the test controls.
// ---------------------------------------------------------------------------------------

/// A fresh database on the shared server, reached through a proxy; dropped at the end.
struct ProxiedDatabase {
    proxy: Proxy,
    /// Removed when dropped.
    _database: TestDatabase,
    url: String,
}

impl ProxiedDatabase {
    async fn create() -> Self {
        let database = TestDatabase::create("mwfault").await;
        let options: sqlx::postgres::PgConnectOptions = database
            .admin_url
            .parse()
            .expect("TEST_DATABASE_URL parses");
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .expect("resolve PostgreSQL")
            .next()
            .expect("an address");
        let proxy = Proxy::start(upstream).await;
        let url = format!(
            "postgres://{}@{}/{}",
            options.get_username(),
            proxy.addr,
            database.name
        );
        Self {
            proxy,
            _database: database,
            url,
        }
    }
}

async fn postgres_cut(cut: Cut) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let db = ProxiedDatabase::create().await;
    let store = Store::connect(&StoreConfig {
        database_url: Some(db.url.clone()),
        sqlite_path: "unused.db".into(),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(2),
    })
    .await
    .expect("store through the proxy");
    store.migrate().await.expect("migrate");
    let cache = CacheService::new(CacheConfig::default()).await;
    let app = App::start(
        store,
        cache,
        HotKeys::in_memory(Duration::from_secs(600)),
        None,
        None,
    )
    .await;
    app.seed(&["gazette", "herald"], 40).await;
    let cached = read_paths();
    for path in &cached {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let first = app.get("/api/v1/media/latest?limit=5").await;
    let id = first.json::<Value>().await.expect("json")["items"][0]["id"]
        .as_i64()
        .expect("an article");
    let article = format!("/api/v1/media/{id}");
    assert_eq!(app.get(&article).await.status(), 200);

    db.proxy.set(cut);
    let mut cached_ok = 0;
    for path in cached.iter().chain([&article]) {
        let response = app.get(path).await;
        assert_eq!(
            response.status(),
            200,
            "cached {path} while the database is cut"
        );
        assert_eq!(response.headers()["x-cache"], "hit", "{path}");
        cached_ok += 1;
    }
    let mut unavailable = 0;
    for path in [
        "/api/v1/media/latest?limit=7",
        "/api/v1/volume?interval=hour&source=herald",
        "/api/v1/media/999999",
        "/api/v1/sources",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.status(),
            503,
            "uncached {path} while the database is cut"
        );
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.expect("json error");
        assert_eq!(
            body["error"]["code"], "database_unavailable",
            "{path}: {body}"
        );
        unavailable += 1;
    }
    assert_eq!(app.get("/readyz").await.status(), 503);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .expect("text")
            .contains("mediawarm_database_up 0")
    );

    db.proxy.set(Cut::Open);
    let recovered = wait_until(Duration::from_secs(15), || async {
        app.get("/api/v1/media/latest?limit=7").await.status() == 200
    })
    .await;
    assert!(
        recovered.is_some(),
        "reads did not recover after the database returned"
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/api/v1/sources").await.status(), 200);
    println!(
        "postgres fault ({cut:?}): {cached_ok} cached reads served, {unavailable} uncached reads \
         answered 503 database_unavailable, recovered {recovered:?} after the database returned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL"]
async fn postgres_cut_refusing_connections() {
    postgres_cut(Cut::Refuse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL"]
async fn postgres_cut_black_hole() {
    postgres_cut(Cut::BlackHole).await;
}

// ---------------------------------------------------------------------------------------
// (c) A poison job.
// ---------------------------------------------------------------------------------------

async fn poison_job(redis: Option<&OwnRedis>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&sqlite_config(&dir)).await.expect("store");
    store.migrate().await.expect("migrate");
    let cache = CacheService::new(CacheConfig::default()).await;
    let args = worker_args();
    let queue = Queue::connect(args.queue_config(redis.map(OwnRedis::url).as_deref(), dir.path()))
        .await
        .expect("queue");
    let poison_site = FixtureSite::start().await;
    poison_site.set_feed(FeedBehaviour::FailTimes(u32::MAX));
    let healthy_site = FixtureSite::start().await;
    healthy_site.publish("story", 5, Utc::now());
    for (name, site) in [("poison", &poison_site), ("healthy", &healthy_site)] {
        store
            .insert_source(&Source {
                name: SourceName::parse(name).expect("name"),
                kind: SourceKind::Rss,
                url: site.feed_url(),
                selectors: None,
                schedule: None,
                rate_limit_per_sec: 100.0,
                enabled: true,
            })
            .await
            .expect("source");
    }
    let app = App::start(
        store,
        cache,
        HotKeys::in_memory(Duration::from_secs(600)),
        Some(queue),
        Some(args.clone()),
    )
    .await;

    let response = app
        .post(
            "/api/v1/jobs/scrape",
            serde_json::json!({"source": "poison"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let poison_id = response.json::<Value>().await.expect("json")["job_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let first_failure = wait_until(Duration::from_secs(20), || async {
        app.job(&poison_id).await["attempts"].as_i64().unwrap_or(0) >= 1
            && app.job(&poison_id).await["status"] == "pending"
    })
    .await;
    assert!(first_failure.is_some(), "the poison job never failed once");

    let mut behind = Vec::new();
    let response = app
        .post(
            "/api/v1/jobs/scrape",
            serde_json::json!({"source": "healthy"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    behind.push(response.json::<Value>().await.expect("json")["job_id"].clone());
    for _ in 0..10 {
        let response = app
            .post(
                "/api/v1/jobs/invalidate",
                serde_json::json!({"patterns": ["volume:*"]}),
            )
            .await;
        assert_eq!(response.status(), 202);
        behind.push(response.json::<Value>().await.expect("json")["job_id"].clone());
    }
    let behind: Vec<String> = behind
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();

    let all_done = wait_until(Duration::from_secs(30), || async {
        for id in &behind {
            if app.job(id).await["status"] != "done" {
                return false;
            }
        }
        true
    })
    .await;
    assert!(
        all_done.is_some(),
        "jobs queued behind the poison job did not finish"
    );
    let dead = wait_until(Duration::from_secs(60), || async {
        app.job(&poison_id).await["status"] == "dead"
    })
    .await;
    assert!(dead.is_some(), "the poison job never ended dead");
    let poison = app.job(&poison_id).await;
    assert_eq!(
        poison["attempts"],
        i64::from(args.job_max_attempts),
        "{poison}"
    );
    assert!(
        poison["error"].as_str().is_some_and(|e| e.contains("503")),
        "{poison}"
    );
    let poison_end = poison["finished_at"]
        .as_str()
        .expect("finished_at")
        .to_owned();
    for id in &behind {
        let job = app.job(id).await;
        let end = job["finished_at"].as_str().expect("finished_at");
        assert!(
            end < poison_end.as_str(),
            "{id} finished after the poison job died"
        );
    }
    let healthy = app.job(&behind[0]).await;
    assert_eq!(healthy["result"]["articles_new"], 5, "{healthy}");

    let dead_list: Value = app
        .client
        .get(format!("{}/api/v1/jobs?status=dead", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let dead_ids: Vec<&str> = dead_list["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(dead_ids, [poison_id.as_str()]);
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("mediawarm_jobs{kind=\"scrape\",status=\"dead\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mediawarm_jobs{kind=\"invalidate\",status=\"done\"} 10"),
        "{metrics}"
    );
    println!(
        "poison job ({}): dead after {} attempts; {} jobs queued behind it all done first; \
         feed requests to the poison source: {}",
        if redis.is_some() {
            "redis queue"
        } else {
            "sqlite queue"
        },
        poison["attempts"],
        behind.len(),
        poison_site.hits("/feed.xml"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_job_ends_dead_without_blocking_the_sqlite_queue() {
    poison_job(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn poison_job_ends_dead_without_blocking_the_redis_queue() {
    assert!(
        redis_server_available(),
        "this test needs redis-server on the PATH"
    );
    let redis = OwnRedis::start().await;
    poison_job(Some(&redis)).await;
}

/// Right after Redis restarts empty, the first enqueue through the API is accepted (the push
/// is tried once more on the broken connection, under the same task id); while Redis stays
/// down, an enqueue answers 503 `queue_unavailable` and keeps no job, so the client's retry
/// makes no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn the_first_enqueue_after_redis_returns_is_accepted_and_a_failed_one_keeps_nothing() {
    assert!(
        redis_server_available(),
        "this test needs redis-server on the PATH"
    );
    let mut redis = OwnRedis::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&sqlite_config(&dir)).await.expect("store");
    store.migrate().await.expect("migrate");
    let args = worker_args();
    let queue = Queue::connect(args.queue_config(Some(&redis.url()), dir.path()))
        .await
        .expect("queue");
    let app = App::start(
        store.clone(),
        CacheService::new(CacheConfig::default()).await,
        HotKeys::in_memory(Duration::from_secs(600)),
        Some(queue),
        None,
    )
    .await;
    let enqueue = || {
        app.post(
            "/api/v1/jobs/invalidate",
            serde_json::json!({"patterns": ["volume:*"]}),
        )
    };
    assert_eq!(enqueue().await.status(), 202, "before the restart");
    redis.kill().await;
    redis.restart().await;
    let response = enqueue().await;
    assert_eq!(
        response.status(),
        202,
        "the first enqueue after Redis returned"
    );
    redis.kill().await;
    let response = enqueue().await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "queue_unavailable", "{body}");
    let jobs = store.list_jobs(None, None, 100).await.expect("jobs");
    assert_eq!(jobs.len(), 2, "the refused job was withdrawn: {jobs:?}");
    assert!(jobs.iter().all(|j| j.status == JobStatus::Pending));
}
