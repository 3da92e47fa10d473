//! Job handlers, and the policy every job runs under.
//!
//! A delivery of a [`JobEnvelope`] first moves the job's record to `running` (a delivery of
//! a job that is already `done` or `dead` is a duplicate and is dropped), then runs it:
//! - success → `done` with its result;
//! - a permanent failure (a 404 feed, garbage instead of a feed, an unknown source, a panic)
//!   or the last allowed attempt → `dead` with the error, visible in `GET /api/v1/jobs?status=dead`;
//! - a transient failure → `pending` again, re-pushed to run after an exponential backoff
//!   with jitter (base × 2^(attempt−1), at most 5 minutes).
//!
//! apalis sees every handled delivery as a success: retries are ours, because its own
//! differ by backend (APALIS-NOTES 6). An error reaches apalis only when the job's record
//! cannot be read or written (the database is down), and apalis then redelivers it.

mod invalidate;
mod scrape;
mod warm;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use mediawarm_shared::error::StoreError;
use mediawarm_shared::jobs::{JobEnvelope, JobPayload, JobRecord, JobStatus};
use mediawarm_shared::metrics::JobOutcome;
use rand::Rng;

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

/// Why a delivery could not even be handled (apalis redelivers it).
#[derive(Debug, thiserror::Error)]
#[error("job bookkeeping failed: {0}")]
pub struct DeliveryError(#[from] StoreError);

/// Handles one delivery under the retry policy above.
#[tracing::instrument(
    skip_all,
    fields(job_id = %envelope.job_id, kind = %envelope.payload.kind(), request_id = envelope.request_id.as_deref()),
    err
)]
pub async fn deliver(ctx: &Arc<Context>, envelope: JobEnvelope) -> Result<(), DeliveryError> {
    let Some(record) = ctx.store.start_job(&envelope.job_id, Utc::now()).await? else {
        tracing::debug!("duplicate delivery of a finished or unknown job: dropped");
        return Ok(());
    };
    let started = Instant::now();
    let kind = envelope.payload.kind();
    let outcome = AssertUnwindSafe(execute(ctx, &envelope, &record))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(JobError::permanent(format!("the job panicked: {what}")))
        });
    let now = Utc::now();
    match outcome {
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
                .finish_job(&envelope.job_id, JobStatus::Done, Some(&result), None, now)
                .await?;
        }
        Err(error) if error.permanent || record.attempts >= record.max_attempts => {
            tracing::warn!(attempt = record.attempts, error = %error.message, permanent = error.permanent, "job dead");
            ctx.metrics
                .observe_job(kind, JobOutcome::Dead, started.elapsed());
            ctx.store
                .finish_job(
                    &envelope.job_id,
                    JobStatus::Dead,
                    None,
                    Some(&error.message),
                    now,
                )
                .await?;
        }
        Err(error) => {
            let delay = backoff(ctx.args.job_retry_base_ms, record.attempts);
            let run_after = now + chrono::Duration::from_std(delay).unwrap_or_default();
            tracing::info!(attempt = record.attempts, error = %error.message, ?delay, "job failed; retrying later");
            ctx.metrics
                .observe_job(kind, JobOutcome::Retry, started.elapsed());
            ctx.store
                .retry_job_later(&envelope.job_id, &error.message, run_after, now)
                .await?;
            if let Err(push) = ctx.queue.push(envelope.clone(), Some(run_after)).await {
                let message = format!(
                    "{}; and the retry could not be queued: {push}",
                    error.message
                );
                ctx.store
                    .finish_job(
                        &envelope.job_id,
                        JobStatus::Dead,
                        None,
                        Some(&message),
                        Utc::now(),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

async fn execute(
    ctx: &Arc<Context>,
    envelope: &JobEnvelope,
    record: &JobRecord,
) -> Result<serde_json::Value, JobError> {
    match &envelope.payload {
        JobPayload::Scrape(job) => scrape::run(ctx, &envelope.job_id, record, job).await,
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
