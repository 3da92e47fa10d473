//! `GET /api/v1/queue/stats`: jobs per kind and status from the jobs table, through the
//! process' short-lived snapshot of job counts.

use std::time::Duration;

use serde_json::json;

use crate::both_stacks;
use crate::helpers::{TestApp, article};

both_stacks!(
    queue_stats_count_jobs_per_kind_and_status,
    a_flood_of_stats_and_metrics_reads_counts_the_jobs_table_once_per_max_age,
);

/// Reads the statistics until `done` holds (the snapshot is at most 1 s old), or fails
/// after 5 s with the last answer.
async fn stats_until(
    app: &TestApp,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = app.get_json("/api/v1/queue/stats", 200).await;
        if done(&stats) || tokio::time::Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn queue_stats_count_jobs_per_kind_and_status(app: TestApp) {
    let empty = app.get_json("/api/v1/queue/stats", 200).await;
    let zeros = json!({"pending": 0, "running": 0, "done": 0, "dead": 0});
    let as_of = chrono::DateTime::parse_from_rfc3339(empty["as_of"].as_str().expect("as_of"))
        .expect("as_of is RFC 3339");
    assert!(
        (chrono::Utc::now() - as_of.to_utc()).num_seconds().abs() <= 2,
        "{empty}"
    );
    assert_eq!(
        json!({"depth": empty["depth"], "max_depth": empty["max_depth"], "kinds": empty["kinds"]}),
        json!({
            "depth": 0,
            "max_depth": 5000,
            "kinds": {"scrape": zeros, "warm": zeros, "invalidate": zeros},
        })
    );

    app.seed(&[article("gazette", 1, None)]).await;
    let warm = app.enqueue("/api/v1/jobs/warm", json!({"top_n": 5})).await;
    let invalidate = app
        .enqueue("/api/v1/jobs/invalidate", json!({"patterns": ["volume:*"]}))
        .await;
    assert_eq!(app.wait_job(&warm).await["status"], "done");
    assert_eq!(app.wait_job(&invalidate).await["status"], "done");

    let stats = stats_until(&app, |s| s["kinds"]["invalidate"]["done"] == 1).await;
    assert_eq!(stats["depth"], 0, "{stats}");
    assert_eq!(stats["kinds"]["warm"]["done"], 1, "{stats}");
    assert_eq!(stats["kinds"]["invalidate"]["done"], 1, "{stats}");
    assert_eq!(stats["kinds"]["scrape"], zeros, "{stats}");
    assert!(
        stats["as_of"].as_str() > empty["as_of"].as_str(),
        "a newer snapshot: {stats}"
    );
}

async fn a_flood_of_stats_and_metrics_reads_counts_the_jobs_table_once_per_max_age(app: TestApp) {
    let before = app.metrics.job_counts().queries();
    let started = tokio::time::Instant::now();
    let reads = (0..100).map(|i| {
        let app = &app;
        async move {
            let path = if i % 2 == 0 {
                "/api/v1/queue/stats"
            } else {
                "/metrics"
            };
            assert_eq!(app.get(path).await.status(), 200, "{path}");
        }
    });
    futures::future::join_all(reads).await;
    let elapsed = started.elapsed();
    let queries = app.metrics.job_counts().queries() - before;
    let max_age = app.metrics.job_counts().max_age();
    let allowed = 1 + elapsed.as_millis().div_ceil(max_age.as_millis()) as u64;
    assert!(
        (1..=allowed).contains(&queries),
        "100 reads over {elapsed:?} ran {queries} counting queries; at most {allowed} allowed"
    );
}
