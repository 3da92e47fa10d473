//! Discovery: the first step of a run. Fetches the start URL (conditionally when an earlier
//! run left validators) and reads the article links it gives — a feed's items, an HTML
//! listing's links, a sitemap's URLs (one level of a sitemap index), or the items of the first
//! feed an `html` start page without `selectors.links` announces on its own host.
//!
//! Guarantees: only the start URL (or, for an `html` source without a links selector, every
//! announced feed tried) can fail the run; a child sitemap that fails is skipped; a 304 on the
//! start URL ends the run only when every article the run that stored its validators returned
//! is stored; every parse runs off the async task.

use std::collections::HashSet;

use mediawarm_shared::domain::{ErrorClass, Source, SourceKind};
use mediawarm_shared::store::{FetchRecord, Store};
use url::Url;

use super::article::Candidate;
use super::fetch::{Accept, Fetched, Page, Validators};
use super::sitemap::{self, Sitemap};
use super::urls::{normalize_url, same_site};
use super::{
    MAX_CANDIDATES, Run, ScrapeError, ScrapeOutput, Scraper, extract, feeds, listing, off_task,
};

/// Most child sitemaps of a sitemap index fetched in one run (most recently modified first).
const MAX_CHILD_SITEMAPS: usize = 5;

/// Most same-host feeds an `html` start page without `selectors.links` announces that are
/// tried, in page order, until one fetches and parses.
const MAX_DISCOVERED_FEEDS: usize = 3;

/// The start URL's links, or the news that nothing changed.
pub(super) enum Listing {
    /// A 304 whose earlier run's articles are all stored.
    Unchanged,
    /// The links, whether they came from a sitemap index (whose children are fetched
    /// unconditionally, so its own validators are not kept), and the start URL's validators.
    Links {
        candidates: Vec<Candidate>,
        from_index: bool,
        validators: Validators,
    },
}

impl Scraper {
    /// Fetches the start URL (conditionally when `record` has validators) and reads its
    /// links.
    pub(super) async fn listing(
        &self,
        source: &Source,
        run: &Run<'_>,
        store: &Store,
        record: Option<&FetchRecord>,
        out: &mut ScrapeOutput,
    ) -> Result<Listing, ScrapeError> {
        let accept = match source.kind {
            SourceKind::Html => Accept::Html,
            _ => Accept::Feed,
        };
        if source.kind == SourceKind::Html
            && let Some(links) = html_links_selector(source)
        {
            listing::parse_selector("links", &links)?;
        }
        let validators = record
            .filter(|r| r.article_urls.is_some())
            .map(|r| Validators {
                etag: r.etag.clone(),
                last_modified: r.last_modified.clone(),
            })
            .filter(|v| !v.is_empty());
        let mut fetched = self
            .get(run, run.start, accept, validators.as_ref())
            .await?;
        if matches!(fetched, Fetched::NotModified) {
            out.pages_not_modified += 1;
            let expected = record
                .and_then(|r| r.article_urls.clone())
                .unwrap_or_default();
            let stored = store.known_urls(&expected).await.map_err(|e| {
                ScrapeError::Transient(
                    ErrorClass::DatabaseError,
                    format!("looking up known URLs: {e}"),
                )
            })?;
            if expected.iter().all(|u| stored.contains(u)) {
                return Ok(Listing::Unchanged);
            }
            tracing::info!(
                "start URL not modified, but its last articles are not all stored: fetching in full"
            );
            fetched = self.get(run, run.start, accept, None).await?;
        }
        let page = match fetched {
            Fetched::Page(page) => page,
            Fetched::NotModified => {
                return Err(ScrapeError::Transient(
                    ErrorClass::HttpStatus,
                    format!("{} answered 304 to an unconditional request", run.start),
                ));
            }
            Fetched::Skipped { content_type } => {
                return Err(ScrapeError::Permanent(
                    ErrorClass::ParseFailed,
                    format!(
                        "{} has content type {content_type}, not a {}",
                        run.start,
                        if accept == Accept::Html {
                            "page"
                        } else {
                            "feed or sitemap"
                        }
                    ),
                ));
            }
        };
        out.pages_fetched += 1;
        let validators = page.validators.clone();
        let (candidates, from_index) = match source.kind {
            SourceKind::Rss | SourceKind::Atom => (
                off_task(move || feeds::feed_candidates(&page.body, &page.url)).await??,
                false,
            ),
            SourceKind::Html => {
                if !page.is_html() {
                    return Err(not_html(&page));
                }
                let Some(links) = html_links_selector(source) else {
                    let candidates = self.discovered_feed(run, page, out).await?;
                    return Ok(Listing::Links {
                        candidates,
                        from_index: false,
                        validators: Validators::default(),
                    });
                };
                let urls =
                    off_task(move || listing::listing_links(&page.text(), &page.url, &links))
                        .await??;
                (urls.into_iter().map(Candidate::bare).collect(), false)
            }
            SourceKind::Sitemap => self.sitemap_candidates(run, page, out).await?,
            SourceKind::Import => {
                return Err(ScrapeError::Permanent(
                    ErrorClass::Internal,
                    "import sources are not scraped".to_owned(),
                ));
            }
        };
        Ok(Listing::Links {
            candidates,
            from_index,
            validators,
        })
    }

    /// The items of the first feed that the HTML start `page` announces
    /// (`<link rel=alternate>`, in `<head>` or `<body>`) on the start URL's host and that
    /// fetches and parses; at most [`MAX_DISCOVERED_FEEDS`] are tried. For `html` sources
    /// without `selectors.links`. No feed on the host, or none that works, is the last
    /// failure (permanent when there was none to try).
    async fn discovered_feed(
        &self,
        run: &Run<'_>,
        page: Page,
        out: &mut ScrapeOutput,
    ) -> Result<Vec<Candidate>, ScrapeError> {
        let found = off_task(move || extract::feed_links(&page.text(), &page.url)).await?;
        let announced: Vec<Url> = found
            .iter()
            .filter_map(|f| normalize_url(f, None))
            .filter(|u| same_site(run.start, u))
            .take(MAX_DISCOVERED_FEEDS)
            .collect();
        let mut failure = ScrapeError::Permanent(
            ErrorClass::ParseFailed,
            format!(
                "{} has no selectors.links and announces no feed on its host ({} elsewhere)",
                run.start,
                found.len()
            ),
        );
        for feed in announced {
            let page = match self.get(run, &feed, Accept::Feed, None).await {
                Ok(Fetched::Page(page)) => page,
                Ok(Fetched::Skipped { content_type }) => {
                    failure = ScrapeError::Permanent(
                        ErrorClass::ParseFailed,
                        format!("discovered feed {feed} has content type {content_type}"),
                    );
                    continue;
                }
                Ok(Fetched::NotModified) => {
                    failure = ScrapeError::Transient(
                        ErrorClass::HttpStatus,
                        format!("discovered feed {feed} answered 304 to an unconditional request"),
                    );
                    continue;
                }
                Err(err) => {
                    tracing::warn!(url = %feed, error = %err, "discovered feed skipped");
                    failure = err;
                    continue;
                }
            };
            out.pages_fetched += 1;
            match off_task(move || feeds::feed_candidates(&page.body, &page.url)).await? {
                Ok(candidates) => {
                    tracing::info!(url = %feed, items = candidates.len(), "scraping the discovered feed");
                    return Ok(candidates);
                }
                Err(err) => {
                    tracing::warn!(url = %feed, error = %err, "discovered feed skipped");
                    failure = err;
                }
            }
        }
        Err(failure)
    }

    /// A sitemap's URLs; for a sitemap index, those of its most recent children on the same
    /// host (one level; a child that fails is skipped), and `true`.
    async fn sitemap_candidates(
        &self,
        run: &Run<'_>,
        page: Page,
        out: &mut ScrapeOutput,
    ) -> Result<(Vec<Candidate>, bool), ScrapeError> {
        let children =
            match off_task(move || sitemap::parse_sitemap(&page.text(), &page.url)).await?? {
                Sitemap::Urls(urls) => return Ok((urls, false)),
                Sitemap::Index(children) => children,
            };
        let mut candidates = Vec::new();
        let children = children.into_iter().filter(|c| same_site(run.start, c));
        for child in children.take(MAX_CHILD_SITEMAPS) {
            if candidates.len() >= MAX_CANDIDATES {
                break;
            }
            let page = match self.get(run, &child, Accept::Feed, None).await {
                Ok(Fetched::Page(page)) => page,
                Ok(other) => {
                    tracing::warn!(url = %child, outcome = ?other, "child sitemap skipped");
                    continue;
                }
                Err(err) => {
                    tracing::warn!(url = %child, error = %err, "child sitemap skipped");
                    continue;
                }
            };
            out.pages_fetched += 1;
            match off_task(move || sitemap::parse_sitemap(&page.text(), &page.url)).await? {
                Ok(Sitemap::Urls(urls)) => candidates.extend(urls),
                Ok(Sitemap::Index(_)) => {
                    tracing::warn!(url = %child, "nested sitemap index skipped (one level only)");
                }
                Err(err) => tracing::warn!(url = %child, error = %err, "child sitemap skipped"),
            }
        }
        let mut seen = HashSet::new();
        candidates.retain(|c| seen.insert(c.url.clone()));
        Ok((candidates, true))
    }
}

/// The `html` source's listing selector; without one, the page's feed is discovered.
fn html_links_selector(source: &Source) -> Option<String> {
    source.selectors.as_ref().and_then(|s| s.links.clone())
}

/// The permanent failure of a start page that had to be HTML and is not.
pub(super) fn not_html(page: &Page) -> ScrapeError {
    ScrapeError::Permanent(
        ErrorClass::ParseFailed,
        format!(
            "{} is not HTML (content type {})",
            page.url,
            page.content_type.as_deref().unwrap_or("missing")
        ),
    )
}
