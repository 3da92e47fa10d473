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

/// Why a scrape run failed, from a closed list. Anonymous readers see the class and its
/// fixed [`ErrorClass::sentence`], never the error's text (which can hold addresses, driver
/// messages and other internals); the operator sees the text too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The page could not be fetched (connection refused or reset, a bad URL).
    FetchFailed,
    /// The site answered an HTTP error status.
    HttpStatus,
    /// The address, or a redirect, was refused by the scraper's guard.
    RefusedAddress,
    /// robots.txt disallows the page.
    RobotsDisallowed,
    /// The answer was not a parsable feed, sitemap or page of the expected kind.
    ParseFailed,
    /// The answer was larger than the scraper accepts.
    PageTooLarge,
    /// The site, or the run's time budget, ran out of time.
    Timeout,
    /// The database failed.
    DatabaseError,
    /// The job queue or the cache failed.
    QueueError,
    /// A failure of mediawarm itself.
    Internal,
    /// Recorded before runs were classified.
    Unknown,
}

impl ErrorClass {
    /// Every class, in the order of the documentation.
    pub const ALL: [Self; 11] = [
        Self::FetchFailed,
        Self::HttpStatus,
        Self::RefusedAddress,
        Self::RobotsDisallowed,
        Self::ParseFailed,
        Self::PageTooLarge,
        Self::Timeout,
        Self::DatabaseError,
        Self::QueueError,
        Self::Internal,
        Self::Unknown,
    ];

    /// The snake_case word stored in the database, shown in the API and used as the scrape
    /// error metric's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FetchFailed => "fetch_failed",
            Self::HttpStatus => "http_status",
            Self::RefusedAddress => "refused_address",
            Self::RobotsDisallowed => "robots_disallowed",
            Self::ParseFailed => "parse_failed",
            Self::PageTooLarge => "page_too_large",
            Self::Timeout => "timeout",
            Self::DatabaseError => "database_error",
            Self::QueueError => "queue_error",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }

    /// The fixed sentence anyone may read about a run that failed this way.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::FetchFailed => "The source could not be fetched.",
            Self::HttpStatus => "The source answered with an HTTP error status.",
            Self::RefusedAddress => "The source's address or a redirect was refused.",
            Self::RobotsDisallowed => "The source's robots.txt disallows fetching it.",
            Self::ParseFailed => "The source's answer could not be read as expected.",
            Self::PageTooLarge => "The source's answer was too large.",
            Self::Timeout => "The source took too long to answer.",
            Self::DatabaseError => "The database failed during the run.",
            Self::QueueError => "The job queue or the cache failed during the run.",
            Self::Internal => "The run failed inside mediawarm.",
            Self::Unknown => "The run failed.",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown error class {s:?}"))
    }
}

/// An article page a run could not use, and why; the run went on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedPage {
    /// The page's URL (at most 300 characters of it: `SkippedPage::MAX_URL_CHARS`).
    pub url: String,
    /// Why it was skipped: an error class (`page_too_large`, `http_status`, `timeout`…).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub reason: ErrorClass,
}

impl SkippedPage {
    /// How many skipped pages a run records (the first ones).
    pub const MAX_RECORDED: usize = 50;
    /// How much of a skipped page's URL is recorded.
    pub const MAX_URL_CHARS: usize = 300;

    /// A skipped page, its URL cut to [`SkippedPage::MAX_URL_CHARS`] characters.
    pub fn new(url: &str, reason: ErrorClass) -> Self {
        Self {
            url: url.chars().take(Self::MAX_URL_CHARS).collect(),
            reason,
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
    /// The error of a failed run (its full text), or why a run was skipped.
    pub error: Option<String>,
    /// The class of a failed run's error.
    pub error_class: Option<ErrorClass>,
    /// The article pages the run skipped, and why (at most [`SkippedPage::MAX_RECORDED`]).
    pub skipped_pages: Vec<SkippedPage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_round_trips_through_its_word_and_has_its_own_sentence() {
        let mut sentences = std::collections::HashSet::new();
        for class in ErrorClass::ALL {
            assert_eq!(class.as_str().parse::<ErrorClass>(), Ok(class));
            assert_eq!(
                serde_json::to_value(class).unwrap(),
                serde_json::json!(class.as_str())
            );
            assert!(sentences.insert(class.sentence()), "{class}");
        }
        assert!("driver error".parse::<ErrorClass>().is_err());
    }
}
