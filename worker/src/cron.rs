//! The scheduler: enqueues `ScrapeSource` for each enabled source on its cron schedule.
//!
//! Every worker process (and the embedded API) runs one. Each tick is enqueued with the
//! de-duplication key `cron:<source>:<tick unix seconds>`, which the jobs table holds
//! unique: however many schedulers run, a tick makes exactly one job. A tick is skipped
//! (and counted in `mediawarm_cron_ticks_skipped_total`) while the source still has a
//! `pending` scheduled scrape, so a source whose scrapes cannot keep up with its schedule,
//! or a stopped worker fleet, piles up one waiting job per source, not one per tick.
//! Schedulers notice a source being added, changed or deleted by polling the sources'
//! version every [`POLL`] (well within the 2 s the design promises).
//!
//! Each poll costs one version query plus work proportional to the ticks due: plans wait
//! in an ordered queue by next tick, so sources not due are not looked at.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawarm_shared::domain::SourceName;
use mediawarm_shared::jobs::{JobPayload, ScrapeSource};
use mediawarm_shared::queue::{
    EnqueueError, EnqueueOptions, Enqueued, OnPushFailure, enqueue_unless_pending,
};
use mediawarm_shared::store::SourcesVersion;

use crate::Context;

/// How often the scheduler looks at the clock and at the sources' version.
pub const POLL: Duration = Duration::from_millis(200);
/// Ticks missed while a scheduler lagged are caught up, up to this many per source.
const MAX_CATCH_UP: usize = 5;

/// One source's schedule.
#[derive(Debug)]
struct Plan {
    /// The expression as stored, to notice changes.
    spec: String,
    schedule: cron::Schedule,
    /// The next tick to enqueue.
    next: DateTime<Utc>,
}

/// What one [`Scheduler::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Whether the sources were read again (their version changed).
    pub reloaded: bool,
    /// Ticks this scheduler recorded as jobs.
    pub enqueued: u64,
    /// Ticks skipped because the source's previous scheduled scrape was still pending.
    pub skipped: u64,
    /// Ticks another scheduler had already recorded.
    pub duplicates: u64,
    /// Ticks not recorded for another reason (queue full, store failure).
    pub failed: u64,
}

/// One scheduler's state: the plan of every scheduled source, ordered by next tick.
#[derive(Debug, Default)]
pub struct Scheduler {
    version: Option<SourcesVersion>,
    plans: HashMap<SourceName, Plan>,
    /// `(next tick, source)` for every plan: the due ones are at the front.
    queue: BTreeSet<(DateTime<Utc>, SourceName)>,
}

impl Scheduler {
    /// A scheduler that has read no source yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sources it schedules.
    pub fn scheduled(&self) -> usize {
        self.plans.len()
    }

    /// Reads the sources again if their version changed, then enqueues every tick due at
    /// `now` (catching up at most [`MAX_CATCH_UP`] per source).
    pub async fn poll(&mut self, ctx: &Context, now: DateTime<Utc>) -> PollReport {
        let mut report = PollReport::default();
        match ctx.store.sources_version().await {
            Ok(current) if self.version.as_ref() != Some(&current) => {
                if self.reload(ctx, now).await {
                    self.version = Some(current);
                    report.reloaded = true;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "scheduler: reading sources failed");
                return report;
            }
        }
        self.fire_due(ctx, now, &mut report).await;
        report
    }

    /// Rebuilds the plans from the sources; keeps the next tick of unchanged schedules.
    async fn reload(&mut self, ctx: &Context, now: DateTime<Utc>) -> bool {
        let sources = match ctx.store.list_sources().await {
            Ok(sources) => sources,
            Err(error) => {
                tracing::warn!(%error, "scheduler: listing sources failed");
                return false;
            }
        };
        let mut plans = HashMap::new();
        for source in sources.into_iter().filter(|s| s.enabled) {
            ctx.metrics.register_source(source.name.as_str());
            let Some(spec) = source.schedule else {
                continue;
            };
            if let Some(plan) = self.plans.remove(&source.name).filter(|p| p.spec == spec) {
                plans.insert(source.name, plan);
                continue;
            }
            let schedule = match cron::Schedule::from_str(&spec) {
                Ok(schedule) => schedule,
                Err(error) => {
                    tracing::warn!(source = %source.name, %error, "scheduler: unparsable schedule skipped");
                    continue;
                }
            };
            if let Some(next) = schedule.after(&now).next() {
                plans.insert(
                    source.name,
                    Plan {
                        spec,
                        schedule,
                        next,
                    },
                );
            }
        }
        tracing::info!(scheduled = plans.len(), "scheduler: sources loaded");
        self.queue = plans
            .iter()
            .map(|(name, plan)| (plan.next, name.clone()))
            .collect();
        self.plans = plans;
        true
    }

    /// Enqueues every due tick, front of the queue first.
    async fn fire_due(&mut self, ctx: &Context, now: DateTime<Utc>, report: &mut PollReport) {
        if self.queue.first().is_none_or(|first| first.0 > now) {
            return;
        }
        let mut depth = match ctx.store.unfinished_jobs().await {
            Ok(depth) => depth,
            Err(error) => {
                tracing::warn!(%error, "scheduler: reading the queue depth failed");
                return;
            }
        };
        while let Some(first) = self.queue.first()
            && first.0 <= now
        {
            let Some((_, name)) = self.queue.pop_first() else {
                break;
            };
            let Some(plan) = self.plans.get_mut(&name) else {
                continue;
            };
            let mut fired = 0;
            while plan.next <= now && fired < MAX_CATCH_UP {
                enqueue_tick(ctx, &name, plan.next, &mut depth, report).await;
                fired += 1;
                match plan.schedule.after(&plan.next).next() {
                    Some(next) => plan.next = next,
                    None => break,
                }
            }
            if plan.next <= now {
                match plan.schedule.after(&now).next() {
                    Some(next) => plan.next = next,
                    None => {
                        self.plans.remove(&name);
                        continue;
                    }
                }
            }
            self.queue.insert((plan.next, name));
        }
    }
}

/// Runs until `shutdown` completes.
pub async fn run_scheduler(ctx: Arc<Context>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut scheduler = Scheduler::new();
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("scheduler started");
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {}
        }
        scheduler.poll(&ctx, Utc::now()).await;
    }
    tracing::info!("scheduler stopped");
}

/// Records one tick unless the source's previous scheduled scrape is still pending or the
/// queue holds `max_depth` unfinished jobs (`depth`, counted up as jobs are recorded).
async fn enqueue_tick(
    ctx: &Context,
    source: &SourceName,
    tick: DateTime<Utc>,
    depth: &mut i64,
    report: &mut PollReport,
) {
    let options = EnqueueOptions {
        dedup_key: Some(format!("cron:{source}:{}", tick.timestamp())),
        on_push_failure: OnPushFailure::LeaveForReconciler,
        ..ctx.args.enqueue_options()
    };
    if *depth >= options.max_depth {
        tracing::warn!(%source, %tick, depth = *depth, "queue full: scheduled scrape skipped");
        report.failed += 1;
        return;
    }
    let payload = JobPayload::Scrape(ScrapeSource {
        source: source.clone(),
        refresh: false,
    });
    let prefix = format!("cron:{source}:");
    match enqueue_unless_pending(&ctx.store, &ctx.queue, payload, &options, &prefix).await {
        Ok(Enqueued::Job(job_id)) => {
            *depth += 1;
            report.enqueued += 1;
            tracing::info!(%source, %tick, %job_id, "scheduled scrape enqueued");
        }
        Ok(Enqueued::Duplicate) => {
            report.duplicates += 1;
            tracing::debug!(%source, %tick, "tick already enqueued by another scheduler");
        }
        Ok(Enqueued::Pending) => {
            report.skipped += 1;
            ctx.metrics.count_cron_tick_skipped();
            tracing::debug!(%source, %tick, "previous scheduled scrape still pending: tick skipped");
        }
        Err(EnqueueError::QueueFull { depth }) => {
            report.failed += 1;
            tracing::warn!(%source, %tick, depth, "queue full: scheduled scrape skipped");
        }
        Err(error) => {
            report.failed += 1;
            tracing::warn!(%source, %tick, %error, "scheduled scrape not enqueued");
        }
    }
}

#[cfg(test)]
mod tests {
    //! Two schedulers over one store and queue, driven poll by poll with the clock given,
    //! and no worker taking deliveries.

    use chrono::{DurationRound, TimeDelta};
    use mediawarm_shared::domain::{Source, SourceKind};
    use mediawarm_shared::jobs::{JobKind, JobStatus};
    use mediawarm_shared::store::JobStart;
    use mediawarm_testkit::services::TestServices;

    use super::*;

    const SOURCES: usize = 200;

    fn source(i: usize, schedule: &str) -> Source {
        let mut source = Source::import(SourceName::parse(&format!("s{i:04}")).expect("name"));
        source.kind = SourceKind::Rss;
        source.url = format!("http://127.0.0.1:9/{i}.xml");
        source.schedule = Some(schedule.to_owned());
        source
    }

    /// Pending scrape jobs per source name.
    async fn pending(ctx: &Context) -> HashMap<String, Vec<String>> {
        let jobs = ctx
            .store
            .list_jobs(Some(JobStatus::Pending), Some(JobKind::Scrape), 100_000)
            .await
            .expect("jobs");
        let mut by_source: HashMap<String, Vec<String>> = HashMap::new();
        for job in jobs {
            let Ok(JobPayload::Scrape(scrape)) = serde_json::from_value(job.payload) else {
                panic!("not a scrape payload");
            };
            by_source
                .entry(scrape.source.as_str().to_owned())
                .or_default()
                .push(job.id);
        }
        by_source
    }

    async fn skipped(ctx: &Context) -> f64 {
        let text = ctx.metrics.render(&ctx.store).await;
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(name, _)| *name == "mediawarm_cron_ticks_skipped_total")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("skipped counter in\n{text}"))
    }

    /// Two schedulers, a few hundred sources every second, nothing consuming: each source
    /// ends with one pending job; every later tick is skipped and counted. A source whose
    /// job started gets its next tick; a changed schedule is seen at the next poll.
    async fn one_pending_job_per_source_and_skips_counted(a: Arc<Context>, b: Arc<Context>) {
        for i in 0..SOURCES {
            a.store
                .insert_source(&source(i, "* * * * * *"))
                .await
                .expect("insert source");
        }
        let start = Utc::now()
            .duration_trunc(TimeDelta::seconds(1))
            .expect("trunc");
        let (mut sa, mut sb) = (Scheduler::new(), Scheduler::new());
        let first_a = sa.poll(&a, start).await;
        let first_b = sb.poll(&b, start).await;
        assert!(first_a.reloaded && first_b.reloaded);
        assert_eq!((sa.scheduled(), sb.scheduled()), (SOURCES, SOURCES));
        let rounds = 4u64;
        let mut total = PollReport::default();
        for second in 1..=rounds {
            let now = start + TimeDelta::seconds(second as i64);
            let (ra, rb) = if second % 2 == 0 {
                let rb = sb.poll(&b, now).await;
                (sa.poll(&a, now).await, rb)
            } else {
                let ra = sa.poll(&a, now).await;
                (ra, sb.poll(&b, now).await)
            };
            for report in [ra, rb] {
                total.enqueued += report.enqueued;
                total.skipped += report.skipped;
                total.duplicates += report.duplicates;
                total.failed += report.failed;
            }
        }
        let n = SOURCES as u64;
        assert_eq!(total.failed, 0, "{total:?}");
        assert_eq!(total.enqueued, n, "{total:?}");
        assert_eq!(total.duplicates, n, "{total:?}");
        assert_eq!(total.skipped, 2 * n * (rounds - 1), "{total:?}");
        assert_eq!(skipped(&a).await + skipped(&b).await, total.skipped as f64);
        let jobs = pending(&a).await;
        assert_eq!(jobs.len(), SOURCES);
        assert!(jobs.values().all(|ids| ids.len() == 1), "{jobs:?}");

        let started = &jobs["s0000"][0];
        let now = start + TimeDelta::seconds(rounds as i64);
        let start_job = a
            .store
            .start_job(started, "test", now + TimeDelta::seconds(60), now)
            .await
            .expect("start");
        assert!(matches!(start_job, JobStart::Started(_)), "{start_job:?}");
        let mut changed = source(1, "0 0 0 1 1 *");
        changed.enabled = true;
        assert!(a.store.update_source(&changed).await.expect("update"));

        let now = now + TimeDelta::seconds(1);
        let ra = sa.poll(&a, now).await;
        let rb = sb.poll(&b, now).await;
        assert!(ra.reloaded && rb.reloaded, "{ra:?} {rb:?}");
        assert_eq!(ra.enqueued + rb.enqueued, 1, "{ra:?} {rb:?}");
        assert_eq!(ra.skipped + rb.skipped, 2 * (n - 2), "{ra:?} {rb:?}");
        let jobs = pending(&a).await;
        assert_eq!(jobs["s0000"].len(), 1);
        assert_ne!(&jobs["s0000"][0], started);
        assert_eq!(jobs["s0001"].len(), 1, "the changed source keeps its job");
    }

    /// Two schedulers enqueueing the same due ticks concurrently still record one job per
    /// source.
    async fn racing_schedulers_record_one_job_per_tick(a: Arc<Context>, b: Arc<Context>) {
        for i in 0..SOURCES {
            a.store
                .insert_source(&source(i, "* * * * * *"))
                .await
                .expect("insert source");
        }
        let start = Utc::now()
            .duration_trunc(TimeDelta::seconds(1))
            .expect("trunc");
        let (mut sa, mut sb) = (Scheduler::new(), Scheduler::new());
        sa.poll(&a, start).await;
        sb.poll(&b, start).await;
        let mut enqueued = 0;
        for second in 1..=3 {
            let now = start + TimeDelta::seconds(second);
            let (ra, rb) = tokio::join!(sa.poll(&a, now), sb.poll(&b, now));
            assert_eq!(ra.failed + rb.failed, 0, "{ra:?} {rb:?}");
            enqueued += ra.enqueued + rb.enqueued;
        }
        assert_eq!(enqueued, SOURCES as u64);
        let jobs = pending(&a).await;
        assert_eq!(jobs.len(), SOURCES);
        assert!(jobs.values().all(|ids| ids.len() == 1), "{jobs:?}");
    }

    macro_rules! both_stacks {
        ($($name:ident),* $(,)?) => {
            mod embedded {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let dir = tempfile::tempdir().expect("tempdir");
                        let a = crate::test_support::context(dir.path(), None).await;
                        let b = crate::test_support::context(dir.path(), None).await;
                        super::$name(a, b).await;
                    }
                )*
            }
            mod production {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                    async fn $name() {
                        let dir = tempfile::tempdir().expect("tempdir");
                        let services = super::TestServices::create("cron").await;
                        let a = crate::test_support::context(dir.path(), Some(&services)).await;
                        let b = crate::test_support::context(dir.path(), Some(&services)).await;
                        super::$name(a, b).await;
                    }
                )*
            }
        };
    }

    both_stacks!(
        one_pending_job_per_source_and_skips_counted,
        racing_schedulers_record_one_job_per_tick,
    );
}
