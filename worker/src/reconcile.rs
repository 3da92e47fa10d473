//! The reconciler: every accepted job runs, whatever the queue remembers.
//!
//! The jobs table is the record of every accepted job; the queue (Redis or the SQLite queue
//! file) only carries deliveries, and may forget them: a Redis restarted empty, a process
//! killed between recording a job and pushing it, a retry whose push failed, a delivery
//! acknowledged while the database was down. Each pass, under a process lease that one
//! process at a time holds (every worker and the embedded API compete for it):
//! 1. **Rescue**: a `running` job whose lease has lapsed lost its delivery (a dead worker, or
//!    one cut from the database). The lease is at least twice the queue's orphan window, so
//!    apalis' own re-queue of a dead worker's tasks has come and gone first. The lost attempt
//!    counts: the job goes back to `pending` and is pushed, or ends `dead` when its attempts
//!    are spent.
//! 2. **Re-push**: a due `pending` job untouched for [`SETTLE`] whose recorded task the
//!    queue no longer holds is pushed again under a new task id, recorded first. At most
//!    [`MAX_CARRIER_BACKLOG`] entries are let wait in a queue, so a large rescue never pushes
//!    apalis-redis past the backlog at which its fetch breaks.
//! 3. **Sweep**: the records apalis keeps of acknowledged tasks are removed (the jobs table
//!    holds the outcome), so the queue's memory stays flat.
//!
//! A task pushed twice (a race with a slow push) is harmless: deliveries are fenced by the
//! jobs table, so one runs and the other is dropped.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mediawarm_shared::error::StoreError;
use mediawarm_shared::jobs::{JobEnvelope, JobKind, JobPayload};
use mediawarm_shared::queue::{MAX_CARRIER_BACKLOG, QueueError, new_task_id};
use mediawarm_shared::store::{Rescue, UnqueuedCandidate};
use tokio::sync::watch;

use crate::Context;

/// The process lease's name.
const LEASE_NAME: &str = "reconciler";

/// How long a pending job must be left untouched before its queue entry is checked: a job
/// is recorded just before it is pushed, and a push in flight must not look lost.
pub const SETTLE: Duration = Duration::from_secs(5);

/// Rows read per query.
const PAGE: u32 = 500;

/// Acknowledged task records removed per queue and pass, at most.
const SWEEP_PER_PASS: usize = 50_000;

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The jobs table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Lapsed running jobs put back to `pending` and pushed.
    pub rescued: u64,
    /// Lapsed running jobs whose attempts were spent, ended `dead`.
    pub buried: u64,
    /// Pending jobs pushed again because the queue no longer held them.
    pub repushed: u64,
    /// Pending jobs left for a later pass because their queue was full.
    pub deferred: u64,
    /// Acknowledged task records removed from the queue.
    pub swept: u64,
}

/// Runs a pass every `RECONCILE_INTERVAL_MS` while this process holds the reconciler's
/// lease (taken for two periods and renewed each period, so another process takes over
/// within two periods of the holder's death), until `stop` turns true; then gives the lease
/// up.
pub async fn run(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let period = ctx.args.reconcile_interval();
    let hold = chrono::Duration::from_std(period * 2).unwrap_or_default();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            _ = ticks.tick() => {}
        }
        let now = Utc::now();
        match ctx
            .store
            .take_process_lease(LEASE_NAME, &ctx.instance, now + hold, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::debug!(%error, "reconciler: the lease could not be read");
                continue;
            }
        }
        match pass(&ctx).await {
            Ok(report)
                if report.rescued + report.buried + report.repushed + report.deferred > 0 =>
            {
                tracing::info!(
                    ?report,
                    "reconciler: jobs the queue had lost are running again"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reconciler: pass stopped early"),
        }
    }
    if let Err(error) = ctx
        .store
        .release_process_lease(LEASE_NAME, &ctx.instance)
        .await
    {
        tracing::debug!(%error, "reconciler: giving the lease up failed; it lapses");
    }
}

/// One pass: rescue, re-push, sweep (see the module's documentation). The caller holds the
/// reconciler's lease.
pub async fn pass(ctx: &Context) -> Result<PassReport, ReconcileError> {
    let mut report = PassReport::default();
    let mut room = Room::new();
    rescue(ctx, &mut room, &mut report).await?;
    repush(ctx, &mut room, &mut report).await?;
    for kind in JobKind::ALL {
        report.swept += ctx.queue.sweep_acknowledged(kind, SWEEP_PER_PASS).await?;
    }
    Ok(report)
}

/// How many more entries each queue may take in this pass.
#[derive(Debug)]
struct Room([Option<u64>; 3]);

impl Room {
    fn new() -> Self {
        Self([None; 3])
    }

    /// Takes one place in `kind`'s queue; `false` when it is full.
    async fn take(&mut self, ctx: &Context, kind: JobKind) -> Result<bool, QueueError> {
        let slot = &mut self.0[index(kind)];
        let left = match *slot {
            Some(left) => left,
            None => MAX_CARRIER_BACKLOG.saturating_sub(ctx.queue.backlog(kind).await?),
        };
        *slot = Some(left.saturating_sub(1));
        Ok(left > 0)
    }
}

fn index(kind: JobKind) -> usize {
    match kind {
        JobKind::Scrape => 0,
        JobKind::Warm => 1,
        JobKind::Invalidate => 2,
    }
}

async fn rescue(
    ctx: &Context,
    room: &mut Room,
    report: &mut PassReport,
) -> Result<(), ReconcileError> {
    let now = Utc::now();
    for job in ctx.store.lapsed_jobs(now, PAGE).await? {
        let task_id = new_task_id();
        match ctx
            .store
            .rescue_job(&job.id, job.delivery, &task_id, now, Utc::now())
            .await?
        {
            Rescue::Requeued => {
                ctx.metrics.observe_rescued(job.kind);
                report.rescued += 1;
                // A full queue leaves the rescued row pending under a task the queue does not
                // hold: a later pass's re-push takes it up once there is room.
                if room.take(ctx, job.kind).await? {
                    push(ctx, &job.id, job.payload, job.request_id, &task_id).await?;
                } else {
                    report.deferred += 1;
                }
            }
            Rescue::Buried => {
                ctx.metrics.observe_rescued(job.kind);
                report.buried += 1;
            }
            Rescue::Moved => {}
        }
    }
    Ok(())
}

async fn repush(
    ctx: &Context,
    room: &mut Room,
    report: &mut PassReport,
) -> Result<(), ReconcileError> {
    let settled_before = Utc::now() - chrono::Duration::from_std(SETTLE).unwrap_or_default();
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .store
            .unqueued_candidates(Utc::now(), settled_before, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id.clone());
        let last_page = page.len() < PAGE as usize;
        for kind in JobKind::ALL {
            let of_kind: Vec<&UnqueuedCandidate> = page.iter().filter(|c| c.kind == kind).collect();
            let ids: Vec<String> = of_kind
                .iter()
                .map(|c| c.task_id.clone().unwrap_or_default())
                .collect();
            let held = ctx.queue.holds(kind, &ids).await?;
            for (candidate, held) in of_kind.into_iter().zip(held) {
                if held {
                    continue;
                }
                if !room.take(ctx, kind).await? {
                    report.deferred += 1;
                    continue;
                }
                let task_id = new_task_id();
                if ctx
                    .store
                    .set_job_task(
                        &candidate.id,
                        candidate.task_id.as_deref(),
                        &task_id,
                        Utc::now(),
                    )
                    .await?
                {
                    push(
                        ctx,
                        &candidate.id,
                        candidate.payload.clone(),
                        candidate.request_id.clone(),
                        &task_id,
                    )
                    .await?;
                    ctx.metrics.observe_repushed(kind);
                    report.repushed += 1;
                }
            }
        }
        if last_page {
            return Ok(());
        }
    }
}

/// Pushes job `id` under `task_id`. A payload that no longer parses (written by another
/// version) cannot run: the job ends dead, saying so.
async fn push(
    ctx: &Context,
    id: &str,
    payload: serde_json::Value,
    request_id: Option<String>,
    task_id: &str,
) -> Result<(), ReconcileError> {
    let payload: JobPayload = match serde_json::from_value(payload) {
        Ok(payload) => payload,
        Err(error) => {
            let message = format!("the stored payload does not parse: {error}");
            tracing::warn!(job_id = id, %message, "reconciler: job ended dead");
            ctx.store
                .abandon_pending_job(id, &message, Utc::now())
                .await?;
            return Ok(());
        }
    };
    let envelope = JobEnvelope {
        job_id: id.to_owned(),
        payload,
        request_id,
    };
    ctx.queue.push(envelope, task_id, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! One pass against a real store and queue, with no worker taking deliveries: what the
    //! pass changes in the jobs table, the queue and the metrics.

    use mediawarm_shared::jobs::{JobStatus, WarmCache};
    use mediawarm_shared::store::{JobStart, NewJob};
    use mediawarm_testkit::services::TestServices;

    use super::*;

    /// Records `n` warm jobs a minute ago under task ids the queue never saw (a push that
    /// never happened); returns their ids.
    async fn orphans(ctx: &Context, n: usize) -> Vec<String> {
        let payload = serde_json::to_value(JobPayload::Warm {
            target: WarmCache::TopN(1),
        })
        .expect("payload");
        let recorded = Utc::now() - chrono::Duration::minutes(1);
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = ulid::Ulid::generate().to_string();
            let job = NewJob {
                id: &id,
                kind: JobKind::Warm,
                payload: &payload,
                max_attempts: 3,
                dedup_key: None,
                request_id: None,
                task_id: &new_task_id(),
            };
            assert!(ctx.store.insert_job(&job, recorded).await.expect("insert"));
            ids.push(id);
        }
        ids
    }

    fn metric(series: &str, text: &str) -> f64 {
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    }

    /// More orphans than the queue may take: the pass pushes up to the backlog cap and
    /// defers the rest; the next pass pushes nothing twice and still defers.
    async fn a_rescue_larger_than_the_backlog_cap_fills_the_queue_to_the_cap(ctx: Arc<Context>) {
        let over = 100;
        orphans(&ctx, MAX_CARRIER_BACKLOG as usize + over).await;
        let report = pass(&ctx).await.expect("pass");
        assert_eq!(report.repushed, MAX_CARRIER_BACKLOG, "{report:?}");
        assert_eq!(report.deferred, over as u64, "{report:?}");
        assert_eq!(
            ctx.queue.backlog(JobKind::Warm).await.expect("backlog"),
            MAX_CARRIER_BACKLOG
        );
        let again = pass(&ctx).await.expect("second pass");
        assert_eq!(again.repushed, 0, "{again:?}");
        assert_eq!(again.deferred, over as u64, "{again:?}");
        assert_eq!(
            ctx.queue.backlog(JobKind::Warm).await.expect("backlog"),
            MAX_CARRIER_BACKLOG
        );
        let text = ctx.metrics.render(&ctx.store).await;
        assert_eq!(
            metric("mediawarm_jobs_repushed_total{kind=\"warm\"}", &text),
            MAX_CARRIER_BACKLOG as f64
        );
    }

    /// A running job whose lease lapsed, and one whose lease was never written (a row from
    /// before leases existed), are both rescued: back to pending, pushed, counted.
    async fn lapsed_and_missing_leases_are_rescued_and_counted(ctx: Arc<Context>) {
        let ids = orphans(&ctx, 2).await;
        let now = Utc::now();
        for id in &ids {
            let start = ctx
                .store
                .start_job(id, "gone", now - chrono::Duration::seconds(1), now)
                .await
                .expect("start");
            assert!(matches!(start, JobStart::Started(_)), "{start:?}");
        }
        ctx.store
            .clear_job_lease_for_tests(&ids[1])
            .await
            .expect("clear the lease");
        let report = pass(&ctx).await.expect("pass");
        assert_eq!(report.rescued, 2, "{report:?}");
        for id in &ids {
            let job = ctx.store.job(id).await.expect("job").expect("exists");
            assert_eq!(job.status, JobStatus::Pending, "{job:?}");
            assert_eq!(job.attempts, 1, "the lost attempt counts: {job:?}");
        }
        assert_eq!(ctx.queue.backlog(JobKind::Warm).await.expect("backlog"), 2);
        let text = ctx.metrics.render(&ctx.store).await;
        assert_eq!(
            metric("mediawarm_jobs_rescued_total{kind=\"warm\"}", &text),
            2.0
        );
        assert_eq!(
            metric("mediawarm_jobs_rescued_total{kind=\"scrape\"}", &text),
            0.0
        );
    }

    macro_rules! both_stacks {
        ($($name:ident),* $(,)?) => {
            mod embedded {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let dir = tempfile::tempdir().expect("tempdir");
                        super::$name(crate::test_support::context(dir.path(), None).await).await;
                    }
                )*
            }
            mod production {
                $(
                    #[tokio::test]
                    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                    async fn $name() {
                        let dir = tempfile::tempdir().expect("tempdir");
                        let services = super::TestServices::create("reconcile").await;
                        super::$name(crate::test_support::context(dir.path(), Some(&services)).await).await;
                    }
                )*
            }
        };
    }

    both_stacks!(
        a_rescue_larger_than_the_backlog_cap_fills_the_queue_to_the_cap,
        lapsed_and_missing_leases_are_rescued_and_counted,
    );
}
