//! `apply_sources_file` against a real store (SQLite in a temporary directory per test):
//! creates missing sources, updates changed ones, counts unchanged ones, never deletes.

use mediawarm_shared::domain::{Source, SourceKind, SourceName};
use mediawarm_shared::sources_file::{SourcesFileReport, apply_sources_file, parse_sources_file};
use mediawarm_shared::store::{Store, StoreConfig};

const FILE: &str = r#"
[[source]]
name = "gazette"
kind = "html"
url = "https://gazette.example/news"
schedule = "0 */15 * * * *"
[source.selectors]
links = "a.story"

[[source]]
name = "herald"
kind = "rss"
url = "https://herald.example/feed.xml"
"#;

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cfg = StoreConfig {
        database_url: None,
        sqlite_path: dir.path().join("mediawarm.db"),
        ..StoreConfig::default()
    };
    let store = Store::connect(&cfg).await.expect("sqlite connects");
    store.migrate().await.expect("sqlite migrates");
    (store, dir)
}

fn name(raw: &str) -> SourceName {
    SourceName::parse(raw).expect("valid name")
}

#[tokio::test]
async fn applying_creates_then_leaves_unchanged() {
    let (store, _dir) = store().await;
    let specs = parse_sources_file(FILE).expect("valid file");
    let first = apply_sources_file(&store, &specs).await.expect("apply");
    assert_eq!(
        first,
        SourcesFileReport {
            created: 2,
            updated: 0,
            unchanged: 0
        }
    );
    let stored = store.list_sources().await.expect("list");
    let expected: Vec<Source> = specs.iter().map(|s| s.to_source()).collect();
    assert_eq!(stored, expected);
    let version = store.sources_version().await.expect("version");
    let second = apply_sources_file(&store, &specs)
        .await
        .expect("apply again");
    assert_eq!(
        second,
        SourcesFileReport {
            created: 0,
            updated: 0,
            unchanged: 2
        }
    );
    assert_eq!(store.sources_version().await.expect("version"), version);
}

#[tokio::test]
async fn applying_updates_changed_sources_and_never_deletes_others() {
    let (store, _dir) = store().await;
    store
        .ensure_import_sources(&[name("legacy")])
        .await
        .expect("import source");
    apply_sources_file(&store, &parse_sources_file(FILE).expect("valid"))
        .await
        .expect("apply");
    let changed = FILE.replace("feed.xml", "rss.xml");
    let only_herald: String = changed
        .split("[[source]]")
        .filter(|part| part.contains("herald"))
        .map(|part| format!("[[source]]{part}"))
        .collect();
    let report = apply_sources_file(&store, &parse_sources_file(&only_herald).expect("valid"))
        .await
        .expect("apply");
    assert_eq!(
        report,
        SourcesFileReport {
            created: 0,
            updated: 1,
            unchanged: 0
        }
    );
    let herald = store.get_source(&name("herald")).await.expect("get");
    assert_eq!(
        herald.map(|s| s.url),
        Some("https://herald.example/rss.xml".to_owned())
    );
    let names: Vec<String> = store
        .list_sources()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["gazette", "herald", "legacy"]);
}

#[tokio::test]
async fn applying_turns_an_import_source_into_a_scraped_one_and_revives_deleted_ones() {
    let (store, _dir) = store().await;
    store
        .ensure_import_sources(&[name("gazette")])
        .await
        .expect("import source");
    store
        .insert_source(&Source::import(name("herald")))
        .await
        .expect("insert");
    assert!(
        store
            .delete_source(&name("herald"), false)
            .await
            .expect("delete")
    );
    let report = apply_sources_file(&store, &parse_sources_file(FILE).expect("valid"))
        .await
        .expect("apply");
    assert_eq!(
        report,
        SourcesFileReport {
            created: 1,
            updated: 1,
            unchanged: 0
        }
    );
    let gazette = store
        .get_source(&name("gazette"))
        .await
        .expect("get")
        .expect("gazette exists");
    assert_eq!(gazette.kind, SourceKind::Html);
    assert!(
        store
            .get_source(&name("herald"))
            .await
            .expect("get")
            .is_some()
    );
}
