//! The scheduler: enqueues `ScrapeSource` for each enabled source on its cron schedule.
//!
//! Every worker process (and the embedded API) runs one. Each tick is enqueued with the
//! de-duplication key `cron:<source>:<tick unix seconds>`, which the jobs table holds
//! unique: however many schedulers run, a tick makes exactly one job. Schedulers notice a
//! source being added, changed or deleted by polling the sources' version every
//! [`POLL`] (well within the 2 s the design promises).

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawarm_shared::domain::SourceName;
use mediawarm_shared::jobs::{JobPayload, ScrapeSource};
use mediawarm_shared::queue::{EnqueueError, EnqueueOptions, OnPushFailure, enqueue};
use mediawarm_shared::store::SourcesVersion;

use crate::Context;

/// How often the scheduler looks at the clock and at the sources' version.
const POLL: Duration = Duration::from_millis(200);
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

/// Runs until `shutdown` completes.
pub async fn run_scheduler(ctx: Arc<Context>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut version: Option<SourcesVersion> = None;
    let mut plans: HashMap<SourceName, Plan> = HashMap::new();
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("scheduler started");
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {}
        }
        match ctx.store.sources_version().await {
            Ok(current) if version.as_ref() != Some(&current) => {
                if reload(&ctx, &mut plans).await {
                    version = Some(current);
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "scheduler: reading sources failed");
                continue;
            }
        }
        fire_due(&ctx, &mut plans).await;
    }
    tracing::info!("scheduler stopped");
}

/// Rebuilds the plans from the sources; keeps the next tick of unchanged schedules.
async fn reload(ctx: &Context, plans: &mut HashMap<SourceName, Plan>) -> bool {
    let sources = match ctx.store.list_sources().await {
        Ok(sources) => sources,
        Err(error) => {
            tracing::warn!(%error, "scheduler: listing sources failed");
            return false;
        }
    };
    let now = Utc::now();
    let mut next_plans = HashMap::new();
    for source in sources.into_iter().filter(|s| s.enabled) {
        ctx.metrics.register_source(source.name.as_str());
        let Some(spec) = source.schedule.clone() else {
            continue;
        };
        if let Some(plan) = plans.remove(&source.name).filter(|p| p.spec == spec) {
            next_plans.insert(source.name, plan);
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
            next_plans.insert(
                source.name,
                Plan {
                    spec,
                    schedule,
                    next,
                },
            );
        }
    }
    tracing::info!(scheduled = next_plans.len(), "scheduler: sources loaded");
    *plans = next_plans;
    true
}

/// Enqueues every due tick (catching up at most [`MAX_CATCH_UP`] per source).
async fn fire_due(ctx: &Context, plans: &mut HashMap<SourceName, Plan>) {
    let now = Utc::now();
    for (name, plan) in plans.iter_mut() {
        let mut fired = 0;
        while plan.next <= now && fired < MAX_CATCH_UP {
            enqueue_tick(ctx, name, plan.next).await;
            fired += 1;
            match plan.schedule.after(&plan.next).next() {
                Some(next) => plan.next = next,
                None => break,
            }
        }
        if plan.next <= now
            && let Some(next) = plan.schedule.after(&now).next()
        {
            plan.next = next;
        }
    }
}

async fn enqueue_tick(ctx: &Context, source: &SourceName, tick: DateTime<Utc>) {
    let options = EnqueueOptions {
        dedup_key: Some(format!("cron:{source}:{}", tick.timestamp())),
        on_push_failure: OnPushFailure::LeaveForReconciler,
        ..ctx.args.enqueue_options()
    };
    let payload = JobPayload::Scrape(ScrapeSource {
        source: source.clone(),
        refresh: false,
    });
    match enqueue(&ctx.store, &ctx.queue, payload, &options).await {
        Ok(Some(job_id)) => tracing::info!(%source, %tick, %job_id, "scheduled scrape enqueued"),
        Ok(None) => tracing::debug!(%source, %tick, "tick already enqueued by another scheduler"),
        Err(EnqueueError::QueueFull { depth }) => {
            tracing::warn!(%source, %tick, depth, "queue full: scheduled scrape skipped");
        }
        Err(error) => tracing::warn!(%source, %tick, %error, "scheduled scrape not enqueued"),
    }
}
