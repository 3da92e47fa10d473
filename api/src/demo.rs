//! `--demo`: a small news site served on a loopback port, registered as the source `demo`,
//! so a newcomer sees scraping, invalidation and warming work offline.
//!
//! The site publishes an RSS feed and one HTML page per article (with JSON-LD and
//! OpenGraph metadata, as real sites do). It starts with a few articles and publishes a new
//! one every publishing interval (`--demo-publish-secs`, a minute by default), so each
//! scheduled scrape (every minute, at second 30; none with `--no-cron`) has something new.
//!
//! Guarantees: the site only grows (story `n`, once published, stays with the same title,
//! author and date), and any wait of one interval or longer sees at least one new story.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use tokio::net::TcpListener;

/// Articles on the site when it starts.
const INITIAL_ARTICLES: u64 = 8;
/// The source name the demo registers.
pub const DEMO_SOURCE: &str = "demo";
/// When the demo source is scraped.
pub const DEMO_SCHEDULE: &str = "30 * * * * *";

/// The default publishing interval: a new story a minute.
pub const DEFAULT_PUBLISH_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// How far apart the stories the site starts with were published.
const INITIAL_SPACING_MINUTES: i64 = 45;

#[derive(Debug)]
struct Site {
    started: Instant,
    started_at: DateTime<Utc>,
    every: StdDuration,
}

impl Site {
    fn article_count(&self) -> u64 {
        let published = self.started.elapsed().as_millis() / self.every.as_millis().max(1);
        INITIAL_ARTICLES + u64::try_from(published).unwrap_or(u64::MAX - INITIAL_ARTICLES)
    }

    /// When story `n` was published: the initial ones 45 minutes apart before the start,
    /// the later ones one interval apart after it.
    fn published(&self, n: u64) -> DateTime<Utc> {
        let after_start =
            i64::try_from(n).unwrap_or(i64::MAX) - i64::try_from(INITIAL_ARTICLES).unwrap_or(0);
        if after_start < 0 {
            self.started_at + Duration::minutes(after_start * INITIAL_SPACING_MINUTES)
        } else {
            Duration::from_std(self.every)
                .ok()
                .and_then(|every| every.checked_mul(i32::try_from(after_start).ok()?))
                .and_then(|delay| self.started_at.checked_add_signed(delay))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
    }
}

/// A running demo site.
#[derive(Debug)]
pub struct DemoSite {
    /// The feed URL to register.
    pub feed_url: String,
}

/// The demo site's preferred address: a stable port keeps article URLs stable across
/// restarts (another free port is used when it is taken).
const PREFERRED_ADDR: &str = "127.0.0.1:8002";

/// Binds a loopback port and serves the site in the background, publishing a new story
/// every `publish_every` (at least a millisecond).
pub async fn start(publish_every: StdDuration) -> std::io::Result<DemoSite> {
    let listener = match TcpListener::bind(PREFERRED_ADDR).await {
        Ok(listener) => listener,
        Err(_) => TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr = listener.local_addr()?;
    let site = Arc::new(Site {
        started: Instant::now(),
        started_at: Utc::now(),
        every: publish_every.max(StdDuration::from_millis(1)),
    });
    let router = Router::new()
        .route("/feed.xml", get(feed))
        .route("/articles/{n}", get(article))
        .with_state(site);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "demo site stopped");
        }
    });
    Ok(DemoSite {
        feed_url: format!("http://{addr}/feed.xml"),
    })
}

const AUTHORS: [&str; 3] = ["Ada Reporter", "Grace Writer", "Linus Columnist"];
const TOPICS: [&str; 5] = [
    "city council",
    "harbour",
    "rail strike",
    "book fair",
    "heatwave",
];

fn headline(n: u64) -> String {
    format!(
        "Demo story {n}: news about the {}",
        TOPICS[(n % 5) as usize]
    )
}

async fn feed(State(site): State<Arc<Site>>) -> Response {
    let count = site.article_count();
    let items: String = (1..=count)
        .rev()
        .take(30)
        .map(|n| {
            format!(
                "<item><title>{}</title><link>/articles/{n}</link><pubDate>{}</pubDate>\
                 <description>Summary of demo story {n}.</description></item>",
                headline(n),
                site.published(n).to_rfc2822()
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>mediawarm demo</title>\
         <link>/</link><description>A demo site</description>{items}</channel></rss>"
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn article(State(site): State<Arc<Site>>, Path(n): Path<String>) -> Response {
    let Some(n) = n
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=site.article_count()).contains(n))
    else {
        return (StatusCode::NOT_FOUND, "no such article").into_response();
    };
    let title = headline(n);
    let author = AUTHORS[(n % 3) as usize];
    let published = site.published(n).to_rfc3339();
    let body = format!(
        "<!doctype html><html><head><title>{title} | mediawarm demo</title>\
         <meta property=\"og:title\" content=\"{title}\">\
         <meta name=\"author\" content=\"{author}\">\
         <meta property=\"article:published_time\" content=\"{published}\">\
         <meta name=\"description\" content=\"Summary of demo story {n}.\">\
         <script type=\"application/ld+json\">{{\"@type\":\"NewsArticle\",\"headline\":\"{title}\",\
         \"datePublished\":\"{published}\",\"author\":{{\"@type\":\"Person\",\"name\":\"{author}\"}}}}</script>\
         </head><body><article><h1>{title}</h1><p class=\"byline\">By {author}</p>\
         <p>Demo story {n} body text.</p></article></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_started_ago(ago: StdDuration, every: StdDuration) -> Site {
        Site {
            started: Instant::now().checked_sub(ago).unwrap(),
            started_at: Utc::now() - Duration::from_std(ago).unwrap(),
            every,
        }
    }

    #[test]
    fn a_story_is_published_every_interval_after_the_initial_ones() {
        let every = StdDuration::from_secs(10);
        let site = site_started_ago(StdDuration::from_secs(25), every);
        assert_eq!(site.article_count(), INITIAL_ARTICLES + 2);
        let newest = site.article_count();
        assert_eq!(
            site.published(newest) - site.published(newest - 1),
            Duration::from_std(every).unwrap()
        );
        assert!(site.published(newest) <= Utc::now());
        assert_eq!(
            site.published(INITIAL_ARTICLES) - site.published(INITIAL_ARTICLES - 1),
            Duration::minutes(INITIAL_SPACING_MINUTES)
        );
    }

    #[test]
    fn the_default_interval_is_a_minute() {
        let site = site_started_ago(StdDuration::from_secs(59), DEFAULT_PUBLISH_INTERVAL);
        assert_eq!(site.article_count(), INITIAL_ARTICLES);
    }
}
