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
//! A run ([`Scraper::scrape`]) is four steps, each in its own module: `discover` (the start
//! URL and the links it gives), `select` (which of them to fetch), `pages` (fetch and
//! extract them, tally the outcomes), then the fetch cache is saved here.
//!
//! Layout besides: `fetch` (client and one GET), `politeness` (robots.txt, per-host limits,
//! retries), `guard` (address guard), `urls` (normalisation), `feeds` (RSS 0.9x/1.0/2.0,
//! Atom, JSON Feed), `listing` (HTML listings), `sitemap`, `article` (assembly),
//! [`extract`] (page metadata extraction), [`evaluate`] (the `extract` command: one page, or a
//! labelled folder scored), `refetch` (one stored page's date again, for the `backfill`
//! command).

mod article;
mod discover;
pub mod evaluate;
mod feeds;
mod fetch;
mod guard;
mod listing;
mod pages;
mod politeness;
mod refetch;
mod select;
mod sitemap;
mod urls;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mediawarm_shared::domain::{
    ErrorClass, NewArticle, Selectors, SkippedPage, Source, SourceKind, SourceName,
};
use mediawarm_shared::store::{FetchRecord, Store};
use tokio::time::Instant;
use url::Url;

use discover::Listing;
use extract::Selectors as ExtractSelectors;
use fetch::{Accept, Fetched, Validators};
use politeness::Politeness;
use select::lookup_records;

pub use article::{PageArticle, page_article, page_article_with_rules};
pub use mediawarm_extract as extract;
pub use mediawarm_extract::depth;
pub use refetch::PageDate;
pub use urls::normalize_url;

/// Most links considered from one start URL (before skipping known ones); bounds the
/// known-URL lookup and memory for huge sitemaps.
const MAX_CANDIDATES: usize = 5000;

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
    ///
    /// Steps: `checked_source`, discovery (`discover`), selection (`select`), the pages
    /// (`pages`), then the fetch cache, where the start URL's validators are kept only when
    /// the run saw every page it selected, none was cut by the per-run cap, and the links did
    /// not come from a sitemap index.
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
        let (start, page_selectors) = checked_source(source)?;
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
        let (candidates, from_index, start_validators) = match self
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
        let selection = select::select(
            store,
            &start,
            candidates,
            refresh,
            self.inner.cfg.max_articles_per_run,
        )
        .await?;
        let outcomes = self
            .fetch_pages(
                &run,
                selection.candidates,
                selection.validators,
                page_selectors,
            )
            .await;
        let mut tally = pages::tally(&mut out, outcomes);
        if selection.complete && tally.complete && !from_index && !start_validators.is_empty() {
            tally
                .records
                .push(start_fetch_record(&start, start_validators, &out));
        }
        save_fetch_records(store, &tally.records).await;
        tracing::info!(
            articles = out.articles.len(),
            pages_fetched = out.pages_fetched,
            pages_not_modified = out.pages_not_modified,
            "scraped"
        );
        Ok(out)
    }

    /// One GET within `run`: robots.txt, the host's rate and concurrency limits, retries
    /// and the run's deadline all apply (see `politeness`).
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

/// A run's preconditions, checked before any request: the source is scraped (not an import
/// source), its start URL is an http(s) URL (returned normalised), and its article-page
/// selectors parse (returned for the extractor; `None` when it has none). Every failure is
/// permanent.
fn checked_source(source: &Source) -> Result<(Url, Option<Arc<ExtractSelectors>>), ScrapeError> {
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
    Ok((start, page_selectors))
}

/// The start URL's fetch record: its validators and the articles this run returned, which a
/// later 304 on it must find stored to end that run early.
fn start_fetch_record(start: &Url, validators: Validators, out: &ScrapeOutput) -> FetchRecord {
    FetchRecord {
        url: start.to_string(),
        etag: validators.etag,
        last_modified: validators.last_modified,
        fetched_at: Utc::now(),
        article_urls: Some(out.articles.iter().map(|a| a.url.clone()).collect()),
    }
}

/// Saves `records` to the fetch cache; a failure is logged, never a run's failure (the next
/// run then fetches in full).
async fn save_fetch_records(store: &Store, records: &[FetchRecord]) {
    if let Err(error) = store.save_fetch_records(records).await {
        tracing::warn!(%error, "saving validators failed; the next run fetches in full");
    }
}

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
