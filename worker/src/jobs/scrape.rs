//! `ScrapeSource`: fetch, extract, upsert, record the run; then, if anything changed,
//! invalidate the derived views and rewarm the hot keys, before the job is reported done.
//!
//! One scrape per source runs at a time across every worker: a second one finds the
//! source's lease taken and ends `done` as skipped (its run is recorded `skipped`). The lease
//! names the delivery that holds it, outlasts the attempt's deadline by a margin, and is
//! given back by a guard whichever way the attempt ends (done, failed, panicked, or stopped
//! at its deadline).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use mediawarm_shared::cache::CacheKey;
use mediawarm_shared::domain::{
    ErrorClass, NewArticle, RunCounts, RunStatus, Source, SourceKind, SourceName,
};
use mediawarm_shared::error::StoreError;
use mediawarm_shared::jobs::{JobKind, JobRecord, ScrapeSource};
use mediawarm_shared::views::{DATA_CATEGORIES, View};
use serde_json::json;

use super::{Delivery, JobError};
use crate::Context;

/// How much longer than the attempt's deadline a scrape holds its source's lease; a worker
/// that dies mid-scrape frees the source after the two.
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Gives a source's lease back when dropped, unless [`SourceLease::release`] did.
struct SourceLease {
    held: Option<(Arc<Context>, SourceName, Delivery)>,
}

impl SourceLease {
    async fn release(mut self) {
        if let Some((ctx, source, delivery)) = self.held.take() {
            release(&ctx, &source, &delivery).await;
        }
    }
}

impl Drop for SourceLease {
    fn drop(&mut self) {
        if let Some((ctx, source, delivery)) = self.held.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move { release(&ctx, &source, &delivery).await });
        }
    }
}

async fn release(ctx: &Context, source: &SourceName, delivery: &Delivery) {
    if let Err(error) = ctx
        .store
        .release_source_lease(source, &delivery.job_id, delivery.number)
        .await
    {
        tracing::warn!(%error, "releasing the source lease failed; it lapses on its own");
    }
}

pub(super) async fn run(
    ctx: &Arc<Context>,
    delivery: &Delivery,
    record: &JobRecord,
    job: &ScrapeSource,
) -> Result<serde_json::Value, JobError> {
    let job_id = delivery.job_id.as_str();
    let source =
        ctx.store.get_source(&job.source).await?.ok_or_else(|| {
            JobError::permanent(format!("unknown source {:?}", job.source.as_str()))
        })?;
    if source.kind == SourceKind::Import {
        return Err(JobError::permanent(format!(
            "source {:?} holds imported articles and has nothing to scrape",
            source.name.as_str()
        )));
    }
    let now = Utc::now();
    let deadline =
        chrono::Duration::from_std(ctx.args.deadline(JobKind::Scrape)).unwrap_or_default();
    if !ctx
        .store
        .acquire_source_lease(
            &source.name,
            job_id,
            delivery.number,
            now + deadline + LEASE_MARGIN,
            now,
        )
        .await?
    {
        let reason = "another scrape of this source was running";
        ctx.store
            .start_run(job_id, delivery.number, &source.name, now)
            .await?;
        ctx.store
            .finish_run(
                job_id,
                delivery.number,
                RunStatus::Skipped,
                RunCounts::default(),
                Some(reason),
                None,
                Utc::now(),
            )
            .await?;
        return Ok(json!({"source": source.name, "skipped": true, "reason": reason}));
    }
    let lease = SourceLease {
        held: Some((Arc::clone(ctx), source.name.clone(), delivery.clone())),
    };
    let result = scrape_with_lease(ctx, delivery, record, job, &source).await;
    lease.release().await;
    result
}

async fn scrape_with_lease(
    ctx: &Arc<Context>,
    delivery: &Delivery,
    record: &JobRecord,
    job: &ScrapeSource,
    source: &Source,
) -> Result<serde_json::Value, JobError> {
    let job_id = delivery.job_id.as_str();
    if !ctx
        .store
        .start_run(job_id, delivery.number, &source.name, Utc::now())
        .await?
    {
        return Err(JobError::transient(
            "a later delivery of this job has started its run",
        ));
    }
    let mut counts = RunCounts::default();
    let mut skipped_pages = Vec::new();
    let outcome = async {
        let output = ctx
            .scraper
            .scrape(source, &ctx.store, job.refresh)
            .await
            .map_err(|e| {
                let class = e.class();
                let error = JobError {
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                };
                (error, class)
            })?;
        counts.pages_fetched = output.pages_fetched;
        skipped_pages = output.skipped_pages;
        let found = output.articles.len();
        let articles = within_caps(output.articles);
        let skipped = found - articles.len();
        let upserted = ctx
            .store
            .upsert_articles(&articles, Utc::now())
            .await
            .map_err(|e| {
                let error = match e {
                    StoreError::Conflict(m) => JobError::permanent(m),
                    other => JobError::from(other),
                };
                (error, ErrorClass::DatabaseError)
            })?;
        counts.articles_new = i64::try_from(upserted.new).unwrap_or(i64::MAX);
        counts.articles_updated = i64::try_from(upserted.updated).unwrap_or(i64::MAX);
        // A later delivery (a retry, a rerun after a crash, a retry by hand of a dead job)
        // may find an earlier delivery's writes already there: it must still invalidate,
        // since that delivery may have stopped before doing so. Deliveries are never reset.
        let rewarmed = if upserted.changed() || record.delivery > 1 {
            Some(
                invalidate_and_rewarm(ctx)
                    .await
                    .map_err(|e| (e, ErrorClass::QueueError))?,
            )
        } else {
            None
        };
        Ok::<_, (JobError, ErrorClass)>(json!({
            "source": source.name,
            "skipped": false,
            "pages_fetched": output.pages_fetched,
            "articles_found": found,
            "articles_skipped": skipped,
            "pages_skipped": skipped_pages.len(),
            "articles_new": upserted.new,
            "articles_updated": upserted.updated,
            "articles_unchanged": upserted.unchanged,
            "invalidated": rewarmed.is_some(),
            "hot_keys_rewarmed": rewarmed.unwrap_or(0),
        }))
    }
    .await;
    let (status, error, class) = match &outcome {
        Ok(_) => (RunStatus::Succeeded, None, None),
        Err((e, class)) => (RunStatus::Failed, Some(e.message.as_str()), Some(*class)),
    };
    let pages = u64::try_from(counts.pages_fetched).unwrap_or(0);
    match &outcome {
        Ok(_) => ctx.metrics.observe_scrape(
            source.name.as_str(),
            pages,
            u64::try_from(counts.articles_new).unwrap_or(0),
            u64::try_from(counts.articles_updated).unwrap_or(0),
        ),
        Err((_, class)) => ctx
            .metrics
            .observe_scrape_error(source.name.as_str(), pages, *class),
    }
    if !skipped_pages.is_empty() {
        ctx.store
            .record_skipped_pages(job_id, delivery.number, &skipped_pages)
            .await?;
    }
    ctx.store
        .finish_run(
            job_id,
            delivery.number,
            status,
            counts,
            error,
            class,
            Utc::now(),
        )
        .await?;
    outcome.map_err(|(error, _)| error)
}

/// The articles that may be stored, cut to the field caps; those that may not (a URL over
/// the cap) are left out and logged, so they never fail the run's upsert.
fn within_caps(articles: Vec<NewArticle>) -> Vec<NewArticle> {
    articles
        .into_iter()
        .filter_map(|article| {
            let start: String = article.url.chars().take(120).collect();
            article
                .within_caps()
                .inspect_err(|error| tracing::warn!(url = %start, %error, "article skipped"))
                .ok()
        })
        .collect()
}

/// Supersedes every data category and installs fresh values for its hot keys (the
/// `WARM_TOP_N` hottest); returns how many hot keys were rewarmed.
pub(crate) async fn invalidate_and_rewarm(ctx: &Arc<Context>) -> Result<u64, JobError> {
    let hot = ctx
        .hot
        .top(ctx.args.warm_top_n)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "hot keys unavailable: invalidating without rewarming");
            Vec::new()
        });
    let mut warmed = 0;
    for category in DATA_CATEGORIES {
        let keys: Vec<CacheKey> = hot
            .iter()
            .filter(|k| k.category() == *category)
            .cloned()
            .collect();
        let started = Instant::now();
        let report = ctx
            .cache
            .invalidate_and_rewarm(category, &keys, |key| {
                let ctx = Arc::clone(ctx);
                async move {
                    let view = View::parse(key.as_str()).map_err(|e| e.to_string())?;
                    view.compute(&ctx.store, &ctx.views, Utc::now())
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .await
            .map_err(|e| JobError::transient(format!("invalidating {category}:*: {e}")))?;
        ctx.metrics.observe_warm(category, started.elapsed());
        warmed += report.warmed;
    }
    Ok(warmed)
}
