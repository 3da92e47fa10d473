//! The fetch cache: per-URL validators (`ETag`, `Last-Modified`) for conditional requests,
//! and how fresh the scraper's copy of a stored article is.
//!
//! Guarantees: a save is one transaction and replaces each URL's row whole (validators that a
//! later response no longer sends are forgotten); lookups are batched like
//! [`Store::known_urls`]; a row whose `article_urls` is not a JSON array of strings reads as
//! having none, so a corrupt row costs a full fetch, never an error.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Backend, Store, WriteTx, from_micros};
use crate::error::StoreError;

/// URLs per lookup statement (one bound value each).
const LOOKUP_CHUNK: usize = 500;

/// Rows per save statement (five bound values each; well under SQLite's parameter limit).
const SAVE_CHUNK: usize = 500;

/// What the scraper remembers about one fetched URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRecord {
    /// The URL as requested (normalised by the scraper).
    pub url: String,
    /// The response's `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The response's `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the response arrived.
    pub fetched_at: DateTime<Utc>,
    /// For a source's start URL: the article URLs of the run that stored these validators.
    /// A 304 is trusted only while all of them are stored.
    pub article_urls: Option<Vec<String>>,
}

impl Store {
    /// Deletes the records fetched before `before`; returns how many. A URL whose record is
    /// gone is next fetched unconditionally, nothing else changes.
    #[tracing::instrument(skip_all, err)]
    pub async fn purge_fetch_records(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query("delete from fetch_cache where fetched_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query("delete from fetch_cache where fetched_at < ?1")
                .bind(before.timestamp_micros())
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// The stored records of those of `urls` that have one.
    #[tracing::instrument(skip_all, fields(urls = urls.len()), err)]
    pub async fn fetch_records(
        &self,
        urls: &[String],
    ) -> Result<HashMap<String, FetchRecord>, StoreError> {
        let mut out = HashMap::new();
        for chunk in urls.chunks(LOOKUP_CHUNK) {
            match &self.backend {
                Backend::Postgres(pool) => {
                    let rows = sqlx::query(
                        "select url, etag, last_modified, fetched_at, article_urls \
                         from fetch_cache where url = any($1)",
                    )
                    .bind(chunk)
                    .fetch_all(pool)
                    .await?;
                    for row in rows {
                        let record = FetchRecord {
                            url: row.try_get("url")?,
                            etag: row.try_get("etag")?,
                            last_modified: row.try_get("last_modified")?,
                            fetched_at: row.try_get("fetched_at")?,
                            article_urls: parse_urls(row.try_get("article_urls")?),
                        };
                        out.insert(record.url.clone(), record);
                    }
                }
                Backend::Sqlite(pool) => {
                    let mut qb = QueryBuilder::<Sqlite>::new(
                        "select url, etag, last_modified, fetched_at, article_urls \
                         from fetch_cache where url in (",
                    );
                    let mut list = qb.separated(", ");
                    for url in chunk {
                        list.push_bind(url.clone());
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(pool).await? {
                        let record = FetchRecord {
                            url: row.try_get("url")?,
                            etag: row.try_get("etag")?,
                            last_modified: row.try_get("last_modified")?,
                            fetched_at: from_micros(row.try_get("fetched_at")?)?,
                            article_urls: parse_urls(row.try_get("article_urls")?),
                        };
                        out.insert(record.url.clone(), record);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stores `records`, replacing any earlier row of the same URL, in one transaction.
    #[tracing::instrument(skip_all, fields(rows = records.len()), err)]
    pub async fn save_fetch_records(&self, records: &[FetchRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut latest: HashMap<&str, &FetchRecord> = HashMap::new();
        for record in records {
            latest.insert(record.url.as_str(), record);
        }
        let mut rows: Vec<&FetchRecord> = latest.into_values().collect();
        rows.sort_by(|a, b| a.url.cmp(&b.url));
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(SAVE_CHUNK) {
            match &mut tx {
                WriteTx::Postgres(tx) => {
                    let mut qb = QueryBuilder::new(
                        "insert into fetch_cache (url, etag, last_modified, fetched_at, article_urls) ",
                    );
                    qb.push_values(chunk, |mut row, r| {
                        row.push_bind(r.url.clone())
                            .push_bind(r.etag.clone())
                            .push_bind(r.last_modified.clone())
                            .push_bind(r.fetched_at)
                            .push_bind(encode_urls(r.article_urls.as_deref()));
                    });
                    qb.push(UPSERT_TAIL);
                    qb.build().execute(&mut **tx).await?;
                }
                WriteTx::Sqlite(tx) => {
                    let mut qb = QueryBuilder::new(
                        "insert into fetch_cache (url, etag, last_modified, fetched_at, article_urls) ",
                    );
                    qb.push_values(chunk, |mut row, r| {
                        row.push_bind(r.url.clone())
                            .push_bind(r.etag.clone())
                            .push_bind(r.last_modified.clone())
                            .push_bind(r.fetched_at.timestamp_micros())
                            .push_bind(encode_urls(r.article_urls.as_deref()));
                    });
                    qb.push(UPSERT_TAIL);
                    qb.build().execute(&mut **tx).await?;
                }
            }
        }
        tx.commit().await
    }

    /// Which of `urls` are stored articles, each with the time the scraper's copy dates from:
    /// the later of the article's `updated_at` and its last fetch recorded here. A feed item
    /// updated after that time is fetched again.
    #[tracing::instrument(skip_all, fields(urls = urls.len()), err)]
    pub async fn known_article_times(
        &self,
        urls: &[String],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let mut out = HashMap::new();
        for chunk in urls.chunks(LOOKUP_CHUNK) {
            match &self.backend {
                Backend::Postgres(pool) => {
                    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
                        "select a.url, greatest(a.updated_at, f.fetched_at) \
                         from articles a left join fetch_cache f on f.url = a.url \
                         where a.url = any($1)",
                    )
                    .bind(chunk)
                    .fetch_all(pool)
                    .await?;
                    out.extend(rows);
                }
                Backend::Sqlite(pool) => {
                    let mut qb = QueryBuilder::<Sqlite>::new(
                        "select a.url, max(a.updated_at, coalesce(f.fetched_at, a.updated_at)) \
                         from articles a left join fetch_cache f on f.url = a.url \
                         where a.url in (",
                    );
                    let mut list = qb.separated(", ");
                    for url in chunk {
                        list.push_bind(url.clone());
                    }
                    qb.push(")");
                    let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(pool).await?;
                    for (url, micros) in rows {
                        out.insert(url, from_micros(micros)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

const UPSERT_TAIL: &str = " on conflict (url) do update set etag = excluded.etag, \
     last_modified = excluded.last_modified, fetched_at = excluded.fetched_at, \
     article_urls = excluded.article_urls";

fn encode_urls(urls: Option<&[String]>) -> Option<String> {
    urls.and_then(|u| serde_json::to_string(u).ok())
}

fn parse_urls(raw: Option<String>) -> Option<Vec<String>> {
    raw.and_then(|text| serde_json::from_str(&text).ok())
}
