//! Article reads (keyset and offset pages, by id) and upserts by canonical URL.
//!
//! Every page is newest first, `ORDER BY sort_at DESC, id DESC`, served from the
//! `(sort_at desc, id desc)` index or its per-source twin. Upserts write only rows whose content
//! hash changed, never touch `sort_at` or `first_seen_at` after the first insert (only the
//! date corrections of `backfill.rs` move `sort_at`), and run in chunks of [`CHUNK_ROWS`] rows
//! inside the caller's transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};
use xxhash_rust::xxh3::Xxh3;

use super::{Backend, Store, WriteTx, from_micros};
use crate::domain::{Article, NewArticle, SortKey, SourceName};
use crate::error::StoreError;

/// Rows per upsert statement: 10 bound values a row keeps SQLite well under its 32,766
/// parameter limit, and PostgreSQL's `UNNEST` arrays stay a few hundred kilobytes.
pub(super) const CHUNK_ROWS: usize = 1000;

/// URLs per lookup statement in [`Store::known_urls`]: one bound value each, far below
/// SQLite's parameter limit, and small enough arrays for PostgreSQL.
const LOOKUP_CHUNK: usize = 500;

const PG_SELECT: &str =
    "select id, source, url, title, author, published_at, summary, sort_at from articles";
const SQLITE_SELECT: &str =
    "select id, source, url, title, author, published_at, summary, sort_at from articles";

/// What an upsert did, counted per distinct URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// URLs that were not stored before.
    pub new: u64,
    /// Stored URLs whose title, author, date or summary changed.
    pub updated: u64,
    /// Stored URLs whose content was identical (no write; `updated_at` untouched).
    pub unchanged: u64,
}

impl UpsertOutcome {
    /// Whether anything was written (so derived caches must be invalidated).
    pub fn changed(&self) -> bool {
        self.new + self.updated > 0
    }

    pub(super) fn add(&mut self, other: UpsertOutcome) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

impl Store {
    /// Up to `limit` articles strictly after `after` (or from the newest), newest first,
    /// optionally of one source. Keyset pagination: no `OFFSET`, served by the index.
    #[tracing::instrument(skip_all, fields(source = source.map(SourceName::as_str), limit), err)]
    pub async fn latest_after(
        &self,
        source: Option<&SourceName>,
        after: Option<SortKey>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb = latest_after_pg("", source, after, limit)?;
                let rows = qb
                    .build()
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?;
                rows.iter().map(pg_article).collect()
            }
            Backend::Sqlite(pool) => {
                let mut qb = latest_after_sqlite("", source, after, limit);
                let rows = self.sqlite_read(qb.build().fetch_all(pool)).await?;
                rows.iter().map(sqlite_article).collect()
            }
        }
    }

    /// The database's plan for [`Store::latest_after`] with these arguments, one line per
    /// plan node (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` details on SQLite). For tests
    /// and diagnostics that the keyset index is used.
    #[doc(hidden)]
    pub async fn explain_latest_after(
        &self,
        source: Option<&SourceName>,
        after: Option<SortKey>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb = latest_after_pg("explain ", source, after, limit)?;
                Ok(qb.build_query_scalar().fetch_all(pool).await?)
            }
            Backend::Sqlite(pool) => {
                let mut qb = latest_after_sqlite("explain query plan ", source, after, limit);
                let rows = qb.build().fetch_all(pool).await?;
                rows.iter()
                    .map(|row| Ok(row.try_get::<String, _>("detail")?))
                    .collect()
            }
        }
    }

    /// Up to `limit` articles after skipping `offset`, newest first, optionally of one
    /// source. Kept for compatibility; deep offsets cost a scan of the skipped rows.
    #[tracing::instrument(skip_all, fields(source = source.map(SourceName::as_str), offset, limit), err)]
    pub async fn latest_offset(
        &self,
        source: Option<&SourceName>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        let offset = i64::try_from(offset)
            .map_err(|_| StoreError::Invalid(format!("offset {offset} is too large")))?;
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb = QueryBuilder::<Postgres>::new(PG_SELECT);
                if let Some(source) = source {
                    qb.push(" where source = ")
                        .push_bind(source.as_str().to_owned());
                }
                qb.push(" order by sort_at desc, id desc limit ")
                    .push_bind(i64::from(limit))
                    .push(" offset ")
                    .push_bind(offset);
                let rows = qb
                    .build()
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?;
                rows.iter().map(pg_article).collect()
            }
            Backend::Sqlite(pool) => {
                let mut qb = QueryBuilder::<Sqlite>::new(SQLITE_SELECT);
                if let Some(source) = source {
                    qb.push(" where source = ")
                        .push_bind(source.as_str().to_owned());
                }
                qb.push(" order by sort_at desc, id desc limit ")
                    .push_bind(i64::from(limit))
                    .push(" offset ")
                    .push_bind(offset);
                let rows = self.sqlite_read(qb.build().fetch_all(pool)).await?;
                rows.iter().map(sqlite_article).collect()
            }
        }
    }

    /// One article by id.
    #[tracing::instrument(skip_all, fields(id), err)]
    pub async fn article(&self, id: i64) -> Result<Option<Article>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb = QueryBuilder::<Postgres>::new(PG_SELECT);
                qb.push(" where id = ").push_bind(id);
                let row = qb
                    .build()
                    .fetch_optional(&mut *self.pg_read(pool).await?)
                    .await?;
                row.as_ref().map(pg_article).transpose()
            }
            Backend::Sqlite(pool) => {
                let mut qb = QueryBuilder::<Sqlite>::new(SQLITE_SELECT);
                qb.push(" where id = ").push_bind(id);
                let row = self.sqlite_read(qb.build().fetch_optional(pool)).await?;
                row.as_ref().map(sqlite_article).transpose()
            }
        }
    }

    /// Which of `urls` are already stored (as canonical URLs, compared exactly), looked up in
    /// batches of a few hundred. The scraper uses it to skip pages it has seen.
    #[tracing::instrument(skip_all, fields(urls = urls.len()), err)]
    pub async fn known_urls(&self, urls: &[String]) -> Result<HashSet<String>, StoreError> {
        let mut known = HashSet::new();
        for chunk in urls.chunks(LOOKUP_CHUNK) {
            let found: Vec<String> = match &self.backend {
                Backend::Postgres(pool) => {
                    sqlx::query_scalar("select url from articles where url = any($1)")
                        .bind(chunk)
                        .fetch_all(pool)
                        .await?
                }
                Backend::Sqlite(pool) => {
                    let mut qb =
                        QueryBuilder::<Sqlite>::new("select url from articles where url in (");
                    let mut list = qb.separated(", ");
                    for url in chunk {
                        list.push_bind(url.clone());
                    }
                    qb.push(")");
                    qb.build_query_scalar().fetch_all(pool).await?
                }
            };
            known.extend(found);
        }
        Ok(known)
    }

    /// Inserts new URLs and updates changed ones, in one transaction.
    ///
    /// Every article's source must exist (and not be deleted), else nothing is written and
    /// the answer is [`StoreError::Conflict`] naming the source. A URL repeated within the
    /// batch counts once, with its last occurrence winning. `now` becomes `first_seen_at`
    /// (and `sort_at` when there is no `published_at`) of new rows and `updated_at` of
    /// changed ones. An existing row keeps its source, `sort_at` and `first_seen_at`.
    #[tracing::instrument(skip_all, fields(rows = batch.len()), err)]
    pub async fn upsert_articles(
        &self,
        batch: &[NewArticle],
        now: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StoreError> {
        let rows = dedupe_by_url(batch);
        if rows.is_empty() {
            return Ok(UpsertOutcome::default());
        }
        let mut tx = self.begin_write().await?;
        let names: BTreeSet<&str> = rows.iter().map(|a| a.source.as_str()).collect();
        require_live_sources(&mut tx, &names).await?;
        let outcome = upsert_in_tx(&mut tx, &rows, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// The keyset page query on PostgreSQL: a row comparison the index can seek to.
fn latest_after_pg(
    prefix: &'static str,
    source: Option<&SourceName>,
    after: Option<SortKey>,
    limit: u32,
) -> Result<QueryBuilder<Postgres>, StoreError> {
    let mut qb = QueryBuilder::<Postgres>::new(prefix);
    qb.push(PG_SELECT);
    let mut joiner = " where ";
    if let Some(source) = source {
        qb.push(joiner)
            .push("source = ")
            .push_bind(source.as_str().to_owned());
        joiner = " and ";
    }
    if let Some(key) = after {
        qb.push(joiner)
            .push("(sort_at, id) < (")
            .push_bind(from_micros(key.sort_at_us)?)
            .push(", ")
            .push_bind(key.id)
            .push(")");
    }
    qb.push(" order by sort_at desc, id desc limit ")
        .push_bind(i64::from(limit));
    Ok(qb)
}

/// The keyset page query on SQLite, in the OR form its planner turns into an index range.
fn latest_after_sqlite(
    prefix: &'static str,
    source: Option<&SourceName>,
    after: Option<SortKey>,
    limit: u32,
) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(prefix);
    qb.push(SQLITE_SELECT);
    let mut joiner = " where ";
    if let Some(source) = source {
        qb.push(joiner)
            .push("source = ")
            .push_bind(source.as_str().to_owned());
        joiner = " and ";
    }
    if let Some(key) = after {
        qb.push(joiner)
            .push("(sort_at < ")
            .push_bind(key.sort_at_us)
            .push(" or (sort_at = ")
            .push_bind(key.sort_at_us)
            .push(" and id < ")
            .push_bind(key.id)
            .push("))");
    }
    qb.push(" order by sort_at desc, id desc limit ")
        .push_bind(i64::from(limit));
    qb
}

/// The batch with one entry per URL: the last occurrence, at the first occurrence's place.
pub(super) fn dedupe_by_url(batch: &[NewArticle]) -> Vec<&NewArticle> {
    let mut out: Vec<&NewArticle> = Vec::with_capacity(batch.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    for article in batch {
        if let Some(&at) = seen.get(article.url.as_str()) {
            out[at] = article;
        } else {
            seen.insert(article.url.as_str(), out.len());
            out.push(article);
        }
    }
    out
}

/// Fails with `Conflict` naming the first of `names` that is not a live source.
pub(super) async fn require_live_sources(
    tx: &mut WriteTx,
    names: &BTreeSet<&str>,
) -> Result<(), StoreError> {
    let wanted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let live: Vec<String> = match tx {
        WriteTx::Postgres(tx) => {
            sqlx::query_scalar(
                "select name from sources where deleted_at is null and name = any($1)",
            )
            .bind(&wanted)
            .fetch_all(&mut **tx)
            .await?
        }
        WriteTx::Sqlite(tx) => {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "select name from sources where deleted_at is null and name in (",
            );
            let mut list = qb.separated(", ");
            for name in &wanted {
                list.push_bind(name.clone());
            }
            qb.push(")");
            qb.build_query_scalar().fetch_all(&mut **tx).await?
        }
    };
    let live: BTreeSet<&str> = live.iter().map(String::as_str).collect();
    match names.iter().find(|n| !live.contains(*n)) {
        Some(missing) => Err(StoreError::Conflict(format!(
            "unknown source {missing:?}: create it before storing its articles"
        ))),
        None => Ok(()),
    }
}

/// Upserts distinct-URL `rows` in chunks inside `tx`; sources must already be checked.
pub(super) async fn upsert_in_tx(
    tx: &mut WriteTx,
    rows: &[&NewArticle],
    now: DateTime<Utc>,
) -> Result<UpsertOutcome, StoreError> {
    let mut total = UpsertOutcome::default();
    for chunk in rows.chunks(CHUNK_ROWS) {
        let outcome = match tx {
            WriteTx::Postgres(tx) => upsert_chunk_pg(tx, chunk, now).await?,
            WriteTx::Sqlite(tx) => upsert_chunk_sqlite(tx, chunk, now).await?,
        };
        total.add(outcome);
    }
    Ok(total)
}

async fn upsert_chunk_pg(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    chunk: &[&NewArticle],
    now: DateTime<Utc>,
) -> Result<UpsertOutcome, StoreError> {
    let sources: Vec<&str> = chunk.iter().map(|a| a.source.as_str()).collect();
    let urls: Vec<&str> = chunk.iter().map(|a| a.url.as_str()).collect();
    let titles: Vec<&str> = chunk.iter().map(|a| a.title.as_str()).collect();
    let authors: Vec<Option<&str>> = chunk.iter().map(|a| a.author.as_deref()).collect();
    let published: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|a| a.published_at).collect();
    let summaries: Vec<Option<&str>> = chunk.iter().map(|a| a.summary.as_deref()).collect();
    let hashes: Vec<i64> = chunk.iter().map(|a| content_hash(a)).collect();
    let inserted: Vec<bool> = sqlx::query_scalar(
        "insert into articles \
           (source, url, title, author, published_at, summary, content_hash, \
            first_seen_at, updated_at, sort_at) \
         select s, u, t, a, p, m, h, $8, $8, coalesce(p, $8) \
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], \
                     $6::text[], $7::bigint[]) as x (s, u, t, a, p, m, h) \
         on conflict (url) do update set \
           title = excluded.title, author = excluded.author, \
           published_at = excluded.published_at, summary = excluded.summary, \
           content_hash = excluded.content_hash, updated_at = excluded.updated_at \
         where articles.content_hash <> excluded.content_hash \
         returning (xmax = 0)",
    )
    .bind(&sources)
    .bind(&urls)
    .bind(&titles)
    .bind(&authors)
    .bind(&published)
    .bind(&summaries)
    .bind(&hashes)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    Ok(count_outcome(chunk.len(), inserted.into_iter()))
}

async fn upsert_chunk_sqlite(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    chunk: &[&NewArticle],
    now: DateTime<Utc>,
) -> Result<UpsertOutcome, StoreError> {
    let max_id_before: i64 = sqlx::query_scalar("select coalesce(max(id), 0) from articles")
        .fetch_one(&mut **tx)
        .await?;
    let now_us = now.timestamp_micros();
    let mut qb = QueryBuilder::<Sqlite>::new(
        "insert into articles \
           (source, url, title, author, published_at, summary, content_hash, \
            first_seen_at, updated_at, sort_at) ",
    );
    qb.push_values(chunk, |mut row, a| {
        let published_us = a.published_at.map(|p| p.timestamp_micros());
        row.push_bind(a.source.as_str().to_owned())
            .push_bind(a.url.clone())
            .push_bind(a.title.clone())
            .push_bind(a.author.clone())
            .push_bind(published_us)
            .push_bind(a.summary.clone())
            .push_bind(content_hash(a))
            .push_bind(now_us)
            .push_bind(now_us)
            .push_bind(published_us.unwrap_or(now_us));
    });
    qb.push(
        " on conflict (url) do update set \
           title = excluded.title, author = excluded.author, \
           published_at = excluded.published_at, summary = excluded.summary, \
           content_hash = excluded.content_hash, updated_at = excluded.updated_at \
         where articles.content_hash <> excluded.content_hash \
         returning id",
    );
    let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut **tx).await?;
    Ok(count_outcome(
        chunk.len(),
        ids.into_iter().map(|id| id > max_id_before),
    ))
}

/// Counts one chunk: each written row reports whether it was inserted; rows not reported
/// were unchanged.
fn count_outcome(rows: usize, written: impl Iterator<Item = bool>) -> UpsertOutcome {
    let mut outcome = UpsertOutcome::default();
    for inserted in written {
        if inserted {
            outcome.new += 1;
        } else {
            outcome.updated += 1;
        }
    }
    outcome.unchanged = (rows as u64).saturating_sub(outcome.new + outcome.updated);
    outcome
}

/// The hash that decides "unchanged": xxh3 over title, author, published_at and summary,
/// each length-prefixed (and absent values marked) so no two contents collide by framing.
pub(super) fn content_hash(article: &NewArticle) -> i64 {
    fn field(hasher: &mut Xxh3, value: Option<&[u8]>) {
        match value {
            Some(bytes) => {
                hasher.update(&[1]);
                hasher.update(&(bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
            None => hasher.update(&[0]),
        }
    }
    let mut hasher = Xxh3::new();
    let published = article
        .published_at
        .map(|p| p.timestamp_micros().to_le_bytes());
    field(&mut hasher, Some(article.title.as_bytes()));
    field(&mut hasher, article.author.as_deref().map(str::as_bytes));
    field(&mut hasher, published.as_ref().map(|b| b.as_slice()));
    field(&mut hasher, article.summary.as_deref().map(str::as_bytes));
    i64::from_le_bytes(hasher.digest().to_le_bytes())
}

fn pg_article(row: &PgRow) -> Result<Article, StoreError> {
    let sort_at: DateTime<Utc> = row.try_get("sort_at")?;
    Ok(Article {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        author: row.try_get("author")?,
        published_at: row.try_get("published_at")?,
        summary: row.try_get("summary")?,
        sort_at_us: sort_at.timestamp_micros(),
    })
}

fn sqlite_article(row: &SqliteRow) -> Result<Article, StoreError> {
    let published_us: Option<i64> = row.try_get("published_at")?;
    Ok(Article {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        author: row.try_get("author")?,
        published_at: published_us.map(from_micros).transpose()?,
        summary: row.try_get("summary")?,
        sort_at_us: row.try_get("sort_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(url: &str, title: &str) -> NewArticle {
        NewArticle {
            source: SourceName::parse("gazette").expect("valid name"),
            url: url.to_owned(),
            title: title.to_owned(),
            author: None,
            published_at: None,
            summary: None,
        }
    }

    #[test]
    fn dedupe_keeps_the_last_occurrence_at_the_first_place() {
        let batch = [article("a", "1"), article("b", "2"), article("a", "3")];
        let rows = dedupe_by_url(&batch);
        let seen: Vec<(&str, &str)> = rows
            .iter()
            .map(|a| (a.url.as_str(), a.title.as_str()))
            .collect();
        assert_eq!(seen, [("a", "3"), ("b", "2")]);
    }

    #[test]
    fn content_hash_ignores_url_and_source_but_not_content_framing() {
        let a = article("a", "ab");
        let mut b = article("b", "ab");
        assert_eq!(content_hash(&a), content_hash(&b));
        b.title = "a".to_owned();
        b.author = Some("b".to_owned());
        assert_ne!(content_hash(&a), content_hash(&b));
        let mut c = article("c", "ab");
        c.summary = Some(String::new());
        assert_ne!(content_hash(&a), content_hash(&c));
    }
}
