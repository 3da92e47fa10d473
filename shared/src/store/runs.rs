//! Scrape runs: one row per scrape job, keyed by job id.
//!
//! A retry of a job calls [`Store::start_run`] again with the same id and restarts the same
//! row (status `running`, counts and error cleared), so a job never has two records. Each
//! write names the job's delivery number: a stale delivery (one the job row has fenced off)
//! neither restarts nor finishes a later delivery's run.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Backend, Store, from_micros};
use crate::domain::{ErrorClass, RunCounts, RunStatus, ScrapeRun, SkippedPage, SourceName};
use crate::error::StoreError;

impl Store {
    /// Records that delivery `delivery` of a scrape job started (or restarted, on retry);
    /// `false` (nothing written) when a later delivery already wrote the row.
    #[tracing::instrument(skip_all, fields(job_id, source = %source), err)]
    pub async fn start_run(
        &self,
        job_id: &str,
        delivery: i64,
        source: &SourceName,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "insert into scrape_runs (job_id, source, started_at, status, delivery) \
                 values ($1, $2, $3, 'running', $4) \
                 on conflict (job_id) do update set source = excluded.source, \
                   started_at = excluded.started_at, finished_at = null, status = 'running', \
                   pages_fetched = 0, articles_new = 0, articles_updated = 0, error = null, \
                   error_class = null, skipped_pages = null, delivery = excluded.delivery \
                 where scrape_runs.delivery <= excluded.delivery",
            )
            .bind(job_id)
            .bind(source.as_str())
            .bind(now)
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "insert into scrape_runs (job_id, source, started_at, status, delivery) \
                 values (?1, ?2, ?3, 'running', ?4) \
                 on conflict (job_id) do update set source = excluded.source, \
                   started_at = excluded.started_at, finished_at = null, status = 'running', \
                   pages_fetched = 0, articles_new = 0, articles_updated = 0, error = null, \
                   error_class = null, skipped_pages = null, delivery = excluded.delivery \
                 where scrape_runs.delivery <= excluded.delivery",
            )
            .bind(job_id)
            .bind(source.as_str())
            .bind(now.timestamp_micros())
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Records how delivery `delivery`'s run ended: `error` is a failure's full text (or why
    /// the run was skipped), `class` a failure's class. `false` if no run of that job id and
    /// delivery was started (or a later delivery restarted it).
    #[tracing::instrument(skip_all, fields(job_id, status = %status), err)]
    #[expect(
        clippy::too_many_arguments,
        reason = "the run's key (job, delivery), its outcome's four parts and the time, as the columns it writes"
    )]
    pub async fn finish_run(
        &self,
        job_id: &str,
        delivery: i64,
        status: RunStatus,
        counts: RunCounts,
        error: Option<&str>,
        class: Option<ErrorClass>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update scrape_runs set finished_at = $2, status = $3, pages_fetched = $4, \
                   articles_new = $5, articles_updated = $6, error = $7, error_class = $8 \
                 where job_id = $1 and delivery = $9",
            )
            .bind(job_id)
            .bind(now)
            .bind(status.as_str())
            .bind(counts.pages_fetched)
            .bind(counts.articles_new)
            .bind(counts.articles_updated)
            .bind(error)
            .bind(class.map(ErrorClass::as_str))
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update scrape_runs set finished_at = ?2, status = ?3, pages_fetched = ?4, \
                   articles_new = ?5, articles_updated = ?6, error = ?7, error_class = ?8 \
                 where job_id = ?1 and delivery = ?9",
            )
            .bind(job_id)
            .bind(now.timestamp_micros())
            .bind(status.as_str())
            .bind(counts.pages_fetched)
            .bind(counts.articles_new)
            .bind(counts.articles_updated)
            .bind(error)
            .bind(class.map(ErrorClass::as_str))
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected > 0)
    }

    /// Deletes the runs that finished before `before`, except each source's latest run (so
    /// `last_run` stays); returns how many were deleted. Running ones are kept.
    #[tracing::instrument(skip_all, err)]
    pub async fn purge_runs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        const KEEP_LATEST: &str = "job_id <> (select l.job_id from scrape_runs l \
             where l.source = scrape_runs.source order by l.started_at desc, l.job_id desc limit 1)";
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from scrape_runs where finished_at < $1 and {KEEP_LATEST}"
            )))
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from scrape_runs where finished_at < ?1 and {KEEP_LATEST}"
            )))
            .bind(before.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        })
    }

    /// Records the article pages delivery `delivery`'s run skipped (the first
    /// [`SkippedPage::MAX_RECORDED`]); a run that skipped none keeps none. `false` if no run
    /// of that job id and delivery was started.
    #[tracing::instrument(skip_all, fields(job_id, skipped = pages.len()), err)]
    pub async fn record_skipped_pages(
        &self,
        job_id: &str,
        delivery: i64,
        pages: &[SkippedPage],
    ) -> Result<bool, StoreError> {
        let kept = &pages[..pages.len().min(SkippedPage::MAX_RECORDED)];
        let json = (!kept.is_empty())
            .then(|| serde_json::to_string(kept))
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("skipped pages: {e}")))?;
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update scrape_runs set skipped_pages = $2 where job_id = $1 and delivery = $3",
            )
            .bind(job_id)
            .bind(json)
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update scrape_runs set skipped_pages = ?2 where job_id = ?1 and delivery = ?3",
            )
            .bind(job_id)
            .bind(json)
            .bind(delivery)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected > 0)
    }

    /// The latest `limit` runs of a source, newest first.
    #[tracing::instrument(skip_all, fields(source = %source, limit), err)]
    pub async fn runs_for(
        &self,
        source: &SourceName,
        limit: u32,
    ) -> Result<Vec<ScrapeRun>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let rows = sqlx::query(
                    "select job_id, source, started_at, finished_at, status, pages_fetched, \
                       articles_new, articles_updated, error, error_class, skipped_pages \
                     from scrape_runs where source = $1 \
                     order by started_at desc, job_id desc limit $2",
                )
                .bind(source.as_str())
                .bind(i64::from(limit))
                .fetch_all(&mut *self.pg_read(pool).await?)
                .await?;
                rows.iter().map(pg_run).collect()
            }
            Backend::Sqlite(pool) => {
                let rows = self.sqlite_read(sqlx::query(
                    "select job_id, source, started_at, finished_at, status, pages_fetched, \
                       articles_new, articles_updated, error, error_class, skipped_pages \
                     from scrape_runs where source = ? \
                     order by started_at desc, job_id desc limit ?",
                )
                .bind(source.as_str())
                .bind(i64::from(limit))
                .fetch_all(pool)).await?;
                rows.iter().map(sqlite_run).collect()
            }
        }
    }

    /// The latest run of every live source that has one (one row per source, in no
    /// particular order): one query, one index probe per source
    /// (`scrape_runs (source, started_at desc)`), whatever the number of runs kept.
    #[tracing::instrument(skip_all, err)]
    pub async fn latest_runs(&self) -> Result<Vec<ScrapeRun>, StoreError> {
        const SQL: &str = "select r.job_id, r.source, r.started_at, r.finished_at, r.status, \
               r.pages_fetched, r.articles_new, r.articles_updated, r.error, r.error_class, \
               r.skipped_pages \
             from sources s join scrape_runs r on r.job_id = ( \
               select l.job_id from scrape_runs l where l.source = s.name \
               order by l.started_at desc, l.job_id desc limit 1) \
             where s.deleted_at is null";
        match &self.backend {
            Backend::Postgres(pool) => {
                let rows = sqlx::query(SQL)
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?;
                rows.iter().map(pg_run).collect()
            }
            Backend::Sqlite(pool) => {
                let rows = self.sqlite_read(sqlx::query(SQL).fetch_all(pool)).await?;
                rows.iter().map(sqlite_run).collect()
            }
        }
    }
}

fn parse_status(raw: &str) -> Result<RunStatus, StoreError> {
    raw.parse().map_err(StoreError::Invalid)
}

/// Stored skipped pages; text that does not parse reads as none.
fn parse_skipped(raw: Option<String>) -> Vec<SkippedPage> {
    raw.and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// A stored class; a word this version does not know reads as `unknown`.
fn parse_class(raw: Option<String>) -> Option<ErrorClass> {
    raw.map(|word| word.parse().unwrap_or(ErrorClass::Unknown))
}

fn pg_run(row: &PgRow) -> Result<ScrapeRun, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(ScrapeRun {
        job_id: row.try_get("job_id")?,
        source: row.try_get("source")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        status: parse_status(&status)?,
        pages_fetched: row.try_get("pages_fetched")?,
        articles_new: row.try_get("articles_new")?,
        articles_updated: row.try_get("articles_updated")?,
        error: row.try_get("error")?,
        error_class: parse_class(row.try_get("error_class")?),
        skipped_pages: parse_skipped(row.try_get("skipped_pages")?),
    })
}

fn sqlite_run(row: &SqliteRow) -> Result<ScrapeRun, StoreError> {
    let status: String = row.try_get("status")?;
    let finished_us: Option<i64> = row.try_get("finished_at")?;
    Ok(ScrapeRun {
        job_id: row.try_get("job_id")?,
        source: row.try_get("source")?,
        started_at: from_micros(row.try_get("started_at")?)?,
        finished_at: finished_us.map(from_micros).transpose()?,
        status: parse_status(&status)?,
        pages_fetched: row.try_get("pages_fetched")?,
        articles_new: row.try_get("articles_new")?,
        articles_updated: row.try_get("articles_updated")?,
        error: row.try_get("error")?,
        error_class: parse_class(row.try_get("error_class")?),
        skipped_pages: parse_skipped(row.try_get("skipped_pages")?),
    })
}
