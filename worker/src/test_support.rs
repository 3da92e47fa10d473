//! What the worker's unit tests share: a [`Context`] over a real store and queue, on the
//! embedded stack (SQLite files in a directory the test owns) or on the test services (the
//! test's own PostgreSQL database and Redis namespace), with no worker taking deliveries.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use mediawarm_shared::cache::{CacheConfig, CacheService};
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::Queue;
use mediawarm_shared::store::{JobCounts, Store, StoreConfig};
use mediawarm_shared::views::CATEGORIES;
use mediawarm_testkit::services::TestServices;

use crate::Context;
use crate::config::WorkerArgs;

/// The worker's options as its defaults set them.
#[derive(clap::Parser)]
struct Defaults {
    #[command(flatten)]
    worker: WorkerArgs,
}

/// The worker's options with every default, as a process started without flags has them.
pub(crate) fn default_args() -> WorkerArgs {
    Defaults::parse_from(["test"]).worker
}

/// A context with `args` and `cache` over a migrated store and a queue: SQLite in `dir`, or
/// the test services (the queue then in the services' own namespace).
pub(crate) async fn open(
    dir: &Path,
    services: Option<&TestServices>,
    mut args: WorkerArgs,
    cache: CacheService,
) -> Arc<Context> {
    let store = Store::connect(&StoreConfig {
        database_url: services.map(|s| s.database.url.clone()),
        sqlite_path: dir.join("mediawarm.db"),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .expect("store");
    store.migrate().await.expect("migrate");
    if let Some(services) = services {
        args.queue_namespace = services.redis.namespace();
    }
    let redis = services.map(|s| s.redis.url.clone());
    let queue = Queue::connect(args.queue_config(redis.as_deref(), dir))
        .await
        .expect("queue");
    let metrics = Metrics::new(&cache, CATEGORIES, JobCounts::default());
    Context::new(
        store,
        cache,
        HotKeys::in_memory(Duration::from_secs(60)),
        queue,
        args,
        metrics,
    )
    .await
    .expect("context")
}

/// [`open`] with the default options and an in-memory cache.
pub(crate) async fn context(dir: &Path, services: Option<&TestServices>) -> Arc<Context> {
    open(
        dir,
        services,
        default_args(),
        CacheService::new(CacheConfig::default()).await,
    )
    .await
}
