//! The fetch cache the scraper keeps (`fetch_cache` table), on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL (a fresh database per run, dropped afterwards).

use chrono::{TimeZone, Utc};
use mediawarm_shared::domain::{NewArticle, SourceName};
use mediawarm_shared::store::{FetchRecord, Store, StoreConfig};
use sqlx::PgPool;

/// Drops the PostgreSQL test database when the test ends, even on panic.
struct DropDatabase {
    admin_url: String,
    database: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin_url, sql) = (
            self.admin_url.clone(),
            format!("drop database if exists {} with (force)", self.database),
        );
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = PgPool::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.database);
        }
    }
}

/// `url` with its database replaced by `database` (query kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..host_end])
}

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
    let dir = tempfile::tempdir().expect("temporary directory");
    let cfg = StoreConfig {
        database_url: None,
        sqlite_path: dir.path().join("mediawarm.db"),
        ..StoreConfig::default()
    };
    let store = Store::connect(&cfg).await.expect("sqlite connects");
    store.migrate().await.expect("sqlite migrates");
    contract(&store).await;
}

#[tokio::test]
async fn the_fetch_cache_round_trips_on_postgres() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        println!("skipped: TEST_DATABASE_URL unset");
        return;
    };
    let database = format!(
        "mwtest_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let admin = PgPool::connect(&admin_url)
        .await
        .expect("TEST_DATABASE_URL is set but PostgreSQL is unreachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {database}")))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let _drop = DropDatabase {
        admin_url: admin_url.clone(),
        database: database.clone(),
    };
    let cfg = StoreConfig {
        database_url: Some(with_database(&admin_url, &database)),
        ..StoreConfig::default()
    };
    let store = Store::connect(&cfg).await.expect("postgres connects");
    store.migrate().await.expect("postgres migrates");
    contract(&store).await;
}
