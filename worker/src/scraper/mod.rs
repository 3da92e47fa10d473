//! The scraper: fetches a source's feed, listing or sitemap, then the article pages it links
//! to, and turns them into [`NewArticle`]s for the job handler to upsert (DESIGN.md §7).
//!
//! Guarantees:
//! - One shared HTTP client ([`Scraper`] is a cheap clone) with connect and whole-request
//!   timeouts, a User-Agent, gzip, a body-size cap and a redirect cap; proxy environment
//!   variables are ignored; only public addresses are connected to (see `guard`).
//! - Only a failure of the start URL fails a run ([`ScrapeError`] says whether retrying can
//!   help); an article page that fails is logged and skipped, and a feed item whose page
//!   failed still becomes an article from the item's own fields.
//! - Pages already stored (by normalised URL) are not fetched again unless `refresh`.
//! - HTML, feed and sitemap parsing runs on blocking threads, never on the async task.
//! - Every returned article has a non-empty title, a normalised URL (its canonical URL when
//!   that stays on the same site), UTC dates, and appears once.
//!
//! Layout: `fetch` (client and GET), `guard` (address guard), `urls` (normalisation),
//! `feeds` (RSS/Atom), `listing` (HTML listings), `sitemap`, `article` (assembly),
//! [`extract`] (page metadata extraction).

mod article;
pub mod extract;
mod feeds;
mod fetch;
mod guard;
mod listing;
mod sitemap;
mod urls;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt as _};
use mediawarm_shared::domain::{NewArticle, Selectors, Source, SourceKind, SourceName};
use mediawarm_shared::store::Store;
use url::Url;

use article::{Candidate, assemble};
use extract::Selectors as ExtractSelectors;
use fetch::Page;
use sitemap::Sitemap;

pub use urls::normalize_url;

/// Most links considered from one start URL (before skipping known ones); bounds the
/// known-URL lookup and memory for huge sitemaps.
const MAX_CANDIDATES: usize = 5000;

/// Most child sitemaps of a sitemap index fetched in one run (most recently modified first).
const MAX_CHILD_SITEMAPS: usize = 5;

/// How the scraper fetches. The binaries set `allow_loopback` from `SCRAPE_ALLOW_LOOPBACK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScraperConfig {
    /// The `User-Agent` header: names the project and where to complain.
    pub user_agent: String,
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest a whole request may take, body included.
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
    /// Article pages fetched at once.
    pub page_concurrency: usize,
}

impl Default for ScraperConfig {
    fn default() -> Self {
        Self {
            user_agent: "mediawarm/0.1 (+https://github.com/mediawarm/mediawarm)".to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            allow_loopback: false,
            max_articles_per_run: 200,
            page_concurrency: 4,
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
}

/// Why a scrape failed, and whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Retrying will not help: a 4xx (except 408/429) on the start URL, an unparsable feed,
    /// a start page that is not a feed or HTML, a bad selector, a refused address.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Retrying may help: timeouts, connection failures, 5xx, 429, 408.
    #[error("transient: {0}")]
    Transient(String),
}

impl ScrapeError {
    /// Whether the job should fail without retries.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

/// The scraper: one HTTP client and its configuration. Cloning shares both.
#[derive(Clone, Debug)]
pub struct Scraper {
    /// Behind an `Arc` so job handlers clone a pointer, not the configuration.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Pools connections across runs and sources; carries the guard.
    client: reqwest::Client,
    cfg: ScraperConfig,
}

impl Scraper {
    /// Builds the shared client from `cfg`.
    pub fn new(cfg: ScraperConfig) -> Result<Self, ScrapeError> {
        let client = fetch::build_client(&cfg)?;
        Ok(Self {
            inner: Arc::new(Inner { client, cfg }),
        })
    }

    /// Fetches the source's start URL (feed, listing or sitemap), then the article pages it
    /// links to that the store does not know yet (all of them with `refresh`), extracts them
    /// and returns the articles, keyed by normalised canonical URL. Nothing is written: the
    /// job handler upserts.
    ///
    /// Fails only when the start URL does: [`ScrapeError::Permanent`] for import sources,
    /// invalid selectors or start URLs, refused addresses, 4xx (but 408/429), oversized or
    /// unparsable bodies; [`ScrapeError::Transient`] for timeouts, connection failures, 5xx,
    /// 408, 429 and a store that cannot answer the known-URL lookup.
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
                "import sources are not scraped".to_owned(),
            ));
        }
        let start = normalize_url(&source.url, None).ok_or_else(|| {
            ScrapeError::Permanent(format!("start URL {:?} is not an http(s) URL", source.url))
        })?;
        let page_selectors = page_selectors(source.selectors.as_ref())?.map(Arc::new);
        let mut pages_fetched = 0_i64;
        let mut candidates = self.candidates(source, &start, &mut pages_fetched).await?;
        candidates.truncate(MAX_CANDIDATES);
        let found = candidates.len();
        if !refresh && !candidates.is_empty() {
            let urls: Vec<String> = candidates.iter().map(|c| c.url.to_string()).collect();
            let known = store
                .known_urls(&urls)
                .await
                .map_err(|e| ScrapeError::Transient(format!("looking up known URLs: {e}")))?;
            candidates.retain(|c| !known.contains(c.url.as_str()));
        }
        candidates.truncate(self.inner.cfg.max_articles_per_run);
        tracing::debug!(found, to_fetch = candidates.len(), "article links");

        let results: Vec<(Option<NewArticle>, bool)> = stream::iter(candidates)
            .map(|candidate| self.article(&source.name, candidate, page_selectors.clone()))
            .buffered(self.inner.cfg.page_concurrency.max(1))
            .collect()
            .await;
        let mut seen = HashSet::new();
        let mut articles = Vec::with_capacity(results.len());
        for (article, fetched) in results {
            pages_fetched += i64::from(fetched);
            if let Some(article) = article.filter(|a| seen.insert(a.url.clone())) {
                articles.push(article);
            }
        }
        tracing::info!(articles = articles.len(), pages_fetched, "scraped");
        Ok(ScrapeOutput {
            articles,
            pages_fetched,
        })
    }

    /// The article links on the start URL, with what the feed or sitemap says about them.
    async fn candidates(
        &self,
        source: &Source,
        start: &Url,
        pages_fetched: &mut i64,
    ) -> Result<Vec<Candidate>, ScrapeError> {
        match source.kind {
            SourceKind::Rss | SourceKind::Atom => {
                let page = self.fetch(start).await?;
                *pages_fetched += 1;
                off_task(move || feeds::feed_candidates(&page.body, &page.url)).await?
            }
            SourceKind::Html => {
                let links = source
                    .selectors
                    .as_ref()
                    .and_then(|s| s.links.clone())
                    .ok_or_else(|| {
                        ScrapeError::Permanent("html sources need selectors.links".to_owned())
                    })?;
                listing::parse_selector("links", &links)?;
                let page = self.fetch(start).await?;
                *pages_fetched += 1;
                if !page.is_html() {
                    return Err(not_html(&page));
                }
                let urls =
                    off_task(move || listing::listing_links(&page.text(), &page.url, &links))
                        .await??;
                Ok(urls.into_iter().map(Candidate::bare).collect())
            }
            SourceKind::Sitemap => self.sitemap_candidates(start, pages_fetched).await,
            SourceKind::Import => Err(ScrapeError::Permanent(
                "import sources are not scraped".to_owned(),
            )),
        }
    }

    /// A sitemap's URLs; for a sitemap index, those of its most recent children (one level;
    /// a child that fails is skipped).
    async fn sitemap_candidates(
        &self,
        start: &Url,
        pages_fetched: &mut i64,
    ) -> Result<Vec<Candidate>, ScrapeError> {
        let page = self.fetch(start).await?;
        *pages_fetched += 1;
        let children =
            match off_task(move || sitemap::parse_sitemap(&page.text(), &page.url)).await?? {
                Sitemap::Urls(urls) => return Ok(urls),
                Sitemap::Index(children) => children,
            };
        let mut candidates = Vec::new();
        for child in children.into_iter().take(MAX_CHILD_SITEMAPS) {
            if candidates.len() >= MAX_CANDIDATES {
                break;
            }
            let page = match self.fetch(&child).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(url = %child, error = %err, "child sitemap skipped");
                    continue;
                }
            };
            *pages_fetched += 1;
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
        Ok(candidates)
    }

    /// Fetches and extracts one article page; the article (if it has a title) and whether
    /// the page was fetched. A failed page falls back to the candidate's hints.
    async fn article(
        &self,
        source: &SourceName,
        candidate: Candidate,
        selectors: Option<Arc<ExtractSelectors>>,
    ) -> (Option<NewArticle>, bool) {
        let page = match self.fetch(&candidate.url).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(url = %candidate.url, error = %err, "article page skipped");
                return (assemble(source, &candidate, None), false);
            }
        };
        if !page.is_html() {
            tracing::debug!(url = %candidate.url, content_type = ?page.content_type, "not HTML");
            return (assemble(source, &candidate, None), true);
        }
        let html = page.text();
        let url = page.url.clone();
        let extracted =
            off_task(move || extract::extract(&html, Some(&url), selectors.as_deref())).await;
        match extracted {
            Ok(x) => (assemble(source, &candidate, Some((&page.url, &x))), true),
            Err(err) => {
                tracing::warn!(url = %candidate.url, error = %err, "extraction failed");
                (assemble(source, &candidate, None), true)
            }
        }
    }

    async fn fetch(&self, url: &Url) -> Result<Page, ScrapeError> {
        fetch::get(&self.inner.client, &self.inner.cfg, url).await
    }
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
    ScrapeError::Permanent(format!(
        "{} is not HTML (content type {})",
        page.url,
        page.content_type.as_deref().unwrap_or("missing")
    ))
}

/// Runs CPU-bound parsing on a blocking thread. A panic there is permanent (the same input
/// would panic again); a cancelled task (shutdown) is transient.
async fn off_task<T, F>(f: F) -> Result<T, ScrapeError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        if e.is_panic() {
            ScrapeError::Permanent(format!("parsing panicked: {e}"))
        } else {
            ScrapeError::Transient(format!("parsing was cancelled: {e}"))
        }
    })
}
