//! `GET /api/v1/queue/stats`: how many jobs there are of each kind and status.
//!
//! The numbers come from our `jobs` table, the jobs' state of record (the queue backend only
//! carries them to workers), through the process' snapshot of job counts: one `group by` at
//! most once per `JOB_COUNTS_MAX_AGE_MS` (1 s by default), whatever the request rate, and
//! `as_of` says when it ran. `depth` is the number backpressure
//! bounds: jobs waiting or running, all kinds together; above `max_depth` enqueueing answers
//! 503 `queue_full`. `done` and `dead` count finished jobs still kept (see
//! `JOB_RETENTION_HOURS`). A read for anyone, like `/metrics`, which exports the same counts.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use mediawarm_shared::jobs::{JobKind, JobStatus};
use serde::Serialize;

use crate::error::{ErrorBody, Result};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/queue/stats", get(stats))
}

/// The body of `GET /api/v1/queue/stats`: jobs per kind and status, from the jobs table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct QueueStats {
    /// When the jobs were counted: the counts are a per-process snapshot at most
    /// `JOB_COUNTS_MAX_AGE_MS` (1 s by default) old.
    #[schema(value_type = String, format = DateTime)]
    as_of: DateTime<Utc>,
    /// Jobs waiting or running, all kinds: what backpressure bounds.
    depth: i64,
    /// Above this depth enqueueing answers 503 `queue_full`.
    max_depth: i64,
    /// Every kind (`scrape`, `warm`, `invalidate`) with its counts, zeros when it has no job.
    #[schema(value_type = BTreeMap<String, KindCounts>)]
    kinds: BTreeMap<&'static str, KindCounts>,
}

/// One kind's jobs per status; `done` and `dead` count the finished jobs still kept.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub(crate) struct KindCounts {
    /// Queued, or waiting for a retry.
    pending: i64,
    /// Being run.
    running: i64,
    /// Finished successfully.
    done: i64,
    /// Failed for good.
    dead: i64,
}

impl KindCounts {
    fn slot(&mut self, status: JobStatus) -> &mut i64 {
        match status {
            JobStatus::Pending => &mut self.pending,
            JobStatus::Running => &mut self.running,
            JobStatus::Done => &mut self.done,
            JobStatus::Dead => &mut self.dead,
        }
    }
}

/// Jobs per kind and status, and the queue depth.
#[utoipa::path(
    get,
    path = "/api/v1/queue/stats",
    tag = "jobs",
    operation_id = "queue_stats",
    responses(
        (status = 200, description = "Job counts", body = QueueStats),
        (status = 503, description = "`database_unavailable` or `query_timeout` (a read ran past 5 s)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn stats(State(state): State<AppState>) -> Result<Json<QueueStats>> {
    let counts = state.metrics.job_counts().get(&state.reads).await?;
    Ok(Json(summarise(
        counts.taken_at,
        counts.rows(),
        state.enqueue.max_depth,
    )))
}

/// Folds `(kind, status, count)` rows counted at `as_of` into the answer.
fn summarise(
    as_of: DateTime<Utc>,
    counts: &[(JobKind, JobStatus, i64)],
    max_depth: i64,
) -> QueueStats {
    let mut kinds: BTreeMap<&'static str, KindCounts> = JobKind::ALL
        .iter()
        .map(|kind| (kind.as_str(), KindCounts::default()))
        .collect();
    let mut depth = 0;
    for &(kind, status, n) in counts {
        *kinds.entry(kind.as_str()).or_default().slot(status) += n;
        if matches!(status, JobStatus::Pending | JobStatus::Running) {
            depth += n;
        }
    }
    QueueStats {
        as_of,
        depth,
        max_depth,
        kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_and_depth_counts_only_unfinished_jobs() {
        let stats = summarise(
            Utc::now(),
            &[
                (JobKind::Scrape, JobStatus::Pending, 2),
                (JobKind::Scrape, JobStatus::Done, 5),
                (JobKind::Warm, JobStatus::Running, 1),
                (JobKind::Warm, JobStatus::Dead, 3),
            ],
            5000,
        );
        assert_eq!(stats.depth, 3);
        assert_eq!(stats.max_depth, 5000);
        assert_eq!(
            serde_json::to_value(&stats.kinds).unwrap(),
            serde_json::json!({
                "scrape": {"pending": 2, "running": 0, "done": 5, "dead": 0},
                "warm": {"pending": 0, "running": 1, "done": 0, "dead": 3},
                "invalidate": {"pending": 0, "running": 0, "done": 0, "dead": 0},
            })
        );
    }
}
