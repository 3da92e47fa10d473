//! The store: every read and write of durable data, over PostgreSQL or SQLite.
//!
//! [`Store`] is one cheap-to-clone handle over a connection pool of either database; callers
//! never see which. Both databases hold the same schema (`migrations/postgres`,
//! `migrations/sqlite`); SQLite keeps times as integer microseconds since the epoch (UTC),
//! PostgreSQL as `timestamptz`, and both round-trip exactly to `DateTime<Utc>`.
//!
//! Guarantees:
//! - Articles are keyed by canonical URL: re-upserting never duplicates, and `sort_at`
//!   (published date, else first-seen time) is set at first insert and never moved by an
//!   upsert, so between date corrections a keyset cursor never sees a row move. The one
//!   write that moves it is [`Store::correct_published_dates`] (the `backfill` command),
//!   which sets it to the corrected `published_at`; a cursor handed out before a correction
//!   may then skip or repeat an article whose `sort_at` moved.
//! - Every multi-row write is one transaction (all or nothing). On SQLite write transactions
//!   start with `BEGIN IMMEDIATE`, so concurrent writers queue on `busy_timeout` instead of
//!   failing on a lock upgrade.
//! - Connection-level failures surface as [`StoreError::Unavailable`] and
//!   [`Store::ping`] answers within the configured acquire timeout.
//!
//! Layout: `articles.rs` (article reads and upserts), `backfill.rs` (date corrections),
//! `stats.rs` (volume and activity counts), `import.rs` (JSONL bulk import), `sources.rs`
//! (source definitions), `runs.rs` (scrape runs), `jobs.rs` (job records and source leases),
//! `job_counts.rs` (the per-process snapshot of job counts that stats and metrics read),
//! `fetch_cache.rs` (validators for conditional requests).

mod articles;
mod backfill;
mod fetch_cache;
mod import;
mod job_counts;
mod jobs;
mod runs;
mod sources;
mod stats;

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::StoreError;

pub use articles::UpsertOutcome;
pub use backfill::{DateCorrection, StoredDate};
pub use fetch_cache::FetchRecord;
pub use import::{ImportProgress, ImportReport, parse_import_line};
pub use job_counts::{JobCounts, JobCountsSnapshot};
pub use jobs::{JobInsert, JobStart, LapsedJob, NewJob, Rescue, UnqueuedCandidate};
pub use sources::SourcesVersion;
pub use stats::SourceActivity;

/// The PostgreSQL migrations (`migrations/postgres`), embedded at compile time.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// The SQLite migrations (`migrations/sqlite`), embedded at compile time.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

const CURSOR_SECRET_KEY: &str = "cursor_secret";

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgres://…` / `postgresql://…` for PostgreSQL, `sqlite:PATH` for a given SQLite
    /// file; `None` for SQLite at [`StoreConfig::sqlite_path`] (the embedded default).
    pub database_url: Option<String>,
    /// The SQLite file used when `database_url` is `None`.
    pub sqlite_path: PathBuf,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long to wait for a pooled connection; also bounds [`Store::ping`], so readiness
    /// answers within it when the database does not.
    pub acquire_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            sqlite_path: PathBuf::from("./data/mediawarm.db"),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
        }
    }
}

/// The durable store: a pool over PostgreSQL or SQLite. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct Store {
    /// The pool; an enum rather than `sqlx::Any` so each database gets its own SQL
    /// (`UNNEST` on PostgreSQL, multi-row `VALUES` on SQLite) and native time types.
    backend: Backend,
    /// Bounds `ping`; the same value the pool waits for a connection.
    acquire_timeout: Duration,
    /// What `describe` returns, computed once without the password.
    description: Arc<str>,
    /// How long the reads behind the API's views may run; `None`: unlimited.
    read_limit: Option<Duration>,
}

#[derive(Clone, Debug)]
enum Backend {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The connection one PostgreSQL read runs on: with a read limit, a transaction whose
/// `statement_timeout` is set locally, rolled back when dropped.
enum PgRead {
    Plain(sqlx::pool::PoolConnection<Postgres>),
    Limited(Transaction<'static, Postgres>),
}

impl std::ops::Deref for PgRead {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        match self {
            Self::Plain(conn) => conn,
            Self::Limited(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for PgRead {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        match self {
            Self::Plain(conn) => conn,
            Self::Limited(tx) => tx,
        }
    }
}

/// A write transaction on either database.
enum WriteTx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl WriteTx {
    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Connects to the configured database and checks that it answers.
    ///
    /// `postgres://` and `postgresql://` URLs pick PostgreSQL; `sqlite:PATH` or no URL picks
    /// SQLite (parent directories and the file are created, WAL journal, 5 s busy timeout,
    /// foreign keys on). A database that cannot be reached is [`StoreError::Unavailable`].
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(cfg: &StoreConfig) -> Result<Store, StoreError> {
        match cfg.database_url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
                let description = format!(
                    "postgres {}:{}/{}",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or(options.get_username())
                );
                let pool: PgPool = pool_options(cfg)
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Self {
                    backend: Backend::Postgres(pool),
                    acquire_timeout: cfg.acquire_timeout,
                    description: description.into(),
                    read_limit: None,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
                Self::connect_sqlite(options, cfg).await
            }
            Some(other) => Err(StoreError::Config(format!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got {:?})",
                other.split(':').next().unwrap_or_default()
            ))),
            None => {
                let options = SqliteConnectOptions::new().filename(&cfg.sqlite_path);
                Self::connect_sqlite(options, cfg).await
            }
        }
    }

    async fn connect_sqlite(
        options: SqliteConnectOptions,
        cfg: &StoreConfig,
    ) -> Result<Store, StoreError> {
        let path = options.get_filename().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::Unavailable(format!("creating {}: {e}", parent.display()))
            })?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool: SqlitePool = pool_options(cfg)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            backend: Backend::Sqlite(pool),
            acquire_timeout: cfg.acquire_timeout,
            description: format!("sqlite {}", path.display()).into(),
            read_limit: None,
        })
    }

    /// This store (sharing its pool) with the reads behind the views (latest articles, one
    /// article, volume, activity, whether a source exists) limited to `limit` each: on
    /// PostgreSQL each runs in a transaction with `SET LOCAL statement_timeout`, so the
    /// server cancels it; on SQLite it is abandoned after `limit` (the statement may finish
    /// in the background). Either way it fails with [`StoreError::Timeout`]. Other reads and
    /// every write are not limited. For the API's reads; imports and workers use the store
    /// without a limit.
    pub fn with_read_limit(&self, limit: Duration) -> Self {
        Self {
            read_limit: Some(limit),
            ..self.clone()
        }
    }

    /// The connection a limited read runs on (see [`Store::with_read_limit`]).
    async fn pg_read(&self, pool: &PgPool) -> Result<PgRead, StoreError> {
        let Some(limit) = self.read_limit else {
            return Ok(PgRead::Plain(pool.acquire().await?));
        };
        let mut tx = pool.begin().await?;
        sqlx::query("select set_config('statement_timeout', $1, true)")
            .bind(limit.as_millis().max(1).to_string())
            .execute(&mut *tx)
            .await?;
        Ok(PgRead::Limited(tx))
    }

    /// Runs a limited read on SQLite (see [`Store::with_read_limit`]).
    async fn sqlite_read<T>(
        &self,
        read: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        let Some(limit) = self.read_limit else {
            return Ok(read.await?);
        };
        match tokio::time::timeout(limit, read).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(StoreError::Timeout(format!(
                "the query ran past its {} ms limit",
                limit.as_millis()
            ))),
        }
    }

    /// Runs `select pg_sleep(seconds)` (PostgreSQL) or a query of about that many seconds
    /// (SQLite) as a limited read: for tests and diagnostics of [`Store::with_read_limit`].
    #[doc(hidden)]
    pub async fn probe_read_limit(&self, seconds: f64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("select pg_sleep($1)")
                    .bind(seconds)
                    .execute(&mut *self.pg_read(pool).await?)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                let rows = (seconds * 5_000_000.0) as i64;
                self.sqlite_read(
                    sqlx::query_scalar::<_, i64>(
                        "with recursive n(i) as (select 1 union all select i + 1 from n \
                         where i < ?) select count(*) from n",
                    )
                    .bind(rows)
                    .fetch_one(pool),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Applies pending migrations; running it again (from any process) is a no-op.
    #[tracing::instrument(skip_all, fields(db = self.kind()), err)]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
            Backend::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    /// A one-line description for the start-up log, never containing a password
    /// (`postgres 127.0.0.1:5432/mediawarm`, `sqlite ./data/mediawarm.db`).
    pub fn describe(&self) -> String {
        self.description.to_string()
    }

    /// Runs `SELECT 1`, failing with [`StoreError::Unavailable`] if the database does not
    /// answer within the acquire timeout.
    #[tracing::instrument(skip_all, fields(db = self.kind()), err)]
    pub async fn ping(&self) -> Result<(), StoreError> {
        let query = async {
            match &self.backend {
                Backend::Postgres(pool) => sqlx::query("select 1").execute(pool).await.map(drop),
                Backend::Sqlite(pool) => sqlx::query("select 1").execute(pool).await.map(drop),
            }
        };
        match tokio::time::timeout(self.acquire_timeout, query).await {
            Ok(result) => result.map_err(|e| StoreError::Unavailable(e.to_string())),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.acquire_timeout
            ))),
        }
    }

    /// The 32-byte secret that signs pagination cursors.
    ///
    /// Created on first use (insert-if-absent, so concurrent first calls agree) and the same
    /// for every process sharing the database, so a cursor from one API process is valid on
    /// another.
    #[tracing::instrument(skip_all, err)]
    pub async fn cursor_secret(&self) -> Result<Vec<u8>, StoreError> {
        let fresh = encode_hex(&rand::random::<[u8; 32]>());
        let stored: String = match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query(
                    "insert into settings (key, value) values ($1, $2) on conflict (key) do nothing",
                )
                .bind(CURSOR_SECRET_KEY)
                .bind(&fresh)
                .execute(pool)
                .await?;
                sqlx::query_scalar("select value from settings where key = $1")
                    .bind(CURSOR_SECRET_KEY)
                    .fetch_one(pool)
                    .await?
            }
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "insert into settings (key, value) values (?, ?) on conflict (key) do nothing",
                )
                .bind(CURSOR_SECRET_KEY)
                .bind(&fresh)
                .execute(pool)
                .await?;
                sqlx::query_scalar("select value from settings where key = ?")
                    .bind(CURSOR_SECRET_KEY)
                    .fetch_one(pool)
                    .await?
            }
        };
        match decode_hex(&stored) {
            Some(bytes) if bytes.len() == 32 => Ok(bytes),
            _ => Err(StoreError::Invalid(
                "settings.cursor_secret is not 64 hex digits".to_owned(),
            )),
        }
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(match &self.backend {
            Backend::Postgres(pool) => WriteTx::Postgres(pool.begin().await?),
            Backend::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("begin immediate").await?),
        })
    }
}

fn pool_options<DB: sqlx::Database>(cfg: &StoreConfig) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.acquire_timeout)
}

/// Microseconds since the epoch to a UTC time, refusing values chrono cannot represent.
fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Invalid(format!("timestamp out of range: {us} µs")))
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .map(char::from)
        .collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_hex(&encode_hex(&bytes)), Some(bytes));
    }

    #[test]
    fn hex_refuses_odd_length_and_non_digits() {
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
