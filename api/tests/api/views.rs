//! Volume and simplified score.

use chrono::{Duration, TimeZone, Utc};

use crate::both_stacks;
use crate::helpers::{TestApp, article};

both_stacks!(
    volume_counts_per_day_with_empty_buckets_and_a_total,
    volume_buckets_follow_the_requested_time_zone,
    volume_defaults_to_the_last_seven_days,
    simplified_scores_each_source,
    volume_and_simplified_refuse_malformed_parameters_with_their_codes,
);

async fn volume_counts_per_day_with_empty_buckets_and_a_total(app: TestApp) {
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap();
    let articles = vec![
        article("gazette", 1, Some(day(1, 9))),
        article("gazette", 2, Some(day(1, 23))),
        article("gazette", 3, Some(day(3, 0))),
        article("herald", 4, Some(day(3, 12))),
        article("herald", 5, Some(day(5, 0))),
    ];
    app.seed(&articles).await;
    let body = app
        .get_json(
            "/api/v1/volume?interval=day&from=2026-03-01&to=2026-03-04",
            200,
        )
        .await;
    assert_eq!(body["interval"], "day");
    let counts: Vec<i64> = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [2, 0, 2, 0]);
    assert_eq!(body["total"], 4);
    assert_eq!(body["buckets"][1]["start"], "2026-03-02T00:00:00+00:00");

    let herald = app
        .get_json(
            "/api/v1/volume?interval=day&from=2026-03-01&to=2026-03-04&source=herald",
            200,
        )
        .await;
    assert_eq!(herald["total"], 1);

    let hourly = app
        .get_json(
            "/api/v1/volume?interval=hour&from=2026-03-01T09:00:00Z&to=2026-03-01T12:00:00Z",
            200,
        )
        .await;
    let counts: Vec<i64> = hourly["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 0, 0]);
}

async fn volume_buckets_follow_the_requested_time_zone(app: TestApp) {
    // 23:30 UTC on 1 March is already 2 March in Paris.
    app.seed(&[article(
        "gazette",
        1,
        Some(Utc.with_ymd_and_hms(2026, 3, 1, 23, 30, 0).unwrap()),
    )])
    .await;
    let utc = app
        .get_json("/api/v1/volume?from=2026-03-01&to=2026-03-02", 200)
        .await;
    let paris = app
        .get_json(
            "/api/v1/volume?from=2026-03-01&to=2026-03-02&tz=Europe/Paris",
            200,
        )
        .await;
    let counts = |b: &serde_json::Value| -> Vec<i64> {
        b["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["count"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(counts(&utc), [1, 0]);
    assert_eq!(counts(&paris), [0, 1]);
    assert_eq!(paris["buckets"][1]["start"], "2026-03-02T00:00:00+01:00");
}

async fn volume_defaults_to_the_last_seven_days(app: TestApp) {
    let now = Utc::now();
    app.seed(&[
        article("gazette", 1, Some(now - Duration::hours(2))),
        article("gazette", 2, Some(now - Duration::days(3))),
        article("gazette", 3, Some(now - Duration::days(30))),
    ])
    .await;
    let body = app.get_json("/api/v1/volume", 200).await;
    assert_eq!(body["total"], 2);
    assert_eq!(
        body["buckets"].as_array().unwrap().len(),
        8,
        "7 days back, aligned to midnight, plus today"
    );
}

async fn simplified_scores_each_source(app: TestApp) {
    let now = Utc::now();
    let mut articles = Vec::new();
    for n in 0..6 {
        articles.push(article(
            "gazette",
            n,
            Some(now - Duration::hours(1 + n as i64)),
        ));
    }
    for n in 0..14 {
        articles.push(article(
            "gazette",
            100 + n,
            Some(now - Duration::days(2) - Duration::hours(n as i64 * 8)),
        ));
    }
    articles.push(article("herald", 1, Some(now - Duration::days(3))));
    app.seed(&articles).await;
    let body = app.get_json("/api/v1/simplified", 200).await;
    let sources = body["sources"].as_array().unwrap();
    let gazette = sources.iter().find(|s| s["source"] == "gazette").unwrap();
    assert_eq!(gazette["articles_24h"], 6);
    assert_eq!(gazette["daily_mean_7d"], 2.0);
    assert_eq!(gazette["score"], 3.0);
    let herald = sources.iter().find(|s| s["source"] == "herald").unwrap();
    assert_eq!(herald["articles_24h"], 0);
    assert_eq!(herald["score"], 0.0);
    let one = app.get_json("/api/v1/simplified?source=herald", 200).await;
    assert_eq!(one["sources"].as_array().unwrap().len(), 1);
}

async fn volume_and_simplified_refuse_malformed_parameters_with_their_codes(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    for (query, status, code) in [
        ("interval=week", 400, "invalid_interval"),
        ("interval=", 400, "invalid_interval"),
        ("from=2026-03-05&to=2026-03-01", 400, "invalid_range"),
        ("from=yesterday", 400, "invalid_date"),
        ("to=2026-02-30", 400, "invalid_date"),
        (
            "from=2026-01-01T25:00:00Z&to=2026-01-02",
            400,
            "invalid_date",
        ),
        ("tz=Mars/Olympus", 400, "invalid_tz"),
        (
            "interval=hour&from=2020-01-01&to=2026-01-01",
            400,
            "range_too_large",
        ),
        ("source=nobody", 404, "unknown_source"),
        ("source=BAD!", 400, "invalid_source"),
    ] {
        let err = app
            .get_json(&format!("/api/v1/volume?{query}"), status)
            .await;
        assert_eq!(err["error"]["code"], code, "{query}");
    }
    let err = app.get_json("/api/v1/simplified?source=nobody", 404).await;
    assert_eq!(err["error"]["code"], "unknown_source");
}
