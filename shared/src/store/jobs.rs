//! Job records, their deliveries, source leases and process leases.
//!
//! The `jobs` table is the record of every accepted job; the queue only carries deliveries
//! and may forget them (docs/ARCHITECTURE.md, "Job states and delivery"). A row moves
//! through its states by conditional updates:
//! - [`Store::start_job`] counts a delivery (`delivery`, never reset) and an attempt, and
//!   takes the row for one owner until `lease_until`. A `running` row is taken over only once
//!   its lease has lapsed, so a duplicate delivery never runs beside a live one; a delivery
//!   that finds the attempts spent ends the job `dead` unrun.
//! - Every later write of a delivery ([`Store::renew_job_lease`], [`Store::finish_delivery`],
//!   [`Store::retry_job_later`], the run row and the source lease) names its delivery
//!   number and changes nothing once another delivery took the row over.
//! - A job never goes back from `done` or `dead` except by [`Store::requeue_dead_job`].
//! - A `running` row without a lease (written before leases existed) counts as lapsed.
//!
//! The reconciler reads [`Store::unqueued_candidates`] and [`Store::lapsed_jobs`] and repairs
//! rows with [`Store::set_job_task`] and [`Store::rescue_job`], under a [`Store::take_process_lease`].
//! A source lease (`sources.lease_job`, `lease_delivery`, `lease_until`) lets one scrape of a
//! source run at a time across every worker process; it lapses on its own if its holder dies.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Backend, Store, WriteTx, from_micros};
use crate::domain::SourceName;
use crate::error::StoreError;
use crate::jobs::{JobKind, JobRecord, JobStatus};

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, result, error, \
                       created_at, updated_at, run_after, finished_at, request_id, task_id, \
                       delivery, lease_until";

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
    /// The queue task id it is about to be pushed with.
    pub task_id: &'a str,
}

/// What [`Store::insert_job_unless_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobInsert {
    /// The job was recorded `pending`.
    Inserted,
    /// A job with its `dedup_key` already exists (another scheduler recorded the tick).
    Duplicate,
    /// Nothing was recorded: a pending job whose `dedup_key` shares the prefix exists.
    Pending,
}

/// What a delivery found when it tried to start its job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStart {
    /// The delivery owns the job (the record shows its delivery number and attempt).
    Started(JobRecord),
    /// Its attempts were spent by earlier attempts that never finished: the job was ended
    /// `dead` without running.
    Spent(JobRecord),
    /// Another delivery runs it under a live lease.
    Busy,
    /// It is `done` or `dead` already.
    Finished,
    /// No such job (purged, or never recorded).
    Unknown,
}

/// A pending job the reconciler may have to push again.
#[derive(Debug, Clone, PartialEq)]
pub struct UnqueuedCandidate {
    /// The job id.
    pub id: String,
    /// Its kind (which queue carries it).
    pub kind: JobKind,
    /// Its payload as JSON.
    pub payload: serde_json::Value,
    /// The request that enqueued it.
    pub request_id: Option<String>,
    /// The task id of its latest push (`None`: never pushed, or recorded before task ids).
    pub task_id: Option<String>,
}

/// A running job whose lease lapsed: its delivery stopped (a dead worker or a lost database).
#[derive(Debug, Clone, PartialEq)]
pub struct LapsedJob {
    /// The job id.
    pub id: String,
    /// Its kind.
    pub kind: JobKind,
    /// The delivery that let its lease lapse.
    pub delivery: i64,
    /// Its payload as JSON.
    pub payload: serde_json::Value,
    /// The request that enqueued it.
    pub request_id: Option<String>,
}

/// `(id, kind, payload, request_id, task_id)` as [`Store::unqueued_candidates`] reads them.
type CandidateRow = (String, String, String, Option<String>, Option<String>);

/// `(id, kind, delivery, payload, request_id)` as [`Store::lapsed_jobs`] reads them.
type LapsedRow = (String, String, i64, String, Option<String>);

/// What [`Store::rescue_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescue {
    /// Back to `pending` under the new task id, to be pushed.
    Requeued,
    /// Its attempts are spent: ended `dead`.
    Buried,
    /// Someone else moved it first (a delivery took it over, or another reconciler).
    Moved,
}

/// The insert of a new pending job on PostgreSQL (nothing when its id or `dedup_key` is
/// taken), shared by [`Store::insert_job`] and [`Store::insert_job_unless_pending`].
fn pg_insert<'q>(
    job: &'q NewJob<'q>,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "insert into jobs (id, kind, payload, status, max_attempts, dedup_key, created_at, updated_at, request_id, task_id) \
         values ($1, $2, $3, 'pending', $4, $5, $6, $6, $7, $8) on conflict do nothing",
    )
    .bind(job.id)
    .bind(job.kind.as_str())
    .bind(job.payload)
    .bind(job.max_attempts)
    .bind(job.dedup_key)
    .bind(now)
    .bind(job.request_id)
    .bind(job.task_id)
}

/// [`pg_insert`] on SQLite.
fn sqlite_insert<'q>(
    job: &'q NewJob<'q>,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(
        "insert into jobs (id, kind, payload, status, max_attempts, dedup_key, created_at, updated_at, request_id, task_id) \
         values (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6, ?7, ?8) on conflict do nothing",
    )
    .bind(job.id)
    .bind(job.kind.as_str())
    .bind(job.payload.to_string())
    .bind(job.max_attempts)
    .bind(job.dedup_key)
    .bind(now.timestamp_micros())
    .bind(job.request_id)
    .bind(job.task_id)
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
            Backend::Postgres(pool) => pg_insert(job, now).execute(pool).await?.rows_affected(),
            Backend::Sqlite(pool) => sqlite_insert(job, now).execute(pool).await?.rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Records a new pending job unless a `pending` job whose `dedup_key` starts with
    /// `pending_prefix` exists (a scheduled scrape of the same source not yet started).
    ///
    /// The check and the insert run in one write transaction, serialized per prefix (an
    /// advisory lock on PostgreSQL, the database's write lock on SQLite), so callers racing
    /// on two ticks of one source still leave at most one pending job for it. The lookup is
    /// a range scan of `jobs_pending_dedup_idx`. `job.dedup_key` must start with the prefix,
    /// and the prefix must end with a character no key part after it contains (`:`).
    #[tracing::instrument(skip_all, fields(id = job.id, kind = %job.kind), err)]
    pub async fn insert_job_unless_pending(
        &self,
        job: &NewJob<'_>,
        pending_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<JobInsert, StoreError> {
        let Some((last, head)) = pending_prefix
            .as_bytes()
            .split_last()
            .filter(|(last, _)| **last < 0x7f)
        else {
            return Err(StoreError::Invalid(format!(
                "unusable pending prefix {pending_prefix:?}"
            )));
        };
        let mut upper = head.to_vec();
        upper.push(last + 1);
        let upper = String::from_utf8(upper)
            .map_err(|_| StoreError::Invalid("pending prefix is not UTF-8".to_owned()))?;
        let mut tx = self.begin_write().await?;
        let pending: Vec<String> =
            match &mut tx {
                WriteTx::Postgres(tx) => {
                    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
                        .bind(pending_prefix)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query_scalar(
                    "select dedup_key from jobs where status = 'pending' and dedup_key is not null \
                     and dedup_key collate \"C\" >= $1 and dedup_key collate \"C\" < $2 limit 2",
                )
                .bind(pending_prefix)
                .bind(&upper)
                .fetch_all(&mut **tx)
                .await?
                }
                WriteTx::Sqlite(tx) => sqlx::query_scalar(
                    "select dedup_key from jobs where status = 'pending' and dedup_key is not null \
                     and dedup_key >= ?1 and dedup_key < ?2 limit 2",
                )
                .bind(pending_prefix)
                .bind(&upper)
                .fetch_all(&mut **tx)
                .await?,
            };
        if !pending.is_empty() {
            drop(tx);
            return Ok(
                if pending
                    .iter()
                    .any(|key| Some(key.as_str()) == job.dedup_key)
                {
                    JobInsert::Duplicate
                } else {
                    JobInsert::Pending
                },
            );
        }
        let affected = match &mut tx {
            WriteTx::Postgres(tx) => pg_insert(job, now)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            WriteTx::Sqlite(tx) => sqlite_insert(job, now)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        };
        tx.commit().await?;
        Ok(if affected == 1 {
            JobInsert::Inserted
        } else {
            JobInsert::Duplicate
        })
    }

    /// Deletes a job that no delivery ever started (its push failed and the client is told
    /// so); `false` when it was started or is unknown.
    pub async fn delete_unstarted_job(&self, id: &str) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "delete from jobs where id = $1 and status = 'pending' and delivery = 0",
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "delete from jobs where id = ?1 and status = 'pending' and delivery = 0",
            )
            .bind(id)
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
                .fetch_optional(&mut *self.pg_read(pool).await?)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = self
                    .sqlite_read(
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "select {COLUMNS} from jobs where id = ?1"
                        )))
                        .bind(id)
                        .fetch_optional(pool),
                    )
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
                .fetch_all(&mut *self.pg_read(pool).await?)
                .await?;
                rows.iter().map(pg_job).collect()
            }
            Backend::Sqlite(pool) => {
                let rows = self
                    .sqlite_read(
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "select {COLUMNS} from jobs where (?1 is null or status = ?1) \
                     and (?2 is null or kind = ?2) order by created_at desc, id desc limit ?3"
                        )))
                        .bind(status)
                        .bind(kind)
                        .bind(i64::from(limit))
                        .fetch_all(pool),
                    )
                    .await?;
                rows.iter().map(sqlite_job).collect()
            }
        }
    }

    /// Starts a delivery of job `id` for `owner` until `lease_until`: counts the delivery
    /// and the attempt. A `pending` row is taken; a `running` one only once its lease has
    /// lapsed (its delivery stopped). A row whose attempts are spent (by attempts that never
    /// finished) is ended `dead` instead; see [`JobStart`].
    pub async fn start_job(
        &self,
        id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<JobStart, StoreError> {
        let started = match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'running', attempts = attempts + 1, delivery = delivery + 1, \
                       owner = $2, lease_until = $3, updated_at = $4, run_after = null \
                     where id = $1 and attempts < max_attempts \
                       and (status = 'pending' or (status = 'running' and coalesce(lease_until < $4, true))) \
                     returning {COLUMNS}"
                )))
                .bind(id)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()?
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'running', attempts = attempts + 1, delivery = delivery + 1, \
                       owner = ?2, lease_until = ?3, updated_at = ?4, run_after = null \
                     where id = ?1 and attempts < max_attempts \
                       and (status = 'pending' or (status = 'running' and coalesce(lease_until < ?4, true))) \
                     returning {COLUMNS}"
                )))
                .bind(id)
                .bind(owner)
                .bind(lease_until.timestamp_micros())
                .bind(now.timestamp_micros())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()?
            }
        };
        if let Some(record) = started {
            return Ok(JobStart::Started(record));
        }
        let Some(record) = self.job(id).await? else {
            return Ok(JobStart::Unknown);
        };
        match record.status {
            JobStatus::Done | JobStatus::Dead => Ok(JobStart::Finished),
            JobStatus::Running if record.lease_until.is_some_and(|until| until >= now) => {
                Ok(JobStart::Busy)
            }
            JobStatus::Pending | JobStatus::Running => {
                let message = format!(
                    "attempts spent: attempt {} of {} did not finish (its worker stopped or lost the database)",
                    record.attempts, record.max_attempts
                );
                match self.bury_spent_job(id, &message, now).await? {
                    Some(record) => Ok(JobStart::Spent(record)),
                    None => Ok(JobStart::Busy),
                }
            }
        }
    }

    /// Ends a job `dead` whose attempts are spent and that no live delivery holds.
    async fn bury_spent_job(
        &self,
        id: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'dead', error = $2, owner = null, lease_until = null, \
                       updated_at = $3, finished_at = $3 \
                     where id = $1 and attempts >= max_attempts \
                       and (status = 'pending' or (status = 'running' and coalesce(lease_until < $3, true))) \
                     returning {COLUMNS}"
                )))
                .bind(id)
                .bind(message)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'dead', error = ?2, owner = null, lease_until = null, \
                       updated_at = ?3, finished_at = ?3 \
                     where id = ?1 and attempts >= max_attempts \
                       and (status = 'pending' or (status = 'running' and coalesce(lease_until < ?3, true))) \
                     returning {COLUMNS}"
                )))
                .bind(id)
                .bind(message)
                .bind(now.timestamp_micros())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()
            }
        }
    }

    /// Extends delivery `delivery`'s lease on job `id` to `until`; `false` when the row is no
    /// longer that delivery's (another took it over, or it finished).
    pub async fn renew_job_lease(
        &self,
        id: &str,
        delivery: i64,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update jobs set lease_until = $3 where id = $1 and delivery = $2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update jobs set lease_until = ?3 where id = ?1 and delivery = ?2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(until.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Ends delivery `delivery` of job `id`: `done` with its result, or `dead` with its
    /// error. `false` (nothing written) when the row is no longer that delivery's.
    pub async fn finish_delivery(
        &self,
        id: &str,
        delivery: i64,
        status: JobStatus,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update jobs set status = $3, result = $4, error = $5, updated_at = $6, finished_at = $6, \
                   owner = null, lease_until = null \
                 where id = $1 and delivery = $2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(status.as_str())
            .bind(result)
            .bind(error)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update jobs set status = ?3, result = ?4, error = ?5, updated_at = ?6, finished_at = ?6, \
                   owner = null, lease_until = null \
                 where id = ?1 and delivery = ?2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(status.as_str())
            .bind(result.map(ToString::to_string))
            .bind(error)
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Puts delivery `delivery`'s failed attempt back to `pending` until `run_after`, keeping
    /// its error, under the task id its retry is pushed with. `false` (nothing written) when
    /// the row is no longer that delivery's.
    pub async fn retry_job_later(
        &self,
        id: &str,
        delivery: i64,
        error: &str,
        run_after: DateTime<Utc>,
        task_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update jobs set status = 'pending', error = $3, run_after = $4, task_id = $5, \
                   updated_at = $6, owner = null, lease_until = null \
                 where id = $1 and delivery = $2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(error)
            .bind(run_after)
            .bind(task_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update jobs set status = 'pending', error = ?3, run_after = ?4, task_id = ?5, \
                   updated_at = ?6, owner = null, lease_until = null \
                 where id = ?1 and delivery = ?2 and status = 'running'",
            )
            .bind(id)
            .bind(delivery)
            .bind(error)
            .bind(run_after.timestamp_micros())
            .bind(task_id)
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Moves a dead job back to `pending` with a fresh set of attempts, under the task id
    /// it is about to be pushed with; `None` when the job is unknown or not dead. Its
    /// delivery count is kept, so deliveries of its earlier life stay fenced off.
    pub async fn requeue_dead_job(
        &self,
        id: &str,
        task_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRecord>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'pending', attempts = 0, finished_at = null, updated_at = $2, task_id = $3 \
                     where id = $1 and status = 'dead' returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now)
                .bind(task_id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pg_job).transpose()
            }
            Backend::Sqlite(pool) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update jobs set status = 'pending', attempts = 0, finished_at = null, updated_at = ?2, task_id = ?3 \
                     where id = ?1 and status = 'dead' returning {COLUMNS}"
                )))
                .bind(id)
                .bind(now.timestamp_micros())
                .bind(task_id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(sqlite_job).transpose()
            }
        }
    }

    /// Ends a pending job that was never started `dead` with `error` (a retry by hand whose
    /// push failed); `false` when it was started or is not pending.
    pub async fn abandon_pending_job(
        &self,
        id: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update jobs set status = 'dead', error = $2, updated_at = $3, finished_at = $3 \
                 where id = $1 and status = 'pending'",
            )
            .bind(id)
            .bind(error)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update jobs set status = 'dead', error = ?2, updated_at = ?3, finished_at = ?3 \
                 where id = ?1 and status = 'pending'",
            )
            .bind(id)
            .bind(error)
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Pending jobs that are due (`run_after` passed or unset) and that nothing touched since
    /// `settled_before`, in id order after `after`, at most `limit`: the rows whose queue
    /// entry the reconciler checks.
    pub async fn unqueued_candidates(
        &self,
        now: DateTime<Utc>,
        settled_before: DateTime<Utc>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UnqueuedCandidate>, StoreError> {
        let after = after.unwrap_or("");
        let rows: Vec<CandidateRow> = match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query_as(
                    "select id, kind, payload::text, request_id, task_id from jobs \
                     where status = 'pending' and (run_after is null or run_after <= $1) \
                       and updated_at < $2 and id > $3 order by id limit $4",
                )
                .bind(now)
                .bind(settled_before)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
            }
            Backend::Sqlite(pool) => {
                sqlx::query_as(
                    "select id, kind, payload, request_id, task_id from jobs \
                     where status = 'pending' and (run_after is null or run_after <= ?1) \
                       and updated_at < ?2 and id > ?3 order by id limit ?4",
                )
                .bind(now.timestamp_micros())
                .bind(settled_before.timestamp_micros())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter()
            .map(|(id, kind, payload, request_id, task_id)| {
                Ok(UnqueuedCandidate {
                    kind: parse(&kind)?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Invalid(format!("payload of job {id}: {e}")))?,
                    id,
                    request_id,
                    task_id,
                })
            })
            .collect()
    }

    /// Records that pending job `id`, last pushed as `old` (or never), is pushed again as
    /// `new`; `false` (nothing written) when the row moved meanwhile.
    pub async fn set_job_task(
        &self,
        id: &str,
        old: Option<&str>,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update jobs set task_id = $3, updated_at = $4 \
                 where id = $1 and status = 'pending' and task_id is not distinct from $2",
            )
            .bind(id)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update jobs set task_id = ?3, updated_at = ?4 \
                 where id = ?1 and status = 'pending' and task_id is ?2",
            )
            .bind(id)
            .bind(old)
            .bind(new)
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Running jobs whose lease lapsed before `before`, oldest lease first, at most `limit`.
    pub async fn lapsed_jobs(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<LapsedJob>, StoreError> {
        let rows: Vec<LapsedRow> = match &self.backend {
            Backend::Postgres(pool) => sqlx::query_as(
                "select id, kind, delivery, payload::text, request_id from jobs where status = 'running' and coalesce(lease_until < $1, true) \
                 order by lease_until limit $2",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?,
            Backend::Sqlite(pool) => sqlx::query_as(
                "select id, kind, delivery, payload, request_id from jobs where status = 'running' and coalesce(lease_until < ?1, true) \
                 order by lease_until limit ?2",
            )
            .bind(before.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?,
        };
        rows.into_iter()
            .map(|(id, kind, delivery, payload, request_id)| {
                Ok(LapsedJob {
                    kind: parse(&kind)?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Invalid(format!("payload of job {id}: {e}")))?,
                    id,
                    delivery,
                    request_id,
                })
            })
            .collect()
    }

    /// Rescues job `id` from delivery `delivery`, whose lease lapsed before `before`: the
    /// crashed attempt counts, so the job goes back to `pending` under `task_id` while it has
    /// attempts left, else it ends `dead`.
    pub async fn rescue_job(
        &self,
        id: &str,
        delivery: i64,
        task_id: &str,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Rescue, StoreError> {
        const LOST: &str = "did not finish: its worker stopped or lost the database";
        let (requeued, buried) = match &self.backend {
            Backend::Postgres(pool) => {
                let requeued = sqlx::query(
                    "update jobs set status = 'pending', task_id = $3, owner = null, lease_until = null, \
                       run_after = null, updated_at = $5, error = 'attempt ' || attempts || ' ' || $6 \
                     where id = $1 and delivery = $2 and status = 'running' and coalesce(lease_until < $4, true) \
                       and attempts < max_attempts",
                )
                .bind(id)
                .bind(delivery)
                .bind(task_id)
                .bind(before)
                .bind(now)
                .bind(LOST)
                .execute(pool)
                .await?
                .rows_affected();
                let buried = if requeued == 0 {
                    sqlx::query(
                        "update jobs set status = 'dead', owner = null, lease_until = null, \
                           updated_at = $4, finished_at = $4, \
                           error = 'attempts spent: attempt ' || attempts || ' of ' || max_attempts || ' ' || $5 \
                         where id = $1 and delivery = $2 and status = 'running' and coalesce(lease_until < $3, true)",
                    )
                    .bind(id)
                    .bind(delivery)
                    .bind(before)
                    .bind(now)
                    .bind(LOST)
                    .execute(pool)
                    .await?
                    .rows_affected()
                } else {
                    0
                };
                (requeued, buried)
            }
            Backend::Sqlite(pool) => {
                let requeued = sqlx::query(
                    "update jobs set status = 'pending', task_id = ?3, owner = null, lease_until = null, \
                       run_after = null, updated_at = ?5, error = 'attempt ' || attempts || ' ' || ?6 \
                     where id = ?1 and delivery = ?2 and status = 'running' and coalesce(lease_until < ?4, true) \
                       and attempts < max_attempts",
                )
                .bind(id)
                .bind(delivery)
                .bind(task_id)
                .bind(before.timestamp_micros())
                .bind(now.timestamp_micros())
                .bind(LOST)
                .execute(pool)
                .await?
                .rows_affected();
                let buried = if requeued == 0 {
                    sqlx::query(
                        "update jobs set status = 'dead', owner = null, lease_until = null, \
                           updated_at = ?4, finished_at = ?4, \
                           error = 'attempts spent: attempt ' || attempts || ' of ' || max_attempts || ' ' || ?5 \
                         where id = ?1 and delivery = ?2 and status = 'running' and coalesce(lease_until < ?3, true)",
                    )
                    .bind(id)
                    .bind(delivery)
                    .bind(before.timestamp_micros())
                    .bind(now.timestamp_micros())
                    .bind(LOST)
                    .execute(pool)
                    .await?
                    .rows_affected()
                } else {
                    0
                };
                (requeued, buried)
            }
        };
        Ok(if requeued == 1 {
            Rescue::Requeued
        } else if buried == 1 {
            Rescue::Buried
        } else {
            Rescue::Moved
        })
    }

    /// Takes (or extends) the process lease `name` for `holder` until `until`; `false` while
    /// another holder's lease has not passed.
    pub async fn take_process_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "insert into process_leases (name, holder, until) values ($1, $2, $3) \
                 on conflict (name) do update set holder = excluded.holder, until = excluded.until \
                 where process_leases.until < $4 or process_leases.holder = excluded.holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "insert into process_leases (name, holder, until) values (?1, ?2, ?3) \
                 on conflict (name) do update set holder = excluded.holder, until = excluded.until \
                 where process_leases.until < ?4 or process_leases.holder = excluded.holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until.timestamp_micros())
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Gives up the process lease `name` if `holder` holds it (a clean shutdown), so another
    /// process takes the role at once.
    pub async fn release_process_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("delete from process_leases where name = $1 and holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query("delete from process_leases where name = ?1 and holder = ?2")
                    .bind(name)
                    .bind(holder)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Removes job `id`'s lease, as rows written before leases existed have none: for
    /// tests of the reconciler, which must treat a missing lease as lapsed.
    #[doc(hidden)]
    pub async fn clear_job_lease_for_tests(&self, id: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("update jobs set lease_until = null where id = $1")
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query("update jobs set lease_until = null where id = ?1")
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
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
            Backend::Postgres(pool) => {
                sqlx::query_as(sql)
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?
            }
            Backend::Sqlite(pool) => {
                self.sqlite_read(sqlx::query_as(sql).fetch_all(pool))
                    .await?
            }
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

    /// Takes `source`'s scrape lease for delivery `delivery` of `job_id` until `until`;
    /// `false` while another job, or a later delivery of the same job,
    /// holds an unexpired lease. Re-taking one's own lease extends it; a later delivery of
    /// the same job takes it over from an earlier one (the job row already fenced that one
    /// off), and an earlier delivery never takes it back.
    pub async fn acquire_source_lease(
        &self,
        source: &SourceName,
        job_id: &str,
        delivery: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let affected = match &self.backend {
            Backend::Postgres(pool) => sqlx::query(
                "update sources set lease_job = $2, lease_delivery = $3, lease_until = $4 where name = $1 \
                 and (lease_job is null or lease_until < $5 or (lease_job = $2 and lease_delivery <= $3))",
            )
            .bind(source.as_str())
            .bind(job_id)
            .bind(delivery)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => sqlx::query(
                "update sources set lease_job = ?2, lease_delivery = ?3, lease_until = ?4 where name = ?1 \
                 and (lease_job is null or lease_until < ?5 or (lease_job = ?2 and lease_delivery <= ?3))",
            )
            .bind(source.as_str())
            .bind(job_id)
            .bind(delivery)
            .bind(until.timestamp_micros())
            .bind(now.timestamp_micros())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }

    /// Gives up `source`'s lease if delivery `delivery` of `job_id` holds it.
    pub async fn release_source_lease(
        &self,
        source: &SourceName,
        job_id: &str,
        delivery: i64,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query("update sources set lease_job = null, lease_delivery = null, lease_until = null \
                             where name = $1 and lease_job = $2 and lease_delivery = $3")
                    .bind(source.as_str())
                    .bind(job_id)
                    .bind(delivery)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite(pool) => {
                sqlx::query("update sources set lease_job = null, lease_delivery = null, lease_until = null \
                             where name = ?1 and lease_job = ?2 and lease_delivery = ?3")
                    .bind(source.as_str())
                    .bind(job_id)
                    .bind(delivery)
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
        task_id: row.try_get("task_id")?,
        delivery: row.try_get("delivery")?,
        lease_until: row.try_get("lease_until")?,
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
        task_id: row.try_get("task_id")?,
        delivery: row.try_get("delivery")?,
        lease_until: time("lease_until")?,
    })
}
