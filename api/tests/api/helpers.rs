//! `spawn_app` per stack, isolation and clean-up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawarm_api::auth::OperatorToken;
use mediawarm_api::{AppParts, AppState, Application, ConnectionLimits, QueueSlot};
use mediawarm_shared::cache::{CacheConfig, CacheService};
use mediawarm_shared::domain::{NewArticle, SourceName};
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::Queue;
use mediawarm_shared::store::{JobCounts, Store, StoreConfig};
use mediawarm_shared::views::CATEGORIES;
use mediawarm_testkit::services::TestServices;
use mediawarm_worker::Context;
use mediawarm_worker::config::WorkerArgs;
use tokio::sync::{OnceCell, watch};

/// Which services a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    /// SQLite in a temporary directory and the memory cache.
    Embedded,
    /// PostgreSQL and Redis from the test environment variables.
    Production,
}

/// Runs each named `async fn(TestApp)` against both stacks; the production half is ignored
/// unless asked for (`-- --include-ignored`), and then needs `TEST_DATABASE_URL` and
/// `TEST_REDIS_URL`.
#[macro_export]
macro_rules! both_stacks {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Stack::Embedded).await;
                    super::$name(app).await;
                }
            )*
        }
        mod production {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Stack::Production).await;
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// The operator token every test app uses.
pub(crate) const TOKEN: &str = "test-operator-token";

/// A running API on a free port with its own database and cache.
#[allow(dead_code)]
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// A client without a base URL; use [`TestApp::url`].
    pub(crate) client: reqwest::Client,
    /// The app's store, for seeding.
    pub(crate) store: Store,
    /// The app's cache service.
    pub(crate) cache: CacheService,
    /// The app's hot-key tracker.
    pub(crate) hot: HotKeys,
    /// The app's queue.
    pub(crate) queue: Queue,
    /// The app's metrics (shared with its workers).
    pub(crate) metrics: Metrics,
    /// Which stack this is.
    pub(crate) stack: Stack,
    /// Stops the server and the worker when the app is dropped.
    _stop: watch::Sender<bool>,
    _isolation: Arc<Isolation>,
}

impl TestApp {
    /// The production stack's database URL (`None` on the embedded stack).
    pub(crate) fn database_url(&self) -> Option<String> {
        match &*self._isolation {
            Isolation::Services(services) => Some(services.database.url.clone()),
            Isolation::Dir(_) => None,
        }
    }

    /// An absolute URL for `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path`.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GET `path` and parse the JSON body, asserting the status.
    pub(crate) async fn get_json(&self, path: &str, status: u16) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        response.json().await.expect("json body")
    }

    /// Starts an in-process worker on this app's queue (for apps spawned without one).
    pub(crate) async fn start_worker(&self, args: WorkerArgs) {
        let ctx = Context::new(
            self.store.clone(),
            self.cache.clone(),
            self.hot.clone(),
            self.queue.clone(),
            args,
            self.metrics.clone(),
        )
        .await
        .expect("worker context");
        let mut stop = self._stop.subscribe();
        tokio::spawn(mediawarm_worker::run(ctx, async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    }

    /// A request with the operator token.
    pub(crate) fn operator(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    /// POSTs `body` as the operator and returns the status and JSON answer.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .operator(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Enqueues a job (asserting 202) and returns its id.
    pub(crate) async fn enqueue(&self, path: &str, body: serde_json::Value) -> String {
        let (status, answer) = self.post_json(path, body).await;
        assert_eq!(status, 202, "POST {path}: {answer}");
        answer["job_id"].as_str().expect("job_id").to_owned()
    }

    /// Waits (up to 30 s) for a job to end, and returns it.
    pub(crate) async fn wait_job(&self, id: &str) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let job: serde_json::Value = self
                .operator(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("job json");
            if matches!(job["status"].as_str(), Some("done" | "dead")) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not end: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates an RSS source named `name` over `feed_url` (as the operator, asserting 201).
    pub(crate) async fn create_rss_source(&self, name: &str, feed_url: &str) {
        let (status, answer) = self
            .post_json(
                "/api/v1/sources",
                serde_json::json!({"name": name, "kind": "rss", "url": feed_url}),
            )
            .await;
        assert_eq!(status, 201, "create source: {answer}");
    }

    /// Creates import sources and upserts `articles`.
    pub(crate) async fn seed(&self, articles: &[NewArticle]) {
        let mut names: Vec<SourceName> = articles.iter().map(|a| a.source.clone()).collect();
        names.sort();
        names.dedup();
        self.store
            .ensure_import_sources(&names)
            .await
            .expect("sources");
        for chunk in articles.chunks(500) {
            self.store
                .upsert_articles(chunk, Utc::now())
                .await
                .expect("upsert");
        }
    }
}

/// An article of `source` at `published_at` with a URL unique to `n`.
pub(crate) fn article(source: &str, n: usize, published_at: Option<DateTime<Utc>>) -> NewArticle {
    NewArticle {
        source: SourceName::parse(source).expect("valid source"),
        url: format!("https://{source}.example/articles/{n}"),
        title: format!("Article {n} of {source}"),
        author: Some("Ada Reporter".to_owned()),
        published_at,
        summary: None,
    }
}

/// The worker options tests run with: fast polling and retries, loopback fixtures allowed.
pub(crate) fn test_worker_args() -> WorkerArgs {
    WorkerArgs {
        worker_concurrency: 4,
        worker_poll_ms: 50,
        worker_heartbeat_ms: 1000,
        job_max_attempts: 3,
        job_retry_base_ms: 300,
        job_retention_hours: 168,
        queue_max_depth: 5000,
        queue_namespace: "unused".to_owned(),
        warm_top_n: 50,
        scrape_allow_loopback: true,
        scrape_user_agent: "mediawarm-tests".to_owned(),
        scrape_max_retries: 0,
        no_cron: false,
        queue_redis_url: None,
        job_lease_ms: 6_000,
        reconcile_interval_ms: 1_000,
        scrape_deadline_secs: 660,
        warm_deadline_secs: 120,
        invalidate_deadline_secs: 120,
    }
}

/// Starts an app with an in-process worker on the stack (the production stack panics when its
/// variables are unset).
pub(crate) async fn spawn_app(stack: Stack) -> TestApp {
    spawn_app_with(stack, test_worker_args(), true).await
}

/// Starts an app with these worker options, with or without an in-process worker.
pub(crate) async fn spawn_app_with(
    stack: Stack,
    worker_args: WorkerArgs,
    run_worker: bool,
) -> TestApp {
    spawn_app_limited(stack, worker_args, run_worker, ConnectionLimits::default()).await
}

/// [`spawn_app_with`], the server holding its connections to `limits`.
pub(crate) async fn spawn_app_limited(
    stack: Stack,
    mut worker_args: WorkerArgs,
    run_worker: bool,
    limits: ConnectionLimits,
) -> TestApp {
    let (store_config, cache_config, isolation, data_dir) = match stack {
        Stack::Embedded => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = StoreConfig {
                database_url: None,
                sqlite_path: dir.path().join("mediawarm.db"),
                max_connections: 5,
                acquire_timeout: Duration::from_secs(2),
            };
            let data_dir = dir.path().to_owned();
            (store, CacheConfig::default(), Isolation::Dir(dir), data_dir)
        }
        Stack::Production => {
            let services = TestServices::create("mwtest").await;
            let store = StoreConfig {
                database_url: Some(services.database.url.clone()),
                sqlite_path: "unused.db".into(),
                max_connections: 5,
                acquire_timeout: Duration::from_secs(2),
            };
            // The production API runs with its near cache: every production test exercises
            // the protocol that keeps it fresh.
            let cache = CacheConfig {
                redis_url: Some(services.redis.url.clone()),
                prefix: services.redis.prefix.clone(),
                near: true,
                ..CacheConfig::default()
            };
            worker_args.queue_namespace = services.redis.namespace();
            let isolation = Isolation::Services(services);
            (store, cache, isolation, std::env::temp_dir())
        }
    };
    let store = Store::connect(&store_config).await.expect("connect store");
    store.migrate().await.expect("migrate");
    let cache = CacheService::new(cache_config).await;
    if stack == Stack::Production {
        assert!(
            cache.redis_connected(),
            "TEST_REDIS_URL is set but Redis is unreachable"
        );
    }
    let hot = match &cache_config_redis(&isolation) {
        Some((url, prefix)) => {
            HotKeys::shared(url, prefix, Duration::from_secs(600)).expect("hot keys")
        }
        None => HotKeys::in_memory(Duration::from_secs(600)),
    };
    let redis_url = cache_config_redis(&isolation).map(|(url, _)| url);
    let queue = Queue::connect(worker_args.queue_config(redis_url.as_deref(), &data_dir))
        .await
        .expect("queue");
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics = Metrics::new(&cache, CATEGORIES, JobCounts::default());
    if run_worker {
        let ctx = Context::new(
            store.clone(),
            cache.clone(),
            hot.clone(),
            queue.clone(),
            worker_args.clone(),
            metrics.clone(),
        )
        .await
        .expect("worker context");
        let mut stop = stop_rx.clone();
        tokio::spawn(mediawarm_worker::run(ctx, async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    }
    let slot: QueueSlot = Arc::new(OnceCell::new_with(Some(queue.clone())));
    let state = AppState::new(AppParts {
        store: store.clone(),
        cache: cache.clone(),
        hot: hot.clone(),
        queue: slot,
        enqueue: worker_args.enqueue_options(),
        operator: OperatorToken::new(TOKEN),
        metrics: metrics.clone(),
        query_timeout: mediawarm_api::QUERY_TIMEOUT,
        misses: mediawarm_api::MissLimits::default(),
    })
    .await
    .expect("state");
    let app = Application::bind_with("127.0.0.1:0", state, limits)
        .await
        .expect("bind");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let mut stop = stop_rx;
    tokio::spawn(app.run_until(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        store,
        cache,
        hot,
        queue,
        metrics,
        stack,
        _stop: stop_tx,
        _isolation: Arc::new(isolation),
    }
}

/// The Redis URL and key prefix of a production-stack app.
fn cache_config_redis(isolation: &Isolation) -> Option<(String, String)> {
    match isolation {
        Isolation::Services(services) => {
            Some((services.redis.url.clone(), services.redis.prefix.clone()))
        }
        Isolation::Dir(_) => None,
    }
}

/// What a test must remove when it ends (each removes itself when dropped).
enum Isolation {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Services(TestServices),
}
