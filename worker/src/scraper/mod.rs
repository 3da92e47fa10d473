//! The scraper: fetches a source's feed, listing or sitemap, then the article pages it links
//! to, and turns them into [`NewArticle`]s for the job handler to upsert (docs/ARCHITECTURE.md).
//!
//! Guarantees:
//! - One shared HTTP client ([`Scraper`] is a cheap clone) with connect, read and
//!   whole-request timeouts, a User-Agent, gzip/brotli/deflate, a body-size cap and a redirect
//!   cap; proxy environment variables are ignored; only public addresses are connected to
//!   (see `guard`), and only the start URL's host: links and redirects elsewhere are skipped.
//! - Polite (see `politeness`): robots.txt honoured (Disallow, Allow, Crawl-delay), per-host
//!   rate and concurrency limits shared by every worker process through Redis when
//!   configured, retries with backoff honouring `Retry-After`, and a time budget per run.
//! - Efficient: conditional requests from the `fetch_cache` table; pages already stored (by
//!   normalised URL) are not fetched again unless the feed or sitemap says they changed
//!   since, or `refresh`; only HTML (pages) or feed-like (start URLs) bodies are read.
//! - An `html` source without `selectors.links` is read through the first feed its start page
//!   announces (`<link rel=alternate>`, also in `<body>`) on its own host; that feed counts
//!   as the start URL.
//! - Only a failure of the start URL fails a run ([`ScrapeError`] says whether retrying can
//!   help); an article page that fails is logged and skipped, and a feed item whose page
//!   failed still becomes an article from the item's own fields.
//! - HTML, feed and sitemap parsing runs on blocking threads, never on the async task.
//! - Every returned article has a non-empty title, a normalised URL (its canonical URL when
//!   that stays on the same site), UTC dates, and appears once.
//!
//! Layout: `fetch` (client and one GET), `politeness` (robots.txt, per-host limits,
//! retries), `guard` (address guard), `urls` (normalisation), `feeds` (RSS 0.9x/1.0/2.0,
//! Atom, JSON Feed), `listing` (HTML listings), `sitemap`, `article` (assembly), [`extract`] (page metadata extraction),
//! [`evaluate`] (the `extract` command: one page, or a labelled folder scored), `refetch` (one
//! stored page's date again, for the `backfill` command).

mod article;
pub mod evaluate;
mod feeds;
mod fetch;
mod guard;
mod listing;
mod politeness;
mod refetch;
mod sitemap;
mod urls;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt as _};
use mediawarm_shared::domain::{
    ErrorClass, NewArticle, Selectors, SkippedPage, Source, SourceKind, SourceName,
};
use mediawarm_shared::store::{FetchRecord, Store};
use tokio::time::Instant;
use url::Url;

use article::{Candidate, assemble};
use extract::Selectors as ExtractSelectors;
use fetch::{Accept, Fetched, Page, Validators};
use politeness::Politeness;
use sitemap::Sitemap;
use urls::same_site;

pub use article::{PageArticle, page_article, page_article_with_rules};
pub use mediawarm_extract as extract;
pub use mediawarm_extract::depth;
pub use refetch::PageDate;
pub use urls::normalize_url;

/// Most links considered from one start URL (before skipping known ones); bounds the
/// known-URL lookup and memory for huge sitemaps.
const MAX_CANDIDATES: usize = 5000;

/// Most child sitemaps of a sitemap index fetched in one run (most recently modified first).
const MAX_CHILD_SITEMAPS: usize = 5;

/// Most same-host feeds an `html` start page without `selectors.links` announces that are
/// tried, in page order, until one fetches and parses.
const MAX_DISCOVERED_FEEDS: usize = 3;

/// How the scraper fetches. The binaries set `allow_loopback` from `SCRAPE_ALLOW_LOOPBACK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScraperConfig {
    /// The `User-Agent` header: names the project and where to complain. Its first word
    /// (up to `/`) is the product token matched in robots.txt.
    pub user_agent: String,
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (a stalled body).
    pub read_timeout: Duration,
    /// Longest a whole request may take, body included (a trickling body).
    pub request_timeout: Duration,
    /// Largest (decompressed) body read; a larger one is an error.
    pub max_body_bytes: usize,
    /// Most redirects followed per request.
    pub max_redirects: usize,
    /// Lets 127.0.0.0/8 and `::1` through the address guard (tests and the demo); private
    /// ranges stay refused.
    pub allow_loopback: bool,
    /// Most article pages fetched per run.
    pub max_articles_per_run: usize,
    /// Article pages fetched at once (per run; the per-host cap applies on top).
    pub page_concurrency: usize,
    /// Requests in flight per host, across every process sharing the limiter.
    pub per_host_concurrency: usize,
    /// Retries of a request answered 429, 502, 503 or 504, or timed out.
    pub max_retries: u32,
    /// First retry delay; doubles each retry (with jitter).
    pub retry_base: Duration,
    /// Longest computed retry delay.
    pub retry_max_delay: Duration,
    /// Longest `Retry-After` waited for; a longer one ends the attempts (the job retries
    /// later) and holds the host back for every process.
    pub max_retry_after: Duration,
    /// Longest robots.txt `Crawl-delay` honoured (longer ones are capped to it).
    pub max_crawl_delay: Duration,
    /// How long a fetched robots.txt is used.
    pub robots_ttl: Duration,
    /// Longest a run waits for its hosts in total; pages it could not fetch in time are
    /// left for the next run. Keep it below the job's source lease.
    pub run_budget: Duration,
    /// Redis shared by the worker processes: per-host limits hold across all of them.
    /// `None`: limits are per process.
    pub redis_url: Option<String>,
    /// Prefix of the limiter's Redis keys; the binaries use the queue namespace (plus `:`),
    /// which every process of a deployment shares.
    pub redis_prefix: String,
}

impl Default for ScraperConfig {
    fn default() -> Self {
        Self {
            user_agent: "mediawarm/0.1 (+https://github.com/mediawarm/mediawarm)".to_owned(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(20),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            allow_loopback: false,
            max_articles_per_run: 200,
            page_concurrency: 4,
            per_host_concurrency: 2,
            max_retries: 3,
            retry_base: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            max_crawl_delay: Duration::from_secs(30),
            robots_ttl: Duration::from_secs(3600),
            run_budget: Duration::from_secs(600),
            redis_url: None,
            redis_prefix: "mw:".to_owned(),
        }
    }
}

/// What one scrape produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeOutput {
    /// The articles found, one per normalised URL, in source order.
    pub articles: Vec<NewArticle>,
    /// Successful page fetches (start URL, child sitemaps and article pages).
    pub pages_fetched: i64,
    /// Conditional requests answered 304 (no body, no parse).
    pub pages_not_modified: i64,
    /// Article pages that could not be fetched or read, and why; the run went on without
    /// them (their articles, when the feed named them, come from the feed alone).
    pub skipped_pages: Vec<SkippedPage>,
}

/// Why a scrape failed, and whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Retrying will not help: a 4xx (except 408/429) on the start URL, an unparsable feed,
    /// a start page that is not a feed or HTML, a bad selector, a refused address.
    #[error("permanent: {1}")]
    Permanent(ErrorClass, String),
    /// Retrying may help: timeouts, connection failures, 5xx, 429, 408.
    #[error("transient: {1}")]
    Transient(ErrorClass, String),
}

impl ScrapeError {
    /// Whether the job should fail without retries.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(..))
    }

    /// The class of the failure, what anonymous readers of the run see.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Permanent(class, _) | Self::Transient(class, _) => *class,
        }
    }
}

/// The scraper: one HTTP client, its politeness state and its configuration. Cloning shares
/// all three.
#[derive(Clone, Debug)]
pub struct Scraper {
    /// Behind an `Arc` so job handlers clone a pointer, not the configuration.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Pools connections across runs and sources; carries the guard.
    client: reqwest::Client,
    /// robots.txt cache and per-host limits, for every run of this scraper.
    politeness: Politeness,
    cfg: ScraperConfig,
}

/// One run's fixed parameters.
#[derive(Debug)]
struct Run<'a> {
    source: &'a SourceName,
    /// The start URL: article links and child sitemaps elsewhere are skipped.
    start: &'a Url,
    /// Least time between request starts on the source's host.
    interval: Duration,
    /// When the run gives up waiting for the host.
    deadline: Instant,
}

/// What fetching one article page gave.
#[derive(Debug, Default)]
struct PageOutcome {
    article: Option<NewArticle>,
    fetched: bool,
    not_modified: bool,
    /// A failure that a later run may not meet (timeouts, 5xx, the time budget).
    transient_failure: bool,
    /// Why the page could not be used, when it could not.
    skipped: Option<SkippedPage>,
    record: Option<FetchRecord>,
}

/// The start URL's links, or the news that nothing changed.
enum Listing {
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
    /// Builds the shared client and the politeness state from `cfg`.
    pub fn new(cfg: ScraperConfig) -> Result<Self, ScrapeError> {
        let client = fetch::build_client(&cfg)?;
        let politeness = Politeness::new(&cfg);
        tracing::debug!(shared_limits = politeness.is_shared(), "scraper ready");
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                politeness,
                cfg,
            }),
        })
    }

    /// Fetches the source's start URL (feed, listing or sitemap), then the article pages it
    /// links to on the same host that the store does not know yet (known ones too when the
    /// feed says they changed since, and all of them with `refresh`), extracts them and
    /// returns the articles, keyed by normalised canonical URL. Politely: see `politeness`.
    ///
    /// Nothing is written but the fetch cache (validators for conditional requests): the job
    /// handler upserts. Without `refresh`, the start URL and known pages are fetched
    /// conditionally; a 304 on the start URL ends the run with no articles when everything
    /// the run that stored its validators returned is stored, and a 304 on a page costs no
    /// parse and no write.
    ///
    /// Fails only when the start URL does: [`ScrapeError::Permanent`] for import sources,
    /// invalid selectors or start URLs, refused addresses, robots.txt refusals, 4xx (but
    /// 408/429), oversized or unparsable bodies; [`ScrapeError::Transient`] for timeouts,
    /// connection failures, 5xx, 408, 429, an unreachable robots.txt and a store that cannot
    /// answer the known-URL lookup.
    #[tracing::instrument(
        skip_all,
        fields(source = %source.name, kind = source.kind.as_str(), refresh),
        err(Display)
    )]
    pub async fn scrape(
        &self,
        source: &Source,
        store: &Store,
        refresh: bool,
    ) -> Result<ScrapeOutput, ScrapeError> {
        if source.kind == SourceKind::Import {
            return Err(ScrapeError::Permanent(
                ErrorClass::Internal,
                "import sources are not scraped".to_owned(),
            ));
        }
        let start = normalize_url(&source.url, None).ok_or_else(|| {
            ScrapeError::Permanent(
                ErrorClass::FetchFailed,
                format!("start URL {:?} is not an http(s) URL", source.url),
            )
        })?;
        let page_selectors = page_selectors(source.selectors.as_ref())?.map(Arc::new);
        let run = Run {
            source: &source.name,
            start: &start,
            interval: politeness::rate_interval(source.rate_limit_per_sec),
            deadline: Instant::now() + self.inner.cfg.run_budget,
        };
        let mut out = ScrapeOutput::default();
        let start_record = if refresh {
            None
        } else {
            lookup_records(store, std::slice::from_ref(&start.to_string()))
                .await
                .remove(start.as_str())
        };
        let (mut candidates, from_index, start_validators) = match self
            .listing(source, &run, store, start_record.as_ref(), &mut out)
            .await?
        {
            Listing::Unchanged => {
                tracing::info!("start URL not modified; nothing to do");
                return Ok(out);
            }
            Listing::Links {
                candidates,
                from_index,
                validators,
            } => (candidates, from_index, validators),
        };
        let before = candidates.len();
        candidates.retain(|c| same_site(&start, &c.url));
        if candidates.len() < before {
            tracing::debug!(
                skipped = before - candidates.len(),
                "links to other hosts skipped"
            );
        }
        candidates.truncate(MAX_CANDIDATES);
        let found = candidates.len();
        let mut page_validators: HashMap<String, Validators> = HashMap::new();
        if !refresh && !candidates.is_empty() {
            let urls: Vec<String> = candidates.iter().map(|c| c.url.to_string()).collect();
            let known = store.known_article_times(&urls).await.map_err(|e| {
                ScrapeError::Transient(
                    ErrorClass::DatabaseError,
                    format!("looking up known URLs: {e}"),
                )
            })?;
            candidates.retain(|c| match known.get(c.url.as_str()) {
                None => true,
                Some(stored) => c.hints.updated.is_some_and(|updated| updated > *stored),
            });
            let changed: Vec<String> = candidates
                .iter()
                .filter(|c| known.contains_key(c.url.as_str()))
                .map(|c| c.url.to_string())
                .collect();
            if !changed.is_empty() {
                tracing::debug!(changed = changed.len(), "known pages the feed says changed");
                page_validators = lookup_records(store, &changed)
                    .await
                    .into_iter()
                    .map(|(url, r)| {
                        let v = Validators {
                            etag: r.etag,
                            last_modified: r.last_modified,
                        };
                        (url, v)
                    })
                    .collect();
            }
        }
        let mut complete = candidates.len() <= self.inner.cfg.max_articles_per_run;
        candidates.truncate(self.inner.cfg.max_articles_per_run);
        tracing::debug!(found, to_fetch = candidates.len(), "article links");

        let run = &run;
        let results: Vec<PageOutcome> = stream::iter(candidates)
            .map(|candidate| {
                let validators = page_validators.remove(candidate.url.as_str());
                self.article(run, candidate, validators, page_selectors.clone())
            })
            .buffered(self.inner.cfg.page_concurrency.max(1))
            .collect()
            .await;
        let mut seen = HashSet::new();
        let mut records = Vec::new();
        for page in results {
            out.pages_fetched += i64::from(page.fetched);
            out.pages_not_modified += i64::from(page.not_modified);
            complete &= !page.transient_failure;
            records.extend(page.record);
            out.skipped_pages.extend(page.skipped);
            if let Some(article) = page.article.filter(|a| seen.insert(a.url.clone())) {
                out.articles.push(article);
            }
        }
        if complete && !from_index && !start_validators.is_empty() {
            records.push(FetchRecord {
                url: start.to_string(),
                etag: start_validators.etag,
                last_modified: start_validators.last_modified,
                fetched_at: Utc::now(),
                article_urls: Some(out.articles.iter().map(|a| a.url.clone()).collect()),
            });
        }
        if let Err(error) = store.save_fetch_records(&records).await {
            tracing::warn!(%error, "saving validators failed; the next run fetches in full");
        }
        tracing::info!(
            articles = out.articles.len(),
            pages_fetched = out.pages_fetched,
            pages_not_modified = out.pages_not_modified,
            "scraped"
        );
        Ok(out)
    }

    /// Fetches the start URL (conditionally when `record` has validators) and reads its
    /// links.
    async fn listing(
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

    async fn get(
        &self,
        run: &Run<'_>,
        url: &Url,
        accept: Accept,
        validators: Option<&Validators>,
    ) -> Result<Fetched, ScrapeError> {
        let req = politeness::Request {
            url,
            accept,
            validators,
            interval: run.interval,
            deadline: run.deadline,
        };
        self.inner
            .politeness
            .get(&self.inner.client, &self.inner.cfg, req)
            .await
    }
}

/// The stored fetch records of `urls`; a store that cannot answer means none (a full fetch).
async fn lookup_records(store: &Store, urls: &[String]) -> HashMap<String, FetchRecord> {
    store.fetch_records(urls).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "reading validators failed; fetching in full");
        HashMap::new()
    })
}

/// The `html` source's listing selector; without one, the page's feed is discovered.
fn html_links_selector(source: &Source) -> Option<String> {
    source.selectors.as_ref().and_then(|s| s.links.clone())
}

/// The source's article-page selectors for the extractor, each checked to parse.
fn page_selectors(selectors: Option<&Selectors>) -> Result<Option<ExtractSelectors>, ScrapeError> {
    let Some(s) = selectors else {
        return Ok(None);
    };
    let fields = [
        ("title", &s.title),
        ("author", &s.author),
        ("date", &s.date),
        ("summary", &s.summary),
    ];
    for (what, css) in fields {
        if let Some(css) = css {
            listing::parse_selector(what, css)?;
        }
    }
    if fields.iter().all(|(_, css)| css.is_none()) {
        return Ok(None);
    }
    Ok(Some(ExtractSelectors {
        title: s.title.clone(),
        author: s.author.clone(),
        date: s.date.clone(),
        summary: s.summary.clone(),
    }))
}

fn not_html(page: &Page) -> ScrapeError {
    ScrapeError::Permanent(
        ErrorClass::ParseFailed,
        format!(
            "{} is not HTML (content type {})",
            page.url,
            page.content_type.as_deref().unwrap_or("missing")
        ),
    )
}

/// Parses running at once in this process: one per core. A parse cannot be interrupted, so
/// an attempt stopped at its deadline leaves its parse running; the bound keeps such parses
/// from taking more than the cores, and the slot is held until the parse itself ends.
static PARSE_SLOTS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Arc::new(tokio::sync::Semaphore::new(cores))
    });

/// Runs CPU-bound parsing on a blocking thread, at most one per core (see [`PARSE_SLOTS`]).
/// A panic there is permanent (the same input would panic again); a cancelled task
/// (shutdown) is transient.
async fn off_task<T, F>(f: F) -> Result<T, ScrapeError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::clone(&PARSE_SLOTS)
        .acquire_owned()
        .await
        .map_err(|e| {
            ScrapeError::Transient(ErrorClass::Internal, format!("parse slots closed: {e}"))
        })?;
    tokio::task::spawn_blocking(move || {
        let parsed = f();
        drop(slot);
        parsed
    })
    .await
    .map_err(|e| {
        if e.is_panic() {
            ScrapeError::Permanent(ErrorClass::Internal, format!("parsing panicked: {e}"))
        } else {
            ScrapeError::Transient(ErrorClass::Internal, format!("parsing was cancelled: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::off_task;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parses_run_at_most_one_per_core_even_when_their_callers_give_up() {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let parse = |running: Arc<AtomicUsize>, most: Arc<AtomicUsize>| {
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let abandoned: Vec<_> = (0..cores)
            .map(|_| {
                let task = off_task(parse(Arc::clone(&running), Arc::clone(&most)));
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_millis(1), task).await;
                })
            })
            .collect();
        let waited: Vec<_> = (0..cores * 3)
            .map(|_| tokio::spawn(off_task(parse(Arc::clone(&running), Arc::clone(&most)))))
            .collect();
        for task in abandoned {
            task.await.expect("abandoned caller");
        }
        for task in waited {
            task.await.expect("join").expect("parse");
        }
        assert!(
            most.load(Ordering::SeqCst) <= cores,
            "{} parses ran at once on {cores} slots",
            most.load(Ordering::SeqCst)
        );
    }
}
