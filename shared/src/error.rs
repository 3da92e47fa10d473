//! Errors of the shared crate, one enum per boundary.
//!
//! - [`DomainError`]: a value from outside did not parse. Always the caller's fault; the API
//!   maps each variant to a 4xx with a stable code.
//! - [`StoreError`]: the database failed or refused. `Unavailable` means it did not answer
//!   (the API answers 503); anything else is internal.
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
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
}
