//! Article pages: the run's third step, after discovery and selection. Fetches the selected
//! pages a few at a time, extracts each, and tallies what they gave into the run's output.
//!
//! Guarantees: a page that fails, or is not HTML, never fails the run — its article comes
//! from the candidate's own fields (a feed item's title, dates, summary) when they suffice,
//! and the failure is listed in [`ScrapeOutput::skipped_pages`]; a 304 gives no article (the
//! stored one stands); results keep the candidates' order and each normalised URL appears
//! once; extraction runs off the async task.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use futures::stream::{self, StreamExt as _};
use mediawarm_shared::domain::{NewArticle, SkippedPage};
use mediawarm_shared::store::FetchRecord;

use super::article::{Candidate, assemble};
use super::extract::{self, Selectors as ExtractSelectors};
use super::fetch::{Accept, Fetched, Validators};
use super::{Run, ScrapeOutput, Scraper, off_task};

/// What fetching one article page gave.
#[derive(Debug, Default)]
pub(super) struct PageOutcome {
    article: Option<NewArticle>,
    fetched: bool,
    not_modified: bool,
    /// A failure that a later run may not meet (timeouts, 5xx, the time budget).
    transient_failure: bool,
    /// Why the page could not be used, when it could not.
    skipped: Option<SkippedPage>,
    record: Option<FetchRecord>,
}

impl Scraper {
    /// Fetches and extracts `candidates`, at most `page_concurrency` at once (the per-host
    /// limits apply on top), conditionally for those with `validators`; one outcome per
    /// candidate, in their order.
    pub(super) async fn fetch_pages(
        &self,
        run: &Run<'_>,
        candidates: Vec<Candidate>,
        mut validators: HashMap<String, Validators>,
        selectors: Option<Arc<ExtractSelectors>>,
    ) -> Vec<PageOutcome> {
        stream::iter(candidates)
            .map(|candidate| {
                let page_validators = validators.remove(candidate.url.as_str());
                self.article(run, candidate, page_validators, selectors.clone())
            })
            .buffered(self.inner.cfg.page_concurrency.max(1))
            .collect()
            .await
    }

    /// Fetches and extracts one article page. A failed or non-HTML page falls back to the
    /// candidate's hints; a 304 gives no article (the stored one stands).
    async fn article(
        &self,
        run: &Run<'_>,
        candidate: Candidate,
        validators: Option<Validators>,
        selectors: Option<Arc<ExtractSelectors>>,
    ) -> PageOutcome {
        let fetched = self
            .get(run, &candidate.url, Accept::Html, validators.as_ref())
            .await;
        let page = match fetched {
            Ok(Fetched::Page(page)) => page,
            Ok(Fetched::NotModified) => {
                return PageOutcome {
                    not_modified: true,
                    ..PageOutcome::default()
                };
            }
            Ok(Fetched::Skipped { content_type }) => {
                tracing::debug!(url = %candidate.url, content_type, "not HTML; body not read");
                return PageOutcome {
                    article: assemble(run.source, &candidate, None),
                    ..PageOutcome::default()
                };
            }
            Err(err) => {
                tracing::warn!(url = %candidate.url, error = %err, "article page skipped");
                return PageOutcome {
                    article: assemble(run.source, &candidate, None),
                    transient_failure: !err.is_permanent(),
                    skipped: Some(SkippedPage::new(candidate.url.as_str(), err.class())),
                    ..PageOutcome::default()
                };
            }
        };
        let record = (!page.validators.is_empty()).then(|| FetchRecord {
            url: candidate.url.to_string(),
            etag: page.validators.etag.clone(),
            last_modified: page.validators.last_modified.clone(),
            fetched_at: Utc::now(),
            article_urls: None,
        });
        if !page.is_html() {
            tracing::debug!(url = %candidate.url, content_type = ?page.content_type, "not HTML");
            return PageOutcome {
                article: assemble(run.source, &candidate, None),
                fetched: true,
                record,
                ..PageOutcome::default()
            };
        }
        let html = page.text();
        let url = page.url.clone();
        let extracted =
            off_task(move || extract::extract(&html, Some(&url), selectors.as_deref())).await;
        let (article, skipped) = match extracted {
            Ok(x) => (
                assemble(run.source, &candidate, Some((&page.url, &x))),
                None,
            ),
            Err(err) => {
                tracing::warn!(url = %candidate.url, error = %err, "extraction failed");
                let skipped = SkippedPage::new(candidate.url.as_str(), err.class());
                (assemble(run.source, &candidate, None), Some(skipped))
            }
        };
        PageOutcome {
            article,
            fetched: true,
            record,
            skipped,
            ..PageOutcome::default()
        }
    }
}

/// What the pages of a run left besides their articles.
#[derive(Debug)]
pub(super) struct Tally {
    /// Validators of the pages fetched, for the next run's conditional requests.
    pub(super) records: Vec<FetchRecord>,
    /// No page failed in a way a later run may not meet (so the run saw all it selected).
    pub(super) complete: bool,
}

/// Adds `pages` to `out` in order: counts fetches and 304s, lists skipped pages, and keeps
/// the first article of each URL.
pub(super) fn tally(out: &mut ScrapeOutput, pages: Vec<PageOutcome>) -> Tally {
    let mut seen = HashSet::new();
    let mut tally = Tally {
        records: Vec::new(),
        complete: true,
    };
    for page in pages {
        out.pages_fetched += i64::from(page.fetched);
        out.pages_not_modified += i64::from(page.not_modified);
        tally.complete &= !page.transient_failure;
        tally.records.extend(page.record);
        out.skipped_pages.extend(page.skipped);
        if let Some(article) = page.article.filter(|a| seen.insert(a.url.clone())) {
            out.articles.push(article);
        }
    }
    tally
}
