//! Job handlers, and the policy every job runs under.
//!
//! A delivery of a [`JobEnvelope`] first takes the job's record ([`Store::start_job`]): it
//! counts the delivery and the attempt and holds the row under a lease that it renews while
//! it runs. A delivery of a job that is `done` or `dead`, or that another delivery holds
//! under a live lease, is a duplicate and is dropped; one that finds the attempts spent (by
//! attempts that never finished) ends the job `dead` unrun. Then it runs the job, bounded by
//! the kind's deadline:
//! - success → `done` with its result;
//! - a permanent failure (a 404 feed, garbage instead of a feed, an unknown source, a panic)
//!   or the last allowed attempt → `dead` with the error, visible in `GET /api/v1/jobs?status=dead`;
//! - a transient failure, or the deadline passed → `pending` again, re-pushed to run after an
//!   exponential backoff with jitter (base × 2^(attempt−1), at most 5 minutes).
//!
//! Every write names the delivery number, so a delivery that was taken over (its lease
//! lapsed and the reconciler or a newer delivery moved the row) changes nothing; it stops
//! as soon as its lease renewal finds that out. apalis sees every delivery as a success:
//! retries are ours (apalis' own differ by backend), and a delivery that could not record its
//! outcome (the database is down) leaves the row to the reconciler.
//!
//! [`Store::start_job`]: mediawarm_shared::store::Store::start_job

mod invalidate;
mod scrape;
mod warm;

pub(crate) use scrape::invalidate_and_rewarm;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use mediawarm_shared::domain::{ErrorClass, RunCounts, RunStatus};
use mediawarm_shared::error::StoreError;
use mediawarm_shared::jobs::{JobEnvelope, JobPayload, JobRecord, JobStatus};
use mediawarm_shared::metrics::JobOutcome;
use mediawarm_shared::queue::new_task_id;
use mediawarm_shared::store::JobStart;
use rand::RngExt;

use crate::Context;

/// A job attempt's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobError {
    /// For people: goes into the job record.
    pub(crate) message: String,
    /// Whether retrying cannot help.
    pub(crate) permanent: bool,
}

impl JobError {
    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }

    pub(crate) fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        Self::transient(e.to_string())
    }
}

/// One delivery that owns its job: which job, and which delivery of it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The job id.
    pub(crate) job_id: String,
    /// The delivery number every write of this delivery names.
    pub(crate) number: i64,
}

/// Handles one delivery under the policy above. It never fails: what it cannot record, it
/// logs, and the reconciler repairs from the jobs table.
#[tracing::instrument(
    skip_all,
    fields(job_id = %envelope.job_id, kind = %envelope.payload.kind(), request_id = envelope.request_id.as_deref())
)]
pub async fn deliver(ctx: &Arc<Context>, envelope: JobEnvelope) {
    if let Err(error) = run_delivery(ctx, &envelope).await {
        tracing::warn!(%error, "job bookkeeping failed; the reconciler will take the job up");
    }
}

async fn run_delivery(ctx: &Arc<Context>, envelope: &JobEnvelope) -> Result<(), StoreError> {
    let kind = envelope.payload.kind();
    let lease = ctx.args.job_lease();
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let record = match ctx
        .store
        .start_job(&envelope.job_id, &ctx.instance, until, now)
        .await?
    {
        JobStart::Started(record) => record,
        JobStart::Spent(record) => {
            tracing::warn!(
                attempts = record.attempts,
                "attempts spent by unfinished attempts: job dead unrun"
            );
            ctx.metrics
                .observe_job(kind, JobOutcome::Dead, Duration::ZERO);
            return Ok(());
        }
        JobStart::Busy => {
            tracing::debug!("another delivery runs this job under a live lease: dropped");
            return Ok(());
        }
        JobStart::Finished | JobStart::Unknown => {
            tracing::debug!("duplicate delivery of a finished or unknown job: dropped");
            return Ok(());
        }
    };
    let delivery = Delivery {
        job_id: envelope.job_id.clone(),
        number: record.delivery,
    };
    let started = Instant::now();
    let deadline = ctx.args.deadline(kind);
    let attempt = AssertUnwindSafe(tokio::time::timeout(
        deadline,
        execute(ctx, envelope, &record, &delivery),
    ))
    .catch_unwind();
    let outcome = tokio::select! {
        outcome = attempt => match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_elapsed)) => {
                let error = JobError::transient(format!(
                    "the attempt passed its deadline of {} s and was stopped",
                    deadline.as_secs()
                ));
                stopped_at_deadline(ctx, envelope, &delivery, &error.message).await;
                Err(error)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(JobError::permanent(format!("the job panicked: {what}")))
            }
        },
        () = keep_lease(ctx, &delivery, lease) => {
            tracing::warn!(delivery = delivery.number, "the job was taken over by a later delivery: this attempt stopped");
            ctx.metrics.observe_stale_delivery(kind);
            return Ok(());
        }
    };
    let now = Utc::now();
    let written = match outcome {
        Ok(result) => {
            tracing::info!(attempt = record.attempts, "job done");
            let skipped = result.get("skipped").and_then(serde_json::Value::as_bool) == Some(true);
            let label = if skipped {
                JobOutcome::Skipped
            } else {
                JobOutcome::Done
            };
            ctx.metrics.observe_job(kind, label, started.elapsed());
            ctx.store
                .finish_delivery(
                    &delivery.job_id,
                    delivery.number,
                    JobStatus::Done,
                    Some(&result),
                    None,
                    now,
                )
                .await?
        }
        Err(error) if error.permanent || record.attempts >= record.max_attempts => {
            tracing::warn!(attempt = record.attempts, error = %error.message, permanent = error.permanent, "job dead");
            ctx.metrics
                .observe_job(kind, JobOutcome::Dead, started.elapsed());
            ctx.store
                .finish_delivery(
                    &delivery.job_id,
                    delivery.number,
                    JobStatus::Dead,
                    None,
                    Some(&error.message),
                    now,
                )
                .await?
        }
        Err(error) => {
            let delay = backoff(ctx.args.job_retry_base_ms, record.attempts);
            let run_after = now + chrono::Duration::from_std(delay).unwrap_or_default();
            tracing::info!(attempt = record.attempts, error = %error.message, ?delay, "job failed; retrying later");
            ctx.metrics
                .observe_job(kind, JobOutcome::Retry, started.elapsed());
            let task_id = new_task_id();
            let written = ctx
                .store
                .retry_job_later(
                    &delivery.job_id,
                    delivery.number,
                    &error.message,
                    run_after,
                    &task_id,
                    now,
                )
                .await?;
            if written
                && let Err(push) = ctx
                    .queue
                    .push(envelope.clone(), &task_id, Some(run_after))
                    .await
            {
                tracing::warn!(error = %push, "the retry could not be queued; the reconciler will push it");
            }
            written
        }
    };
    if !written {
        tracing::warn!(
            delivery = delivery.number,
            "stale delivery: a later delivery owns the job; its outcome was not recorded"
        );
        ctx.metrics.observe_stale_delivery(kind);
    }
    Ok(())
}

/// Settles what an attempt stopped at its deadline left open: a scrape's run row is ended
/// `failed` (class `timeout`) and counted, so no run stays `running`.
async fn stopped_at_deadline(
    ctx: &Arc<Context>,
    envelope: &JobEnvelope,
    delivery: &Delivery,
    message: &str,
) {
    let JobPayload::Scrape(job) = &envelope.payload else {
        return;
    };
    ctx.metrics
        .observe_scrape_error(job.source.as_str(), 0, ErrorClass::Timeout);
    if let Err(error) = ctx
        .store
        .finish_run(
            &delivery.job_id,
            delivery.number,
            RunStatus::Failed,
            RunCounts::default(),
            Some(message),
            Some(ErrorClass::Timeout),
            Utc::now(),
        )
        .await
    {
        tracing::warn!(%error, "recording the stopped run failed");
    }
}

/// Renews `delivery`'s lease every third of `lease`; completes only when the row is no
/// longer this delivery's. A renewal that fails (the database is down) is tried again: the
/// lease may lapse meanwhile, and the reconciler then rescues the job.
async fn keep_lease(ctx: &Arc<Context>, delivery: &Delivery, lease: Duration) {
    let mut ticks = tokio::time::interval(lease / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        match ctx
            .store
            .renew_job_lease(&delivery.job_id, delivery.number, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => tracing::warn!(%error, "renewing the job's lease failed"),
        }
    }
}

async fn execute(
    ctx: &Arc<Context>,
    envelope: &JobEnvelope,
    record: &JobRecord,
    delivery: &Delivery,
) -> Result<serde_json::Value, JobError> {
    match &envelope.payload {
        JobPayload::Scrape(job) => scrape::run(ctx, delivery, record, job).await,
        JobPayload::Warm { target } => warm::run(ctx, target).await,
        JobPayload::Invalidate(job) => invalidate::run(ctx, job).await,
    }
}

/// The delay before attempt `attempts + 1`: `base × 2^(attempts−1)` plus up to half of it
/// again as jitter, at most 5 minutes.
pub(crate) fn backoff(base_ms: u64, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = base_ms.saturating_mul(1 << exponent).min(300_000);
    let jitter = rand::rng().random_range(0..=delay / 2);
    Duration::from_millis(delay + jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for (attempts, low) in [(1, 1000), (2, 2000), (3, 4000)] {
            let d = backoff(1000, attempts).as_millis() as u64;
            assert!(
                (low..=low * 3 / 2).contains(&d),
                "attempt {attempts}: {d} ms"
            );
        }
        assert!(backoff(1000, 40).as_millis() <= 450_000);
    }
}
