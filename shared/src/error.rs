//! Errors of the shared crate, one enum per boundary.
//!
//! - [`DomainError`]: a value from outside did not parse. Always the caller's fault; the API
//!   maps each variant to a 4xx with a stable code.
//! - [`StoreError`]: the database failed or refused. `Unavailable` means it did not answer
//!   (the API answers 503); anything else is internal.
//! - [`ImportError`]: a bulk import was refused (a malformed line) or failed; all or nothing.
//! - [`CacheError`]: the shared cache failed. Reads never surface it (they fall back);
//!   invalidations do, because a lost invalidation would break the freshness guarantee.

/// A value from outside the system did not parse.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// A source name outside `[a-z0-9][a-z0-9_-]{0,63}`.
    #[error(
        "invalid source name {0:?}: use 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
    )]
    InvalidSourceName(String),
    /// A source kind that is not one of the known kinds.
    #[error("invalid source kind {0:?}: expected rss, atom, html or sitemap")]
    InvalidSourceKind(String),
    /// A cursor that does not decode or whose signature does not match.
    #[error("invalid cursor: pass back the next_cursor of a previous page unchanged")]
    InvalidCursor,
    /// A page size outside 1..=100, or not a number.
    #[error("invalid limit {0:?}: expected a whole number from 1 to 100")]
    InvalidLimit(String),
    /// A negative or non-numeric offset.
    #[error("invalid offset {0:?}: expected a whole number from 0")]
    InvalidOffset(String),
    /// An interval other than `hour` or `day`.
    #[error("invalid interval {0:?}: expected hour or day")]
    InvalidInterval(String),
    /// A time zone that is not an IANA name.
    #[error("invalid tz {0:?}: expected an IANA time zone name such as Europe/Paris")]
    InvalidTimezone(String),
    /// A date that is neither RFC 3339 nor `YYYY-MM-DD`.
    #[error("invalid date {0:?}: expected RFC 3339 (2026-01-31T08:00:00Z) or YYYY-MM-DD")]
    InvalidDate(String),
    /// A well-formed date outside the years the service can count in.
    #[error("invalid date {0:?}: dates must fall in the years 0001 to 9999")]
    DateOutOfRange(String),
}

/// The database failed or refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or other constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store configuration cannot work (e.g. a `DATABASE_URL` of an unknown scheme).
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A value given to the store, or read back from it, does not make sense (a bad argument,
    /// or a row written by something else).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A limited read ran past its limit (see `Store::with_read_limit`) and was cancelled.
    #[error("query timeout: {0}")]
    Timeout(String),
}

/// PostgreSQL's SQLSTATE for a statement cancelled, by `statement_timeout` among others.
const QUERY_CANCELED: &str = "57014";

impl From<sqlx::Error> for StoreError {
    /// Connection-level failures (pool timeout, I/O, TLS, closed pool, a peer that breaks
    /// the wire protocol, e.g. a connection cut during its handshake) become `Unavailable`,
    /// so the API can answer 503 for them; everything else stays a `Database` error.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
                Self::Timeout(db.to_string())
            }
            other => Self::Database(other),
        }
    }
}

/// `Store::import_jsonl` failed; nothing of the file was kept.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line did not parse; `line` is 1-based.
    #[error("line {line}: {message}")]
    Malformed {
        /// The 1-based line number in the file.
        line: usize,
        /// What was wrong with it.
        message: String,
    },
    /// Reading the input failed.
    #[error("reading the import: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

impl StoreError {
    /// Whether the database did not answer (rather than refusing or failing a statement):
    /// the API answers these with 503 `database_unavailable`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Database(e) => matches!(
                e,
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
            ),
            _ => false,
        }
    }
}

/// The shared cache failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis did not answer, or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis is known to be down; the operation needs it.
    #[error("redis is unavailable")]
    Unavailable,
    /// Redis did not answer within the configured response timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The Redis URL does not parse.
    #[error(transparent)]
    Url(#[from] crate::redis_target::RedisUrlError),
    /// The server is not the master (a replica, or a fail-over in progress).
    #[error("the redis server is not the master")]
    NotMaster,
    /// No replica acknowledged a generation change in time, so it might not survive a
    /// fail-over; the change is reported as not done.
    #[error("no redis replica acknowledged the change within {0:?}")]
    NotReplicated(std::time::Duration),
}
