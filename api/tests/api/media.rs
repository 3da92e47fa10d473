//! Latest media (cursor and offset) and one article.

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;

use crate::both_stacks;
use crate::helpers::{TestApp, article};

both_stacks!(
    a_cursor_walk_returns_every_existing_article_once_in_order_while_new_ones_arrive,
    offset_pages_have_the_seed_shape_and_match_the_cursor_order,
    the_first_page_without_cursor_or_offset_is_cursor_mode,
    the_source_filter_applies_to_both_modes,
    an_article_is_served_by_id_and_a_missing_one_is_404,
    latest_refuses_every_malformed_parameter_with_its_code,
    a_tampered_cursor_is_refused,
    offset_pages_stop_at_ten_thousand_and_point_at_the_cursor,
);

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["id"].as_i64().expect("id"))
        .collect()
}

async fn a_cursor_walk_returns_every_existing_article_once_in_order_while_new_ones_arrive(
    app: TestApp,
) {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let existing: Vec<_> = (0..2_500)
        // Pairs of articles share a minute, so ties in sort_at occur.
        .map(|n| article("gazette", n, Some(base + Duration::minutes((n / 2) as i64))))
        .collect();
    app.seed(&existing).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0usize;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/media/latest?limit=100&cursor={c}"),
            None => "/api/v1/media/latest?limit=100".to_owned(),
        };
        let page = app.get_json(&path, 200).await;
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["published_at"].as_str().map(str::to_owned),
                item["id"].as_i64().unwrap(),
                item["url"].as_str().unwrap().to_owned(),
            ));
        }
        // Newer articles (and one older one) arrive between pages.
        let fresh = vec![
            article("gazette", 10_000 + inserted, Some(Utc::now())),
            article("gazette", 20_000 + inserted, None),
        ];
        app.seed(&fresh).await;
        inserted += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let pre_existing: HashSet<String> = existing.iter().map(|a| a.url.clone()).collect();
    let walked: Vec<&(Option<String>, i64, String)> = seen
        .iter()
        .filter(|(_, _, url)| pre_existing.contains(url))
        .collect();
    assert_eq!(
        walked.len(),
        existing.len(),
        "every pre-existing article exactly once"
    );
    let unique: HashSet<&String> = walked.iter().map(|(_, _, u)| u).collect();
    assert_eq!(unique.len(), existing.len(), "no duplicates");
    for pair in walked.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            (&a.0, a.1) > (&b.0, b.1),
            "newest first: {a:?} before {b:?}"
        );
    }
}

async fn offset_pages_have_the_seed_shape_and_match_the_cursor_order(app: TestApp) {
    let base = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let articles: Vec<_> = (0..45)
        .map(|n| article("gazette", n, Some(base + Duration::hours(n as i64))))
        .collect();
    app.seed(&articles).await;

    let first = app
        .get_json("/api/v1/media/latest?limit=20&offset=0", 200)
        .await;
    assert_eq!(first["limit"], 20);
    assert_eq!(first["offset"], 0);
    assert!(
        first.get("next_cursor").is_some(),
        "next_cursor is always present"
    );
    let second = app
        .get_json("/api/v1/media/latest?limit=20&offset=20", 200)
        .await;
    let third = app
        .get_json("/api/v1/media/latest?limit=20&offset=40", 200)
        .await;
    assert_eq!(third["offset"], 40);
    assert_eq!(ids(&third).len(), 5);
    assert!(
        third["next_cursor"].is_null(),
        "no next page after the last one"
    );

    let by_offset: Vec<i64> = [ids(&first), ids(&second), ids(&third)].concat();
    let cursor_page = app.get_json("/api/v1/media/latest?limit=45", 200).await;
    assert_eq!(by_offset, ids(&cursor_page));
    let newest = &first["items"][0];
    assert_eq!(newest["title"], "Article 44 of gazette");
    assert_eq!(newest["published_at"], "2026-02-02T20:00:00Z");
    for field in [
        "id",
        "source",
        "url",
        "title",
        "author",
        "published_at",
        "summary",
    ] {
        assert!(newest.get(field).is_some(), "Article has {field}");
    }
}

async fn the_first_page_without_cursor_or_offset_is_cursor_mode(app: TestApp) {
    let articles: Vec<_> = (0..25).map(|n| article("gazette", n, None)).collect();
    app.seed(&articles).await;
    let page = app.get_json("/api/v1/media/latest", 200).await;
    assert_eq!(page["limit"], 20);
    assert!(page.get("offset").is_none(), "offset only in offset mode");
    assert!(page["next_cursor"].is_string());
    assert_eq!(ids(&page).len(), 20);
}

async fn the_source_filter_applies_to_both_modes(app: TestApp) {
    let mut articles: Vec<_> = (0..10).map(|n| article("gazette", n, None)).collect();
    articles.extend((0..7).map(|n| article("herald", n, None)));
    app.seed(&articles).await;
    for path in [
        "/api/v1/media/latest?source=herald&limit=100",
        "/api/v1/media/latest?source=herald&offset=0&limit=100",
    ] {
        let page = app.get_json(path, 200).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 7, "{path}");
        assert!(items.iter().all(|a| a["source"] == "herald"));
    }
    let err = app
        .get_json("/api/v1/media/latest?source=nobody", 404)
        .await;
    assert_eq!(err["error"]["code"], "unknown_source");
}

async fn an_article_is_served_by_id_and_a_missing_one_is_404(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    let page = app.get_json("/api/v1/media/latest", 200).await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    let one = app.get_json(&format!("/api/v1/media/{id}"), 200).await;
    assert_eq!(one["url"], "https://gazette.example/articles/1");
    let missing = app.get_json("/api/v1/media/999999", 404).await;
    assert_eq!(missing["error"]["code"], "not_found");
    let bad = app.get_json("/api/v1/media/abc", 400).await;
    assert_eq!(bad["error"]["code"], "invalid_id");
}

async fn latest_refuses_every_malformed_parameter_with_its_code(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=abc", "invalid_limit"),
        ("limit=", "invalid_limit"),
        ("offset=-1", "invalid_offset"),
        ("offset=ten", "invalid_offset"),
        ("offset=9981", "invalid_offset"),
        ("offset=9900&limit=101", "invalid_limit"),
        ("offset=9901&limit=100", "invalid_offset"),
        ("offset=9223372036854775807", "invalid_offset"),
        ("cursor=garbage", "invalid_cursor"),
        ("cursor=", "invalid_cursor"),
        ("offset=0&cursor=abc", "conflicting_pagination"),
        ("source=Not%20A%20Source", "invalid_source"),
    ] {
        let err = app
            .get_json(&format!("/api/v1/media/latest?{query}"), 400)
            .await;
        assert_eq!(err["error"]["code"], code, "{query}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{query}"
        );
    }
}

async fn offset_pages_stop_at_ten_thousand_and_point_at_the_cursor(app: TestApp) {
    app.seed(&[article("gazette", 1, None)]).await;
    let deepest = app
        .get_json("/api/v1/media/latest?offset=9900&limit=100", 200)
        .await;
    assert_eq!(deepest["offset"], 9900);
    assert_eq!(deepest["items"].as_array().unwrap().len(), 0);
    app.get_json("/api/v1/media/latest?offset=9980", 200).await;
    let err = app.get_json("/api/v1/media/latest?offset=9981", 400).await;
    assert_eq!(err["error"]["code"], "invalid_offset");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("cursor") && message.contains("10000"),
        "{message}"
    );
}

async fn a_tampered_cursor_is_refused(app: TestApp) {
    let articles: Vec<_> = (0..30).map(|n| article("gazette", n, None)).collect();
    app.seed(&articles).await;
    let page = app.get_json("/api/v1/media/latest?limit=10", 200).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let mut bytes = cursor.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let err = app
        .get_json(&format!("/api/v1/media/latest?cursor={tampered}"), 400)
        .await;
    assert_eq!(err["error"]["code"], "invalid_cursor");
}
