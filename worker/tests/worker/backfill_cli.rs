//! `mediawarm-worker backfill`, run as an operator runs it on the embedded stack (a SQLite
//! database in `DATA_DIR`, no Redis): the report as one JSON line on stdout, a clear error
//! and a non-zero exit for a source that does not exist. The corrections themselves, on
//! both stacks, are tested in `worker/src/backfill.rs`.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use mediawarm_shared::domain::{NewArticle, Source, SourceKind, SourceName};
use mediawarm_shared::store::{Store, StoreConfig};
use mediawarm_testkit::FixtureSite;

/// Runs the binary with `args` on the embedded stack in `data_dir`, off the async runtime.
async fn backfill(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mediawarm-worker"));
    command
        .arg("backfill")
        .args(args)
        .env("DATA_DIR", data_dir)
        .env("SCRAPE_ALLOW_LOOPBACK", "true")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("the binary runs")
}

async fn store(data_dir: &Path) -> Store {
    let store = Store::connect(&StoreConfig {
        sqlite_path: data_dir.join("mediawarm.db"),
        ..StoreConfig::default()
    })
    .await
    .expect("store");
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_prints_its_counts_as_one_json_line_and_corrects_the_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let site = FixtureSite::start().await;
    let right = Utc
        .with_ymd_and_hms(2024, 5, 5, 9, 0, 0)
        .single()
        .expect("time");
    let wrong = Utc
        .with_ymd_and_hms(2024, 5, 3, 9, 0, 0)
        .single()
        .expect("time");
    site.publish("story", 1, right);
    let name = SourceName::parse("gazette").expect("name");
    store
        .insert_source(&Source {
            name: name.clone(),
            kind: SourceKind::Rss,
            url: site.feed_url(),
            selectors: None,
            schedule: None,
            rate_limit_per_sec: 200.0,
            enabled: true,
        })
        .await
        .expect("source");
    store
        .upsert_articles(
            &[NewArticle {
                source: name.clone(),
                url: site.article_url("story-0"),
                title: "Story".to_owned(),
                author: None,
                published_at: Some(wrong),
                summary: None,
            }],
            Utc::now(),
        )
        .await
        .expect("seed");

    let out = backfill(dir.path(), &["--source", "gazette", "--limit", "10"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON line");
    assert_eq!(report["source"], "gazette");
    assert_eq!(report["pages"], 1);
    assert_eq!(report["changed"], 1);
    assert_eq!(report["written"], 1);
    assert_eq!(report["invalidated"], true);
    assert!(report["invalidate_job"].is_string(), "{report}");
    assert!(stderr.contains("backfill of gazette"), "{stderr}");

    let rows = store.latest_offset(Some(&name), 0, 10).await.expect("read");
    assert_eq!(rows[0].published_at, Some(right));
    assert_eq!(rows[0].sort_at_us, right.timestamp_micros());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_source_is_a_clear_error_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(store(dir.path()).await);
    let out = backfill(dir.path(), &["--source", "nowhere"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown source \"nowhere\""), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = backfill(dir.path(), &["--source", "Not A Name"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--source \"Not A Name\""), "{stderr}");
}
