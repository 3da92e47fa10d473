//! Politeness: how the scraper behaves towards the sites it fetches (docs/ARCHITECTURE.md,
//! "Invariants and why").
//!
//! [`Politeness::get`] wraps one fetch in everything a polite crawler does:
//! 1. robots.txt of the URL's origin is fetched (once per origin per `robots_ttl`, `robots`)
//!    and a disallowed URL is never requested (a permanent error);
//! 2. the host's limiter (`limiter`) is waited on: at most `per_host_concurrency` requests in
//!    flight and one request start per interval, the interval being the larger of the
//!    source's `rate_limit_per_sec` and the site's `Crawl-delay` (capped at
//!    `max_crawl_delay`); shared by every worker process through Redis when configured;
//! 3. 429, 502, 503, 504 and timeouts are retried up to `max_retries` times with exponential
//!    backoff and jitter (`retry`); a `Retry-After` (seconds or HTTP date) is honoured by
//!    pushing the host's next start for every process, and one longer than `max_retry_after`
//!    ends the attempts at once (the job's own retry comes later).
//!
//! Nothing waits past the run's deadline: a request that cannot start in time fails as
//! transient. robots.txt requests go through the same limiter and retries.

pub(crate) mod limiter;
pub(crate) mod retry;
pub(crate) mod robots;

use std::time::Duration;

use mediawarm_shared::domain::ErrorClass;
use tokio::time::Instant;
use url::Url;

use self::limiter::HostLimiter;
use self::robots::{RobotsAnswer, RobotsCache};
use super::fetch::{self, Accept, Failure, Fetched, Validators};
use super::{ScrapeError, ScraperConfig};

/// Largest robots.txt read (Google reads 500 KiB).
const ROBOTS_MAX_BYTES: usize = 512 * 1024;

/// Longest a `Retry-After` can hold a host back.
const MAX_DEFER: Duration = Duration::from_secs(3600);

/// One polite request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// What to fetch.
    pub(crate) url: &'a Url,
    /// Which content types are read.
    pub(crate) accept: Accept,
    /// Validators making the request conditional.
    pub(crate) validators: Option<&'a Validators>,
    /// Least time between request starts on the host (from the source's rate limit).
    pub(crate) interval: Duration,
    /// When the run must be over.
    pub(crate) deadline: Instant,
}

/// robots.txt, per-host limits and retries around [`fetch::get`].
#[derive(Debug)]
pub(crate) struct Politeness {
    limiter: HostLimiter,
    robots: RobotsCache,
}

/// The limiter's key of `url`'s host: `host:port`.
fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// The least time between request starts for a source allowing `per_sec` requests a
/// second; a value that is not a positive finite number means one a second.
pub(crate) fn rate_interval(per_sec: f64) -> Duration {
    if per_sec.is_finite() && per_sec > 0.0 {
        Duration::from_secs_f64(1.0 / per_sec.min(1000.0))
    } else {
        Duration::from_secs(1)
    }
}

impl Politeness {
    /// Builds the limiter (shared through Redis when `cfg.redis_url` is set) and an empty
    /// robots.txt cache.
    pub(crate) fn new(cfg: &ScraperConfig) -> Self {
        let lease = cfg.request_timeout + Duration::from_secs(30);
        Self {
            limiter: HostLimiter::new(
                cfg.redis_url.as_deref(),
                &cfg.redis_prefix,
                cfg.per_host_concurrency,
                lease,
            ),
            robots: RobotsCache::new(&cfg.user_agent, cfg.robots_ttl, Duration::from_secs(60)),
        }
    }

    /// Whether per-host limits are shared through Redis.
    pub(crate) fn is_shared(&self) -> bool {
        self.limiter.is_shared()
    }

    /// Fetches `req.url` if robots.txt allows it, within the host's limits, retrying what
    /// may pass.
    pub(crate) async fn get(
        &self,
        client: &reqwest::Client,
        cfg: &ScraperConfig,
        req: Request<'_>,
    ) -> Result<Fetched, ScrapeError> {
        let (origin, robots_url) = robots::robots_url(req.url).ok_or_else(|| {
            ScrapeError::Permanent(ErrorClass::FetchFailed, format!("{} has no host", req.url))
        })?;
        let host = host_key(req.url);
        let rules = self
            .robots
            .rules(&origin, || {
                self.fetch_robots(client, cfg, &robots_url, &host, req.interval, req.deadline)
            })
            .await?;
        if !rules.allowed(req.url) {
            return Err(ScrapeError::Permanent(
                ErrorClass::RobotsDisallowed,
                format!("robots.txt disallows {}", req.url),
            ));
        }
        let crawl_delay = rules
            .crawl_delay()
            .map_or(Duration::ZERO, |d| d.min(cfg.max_crawl_delay));
        let interval = req.interval.max(crawl_delay);
        self.with_retries(client, cfg, &host, req, interval, cfg.max_body_bytes)
            .await
            .map_err(|failure| failure.error)
    }

    async fn fetch_robots(
        &self,
        client: &reqwest::Client,
        cfg: &ScraperConfig,
        robots_url: &Url,
        host: &str,
        interval: Duration,
        deadline: Instant,
    ) -> RobotsAnswer {
        let req = Request {
            url: robots_url,
            accept: Accept::Any,
            validators: None,
            interval,
            deadline,
        };
        let cap = ROBOTS_MAX_BYTES.min(cfg.max_body_bytes.max(1024));
        match self
            .with_retries(client, cfg, host, req, interval, cap)
            .await
        {
            Ok(Fetched::Page(page)) => RobotsAnswer::Body(page.body.to_vec()),
            Ok(Fetched::NotModified | Fetched::Skipped { .. }) => RobotsAnswer::Missing,
            Err(failure) => match (failure.status, failure.error) {
                (Some(status), _) if (400..500).contains(&status) && status != 429 => {
                    RobotsAnswer::Missing
                }
                (_, ScrapeError::Transient(_, why)) => RobotsAnswer::Unreachable(why),
                (_, ScrapeError::Permanent(_, why)) => {
                    tracing::debug!(url = %robots_url, why, "robots.txt refused; the page decides");
                    RobotsAnswer::Refused
                }
            },
        }
    }

    async fn with_retries(
        &self,
        client: &reqwest::Client,
        cfg: &ScraperConfig,
        host: &str,
        req: Request<'_>,
        interval: Duration,
        cap: usize,
    ) -> Result<Fetched, Failure> {
        let mut attempt = 0;
        loop {
            let permit = self
                .limiter
                .acquire(host, interval, req.deadline)
                .await
                .map_err(|_| Failure {
                    error: ScrapeError::Transient(
                        ErrorClass::Timeout,
                        format!(
                            "the run's time budget ran out before {} could be fetched",
                            req.url
                        ),
                    ),
                    status: None,
                    retry: None,
                })?;
            let result = fetch::get(client, cfg, req.url, req.accept, req.validators, cap).await;
            drop(permit);
            let failure = match result {
                Ok(fetched) => return Ok(fetched),
                Err(failure) => failure,
            };
            let Some(asked) = failure.retry else {
                return Err(failure);
            };
            if attempt >= cfg.max_retries {
                return Err(failure);
            }
            match asked {
                Some(wait) if wait > cfg.max_retry_after => {
                    self.limiter.defer(host, wait.min(MAX_DEFER)).await;
                    tracing::info!(url = %req.url, ?wait, "Retry-After beyond the cap; not retrying now");
                    return Err(failure);
                }
                Some(wait) => {
                    tracing::debug!(url = %req.url, ?wait, attempt, "retrying after Retry-After");
                    self.limiter.defer(host, wait).await;
                }
                None => {
                    let wait = retry::backoff(attempt, cfg.retry_base, cfg.retry_max_delay);
                    if Instant::now() + wait > req.deadline {
                        return Err(failure);
                    }
                    tracing::debug!(url = %req.url, ?wait, attempt, error = %failure.error, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_intervals_are_sane() {
        assert_eq!(rate_interval(1.0), Duration::from_secs(1));
        assert_eq!(rate_interval(4.0), Duration::from_millis(250));
        assert_eq!(rate_interval(0.5), Duration::from_secs(2));
        assert_eq!(rate_interval(0.0), Duration::from_secs(1));
        assert_eq!(rate_interval(-3.0), Duration::from_secs(1));
        assert_eq!(rate_interval(f64::NAN), Duration::from_secs(1));
        assert_eq!(rate_interval(1e9), Duration::from_millis(1));
    }

    #[test]
    fn host_keys_carry_the_port() {
        let u = |s: &str| Url::parse(s).expect("valid url");
        assert_eq!(host_key(&u("https://g.example/a")), "g.example:443");
        assert_eq!(host_key(&u("http://127.0.0.1:8080/a")), "127.0.0.1:8080");
    }
}
