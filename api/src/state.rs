//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use mediawarm_shared::cache::CacheService;
use mediawarm_shared::domain::CursorCodec;
use mediawarm_shared::error::StoreError;
use mediawarm_shared::hot::HotKeys;
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::queue::{EnqueueOptions, Queue};
use mediawarm_shared::store::Store;
use mediawarm_shared::views::ViewContext;
use tokio::sync::OnceCell;

use crate::auth::OperatorToken;
use crate::error::ApiError;
use crate::misses::{MissGate, MissLimits};

/// The queue once it is reachable: the API starts (and serves reads) without it, and a
/// background task fills it in.
pub type QueueSlot = Arc<OnceCell<Queue>>;

/// What the application is built from.
#[derive(Debug)]
pub struct AppParts {
    /// The database.
    pub store: Store,
    /// The cache every read goes through.
    pub cache: CacheService,
    /// Where every cached read is counted.
    pub hot: HotKeys,
    /// The job queue (filled once reachable).
    pub queue: QueueSlot,
    /// How jobs are enqueued (attempts, depth limit).
    pub enqueue: EnqueueOptions,
    /// The token operator endpoints require.
    pub operator: OperatorToken,
    /// The process' metrics (shared with an in-process worker).
    pub metrics: Metrics,
    /// How long each database read behind a cache miss may run (503 `query_timeout` past
    /// it); [`crate::QUERY_TIMEOUT`] in production.
    pub query_timeout: Duration,
    /// How many cache misses may compute at once.
    pub misses: MissLimits,
}

/// Cheap-to-clone handle on the application's shared parts.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database, for readiness, source definitions and job records.
    pub store: Store,
    /// The same database with each read limited to the query timeout (503 `query_timeout`
    /// past it): for cache misses and every other read a request makes (sources, runs, job
    /// records, job counts). Writes and the worker use `store`.
    pub reads: Store,
    /// The cache every read goes through.
    pub cache: CacheService,
    /// Where every cached read is counted, for warming.
    pub hot: HotKeys,
    /// What views need besides the store (the cursor codec).
    pub views: ViewContext,
    /// The token operator endpoints require.
    pub operator: OperatorToken,
    /// The job queue, once reachable.
    queue: QueueSlot,
    /// How jobs are enqueued.
    pub enqueue: EnqueueOptions,
    /// The process' metrics, for `/metrics`.
    pub metrics: Metrics,
    /// Admits cache misses.
    pub(crate) misses: MissGate,
}

impl AppState {
    /// Builds the state; loads the deployment's cursor secret from the store.
    pub async fn new(parts: AppParts) -> Result<Self, StoreError> {
        let secret = parts.store.cursor_secret().await?;
        Ok(Self(Arc::new(Inner {
            views: ViewContext {
                cursors: CursorCodec::new(&secret),
            },
            reads: parts.store.with_read_limit(parts.query_timeout),
            store: parts.store,
            cache: parts.cache,
            hot: parts.hot,
            operator: parts.operator,
            queue: parts.queue,
            enqueue: parts.enqueue,
            metrics: parts.metrics,
            misses: MissGate::new(parts.misses),
        })))
    }

    /// The queue, or 503 `queue_unavailable` while it has not been reached.
    pub fn queue(&self) -> Result<Queue, ApiError> {
        self.0.queue.get().cloned().ok_or_else(|| {
            ApiError::QueueUnavailable("the queue has not been reached yet".to_owned())
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
