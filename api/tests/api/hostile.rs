//! Hostile input on the read endpoints: no value a client can send makes a handler panic or
//! answer 5xx; out-of-range dates are 400s naming the problem; a panic that does happen is
//! answered in JSON and counted.

use axum::Router;
use axum::routing::get;
use chrono::{Duration, Utc};
use mediawarm_shared::domain::{MAX_AUTHOR_CHARS, MAX_TITLE_CHARS, MAX_URL_BYTES};
use mediawarm_testkit::{FixtureArticle, FixtureSite};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::both_stacks;
use crate::helpers::{TOKEN, TestApp, article};

both_stacks!(
    volume_refuses_dates_beyond_the_supported_years,
    volume_rounds_to_up_to_its_bucket_and_echoes_the_bounds_used,
    read_endpoints_never_answer_5xx_over_their_full_parameter_ranges,
    an_oversized_item_is_cut_or_skipped_and_the_rest_of_the_run_is_stored,
    a_hostile_site_neither_fails_its_run_nor_holds_up_another_source,
    anonymous_readers_see_a_failed_runs_class_and_the_operator_its_text,
    only_reads_that_succeed_make_a_key_hot,
);

/// Asserts a 400 whose JSON error has `code`, and returns its message.
async fn expect_400(app: &TestApp, path: &str, code: &str) -> String {
    let body = app.get_json(path, 400).await;
    assert_eq!(body["error"]["code"], code, "GET {path}: {body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

async fn volume_refuses_dates_beyond_the_supported_years(app: TestApp) {
    let message = expect_400(&app, "/api/v1/volume?from=%2B262142-12-31", "invalid_date").await;
    assert!(message.contains("0001 to 9999"), "{message}");
    expect_400(&app, "/api/v1/volume?to=-262143-01-01", "invalid_date").await;
    expect_400(&app, "/api/v1/volume?to=%2B262143-12-31", "invalid_date").await;
    expect_400(
        &app,
        "/api/v1/volume?from=-0001-01-01&to=2026-01-01",
        "invalid_date",
    )
    .await;
    expect_400(
        &app,
        "/api/v1/volume?from=9999-12-30&to=9999-12-31&tz=Pacific/Pago_Pago",
        "invalid_date",
    )
    .await;
    // The default week before `to` would start before the year 1.
    expect_400(&app, "/api/v1/volume?to=0001-01-03", "invalid_range").await;
    // Bounds inside the years are served, even at their edges.
    let first = app
        .get_json("/api/v1/volume?from=0001-01-01&to=0001-01-03", 200)
        .await;
    assert_eq!(first["total"], 0);
    assert_eq!(first["buckets"].as_array().unwrap().len(), 3);
    let last = app
        .get_json(
            "/api/v1/volume?interval=hour&from=9999-12-31T20:00:00Z&to=9999-12-31T22:30:00Z",
            200,
        )
        .await;
    assert_eq!(last["to"], "9999-12-31T23:00:00+00:00");
}

async fn volume_rounds_to_up_to_its_bucket_and_echoes_the_bounds_used(app: TestApp) {
    app.seed(&[article(
        "gazette",
        1,
        Some("2026-03-02T10:20:00Z".parse().unwrap()),
    )])
    .await;
    let body = app
        .get_json(
            "/api/v1/volume?interval=hour&from=2026-03-02T09:59:59Z&to=2026-03-02T10:00:01Z",
            200,
        )
        .await;
    assert_eq!(body["from"], "2026-03-02T09:00:00+00:00");
    assert_eq!(body["to"], "2026-03-02T11:00:00+00:00");
    assert_eq!(body["total"], 1, "the rounded-up hour is counted: {body}");
    // Any `to` within the same bucket is the same key: the second read is a hit.
    let second = app
        .get("/api/v1/volume?interval=hour&from=2026-03-02T09:00:00Z&to=2026-03-02T10:59:59Z")
        .await;
    assert_eq!(second.headers()["x-cache"], "hit");
}

async fn an_oversized_item_is_cut_or_skipped_and_the_rest_of_the_run_is_stored(app: TestApp) {
    let site = FixtureSite::start().await;
    let now = Utc::now();
    site.publish("calm", 3, now - Duration::hours(1));
    site.add(FixtureArticle {
        slug: "huge-title".to_owned(),
        title: "Ω".repeat(100_000),
        author: "Very Long Byline ".repeat(60),
        published: now - Duration::hours(2),
    });
    site.add(FixtureArticle {
        slug: "x".repeat(3_000),
        title: "A story under an over-long URL".to_owned(),
        author: "Fixture Reporter".to_owned(),
        published: now - Duration::hours(3),
    });
    app.create_rss_source("hostile", &site.feed_url()).await;
    let job = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "hostile"}))
        .await;
    let job = app.wait_job(&job).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["articles_found"], 5, "{job}");
    assert_eq!(job["result"]["articles_skipped"], 1, "{job}");
    assert_eq!(job["result"]["articles_new"], 4, "{job}");

    let page = app
        .get_json("/api/v1/media/latest?source=hostile&limit=100", 200)
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{page}");
    for item in items {
        assert!(item["url"].as_str().unwrap().len() <= MAX_URL_BYTES);
        assert!(item["title"].as_str().unwrap().chars().count() <= MAX_TITLE_CHARS);
        if let Some(author) = item["author"].as_str() {
            assert!(author.chars().count() <= MAX_AUTHOR_CHARS, "{author}");
        }
    }
    let huge = items
        .iter()
        .find(|i| i["url"] == site.article_url("huge-title"))
        .expect("the huge-titled item is stored");
    let title = huge["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
    assert!(
        title.chars().all(|c| c == 'Ω'),
        "cut at a character boundary"
    );
    for i in 0..3 {
        assert!(
            items
                .iter()
                .any(|item| item["url"] == site.article_url(&format!("calm-{i}"))),
            "calm-{i} stored"
        );
    }
}

/// A page as large as the scraper's body cap (5 MiB) of nested `<div>`, with a title of
/// its own (the feed names it otherwise).
fn nested_markup_page() -> String {
    let head = "<!doctype html><html><head><title>Deep | Fixture</title>\
        <meta property=\"og:title\" content=\"The page's own title\"></head><body>";
    let mut page = String::from(head);
    while page.len() + 5 <= 5 * 1024 * 1024 - 64 {
        page.push_str("<div>");
    }
    page.push_str("deep text</body></html>");
    page
}

async fn a_hostile_site_neither_fails_its_run_nor_holds_up_another_source(app: TestApp) {
    let hostile = FixtureSite::start().await;
    let now = Utc::now();
    hostile.publish("calm", 3, now - Duration::hours(1));
    hostile.add(FixtureArticle {
        slug: "deep".to_owned(),
        title: "A deeply nested page".to_owned(),
        author: "Fixture Reporter".to_owned(),
        published: now - Duration::hours(2),
    });
    hostile.set_page("deep", nested_markup_page());
    hostile.add(FixtureArticle {
        slug: "too-big".to_owned(),
        title: "A page over the body cap".to_owned(),
        author: "Fixture Reporter".to_owned(),
        published: now - Duration::hours(5),
    });
    hostile.set_page("too-big", "<p>big</p>".repeat(700_000));
    hostile.add(FixtureArticle {
        slug: "huge-title".to_owned(),
        title: "Ω".repeat(100_000),
        author: "Fixture Reporter".to_owned(),
        published: now - Duration::hours(3),
    });
    hostile.add(FixtureArticle {
        slug: "y".repeat(3_000),
        title: "Under an over-long URL".to_owned(),
        author: "Fixture Reporter".to_owned(),
        published: now - Duration::hours(4),
    });
    let calm = FixtureSite::start().await;
    calm.publish("quiet", 2, now - Duration::hours(1));
    app.create_rss_source("hostile", &hostile.feed_url()).await;
    app.create_rss_source("calm", &calm.feed_url()).await;

    let started = std::time::Instant::now();
    let hostile_job = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "hostile"}))
        .await;
    let calm_job = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "calm"}))
        .await;
    let calm_done = app.wait_job(&calm_job).await;
    let calm_took = started.elapsed();
    assert_eq!(calm_done["status"], "done", "{calm_done}");
    assert_eq!(calm_done["result"]["articles_new"], 2, "{calm_done}");
    let done = app.wait_job(&hostile_job).await;
    let hostile_took = started.elapsed();
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["articles_skipped"], 1, "{done}");
    assert_eq!(done["result"]["articles_new"], 6, "{done}");
    assert_eq!(done["result"]["pages_skipped"], 1, "{done}");
    let source = app.get_json("/api/v1/sources/hostile", 200).await;
    assert_eq!(
        source["runs"][0]["skipped_pages"],
        json!([{"url": hostile.article_url("too-big"), "reason": "page_too_large"}]),
        "{source}"
    );
    assert_eq!(source["runs"][0]["status"], "succeeded");
    assert!(
        hostile_took < std::time::Duration::from_secs(60),
        "the hostile run took {hostile_took:?}"
    );
    assert!(
        calm_took < std::time::Duration::from_secs(20),
        "the calm source waited {calm_took:?}"
    );
    let page = app
        .get_json("/api/v1/media/latest?source=hostile&limit=100", 200)
        .await;
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"The page's own title"),
        "the nested page was fetched and extracted, not only named by the feed: {titles:?}"
    );
    for i in 0..3 {
        assert!(
            titles.contains(&format!("Story calm {i}").as_str()),
            "{titles:?}"
        );
    }
}

async fn anonymous_readers_see_a_failed_runs_class_and_the_operator_its_text(app: TestApp) {
    let site = FixtureSite::start().await;
    site.set_feed(mediawarm_testkit::FeedBehaviour::NotFound);
    app.create_rss_source("broken", &site.feed_url()).await;
    let job = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "broken"}))
        .await;
    assert_eq!(app.wait_job(&job).await["status"], "dead");

    let public = app.get_json("/api/v1/sources/broken", 200).await;
    let runs = public["runs"].to_string();
    assert!(!runs.contains("127.0.0.1"), "no address leaks: {runs}");
    assert!(!runs.contains("404"), "no detail leaks: {runs}");
    let run = &public["runs"][0];
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_class"], "http_status");
    assert_eq!(
        run["error"],
        "The source answered with an HTTP error status."
    );
    assert!(run.get("error_detail").is_none(), "{run}");
    let listed = app.get_json("/api/v1/sources", 200).await;
    let last = &listed["sources"][0]["last_run"];
    assert_eq!(last["error_class"], "http_status", "{listed}");
    assert!(!last.to_string().contains("127.0.0.1"), "{last}");

    let operator: Value = app
        .operator(reqwest::Method::GET, "/api/v1/sources/broken")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let detail = operator["runs"][0]["error_detail"].as_str().unwrap();
    assert!(
        detail.contains("404") && detail.contains("127.0.0.1"),
        "{detail}"
    );

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.lines().any(
            |l| l == r#"mediawarm_scrape_errors_total{source="broken",reason="http_status"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"mediawarm_scrape_errors_total{source="broken",reason="timeout"} 0"#),
        "every reason is exported"
    );

    // A run recorded before classes existed reads as `unknown`.
    let name = mediawarm_shared::domain::SourceName::parse("broken").unwrap();
    app.store
        .start_run("legacy", 1, &name, Utc::now())
        .await
        .unwrap();
    app.store
        .finish_run(
            "legacy",
            1,
            mediawarm_shared::domain::RunStatus::Failed,
            mediawarm_shared::domain::RunCounts::default(),
            Some("error returned from database: relation \"x\" does not exist"),
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let public = app.get_json("/api/v1/sources/broken", 200).await;
    let legacy = &public["runs"][0];
    assert_eq!(legacy["job_id"], "legacy");
    assert_eq!(legacy["error_class"], "unknown");
    assert_eq!(legacy["error"], "The run failed.");
}

async fn only_reads_that_succeed_make_a_key_hot(app: TestApp) {
    app.get_json("/api/v1/media/latest?source=nobody", 404)
        .await;
    app.get_json("/api/v1/volume?source=nobody", 404).await;
    let hot = app.get_json("/api/v1/media/cache/hot", 200).await;
    assert_eq!(
        hot["keys"],
        json!([]),
        "failed reads are not counted: {hot}"
    );
    app.get_json("/api/v1/media/latest", 200).await;
    let hot = app.get_json("/api/v1/media/cache/hot", 200).await;
    assert_eq!(hot["keys"].as_array().unwrap().len(), 1, "{hot}");
}

/// PostgreSQL only: a lock held on `articles` makes every uncached read wait, which shows
/// both the statement timeout and the per-client miss bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_stuck_read_is_cancelled_and_one_client_cannot_pile_up_misses() {
    use sqlx::Connection as _;
    let app = crate::helpers::spawn_app(crate::helpers::Stack::Production).await;
    let url = app
        .database_url()
        .expect("the production stack has a database URL");
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("lock table articles in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let per_client = mediawarm_api::MissLimits::default().per_client;
    let started = std::time::Instant::now();
    let reads = (0..=per_client).map(|day| {
        let path = format!("/api/v1/volume?from=2026-01-{:02}&to=2026-01-20", day + 1);
        let app = &app;
        async move {
            let response = app.get(&path).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    });
    let mut answers = futures::future::join_all(reads).await;
    let took = started.elapsed();
    answers.sort();
    let mut expected = vec![(429, "too_many_requests".to_owned())];
    expected.extend((0..per_client).map(|_| (503, "query_timeout".to_owned())));
    assert_eq!(answers, expected, "after {took:?}");
    assert!(
        took < std::time::Duration::from_secs(14),
        "cancelled at the 5 s query timeout, before the 15 s request timeout: {took:?}"
    );
    lock.rollback().await.unwrap();
    let hot = app.get_json("/api/v1/media/cache/hot", 200).await;
    assert_eq!(hot["keys"], json!([]), "{hot}");
    app.get_json("/api/v1/volume?from=2026-01-01&to=2026-01-20", 200)
        .await;
}

/// PostgreSQL only: reads that are not views (sources, runs, job records, job counts) are
/// limited by the same statement timeout, so a stuck table cannot hold a request (or one of
/// its database connections) past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn every_read_a_request_makes_is_cancelled_at_the_query_timeout() {
    use sqlx::Connection as _;
    // No in-process worker: its own queries would wait on the same locks, without a limit,
    // and take the pool's connections.
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Stack::Production,
        crate::helpers::test_worker_args(),
        false,
    )
    .await;
    let url = app
        .database_url()
        .expect("the production stack has a database URL");
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("lock table jobs, sources, scrape_runs in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let reads = [
        ("/api/v1/sources", false),
        ("/api/v1/sources/gazette", false),
        ("/api/v1/queue/stats", false),
        ("/api/v1/jobs", true),
        ("/api/v1/jobs/01HZX3Q5V8N2M4K6J7H9G0F1E2", true),
    ]
    .map(|(path, operator)| {
        let app = &app;
        async move {
            let request = if operator {
                app.operator(reqwest::Method::GET, path)
            } else {
                app.client.get(app.url(path))
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                path,
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    });
    let answers = futures::future::join_all(reads).await;
    let took = started.elapsed();
    for (path, status, code) in &answers {
        assert_eq!(
            (*status, code.as_str()),
            (503, "query_timeout"),
            "{path} after {took:?}"
        );
    }
    assert!(
        took < std::time::Duration::from_secs(14),
        "cancelled at the 5 s query timeout, before the 15 s request timeout: {took:?}"
    );
    lock.rollback().await.unwrap();
    app.get_json("/api/v1/sources", 200).await;
    app.get_json("/api/v1/queue/stats", 200).await;
}

/// A value from anywhere in what a client could send for a parameter: valid ones, numbers
/// of every width, dates and timestamps with out-of-range fields and years, and arbitrary
/// text.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("20".to_owned()),
        Just("day".to_owned()),
        Just("hour".to_owned()),
        Just("Europe/Paris".to_owned()),
        Just("Pacific/Kiritimati".to_owned()),
        Just("gazette".to_owned()),
        Just("+262142-12-31".to_owned()),
        Just("-262143-01-01".to_owned()),
        Just("9999-12-31".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i128>().prop_map(|n| n.to_string()),
        (-1_000i64..=1_000).prop_map(|n| n.to_string()),
        (-300_000i32..=300_000, 0u32..=13, 0u32..=32).prop_map(|(y, m, d)| {
            if (0..=9999).contains(&y) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:+}-{m:02}-{d:02}")
            }
        }),
        (
            0i32..=9999,
            1u32..=12,
            1u32..=31,
            0u32..=24,
            0u32..=60,
            -24i32..=24
        )
            .prop_map(|(y, mo, d, h, mi, off)| {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{off:+03}:00")
            }),
        "\\PC{0,40}",
        "[a-zA-Z0-9_./:+-]{0,80}",
    ]
}

/// A request to a read endpoint: a path (segments percent-encoded) and query parameters.
fn read_request() -> impl Strategy<Value = (Vec<String>, Vec<(&'static str, String)>)> {
    fn params(
        names: &'static [&'static str],
    ) -> impl Strategy<Value = Vec<(&'static str, String)>> {
        prop::collection::vec(
            (prop::sample::select(names), hostile_value()),
            0..=names.len(),
        )
    }
    let segments = |fixed: &[&str]| fixed.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    prop_oneof![
        params(&["limit", "offset", "cursor", "source"])
            .prop_map(move |q| (segments(&["api", "v1", "media", "latest"]), q)),
        hostile_value().prop_map(move |id| {
            let mut path = segments(&["api", "v1", "media"]);
            path.push(id);
            (path, Vec::new())
        }),
        params(&["interval", "from", "to", "tz", "source"])
            .prop_map(move |q| (segments(&["api", "v1", "volume"]), q)),
        params(&["source"]).prop_map(move |q| (segments(&["api", "v1", "simplified"]), q)),
        params(&["limit"])
            .prop_map(move |q| (segments(&["api", "v1", "media", "cache", "hot"]), q)),
        Just((
            segments(&["api", "v1", "media", "cache", "stats"]),
            Vec::new()
        )),
        Just((segments(&["api", "v1", "sources"]), Vec::new())),
        hostile_value().prop_map(move |name| {
            let mut path = segments(&["api", "v1", "sources"]);
            path.push(name);
            (path, Vec::new())
        }),
        Just((segments(&["api", "v1", "queue", "stats"]), Vec::new())),
        params(&["status", "kind", "limit"])
            .prop_map(move |q| (segments(&["api", "v1", "jobs"]), q)),
        hostile_value().prop_map(move |id| {
            let mut path = segments(&["api", "v1", "jobs"]);
            path.push(id);
            (path, Vec::new())
        }),
    ]
}

async fn read_endpoints_never_answer_5xx_over_their_full_parameter_ranges(app: TestApp) {
    app.seed(&[
        article("gazette", 1, Some(chrono::Utc::now())),
        article("herald", 2, None),
    ])
    .await;
    let (base, client) = (app.base.clone(), app.client.clone());
    let runtime = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases: 400,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&read_request(), |(path, query)| {
            let mut url = reqwest::Url::parse(&base).expect("base URL");
            url.path_segments_mut()
                .expect("a base URL")
                .extend(path.iter());
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query.iter());
            }
            let (status, body) = runtime.block_on(async {
                let response = client
                    .get(url.clone())
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("GET {url}: no answer: {e}")))?;
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                Ok::<_, TestCaseError>((status, body))
            })?;
            prop_assert!(status < 500, "GET {url}: {status} {body}");
            if status >= 400 {
                let json: Value = serde_json::from_str(&body)
                    .map_err(|_| TestCaseError::fail(format!("GET {url}: not JSON: {body}")))?;
                prop_assert!(json["error"]["code"].is_string(), "GET {url}: {body}");
            }
            Ok(())
        })
    })
    .await
    .expect("the property runner");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

async fn buggy_handler() -> &'static str {
    panic!("a bug in a handler")
}

#[tokio::test]
async fn a_panicking_handler_is_answered_json_500_and_counted() {
    let app = crate::helpers::spawn_app(crate::helpers::Stack::Embedded).await;
    let router = Router::new()
        .route("/boom", get(buggy_handler))
        .layer(mediawarm_api::error::catch_panics(app.metrics.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    for _ in 0..2 {
        let response = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(
            body["error"]["message"], "internal error",
            "no detail leaks"
        );
    }
    let exposition = app.get("/metrics").await.text().await.unwrap();
    assert!(
        exposition
            .lines()
            .any(|l| l == "mediawarm_http_panics_total 2"),
        "{exposition}"
    );
}

/// An app whose connections are held to `limits` (embedded stack, no worker).
async fn limited_app(limits: mediawarm_api::ConnectionLimits) -> TestApp {
    crate::helpers::spawn_app_limited(
        crate::helpers::Stack::Embedded,
        crate::helpers::test_worker_args(),
        false,
        limits,
    )
    .await
}

/// Opens a connection to `app` and sends half of a request's headers.
async fn half_a_request(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: mediawarm\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    use tokio::io::AsyncReadExt as _;
    let app = limited_app(mediawarm_api::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let mut slow = half_a_request(&app).await;
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut buf),
    )
    .await
    .expect("the server closes the connection well within 20 s");
    assert!(
        read.is_err() || !String::from_utf8_lossy(&buf).contains("200 OK"),
        "no answer to half a request: {buf:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "not before the timeout"
    );
    let healthy = app.get("/healthz").await;
    assert_eq!(healthy.status(), 200, "other clients are served");
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let app = limited_app(mediawarm_api::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(60),
        max_connections: 2,
    })
    .await;
    let first = half_a_request(&app).await;
    let second = half_a_request(&app).await;
    let client = reqwest::Client::new();
    let url = app.url("/healthz");
    let third = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "a third connection is not served while two are held"
    );
    drop(first);
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), third)
        .await
        .expect("served once a connection closes")
        .unwrap()
        .expect("an answer");
    assert_eq!(status, 200);
    drop(second);
}
