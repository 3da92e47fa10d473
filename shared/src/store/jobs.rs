//! Job records and source leases.
//!
//! A job row is written when the job is enqueued and moved through its states by the worker
//! with conditional updates, so a duplicate delivery of a finished job is recognised and a
//! job never goes back from `done` or `dead` except by [`Store::requeue_dead_job`].
//! A source lease (`sources.lease_job`, `lease_until`) lets one scrape of a source run at a
//! time across every worker process; it lapses on its own if its holder dies.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Backend, Store, from_micros};
use crate::domain::SourceName;
use crate::error::StoreError;
use crate::jobs::{JobKind, JobRecord, JobStatus};

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, result, error, \
                       created_at, updated_at, run_after, finished_at, request_id";

/// A job to record at enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// ULID.
    pub id: &'a str,
    /// What it does.
    pub kind: JobKind,
    /// The payload as JSON.
    pub payload: &'a serde_json::Value,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// A de-duplication key (a scheduler tick); a second job with the same key is not
    /// recorded.
    pub dedup_key: Option<&'a str>,
    /// The id of the HTTP request that enqueued it.
    pub request_id: Option<&'a str>,
}

impl Store {
    /// Records a new pending job; `false` when its `dedup_key` is already taken.
    #[tracing::instrument(skip_all, fields(id = job.id, kind = %job.kind), err)]
    pub async fn insert_job(
        &self,
        job: &NewJob<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "insert into jobs (id, kind, payload, status, max_attempts, dedup_key, created_at, updated_at, request_id) \
                 values ($1, $2, $3, 'pending', $4, $5, $6, $6, $7) on conflict do nothing",
            )
            .bind(job.id)
            .bind(job.kind.as_str())
            .bind(job.payload)
            .bind(job.max_attempts)
            .bind(job.dedup_key)
            .bind(now)
            .bind(job.request_id)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "insert into jobs (id, kind, payload, status, max_attempts, dedup_key, created_at, updated_at, request_id) \
                 values (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6, ?7) on conflict do nothing",
            )
            .bind(job.id)
            .bind(job.kind.as_str())
            .bind(job.payload.to_string())
            .bind(job.max_attempts)
            .bind(job.dedup_key)
            .bind(now.timestamp_micros())
            .bind(job.request_id)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// One job by id.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from jobs where id = $1"
                )))
                .bind(id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from jobs where id = ?1"
                )))
                .bind(id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()
            }
        }
    }

    /// Recent jobs, newest first, optionally of one status and kind.
    pub async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        kind: Option<JobKind>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let status = status.map(JobStatus::as_str);
        let kind = kind.map(JobKind::as_str);
        match &self.backend {
            Backend::Postgres(pool) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from jobs where ($1::text is null or status = $1) \
                     and ($2::text is null or kind = $2) order by created_at desc, id desc limit $3"
                )))
                .bind(status)
                .bind(kind)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(pg_job).collect()
            }
            Backend::Sqlite(pool) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from jobs where (?1 is null or status = ?1) \
                     and (?2 is null or kind = ?2) order by created_at desc, id desc limit ?3"
                )))
                .bind(status)
                .bind(kind)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(sqlite_job).collect()
            }
        }
    }

    /// Marks a job running and counts the attempt; `None` when it is not pending or running
    /// (already finished, or unknown): a duplicate delivery to ignore. A job found `running`
    /// is one whose worker died mid-attempt; it is taken over.
    pub async fn start_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'running', attempts = attempts + 1, updated_at = $2, run_after = null \
                     where id = $1 and status in ('pending', 'running') returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'running', attempts = attempts + 1, updated_at = ?2, run_after = null \
                     where id = ?1 and status in ('pending', 'running') returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now.timestamp_micros())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()
            }
        }
    }

    /// Ends a running job: `done` with its result, or `dead` with its error.
    pub async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query(
                    "update jobs set status = $2, result = $3, error = $4, updated_at = $5, finished_at = $5 \
                     where id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(result)
                .bind(error)
                .bind(now)
                .execute(pool)
                .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "update jobs set status = ?2, result = ?3, error = ?4, updated_at = ?5, finished_at = ?5 \
                     where id = ?1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(result.map(ToString::to_string))
                .bind(error)
                .bind(now.timestamp_micros())
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Puts a failed attempt back to `pending` until `run_after`, keeping its error.
    pub async fn retry_job_later(
        &self,
        id: &str,
        error: &str,
        run_after: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("update jobs set status = 'pending', error = $2, run_after = $3, updated_at = $4 where id = $1")
                    .bind(id)
                    .bind(error)
                    .bind(run_after)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "update jobs set status = 'pending', error = ?2, run_after = ?3, updated_at = ?4 where id = ?1",
                )
                .bind(id)
                .bind(error)
                .bind(run_after.timestamp_micros())
                .bind(now.timestamp_micros())
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Moves a dead job back to `pending` with a fresh set of attempts; `None` when the job
    /// is unknown or not dead.
    pub async fn requeue_dead_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'pending', attempts = 0, finished_at = null, updated_at = $2 \
                     where id = $1 and status = 'dead' returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'pending', attempts = 0, finished_at = null, updated_at = ?2 \
                     where id = ?1 and status = 'dead' returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now.timestamp_micros())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()
            }
        }
    }

    /// How many jobs are waiting or running: the queue depth that backpressure bounds.
    pub async fn unfinished_jobs(&self) -> Result<i64, StoreError> {
        let sql = "select count(*) from jobs where status in ('pending', 'running')";
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Backend::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    /// How many jobs there are of each kind and status, for metrics. Pairs with no job are
    /// absent.
    pub async fn job_counts(&self) -> Result<Vec<(JobKind, JobStatus, i64)>, StoreError> {
        let sql = "select kind, status, count(*) from jobs group by kind, status";
        let rows: Vec<(String, String, i64)> = match &self.backend {
            Backend::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
            Backend::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        };
        rows.into_iter()
            .map(|(kind, status, count)| {
                let kind = kind.parse::<JobKind>().map_err(StoreError::Invalid)?;
                let status = status.parse::<JobStatus>().map_err(StoreError::Invalid)?;
                Ok((kind, status, count))
            })
            .collect()
    }

    /// Deletes finished (done or dead) jobs that ended before `before`; returns how many.
    pub async fn purge_finished_jobs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "delete from jobs where status in ('done', 'dead') and finished_at < $1",
            )
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "delete from jobs where status in ('done', 'dead') and finished_at < ?1",
            )
            .bind(before.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        })
    }

    /// Takes `source`'s scrape lease for `job_id` until `until`; `false` while another job
    /// holds an unexpired lease. Re-taking one's own lease extends it.
    pub async fn acquire_source_lease(
        &self,
        source: &SourceName,
        job_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update sources set lease_job = $2, lease_until = $3 where name = $1 \
                 and (lease_job is null or lease_job = $2 or lease_until < $4)",
            )
            .bind(source.as_str())
            .bind(job_id)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update sources set lease_job = ?2, lease_until = ?3 where name = ?1 \
                 and (lease_job is null or lease_job = ?2 or lease_until < ?4)",
            )
            .bind(source.as_str())
            .bind(job_id)
            .bind(until.timestamp_micros())
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Gives up `source`'s lease if `job_id` holds it.
    pub async fn release_source_lease(
        &self,
        source: &SourceName,
        job_id: &str,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("update sources set lease_job = null, lease_until = null where name = $1 and lease_job = $2")
                    .bind(source.as_str())
                    .bind(job_id)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query("update sources set lease_job = null, lease_until = null where name = ?1 and lease_job = ?2")
                    .bind(source.as_str())
                    .bind(job_id)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}

fn parse<T: std::str::FromStr<Err = String>>(raw: &str) -> Result<T, StoreError> {
    raw.parse().map_err(StoreError::Invalid)
}

fn pg_job(row: &PgRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: parse(row.try_get::<&str, _>("kind")?)?,
        status: parse(row.try_get::<&str, _>("status")?)?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        payload: row.try_get("payload")?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        run_after: row.try_get("run_after")?,
        finished_at: row.try_get("finished_at")?,
        request_id: row.try_get("request_id")?,
    })
}

fn sqlite_job(row: &SqliteRow) -> Result<JobRecord, StoreError> {
    let json = |column: &str| -> Result<Option<serde_json::Value>, StoreError> {
        row.try_get::<Option<String>, _>(column)?
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Invalid(e.to_string())))
            .transpose()
    };
    let time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<i64>, _>(column)?
            .map(from_micros)
            .transpose()
    };
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: parse(row.try_get::<&str, _>("kind")?)?,
        status: parse(row.try_get::<&str, _>("status")?)?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        payload: json("payload")?.unwrap_or(serde_json::Value::Null),
        result: json("result")?,
        error: row.try_get("error")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        run_after: time("run_after")?,
        finished_at: time("finished_at")?,
        request_id: row.try_get("request_id")?,
    })
}
