//! Redis Sentinel fail-over: the cache (with its near cache), hot-key scores and the queue on
//! a `redis+sentinel://` URL follow the master when it is killed. The test owns its servers (a primary, a replica started with
//! `--replicaof`, three sentinels with `down-after-milliseconds 1000`, all on spare
//! 127.0.0.1 ports, killed when the guard drops, also on failure). Ignored unless asked for
//! (`-- --include-ignored`, with `TEST_REDIS_URL` set like the other Redis tests); then a
//! missing `redis-server` is a failure.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mediawarm_shared::cache::{CacheConfig, CacheKey, CacheService, KeyPattern};
use mediawarm_shared::error::CacheError;
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::jobs::{InvalidateCache, JobEnvelope, JobKind, JobPayload, new_job_id};
use mediawarm_shared::queue::{Queue, QueueConfig, new_task_id};
use mediawarm_testkit::faults::{free_port, redis_server_available};
use redis::FromRedisValue;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const SERVICE: &str = "mymaster";

/// The servers of one test; every process is killed when it drops.
struct Cluster {
    primary_port: u16,
    replica_port: u16,
    sentinel_ports: Vec<u16>,
    primary: Option<Child>,
    others: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.primary.iter_mut().chain(self.others.iter_mut()) {
            let _ = child.start_kill();
        }
    }
}

fn redis_server(args: &[&str]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn redis-server")
}

/// A Redis server on `port`, a replica of `replica_of` if given. Its files (a replica's
/// copy of the master's snapshot) go to `dir`, never to the working directory.
fn data_server(dir: &Path, port: u16, replica_of: Option<u16>) -> Child {
    let dbfilename = format!("dump-{port}.rdb");
    let port = port.to_string();
    let dir = dir.to_string_lossy();
    let mut args = vec![
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir,
        "--dbfilename",
        &dbfilename,
    ];
    let master_port;
    if let Some(master) = replica_of {
        master_port = master.to_string();
        args.extend(["--replicaof", "127.0.0.1", &master_port]);
    }
    redis_server(&args)
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "port {port} never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One command to the server on `port`, on a connection of its own.
async fn query<T: FromRedisValue>(port: u16, command: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
    command.query_async(&mut conn).await
}

/// Polls `check` every 100 ms until it is true; panics with `what` after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replication_field(port: u16, field: &str) -> Option<String> {
    let mut info = redis::cmd("INFO");
    info.arg("replication");
    let text: String = query(port, &info).await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_owned())
}

impl Cluster {
    async fn start() -> Self {
        assert!(
            redis_server_available(),
            "redis-server is not on PATH (needed by the Sentinel fail-over test)"
        );
        let primary_port = free_port().await;
        let replica_port = free_port().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = Self {
            primary_port,
            replica_port,
            sentinel_ports: Vec::new(),
            primary: Some(data_server(dir.path(), primary_port, None)),
            others: Vec::new(),
            dir,
        };
        wait_listening(primary_port).await;
        cluster.others.push(data_server(
            cluster.dir.path(),
            replica_port,
            Some(primary_port),
        ));
        wait_listening(replica_port).await;
        eventually(Duration::from_secs(15), "the replica to sync", || async {
            replication_field(replica_port, "master_link_status")
                .await
                .as_deref()
                == Some("up")
        })
        .await;
        for n in 0..3 {
            let port = free_port().await;
            let path = cluster.dir.path().join(format!("sentinel-{n}.conf"));
            std::fs::write(
                &path,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n\
                     sentinel down-after-milliseconds {SERVICE} 1000\n\
                     sentinel failover-timeout {SERVICE} 5000\n\
                     sentinel parallel-syncs {SERVICE} 1\n",
                    dir = cluster.dir.path().display()
                ),
            )
            .expect("write sentinel.conf");
            let path = path.to_string_lossy().into_owned();
            cluster.others.push(redis_server(&[&path, "--sentinel"]));
            cluster.sentinel_ports.push(port);
        }
        for &port in &cluster.sentinel_ports {
            wait_listening(port).await;
        }
        let sentinels = cluster.sentinel_ports.clone();
        eventually(
            Duration::from_secs(30),
            "every sentinel to see the replica and the other sentinels",
            || {
                let sentinels = sentinels.clone();
                async move {
                    for port in sentinels {
                        let mut master = redis::cmd("SENTINEL");
                        master.arg("master").arg(SERVICE);
                        let Ok(fields) = query::<Vec<String>>(port, &master).await else {
                            return false;
                        };
                        let field = |name: &str| {
                            fields
                                .iter()
                                .position(|f| f == name)
                                .and_then(|i| fields.get(i + 1))
                                .cloned()
                        };
                        if field("num-slaves").as_deref() != Some("1")
                            || field("num-other-sentinels").as_deref() != Some("2")
                        {
                            return false;
                        }
                    }
                    true
                }
            },
        )
        .await;
        cluster
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinel_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+sentinel://{}/{SERVICE}", hosts.join(","))
    }

    /// The master's port as the first sentinel reports it.
    async fn reported_master(&self) -> Option<u16> {
        let mut ask = redis::cmd("SENTINEL");
        ask.arg("get-master-addr-by-name").arg(SERVICE);
        let (_, port): (String, String) = query(self.sentinel_ports[0], &ask).await.ok()?;
        port.parse().ok()
    }

    /// Kills every process and waits for each to exit (the drop guard only signals them, for
    /// a test that failed).
    async fn stop(mut self) {
        for child in self.primary.iter_mut().chain(self.others.iter_mut()) {
            let _ = child.kill().await;
        }
    }

    async fn kill_primary(&mut self) {
        if let Some(mut primary) = self.primary.take() {
            primary.kill().await.expect("kill the primary");
        }
    }

    /// Starts the old primary again, as a replica of `master`, and waits until it synced.
    async fn rejoin_old_primary(&mut self, master: u16) {
        self.primary = Some(data_server(
            self.dir.path(),
            self.primary_port,
            Some(master),
        ));
        wait_listening(self.primary_port).await;
        let port = self.primary_port;
        eventually(
            Duration::from_secs(20),
            "the old primary to sync as a replica",
            || async move {
                replication_field(port, "master_link_status")
                    .await
                    .as_deref()
                    == Some("up")
            },
        )
        .await;
    }
}

/// Keys matching `pattern` on the server at `port`.
async fn keys(port: u16, pattern: &str) -> Vec<String> {
    let mut scan = redis::cmd("KEYS");
    scan.arg(pattern);
    query(port, &scan).await.unwrap_or_default()
}

fn envelope() -> JobEnvelope {
    JobEnvelope {
        job_id: new_job_id(),
        payload: JobPayload::Invalidate(InvalidateCache {
            patterns: vec!["media:*".to_owned()],
        }),
        request_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_REDIS_URL"]
async fn cache_hot_keys_and_queue_follow_the_master_across_a_fail_over() {
    let mut cluster = Cluster::start().await;
    let prefix = format!("mwtest:{}:", ulid::Ulid::generate());
    let cache = CacheService::new(CacheConfig {
        redis_url: Some(cluster.url()),
        prefix: prefix.clone(),
        health_interval: Duration::from_millis(200),
        redis_timeout: Duration::from_millis(500),
        near: true,
        ..CacheConfig::default()
    })
    .await;
    assert!(
        cache.redis_connected(),
        "the cache found the master through the sentinels"
    );
    let queue = Queue::connect(QueueConfig {
        redis_url: Some(cluster.url()),
        namespace: prefix.trim_end_matches(':').to_owned(),
        ..QueueConfig::default()
    })
    .await
    .expect("the queue found the master through the sentinels");
    let before = new_task_id();
    queue
        .push(envelope(), &before, None)
        .await
        .expect("push before the fail-over");

    eventually(
        Duration::from_secs(10),
        "the near cache to hold a lease on the master",
        || async { cache.near_active() },
    )
    .await;
    let hot = HotKeys::shared(&cluster.url(), &prefix, Duration::from_secs(600)).unwrap();
    let key = CacheKey::parse("media:latest:a").unwrap();
    hot.record(&key);
    hot.flush().await.expect("hot keys reach the master");
    let media = KeyPattern::parse("media:*", &["media"]).unwrap();
    let compute = |value: &'static str| {
        move || async move { Ok::<_, std::convert::Infallible>(Bytes::from_static(value.as_bytes())) }
    };
    cache.get_or_set(&key, None, compute("v1")).await.unwrap();
    cache
        .invalidate(&media, &["media"])
        .await
        .expect("with a replica attached, an invalidation completes");
    let rewarm = cache
        .invalidate_and_rewarm("media", std::slice::from_ref(&key), |_| compute("v2")())
        .await
        .expect("with a replica attached, a rewarm completes");
    assert!(rewarm.switched && rewarm.warmed == 1, "{rewarm:?}");
    let (value, _) = cache
        .get_or_set(&key, None, compute("unused"))
        .await
        .unwrap();
    assert_eq!(
        value,
        Bytes::from_static(b"v2"),
        "the rewarmed value is served"
    );
    let replica = cluster.replica_port;
    let stored = format!("{prefix}media:latest:a@*");
    eventually(
        Duration::from_secs(5),
        "the replica to hold the cached value",
        || {
            let stored = stored.clone();
            async move { keys(replica, &stored).await.len() == 1 }
        },
    )
    .await;

    let killed = Instant::now();
    cluster.kill_primary().await;
    eventually(
        Duration::from_secs(30),
        "the sentinels to promote the replica",
        || async { cluster.reported_master().await == Some(replica) },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the cache to serve from the new master",
        || async { cache.redis_connected() },
    )
    .await;
    eprintln!(
        "fail-over: cache back on redis {:?} after the primary was killed",
        killed.elapsed()
    );

    assert_eq!(
        cache.get(&key).await,
        None,
        "every generation was replaced when the master moved: nothing cached before is served"
    );
    let (value, _) = cache.get_or_set(&key, None, compute("v3")).await.unwrap();
    assert_eq!(value, Bytes::from_static(b"v3"));
    assert_eq!(cache.get(&key).await, Some(Bytes::from_static(b"v3")));
    let after = CacheKey::parse("media:latest:b").unwrap();
    cache.set(&after, Bytes::from_static(b"after"), None).await;
    assert_eq!(cache.get(&after).await, Some(Bytes::from_static(b"after")));
    assert_eq!(
        keys(replica, &format!("{prefix}media:latest:b@*"))
            .await
            .len(),
        1,
        "the write went to the new master"
    );

    eventually(
        Duration::from_secs(10),
        "the near cache to take a lease on the new master",
        || async { cache.near_active() },
    )
    .await;

    let hot_key = CacheKey::parse("volume:day:x").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        hot.record(&hot_key);
        let Err(error) = hot.flush().await else { break };
        assert!(
            Instant::now() < deadline,
            "hot keys never reached the new master (their counts are dropped on an error, so each try records anew): {error}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        hot.top(10).await.unwrap().contains(&hot_key),
        "hot-key scores are written to the new master"
    );

    let pushed = new_task_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match queue.push(envelope(), &pushed, None).await {
            Ok(()) => break,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "no push reached the new master: {error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    eprintln!(
        "fail-over: queue push accepted {:?} after the primary was killed",
        killed.elapsed()
    );
    assert_eq!(
        queue
            .holds(JobKind::Invalidate, std::slice::from_ref(&pushed))
            .await
            .unwrap(),
        vec![true],
        "the new master carries the task pushed after the fail-over"
    );

    match cache.invalidate(&media, &["media"]).await {
        Err(CacheError::NotReplicated(_)) => {}
        other => panic!("with no replica left an invalidation must not complete: {other:?}"),
    }
    cluster.rejoin_old_primary(replica).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(error) = cache.invalidate(&media, &["media"]).await {
        eprintln!("invalidation with the old primary back as a replica: {error}");
        assert!(
            Instant::now() < deadline,
            "with a replica again, an invalidation completes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(cache.get(&key).await, None, "the invalidation took effect");

    drop(queue);
    drop(cache);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_REDIS_URL"]
async fn a_fail_over_that_leaves_the_old_master_up_as_a_replica_is_followed() {
    let cluster = Cluster::start().await;
    let prefix = format!("mwtest:{}:", ulid::Ulid::generate());
    let cache = CacheService::new(CacheConfig {
        redis_url: Some(cluster.url()),
        prefix: prefix.clone(),
        health_interval: Duration::from_millis(200),
        redis_timeout: Duration::from_millis(500),
        ..CacheConfig::default()
    })
    .await;
    let queue = Queue::connect(QueueConfig {
        redis_url: Some(cluster.url()),
        namespace: prefix.trim_end_matches(':').to_owned(),
        ..QueueConfig::default()
    })
    .await
    .expect("the queue found the master through the sentinels");
    let key = CacheKey::parse("media:latest:a").unwrap();
    cache
        .get_or_set(&key, None, || async {
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"before"))
        })
        .await
        .unwrap();

    let mut failover = redis::cmd("SENTINEL");
    failover.arg("FAILOVER").arg(SERVICE);
    let _: () = query(cluster.sentinel_ports[0], &failover)
        .await
        .expect("SENTINEL FAILOVER");
    let (old, new) = (cluster.primary_port, cluster.replica_port);
    eventually(
        Duration::from_secs(30),
        "the sentinels to promote the replica and demote the old master",
        || async {
            cluster.reported_master().await == Some(new)
                && replication_field(old, "role").await.as_deref() == Some("slave")
        },
    )
    .await;

    let pushed = new_task_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(error) = queue.push(envelope(), &pushed, None).await {
        assert!(
            Instant::now() < deadline,
            "no push reached the new master: {error}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        queue
            .holds(JobKind::Invalidate, std::slice::from_ref(&pushed))
            .await
            .unwrap(),
        vec![true],
        "the push went to the new master (the old one, a replica now, refuses writes)"
    );

    eventually(
        Duration::from_secs(30),
        "the cache to leave the demoted master and serve from the new one",
        || async {
            cache.redis_connected() && {
                let after = CacheKey::parse("media:latest:b").unwrap();
                cache.set(&after, Bytes::from_static(b"after"), None).await;
                !keys(new, &format!("{prefix}media:latest:b@*"))
                    .await
                    .is_empty()
            }
        },
    )
    .await;
    assert_eq!(
        cache.get(&key).await,
        None,
        "every generation was replaced when the master moved"
    );

    drop(queue);
    drop(cache);
    cluster.stop().await;
}
