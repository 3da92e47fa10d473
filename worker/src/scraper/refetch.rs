//! Fetching one stored article's page again and reading its date, for the `backfill`
//! command.
//!
//! The page goes through the same path as a scrape's article pages: the shared client (its
//! timeouts, body cap, redirect cap and address guard), robots.txt, the source's per-host
//! rate and the shared concurrency limits, retries with backoff; only pages on the source's
//! own site are fetched. The request is unconditional: a stored page is exactly the one a
//! conditional request would answer 304 for.

use tokio::time::Instant;

use super::discover::not_html;
use super::fetch::{Accept, Fetched};
use super::urls::same_site;
use super::{
    Run, ScrapeError, Scraper, extract, normalize_url, off_task, page_selectors, politeness,
};
use mediawarm_shared::domain::{ErrorClass, Source, SourceKind};

/// What the current extractor reads on a stored article's page, for date corrections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageDate {
    /// The page's publication date (page metadata, `<time>`, URL path, …), in UTC.
    Found(chrono::DateTime<chrono::Utc>),
    /// The page was fetched and read, and states no date.
    Missing,
}

impl Scraper {
    /// Fetches `url`, a stored article of `source`, and returns the date the extractor finds
    /// on it now (with the source's page selectors), politely and within the scraper's run
    /// budget. Fails when the source is not scraped (import), the URL is not an http(s) URL
    /// on the source's site, the fetch fails, the answer is not HTML, or parsing fails; the
    /// error says whether retrying can help.
    #[tracing::instrument(skip_all, fields(source = %source.name, url), err(Display))]
    pub async fn page_date(&self, source: &Source, url: &str) -> Result<PageDate, ScrapeError> {
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
        let page_url = normalize_url(url, None)
            .filter(|u| same_site(&start, u))
            .ok_or_else(|| {
                ScrapeError::Permanent(
                    ErrorClass::FetchFailed,
                    format!("{url} is not an http(s) URL on the site of {start}"),
                )
            })?;
        let selectors = page_selectors(source.selectors.as_ref())?;
        let run = Run {
            source: &source.name,
            start: &start,
            interval: politeness::rate_interval(source.rate_limit_per_sec),
            deadline: Instant::now() + self.inner.cfg.run_budget,
        };
        let page = match self.get(&run, &page_url, Accept::Html, None).await? {
            Fetched::Page(page) if page.is_html() => page,
            Fetched::Page(page) => return Err(not_html(&page)),
            Fetched::Skipped { content_type } => {
                return Err(ScrapeError::Permanent(
                    ErrorClass::ParseFailed,
                    format!("{page_url} has content type {content_type}, not a page"),
                ));
            }
            Fetched::NotModified => {
                return Err(ScrapeError::Transient(
                    ErrorClass::HttpStatus,
                    format!("{page_url} answered 304 to an unconditional request"),
                ));
            }
        };
        let html = page.text();
        let served_from = page.url.clone();
        let extracted =
            off_task(move || extract::extract(&html, Some(&served_from), selectors.as_ref()))
                .await?;
        Ok(match extracted.published {
            Some(date) => PageDate::Found(date.with_timezone(&chrono::Utc)),
            None => PageDate::Missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use mediawarm_shared::domain::SourceName;
    use mediawarm_testkit::FixtureSite;

    use super::*;
    use crate::scraper::ScraperConfig;

    fn scraper(allow_loopback: bool, max_body_bytes: usize) -> Scraper {
        Scraper::new(ScraperConfig {
            allow_loopback,
            max_body_bytes,
            max_retries: 0,
            ..ScraperConfig::default()
        })
        .expect("scraper")
    }

    fn source(site: &FixtureSite) -> Source {
        Source {
            name: SourceName::parse("gazette").expect("name"),
            kind: SourceKind::Rss,
            url: site.feed_url(),
            selectors: None,
            schedule: None,
            rate_limit_per_sec: 200.0,
            enabled: true,
        }
    }

    /// A stored page is read again through the scrape's guard, site check and body cap:
    /// refused addresses and other sites get no request, an oversized page is an error.
    #[tokio::test]
    async fn a_page_is_fetched_under_the_scrapes_rules() {
        let site = FixtureSite::start().await;
        let date = Utc
            .with_ymd_and_hms(2024, 5, 5, 9, 0, 0)
            .single()
            .expect("time");
        site.publish("story", 1, date);
        let source = source(&site);
        let url = site.article_url("story-0");

        let found = scraper(true, 1 << 20)
            .page_date(&source, &url)
            .await
            .expect("page");
        assert_eq!(found, PageDate::Found(date));
        assert_eq!(site.hits("/a/story-0"), 1);

        let refused = scraper(false, 1 << 20).page_date(&source, &url).await;
        assert!(
            refused.as_ref().is_err_and(ScrapeError::is_permanent),
            "{refused:?}"
        );
        assert_eq!(
            site.hits("/a/story-0"),
            1,
            "the guard refuses before any request"
        );

        let elsewhere = scraper(true, 1 << 20)
            .page_date(&source, "http://localhost:9/a/story-0")
            .await;
        assert!(elsewhere.is_err(), "{elsewhere:?}");

        let oversized = scraper(true, 64).page_date(&source, &url).await;
        assert!(oversized.is_err(), "{oversized:?}");

        site.set_page(
            "bare",
            "<html><head><title>Bare</title></head></html>".to_owned(),
        );
        let bare = scraper(true, 1 << 20)
            .page_date(&source, &site.article_url("bare"))
            .await
            .expect("page");
        assert_eq!(bare, PageDate::Missing);
    }
}
