//! The state every handler shares.

use std::sync::Arc;

use mediawarm_shared::cache::CacheService;
use mediawarm_shared::domain::CursorCodec;
use mediawarm_shared::error::StoreError;
use mediawarm_shared::store::Store;
use mediawarm_shared::views::ViewContext;

use crate::auth::OperatorToken;

/// Cheap-to-clone handle on the application's shared parts.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database, for cache misses and readiness.
    pub store: Store,
    /// The cache every read goes through.
    pub cache: CacheService,
    /// What views need besides the store (the cursor codec).
    pub views: ViewContext,
    /// The token operator endpoints require.
    pub operator: OperatorToken,
}

impl AppState {
    /// Builds the state; loads the deployment's cursor secret from the store.
    pub async fn new(
        store: Store,
        cache: CacheService,
        operator: OperatorToken,
    ) -> Result<Self, StoreError> {
        let secret = store.cursor_secret().await?;
        Ok(Self(Arc::new(Inner {
            store,
            cache,
            views: ViewContext {
                cursors: CursorCodec::new(&secret),
            },
            operator,
        })))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
