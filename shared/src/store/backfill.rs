//! Date corrections: the reads and the one write behind `mediawarm-worker backfill`, which
//! re-extracts a source's stored pages and corrects the `published_at` they were stored with.
//!
//! Guarantees:
//! - [`Store::article_dates_after`] pages a source's articles by ascending id (keyset, no
//!   `OFFSET`), so a caller walks any number of rows holding one page in memory.
//! - [`Store::correct_published_dates`] is the only write that moves `sort_at`: it sets
//!   `published_at` and `sort_at` to the corrected date (and the content hash and
//!   `updated_at` to match), one transaction per call. It never touches `first_seen_at`,
//!   title, author, summary or source, and it skips a row whose `published_at` is no longer
//!   the one the caller read (a scrape changed it in between), so a concurrent write is never
//!   overwritten with a date computed from older data.
//! - A keyset cursor handed out before a correction may skip or repeat an article whose
//!   `sort_at` moved, since pages are cut at `(sort_at, id)`; rows that did not move are
//!   still seen exactly once.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};

use super::articles::content_hash;
use super::{Backend, Store, WriteTx, from_micros};
use crate::domain::{NewArticle, SourceName};
use crate::error::StoreError;

/// One stored article's address and date, as the backfill reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDate {
    /// The article's id (the paging key).
    pub id: i64,
    /// Its canonical URL: the page to fetch again.
    pub url: String,
    /// The date it is stored with.
    pub published_at: Option<DateTime<Utc>>,
}

/// A corrected date for one article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateCorrection {
    /// The article's id.
    pub id: i64,
    /// The `published_at` the caller read; the row is left alone if it changed since.
    pub was: Option<DateTime<Utc>>,
    /// The corrected date; it becomes `published_at` and `sort_at`.
    pub published_at: DateTime<Utc>,
}

impl Store {
    /// Up to `limit` articles of `source` with an id above `after_id`, by ascending id.
    #[tracing::instrument(skip_all, fields(source = source.as_str(), after_id, limit), err)]
    pub async fn article_dates_after(
        &self,
        source: &SourceName,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredDate>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let rows = sqlx::query(
                    "select id, url, published_at from articles \
                     where source = $1 and id > $2 order by id limit $3",
                )
                .bind(source.as_str())
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(StoredDate {
                            id: row.try_get("id")?,
                            url: row.try_get("url")?,
                            published_at: row.try_get("published_at")?,
                        })
                    })
                    .collect()
            }
            Backend::Sqlite(pool) => {
                let rows = sqlx::query(
                    "select id, url, published_at from articles \
                     where source = ? and id > ? order by id limit ?",
                )
                .bind(source.as_str())
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let published: Option<i64> = row.try_get("published_at")?;
                        Ok(StoredDate {
                            id: row.try_get("id")?,
                            url: row.try_get("url")?,
                            published_at: published.map(from_micros).transpose()?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Applies `corrections` in one transaction and returns how many rows it changed: each
    /// row whose `published_at` is still `was` gets `published_at` and `sort_at` set to the
    /// corrected date, its content hash recomputed and `updated_at` set to `now`. Rows that
    /// are gone, already carry the corrected date, or changed since they were read are left
    /// alone and not counted. `first_seen_at` is never written.
    #[tracing::instrument(skip_all, fields(rows = corrections.len()), err)]
    pub async fn correct_published_dates(
        &self,
        corrections: &[DateCorrection],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if corrections.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut changed = 0;
        for fix in corrections {
            let Some(current) = current_content(&mut tx, fix.id).await? else {
                continue;
            };
            if current.published_at != fix.was || current.published_at == Some(fix.published_at) {
                continue;
            }
            let corrected = NewArticle {
                published_at: Some(fix.published_at),
                ..current
            };
            let hash = content_hash(&corrected);
            match &mut tx {
                WriteTx::Postgres(tx) => {
                    sqlx::query(
                        "update articles set published_at = $1, sort_at = $1, \
                         content_hash = $2, updated_at = $3 where id = $4",
                    )
                    .bind(fix.published_at)
                    .bind(hash)
                    .bind(now)
                    .bind(fix.id)
                    .execute(&mut **tx)
                    .await?;
                }
                WriteTx::Sqlite(tx) => {
                    let published_us = fix.published_at.timestamp_micros();
                    sqlx::query(
                        "update articles set published_at = ?1, sort_at = ?1, \
                         content_hash = ?2, updated_at = ?3 where id = ?4",
                    )
                    .bind(published_us)
                    .bind(hash)
                    .bind(now.timestamp_micros())
                    .bind(fix.id)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            changed += 1;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// The hashed content of article `id` inside `tx` (locked until commit on PostgreSQL), or
/// `None` if it is gone.
async fn current_content(tx: &mut WriteTx, id: i64) -> Result<Option<NewArticle>, StoreError> {
    const COLUMNS: &str = "select source, url, title, author, published_at, summary \
                           from articles where id = ";
    match tx {
        WriteTx::Postgres(tx) => {
            let mut qb = QueryBuilder::<Postgres>::new(COLUMNS);
            qb.push_bind(id).push(" for update");
            let Some(row) = qb.build().fetch_optional(&mut **tx).await? else {
                return Ok(None);
            };
            Ok(Some(NewArticle {
                source: source_name(row.try_get("source")?)?,
                url: row.try_get("url")?,
                title: row.try_get("title")?,
                author: row.try_get("author")?,
                published_at: row.try_get("published_at")?,
                summary: row.try_get("summary")?,
            }))
        }
        WriteTx::Sqlite(tx) => {
            let mut qb = QueryBuilder::<Sqlite>::new(COLUMNS);
            qb.push_bind(id);
            let Some(row) = qb.build().fetch_optional(&mut **tx).await? else {
                return Ok(None);
            };
            let published: Option<i64> = row.try_get("published_at")?;
            Ok(Some(NewArticle {
                source: source_name(row.try_get("source")?)?,
                url: row.try_get("url")?,
                title: row.try_get("title")?,
                author: row.try_get("author")?,
                published_at: published.map(from_micros).transpose()?,
                summary: row.try_get("summary")?,
            }))
        }
    }
}

fn source_name(raw: String) -> Result<SourceName, StoreError> {
    SourceName::parse(&raw)
        .map_err(|e| StoreError::Invalid(format!("stored source name {raw:?}: {e}")))
}
