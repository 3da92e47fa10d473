//! Source definitions: create, read, update, delete, and a cheap change fingerprint.
//!
//! Deleting a source keeps its row as a tombstone (`deleted_at` set, disabled): its articles
//! keep a valid foreign key and stay readable, while every source read here ignores the row.
//! `purge` also deletes the articles. Creating a tombstoned name again revives the row with
//! the new definition. Every write moves `updated_at` strictly past the table's current
//! maximum, so [`Store::sources_version`] changes on every write even across clock skew.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Row, Sqlite, Transaction};

use super::{Backend, Store, WriteTx};
use crate::domain::{Selectors, Source, SourceKind, SourceName};
use crate::error::StoreError;

/// A fingerprint of the `sources` table (tombstones included): equal values mean nothing
/// changed. Cheap enough for schedulers to poll every second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourcesVersion {
    /// Rows in the table, tombstones included.
    pub rows: i64,
    /// The latest `updated_at`, in microseconds since the epoch (0 when empty).
    pub last_change_us: i64,
}

const PG_COLUMNS: &str = "select name, kind, url, selectors::text as selectors, schedule, \
     rate_limit_per_sec, enabled from sources";
const SQLITE_COLUMNS: &str =
    "select name, kind, url, selectors, schedule, rate_limit_per_sec, enabled from sources";

/// The insert-or-revive statement: inserts a new source, or revives a tombstone; a live row
/// of that name is left alone and no row is returned.
const PG_INSERT_OR_REVIVE: &str = "insert into sources \
       (name, kind, url, selectors, schedule, rate_limit_per_sec, enabled, created_at, updated_at) \
     values ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, \
       greatest($8, (select max(updated_at) + interval '1 microsecond' from sources))) \
     on conflict (name) do update set \
       kind = excluded.kind, url = excluded.url, selectors = excluded.selectors, \
       schedule = excluded.schedule, rate_limit_per_sec = excluded.rate_limit_per_sec, \
       enabled = excluded.enabled, created_at = excluded.created_at, \
       updated_at = excluded.updated_at, deleted_at = null \
     where sources.deleted_at is not null \
     returning name";
const SQLITE_INSERT_OR_REVIVE: &str = "insert into sources \
       (name, kind, url, selectors, schedule, rate_limit_per_sec, enabled, created_at, updated_at) \
     values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
       max(?8, (select coalesce(max(updated_at), 0) + 1 from sources))) \
     on conflict (name) do update set \
       kind = excluded.kind, url = excluded.url, selectors = excluded.selectors, \
       schedule = excluded.schedule, rate_limit_per_sec = excluded.rate_limit_per_sec, \
       enabled = excluded.enabled, created_at = excluded.created_at, \
       updated_at = excluded.updated_at, deleted_at = null \
     where sources.deleted_at is not null \
     returning name";

impl Store {
    /// Makes sure each name is a live source, creating missing ones as `import` sources
    /// (kind `import`, no URL, never scheduled). Existing sources are left as they are.
    #[tracing::instrument(skip_all, fields(names = names.len()), err)]
    pub async fn ensure_import_sources(&self, names: &[SourceName]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let names: BTreeSet<&SourceName> = names.iter().collect();
        ensure_import_sources_in(&mut tx, names, Utc::now()).await?;
        tx.commit().await
    }

    /// Every live source, ordered by name.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_sources(&self) -> Result<Vec<Source>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let sql = format!("{PG_COLUMNS} where deleted_at is null order by name");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?;
                rows.iter().map(pg_source).collect()
            }
            Backend::Sqlite(pool) => {
                let sql = format!("{SQLITE_COLUMNS} where deleted_at is null order by name");
                let rows = self
                    .sqlite_read(sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool))
                    .await?;
                rows.iter().map(sqlite_source).collect()
            }
        }
    }

    /// One live source by name.
    #[tracing::instrument(skip_all, fields(source = %name), err)]
    pub async fn get_source(&self, name: &SourceName) -> Result<Option<Source>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let sql = format!("{PG_COLUMNS} where deleted_at is null and name = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(name.as_str())
                    .fetch_optional(&mut *self.pg_read(pool).await?)
                    .await?;
                row.as_ref().map(pg_source).transpose()
            }
            Backend::Sqlite(pool) => {
                let sql = format!("{SQLITE_COLUMNS} where deleted_at is null and name = ?");
                let row = self
                    .sqlite_read(
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(name.as_str())
                            .fetch_optional(pool),
                    )
                    .await?;
                row.as_ref().map(sqlite_source).transpose()
            }
        }
    }

    /// Whether a live source of this name exists.
    #[tracing::instrument(skip_all, fields(source = %name), err)]
    pub async fn source_exists(&self, name: &SourceName) -> Result<bool, StoreError> {
        let found: Option<i32> = match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query_scalar("select 1 from sources where name = $1 and deleted_at is null")
                    .bind(name.as_str())
                    .fetch_optional(&mut *self.pg_read(pool).await?)
                    .await?
            }
            Backend::Sqlite(pool) => {
                self.sqlite_read(
                    sqlx::query_scalar(
                        "select 1 from sources where name = ? and deleted_at is null",
                    )
                    .bind(name.as_str())
                    .fetch_optional(pool),
                )
                .await?
            }
        };
        Ok(found.is_some())
    }

    /// Creates a source; [`StoreError::Conflict`] if a live one of that name exists.
    /// A deleted source of that name is revived with this definition (and its kept articles).
    #[tracing::instrument(skip_all, fields(source = %source.name), err)]
    pub async fn insert_source(&self, source: &Source) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let created = insert_or_revive(&mut tx, source, Utc::now()).await?;
        if !created {
            return Err(StoreError::Conflict(format!(
                "source {:?} already exists",
                source.name.as_str()
            )));
        }
        tx.commit().await
    }

    /// Replaces a live source's definition; `false` if there is none of that name.
    #[tracing::instrument(skip_all, fields(source = %source.name), err)]
    pub async fn update_source(&self, source: &Source) -> Result<bool, StoreError> {
        let selectors = selectors_json(source.selectors.as_ref())?;
        let now = Utc::now();
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update sources set kind = $2, url = $3, selectors = $4::jsonb, schedule = $5, \
                   rate_limit_per_sec = $6, enabled = $7, \
                   updated_at = greatest($8, (select max(updated_at) + interval '1 microsecond' \
                                              from sources)) \
                 where name = $1 and deleted_at is null",
            )
            .bind(source.name.as_str())
            .bind(source.kind.as_str())
            .bind(&source.url)
            .bind(selectors)
            .bind(source.schedule.as_deref())
            .bind(source.rate_limit_per_sec)
            .bind(source.enabled)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update sources set kind = ?2, url = ?3, selectors = ?4, schedule = ?5, \
                   rate_limit_per_sec = ?6, enabled = ?7, \
                   updated_at = max(?8, (select coalesce(max(updated_at), 0) + 1 from sources)) \
                 where name = ?1 and deleted_at is null",
            )
            .bind(source.name.as_str())
            .bind(source.kind.as_str())
            .bind(&source.url)
            .bind(selectors)
            .bind(source.schedule.as_deref())
            .bind(source.rate_limit_per_sec)
            .bind(source.enabled)
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected > 0)
    }

    /// Deletes a live source (its schedule stops); `false` if there is none of that name.
    ///
    /// Without `purge` its articles stay (the row remains as a tombstone for their foreign
    /// key); with `purge` they are deleted in the same transaction.
    #[tracing::instrument(skip_all, fields(source = %name, purge), err)]
    pub async fn delete_source(&self, name: &SourceName, purge: bool) -> Result<bool, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let affected = match &mut tx {
            WriteTx::Postgres(tx) => {
                let affected = sqlx::query(
                    "update sources set deleted_at = $2, enabled = false, \
                       updated_at = greatest($2, (select max(updated_at) + interval '1 microsecond' \
                                                  from sources)) \
                     where name = $1 and deleted_at is null",
                )
                .bind(name.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if affected > 0 && purge {
                    sqlx::query("delete from articles where source = $1")
                        .bind(name.as_str())
                        .execute(&mut **tx)
                        .await?;
                }
                affected
            }
            WriteTx::Sqlite(tx) => {
                let affected = sqlx::query(
                    "update sources set deleted_at = ?2, enabled = 0, \
                       updated_at = max(?2, (select coalesce(max(updated_at), 0) + 1 from sources)) \
                     where name = ?1 and deleted_at is null",
                )
                .bind(name.as_str())
                .bind(now.timestamp_micros())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if affected > 0 && purge {
                    sqlx::query("delete from articles where source = ?")
                        .bind(name.as_str())
                        .execute(&mut **tx)
                        .await?;
                }
                affected
            }
        };
        tx.commit().await?;
        Ok(affected > 0)
    }

    /// The current [`SourcesVersion`]: one aggregate over the small `sources` table.
    #[tracing::instrument(skip_all, err)]
    pub async fn sources_version(&self) -> Result<SourcesVersion, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let (rows, last): (i64, Option<DateTime<Utc>>) =
                    sqlx::query_as("select count(*), max(updated_at) from sources")
                        .fetch_one(pool)
                        .await?;
                Ok(SourcesVersion {
                    rows,
                    last_change_us: last.map_or(0, |t| t.timestamp_micros()),
                })
            }
            Backend::Sqlite(pool) => {
                let (rows, last): (i64, Option<i64>) =
                    sqlx::query_as("select count(*), max(updated_at) from sources")
                        .fetch_one(pool)
                        .await?;
                Ok(SourcesVersion {
                    rows,
                    last_change_us: last.unwrap_or(0),
                })
            }
        }
    }
}

/// Creates (or revives) an `import` source for each name that is not live; returns how many.
pub(super) async fn ensure_import_sources_in<'a>(
    tx: &mut WriteTx,
    names: impl IntoIterator<Item = &'a SourceName>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut created = 0;
    for name in names {
        if insert_or_revive(tx, &Source::import(name.clone()), now).await? {
            created += 1;
        }
    }
    Ok(created)
}

/// Inserts `source` or revives its tombstone; `false` when a live row already exists.
async fn insert_or_revive(
    tx: &mut WriteTx,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let selectors = selectors_json(source.selectors.as_ref())?;
    let row: Option<String> = match tx {
        WriteTx::Postgres(tx) => bind_source_pg(tx, source, selectors, now).await?,
        WriteTx::Sqlite(tx) => bind_source_sqlite(tx, source, selectors, now).await?,
    };
    Ok(row.is_some())
}

async fn bind_source_pg(
    tx: &mut Transaction<'static, Postgres>,
    source: &Source,
    selectors: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(PG_INSERT_OR_REVIVE)
        .bind(source.name.as_str())
        .bind(source.kind.as_str())
        .bind(&source.url)
        .bind(selectors)
        .bind(source.schedule.as_deref())
        .bind(source.rate_limit_per_sec)
        .bind(source.enabled)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?)
}

async fn bind_source_sqlite(
    tx: &mut Transaction<'static, Sqlite>,
    source: &Source,
    selectors: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(SQLITE_INSERT_OR_REVIVE)
        .bind(source.name.as_str())
        .bind(source.kind.as_str())
        .bind(&source.url)
        .bind(selectors)
        .bind(source.schedule.as_deref())
        .bind(source.rate_limit_per_sec)
        .bind(source.enabled)
        .bind(now.timestamp_micros())
        .fetch_optional(&mut **tx)
        .await?)
}

fn selectors_json(selectors: Option<&Selectors>) -> Result<Option<String>, StoreError> {
    selectors
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("selectors: {e}")))
}

fn parse_source(
    name: String,
    kind: String,
    url: String,
    selectors: Option<String>,
    schedule: Option<String>,
    rate_limit_per_sec: f64,
    enabled: bool,
) -> Result<Source, StoreError> {
    let invalid = |e: &dyn std::fmt::Display| StoreError::Invalid(format!("source {name:?}: {e}"));
    Ok(Source {
        name: SourceName::parse(&name).map_err(|e| invalid(&e))?,
        kind: kind.parse::<SourceKind>().map_err(|e| invalid(&e))?,
        url,
        selectors: selectors
            .as_deref()
            .map(serde_json::from_str::<Selectors>)
            .transpose()
            .map_err(|e| invalid(&e))?,
        schedule,
        rate_limit_per_sec,
        enabled,
    })
}

fn pg_source(row: &PgRow) -> Result<Source, StoreError> {
    parse_source(
        row.try_get("name")?,
        row.try_get("kind")?,
        row.try_get("url")?,
        row.try_get("selectors")?,
        row.try_get("schedule")?,
        row.try_get("rate_limit_per_sec")?,
        row.try_get("enabled")?,
    )
}

fn sqlite_source(row: &SqliteRow) -> Result<Source, StoreError> {
    parse_source(
        row.try_get("name")?,
        row.try_get("kind")?,
        row.try_get("url")?,
        row.try_get("selectors")?,
        row.try_get("schedule")?,
        row.try_get("rate_limit_per_sec")?,
        row.try_get("enabled")?,
    )
}
