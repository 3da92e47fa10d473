//! `GET /api/v1/queue/stats`: jobs per kind and status from the jobs table.

use serde_json::json;

use crate::both_stacks;
use crate::helpers::{TestApp, article};

both_stacks!(queue_stats_count_jobs_per_kind_and_status);

async fn queue_stats_count_jobs_per_kind_and_status(app: TestApp) {
    let empty = app.get_json("/api/v1/queue/stats", 200).await;
    let zeros = json!({"pending": 0, "running": 0, "done": 0, "dead": 0});
    assert_eq!(
        empty,
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

    let stats = app.get_json("/api/v1/queue/stats", 200).await;
    assert_eq!(stats["depth"], 0, "{stats}");
    assert_eq!(stats["kinds"]["warm"]["done"], 1, "{stats}");
    assert_eq!(stats["kinds"]["invalidate"]["done"], 1, "{stats}");
    assert_eq!(stats["kinds"]["scrape"], zeros, "{stats}");
}
