//! A test's own migrated store: SQLite in a temporary directory, or PostgreSQL in a
//! [`TestDatabase`] of its own.
//!
//! Guarantees: the store is migrated and empty (no source, no article) when returned; what
//! holds its data — the directory or the database — lives exactly as long as the value, so
//! a test leaves nothing behind, failing or not.

use std::ops::Deref;

use mediawarm_shared::store::{Store, StoreConfig};

use crate::services::TestDatabase;

/// A migrated store and what holds its data (one of the two), removed on drop.
#[derive(Debug)]
pub struct TestStore {
    /// The store.
    pub store: Store,
    _sqlite_dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl TestStore {
    /// A SQLite store in a fresh temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cfg = StoreConfig {
            database_url: None,
            sqlite_path: dir.path().join("mediawarm.db"),
            ..StoreConfig::default()
        };
        Self::migrated(&cfg, Some(dir), None).await
    }

    /// A PostgreSQL store in a fresh database named after `label` (see
    /// [`TestDatabase::create`]); panics when `TEST_DATABASE_URL` is unset.
    pub async fn postgres(label: &str) -> Self {
        let database = TestDatabase::create(label).await;
        let cfg = StoreConfig {
            database_url: Some(database.url.clone()),
            ..StoreConfig::default()
        };
        Self::migrated(&cfg, None, Some(database)).await
    }

    async fn migrated(
        cfg: &StoreConfig,
        sqlite_dir: Option<tempfile::TempDir>,
        database: Option<TestDatabase>,
    ) -> Self {
        let store = Store::connect(cfg).await.expect("the test store connects");
        store.migrate().await.expect("the test store migrates");
        Self {
            store,
            _sqlite_dir: sqlite_dir,
            _database: database,
        }
    }
}

impl Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}
