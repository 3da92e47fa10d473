//! Jobs through the API: scrape, warm and invalidate end to end, retries and dead jobs,
//! backpressure, the scheduler, and every refused request.

use std::time::Duration;

use chrono::Utc;
use mediawarm_testkit::{FeedBehaviour, FixtureSite};
use reqwest::Method;
use serde_json::json;

use crate::both_stacks;
use crate::helpers::{Stack, TestApp, article, spawn_app_with, test_worker_args};

both_stacks!(
    a_scrape_shows_new_articles_and_keeps_hot_keys_hot,
    a_source_that_fails_permanently_ends_dead_and_can_be_retried_by_hand,
    a_flaky_source_ends_done_after_retries,
    a_garbage_feed_ends_dead_on_its_first_attempt,
    warm_recomputes_exactly_the_named_keys,
    invalidate_supersedes_the_matching_keys,
    a_second_scrape_of_a_busy_source_is_skipped,
    the_scheduler_enqueues_scrapes_and_stops_when_the_schedule_is_removed,
    job_requests_refuse_bad_input_and_write_nothing,
    a_job_records_the_request_id_that_enqueued_it,
    finished_tasks_are_vacuumed_from_the_queue,
);

async fn job_count(app: &TestApp) -> usize {
    let list: serde_json::Value = app
        .operator(Method::GET, "/api/v1/jobs?limit=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["jobs"].as_array().unwrap().len()
}

async fn a_scrape_shows_new_articles_and_keeps_hot_keys_hot(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("old", 3, Utc::now() - chrono::Duration::hours(1));
    app.create_rss_source("fixture", &site.feed_url()).await;
    let first = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "fixture"}))
        .await;
    let job = app.wait_job(&first).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["articles_new"], 3);

    // Readers make these keys hot.
    for path in ["/api/v1/media/latest", "/api/v1/volume"] {
        app.get(path).await;
        assert_eq!(app.get(path).await.headers()["x-cache"], "hit");
    }

    site.publish("new", 2, Utc::now());
    let second = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "fixture"}))
        .await;
    let job = app.wait_job(&second).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["articles_new"], 2);
    assert_eq!(job["result"]["invalidated"], true);
    assert!(
        job["result"]["hot_keys_rewarmed"].as_u64().unwrap() >= 2,
        "{job}"
    );

    let latest = app.get("/api/v1/media/latest").await;
    assert_eq!(
        latest.headers()["x-cache"],
        "hit",
        "a hot key is rewarmed, not missed"
    );
    let body: serde_json::Value = latest.json().await.unwrap();
    let titles: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 5);
    assert!(
        titles.contains(&"Story new 1"),
        "the rewarmed value has the new data: {titles:?}"
    );
    let volume = app.get("/api/v1/volume").await;
    assert_eq!(volume.headers()["x-cache"], "hit");
    let body: serde_json::Value = volume.json().await.unwrap();
    assert_eq!(body["total"], 5);

    let runs = app.get_json("/api/v1/sources/fixture", 200).await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["job_id"], second.as_str(), "newest run first");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["articles_new"], 2);
}

async fn a_source_that_fails_permanently_ends_dead_and_can_be_retried_by_hand(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("a", 2, Utc::now());
    site.set_feed(FeedBehaviour::NotFound);
    app.create_rss_source("broken", &site.feed_url()).await;
    let id = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "broken"}))
        .await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "dead");
    assert_eq!(job["attempts"], 1, "a permanent failure is not retried");
    assert!(job["error"].as_str().unwrap().contains("404"), "{job}");

    let dead = app
        .operator(Method::GET, "/api/v1/jobs?status=dead")
        .send()
        .await
        .unwrap();
    let dead: serde_json::Value = dead.json().await.unwrap();
    assert!(
        dead["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id.as_str())
    );

    site.set_feed(FeedBehaviour::Healthy);
    let (status, answer) = app
        .post_json(&format!("/api/v1/jobs/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["job_id"], id.as_str());
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["articles_new"], 2);
}

async fn a_flaky_source_ends_done_after_retries(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("a", 1, Utc::now());
    site.set_feed(FeedBehaviour::FailTimes(2));
    app.create_rss_source("flaky", &site.feed_url()).await;
    let id = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "flaky"}))
        .await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["attempts"], 3);
    assert_eq!(site.hits("/feed.xml"), 3);
}

async fn a_garbage_feed_ends_dead_on_its_first_attempt(app: TestApp) {
    let site = FixtureSite::start().await;
    site.set_feed(FeedBehaviour::Garbage);
    app.create_rss_source("garbage", &site.feed_url()).await;
    let id = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "garbage"}))
        .await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 1);
    assert!(!job["error"].as_str().unwrap().is_empty());
}

async fn warm_recomputes_exactly_the_named_keys(app: TestApp) {
    app.seed(&[article("gazette", 1, Some(Utc::now()))]).await;
    let key = "volume:day:tz=UTC,source=_,range=7d";
    app.get("/api/v1/volume").await;
    // A write behind the cache's back: the cached value is now stale.
    app.seed(&[article("gazette", 2, Some(Utc::now()))]).await;
    let stale: serde_json::Value = app.get("/api/v1/volume").await.json().await.unwrap();
    assert_eq!(stale["total"], 1);

    let id = app
        .enqueue("/api/v1/jobs/warm", json!({"keys": [key]}))
        .await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["warmed"], 1);
    let fresh = app.get("/api/v1/volume").await;
    assert_eq!(fresh.headers()["x-cache"], "hit");
    let fresh: serde_json::Value = fresh.json().await.unwrap();
    assert_eq!(fresh["total"], 2);

    let id = app.enqueue("/api/v1/jobs/warm", json!({"top_n": 10})).await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert!(job["result"]["warmed"].as_u64().unwrap() >= 1, "{job}");
}

async fn invalidate_supersedes_the_matching_keys(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    app.get("/api/v1/media/latest").await;
    app.get("/api/v1/volume").await;
    let id = app
        .enqueue("/api/v1/jobs/invalidate", json!({"patterns": ["media:*"]}))
        .await;
    let job = app.wait_job(&id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        app.get("/api/v1/media/latest").await.headers()["x-cache"],
        "miss"
    );
    assert_eq!(app.get("/api/v1/volume").await.headers()["x-cache"], "hit");
}

async fn a_second_scrape_of_a_busy_source_is_skipped(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("a", 1, Utc::now());
    site.set_feed(FeedBehaviour::Slow(Duration::from_millis(1500)));
    app.create_rss_source("busy", &site.feed_url()).await;
    let first = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "busy"}))
        .await;
    let second = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "busy"}))
        .await;
    let (a, b) = (app.wait_job(&first).await, app.wait_job(&second).await);
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("done"), Some("done"))
    );
    let skipped = [&a, &b]
        .iter()
        .filter(|j| j["result"]["skipped"] == true)
        .count();
    assert_eq!(
        skipped, 1,
        "exactly one of two concurrent scrapes runs: {a} {b}"
    );
    let runs = app.get_json("/api/v1/sources/busy", 200).await;
    let statuses: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"skipped") && statuses.contains(&"succeeded"),
        "{statuses:?}"
    );
}

async fn the_scheduler_enqueues_scrapes_and_stops_when_the_schedule_is_removed(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("a", 1, Utc::now());
    let (status, answer) = app
        .post_json(
            "/api/v1/sources",
            json!({"name": "ticking", "kind": "rss", "url": site.feed_url(), "schedule": "* * * * * *"}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while job_count(&app).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scheduler enqueued no scrapes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let patched = app
        .operator(Method::PATCH, "/api/v1/sources/ticking")
        .json(&json!({"schedule": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    // Every scheduler notices a change within 2 s; after that the count must stay put.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let settled = job_count(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        job_count(&app).await,
        settled,
        "no scrape after the schedule was removed"
    );
}

async fn job_requests_refuse_bad_input_and_write_nothing(app: TestApp) {
    app.seed(&[article("imported", 1, None)]).await;
    let site = FixtureSite::start().await;
    app.create_rss_source("fixture", &site.feed_url()).await;
    let before = job_count(&app).await;
    let cases = [
        (
            "/api/v1/jobs/scrape",
            json!({"source": "nobody"}),
            404,
            "unknown_source",
        ),
        (
            "/api/v1/jobs/scrape",
            json!({"source": "Not Valid"}),
            400,
            "invalid_source",
        ),
        (
            "/api/v1/jobs/scrape",
            json!({"source": "imported"}),
            400,
            "not_scrapable",
        ),
        (
            "/api/v1/jobs/scrape",
            json!({"source": "fixture", "extra": 1}),
            400,
            "invalid_body",
        ),
        ("/api/v1/jobs/scrape", json!({}), 400, "invalid_body"),
        (
            "/api/v1/jobs/warm",
            json!({"keys": ["volume:week:nonsense"]}),
            400,
            "unknown_key",
        ),
        (
            "/api/v1/jobs/warm",
            json!({"keys": ["media:latest:limit=20,source=_,page=first", "nope"]}),
            400,
            "unknown_key",
        ),
        ("/api/v1/jobs/warm", json!({}), 400, "invalid_body"),
        (
            "/api/v1/jobs/warm",
            json!({"top_n": 5, "keys": []}),
            400,
            "invalid_body",
        ),
        (
            "/api/v1/jobs/warm",
            json!({"top_n": 0}),
            400,
            "invalid_top_n",
        ),
        (
            "/api/v1/jobs/invalidate",
            json!({"patterns": []}),
            400,
            "invalid_body",
        ),
        (
            "/api/v1/jobs/invalidate",
            json!({"patterns": ["foo:*"]}),
            400,
            "invalid_pattern",
        ),
        (
            "/api/v1/jobs/invalidate",
            json!({"patterns": [""]}),
            400,
            "invalid_pattern",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = app.post_json(path, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
    let malformed = app
        .operator(Method::POST, "/api/v1/jobs/scrape")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let unauthenticated = app
        .client
        .post(app.url("/api/v1/jobs/warm"))
        .json(&json!({"top_n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    for (path, status, code) in [
        ("/api/v1/jobs/not-a-ulid", 400, "invalid_job_id"),
        (
            "/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            404,
            "unknown_job",
        ),
        ("/api/v1/jobs?status=sleeping", 400, "invalid_status"),
        ("/api/v1/jobs?kind=dance", 400, "invalid_kind"),
        ("/api/v1/jobs?limit=0", 400, "invalid_limit"),
    ] {
        let response = app.operator(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
    }
    let (status, answer) = app
        .post_json("/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/retry", json!({}))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("unknown_job"))
    );
    assert_eq!(
        job_count(&app).await,
        before,
        "refused requests record no job"
    );

    let id = app
        .enqueue("/api/v1/jobs/invalidate", json!({"patterns": ["volume:*"]}))
        .await;
    app.wait_job(&id).await;
    let (status, answer) = app
        .post_json(&format!("/api/v1/jobs/{id}/retry"), json!({}))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("job_not_dead"))
    );
}

mod backpressure {
    use super::*;

    /// Above the depth limit enqueueing answers 503 `queue_full` with `Retry-After`, and the
    /// jobs already queued all run once a worker comes.
    async fn run(stack: Stack) {
        let mut args = test_worker_args();
        args.queue_max_depth = 3;
        let app = spawn_app_with(stack, args.clone(), false).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                app.enqueue("/api/v1/jobs/invalidate", json!({"patterns": ["volume:*"]}))
                    .await,
            );
        }
        let refused = app
            .operator(Method::POST, "/api/v1/jobs/invalidate")
            .json(&json!({"patterns": ["volume:*"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 503);
        assert!(refused.headers().contains_key("retry-after"));
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "queue_full");

        app.start_worker(args).await;
        for id in &ids {
            assert_eq!(app.wait_job(id).await["status"], "done");
        }
        app.enqueue("/api/v1/jobs/invalidate", json!({"patterns": ["volume:*"]}))
            .await;
    }

    /// 10,000 jobs from 16 clients that honour `Retry-After`: every one completes.
    async fn burst(stack: Stack) {
        let mut args = test_worker_args();
        args.queue_max_depth = 500;
        args.worker_concurrency = 8;
        let app = spawn_app_with(stack, args, true).await;
        let app = std::sync::Arc::new(app);
        let refusals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let clients: Vec<_> = (0..16)
            .map(|client| {
                let (app, refusals) = (
                    std::sync::Arc::clone(&app),
                    std::sync::Arc::clone(&refusals),
                );
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for _ in 0..(10_000 / 16 + usize::from(client < 10_000 % 16)) {
                        loop {
                            let response = app
                                .operator(Method::POST, "/api/v1/jobs/warm")
                                .json(&json!({"keys": ["simplified:score:source=_"]}))
                                .send()
                                .await
                                .unwrap();
                            if response.status() == 503 {
                                let wait: u64 = response.headers()["retry-after"]
                                    .to_str()
                                    .unwrap()
                                    .parse()
                                    .unwrap();
                                refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_secs(wait)).await;
                                continue;
                            }
                            assert_eq!(response.status(), 202);
                            let body: serde_json::Value = response.json().await.unwrap();
                            ids.push(body["job_id"].as_str().unwrap().to_owned());
                            break;
                        }
                    }
                    ids
                })
            })
            .collect();
        let mut ids = Vec::new();
        for client in clients {
            ids.extend(client.await.unwrap());
        }
        assert_eq!(ids.len(), 10_000);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        loop {
            let unfinished = app.store.unfinished_jobs().await.unwrap();
            if unfinished == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{unfinished} jobs never finished"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let done = app
            .store
            .list_jobs(Some(mediawarm_shared::jobs::JobStatus::Done), None, 100)
            .await
            .unwrap();
        assert_eq!(done.len(), 100);
        let dead = app
            .store
            .list_jobs(Some(mediawarm_shared::jobs::JobStatus::Dead), None, 100)
            .await
            .unwrap();
        assert!(dead.is_empty(), "no job lost or dead: {dead:?}");
        assert!(
            refusals.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "the burst exceeded the depth limit"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        run(Stack::Embedded).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_ten_thousand_jobs_completes_embedded() {
        burst(Stack::Embedded).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn a_burst_of_ten_thousand_jobs_completes_production() {
        burst(Stack::Production).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn production() {
        run(Stack::Production).await;
    }
}

async fn a_job_records_the_request_id_that_enqueued_it(app: TestApp) {
    let warm = |id: Option<&str>| {
        let request = app
            .operator(Method::POST, "/api/v1/jobs/warm")
            .json(&json!({"top_n": 5}));
        match id {
            Some(id) => request.header("x-request-id", id),
            None => request,
        }
    };
    async fn sent(request: reqwest::RequestBuilder) -> (String, String) {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202);
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        (echoed, body["job_id"].as_str().unwrap().to_owned())
    }

    let (echoed, job) = sent(warm(Some("op-42:retry.1"))).await;
    assert_eq!(echoed, "op-42:retry.1", "a sensible client id is kept");
    let record = app.wait_job(&job).await;
    assert_eq!(record["status"], "done", "{record}");
    assert_eq!(record["request_id"], "op-42:retry.1");

    let (echoed, job) = sent(warm(None)).await;
    assert_eq!(echoed.len(), 26, "a ULID is made up: {echoed}");
    assert_eq!(app.wait_job(&job).await["request_id"], echoed.as_str());

    let (echoed, job) = sent(warm(Some("no spaces allowed"))).await;
    assert_ne!(
        echoed, "no spaces allowed",
        "an unusable id is replaced, not refused"
    );
    assert_eq!(app.wait_job(&job).await["request_id"], echoed.as_str());

    let health = app.get("/healthz").await;
    assert!(
        health.headers().contains_key("x-request-id"),
        "every response carries one"
    );
}

/// apalis keeps its own record of every finished task until something removes it: the
/// reconciler's sweep removes it once the task is acknowledged (the retention vacuum would
/// too), while our own record of the job stays.
async fn finished_tasks_are_vacuumed_from_the_queue(app: TestApp) {
    let job = app.enqueue("/api/v1/jobs/warm", json!({"top_n": 3})).await;
    assert_eq!(app.wait_job(&job).await["status"], "done");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = app
            .queue
            .records(mediawarm_shared::jobs::JobKind::Warm)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the finished task's record is still in the queue ({left} left)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.queue.vacuum_before(Duration::ZERO).await.unwrap(), 0);
    let record = app.wait_job(&job).await;
    assert_eq!(record["status"], "done", "our own record stays: {record}");
}
