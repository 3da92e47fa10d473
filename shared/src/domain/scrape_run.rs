//! Scrape runs: one record per scrape job, for operators.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a scrape run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or the worker died; a retry restarts the same row).
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error (see `error`).
    Failed,
    /// Not run, e.g. because another scrape of the same source was in progress.
    Skipped,
}

impl RunStatus {
    /// The lowercase word stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "skipped" => Ok(Self::Skipped),
            other => Err(format!("unknown run status {other:?}")),
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// HTTP pages fetched (listing, feed and article pages).
    pub pages_fetched: i64,
    /// Articles stored for the first time.
    pub articles_new: i64,
    /// Stored articles whose content changed.
    pub articles_updated: i64,
}

/// One scrape job's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrapeRun {
    /// The job id (a retry of the job updates the same record).
    pub job_id: String,
    /// The source scraped.
    pub source: String,
    /// When the latest attempt started.
    pub started_at: DateTime<Utc>,
    /// When it finished; `None` while running.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: RunStatus,
    /// HTTP pages fetched.
    pub pages_fetched: i64,
    /// Articles stored for the first time.
    pub articles_new: i64,
    /// Stored articles whose content changed.
    pub articles_updated: i64,
    /// The error of a failed run.
    pub error: Option<String>,
}
