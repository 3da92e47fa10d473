//! Job counts per kind and status, as a short-lived per-process snapshot.
//!
//! `GET /api/v1/queue/stats` and `/metrics` are open to anyone and report counts over the
//! whole `jobs` table, finished jobs of the retention window included: one `group by` per
//! request would let a client turn a cheap read into a table scan at will. [`JobCounts`] runs
//! that query at most once per `max_age` per process, whatever the request rate, and answers
//! everyone else from the snapshot.
//!
//! Guarantees:
//! - A snapshot is never older than `max_age` when it is handed out, and it says when it was
//!   taken ([`JobCountsSnapshot::taken_at`]), so readers can tell its age.
//! - Concurrent callers that find the snapshot stale wait for one query together (single
//!   flight); a failed query is not cached, so the next caller tries again.
//! - `max_age` zero means no caching: every call queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::Store;
use crate::error::StoreError;
use crate::jobs::{JobKind, JobStatus};

/// Counts of jobs per kind and status at one moment.
#[derive(Debug, Clone)]
pub struct JobCountsSnapshot {
    /// When the counting query ran.
    pub taken_at: DateTime<Utc>,
    taken: Instant,
    counts: Arc<[(JobKind, JobStatus, i64)]>,
}

impl JobCountsSnapshot {
    /// The `(kind, status, count)` rows; pairs with no job are absent.
    pub fn rows(&self) -> &[(JobKind, JobStatus, i64)] {
        &self.counts
    }

    /// How many jobs of `kind` have `status`.
    pub fn count(&self, kind: JobKind, status: JobStatus) -> i64 {
        self.counts
            .iter()
            .filter(|(k, s, _)| *k == kind && *s == status)
            .map(|(_, _, n)| *n)
            .sum()
    }
}

/// The per-process cache of [`JobCountsSnapshot`]s. Cheap to clone; clones share the
/// snapshot.
#[derive(Debug, Clone)]
pub struct JobCounts(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    max_age: Duration,
    slot: Mutex<Option<JobCountsSnapshot>>,
    queries: AtomicU64,
}

impl JobCounts {
    /// How old a snapshot may be by default: fresh enough for a dashboard that polls every
    /// few seconds, and at most one counting query per second per process.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(1);

    /// A cache whose snapshots are at most `max_age` old.
    pub fn new(max_age: Duration) -> Self {
        Self(Arc::new(Inner {
            max_age,
            slot: Mutex::new(None),
            queries: AtomicU64::new(0),
        }))
    }

    /// How old a snapshot may be.
    pub fn max_age(&self) -> Duration {
        self.0.max_age
    }

    /// A snapshot no older than `max_age`, counting in `store` only when the last one is
    /// older.
    pub async fn get(&self, store: &Store) -> Result<JobCountsSnapshot, StoreError> {
        let mut slot = self.0.slot.lock().await;
        if let Some(snapshot) = slot.as_ref()
            && snapshot.taken.elapsed() < self.0.max_age
        {
            return Ok(snapshot.clone());
        }
        self.0.queries.fetch_add(1, Ordering::Relaxed);
        let taken = Instant::now();
        let taken_at = Utc::now();
        let counts = store.job_counts().await?;
        let snapshot = JobCountsSnapshot {
            taken_at,
            taken,
            counts: counts.into(),
        };
        *slot = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// How many counting queries this cache has run: for tests and diagnostics.
    pub fn queries(&self) -> u64 {
        self.0.queries.load(Ordering::Relaxed)
    }
}

impl Default for JobCounts {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_AGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    async fn store(dir: &std::path::Path) -> Store {
        let store = Store::connect(&StoreConfig {
            sqlite_path: dir.join("mediawarm.db"),
            ..StoreConfig::default()
        })
        .await
        .expect("store");
        store.migrate().await.expect("migrate");
        store
    }

    #[tokio::test]
    async fn a_snapshot_is_reused_within_its_max_age_and_zero_means_every_call_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;

        let cached = JobCounts::new(Duration::from_secs(3600));
        let first = cached.get(&store).await.expect("counts");
        let second = cached.get(&store).await.expect("counts");
        assert_eq!(cached.queries(), 1);
        assert_eq!(first.taken_at, second.taken_at, "the same snapshot");

        let uncached = JobCounts::new(Duration::ZERO);
        for _ in 0..3 {
            uncached.get(&store).await.expect("counts");
        }
        assert_eq!(uncached.queries(), 3);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_query_and_a_failure_is_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
        let counts = JobCounts::new(Duration::from_secs(3600));
        let all = futures::future::join_all((0..20).map(|_| counts.get(&store))).await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(counts.queries(), 1, "single flight");

        let broken = JobCounts::new(Duration::from_secs(3600));
        {
            use sqlx::Connection as _;
            let url = format!("sqlite://{}", dir.path().join("mediawarm.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query("alter table jobs rename to jobs_gone")
                .execute(&mut conn)
                .await
                .expect("rename");
        }
        assert!(broken.get(&store).await.is_err());
        assert!(broken.get(&store).await.is_err());
        assert_eq!(broken.queries(), 2, "the failed count was not cached");
    }
}
