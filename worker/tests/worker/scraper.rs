//! The scraper against scripted sites (`mediawarm_testkit::scripted`, on 127.0.0.1, port 0),
//! with `allow_loopback` on except where the guard is under test. Each test has its own
//! site, its own SQLite store in a temporary directory, and counts the requests that reach
//! the site.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use mediawarm_shared::domain::{ErrorClass, NewArticle, Selectors, Source, SourceKind, SourceName};
use mediawarm_testkit::scripted::{Reply, ScriptedSite};
use mediawarm_testkit::store::TestStore;
use mediawarm_worker::scraper::{ScrapeError, ScrapeOutput, Scraper, ScraperConfig, normalize_url};
use url::Url;

use crate::support::config;

fn scraper() -> Scraper {
    Scraper::new(config()).expect("client builds")
}

fn source(kind: SourceKind, url: &str, selectors: Option<Selectors>) -> Source {
    Source {
        name: SourceName::parse("gazette").expect("valid name"),
        kind,
        url: url.to_owned(),
        selectors,
        schedule: None,
        rate_limit_per_sec: 200.0,
        enabled: true,
    }
}

async fn scrape(scraper: &Scraper, source: &Source, refresh: bool) -> ScrapeOutput {
    let store = TestStore::sqlite().await;
    scraper
        .scrape(source, &store.store, refresh)
        .await
        .expect("scrape succeeds")
}

async fn scrape_err(scraper: &Scraper, source: &Source) -> ScrapeError {
    let store = TestStore::sqlite().await;
    scraper
        .scrape(source, &store.store, false)
        .await
        .expect_err("scrape fails")
}

/// Serves `feed` at `path` and scrapes it as an `rss` source; returns what the scrape found
/// and its article URLs in order.
async fn scrape_feed(
    site: &ScriptedSite,
    path: &str,
    content_type: &'static str,
    feed: &str,
) -> (ScrapeOutput, Vec<String>) {
    site.route(path, Reply::ok(content_type, feed));
    let out = scrape(
        &scraper(),
        &source(SourceKind::Rss, &site.url(path), None),
        false,
    )
    .await;
    let urls = out.articles.iter().map(|a| a.url.clone()).collect();
    (out, urls)
}

fn by_url<'a>(out: &'a ScrapeOutput, url: &str) -> &'a NewArticle {
    out.articles
        .iter()
        .find(|a| a.url == url)
        .unwrap_or_else(|| panic!("no article for {url} in {:#?}", out.articles))
}

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>The Gazette</title><link>{base}/</link><description>News</description>
<item><title>Feed title one</title><link>{base}/a1?utm_source=rss&amp;utm_medium=feed</link>
  <dc:creator>Feed Writer</dc:creator><pubDate>Tue, 02 Jan 2024 10:00:00 +0000</pubDate>
  <description>Feed summary one</description></item>
<item><title>Feed title two</title><link>{base}/a2#comments</link>
  <dc:creator>Second Writer</dc:creator><pubDate>Wed, 03 Jan 2024 11:30:00 +0100</pubDate>
  <description>&lt;p&gt;Feed summary &lt;em&gt;two&lt;/em&gt;&lt;/p&gt;</description></item>
<item><title>Feed title three</title><link>{base}/a3</link>
  <pubDate>Thu, 04 Jan 2024 12:00:00 GMT</pubDate><description>Feed summary three</description></item>
</channel></rss>"#;

const FULL_PAGE: &str = r#"<html><head><title>Page title one | The Gazette</title>
<meta property="og:title" content="Page title one">
<meta property="og:site_name" content="The Gazette">
<meta name="author" content="Page Writer">
<meta property="article:published_time" content="2024-01-02T09:15:00+01:00">
<meta name="description" content="Page summary one">
</head><body><article><h1>Page title one</h1><p>Body.</p></article></body></html>"#;

const BARE_PAGE: &str = r#"<html><head><title>Page title two | The Gazette</title>
<meta property="og:site_name" content="The Gazette"></head>
<body><p>Just some body text without any metadata.</p></body></html>"#;

#[tokio::test]
async fn rss_items_become_articles_with_feed_fields_filling_what_pages_lack() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::ok("application/rss+xml", RSS));
    site.route("/a1", Reply::html(FULL_PAGE));
    site.route("/a2", Reply::html(BARE_PAGE));
    site.route("/a3", Reply::status(404));
    let out = scrape(
        &scraper(),
        &source(SourceKind::Rss, &site.url("/feed.xml"), None),
        false,
    )
    .await;

    assert_eq!(out.articles.len(), 3, "{:#?}", out.articles);
    assert_eq!(out.pages_fetched, 3, "the feed and two pages; /a3 failed");
    let urls: Vec<&str> = out.articles.iter().map(|a| a.url.as_str()).collect();
    assert_eq!(urls, [site.url("/a1"), site.url("/a2"), site.url("/a3")]);

    let one = by_url(&out, &site.url("/a1"));
    assert_eq!(one.title, "Page title one");
    assert_eq!(one.author.as_deref(), Some("Page Writer"));
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 1, 2, 8, 15, 0).single()
    );
    assert_eq!(one.summary.as_deref(), Some("Page summary one"));

    let two = by_url(&out, &site.url("/a2"));
    assert_eq!(two.title, "Page title two", "site-name suffix removed");
    assert_eq!(two.author.as_deref(), Some("Second Writer"));
    assert_eq!(
        two.published_at,
        Utc.with_ymd_and_hms(2024, 1, 3, 10, 30, 0).single()
    );
    assert_eq!(two.summary.as_deref(), Some("Feed summary two"));

    let three = by_url(&out, &site.url("/a3"));
    assert_eq!(three.title, "Feed title three");
    assert_eq!(three.author, None);
    assert_eq!(
        three.published_at,
        Utc.with_ymd_and_hms(2024, 1, 4, 12, 0, 0).single()
    );
    assert_eq!(three.summary.as_deref(), Some("Feed summary three"));
    assert!(out.articles.iter().all(|a| a.source.as_str() == "gazette"));
}

#[tokio::test]
async fn atom_entries_become_articles() {
    let site = ScriptedSite::start().await;
    site.route(
        "/atom.xml",
        Reply::ok(
            "application/atom+xml",
            r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>G</title><id>urn:g</id>
<updated>2024-02-01T00:00:00Z</updated>
<entry><title>Atom one</title><id>urn:1</id><link rel="alternate" href="{base}/e1"/>
  <link rel="edit" href="{base}/edit/1"/>
  <published>2024-02-01T08:00:00-05:00</published><updated>2024-02-02T00:00:00Z</updated>
  <author><name>Ann Atom</name></author><summary>Atom summary one</summary></entry>
<entry><title type="html">Atom &lt;b&gt;two&lt;/b&gt;</title><id>urn:2</id><link href="/e2"/>
  <updated>2024-02-03T09:00:00Z</updated><author><name>Bo Atom</name></author></entry>
</feed>"#,
        ),
    );
    site.route(
        "/e1",
        Reply::html("<html><head></head><body><p>No metadata.</p></body></html>"),
    );
    site.route("/e2", Reply::status(500));
    let out = scrape(
        &scraper(),
        &source(SourceKind::Atom, &site.url("/atom.xml"), None),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 2, "{:#?}", out.articles);
    assert_eq!(site.hits("/edit/1"), 0);
    let one = by_url(&out, &site.url("/e1"));
    assert_eq!(one.title, "Atom one");
    assert_eq!(one.author.as_deref(), Some("Ann Atom"));
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 2, 1, 13, 0, 0).single()
    );
    assert_eq!(one.summary.as_deref(), Some("Atom summary one"));
    let two = by_url(&out, &site.url("/e2"));
    assert_eq!(two.title, "Atom two");
    assert_eq!(
        two.published_at,
        Utc.with_ymd_and_hms(2024, 2, 3, 9, 0, 0).single()
    );
}

fn jsonld_page(headline: &str, author: &str, date: &str) -> String {
    format!(
        r#"<html><head><title>{headline} - The Gazette</title>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"{headline}","author":{{"@type":"Person","name":"{author}"}},
"datePublished":"{date}","description":"About {headline}"}}</script>
</head><body><article><h1>{headline}</h1></article></body></html>"#
    )
}

#[tokio::test]
async fn html_listing_links_are_followed_and_extracted() {
    let site = ScriptedSite::start().await;
    site.route(
        "/news",
        Reply::html(
            r#"<html><body><nav><a href="/about">About</a></nav>
<div class="teaser"><a href="/s1">One</a></div>
<div class="teaser"><a href="{base}/s2?fbclid=abc">Two</a></div>
<div class="teaser"><a href="/s1#again">One again</a></div>
<footer><a href="/imprint">Imprint</a></footer></body></html>"#,
        ),
    );
    site.route(
        "/s1",
        Reply::html(jsonld_page(
            "Council votes on budget",
            "Cara Council",
            "2024-03-01T10:00:00Z",
        )),
    );
    site.route("/s2", Reply::redirect("/stories/s2"));
    site.route(
        "/stories/s2",
        Reply::html(jsonld_page(
            "Harbour reopens",
            "Hal Harbour",
            "2024-03-02T07:00:00+02:00",
        )),
    );
    let selectors = Selectors {
        links: Some(".teaser a".to_owned()),
        ..Selectors::default()
    };
    let out = scrape(
        &scraper(),
        &source(SourceKind::Html, &site.url("/news"), Some(selectors)),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 2, "{:#?}", out.articles);
    assert_eq!(out.pages_fetched, 3);
    assert_eq!(site.hits("/about") + site.hits("/imprint"), 0);
    assert_eq!(site.hits("/s1"), 1, "a repeated link is fetched once");
    let one = by_url(&out, &site.url("/s1"));
    assert_eq!(one.title, "Council votes on budget");
    assert_eq!(one.author.as_deref(), Some("Cara Council"));
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).single()
    );
    assert_eq!(
        one.summary.as_deref(),
        Some("About Council votes on budget")
    );
    let two = by_url(&out, &site.url("/stories/s2"));
    assert_eq!(two.title, "Harbour reopens");
    assert_eq!(
        two.published_at,
        Utc.with_ymd_and_hms(2024, 3, 2, 5, 0, 0).single()
    );
}

const LINKED_FEED_ITEMS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel>
<title>The Gazette</title><link>{base}/</link><description>News</description>
<item><title>Found through the feed</title><link>{base}/f1</link>
  <pubDate>Fri, 05 Jan 2024 08:00:00 +0000</pubDate></item>
</channel></rss>"#;

#[tokio::test]
async fn an_html_source_without_a_links_selector_reads_the_feed_its_page_announces_in_body() {
    let site = ScriptedSite::start().await;
    site.route(
        "/",
        Reply::html(
            r#"<html><head><title>The Gazette</title>
<link rel="alternate" type="application/json+oembed" href="/oembed?url=x">
</head><body><header>
<link rel="alternate" type="application/rss+xml" href="http://127.0.0.1:1/elsewhere.xml">
<link rel="alternate" type="application/rss+xml" title="All stories" href="/feed.xml">
<link rel="alternate" type="application/atom+xml" href="/comments.atom">
</header><a href="/f1">A story</a></body></html>"#,
        ),
    );
    site.route(
        "/feed.xml",
        Reply::ok("application/rss+xml", LINKED_FEED_ITEMS),
    );
    site.route(
        "/f1",
        Reply::html(jsonld_page(
            "Ferry timetable changes",
            "Fay Ferry",
            "2024-01-05T09:00:00+01:00",
        )),
    );
    let out = scrape(
        &scraper(),
        &source(SourceKind::Html, &site.url("/"), None),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 1, "{:#?}", out.articles);
    assert_eq!(out.pages_fetched, 3, "the page, its feed and the story");
    assert_eq!(site.hits("/feed.xml"), 1);
    assert_eq!(
        site.hits("/comments.atom"),
        0,
        "only the first feed that works"
    );
    assert_eq!(site.hits("/oembed"), 0, "oEmbed links are not feeds");
    let story = by_url(&out, &site.url("/f1"));
    assert_eq!(story.title, "Ferry timetable changes");
    assert_eq!(story.author.as_deref(), Some("Fay Ferry"));
    assert_eq!(
        story.published_at,
        Utc.with_ymd_and_hms(2024, 1, 5, 8, 0, 0).single()
    );
}

#[tokio::test]
async fn a_discovered_feed_that_fails_gives_way_to_the_next_and_no_feed_is_permanent() {
    let site = ScriptedSite::start().await;
    site.route(
        "/",
        Reply::html(
            r#"<html><head>
<link rel="alternate" type="application/rss+xml" href="/gone.xml">
<link rel="alternate" type="application/atom+xml" href="/atom.xml">
</head><body></body></html>"#,
        ),
    );
    site.route("/gone.xml", Reply::status(404));
    site.route(
        "/atom.xml",
        Reply::ok(
            "application/atom+xml",
            r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>G</title><id>urn:g</id>
<updated>2024-02-01T00:00:00Z</updated>
<entry><title>Atom fallback</title><id>urn:1</id><link href="{base}/f2"/>
  <updated>2024-02-01T08:00:00Z</updated></entry></feed>"#,
        ),
    );
    site.route("/f2", Reply::status(404));
    let out = scrape(
        &scraper(),
        &source(SourceKind::Html, &site.url("/"), None),
        false,
    )
    .await;
    assert_eq!(site.hits("/gone.xml"), 1);
    let urls: Vec<&str> = out.articles.iter().map(|a| a.url.as_str()).collect();
    assert_eq!(urls, [site.url("/f2")]);
    assert_eq!(out.articles[0].title, "Atom fallback");

    site.route(
        "/plain",
        Reply::html(
            r#"<html><head><link rel="alternate" hreflang="de" href="/de/"></head></html>"#,
        ),
    );
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Html, &site.url("/plain"), None),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("no feed"), "{err}");
    assert_eq!(site.hits("/de/"), 0);
}

const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "The Gazette",
  "home_page_url": "{base}/",
  "items": [
    {"id": "1", "url": "{base}/j1?utm_campaign=feed", "title": "JSON one",
     "summary": "JSON summary one", "date_published": "2024-04-01T10:00:00+02:00",
     "authors": [{"name": "Jo Json"}]},
    {"id": "2", "url": "{base}/j2", "title": "JSON two",
     "content_html": "<p>Two</p>", "date_published": "2024-04-02T06:00:00Z"},
    {"id": "urn:no-url", "title": "Without a link", "content_text": "dropped"}
  ]
}"#;

const RSS_091: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>The Gazette</title><link>{base}/</link>
<description>News</description><language>en</language>
<item><title>Old-school one</title><link>{base}/o1</link>
  <description>Plain summary one</description></item>
<item><title>Old-school two</title><link>{base}/o2</link></item>
</channel></rss>"#;

/// RSS 0.92 (items may omit the title; an enclosure and a category) and 0.94 (items carry
/// `pubDate`), as UserLand specified them.
const RSS_092: &str = r#"<?xml version="1.0"?>
<rss version="0.92"><channel><title>The Gazette</title><link>{base}/</link>
<description>News</description>
<item><link>{base}/n1</link><description>Title-less item &lt;b&gt;bold&lt;/b&gt;</description>
  <enclosure url="{base}/n1.mp3" length="100" type="audio/mpeg"/><category>Audio</category></item>
<item><title>Ninety-two two</title><link>{base}/n2</link></item>
</channel></rss>"#;

const RSS_094: &str = r#"<?xml version="1.0"?>
<rss version="0.94"><channel><title>The Gazette</title><link>{base}/</link>
<description>News</description>
<item><title>Ninety-four one</title><link>{base}/m1</link>
  <pubDate>Wed, 01 May 2024 12:00:00 +0200</pubDate></item>
</channel></rss>"#;

const RSS_10_RDF: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{base}/rdf"><title>The Gazette</title><link>{base}/</link>
  <description>News</description>
  <items><rdf:Seq><rdf:li rdf:resource="{base}/r1"/><rdf:li rdf:resource="{base}/r2"/></rdf:Seq></items>
</channel>
<item rdf:about="{base}/r1"><title>RDF one</title><link>{base}/r1</link>
  <description>RDF summary one</description><dc:creator>Rita Rdf</dc:creator>
  <dc:date>2024-05-01T12:00:00+02:00</dc:date></item>
<item rdf:about="{base}/r2"><title>RDF two</title><link>{base}/r2</link>
  <dc:date>2024-05-02T08:30:00Z</dc:date></item>
</rdf:RDF>"#;

const NO_METADATA: &str = "<html><head></head><body><p>No metadata.</p></body></html>";

#[tokio::test]
async fn json_feed_items_become_articles() {
    let site = ScriptedSite::start().await;
    site.route("/j1", Reply::html(NO_METADATA));
    site.route("/j2", Reply::html(NO_METADATA));
    let (out, urls) = scrape_feed(&site, "/feed.json", "application/feed+json", JSON_FEED).await;
    assert_eq!(urls, [site.url("/j1"), site.url("/j2")]);
    let one = by_url(&out, &site.url("/j1"));
    assert_eq!(one.title, "JSON one");
    assert_eq!(one.author.as_deref(), Some("Jo Json"));
    assert_eq!(one.summary.as_deref(), Some("JSON summary one"));
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 4, 1, 8, 0, 0).single()
    );
    let two = by_url(&out, &site.url("/j2"));
    assert_eq!(two.title, "JSON two");
    assert_eq!(
        two.published_at,
        Utc.with_ymd_and_hms(2024, 4, 2, 6, 0, 0).single()
    );
}

#[tokio::test]
async fn rss_091_items_become_articles() {
    let site = ScriptedSite::start().await;
    site.route("/o1", Reply::html(NO_METADATA));
    site.route("/o2", Reply::status(404));
    let (out, urls) = scrape_feed(&site, "/rss091.xml", "text/xml", RSS_091).await;
    assert_eq!(urls, [site.url("/o1"), site.url("/o2")]);
    let one = by_url(&out, &site.url("/o1"));
    assert_eq!(one.title, "Old-school one");
    assert_eq!(one.summary.as_deref(), Some("Plain summary one"));
    assert_eq!(one.published_at, None, "RSS 0.91 items carry no date");
    assert_eq!(by_url(&out, &site.url("/o2")).title, "Old-school two");
}

#[tokio::test]
async fn rss_092_and_094_items_become_articles() {
    let site = ScriptedSite::start().await;
    site.route(
        "/n1",
        Reply::html("<html><head><title>From the page</title></head><body></body></html>"),
    );
    site.route("/n2", Reply::html(NO_METADATA));
    site.route("/m1", Reply::html(NO_METADATA));
    let (out, urls) = scrape_feed(&site, "/rss092.xml", "application/rss+xml", RSS_092).await;
    assert_eq!(urls, [site.url("/n1"), site.url("/n2")]);
    assert_eq!(by_url(&out, &site.url("/n2")).title, "Ninety-two two");
    assert_eq!(
        by_url(&out, &site.url("/n1")).title,
        "From the page",
        "an item without a title (allowed since 0.92) takes its page's"
    );
    let (out, urls) = scrape_feed(&site, "/rss094.xml", "application/rss+xml", RSS_094).await;
    assert_eq!(urls, [site.url("/m1")]);
    let one = by_url(&out, &site.url("/m1"));
    assert_eq!(one.title, "Ninety-four one");
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single()
    );
}

#[tokio::test]
async fn rss_10_rdf_items_become_articles() {
    let site = ScriptedSite::start().await;
    site.route("/r1", Reply::html(NO_METADATA));
    site.route("/r2", Reply::html(NO_METADATA));
    let (out, urls) = scrape_feed(&site, "/index.rdf", "application/rdf+xml", RSS_10_RDF).await;
    assert_eq!(urls, [site.url("/r1"), site.url("/r2")]);
    let one = by_url(&out, &site.url("/r1"));
    assert_eq!(one.title, "RDF one");
    assert_eq!(one.author.as_deref(), Some("Rita Rdf"));
    assert_eq!(one.summary.as_deref(), Some("RDF summary one"));
    assert_eq!(
        one.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single()
    );
    let two = by_url(&out, &site.url("/r2"));
    assert_eq!(two.title, "RDF two");
    assert_eq!(
        two.published_at,
        Utc.with_ymd_and_hms(2024, 5, 2, 8, 30, 0).single()
    );
}

#[tokio::test]
async fn source_selectors_win_over_generic_metadata() {
    let site = ScriptedSite::start().await;
    site.route(
        "/list",
        Reply::html(r#"<ul><li class="item"><a href="/p1">p1</a></li></ul>"#),
    );
    site.route(
        "/p1",
        Reply::html(
            r#"<html><head><title>Generic title | Site</title>
<meta property="og:title" content="Generic title">
<meta name="author" content="Generic Author">
<meta property="article:published_time" content="2020-01-01T00:00:00Z">
<meta name="description" content="Generic summary">
<link rel="canonical" href="/p1-canonical"></head>
<body><div class="hl">Specific title</div><span class="who">By Kim Park</span>
<span class="when">2024-04-05T06:07:08Z</span><p class="lede">Specific summary</p></body></html>"#,
        ),
    );
    let selectors = Selectors {
        links: Some("li.item".to_owned()),
        title: Some(".hl".to_owned()),
        author: Some(".who".to_owned()),
        date: Some(".when".to_owned()),
        summary: Some(".lede".to_owned()),
    };
    let out = scrape(
        &scraper(),
        &source(SourceKind::Html, &site.url("/list"), Some(selectors)),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 1, "{:#?}", out.articles);
    let article = &out.articles[0];
    assert_eq!(article.url, site.url("/p1-canonical"), "canonical URL");
    assert_eq!(article.title, "Specific title");
    assert_eq!(article.author.as_deref(), Some("Kim Park"));
    assert_eq!(
        article.published_at,
        Utc.with_ymd_and_hms(2024, 4, 5, 6, 7, 8).single()
    );
    assert_eq!(article.summary.as_deref(), Some("Specific summary"));
}

#[tokio::test]
async fn known_urls_are_not_refetched_unless_refresh() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::ok("application/rss+xml", RSS));
    site.route("/a1", Reply::html(FULL_PAGE));
    site.route("/a2", Reply::html(BARE_PAGE));
    site.route("/a3", Reply::html(FULL_PAGE.replace("one", "three")));
    let store = TestStore::sqlite().await;
    let gazette = SourceName::parse("gazette").expect("valid name");
    store
        .store
        .ensure_import_sources(std::slice::from_ref(&gazette))
        .await
        .expect("source");
    let known = |path: &str| NewArticle {
        source: gazette.clone(),
        url: site.url(path),
        title: "Stored".to_owned(),
        author: None,
        published_at: None,
        summary: None,
    };
    store
        .store
        .upsert_articles(&[known("/a1"), known("/a3")], Utc::now())
        .await
        .expect("seed articles");
    let scraper = scraper();
    let rss = source(SourceKind::Rss, &site.url("/feed.xml"), None);

    let out = scraper
        .scrape(&rss, &store.store, false)
        .await
        .expect("scrape");
    let urls: Vec<&str> = out.articles.iter().map(|a| a.url.as_str()).collect();
    assert_eq!(urls, [site.url("/a2")]);
    assert_eq!(
        (site.hits("/a1"), site.hits("/a2"), site.hits("/a3")),
        (0, 1, 0)
    );
    assert_eq!(out.pages_fetched, 2);

    let refreshed = scraper
        .scrape(&rss, &store.store, true)
        .await
        .expect("scrape");
    assert_eq!(refreshed.articles.len(), 3);
    assert_eq!(
        (site.hits("/a1"), site.hits("/a2"), site.hits("/a3")),
        (1, 2, 1)
    );
    assert_eq!(site.hits("/feed.xml"), 2);
}

#[tokio::test]
async fn start_url_failures_are_classified() {
    let site = ScriptedSite::start().await;
    for (path, code, permanent) in [
        ("/gone", 404, true),
        ("/forbidden", 403, true),
        ("/down", 503, false),
        ("/broken", 500, false),
        ("/slow-down", 429, false),
        ("/timeout", 408, false),
    ] {
        site.route(path, Reply::status(code));
        let err = scrape_err(&scraper(), &source(SourceKind::Rss, &site.url(path), None)).await;
        assert_eq!(err.is_permanent(), permanent, "{code}: {err}");
        match (&err, permanent) {
            (ScrapeError::Permanent(class, m), true)
            | (ScrapeError::Transient(class, m), false) => {
                assert!(m.contains(&code.to_string()), "{m}");
                assert_eq!(*class, ErrorClass::HttpStatus, "{m}");
            }
            _ => panic!("{code}: wrong variant {err:?}"),
        }
    }
}

#[tokio::test]
async fn a_start_url_that_is_not_a_feed_or_not_html_is_permanent() {
    let site = ScriptedSite::start().await;
    site.route("/page", Reply::html("<html><body>not a feed</body></html>"));
    site.route("/data", Reply::ok("application/json", r#"{"a":1}"#));
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Rss, &site.url("/page"), None),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.class(), ErrorClass::ParseFailed, "{err}");
    let selectors = Selectors {
        links: Some("a".to_owned()),
        ..Selectors::default()
    };
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Html, &site.url("/data"), Some(selectors)),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.class(), ErrorClass::ParseFailed, "{err}");
}

#[tokio::test]
async fn a_slow_start_url_is_a_transient_timeout() {
    let site = ScriptedSite::start().await;
    site.route(
        "/slow",
        Reply::ok("application/rss+xml", RSS).delayed(Duration::from_secs(3)),
    );
    let scraper = Scraper::new(ScraperConfig {
        request_timeout: Duration::from_millis(300),
        ..config()
    })
    .expect("client builds");
    let err = scrape_err(&scraper, &source(SourceKind::Rss, &site.url("/slow"), None)).await;
    assert!(!err.is_permanent(), "{err}");
    assert_eq!(err.class(), ErrorClass::Timeout, "{err}");
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_error_not_a_panic() {
    let site = ScriptedSite::start().await;
    let padding = format!("<!-- {} -->", "x".repeat(50_000));
    let big_feed = RSS.replace("<channel>", &format!("<channel>{padding}"));
    site.route(
        "/big.xml",
        Reply::ok("application/rss+xml", big_feed.clone()),
    );
    site.route(
        "/big-streamed.xml",
        Reply::ok("application/rss+xml", big_feed).chunked(),
    );
    site.route("/feed.xml", Reply::ok("application/rss+xml", RSS));
    site.route("/a1", Reply::html(format!("{FULL_PAGE}{padding}")));
    site.route("/a2", Reply::html(BARE_PAGE));
    let scraper = Scraper::new(ScraperConfig {
        max_body_bytes: 20_000,
        ..config()
    })
    .expect("client builds");
    for path in ["/big.xml", "/big-streamed.xml"] {
        let err = scrape_err(&scraper, &source(SourceKind::Rss, &site.url(path), None)).await;
        assert!(err.to_string().contains("cap"), "{path}: {err}");
        assert_eq!(err.class(), ErrorClass::PageTooLarge, "{path}: {err}");
    }
    let out = scrape(
        &scraper,
        &source(SourceKind::Rss, &site.url("/feed.xml"), None),
        false,
    )
    .await;
    let one = by_url(&out, &site.url("/a1"));
    assert_eq!(one.title, "Feed title one", "oversized page skipped");
    assert_eq!(out.articles.len(), 3);
}

#[tokio::test]
async fn loopback_is_refused_without_allow_loopback_and_no_request_arrives() {
    let site = ScriptedSite::start().await;
    site.route("/feed.xml", Reply::ok("application/rss+xml", RSS));
    let guarded = Scraper::new(ScraperConfig {
        allow_loopback: false,
        ..config()
    })
    .expect("client builds");
    for url in [
        site.url("/feed.xml"),
        format!("http://localhost:{}/feed.xml", site.port),
        format!("http://[::ffff:127.0.0.1]:{}/feed.xml", site.port),
    ] {
        let err = scrape_err(&guarded, &source(SourceKind::Rss, &url, None)).await;
        assert!(err.is_permanent(), "{url}: {err}");
        assert_eq!(err.class(), ErrorClass::RefusedAddress, "{url}: {err}");
    }
    assert_eq!(site.total_hits(), 0);
    site.route("/a1", Reply::html(FULL_PAGE));
    let by_name = format!("http://localhost:{}/feed.xml", site.port);
    let out = scrape(&scraper(), &source(SourceKind::Rss, &by_name, None), false).await;
    assert_eq!(
        site.hits("/feed.xml"),
        1,
        "allow_loopback lets localhost through"
    );
    assert_eq!(
        site.hits("/a1"),
        0,
        "the feed's links name 127.0.0.1, another host than localhost: skipped"
    );
    assert!(out.articles.is_empty(), "{:#?}", out.articles);
}

#[tokio::test]
async fn redirects_are_checked_and_capped() {
    let site = ScriptedSite::start().await;
    site.route(
        "/to-private",
        Reply::redirect("http://10.255.255.1/feed.xml"),
    );
    site.route(
        "/to-metadata",
        Reply::redirect("http://169.254.169.254/latest/meta-data"),
    );
    site.route("/to-file", Reply::redirect("file:///etc/passwd"));
    for i in 0..10 {
        site.route(
            &format!("/loop{i}"),
            Reply::redirect(format!("/loop{}", i + 1)),
        );
    }
    site.route("/old-feed", Reply::redirect("/feed.xml"));
    site.route("/feed.xml", Reply::ok("application/rss+xml", RSS));
    for (path, reason) in [
        ("/to-private", "another host"),
        ("/to-metadata", "another host"),
        ("/to-file", "answered 302"),
        ("/loop0", "more than 5 redirects"),
    ] {
        let err = scrape_err(&scraper(), &source(SourceKind::Rss, &site.url(path), None)).await;
        assert!(err.is_permanent(), "{path}: {err}");
        assert!(err.to_string().contains(reason), "{path}: {err}");
        let class = if path == "/to-file" {
            ErrorClass::HttpStatus
        } else {
            ErrorClass::RefusedAddress
        };
        assert_eq!(err.class(), class, "{path}: {err}");
    }
    assert_eq!(site.hits("/loop5"), 1);
    assert_eq!(
        site.hits("/loop6"),
        0,
        "at most five redirects are followed"
    );
    let out = scrape(
        &scraper(),
        &source(SourceKind::Rss, &site.url("/old-feed"), None),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 3);
}

#[tokio::test]
async fn sitemap_index_is_followed_one_level() {
    let site = ScriptedSite::start().await;
    site.route(
        "/sitemap.xml",
        Reply::ok(
            "application/xml",
            r#"<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/news-sitemap.xml</loc><lastmod>2024-05-02</lastmod></sitemap>
<sitemap><loc>{base}/missing-sitemap.xml</loc><lastmod>2024-05-01</lastmod></sitemap>
</sitemapindex>"#,
        ),
    );
    site.route(
        "/news-sitemap.xml",
        Reply::ok(
            "application/xml",
            r#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>{base}/n1</loc><news:news><news:title>Sitemap title</news:title>
<news:publication_date>2024-05-02T08:00:00Z</news:publication_date></news:news></url>
<url><loc>{base}/n2</loc></url></urlset>"#,
        ),
    );
    site.route("/n1", Reply::status(404));
    site.route(
        "/n2",
        Reply::html(jsonld_page(
            "Second story",
            "Sam Second",
            "2024-05-01T00:00:00Z",
        )),
    );
    let out = scrape(
        &scraper(),
        &source(SourceKind::Sitemap, &site.url("/sitemap.xml"), None),
        false,
    )
    .await;
    assert_eq!(out.articles.len(), 2, "{:#?}", out.articles);
    assert_eq!(by_url(&out, &site.url("/n1")).title, "Sitemap title");
    assert_eq!(by_url(&out, &site.url("/n2")).title, "Second story");
    assert_eq!(site.hits("/missing-sitemap.xml"), 1);
    assert_eq!(out.pages_fetched, 3);
}

#[tokio::test]
async fn import_sources_bad_selectors_and_bad_start_urls_are_permanent() {
    let site = ScriptedSite::start().await;
    let import = Source::import(SourceName::parse("legacy").expect("valid name"));
    let err = scrape_err(&scraper(), &import).await;
    assert!(err.is_permanent());
    assert!(err.to_string().contains("import sources are not scraped"));

    let bad = Selectors {
        links: Some("a[".to_owned()),
        ..Selectors::default()
    };
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Html, &site.url("/news"), Some(bad)),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    let bad_title = Selectors {
        title: Some("h1[".to_owned()),
        ..Selectors::default()
    };
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Rss, &site.url("/feed.xml"), Some(bad_title)),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    let err = scrape_err(
        &scraper(),
        &source(SourceKind::Rss, "ftp://example.com/f", None),
    )
    .await;
    assert!(err.is_permanent(), "{err}");
    assert_eq!(site.total_hits(), 0);
}

#[test]
fn normalize_url_drops_fragments_tracking_and_default_ports() {
    let n = |raw: &str| normalize_url(raw, None).map(String::from);
    assert_eq!(
        n("https://EXAMPLE.com:443/Path/?b=2&utm_source=x&a=1&fbclid=f&gclid=g&mc_cid=m#frag")
            .as_deref(),
        Some("https://example.com/Path/?b=2&a=1")
    );
    assert_eq!(
        n("http://example.com:80").as_deref(),
        Some("http://example.com/")
    );
    assert_eq!(
        n("http://example.com:8080/x").as_deref(),
        Some("http://example.com:8080/x")
    );
    assert_eq!(
        n("https://example.com/a/").as_deref(),
        Some("https://example.com/a/"),
        "trailing slash kept"
    );
    assert_eq!(n("ftp://example.com/"), None);
    assert_eq!(n("not a url"), None);
    let base = Url::parse("https://example.com/news/").expect("valid base");
    assert_eq!(
        normalize_url("story?utm_medium=m", Some(&base)).map(String::from),
        Some("https://example.com/news/story".to_owned())
    );
}

/// A listener that never accepts, its accept queue filled: the kernel drops further SYNs, so
/// a connection attempt to it hangs until the client gives up (all on 127.0.0.1).
async fn unanswered_port() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let port = socket.local_addr().expect("address").port();
    let listener = socket.listen(1).expect("listen");
    let mut held = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await
        {
            Ok(Ok(stream)) => held.push(stream),
            _ => return (listener, held, port),
        }
    }
    panic!("the accept queue never filled");
}

#[tokio::test]
async fn a_connection_that_never_completes_ends_at_the_connect_timeout() {
    let (_listener, _held, port) = unanswered_port().await;
    let scraper = Scraper::new(ScraperConfig {
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_secs(30),
        max_retries: 0,
        ..config()
    })
    .expect("client builds");
    let started = Instant::now();
    let err = scrape_err(
        &scraper,
        &source(
            SourceKind::Rss,
            &format!("http://127.0.0.1:{port}/feed.xml"),
            None,
        ),
    )
    .await;
    let took = started.elapsed();
    assert!(!err.is_permanent(), "{err}");
    // The first request (robots.txt, or the feed when reqwest reports the connect timeout as
    // a plain connect error) is the one that gives up: a timeout, or a fetch that failed.
    assert!(
        matches!(err.class(), ErrorClass::Timeout | ErrorClass::FetchFailed),
        "classed as a failed connection: {:?} {err}",
        err.class()
    );
    assert!(
        took < Duration::from_secs(15),
        "the 300 ms connect timeout, not the 30 s request timeout, ended it after {took:?}: {err}"
    );
    println!("gave up after {took:?}: {err}");
}
