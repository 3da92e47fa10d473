//! `/api/v1/sources`: CRUD, purge, validation codes, auth, and nothing half-written.

use chrono::{Duration, Utc};
use mediawarm_shared::domain::{ErrorClass, RunCounts, RunStatus, SourceName};
use serde_json::{Value, json};

use crate::both_stacks;
use crate::helpers::{TOKEN, TestApp, article};

both_stacks!(
    crud_happy_path,
    one_source_shows_its_runs_newest_first,
    import_sources_are_listed_with_kind_import,
    purge_deletes_the_articles_and_plain_delete_keeps_them,
    bad_definitions_get_their_codes_and_write_nothing,
    bad_bodies_are_invalid_body_in_json,
    bad_patches_get_their_codes_and_change_nothing,
    duplicate_names_conflict,
    unknown_and_invalid_names,
    purge_must_be_true_or_false,
    writes_need_the_operator_token,
    writes_invalidate_the_simplified_view,
    the_list_shows_each_source_with_its_latest_run,
);

fn gazette() -> Value {
    json!({
        "name": "gazette",
        "kind": "html",
        "url": "https://gazette.example/news",
        "selectors": {"links": "a.story", "title": "h1"},
        "schedule": "0 */15 * * * *",
        "rate_limit_per_sec": 0.5
    })
}

impl TestApp {
    async fn post_source(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/sources"))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    async fn patch_source(&self, name: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(&format!("/api/v1/sources/{name}")))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    async fn delete_source(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request")
    }

    async fn source_names(&self) -> Vec<String> {
        let body = self.get_json("/api/v1/sources", 200).await;
        body["sources"]
            .as_array()
            .expect("sources array")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_owned())
            .collect()
    }
}

async fn assert_error(response: reqwest::Response, status: u16, code: &str, what: &str) {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}");
}

async fn crud_happy_path(app: TestApp) {
    let created = app.post_source(&gazette()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/api/v1/sources/gazette");
    let body: Value = created.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "name": "gazette",
            "kind": "html",
            "url": "https://gazette.example/news",
            "selectors": {"links": "a.story", "title": "h1", "author": null, "date": null, "summary": null},
            "schedule": "0 */15 * * * *",
            "rate_limit_per_sec": 0.5,
            "enabled": true
        })
    );

    let list = app.get_json("/api/v1/sources", 200).await;
    let mut listed = body.clone();
    listed["last_run"] = Value::Null;
    assert_eq!(list, json!({"sources": [listed]}));

    let one = app.get_json("/api/v1/sources/gazette", 200).await;
    let mut expected = body.clone();
    expected["runs"] = json!([]);
    assert_eq!(one, expected);

    let patched = app
        .patch_source("gazette", &json!({"enabled": false, "schedule": null}))
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["enabled"], false);
    assert!(patched["schedule"].is_null());
    assert_eq!(patched["selectors"]["links"], "a.story");
    let one = app.get_json("/api/v1/sources/gazette", 200).await;
    assert_eq!(one["enabled"], false);
    assert!(one["schedule"].is_null());

    let deleted = app.delete_source("/api/v1/sources/gazette").await;
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted, json!({"deleted": "gazette", "purged": false}));

    assert_error(
        app.get("/api/v1/sources/gazette").await,
        404,
        "unknown_source",
        "after delete",
    )
    .await;
    assert!(app.source_names().await.is_empty());

    let again = app.post_source(&gazette()).await;
    assert_eq!(again.status(), 201, "a deleted name can be created again");
}

async fn one_source_shows_its_runs_newest_first(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let name = SourceName::parse("gazette").unwrap();
    let start = Utc::now() - Duration::minutes(30);
    for (i, job) in ["job-a", "job-b", "job-c"].iter().enumerate() {
        let at = start + Duration::minutes(i as i64 * 10);
        app.store.start_run(job, 1, &name, at).await.unwrap();
        let counts = RunCounts {
            pages_fetched: 3,
            articles_new: 2,
            articles_updated: 1,
        };
        app.store
            .finish_run(
                job,
                1,
                RunStatus::Succeeded,
                counts,
                None,
                None,
                at + Duration::seconds(5),
            )
            .await
            .unwrap();
    }
    let one = app.get_json("/api/v1/sources/gazette", 200).await;
    let jobs: Vec<&str> = one["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["job-c", "job-b", "job-a"]);
    let run = &one["runs"][0];
    for field in [
        "started_at",
        "finished_at",
        "status",
        "pages_fetched",
        "articles_new",
        "articles_updated",
        "error",
        "error_class",
    ] {
        assert!(run.get(field).is_some(), "run has {field}");
    }
    assert_eq!(run["status"], "succeeded");
}

async fn import_sources_are_listed_with_kind_import(app: TestApp) {
    app.seed(&[article("legacy", 1, None)]).await;
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let list = app.get_json("/api/v1/sources", 200).await;
    let sources = list["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0]["name"], "gazette");
    assert_eq!(sources[1]["name"], "legacy");
    assert_eq!(sources[1]["kind"], "import");
    assert!(sources[1]["schedule"].is_null());
}

async fn purge_deletes_the_articles_and_plain_delete_keeps_them(app: TestApp) {
    let herald = json!({"name": "herald", "kind": "rss", "url": "https://herald.example/feed"});
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    assert_eq!(app.post_source(&herald).await.status(), 201);
    let now = Utc::now();
    let articles: Vec<_> = (0..3)
        .map(|n| article("gazette", n, Some(now - Duration::hours(n as i64 + 1))))
        .chain((0..2).map(|n| article("herald", n, Some(now - Duration::hours(n as i64 + 1)))))
        .collect();
    app.store.upsert_articles(&articles, now).await.unwrap();
    let count = |body: &Value, source: &str| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["source"] == source)
            .count()
    };
    let before = app.get_json("/api/v1/media/latest", 200).await;
    assert_eq!(
        (count(&before, "gazette"), count(&before, "herald")),
        (3, 2)
    );

    let kept = app
        .delete_source("/api/v1/sources/herald?purge=false")
        .await;
    assert_eq!(kept.json::<Value>().await.unwrap()["purged"], false);
    let after_keep = app.get_json("/api/v1/media/latest", 200).await;
    assert_eq!(
        count(&after_keep, "herald"),
        2,
        "delete without purge keeps articles"
    );

    let purged = app
        .delete_source("/api/v1/sources/gazette?purge=true")
        .await;
    assert_eq!(purged.status(), 200);
    assert_eq!(
        purged.json::<Value>().await.unwrap(),
        json!({"deleted": "gazette", "purged": true})
    );
    let after_purge = app.get_json("/api/v1/media/latest", 200).await;
    assert_eq!(count(&after_purge, "gazette"), 0, "purge deletes articles");
    assert_eq!(count(&after_purge, "herald"), 2);
}

async fn bad_definitions_get_their_codes_and_write_nothing(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let with = |field: &str, value: Value| {
        let mut body = json!({"name": "other", "kind": "rss", "url": "https://other.example/feed"});
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!("Not Valid")), "invalid_source"),
        (with("name", json!("")), "invalid_source"),
        (with("kind", json!("json")), "invalid_source_kind"),
        (with("kind", json!("import")), "invalid_source_kind"),
        (with("url", json!("ftp://x")), "invalid_url"),
        (with("url", json!("http://")), "invalid_url"),
        (
            with("url", json!("https://user:pw@other.example/")),
            "invalid_url",
        ),
        (
            with(
                "url",
                json!(format!("https://other.example/{}", "a".repeat(2100))),
            ),
            "invalid_url",
        ),
        (
            with("selectors", json!({"links": "a["})),
            "invalid_selector",
        ),
        (
            {
                let mut b = with("kind", json!("html"));
                b["selectors"] = json!({"title": "h1["});
                b
            },
            "invalid_selector",
        ),
        (with("schedule", json!("* * *")), "invalid_schedule"),
        (with("schedule", json!("0 */15 * * *")), "invalid_schedule"),
        (with("rate_limit_per_sec", json!(0)), "invalid_rate_limit"),
        (with("rate_limit_per_sec", json!(-1)), "invalid_rate_limit"),
        (with("rate_limit_per_sec", json!(1e9)), "invalid_rate_limit"),
    ];
    for (body, code) in cases {
        assert_error(app.post_source(&body).await, 400, code, &body.to_string()).await;
    }
    assert_eq!(app.source_names().await, ["gazette"]);
}

async fn bad_bodies_are_invalid_body_in_json(app: TestApp) {
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/sources"))
            .bearer_auth(TOKEN)
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    let json_ct = Some("application/json");
    let cases = [
        (
            r#"{"name":"x","kind":"rss","url":"https://x.example","colour":"red"}"#,
            json_ct,
        ),
        (
            r#"{"name":"x","kind":"rss","url":"https://x.example","selectors":{"link":"a"}}"#,
            json_ct,
        ),
        (r#"{"name":"x","kind":"rss""#, json_ct),
        (r#"{"name":"x","kind":"rss"}"#, json_ct),
        (
            r#"{"name":"x","kind":"rss","url":"https://x.example","enabled":"yes"}"#,
            json_ct,
        ),
        (r#"[1,2]"#, json_ct),
        ("", json_ct),
        (
            r#"{"name":"x","kind":"rss","url":"https://x.example"}"#,
            None,
        ),
        (
            r#"{"name":"x","kind":"rss","url":"https://x.example"}"#,
            Some("text/plain"),
        ),
    ];
    for (body, content_type) in cases {
        let response = send(body, content_type).await.unwrap();
        assert_error(response, 400, "invalid_body", body).await;
    }
    let huge = format!(
        r#"{{"name":"x","kind":"rss","url":"https://x.example","schedule":"{}"}}"#,
        " ".repeat(70 * 1024)
    );
    let response = app
        .client
        .post(app.url("/api/v1/sources"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "body_too_large", "huge body").await;
    assert!(app.source_names().await.is_empty());
}

async fn bad_patches_get_their_codes_and_change_nothing(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let before = app.get_json("/api/v1/sources/gazette", 200).await;
    let cases = [
        (json!({"url": "ftp://x"}), 400, "invalid_url"),
        (
            json!({"selectors": {"links": "a["}}),
            400,
            "invalid_selector",
        ),
        (json!({"schedule": "* * *"}), 400, "invalid_schedule"),
        (json!({"rate_limit_per_sec": 0}), 400, "invalid_rate_limit"),
        (json!({"kind": "import"}), 400, "invalid_source_kind"),
        (json!({"name": "renamed"}), 400, "invalid_source"),
        (json!({"colour": "red"}), 400, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let response = app.patch_source("gazette", &body).await;
        assert_error(response, status, code, &body.to_string()).await;
    }
    assert_eq!(app.get_json("/api/v1/sources/gazette", 200).await, before);
}

async fn duplicate_names_conflict(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let mut other = gazette();
    other["url"] = json!("https://elsewhere.example/");
    assert_error(
        app.post_source(&other).await,
        409,
        "source_exists",
        "duplicate",
    )
    .await;
    let one = app.get_json("/api/v1/sources/gazette", 200).await;
    assert_eq!(one["url"], "https://gazette.example/news");
}

async fn unknown_and_invalid_names(app: TestApp) {
    assert_error(
        app.get("/api/v1/sources/nosuch").await,
        404,
        "unknown_source",
        "GET",
    )
    .await;
    assert_error(
        app.patch_source("nosuch", &json!({"enabled": false})).await,
        404,
        "unknown_source",
        "PATCH",
    )
    .await;
    assert_error(
        app.delete_source("/api/v1/sources/nosuch").await,
        404,
        "unknown_source",
        "DELETE",
    )
    .await;
    for bad in ["Upper", "a%20b", "%FF", "-dash"] {
        assert_error(
            app.get(&format!("/api/v1/sources/{bad}")).await,
            400,
            "invalid_source",
            bad,
        )
        .await;
    }
}

async fn purge_must_be_true_or_false(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    for bad in ["yes", "1", "", "TRUE"] {
        assert_error(
            app.delete_source(&format!("/api/v1/sources/gazette?purge={bad}"))
                .await,
            400,
            "invalid_query",
            bad,
        )
        .await;
    }
    assert_eq!(app.source_names().await, ["gazette"]);
}

async fn writes_need_the_operator_token(app: TestApp) {
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    for token in [None, Some("not-the-token")] {
        let with_token = |request: reqwest::RequestBuilder| match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let other = json!({"name": "other", "kind": "rss", "url": "https://o.example/"});
        let post = with_token(app.client.post(app.url("/api/v1/sources")).json(&other));
        assert_error(post.send().await.unwrap(), 401, "unauthorized", "POST").await;
        let patch = with_token(
            app.client
                .patch(app.url("/api/v1/sources/gazette"))
                .json(&json!({"enabled": false})),
        );
        assert_error(patch.send().await.unwrap(), 401, "unauthorized", "PATCH").await;
        let delete = with_token(
            app.client
                .delete(app.url("/api/v1/sources/gazette?purge=true")),
        );
        assert_error(delete.send().await.unwrap(), 401, "unauthorized", "DELETE").await;
    }
    let one = app.get_json("/api/v1/sources/gazette", 200).await;
    assert_eq!(one["enabled"], true);
    assert_eq!(app.source_names().await, ["gazette"]);
}

async fn writes_invalidate_the_simplified_view(app: TestApp) {
    let names = |body: &Value| -> Vec<String> {
        body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["source"].as_str().unwrap().to_owned())
            .collect()
    };
    app.get("/api/v1/simplified").await;
    assert_eq!(
        app.get("/api/v1/simplified").await.headers()["x-cache"],
        "hit"
    );
    assert_eq!(app.post_source(&gazette()).await.status(), 201);
    let after_create = app.get("/api/v1/simplified").await;
    assert_eq!(after_create.headers()["x-cache"], "miss");
    let body: Value = after_create.json().await.unwrap();
    assert_eq!(names(&body), ["gazette"]);

    app.get("/api/v1/media/latest").await;
    assert_eq!(
        app.patch_source("gazette", &json!({"enabled": false}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/simplified").await.headers()["x-cache"],
        "miss"
    );
    assert_eq!(
        app.get("/api/v1/media/latest").await.headers()["x-cache"],
        "hit",
        "a patch leaves article views cached"
    );

    assert_eq!(
        app.delete_source("/api/v1/sources/gazette").await.status(),
        200
    );
    let after_delete = app.get("/api/v1/simplified").await;
    assert_eq!(after_delete.headers()["x-cache"], "miss");
    let body: Value = after_delete.json().await.unwrap();
    assert!(names(&body).is_empty());
    assert_eq!(
        app.get("/api/v1/media/latest").await.headers()["x-cache"],
        "miss",
        "a delete invalidates every data category"
    );
}

async fn the_list_shows_each_source_with_its_latest_run(app: TestApp) {
    app.create_rss_source("gazette", "https://gazette.example/feed")
        .await;
    app.create_rss_source("herald", "https://herald.example/feed")
        .await;
    let gazette = SourceName::parse("gazette").unwrap();
    let start = Utc::now() - Duration::minutes(30);
    let counts = RunCounts {
        pages_fetched: 2,
        articles_new: 1,
        articles_updated: 0,
    };
    app.store
        .start_run("run-old", 1, &gazette, start)
        .await
        .unwrap();
    app.store
        .finish_run(
            "run-old",
            1,
            RunStatus::Succeeded,
            counts,
            None,
            None,
            start + Duration::seconds(3),
        )
        .await
        .unwrap();
    let later = start + Duration::minutes(10);
    app.store
        .start_run("run-new", 1, &gazette, later)
        .await
        .unwrap();
    app.store
        .finish_run(
            "run-new",
            1,
            RunStatus::Failed,
            RunCounts::default(),
            Some("feed answered 404 <Not Found>"),
            Some(ErrorClass::HttpStatus),
            later + Duration::seconds(1),
        )
        .await
        .unwrap();

    let list = app.get_json("/api/v1/sources", 200).await;
    let sources = list["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{list}");
    assert_eq!(sources[0]["name"], "gazette");
    let run = &sources[0]["last_run"];
    assert_eq!(run["job_id"], "run-new", "the newest run: {run}");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_class"], "http_status");
    assert_eq!(
        run["error"],
        "The source answered with an HTTP error status."
    );
    assert!(run.get("error_detail").is_none(), "{run}");
    let as_operator: Value = app
        .operator(reqwest::Method::GET, "/api/v1/sources")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = &as_operator["sources"][0]["last_run"];
    assert_eq!(run["error_detail"], "feed answered 404 <Not Found>");
    assert_eq!(
        run["error"],
        "The source answered with an HTTP error status."
    );
    assert_eq!(sources[1]["name"], "herald");
    assert!(sources[1]["last_run"].is_null(), "herald never ran");
    assert!(
        sources[1].get("last_run").is_some(),
        "last_run is always present"
    );

    // A deleted source leaves the list, runs and all.
    let deleted = app
        .operator(reqwest::Method::DELETE, "/api/v1/sources/gazette")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let list = app.get_json("/api/v1/sources", 200).await;
    assert_eq!(list["sources"].as_array().unwrap().len(), 1, "{list}");
}
