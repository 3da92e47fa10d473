//! `mediawarm-worker backfill`: corrects the dates of a source's stored articles with the
//! current extractor, so that a better extractor also fixes what is already stored.
//!
//! The source's stored articles are read in pages of [`PAGE_ROWS`] by ascending id (never
//! all in memory); each page is fetched again through the scraper ([`Scraper::page_date`]:
//! the politeness, robots.txt, address guard and body cap of a scrape, one page at a time)
//! and its date extracted. Policy:
//! - Only the date is corrected. Title, author and summary are left to normal scrapes
//!   (`refresh` re-reads known pages); a date is what the volume view counts, and what a
//!   scrape cannot fix because `sort_at` never moves on an upsert.
//! - A row changes only when the extractor now finds a date and it differs from the stored
//!   one. A page that states no date, or that fails to fetch or extract, leaves its row
//!   alone and is counted.
//! - `sort_at` follows the corrected `published_at`. This command is the only writer that
//!   moves `sort_at`; a keyset cursor handed out before it ran may skip or repeat an article
//!   whose `sort_at` moved (pages are cut at `(sort_at, id)`), every other article is still
//!   seen exactly once. There is no option to keep `sort_at`: the volume view and the
//!   scores count by it, so a correction that left it would change nothing anyone sees.
//! - Corrections are written one transaction per page of rows, each row only if its date is
//!   still the one read (a scrape in between wins); `first_seen_at` is never written.
//! - After any correction, every data category (`media`, `volume`, `simplified`) is
//!   invalidated through the cache service and its hot keys rewarmed, as after a scrape: a
//!   generation bump in Redis that every process sharing it sees before this command
//!   returns. Without Redis (embedded mode) this process's cache is its own, so an
//!   `invalidate` job for the three categories is also enqueued for the worker running
//!   inside the API process to run.
//! - `dry_run` fetches and counts the same way and writes nothing, invalidates nothing.
//! - Stopping early (the `stop` future completes, or the store fails) keeps the batches
//!   already written and still invalidates when any were, so no derived view outlives the
//!   data it was computed from. A stop ends the page being fetched and is reported
//!   (`interrupted`); a page whose correction was not written counts as `changed` only.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::error::StoreError;
use mediawarm_shared::jobs::{InvalidateCache, JobPayload};
use mediawarm_shared::queue::{EnqueueError, enqueue};
use mediawarm_shared::store::{DateCorrection, StoredDate};
use mediawarm_shared::views::DATA_CATEGORIES;
use serde::Serialize;

use crate::Context;
use crate::scraper::{PageDate, Scraper};

/// Stored articles read, fetched and corrected per batch (one write transaction each).
pub const PAGE_ROWS: u32 = 100;

/// What a backfill is asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillOptions {
    /// Most stored pages fetched (lowest ids first); `None`: all of them.
    pub limit: Option<u64>,
    /// Fetch and count, write nothing and invalidate nothing.
    pub dry_run: bool,
}

/// What a backfill did, counted per stored article.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackfillReport {
    /// The source.
    pub source: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Stored articles whose page was fetched.
    pub pages: u64,
    /// Pages whose date is the stored one.
    pub unchanged: u64,
    /// Pages whose date differs from the stored one (with `dry_run`: would be corrected).
    pub changed: u64,
    /// Rows corrected (below `changed` when a scrape changed a row in between).
    pub written: u64,
    /// Pages fetched that state no date (their rows are left alone).
    pub no_date: u64,
    /// Pages that could not be fetched or read (their rows are left alone).
    pub failed: u64,
    /// Whether the derived views were invalidated.
    pub invalidated: bool,
    /// Hot keys recomputed after the invalidation.
    pub hot_keys_rewarmed: u64,
    /// The `invalidate` job enqueued for the API's in-process worker (embedded mode only).
    pub invalidate_job: Option<String>,
    /// Whether the run was stopped before it had read every page it was asked to.
    pub interrupted: bool,
}

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// No live source has that name.
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// The source holds imported articles: they have no page to fetch again.
    #[error("source {0:?} holds imported articles and has no pages to fetch again")]
    ImportSource(String),
    /// The store failed; corrections committed before it stay (and were invalidated).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Corrections were written but the derived views could not be invalidated: they are
    /// stale until an `invalidate` job for `media:*`, `volume:*` and `simplified:*` runs
    /// (docs/OPERATIONS.md) or their entries expire.
    #[error("corrections written, but invalidating the derived views failed: {0}")]
    Invalidate(String),
}

/// Corrects the stored dates of `source` as the module documentation says, and reports;
/// stops between pages (and abandons the page in flight) once `stop` completes.
#[tracing::instrument(skip_all, fields(source = source.as_str(), limit = options.limit, dry_run = options.dry_run), err(Display))]
pub async fn backfill(
    ctx: &Arc<Context>,
    source: &SourceName,
    options: &BackfillOptions,
    stop: impl Future<Output = ()>,
) -> Result<BackfillReport, BackfillError> {
    let source = ctx
        .store
        .get_source(source)
        .await?
        .ok_or_else(|| BackfillError::UnknownSource(source.as_str().to_owned()))?;
    if source.kind == SourceKind::Import {
        return Err(BackfillError::ImportSource(source.name.as_str().to_owned()));
    }
    let mut report = BackfillReport {
        source: source.name.as_str().to_owned(),
        dry_run: options.dry_run,
        ..BackfillReport::default()
    };
    let walked = tokio::select! {
        walked = walk(ctx, &source, options, &mut report) => walked,
        () = stop => {
            report.interrupted = true;
            Ok(())
        }
    };
    if report.written > 0 {
        report.hot_keys_rewarmed = crate::jobs::invalidate_and_rewarm(ctx)
            .await
            .map_err(|e| BackfillError::Invalidate(e.message))?;
        report.invalidated = true;
        if ctx.cache.redis_url().is_none() {
            report.invalidate_job = enqueue_invalidation(ctx)
                .await
                .map_err(|e| BackfillError::Invalidate(e.to_string()))?;
        }
    }
    walked?;
    Ok(report)
}

/// Reads, fetches and corrects page after page of stored articles, counting into `report`.
async fn walk(
    ctx: &Context,
    source: &Source,
    options: &BackfillOptions,
    report: &mut BackfillReport,
) -> Result<(), StoreError> {
    let mut after_id = 0;
    loop {
        let left = options
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(report.pages));
        if left == 0 {
            return Ok(());
        }
        let want = u32::try_from(left).unwrap_or(u32::MAX).min(PAGE_ROWS);
        let rows = ctx
            .store
            .article_dates_after(&source.name, after_id, want)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after_id = last.id;
        let mut corrections = Vec::new();
        for row in &rows {
            report.pages += 1;
            if let Some(fix) = check(&ctx.scraper, source, row, report).await {
                corrections.push(fix);
            }
        }
        if !options.dry_run && !corrections.is_empty() {
            report.written += ctx
                .store
                .correct_published_dates(&corrections, Utc::now())
                .await?;
        }
    }
}

/// Fetches one stored article's page and counts it; a correction when its date differs.
async fn check(
    scraper: &Scraper,
    source: &Source,
    row: &StoredDate,
    report: &mut BackfillReport,
) -> Option<DateCorrection> {
    match scraper.page_date(source, &row.url).await {
        Ok(PageDate::Found(date)) if Some(date) == row.published_at => {
            report.unchanged += 1;
            None
        }
        Ok(PageDate::Found(date)) => {
            report.changed += 1;
            tracing::info!(url = %row.url, was = ?row.published_at.map(rfc3339), now = %rfc3339(date), "date differs");
            Some(DateCorrection {
                id: row.id,
                was: row.published_at,
                published_at: date,
            })
        }
        Ok(PageDate::Missing) => {
            report.no_date += 1;
            None
        }
        Err(error) => {
            report.failed += 1;
            tracing::warn!(url = %row.url, %error, "page not re-read; its row is left alone");
            None
        }
    }
}

fn rfc3339(date: DateTime<Utc>) -> String {
    date.to_rfc3339()
}

/// Enqueues an `invalidate` job for every data category; `None` when an identical job was
/// already recorded.
async fn enqueue_invalidation(ctx: &Context) -> Result<Option<String>, EnqueueError> {
    let patterns = DATA_CATEGORIES.iter().map(|c| format!("{c}:*")).collect();
    enqueue(
        &ctx.store,
        &ctx.queue,
        JobPayload::Invalidate(InvalidateCache { patterns }),
        &ctx.args.enqueue_options(),
    )
    .await
}

#[cfg(test)]
mod tests {

    use chrono::TimeZone as _;
    use mediawarm_shared::cache::{CacheConfig, CacheService};
    use mediawarm_shared::domain::{Article, NewArticle};
    use mediawarm_shared::jobs::JobKind;
    use mediawarm_shared::views::View;
    use mediawarm_testkit::FixtureSite;
    use mediawarm_testkit::services::TestServices;

    use super::*;

    /// One stack: the context the backfill runs with, and a cache of another process of the
    /// deployment (the API's) that serves the views.
    struct Stack {
        ctx: Arc<Context>,
        reader: CacheService,
        _dir: tempfile::TempDir,
        _services: Option<TestServices>,
    }

    /// A context over SQLite and memory in a temporary directory (embedded: the reader is the
    /// backfill's own cache), or over the test services (production: the reader is a second
    /// cache service on the same Redis prefix).
    async fn stack(services: Option<TestServices>) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = crate::test_support::default_args();
        args.scrape_allow_loopback = true;
        let redis = services.as_ref().map(|s| s.redis.url.clone());
        let cache_config = CacheConfig {
            redis_url: redis.clone(),
            prefix: services
                .as_ref()
                .map_or_else(|| "mw:".to_owned(), |s| s.redis.prefix.clone()),
            ..CacheConfig::default()
        };
        let cache = CacheService::new(cache_config.clone()).await;
        let reader = if redis.is_some() {
            CacheService::new(cache_config).await
        } else {
            cache.clone()
        };
        let ctx = crate::test_support::open(dir.path(), services.as_ref(), args, cache).await;
        Stack {
            ctx,
            reader,
            _dir: dir,
            _services: services,
        }
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0)
            .single()
            .expect("valid time")
    }

    fn name(raw: &str) -> SourceName {
        SourceName::parse(raw).expect("valid name")
    }

    /// The daily volume of `gazette` from May 1 to May 11, 2024, as served through `cache`
    /// (computed on a miss): `(day of month, count)` of the non-empty days.
    async fn served_volume(stack: &Stack, cache: &CacheService) -> Vec<(u32, i64)> {
        let key = format!(
            "volume:day:tz=UTC,source=gazette,from={},to={}",
            at(1, 0).timestamp(),
            at(11, 0).timestamp()
        );
        let view = View::parse(&key).expect("a volume key");
        let (body, _) = cache
            .get_or_set(&view.key(), None, || {
                view.compute(&stack.ctx.store, &stack.ctx.views, Utc::now())
            })
            .await
            .expect("volume");
        let volume: serde_json::Value = serde_json::from_slice(&body).expect("json");
        volume["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .filter(|b| b["count"].as_i64() != Some(0))
            .map(|b| {
                let day = b["start"].as_str().expect("start")[8..10]
                    .parse()
                    .expect("day");
                (day, b["count"].as_i64().expect("count"))
            })
            .collect()
    }

    async fn stored(ctx: &Context) -> Vec<Article> {
        let mut rows = ctx
            .store
            .latest_offset(Some(&name("gazette")), 0, 100)
            .await
            .expect("read");
        rows.sort_by(|a, b| a.url.cmp(&b.url));
        rows
    }

    /// A site whose pages now give other dates than those stored: `moved` (stored May 3,
    /// the page says May 5), `undated` (stored without a date, the page says May 7), `same`
    /// (stored as the page says, May 2), `bare` (a page without any date, stored May 4),
    /// `gone` (stored May 4, now 404). Returns the site, which must outlive the backfill.
    async fn seeded(ctx: &Context) -> FixtureSite {
        let site = FixtureSite::start().await;
        site.publish("moved", 1, at(5, 9));
        site.publish("undated", 1, at(7, 9));
        site.publish("same", 1, at(2, 9));
        site.set_page(
            "bare-0",
            "<!doctype html><html><head><title>Bare</title></head>\
             <body><article><h1>Bare</h1><p>No date here.</p></article></body></html>"
                .to_owned(),
        );
        ctx.store
            .insert_source(&Source {
                name: name("gazette"),
                kind: SourceKind::Rss,
                url: site.feed_url(),
                selectors: None,
                schedule: None,
                rate_limit_per_sec: 200.0,
                enabled: true,
            })
            .await
            .expect("source");
        let stored = |slug: &str, published_at: Option<DateTime<Utc>>| NewArticle {
            source: name("gazette"),
            url: site.article_url(slug),
            title: format!("Stored {slug}"),
            author: Some("Stored Author".to_owned()),
            published_at,
            summary: Some("Stored summary.".to_owned()),
        };
        ctx.store
            .upsert_articles(
                &[
                    stored("moved-0", Some(at(3, 9))),
                    stored("undated-0", None),
                    stored("same-0", Some(at(2, 9))),
                    stored("bare-0", Some(at(4, 9))),
                    stored("gone-0", Some(at(4, 10))),
                ],
                at(9, 12),
            )
            .await
            .expect("seed");
        site
    }

    /// Dry run first (counts, no writes, cached views untouched), then the backfill: changed
    /// dates corrected with `sort_at` following, everything else untouched, failures and
    /// dateless pages counted, and the volume view served from the cache (of another process
    /// in production) showing the corrected days.
    async fn a_backfill_corrects_changed_dates_and_the_served_volume_follows(stack: Stack) {
        let ctx = &stack.ctx;
        let _site = seeded(ctx).await;
        let before = stored(ctx).await;
        let volume_before = served_volume(&stack, &stack.reader).await;
        assert_eq!(volume_before, [(2, 1), (3, 1), (4, 2), (9, 1)]);

        let dry = backfill(
            ctx,
            &name("gazette"),
            &BackfillOptions {
                limit: None,
                dry_run: true,
            },
            std::future::pending(),
        )
        .await
        .expect("dry run");
        assert_eq!(
            (
                dry.pages,
                dry.changed,
                dry.unchanged,
                dry.no_date,
                dry.failed
            ),
            (5, 2, 1, 1, 1),
            "{dry:?}"
        );
        assert_eq!((dry.written, dry.invalidated), (0, false), "{dry:?}");
        assert_eq!(stored(ctx).await, before, "a dry run writes nothing");
        assert_eq!(served_volume(&stack, &stack.reader).await, volume_before);

        let limited = backfill(
            ctx,
            &name("gazette"),
            &BackfillOptions {
                limit: Some(2),
                dry_run: true,
            },
            std::future::pending(),
        )
        .await
        .expect("limited dry run");
        assert_eq!(limited.pages, 2, "{limited:?}");

        let report = backfill(
            ctx,
            &name("gazette"),
            &BackfillOptions::default(),
            std::future::pending(),
        )
        .await
        .expect("backfill");
        assert_eq!(
            (
                report.pages,
                report.changed,
                report.written,
                report.unchanged,
                report.no_date,
                report.failed
            ),
            (5, 2, 2, 1, 1, 1),
            "{report:?}"
        );
        assert!(report.invalidated, "{report:?}");
        assert_eq!(
            report.invalidate_job.is_some(),
            ctx.cache.redis_url().is_none(),
            "{report:?}"
        );

        let after = stored(ctx).await;
        for (old, new) in before.iter().zip(&after) {
            let expected = if old.url.ends_with("/moved-0") {
                Some(at(5, 9))
            } else if old.url.ends_with("/undated-0") {
                Some(at(7, 9))
            } else {
                old.published_at
            };
            assert_eq!(new.published_at, expected, "{}", old.url);
            let sort_at = expected.map_or(old.sort_at_us, |d| d.timestamp_micros());
            assert_eq!(new.sort_at_us, sort_at, "{}", old.url);
            assert_eq!(
                (&new.id, &new.title, &new.author, &new.summary),
                (&old.id, &old.title, &old.author, &old.summary),
                "only dates change"
            );
        }
        assert_eq!(
            served_volume(&stack, &stack.reader).await,
            [(2, 1), (4, 2), (5, 1), (7, 1)],
            "the served volume counts the corrected days"
        );

        let again = backfill(
            ctx,
            &name("gazette"),
            &BackfillOptions::default(),
            std::future::pending(),
        )
        .await
        .expect("second backfill");
        assert_eq!(
            (again.changed, again.unchanged, again.invalidated),
            (0, 3, false),
            "{again:?}"
        );
        if report.invalidate_job.is_some() {
            assert_eq!(
                ctx.queue
                    .backlog(JobKind::Invalidate)
                    .await
                    .expect("backlog"),
                1
            );
        }
    }

    /// A stop ends the run at once, reported as interrupted, with nothing unfinished written
    /// and nothing to invalidate; a later run corrects it all.
    async fn a_stop_ends_the_run_reported_with_nothing_half_written(stack: Stack) {
        let ctx = &stack.ctx;
        let _site = seeded(ctx).await;
        let before = stored(ctx).await;
        let stop = std::future::ready(());
        let report = backfill(ctx, &name("gazette"), &BackfillOptions::default(), stop)
            .await
            .expect("stopped backfill");
        assert!(report.interrupted, "{report:?}");
        assert_eq!(
            (report.written, report.invalidated),
            (0, false),
            "{report:?}"
        );
        assert_eq!(stored(ctx).await, before);

        let report = backfill(
            ctx,
            &name("gazette"),
            &BackfillOptions::default(),
            std::future::pending(),
        )
        .await
        .expect("backfill");
        assert_eq!(
            (report.written, report.interrupted),
            (2, false),
            "{report:?}"
        );
    }

    /// An unknown source and an import source are refused before anything is fetched.
    async fn unknown_and_import_sources_are_refused(stack: Stack) {
        let ctx = &stack.ctx;
        let error = backfill(
            ctx,
            &name("nowhere"),
            &BackfillOptions::default(),
            std::future::pending(),
        )
        .await
        .expect_err("unknown source");
        assert!(
            matches!(&error, BackfillError::UnknownSource(n) if n == "nowhere"),
            "{error:?}"
        );
        ctx.store
            .ensure_import_sources(&[name("archive")])
            .await
            .expect("import source");
        let error = backfill(
            ctx,
            &name("archive"),
            &BackfillOptions::default(),
            std::future::pending(),
        )
        .await
        .expect_err("import source");
        assert!(matches!(error, BackfillError::ImportSource(_)), "{error:?}");
    }

    macro_rules! both_stacks {
        ($($name:ident),* $(,)?) => {
            mod embedded {
                $(
                    #[tokio::test]
                    async fn $name() {
                        super::$name(super::stack(None).await).await;
                    }
                )*
            }
            mod production {
                $(
                    #[tokio::test]
                    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                    async fn $name() {
                        let services = super::TestServices::create("backfill").await;
                        super::$name(super::stack(Some(services)).await).await;
                    }
                )*
            }
        };
    }

    both_stacks!(
        a_backfill_corrects_changed_dates_and_the_served_volume_follows,
        a_stop_ends_the_run_reported_with_nothing_half_written,
        unknown_and_import_sources_are_refused,
    );
}
