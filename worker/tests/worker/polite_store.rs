//! The fetch cache the scraper keeps (`fetch_cache` table), on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL (a fresh database per run, dropped afterwards).

use chrono::{TimeZone, Utc};
use mediawarm_shared::domain::{NewArticle, SourceName};
use mediawarm_shared::store::{FetchRecord, Store};
use mediawarm_testkit::store::TestStore;

async fn contract(store: &Store) {
    let at = |s: i64| {
        Utc.timestamp_opt(1_700_000_000 + s, 0)
            .single()
            .expect("time")
    };
    let urls = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let feed = FetchRecord {
        url: "https://g.example/feed.xml".into(),
        etag: Some("\"v1\"".into()),
        last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        fetched_at: at(0),
        article_urls: Some(urls(&["https://g.example/a", "https://g.example/b"])),
    };
    let page = FetchRecord {
        url: "https://g.example/a".into(),
        etag: None,
        last_modified: Some("Thu, 22 Oct 2015 07:28:00 GMT".into()),
        fetched_at: at(10),
        article_urls: None,
    };
    store
        .save_fetch_records(&[feed.clone(), page.clone()])
        .await
        .expect("saved");
    let read = store
        .fetch_records(&urls(&[
            "https://g.example/feed.xml",
            "https://g.example/a",
            "https://g.example/none",
        ]))
        .await
        .expect("read");
    assert_eq!(read.len(), 2);
    assert_eq!(read["https://g.example/feed.xml"], feed);
    assert_eq!(read["https://g.example/a"], page);

    let replaced = FetchRecord {
        etag: None,
        fetched_at: at(20),
        article_urls: None,
        ..feed.clone()
    };
    store
        .save_fetch_records(std::slice::from_ref(&replaced))
        .await
        .expect("replaced");
    let read = store
        .fetch_records(&urls(&["https://g.example/feed.xml"]))
        .await
        .expect("read");
    assert_eq!(
        read["https://g.example/feed.xml"], replaced,
        "the row is replaced whole"
    );

    let gazette = SourceName::parse("gazette").expect("name");
    store
        .ensure_import_sources(std::slice::from_ref(&gazette))
        .await
        .expect("source");
    let article = |url: &str| NewArticle {
        source: gazette.clone(),
        url: url.into(),
        title: "T".into(),
        author: None,
        published_at: None,
        summary: None,
    };
    store
        .upsert_articles(
            &[
                article("https://g.example/a"),
                article("https://g.example/b"),
            ],
            at(5),
        )
        .await
        .expect("articles");
    let times = store
        .known_article_times(&urls(&[
            "https://g.example/a",
            "https://g.example/b",
            "https://g.example/c",
        ]))
        .await
        .expect("times");
    assert_eq!(times.len(), 2, "only stored articles");
    assert_eq!(times["https://g.example/a"], at(10), "a later fetch counts");
    assert_eq!(
        times["https://g.example/b"],
        at(5),
        "else the article's updated_at"
    );
}

#[tokio::test]
async fn the_fetch_cache_round_trips_on_sqlite() {
    contract(&TestStore::sqlite().await.store).await;
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn the_fetch_cache_round_trips_on_postgres() {
    contract(&TestStore::postgres("mwtest").await.store).await;
}
