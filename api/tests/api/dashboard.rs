//! `/dashboard`: one HTML page that names no other origin and reads the JSON endpoints.

use crate::both_stacks;
use crate::helpers::TestApp;

both_stacks!(dashboard_is_one_html_page_that_names_no_other_origin);

async fn dashboard_is_one_html_page_that_names_no_other_origin(app: TestApp) {
    let response = app.get("/dashboard").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");

    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"));
    for needle in ["http://", "https://", "//cdn", "@import", "url("] {
        assert!(!html.contains(needle), "the page names {needle:?}");
    }
    // Every reference the page makes is to this server (or inline data).
    for attribute in ["src=", "href=", "action="] {
        for (at, _) in html.match_indices(attribute) {
            let value = html[at + attribute.len()..].trim_start_matches(['"', '\'']);
            assert!(
                value.starts_with('/') || value.starts_with("data:"),
                "{attribute} at {at} points elsewhere: {}",
                &value[..value.len().min(40)]
            );
        }
    }
    assert!(!html.contains("innerHTML"), "data is rendered as text only");
    for endpoint in [
        "/api/v1/media/cache/stats",
        "/api/v1/media/cache/hot",
        "/api/v1/queue/stats",
        "/api/v1/sources",
        "/api/v1/jobs",
    ] {
        assert!(html.contains(endpoint), "the page reads {endpoint}");
    }
    for id in [
        "cache-hits",
        "hot-keys",
        "queue-depth",
        "sources-table",
        "warm-button",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    // The page is not an API read: it is neither cached nor counted.
    assert!(!headers.contains_key("x-cache"));
}
