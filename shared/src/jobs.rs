//! Job payloads and job records, shared by the API (which enqueues) and the worker (which
//! runs them).
//!
//! Every job has our own ULID id. The `jobs` table is the record of its state
//! (`pending` → `running` → `done` | `dead`, with `pending` again while it waits for a retry);
//! the queue (apalis on Redis or SQLite, see [`crate::queue`]) only carries
//! [`JobEnvelope`]s to workers. Keeping the record in the database makes states, retries,
//! dead jobs, cron de-duplication and backpressure behave the same on both queue backends.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cache::CacheKey;
use crate::domain::SourceName;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Scrape one source.
    Scrape,
    /// Recompute cache keys.
    Warm,
    /// Invalidate cache patterns.
    Invalidate,
}

impl JobKind {
    /// Every kind, in queue order.
    pub const ALL: [JobKind; 3] = [Self::Scrape, Self::Warm, Self::Invalidate];

    /// The lowercase name used in the API, the database and queue names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scrape => "scrape",
            Self::Warm => "warm",
            Self::Invalidate => "invalidate",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scrape" => Ok(Self::Scrape),
            "warm" => Ok(Self::Warm),
            "invalidate" => Ok(Self::Invalidate),
            other => Err(format!(
                "unknown job kind {other:?}: expected scrape, warm or invalidate"
            )),
        }
    }
}

/// Where a job stands. Only `done` and `dead` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Queued, or waiting for its next attempt.
    Pending,
    /// A worker is running it.
    Running,
    /// Finished successfully (final).
    Done,
    /// Failed permanently or ran out of attempts (final; can be retried by hand).
    Dead,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 4] = [Self::Pending, Self::Running, Self::Done, Self::Dead];

    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(format!(
                "unknown job status {other:?}: expected pending, running, done or dead"
            )),
        }
    }
}

/// Scrape one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrapeSource {
    /// The source to scrape.
    pub source: SourceName,
    /// Refetch article pages that are already known.
    #[serde(default)]
    pub refresh: bool,
}

/// Recompute cache keys through the view catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmCache {
    /// Exactly these keys (each names a view; checked at enqueue).
    Keys(Vec<CacheKey>),
    /// The `n` hottest keys.
    TopN(u32),
}

/// Invalidate cache patterns (after an out-of-band data change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidateCache {
    /// Patterns over the key space, as given (each checked with `KeyPattern::parse` at
    /// enqueue and again when run).
    pub patterns: Vec<String>,
}

/// A job's work, tagged by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JobPayload {
    /// See [`ScrapeSource`].
    Scrape(ScrapeSource),
    /// See [`WarmCache`].
    Warm {
        /// What to warm.
        target: WarmCache,
    },
    /// See [`InvalidateCache`].
    Invalidate(InvalidateCache),
}

impl JobPayload {
    /// The payload's kind.
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Scrape(_) => JobKind::Scrape,
            Self::Warm { .. } => JobKind::Warm,
            Self::Invalidate(_) => JobKind::Invalidate,
        }
    }
}

/// What travels through the queue: our job id and the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEnvelope {
    /// Our ULID job id (the `jobs` row).
    pub job_id: String,
    /// The work.
    pub payload: JobPayload,
    /// The id of the HTTP request that enqueued it (absent for scheduler jobs, and in
    /// envelopes queued before the field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A job as recorded, and as `GET /api/v1/jobs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    /// ULID.
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// Where it stands.
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before it ends dead.
    pub max_attempts: i32,
    /// The work, as enqueued.
    pub payload: serde_json::Value,
    /// What it did (when done).
    pub result: Option<serde_json::Value>,
    /// The last error (while retrying, or when dead).
    pub error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its next attempt is due (pending retries).
    pub run_after: Option<DateTime<Utc>>,
    /// When it ended (done or dead).
    pub finished_at: Option<DateTime<Utc>>,
    /// The id of the HTTP request that enqueued it (`x-request-id`), if any.
    pub request_id: Option<String>,
    /// The queue task id of its latest push.
    pub task_id: Option<String>,
    /// Deliveries that started it so far (never reset).
    pub delivery: i64,
    /// Until when its running delivery holds it.
    pub lease_until: Option<DateTime<Utc>>,
}

/// A new ULID job id.
pub fn new_job_id() -> String {
    ulid::Ulid::generate().to_string()
}
