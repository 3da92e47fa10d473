//! The scraper's manners against a scripted site that misbehaves on purpose
//! (`mediawarm_testkit::scripted`, on 127.0.0.1:0): 429/503 with `Retry-After`, robots.txt
//! rules and `Crawl-delay`, conditional requests (ETag and Last-Modified), compressed bodies
//! (gzip, br) and a compression bomb, 504s and timeouts, the configured User-Agent, known
//! pages, other hosts, wrong content types, endless and trickling bodies, and per-host limits
//! shared through Redis (with `TEST_REDIS_URL`).
//!
//! Timing is asserted only as loose lower bounds on the spacing the scraper must keep, and
//! as request counts per second with slack above the configured rate.

use std::time::Duration;

use chrono::Utc;
use mediawarm_shared::domain::{ErrorClass, Selectors, Source, SourceKind, SourceName};
use mediawarm_shared::store::{FetchRecord, Store};
use mediawarm_testkit::scripted::{Hit, Payload, Reply, ScriptedSite};
use mediawarm_testkit::services::TestRedis;
use mediawarm_testkit::store::TestStore;
use mediawarm_worker::scraper::{ScrapeError, ScrapeOutput, Scraper, ScraperConfig};

use crate::support::config;

/// A fresh SQLite store that knows the source `gazette`.
async fn test_store() -> TestStore {
    let store = TestStore::sqlite().await;
    let gazette = SourceName::parse("gazette").expect("valid name");
    store
        .ensure_import_sources(std::slice::from_ref(&gazette))
        .await
        .expect("source");
    store
}

fn scraper_with(cfg: ScraperConfig) -> Scraper {
    Scraper::new(cfg).expect("client builds")
}

fn source(kind: SourceKind, url: &str, rate: f64) -> Source {
    Source {
        name: SourceName::parse("gazette").expect("valid name"),
        kind,
        url: url.to_owned(),
        selectors: None,
        schedule: None,
        rate_limit_per_sec: rate,
        enabled: true,
    }
}

fn rss(items: &[&str]) -> String {
    let items: String = items
        .iter()
        .map(|path| {
            format!(
                "<item><title>Item {path}</title><link>{{base}}{path}</link>\
                 <pubDate>Tue, 02 Jan 2024 10:00:00 +0000</pubDate></item>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>G</title><link>{{base}}/</link>
<description>News</description>{items}</channel></rss>"#
    )
}

fn page(title: &str) -> String {
    format!(
        r#"<html><head><title>{title}</title><meta property="og:title" content="{title}">
<meta property="article:published_time" content="2024-01-02T09:00:00Z"></head>
<body><h1>{title}</h1></body></html>"#
    )
}

async fn scrape_ok(scraper: &Scraper, source: &Source, store: &Store) -> ScrapeOutput {
    scraper
        .scrape(source, store, false)
        .await
        .expect("scrape succeeds")
}

/// Two scrapers configured as `cfg`, sharing `redis`, scrape the same feed of eight pages
/// (each answering after `page_delay`) at once, with the source's rate at 5 a second; both
/// must find all eight. Returns the site, to read its hits.
async fn two_scrapers_at_5_a_second(
    redis: &TestRedis,
    page_delay: Option<Duration>,
    cfg: ScraperConfig,
) -> ScriptedSite {
    let site = ScriptedSite::start().await;
    let paths: Vec<String> = (0..8).map(|i| format!("/p{i}")).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    site.route("/feed.xml", Reply::rss(rss(&refs)));
    for path in &paths {
        site.route(
            path,
            Reply {
                delay: page_delay,
                ..Reply::html(page(path))
            },
        );
    }
    let shared = ScraperConfig {
        redis_url: Some(redis.url.clone()),
        redis_prefix: redis.prefix.clone(),
        ..cfg
    };
    let (a, b) = (scraper_with(shared.clone()), scraper_with(shared));
    let (store_a, store_b) = (test_store().await, test_store().await);
    let gazette = source(SourceKind::Rss, &site.url("/feed.xml"), 5.0);
    let (out_a, out_b) = tokio::join!(
        a.scrape(&gazette, &store_a.store, false),
        b.scrape(&gazette, &store_b.store, false)
    );
    let (out_a, out_b) = (out_a.expect("a scrapes"), out_b.expect("b scrapes"));
    assert_eq!((out_a.articles.len(), out_b.articles.len()), (8, 8));
    site
}

/// Serves `feed` (with a validator) at /feed.xml linking `pages`, scrapes it and stores the
/// articles as the job does, then scrapes again: the second run, answered 304, must fetch
/// and parse nothing more and write nothing. Returns the feed's hits and its stored record.
async fn rescrape_answered_304(feed: Reply, pages: &[&str]) -> (Vec<Hit>, FetchRecord) {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", feed);
    for path in pages {
        site.route(path, Reply::html(page(path)));
    }
    let store = test_store().await;
    let scraper = scraper_with(config());
    let gazette = source(SourceKind::Rss, &site.url("/feed.xml"), 100.0);
    let first = scrape_ok(&scraper, &gazette, &store.store).await;
    assert_eq!(first.articles.len(), pages.len());
    store
        .store
        .upsert_articles(&first.articles, Utc::now())
        .await
        .expect("the job stores them");
    let feed_url = site.url("/feed.xml");
    let records = || async {
        store
            .store
            .fetch_records(std::slice::from_ref(&feed_url))
            .await
            .expect("records")
    };
    let before = records().await;

    let second = scrape_ok(&scraper, &gazette, &store.store).await;
    assert!(second.articles.is_empty(), "{:#?}", second.articles);
    assert_eq!((second.pages_not_modified, second.pages_fetched), (1, 0));
    for path in pages {
        assert_eq!(site.hits(path), 1, "{path} fetched once");
    }
    assert_eq!(before, records().await, "a 304 writes nothing");
    let feed = site.hits_of("/feed.xml");
    assert_eq!(feed.len(), 2);
    (feed, before[&feed_url].clone())
}

async fn scrape_fails(scraper: &Scraper, source: &Source, store: &Store, why: &str) -> ScrapeError {
    scraper.scrape(source, store, false).await.expect_err(why)
}

/// The most requests the site saw within any one second.
fn most_in_any_second(hits: &[Hit]) -> usize {
    hits.iter()
        .map(|first| {
            hits.iter()
                .filter(|h| h.at >= first.at && h.at < first.at + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn gaps(hits: &[Hit]) -> Vec<Duration> {
    hits.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test]
async fn a_429_with_retry_after_seconds_is_waited_for_then_retried() {
    let site = ScriptedSite::start().await;
    site.script(
        "/feed.xml",
        [
            Reply::status(429).header("retry-after", "1"),
            Reply::rss(rss(&["/a1"])),
        ],
    );
    site.route("/a1", Reply::html(page("One")));
    let store = test_store().await;
    let out = scrape_ok(
        &scraper_with(config()),
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(out.articles.len(), 1);
    let feed = site.hits_of("/feed.xml");
    assert_eq!(feed.len(), 2, "one 429, one success");
    assert!(
        gaps(&feed)[0] >= Duration::from_millis(800),
        "Retry-After: 1 was honoured ({:?})",
        gaps(&feed)
    );
    let ua = feed[0].user_agent.clone().unwrap_or_default();
    assert!(ua.starts_with("mediawarm/") && ua.contains("+http"), "{ua}");
}

#[tokio::test]
async fn a_503_with_retry_after_as_an_http_date_is_waited_for_then_retried() {
    let site = ScriptedSite::start().await;
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    site.script(
        "/feed.xml",
        [
            Reply::status(503).header("retry-after", at),
            Reply::rss(rss(&["/a1"])),
        ],
    );
    site.route("/a1", Reply::html(page("One")));
    let store = test_store().await;
    let out = scrape_ok(
        &scraper_with(config()),
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(out.articles.len(), 1);
    let feed = site.hits_of("/feed.xml");
    assert_eq!(feed.len(), 2);
    assert!(
        gaps(&feed)[0] >= Duration::from_millis(500),
        "the date was honoured ({:?})",
        gaps(&feed)
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_attempts_as_transient() {
    let site = ScriptedSite::start().await;
    site.route(
        "/feed.xml",
        Reply::status(429).header("retry-after", "3600"),
    );
    let store = test_store().await;
    let err = scraper_with(config())
        .scrape(
            &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
            &store.store,
            false,
        )
        .await
        .expect_err("gives up");
    assert!(!err.is_permanent(), "{err}");
    assert_eq!(
        site.hits("/feed.xml"),
        1,
        "no retry within the hour asked for"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_up_to_the_limit() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::status(502));
    let store = test_store().await;
    let scraper = scraper_with(ScraperConfig {
        max_retries: 2,
        ..config()
    });
    let err = scrape_fails(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
        "keeps failing",
    )
    .await;
    assert!(!err.is_permanent(), "{err}");
    assert_eq!(site.hits("/feed.xml"), 3, "one attempt and two retries");
}

#[tokio::test]
async fn robots_disallow_is_honoured_and_the_page_is_never_requested() {
    let site = ScriptedSite::start().await;
    site.route(
        "/robots.txt",
        Reply::ok(
            "text/plain",
            "User-agent: *\nDisallow: /private\nAllow: /private/open\n",
        ),
    );
    site.route(
        "/feed.xml",
        Reply::rss(rss(&["/a1", "/private/a2", "/private/open/a3"])),
    );
    site.route("/a1", Reply::html(page("One")));
    site.route("/private/a2", Reply::html(page("Two")));
    site.route("/private/open/a3", Reply::html(page("Three")));
    site.route("/private/feed.xml", Reply::rss(rss(&["/a1"])));
    let store = test_store().await;
    let scraper = scraper_with(config());
    let out = scrape_ok(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(site.hits("/private/a2"), 0, "disallowed");
    assert_eq!(site.hits("/a1"), 1);
    assert_eq!(site.hits("/private/open/a3"), 1, "the longer Allow wins");
    let titles: Vec<&str> = out.articles.iter().map(|a| a.title.as_str()).collect();
    assert!(
        titles.contains(&"One") && titles.contains(&"Three"),
        "{titles:?}"
    );

    let err = scrape_fails(
        &scraper,
        &source(SourceKind::Rss, &site.url("/private/feed.xml"), 100.0),
        &store.store,
        "a disallowed start URL fails",
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("robots.txt"), "{err}");
    assert_eq!(err.class(), ErrorClass::RobotsDisallowed, "{err}");
    assert_eq!(site.hits("/private/feed.xml"), 0);
    assert_eq!(
        site.hits("/robots.txt"),
        1,
        "robots.txt is cached per origin"
    );
}

#[tokio::test]
async fn an_unreachable_robots_txt_closes_the_site_for_now() {
    let site = ScriptedSite::start().await;
    site.route("/robots.txt", Reply::status(500));
    site.route("/feed.xml", Reply::rss(rss(&["/a1"])));
    let store = test_store().await;
    let err = scraper_with(config())
        .scrape(
            &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
            &store.store,
            false,
        )
        .await
        .expect_err("robots.txt 5xx");
    assert!(!err.is_permanent(), "{err}");
    assert_eq!(site.hits("/feed.xml"), 0);
}

#[tokio::test]
async fn crawl_delay_spaces_the_requests_to_the_host() {
    let site = ScriptedSite::start().await;
    site.route(
        "/robots.txt",
        Reply::ok("text/plain", "User-agent: mediawarm\nCrawl-delay: 0.4\n"),
    );
    site.route("/feed.xml", Reply::rss(rss(&["/a1", "/a2", "/a3"])));
    for path in ["/a1", "/a2", "/a3"] {
        site.route(path, Reply::html(page(path)));
    }
    let store = test_store().await;
    let out = scrape_ok(
        &scraper_with(config()),
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(out.articles.len(), 3);
    let hits = site.all_hits();
    assert_eq!(hits[0].path, "/robots.txt", "robots.txt comes first");
    let after_robots: Vec<Hit> = hits[1..].to_vec();
    assert_eq!(after_robots.len(), 4);
    for gap in gaps(&after_robots) {
        assert!(
            gap >= Duration::from_millis(300),
            "Crawl-delay 0.4 s: gaps {:?}",
            gaps(&after_robots)
        );
    }
}

#[tokio::test]
async fn a_304_on_the_start_url_costs_no_parse_and_no_write() {
    let (feed, stored) = rescrape_answered_304(
        Reply::rss(rss(&["/a1", "/a2"])).etag("\"v1\""),
        &["/a1", "/a2"],
    )
    .await;
    assert_eq!(stored.etag.as_deref(), Some("\"v1\""));
    assert_eq!(feed[0].if_none_match, None);
    assert_eq!(feed[1].if_none_match.as_deref(), Some("\"v1\""));
}

#[tokio::test]
async fn a_304_is_not_trusted_when_the_last_runs_articles_were_not_stored() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::rss(rss(&["/a1"])).etag("\"v1\""));
    site.route("/a1", Reply::html(page("One")));
    let store = test_store().await;
    let scraper = scraper_with(config());
    let gazette = source(SourceKind::Rss, &site.url("/feed.xml"), 100.0);
    let first = scrape_ok(&scraper, &gazette, &store.store).await;
    assert_eq!(first.articles.len(), 1);
    let second = scrape_ok(&scraper, &gazette, &store.store).await;
    assert_eq!(
        second.articles.len(),
        1,
        "the upsert never happened: fetched in full"
    );
    let feed = site.hits_of("/feed.xml");
    assert_eq!(feed.len(), 3, "full, conditional (304), full again");
    assert_eq!(feed[2].if_none_match, None);
}

#[tokio::test]
async fn known_pages_are_skipped_unless_the_feed_says_they_changed() {
    let site = ScriptedSite::start().await;
    site.route(
        "/atom.xml",
        Reply::ok(
            "application/atom+xml",
            r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>G</title><id>urn:g</id>
<updated>2024-02-01T00:00:00Z</updated>
<entry><title>Old</title><id>urn:1</id><link href="{base}/old"/>
  <published>2020-01-01T00:00:00Z</published><updated>2020-01-02T00:00:00Z</updated></entry>
<entry><title>Changed</title><id>urn:2</id><link href="{base}/changed"/>
  <published>2020-01-01T00:00:00Z</published><updated>2999-01-01T00:00:00Z</updated></entry>
<entry><title>New</title><id>urn:3</id><link href="{base}/new"/>
  <updated>2020-01-01T00:00:00Z</updated></entry>
</feed>"#,
        ),
    );
    site.route("/old", Reply::html(page("Old page")).etag("\"o\""));
    site.route("/changed", Reply::html(page("Changed page")).etag("\"c\""));
    site.route("/new", Reply::html(page("New page")));
    let store = test_store().await;
    let scraper = scraper_with(config());
    let gazette = source(SourceKind::Atom, &site.url("/atom.xml"), 100.0);
    let first = scrape_ok(&scraper, &gazette, &store.store).await;
    assert_eq!(first.articles.len(), 3);
    store
        .store
        .upsert_articles(&first.articles, Utc::now())
        .await
        .expect("stored");

    let second = scraper
        .scrape(&gazette, &store.store, false)
        .await
        .expect("scrape");
    assert_eq!(site.hits("/old"), 1, "known and unchanged: not refetched");
    assert_eq!(site.hits("/new"), 1, "known: not refetched");
    let changed = site.hits_of("/changed");
    assert_eq!(changed.len(), 2, "the feed says it changed");
    assert_eq!(
        changed[1].if_none_match.as_deref(),
        Some("\"c\""),
        "conditionally"
    );
    assert!(second.articles.is_empty(), "304: the stored article stands");
    assert_eq!(second.pages_not_modified, 1);

    let refreshed = scraper
        .scrape(&gazette, &store.store, true)
        .await
        .expect("scrape");
    assert_eq!(refreshed.articles.len(), 3, "refresh fetches everything");
    assert_eq!(site.hits("/old"), 2);
    assert_eq!(
        site.hits_of("/old")[1].if_none_match,
        None,
        "unconditionally"
    );
}

#[tokio::test]
async fn links_and_redirects_to_other_hosts_are_skipped() {
    let site = ScriptedSite::start().await;
    let other = ScriptedSite::start().await;
    other.route("/elsewhere", Reply::html(page("Elsewhere")));
    let elsewhere = other.url("/elsewhere");
    site.route(
        "/list",
        Reply::html(format!(
            r#"<ul><li><a href="/a1">1</a></li><li><a href="{elsewhere}">2</a></li>
<li><a href="/hop">3</a></li></ul>"#
        )),
    );
    site.route("/a1", Reply::html(page("One")));
    site.route(
        "/hop",
        Reply::status(302).header("location", elsewhere.clone()),
    );
    let store = test_store().await;
    let mut listing = source(SourceKind::Html, &site.url("/list"), 100.0);
    listing.selectors = Some(Selectors {
        links: Some("li a".to_owned()),
        ..Selectors::default()
    });
    let out = scrape_ok(&scraper_with(config()), &listing, &store.store).await;
    let titles: Vec<&str> = out.articles.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["One"]);
    assert_eq!(site.hits("/hop"), 1);
    assert!(other.all_hits().is_empty(), "{:?}", other.all_hits());
}

#[tokio::test]
async fn wrong_content_types_are_skipped_without_reading_the_body() {
    let site = ScriptedSite::start().await;
    site.route(
        "/list",
        Reply::html(
            r#"<a class="s" href="/doc.pdf">pdf</a><a class="s" href="/pic">pic</a><a class="s" href="/ok">ok</a>"#,
        ),
    );
    site.route(
        "/doc.pdf",
        Reply {
            payload: Payload::Endless,
            ..Reply::ok("application/pdf", "")
        },
    );
    site.route("/pic", Reply::ok("image/png", "\u{89}PNG"));
    site.route("/ok", Reply::html(page("Fine")));
    site.route("/data.json", Reply::ok("application/octet-stream", "{}"));
    let store = test_store().await;
    let scraper = scraper_with(ScraperConfig {
        max_body_bytes: 64 * 1024 * 1024,
        ..config()
    });
    let mut listing = source(SourceKind::Html, &site.url("/list"), 100.0);
    listing.selectors = Some(Selectors {
        links: Some("a.s".to_owned()),
        ..Selectors::default()
    });
    let out = scrape_ok(&scraper, &listing, &store.store).await;
    let titles: Vec<&str> = out.articles.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["Fine"]);
    assert_eq!(site.hits("/doc.pdf"), 1);
    assert!(
        site.bytes_sent("/doc.pdf") < 16 * 1024 * 1024,
        "the PDF was dropped unread ({} bytes produced)",
        site.bytes_sent("/doc.pdf")
    );
    let err = scrape_fails(
        &scraper,
        &source(SourceKind::Rss, &site.url("/data.json"), 100.0),
        &store.store,
        "not a feed",
    )
    .await;
    assert!(err.is_permanent(), "{err}");
}

#[tokio::test]
async fn endless_and_trickling_bodies_are_cut_off() {
    let site = ScriptedSite::start().await;
    site.route(
        "/feed.xml",
        Reply::rss(rss(&["/endless", "/trickle", "/fine"])),
    );
    site.route(
        "/endless",
        Reply {
            payload: Payload::Endless,
            ..Reply::html("")
        },
    );
    site.route(
        "/trickle",
        Reply {
            payload: Payload::Trickle,
            ..Reply::html("")
        },
    );
    site.route("/fine", Reply::html(page("Fine")));
    site.route(
        "/endless-feed.xml",
        Reply {
            payload: Payload::Endless,
            ..Reply::rss("")
        },
    );
    let store = test_store().await;
    let scraper = scraper_with(ScraperConfig {
        max_body_bytes: 1024 * 1024,
        request_timeout: Duration::from_millis(800),
        max_retries: 0,
        ..config()
    });
    let out = scrape_ok(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    let titles: Vec<&str> = out.articles.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Item /endless", "Item /trickle", "Fine"],
        "cut-off pages fall back to the feed item"
    );
    assert_eq!(out.pages_fetched, 2, "the feed and /fine");
    assert!(site.bytes_sent("/endless") < 32 * 1024 * 1024);
    let err = scrape_fails(
        &scraper,
        &source(SourceKind::Rss, &site.url("/endless-feed.xml"), 100.0),
        &store.store,
        "an endless start URL fails",
    )
    .await;
    assert!(err.to_string().contains("cap"), "{err}");
    assert_eq!(err.class(), ErrorClass::PageTooLarge, "{err}");
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL"]
async fn two_scrapers_sharing_redis_keep_one_rate_and_one_concurrency_cap() {
    let redis = TestRedis::create("mwpolite").await;
    let site = two_scrapers_at_5_a_second(
        &redis,
        Some(Duration::from_millis(300)),
        ScraperConfig {
            per_host_concurrency: 1,
            ..config()
        },
    )
    .await;

    let hits = site.all_hits();
    assert_eq!(
        hits.len(),
        2 + 2 + 16,
        "two robots.txt, two feeds, 16 pages"
    );
    let most_in_any_second = most_in_any_second(&hits);
    assert!(
        most_in_any_second <= 8,
        "5 requests a second shared by both scrapers; saw {most_in_any_second} in one second"
    );
    assert_eq!(
        site.max_in_flight(),
        1,
        "one request in flight per host across both scrapers"
    );
}

#[tokio::test]
async fn a_304_by_last_modified_costs_no_parse_and_no_write() {
    let date = "Tue, 02 Jan 2024 10:00:00 GMT";
    let (feed, stored) =
        rescrape_answered_304(Reply::rss(rss(&["/a1"])).last_modified(date), &["/a1"]).await;
    assert_eq!(stored.last_modified.as_deref(), Some(date));
    assert_eq!(feed[0].if_modified_since, None);
    assert_eq!(feed[1].if_modified_since.as_deref(), Some(date));
}

#[tokio::test]
async fn gzip_and_brotli_bodies_are_decoded() {
    let site = ScriptedSite::start().await;
    site.route(
        "/feed.xml",
        Reply::compressed(
            "application/rss+xml",
            &rss(&["/a1", "/a2"]).replace("{base}", &site.base),
            "gzip",
        ),
    );
    site.route(
        "/a1",
        Reply::compressed("text/html", &page("Gzipped page"), "gzip"),
    );
    site.route(
        "/a2",
        Reply::compressed("text/html", &page("Brotli page"), "br"),
    );
    let store = test_store().await;
    let out = scrape_ok(
        &scraper_with(config()),
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    let mut titles: Vec<&str> = out.articles.iter().map(|a| a.title.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Brotli page", "Gzipped page"]);
    for hit in site.all_hits() {
        let accepted = hit.accept_encoding.unwrap_or_default();
        assert!(
            accepted.contains("gzip") && accepted.contains("br"),
            "{}: {accepted}",
            hit.path
        );
    }
}

#[tokio::test]
async fn a_compression_bomb_is_cut_at_the_body_cap() {
    let site = ScriptedSite::start().await;
    // 8 MiB of markup in about 8 KiB on the wire.
    let bomb = format!("<html><body>{}</body></html>", " ".repeat(8 << 20));
    site.route(
        "/feed.xml",
        Reply::compressed("application/rss+xml", &bomb, "gzip"),
    );
    let store = test_store().await;
    let scraper = scraper_with(ScraperConfig {
        max_body_bytes: 256 * 1024,
        ..config()
    });
    let err = scrape_fails(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
        "the decompressed body is over the cap",
    )
    .await;
    assert!(err.to_string().contains("cap"), "{err}");
}

#[tokio::test]
async fn a_504_and_a_timeout_are_retried() {
    let site = ScriptedSite::start().await;
    site.script("/feed.xml", [Reply::status(504), Reply::rss(rss(&["/a1"]))]);
    site.script(
        "/a1",
        [
            Reply::html(page("Slow")).delayed(Duration::from_secs(3)),
            Reply::html(page("On time")),
        ],
    );
    let store = test_store().await;
    let scraper = scraper_with(ScraperConfig {
        request_timeout: Duration::from_millis(800),
        ..config()
    });
    let out = scrape_ok(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(site.hits("/feed.xml"), 2, "the 504 was retried");
    assert_eq!(site.hits("/a1"), 2, "the timed-out request was retried");
    assert_eq!(out.articles.len(), 1);
    assert_eq!(out.articles[0].title, "On time");
}

#[tokio::test]
async fn the_configured_user_agent_is_sent_and_is_the_one_robots_rules_address() {
    let site = ScriptedSite::start().await;
    site.route(
        "/robots.txt",
        Reply::ok(
            "text/plain",
            "User-agent: acmebot\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n",
        ),
    );
    site.route("/feed.xml", Reply::rss(rss(&["/a1", "/private/a2"])));
    site.route("/a1", Reply::html(page("One")));
    site.route("/private/a2", Reply::html(page("Two")));
    let store = test_store().await;
    let agent = "acmebot/2.0 (+https://acme.example/bot)";
    let scraper = scraper_with(ScraperConfig {
        user_agent: agent.to_owned(),
        ..config()
    });
    let out = scrape_ok(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    assert_eq!(site.hits("/a1"), 1, "the page acmebot may fetch");
    assert_eq!(site.hits("/private/a2"), 0, "disallowed to acmebot");
    assert!(out.articles.iter().any(|a| a.title == "One"));
    let hits = site.all_hits();
    assert!(hits.len() >= 3, "{hits:?}");
    for hit in hits {
        assert_eq!(hit.user_agent.as_deref(), Some(agent), "{}", hit.path);
    }
}

#[tokio::test]
async fn a_date_the_page_writes_in_its_own_offset_is_stored_as_that_instant_in_utc() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::rss(rss(&["/a1"])));
    site.route(
        "/a1",
        Reply::html(
            r#"<html><head><title>Late edition</title>
            <meta property="article:published_time" content="2024-01-02T00:30:00+01:00">
            </head><body><h1>Late edition</h1></body></html>"#,
        ),
    );
    let store = test_store().await;
    let out = scrape_ok(
        &scraper_with(config()),
        &source(SourceKind::Rss, &site.url("/feed.xml"), 100.0),
        &store.store,
    )
    .await;
    store
        .store
        .upsert_articles(&out.articles, Utc::now())
        .await
        .expect("stored");
    let stored = store
        .store
        .latest_after(None, None, 10)
        .await
        .expect("read back");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-01-01T23:30:00+00:00"),
        "the page's 00:30 at +01:00 is 23:30 UTC the day before"
    );
}

/// The rate alone, without the concurrency cap doing its work: instant pages, eight requests
/// in flight allowed, and still 5 a second for both scrapers together (each alone would
/// make 5 a second, 10 together).
#[tokio::test]
#[ignore = "needs TEST_REDIS_URL"]
async fn two_scrapers_sharing_redis_keep_one_rate_without_a_concurrency_cap() {
    let redis = TestRedis::create("mwrate").await;
    let site = two_scrapers_at_5_a_second(
        &redis,
        None,
        ScraperConfig {
            per_host_concurrency: 8,
            page_concurrency: 8,
            ..config()
        },
    )
    .await;

    let mut hits = site.all_hits();
    hits.sort_by_key(|h| h.at);
    assert_eq!(hits.len(), 20, "two robots.txt, two feeds, 16 pages");
    let span = hits[hits.len() - 1].at - hits[0].at;
    assert!(
        span >= Duration::from_millis(3400),
        "20 requests at 5 a second shared take at least 3.8 s; took {span:?}"
    );
    let most_in_any_second = most_in_any_second(&hits);
    assert!(
        most_in_any_second <= 7,
        "5 requests a second shared by both scrapers; saw {most_in_any_second} in one second"
    );
}
