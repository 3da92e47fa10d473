//! Cache behaviour seen through HTTP: x-cache, ETag, stats, hot keys and clearing.

use serde_json::{Value, json};

use crate::both_stacks;
use crate::helpers::{TOKEN, TestApp, article};

both_stacks!(
    the_second_read_is_a_hit_and_if_none_match_gets_304,
    stats_have_the_seed_shape_plus_hit_counts,
    clearing_volume_leaves_media_cached,
    clearing_needs_the_operator_token,
    clearing_refuses_empty_and_foreign_patterns,
    clearing_without_a_pattern_empties_the_cache,
    hot_keys_list_the_most_read_keys_first,
    hot_keys_refuse_a_bad_limit_in_json,
);

async fn the_second_read_is_a_hit_and_if_none_match_gets_304(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    for path in [
        "/api/v1/media/latest",
        "/api/v1/volume",
        "/api/v1/simplified",
    ] {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()["x-cache"], "miss", "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let second = app.get(path).await;
        assert_eq!(second.headers()["x-cache"], "hit", "{path}");
        assert_eq!(second.headers()["etag"].to_str().unwrap(), etag);
        let revalidated = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{path}");
        assert!(revalidated.bytes().await.unwrap().is_empty());
        let changed = app
            .client
            .get(app.url(path))
            .header("if-none-match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
    }
}

async fn stats_have_the_seed_shape_plus_hit_counts(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    app.get("/api/v1/volume").await;
    app.get("/api/v1/volume").await;
    let body = app.get_json("/api/v1/media/cache/stats", 200).await;
    assert_eq!(body["message"], "Cache statistics retrieved successfully");
    let cache = &body["cache"];
    let expected_backend = match app.stack {
        crate::helpers::Stack::Embedded => "memory",
        crate::helpers::Stack::Production => "redis",
    };
    assert_eq!(cache["backend"], expected_backend);
    assert_eq!(cache["redis_connected"], expected_backend == "redis");
    for field in [
        "redis_used_memory",
        "redis_keys",
        "memory_cache_size",
        "hits",
        "misses",
        "hit_rate",
    ] {
        assert!(cache.get(field).is_some(), "stats has {field}");
    }
    assert_eq!(cache["hits"], 1);
    assert_eq!(cache["misses"], 1);
    assert_eq!(cache["hit_rate"], 0.5);
    if expected_backend == "redis" {
        assert!(cache["redis_used_memory"].is_string());
        assert!(cache["redis_keys"].as_u64().is_some());
    } else {
        assert_eq!(cache["memory_cache_size"], 1);
    }
}

async fn clearing_volume_leaves_media_cached(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    app.get("/api/v1/volume").await;
    app.get("/api/v1/volume?interval=hour").await;
    app.get("/api/v1/media/latest").await;
    let response = app
        .client
        .delete(app.url("/api/v1/media/cache/clear?pattern=volume:*"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], 2);
    assert_eq!(body["pattern"], "volume:*");
    assert_eq!(app.get("/api/v1/volume").await.headers()["x-cache"], "miss");
    assert_eq!(
        app.get("/api/v1/media/latest").await.headers()["x-cache"],
        "hit"
    );
}

async fn clearing_needs_the_operator_token(app: TestApp) {
    let missing = app
        .client
        .delete(app.url("/api/v1/media/cache/clear"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = app
        .client
        .delete(app.url("/api/v1/media/cache/clear"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = app
        .client
        .delete(app.url("/api/v1/media/cache/clear"))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let lowercase_scheme = app
        .client
        .delete(app.url("/api/v1/media/cache/clear"))
        .header("authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lowercase_scheme.status(),
        200,
        "the auth scheme is case-insensitive"
    );
}

async fn clearing_refuses_empty_and_foreign_patterns(app: TestApp) {
    for pattern in ["", "foo:*", "volume[", "a%20b", "@@"] {
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/media/cache/clear?pattern={pattern}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{pattern:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_pattern", "{pattern:?}");
    }
}

async fn clearing_without_a_pattern_empties_the_cache(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    app.get("/api/v1/volume").await;
    app.get("/api/v1/media/latest").await;
    let response = app
        .client
        .delete(app.url("/api/v1/media/cache/clear"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], 2);
    assert!(body["pattern"].is_null());
    assert_eq!(
        app.get("/api/v1/media/latest").await.headers()["x-cache"],
        "miss"
    );
}

async fn hot_keys_list_the_most_read_keys_first(app: TestApp) {
    let none = app.get_json("/api/v1/media/cache/hot", 200).await;
    assert_eq!(none, json!({"keys": [], "limit": 20}));

    app.seed(&[article("gazette", 1, None)]).await;
    for _ in 0..3 {
        app.get("/api/v1/volume").await;
    }
    app.get("/api/v1/media/latest").await;

    let top = app.get_json("/api/v1/media/cache/hot?limit=1", 200).await;
    assert_eq!(top["limit"], 1);
    let keys = top["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{top}");
    assert_eq!(keys[0]["category"], "volume");
    assert!(keys[0]["key"].as_str().unwrap().starts_with("volume:"));

    let all = app.get_json("/api/v1/media/cache/hot", 200).await;
    let categories: Vec<&str> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["volume", "media"], "{all}");

    // A hot key is a key warming accepts.
    let key = keys[0]["key"].as_str().unwrap();
    let job = app
        .enqueue("/api/v1/jobs/warm", json!({"keys": [key]}))
        .await;
    let job = app.wait_job(&job).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["warmed"], 1, "{job}");
}

async fn hot_keys_refuse_a_bad_limit_in_json(app: TestApp) {
    for limit in ["0", "101", "-1", "ten", "", "1.5", "99999999999999999999"] {
        assert_hot_error(
            &app,
            &format!("/api/v1/media/cache/hot?limit={limit}"),
            400,
            "invalid_limit",
        )
        .await;
    }
    assert_hot_error(
        &app,
        "/api/v1/media/cache/hot?limit=%ff",
        400,
        "invalid_limit",
    )
    .await;
}

async fn assert_hot_error(app: &TestApp, path: &str, status: u16, code: &str) {
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), status, "{path}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{path}"
    );
    let body: Value = response.json().await.expect("json error");
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
}
