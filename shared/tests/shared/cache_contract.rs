//! The cache service's contract, run against every backend.
//!
//! Every `contract_*` function takes a fresh `CacheService` and checks one promise; the
//! `contract!` macro runs each one against the memory backend and against Redis
//! (`TEST_REDIS_URL`, a random `mwtest:{ulid}:` prefix, cleaned with `SCAN` + `UNLINK`).
//! The `fallback` module runs its own `redis-server`, kills it and restarts it, to check the
//! fallback and the return to Redis.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use mediawarm_shared::cache::{CacheConfig, CacheKey, CacheService, KeyPattern, Lookup};
use mediawarm_testkit::services::TestRedis;
use tokio::time::{Instant, sleep};

const KNOWN: &[&str] = &["media", "volume", "simplified"];

fn key(raw: &str) -> CacheKey {
    CacheKey::parse(raw).expect("test key is valid")
}

fn pattern(raw: &str) -> KeyPattern {
    KeyPattern::parse(raw, KNOWN).expect("test pattern is valid")
}

fn bytes(raw: &'static str) -> Bytes {
    Bytes::from_static(raw.as_bytes())
}

/// Polls `condition` every 20 ms until it holds or `within` has passed.
async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// A service on the shared test Redis under its own prefix, cleaned up on drop (even when
/// the test panics).
struct RedisHarness {
    service: CacheService,
    /// Removed when dropped.
    _redis: TestRedis,
}

impl RedisHarness {
    /// Panics when `TEST_REDIS_URL` is unset or Redis does not answer.
    async fn start() -> Self {
        let redis = TestRedis::create("mwtest").await;
        let service = CacheService::new(CacheConfig {
            redis_url: Some(redis.url.clone()),
            prefix: redis.prefix.clone(),
            redis_timeout: Duration::from_secs(2),
            ..CacheConfig::default()
        })
        .await;
        assert_eq!(
            service.backend(),
            "redis",
            "service connected to TEST_REDIS_URL"
        );
        Self {
            service,
            _redis: redis,
        }
    }
}

async fn memory_service() -> CacheService {
    CacheService::new(CacheConfig::default()).await
}

/// Runs each contract function once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::memory_service().await).await;
                }
            )*
        }
        mod redis_backend {
            $(
                #[tokio::test]
                #[ignore = "needs TEST_REDIS_URL"]
                async fn $name() {
                    let harness = super::RedisHarness::start().await;
                    super::$name(harness.service.clone()).await;
                }
            )*
        }
    };
}

contract!(
    get_returns_what_set_stored,
    entries_expire_after_their_ttl,
    delete_removes_only_that_key,
    delete_pattern_removes_only_matching_keys,
    delete_pattern_removes_every_generation,
    delete_pattern_handles_more_keys_than_one_scan_batch,
    get_or_set_misses_then_hits,
    concurrent_misses_compute_once,
    a_failed_computation_lets_a_waiter_compute,
    stats_count_hits_and_misses_per_category,
    value_computed_across_an_invalidation_is_never_served,
    invalidate_supersedes_the_whole_category,
    refresh_recomputes_a_cached_key,
    rewarm_switches_hot_keys_to_fresh_values_without_a_miss,
    rewarm_yields_to_a_concurrent_invalidation,
);

async fn get_returns_what_set_stored(cache: CacheService) {
    let k = key("media:latest:limit=20");
    assert_eq!(cache.get(&k).await, None);
    cache.set(&k, bytes("page one"), None).await;
    assert_eq!(cache.get(&k).await, Some(bytes("page one")));
    cache.set(&k, bytes("page two"), None).await;
    assert_eq!(cache.get(&k).await, Some(bytes("page two")));
    assert_eq!(cache.get(&key("media:latest:limit=21")).await, None);
    assert_eq!(cache.default_ttl(), Duration::from_secs(300));
}

async fn entries_expire_after_their_ttl(cache: CacheService) {
    let short = key("volume:day:short");
    let long = key("volume:day:long");
    cache
        .set(&short, bytes("v"), Some(Duration::from_secs(1)))
        .await;
    cache.set(&long, bytes("v"), None).await;
    assert_eq!(cache.get(&short).await, Some(bytes("v")));
    let expired = eventually(Duration::from_secs(4), || async {
        cache.get(&short).await.is_none()
    })
    .await;
    assert!(expired, "an entry with a 1 s TTL is gone within 4 s");
    assert_eq!(cache.get(&long).await, Some(bytes("v")));
}

async fn delete_removes_only_that_key(cache: CacheService) {
    let a = key("media:item:1");
    let b = key("media:item:2");
    cache.set(&a, bytes("a"), None).await;
    cache.set(&b, bytes("b"), None).await;
    assert_eq!(cache.delete(&a).await.expect("delete"), 1);
    assert_eq!(cache.get(&a).await, None);
    assert_eq!(cache.get(&b).await, Some(bytes("b")));
    assert_eq!(cache.delete(&a).await.expect("delete"), 0);
}

async fn delete_pattern_removes_only_matching_keys(cache: CacheService) {
    for raw in [
        "volume:day:a",
        "volume:hour:b",
        "media:latest:c",
        "simplified:all:d",
    ] {
        cache.set(&key(raw), bytes("x"), None).await;
    }
    assert_eq!(
        cache
            .delete_pattern(&pattern("volume:*"))
            .await
            .expect("delete"),
        2
    );
    assert_eq!(cache.get(&key("volume:day:a")).await, None);
    assert_eq!(cache.get(&key("volume:hour:b")).await, None);
    assert_eq!(cache.get(&key("media:latest:c")).await, Some(bytes("x")));
    assert_eq!(
        cache
            .delete_pattern(&pattern("m?dia:*"))
            .await
            .expect("delete"),
        1
    );
    assert_eq!(
        cache
            .delete_pattern(&pattern("volume:*"))
            .await
            .expect("delete"),
        0
    );
    assert_eq!(
        cache.delete_pattern(&pattern("*")).await.expect("delete"),
        1
    );
    assert_eq!(cache.get(&key("simplified:all:d")).await, None);
}

async fn delete_pattern_removes_every_generation(cache: CacheService) {
    let k = key("volume:day:generations");
    let racing = cache.clone();
    cache
        .get_or_set(&k, None, || async move {
            racing
                .invalidate(&pattern("volume:*"), KNOWN)
                .await
                .expect("invalidate");
            Ok::<_, Infallible>(bytes("old generation"))
        })
        .await
        .expect("get_or_set");
    cache.set(&k, bytes("new generation"), None).await;
    assert_eq!(
        cache
            .delete_pattern(&pattern("volume:day:*"))
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        cache
            .delete_pattern(&pattern("volume:*"))
            .await
            .expect("delete"),
        0
    );
}

async fn delete_pattern_handles_more_keys_than_one_scan_batch(cache: CacheService) {
    const N: usize = 1200;
    futures::stream::iter(0..N)
        .for_each_concurrent(64, |i| {
            let cache = cache.clone();
            async move {
                cache
                    .set(&key(&format!("volume:day:n={i}")), bytes("x"), None)
                    .await;
            }
        })
        .await;
    cache.set(&key("media:latest:keep"), bytes("x"), None).await;
    let removed = cache
        .delete_pattern(&pattern("volume:*"))
        .await
        .expect("delete");
    assert_eq!(removed, N as u64);
    assert_eq!(cache.get(&key("volume:day:n=0")).await, None);
    assert_eq!(cache.get(&key("volume:day:n=1199")).await, None);
    assert_eq!(cache.get(&key("media:latest:keep")).await, Some(bytes("x")));
}

async fn get_or_set_misses_then_hits(cache: CacheService) {
    let k = key("simplified:all:");
    let calls = AtomicUsize::new(0);
    let compute = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(bytes("score"))
    };
    let first = cache.get_or_set(&k, None, compute).await.expect("first");
    assert_eq!(first, (bytes("score"), Lookup::Miss));
    let second = cache.get_or_set(&k, None, compute).await.expect("second");
    assert_eq!(second, (bytes("score"), Lookup::Hit));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(Lookup::Hit.as_str(), "hit");
    assert_eq!(Lookup::Miss.as_str(), "miss");

    let failing: Result<_, &str> = cache
        .get_or_set(&key("simplified:x:"), None, || async {
            Err("database down")
        })
        .await;
    assert_eq!(failing, Err("database down"));
    assert_eq!(cache.get(&key("simplified:x:")).await, None);
}

async fn concurrent_misses_compute_once(cache: CacheService) {
    let k = key("volume:day:coalesced");
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            let k = k.clone();
            let calls = Arc::clone(&calls);
            tokio::spawn(async move {
                cache
                    .get_or_set(&k, None, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        sleep(Duration::from_millis(200)).await;
                        Ok::<_, Infallible>(bytes("computed once"))
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        let (value, lookup) = task.await.expect("task").expect("get_or_set");
        assert_eq!(value, bytes("computed once"));
        assert_eq!(lookup, Lookup::Miss);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (_, lookup) = cache
        .get_or_set(&k, None, || async { Ok::<_, Infallible>(bytes("again")) })
        .await
        .expect("get_or_set");
    assert_eq!(lookup, Lookup::Hit);
}

async fn a_failed_computation_lets_a_waiter_compute(cache: CacheService) {
    let k = key("media:latest:flaky");
    let calls = Arc::new(AtomicUsize::new(0));
    let spawn = |fail: bool| {
        let cache = cache.clone();
        let k = k.clone();
        let calls = Arc::clone(&calls);
        tokio::spawn(async move {
            cache
                .get_or_set(&k, None, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    sleep(Duration::from_millis(150)).await;
                    if fail {
                        Err("leader failed")
                    } else {
                        Ok(bytes("waiter value"))
                    }
                })
                .await
        })
    };
    let leader = spawn(true);
    sleep(Duration::from_millis(50)).await;
    let waiter = spawn(false);
    assert_eq!(leader.await.expect("leader"), Err("leader failed"));
    assert_eq!(
        waiter.await.expect("waiter"),
        Ok((bytes("waiter value"), Lookup::Miss))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn stats_count_hits_and_misses_per_category(cache: CacheService) {
    let empty = cache.stats().await;
    assert_eq!((empty.hits, empty.misses, empty.hit_rate), (0, 0, 0.0));
    let v = key("volume:day:stats");
    let m = key("media:latest:stats");
    assert_eq!(cache.get(&v).await, None);
    cache.set(&v, bytes("x"), None).await;
    assert!(cache.get(&v).await.is_some());
    assert!(cache.get(&v).await.is_some());
    assert!(cache.get(&v).await.is_some());
    cache
        .get_or_set(&m, None, || async { Ok::<_, Infallible>(bytes("y")) })
        .await
        .expect("get_or_set");

    let stats = cache.stats().await;
    assert_eq!(stats.backend, cache.backend());
    assert_eq!(stats.redis_connected, cache.redis_connected());
    assert_eq!((stats.hits, stats.misses), (3, 2));
    assert!((stats.hit_rate - 0.6).abs() < 1e-9);
    let volume = &stats.categories["volume"];
    assert_eq!((volume.hits, volume.misses), (3, 1));
    assert!((volume.hit_rate - 0.75).abs() < 1e-9);
    let media = &stats.categories["media"];
    assert_eq!((media.hits, media.misses, media.hit_rate), (0, 1, 0.0));
    assert!(!stats.categories.contains_key("simplified"));
    if stats.backend == "redis" {
        assert!(stats.redis_used_memory.is_some());
        assert!(stats.redis_keys.is_some_and(|keys| keys >= 2));
        assert_eq!(stats.memory_cache_size, 0);
    } else {
        assert_eq!(stats.redis_used_memory, None);
        assert_eq!(stats.redis_keys, None);
        assert_eq!(stats.memory_cache_size, 2);
    }
    let json = serde_json::to_value(&stats).expect("stats serialise");
    for field in [
        "backend",
        "redis_connected",
        "redis_used_memory",
        "redis_keys",
        "memory_cache_size",
        "hits",
        "misses",
        "hit_rate",
        "categories",
    ] {
        assert!(json.get(field).is_some(), "stats JSON has {field}");
    }
}

async fn value_computed_across_an_invalidation_is_never_served(cache: CacheService) {
    let k = key("volume:day:from=2025-01-01");
    let racing = cache.clone();
    let (value, lookup) = cache
        .get_or_set(&k, None, || async move {
            racing
                .invalidate(&pattern("volume:*"), KNOWN)
                .await
                .expect("invalidate");
            Ok::<_, Infallible>(bytes("computed from old data"))
        })
        .await
        .expect("get_or_set");
    assert_eq!(
        (value, lookup),
        (bytes("computed from old data"), Lookup::Miss)
    );
    assert_eq!(
        cache.get(&k).await,
        None,
        "the stale value must not be readable"
    );
    let (value, lookup) = cache
        .get_or_set(&k, None, || async { Ok::<_, Infallible>(bytes("fresh")) })
        .await
        .expect("get_or_set");
    assert_eq!((value, lookup), (bytes("fresh"), Lookup::Miss));
    assert_eq!(cache.get(&k).await, Some(bytes("fresh")));
}

async fn invalidate_supersedes_the_whole_category(cache: CacheService) {
    for raw in ["volume:day:a", "volume:hour:b", "media:latest:c"] {
        cache.set(&key(raw), bytes("x"), None).await;
    }
    let removed = cache
        .invalidate(&pattern("volume:*"), KNOWN)
        .await
        .expect("invalidate");
    assert_eq!(removed, 2);
    assert_eq!(cache.get(&key("volume:day:a")).await, None);
    assert_eq!(cache.get(&key("volume:hour:b")).await, None);
    assert_eq!(cache.get(&key("media:latest:c")).await, Some(bytes("x")));
    cache.set(&key("volume:day:a"), bytes("new"), None).await;
    assert_eq!(cache.get(&key("volume:day:a")).await, Some(bytes("new")));
}

async fn refresh_recomputes_a_cached_key(cache: CacheService) {
    let k = key("simplified:score:source=_");
    cache.set(&k, bytes("old"), None).await;
    let value = cache
        .refresh(&k, None, || async { Ok::<_, Infallible>(bytes("new")) })
        .await
        .expect("refresh");
    assert_eq!(value, bytes("new"));
    assert_eq!(cache.get(&k).await, Some(bytes("new")));
}

async fn rewarm_switches_hot_keys_to_fresh_values_without_a_miss(cache: CacheService) {
    let hot = key("volume:day:hot");
    let cold = key("volume:day:cold");
    let other = key("media:latest:x");
    for k in [&hot, &cold, &other] {
        cache.set(k, bytes("old"), None).await;
    }
    let reader = cache.clone();
    let probe = hot.clone();
    let report = cache
        .invalidate_and_rewarm("volume", std::slice::from_ref(&hot), |k| {
            let reader = reader.clone();
            let probe = probe.clone();
            async move {
                // While new values are being computed, readers still get the old one: no miss.
                assert_eq!(reader.get(&probe).await, Some(bytes("old")));
                Ok::<_, Infallible>(Bytes::from(format!("fresh {}", k.as_str())))
            }
        })
        .await
        .expect("rewarm");
    assert!(report.switched);
    assert_eq!(report.warmed, 1);
    assert_eq!(
        cache.get(&hot).await,
        Some(Bytes::from("fresh volume:day:hot"))
    );
    assert_eq!(
        cache.get(&cold).await,
        None,
        "cold keys of the category are invalidated"
    );
    assert_eq!(
        cache.get(&other).await,
        Some(bytes("old")),
        "other categories are untouched"
    );
}

async fn rewarm_yields_to_a_concurrent_invalidation(cache: CacheService) {
    let hot = key("volume:day:hot");
    cache.set(&hot, bytes("old"), None).await;
    let racing = cache.clone();
    let report = cache
        .invalidate_and_rewarm("volume", std::slice::from_ref(&hot), |_| {
            let racing = racing.clone();
            async move {
                racing
                    .invalidate(&pattern("volume:*"), KNOWN)
                    .await
                    .expect("invalidate");
                Ok::<_, Infallible>(bytes("computed before the other change"))
            }
        })
        .await
        .expect("rewarm");
    assert!(!report.switched);
    assert_eq!(
        cache.get(&hot).await,
        None,
        "nothing computed across the other change is served"
    );
}

/// The fallback to memory and the return to Redis, against a `redis-server` of our own.
mod fallback {
    use std::process::Stdio;

    use tokio::process::{Child, Command};

    use super::*;

    /// A `redis-server` on a fixed local port that can be killed and restarted.
    struct OwnRedis {
        port: u16,
        child: Option<Child>,
    }

    impl OwnRedis {
        /// A free port and no server yet; `None` (with a message) when `redis-server` is not
        /// on PATH and `TEST_REDIS_URL` is unset. Panics when it is missing but Redis tests
        /// were asked for.
        fn reserve() -> Self {
            let installed = std::process::Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            assert!(installed, "this test needs redis-server on the PATH");
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
            let port = listener.local_addr().expect("local addr").port();
            Self { port, child: None }
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        /// Starts the server and waits (up to 5 s) until it answers PING.
        async fn start(&mut self) {
            let child = Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn redis-server");
            self.child = Some(child);
            let url = self.url();
            let answering = eventually(Duration::from_secs(5), || {
                let url = url.clone();
                async move {
                    let Ok(client) = redis::Client::open(url.as_str()) else {
                        return false;
                    };
                    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                        return false;
                    };
                    redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .is_ok()
                }
            })
            .await;
            assert!(answering, "redis-server answers on port {}", self.port);
        }

        /// Sends a signal (`STOP`, `CONT`) to the server process.
        fn signal(&self, name: &str) {
            let pid = self
                .child
                .as_ref()
                .and_then(Child::id)
                .expect("redis-server is running");
            let status = std::process::Command::new("kill")
                .arg(format!("-{name}"))
                .arg(pid.to_string())
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{name} {pid}");
        }

        async fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                child.kill().await.expect("kill redis-server");
            }
        }
    }

    fn config(url: String) -> CacheConfig {
        CacheConfig {
            redis_url: Some(url),
            prefix: format!("mwtest:{}:", ulid::Ulid::generate()),
            health_interval: Duration::from_millis(100),
            ..CacheConfig::default()
        }
    }

    #[tokio::test]
    #[ignore = "needs redis-server"]
    async fn starts_on_memory_when_redis_is_down_and_moves_to_redis_when_it_comes_up() {
        let mut server = OwnRedis::reserve();
        let cache = CacheService::new(config(server.url())).await;
        assert_eq!(cache.backend(), "memory");
        assert!(!cache.redis_connected());
        let k = key("media:latest:start");
        cache.set(&k, bytes("on memory"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("on memory")));
        assert!(cache.invalidate(&pattern("media:*"), KNOWN).await.is_err());

        server.start().await;
        let on_redis = eventually(Duration::from_secs(5), || async {
            cache.backend() == "redis"
        })
        .await;
        assert!(on_redis, "back on redis within 5 s of redis starting");
        assert!(cache.redis_connected());
        assert_eq!(cache.stats().await.memory_cache_size, 0);
        cache.set(&k, bytes("on redis"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("on redis")));
        server.kill().await;
    }

    #[tokio::test]
    #[ignore = "needs redis-server"]
    async fn falls_back_when_redis_dies_and_returns_with_an_empty_fallback() {
        let mut server = OwnRedis::reserve();
        server.start().await;
        let cache = CacheService::new(config(server.url())).await;
        assert_eq!(cache.backend(), "redis");
        let before = key("volume:day:before");
        cache.set(&before, bytes("x"), None).await;
        assert_eq!(cache.get(&before).await, Some(bytes("x")));

        server.kill().await;
        let k = key("volume:day:during");
        let on_memory = eventually(Duration::from_secs(5), || async {
            cache.set(&k, bytes("fallback"), None).await;
            cache.get(&k).await;
            cache.backend() == "memory"
        })
        .await;
        assert!(on_memory, "falls back to memory once redis dies");
        assert!(!cache.redis_connected());
        cache.set(&k, bytes("fallback"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("fallback")));
        let (value, lookup) = cache
            .get_or_set(&key("media:latest:during"), None, || async {
                Ok::<_, Infallible>(bytes("computed"))
            })
            .await
            .expect("get_or_set");
        assert_eq!((value, lookup), (bytes("computed"), Lookup::Miss));
        let stats = cache.stats().await;
        assert_eq!(stats.backend, "memory");
        assert!(stats.memory_cache_size > 0);
        assert_eq!(stats.redis_keys, None);
        assert!(cache.delete_pattern(&pattern("*")).await.is_err());
        assert!(cache.invalidate(&pattern("volume:*"), KNOWN).await.is_err());
        assert_eq!(
            cache.stats().await.memory_cache_size,
            0,
            "a failed invalidation empties the fallback"
        );
        cache.set(&k, bytes("fallback again"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("fallback again")));

        server.start().await;
        let on_redis = eventually(Duration::from_secs(5), || async {
            cache.backend() == "redis"
        })
        .await;
        assert!(on_redis, "back on redis within 5 s of redis returning");
        assert_eq!(cache.stats().await.memory_cache_size, 0, "fallback emptied");
        assert_eq!(cache.get(&k).await, None);
        cache.set(&k, bytes("redis again"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("redis again")));
        server.kill().await;
    }

    #[tokio::test]
    #[ignore = "needs redis-server"]
    async fn a_stalled_redis_cannot_hang_a_read() {
        let mut server = OwnRedis::reserve();
        server.start().await;
        let cache = CacheService::new(config(server.url())).await;
        assert_eq!(cache.backend(), "redis");
        let k = key("simplified:all:stalled");
        cache.set(&k, bytes("x"), None).await;

        server.signal("STOP");
        // A stalled Redis never answers: the read must come back on its own (bounded by
        // redis_timeout), long before this generous guard would give up on it.
        let value = tokio::time::timeout(Duration::from_secs(30), cache.get(&k))
            .await
            .expect("a read against a stalled redis returns instead of hanging");
        assert_eq!(value, None, "served from the (empty) fallback");
        assert_eq!(cache.backend(), "memory");
        cache.set(&k, bytes("fallback"), None).await;
        assert_eq!(cache.get(&k).await, Some(bytes("fallback")));

        server.signal("CONT");
        let on_redis = eventually(Duration::from_secs(5), || async {
            cache.backend() == "redis"
        })
        .await;
        assert!(
            on_redis,
            "back on redis within 5 s of redis answering again"
        );
        assert_eq!(cache.get(&k).await, Some(bytes("x")));
        assert_eq!(cache.stats().await.memory_cache_size, 0);
        server.kill().await;
    }
}
