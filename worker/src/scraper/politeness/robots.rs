//! robots.txt: fetched once per origin, cached, and parsed by `texting_robots` for the
//! scraper's product token (the User-Agent up to its first `/` or space).
//!
//! What an answer means follows RFC 9309: a 2xx body is parsed (an unparsable one allows
//! everything); a 4xx, including 404, means there are no rules; a 5xx, 429, timeout or
//! connection failure means the site may not be crawled for now (a transient error for every
//! page of the origin, remembered briefly so a run does not ask again for each page). One
//! fetch per origin at a time: concurrent callers wait for the first one's answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mediawarm_shared::domain::ErrorClass;
use texting_robots::Robot;
use tokio::time::Instant;
use url::Url;

use crate::scraper::ScrapeError;

/// The rules that apply to the scraper on one origin.
#[derive(Debug)]
pub(crate) enum Rules {
    /// No robots.txt (4xx), or one that does not parse.
    AllowAll,
    /// The parsed file.
    Parsed(Robot),
}

impl Rules {
    /// Whether `url` may be fetched.
    pub(crate) fn allowed(&self, url: &Url) -> bool {
        match self {
            Rules::AllowAll => true,
            Rules::Parsed(robot) => robot.allowed(url.as_str()),
        }
    }

    /// The `Crawl-delay` asked for, if any (negative and non-finite values ignored).
    pub(crate) fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Rules::Parsed(Robot {
                delay: Some(delay), ..
            }) if delay.is_finite() && *delay > 0.0 => Duration::try_from_secs_f32(*delay).ok(),
            _ => None,
        }
    }
}

/// How fetching an origin's robots.txt went.
#[derive(Debug)]
pub(crate) enum RobotsAnswer {
    /// A 2xx body.
    Body(Vec<u8>),
    /// A 4xx: no rules.
    Missing,
    /// A 5xx, 429, timeout or connection failure: crawling waits.
    Unreachable(String),
    /// Refused by the scraper itself (address guard, off-host redirect, oversized): the page
    /// fetch decides on its own.
    Refused,
}

#[derive(Debug)]
struct Cached {
    rules: Result<Arc<Rules>, String>,
    until: Instant,
}

/// robots.txt rules per origin (`scheme://host:port`), cached for a while.
#[derive(Debug)]
pub(crate) struct RobotsCache {
    /// One slot per origin; its async lock makes concurrent callers share one fetch.
    origins: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
    /// The product token matched against `User-agent` lines.
    agent: String,
    /// How long fetched rules are kept.
    ttl: Duration,
    /// How long an unreachable robots.txt keeps its origin closed before asking again.
    failure_ttl: Duration,
}

/// The robots.txt product token of a User-Agent (`mediawarm` for `mediawarm/0.1 (+…)`).
pub(crate) fn product_token(user_agent: &str) -> String {
    user_agent
        .split(['/', ' '])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The origin `url` belongs to, and its robots.txt URL.
pub(crate) fn robots_url(url: &Url) -> Option<(String, Url)> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let origin = format!("{}://{host}:{port}", url.scheme());
    let robots = url.join("/robots.txt").ok()?;
    Some((origin, robots))
}

impl RobotsCache {
    /// A cache for the product token of `user_agent`.
    pub(crate) fn new(user_agent: &str, ttl: Duration, failure_ttl: Duration) -> Self {
        Self {
            origins: Mutex::new(HashMap::new()),
            agent: product_token(user_agent),
            ttl,
            failure_ttl,
        }
    }

    /// The rules of `origin`, fetching them with `fetch` when none are cached (or they
    /// expired). An unreachable robots.txt is a transient error.
    pub(crate) async fn rules<F, Fut>(
        &self,
        origin: &str,
        fetch: F,
    ) -> Result<Arc<Rules>, ScrapeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = RobotsAnswer>,
    {
        let slot = {
            let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(origins.entry(origin.to_owned()).or_default())
        };
        let mut cached = slot.lock().await;
        if let Some(entry) = cached.as_ref().filter(|c| Instant::now() < c.until) {
            return entry.rules.clone().map_err(unreachable);
        }
        let (rules, ttl) = match fetch().await {
            RobotsAnswer::Body(body) => match Robot::new(&self.agent, &body) {
                Ok(robot) => (Ok(Arc::new(Rules::Parsed(robot))), self.ttl),
                Err(error) => {
                    tracing::debug!(origin, %error, "robots.txt does not parse; allowing all");
                    (Ok(Arc::new(Rules::AllowAll)), self.ttl)
                }
            },
            RobotsAnswer::Missing => (Ok(Arc::new(Rules::AllowAll)), self.ttl),
            RobotsAnswer::Refused => return Ok(Arc::new(Rules::AllowAll)),
            RobotsAnswer::Unreachable(why) => (
                Err(format!(
                    "robots.txt of {origin} is unreachable ({why}); not crawling it for now"
                )),
                self.failure_ttl,
            ),
        };
        *cached = Some(Cached {
            rules: rules.clone(),
            until: Instant::now() + ttl,
        });
        rules.map_err(unreachable)
    }
}

/// The failure of a page whose robots.txt could not be read.
fn unreachable(why: String) -> ScrapeError {
    ScrapeError::Transient(ErrorClass::FetchFailed, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("valid url")
    }

    #[test]
    fn the_product_token_is_the_user_agent_name() {
        assert_eq!(
            product_token("mediawarm/0.1 (+https://github.com/mediawarm/mediawarm)"),
            "mediawarm"
        );
        assert_eq!(product_token("MediaWarm"), "mediawarm");
    }

    #[test]
    fn robots_urls_are_per_origin() {
        let (origin, robots) = robots_url(&url("https://News.example/a/b?c=d")).expect("http");
        assert_eq!(origin, "https://news.example:443");
        assert_eq!(robots.as_str(), "https://news.example/robots.txt");
        let (origin, _) = robots_url(&url("http://127.0.0.1:8080/x")).expect("http");
        assert_eq!(origin, "http://127.0.0.1:8080");
    }

    #[tokio::test]
    async fn rules_are_fetched_once_and_honoured() {
        let cache = RobotsCache::new(
            "mediawarm/0.1",
            Duration::from_secs(60),
            Duration::from_secs(1),
        );
        let txt = b"User-agent: *\nDisallow: /private\nAllow: /private/open\nCrawl-delay: 2\n\nUser-agent: other\nDisallow: /\n";
        let rules = cache
            .rules("http://h:80", || async { RobotsAnswer::Body(txt.to_vec()) })
            .await
            .expect("rules");
        assert!(!rules.allowed(&url("http://h/private/x")));
        assert!(rules.allowed(&url("http://h/private/open/y")));
        assert!(rules.allowed(&url("http://h/public")));
        assert_eq!(rules.crawl_delay(), Some(Duration::from_secs(2)));
        let again = cache
            .rules("http://h:80", || async {
                panic!("cached rules are not fetched again")
            })
            .await
            .expect("rules");
        assert!(!again.allowed(&url("http://h/private/x")));
    }

    #[tokio::test]
    async fn our_own_group_wins_over_the_wildcard() {
        let cache = RobotsCache::new(
            "mediawarm/0.1",
            Duration::from_secs(60),
            Duration::from_secs(1),
        );
        let txt = b"User-agent: *\nAllow: /\n\nUser-agent: mediawarm\nDisallow: /\n";
        let rules = cache
            .rules("http://h:80", || async { RobotsAnswer::Body(txt.to_vec()) })
            .await
            .expect("rules");
        assert!(!rules.allowed(&url("http://h/anything")));
    }

    #[tokio::test]
    async fn missing_allows_all_and_unreachable_closes_the_origin_for_a_while() {
        let cache = RobotsCache::new(
            "mediawarm",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        let missing = cache
            .rules("http://a:80", || async { RobotsAnswer::Missing })
            .await
            .expect("rules");
        assert!(missing.allowed(&url("http://a/x")));
        let down = cache
            .rules("http://b:80", || async {
                RobotsAnswer::Unreachable("503".into())
            })
            .await
            .expect_err("unreachable");
        assert!(!down.is_permanent());
        let still = cache
            .rules("http://b:80", || async { RobotsAnswer::Missing })
            .await;
        assert!(still.is_err(), "the failure is remembered");
    }
}
