//! # mediawarm-testkit
//!
//! A fixture news site on `127.0.0.1:0` for tests: an RSS feed (`/feed.xml`), an HTML
//! listing (`/listing`) and one page per article (`/a/{slug}`) with OpenGraph and JSON-LD
//! metadata. Tests add articles while it runs, make the feed misbehave (404, garbage, fail
//! N times, slow), and count the requests each path received.
//!
//! Besides: [`scripted`], a site where each path answers what the test scripts for it (for
//! the scraper's handling of statuses, headers, bodies and timing); [`store`], a test's own
//! migrated store (SQLite or PostgreSQL); [`services`], a test's own PostgreSQL database and
//! Redis key prefix; [`faults`], services a fault test owns and breaks. Nothing here is
//! used outside tests.

pub mod faults;
pub mod scripted;
pub mod services;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

/// One article the site publishes.
#[derive(Debug, Clone)]
pub struct FixtureArticle {
    /// Its path segment: the page is `/a/{slug}`.
    pub slug: String,
    /// Headline.
    pub title: String,
    /// Byline.
    pub author: String,
    /// Publication time.
    pub published: DateTime<Utc>,
}

/// How `/feed.xml` (and `/listing`) answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedBehaviour {
    /// A valid feed.
    Healthy,
    /// 404 Not Found (a permanent failure).
    NotFound,
    /// 200 with text that is no feed (a permanent failure).
    Garbage,
    /// 503 for the next `n` requests, then healthy (a transient failure).
    FailTimes(u32),
    /// Healthy, after this delay.
    Slow(Duration),
}

#[derive(Debug)]
struct Site {
    articles: Mutex<Vec<FixtureArticle>>,
    /// Pages served as given instead of the generated one, by slug.
    raw_pages: Mutex<HashMap<String, String>>,
    feed: Mutex<FeedBehaviour>,
    hits: Mutex<HashMap<String, u64>>,
}

/// A running fixture site; it stops when dropped.
#[derive(Debug)]
pub struct FixtureSite {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    site: Arc<Site>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FixtureSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FixtureSite {
    /// Starts an empty, healthy site.
    pub async fn start() -> Self {
        let site = Arc::new(Site {
            articles: Mutex::new(Vec::new()),
            raw_pages: Mutex::new(HashMap::new()),
            feed: Mutex::new(FeedBehaviour::Healthy),
            hits: Mutex::new(HashMap::new()),
        });
        #[allow(clippy::expect_used)]
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixture");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("fixture address");
        let router = Router::new()
            .route("/feed.xml", get(feed))
            .route("/listing", get(listing))
            .route("/a/{slug}", get(page))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&site),
                count,
            ))
            .with_state(Arc::clone(&site));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base: format!("http://{addr}"),
            site,
            task,
        }
    }

    /// The RSS feed's URL.
    pub fn feed_url(&self) -> String {
        format!("{}/feed.xml", self.base)
    }

    /// The HTML listing's URL (links are `a.story`).
    pub fn listing_url(&self) -> String {
        format!("{}/listing", self.base)
    }

    /// The URL an article is stored under.
    pub fn article_url(&self, slug: &str) -> String {
        format!("{}/a/{slug}", self.base)
    }

    /// Publishes `count` articles named `{prefix}-{i}`, one minute apart ending at `newest`.
    pub fn publish(&self, prefix: &str, count: usize, newest: DateTime<Utc>) {
        let mut articles = lock(&self.site.articles);
        for i in 0..count {
            let minutes = i64::try_from(count - 1 - i).unwrap_or(0);
            articles.push(FixtureArticle {
                slug: format!("{prefix}-{i}"),
                title: format!("Story {prefix} {i}"),
                author: "Fixture Reporter".to_owned(),
                published: newest - chrono::Duration::minutes(minutes),
            });
        }
    }

    /// Publishes one article as given (its slug and title are written into the feed and the
    /// page unescaped).
    pub fn add(&self, article: FixtureArticle) {
        lock(&self.site.articles).push(article);
    }

    /// Serves `html` as the page of `slug` (an article added with that slug still appears in
    /// the feed and the listing).
    pub fn set_page(&self, slug: &str, html: String) {
        lock(&self.site.raw_pages).insert(slug.to_owned(), html);
    }

    /// Sets how the feed (and the listing) answer.
    pub fn set_feed(&self, behaviour: FeedBehaviour) {
        *lock(&self.site.feed) = behaviour;
    }

    /// How many requests `path` (e.g. `/feed.xml`) has received.
    pub fn hits(&self, path: &str) -> u64 {
        lock(&self.site.hits).get(path).copied().unwrap_or(0)
    }
}

async fn count(
    State(site): State<Arc<Site>>,
    uri: Uri,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    *lock(&site.hits).entry(uri.path().to_owned()).or_default() += 1;
    next.run(request).await
}

/// Applies the feed behaviour; `Some` is the response to send instead of the feed.
async fn misbehave(site: &Site) -> Option<Response> {
    let behaviour = *lock(&site.feed);
    match behaviour {
        FeedBehaviour::Healthy => None,
        FeedBehaviour::NotFound => Some(StatusCode::NOT_FOUND.into_response()),
        FeedBehaviour::Garbage => Some(
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                "this is not a feed <<<",
            )
                .into_response(),
        ),
        FeedBehaviour::FailTimes(n) => {
            let mut feed = lock(&site.feed);
            *feed = if n <= 1 {
                FeedBehaviour::Healthy
            } else {
                FeedBehaviour::FailTimes(n - 1)
            };
            Some(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
        FeedBehaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
    }
}

async fn feed(State(site): State<Arc<Site>>) -> Response {
    if let Some(response) = misbehave(&site).await {
        return response;
    }
    let items: String = lock(&site.articles)
        .iter()
        .rev()
        .map(|a| {
            format!(
                "<item><title>{}</title><link>/a/{}</link><pubDate>{}</pubDate><author>{}</author></item>",
                a.title,
                a.slug,
                a.published.to_rfc2822(),
                a.author
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Fixture</title>\
         <link>/</link><description>fixture</description>{items}</channel></rss>"
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn listing(State(site): State<Arc<Site>>) -> Response {
    if let Some(response) = misbehave(&site).await {
        return response;
    }
    let links: String = lock(&site.articles)
        .iter()
        .rev()
        .map(|a| {
            format!(
                "<li><a class=\"story\" href=\"/a/{}\">{}</a></li>",
                a.slug, a.title
            )
        })
        .collect();
    let body = format!(
        "<!doctype html><html><head><title>Fixture</title></head><body><ul>{links}</ul></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn page(State(site): State<Arc<Site>>, Path(slug): Path<String>) -> Response {
    if let Some(html) = lock(&site.raw_pages).get(&slug).cloned() {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    }
    let Some(a) = lock(&site.articles)
        .iter()
        .find(|a| a.slug == slug)
        .cloned()
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let published = a.published.to_rfc3339();
    let body = format!(
        "<!doctype html><html><head><title>{title} | Fixture</title>\
         <meta property=\"og:title\" content=\"{title}\">\
         <meta name=\"author\" content=\"{author}\">\
         <meta property=\"article:published_time\" content=\"{published}\">\
         <meta name=\"description\" content=\"About {title}.\">\
         </head><body><article><h1>{title}</h1><p>Text.</p></article></body></html>",
        title = a.title,
        author = a.author,
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}
