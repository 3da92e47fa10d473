//! The `mediawarm-api` binary's maintenance commands, run as a user would run them.

use std::io::Write as _;
use std::process::Command;

use mediawarm_testkit::services::{TestRedis, TestServices};

#[path = "cli/tours.rs"]
mod tours;

/// The operator token the servers these tests start run with (long enough for production
/// mode).
const TOKEN: &str = "cli-test-operator-token";

fn api(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mediawarm-api"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("QUEUE_REDIS_URL")
        .env_remove("OPERATOR_TOKEN")
        .current_dir(data_dir)
        .env("DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    command
}

fn write_lines(dir: &std::path::Path, lines: &[&str]) -> std::path::PathBuf {
    let path = dir.join("articles.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    path
}

#[test]
fn migrate_applies_the_migrations_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = api(dir.path()).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("mediawarm.db").exists());
}

#[test]
fn import_loads_a_file_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        &[
            r#"{"source":"gazette","url":"https://gazette.example/1","title":"One","published_at":"2026-01-01T10:00:00Z"}"#,
            "",
            r#"{"source":"herald","url":"https://herald.example/2","title":"Two","author":"Ada"}"#,
        ],
    );
    let first = api(dir.path()).arg("import").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("2 new"), "{stderr}");
    assert!(stderr.contains("2 sources created"), "{stderr}");
    let again = api(dir.path()).arg("import").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("0 new, 0 updated, 2 unchanged"), "{stderr}");
}

#[test]
fn a_malformed_line_aborts_the_whole_import_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        &[
            r#"{"source":"gazette","url":"https://gazette.example/1","title":"One"}"#,
            r#"{"source":"gazette","url":"https://gazette.example/2","title":"Two"}"#,
            r#"{"source":"gazette","url":"https://gazette.example/3","title":"#,
        ],
    );
    let output = api(dir.path()).arg("import").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    let fixed = write_lines(
        dir.path(),
        &[r#"{"source":"gazette","url":"https://gazette.example/1","title":"One"}"#],
    );
    let output = api(dir.path()).arg("import").arg(&fixed).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 new"),
        "nothing of the failed import was kept: {stderr}"
    );
}

#[test]
fn production_mode_refuses_to_start_without_a_long_operator_token() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = "postgres://nobody@127.0.0.1:1/none";
    let cases: [(&str, &str, Option<&str>, &[&str]); 4] = [
        (
            "DATABASE_URL",
            unreachable,
            None,
            &["OPERATOR_TOKEN", "DATABASE_URL"],
        ),
        (
            "REDIS_URL",
            "redis://127.0.0.1:1",
            None,
            &["OPERATOR_TOKEN", "REDIS_URL"],
        ),
        (
            "QUEUE_REDIS_URL",
            "redis://127.0.0.1:1",
            Some("change-me"),
            &["OPERATOR_TOKEN", "QUEUE_REDIS_URL", "9 characters", "16"],
        ),
        (
            "DATABASE_URL",
            unreachable,
            Some("fifteen-chars!!"),
            &["OPERATOR_TOKEN", "16"],
        ),
    ];
    for (variable, value, token, expected) in cases {
        let mut command = api(dir.path());
        command
            .env(variable, value)
            .env("BIND", "127.0.0.1:0")
            .env("RUST_LOG", "off");
        if let Some(token) = token {
            command.env("OPERATOR_TOKEN", token);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable} {token:?}: {stderr}");
        for needle in expected {
            assert!(stderr.contains(needle), "{variable} {token:?}: {stderr}");
        }
        assert!(
            !token.is_some_and(|t| stderr.contains(t)),
            "the refused token is not echoed: {stderr}"
        );
    }
}

#[test]
fn an_over_cap_line_aborts_the_import_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let title = "t".repeat(1_001);
    let long =
        format!(r#"{{"source":"gazette","url":"https://gazette.example/2","title":"{title}"}}"#);
    let file = write_lines(
        dir.path(),
        &[
            r#"{"source":"gazette","url":"https://gazette.example/1","title":"One"}"#,
            &long,
        ],
    );
    let output = api(dir.path()).arg("import").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("title"), "{stderr}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = api(dir.path())
        .arg("import")
        .arg(dir.path().join("nope.jsonl"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.jsonl"));
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn an_embedded_import_reaches_the_running_servers_cache() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = Server(
        api(dir.path())
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("OPERATOR_TOKEN", TOKEN)
            .env("WORKER_POLL_MS", "50")
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let total = |body: serde_json::Value| body["total"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let before = loop {
        if let Ok(response) = client.get(format!("{base}/api/v1/volume")).send().await {
            break response.json::<serde_json::Value>().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(total(before), 0);
    let cached = client
        .get(format!("{base}/api/v1/volume"))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.headers()["x-cache"], "hit");

    let now = chrono::Utc::now().to_rfc3339();
    let line = format!(
        r#"{{"source":"gazette","url":"https://gazette.example/1","title":"One","published_at":"{now}"}}"#
    );
    let file = write_lines(dir.path(), &[&line]);
    let output = api(dir.path()).arg("import").arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body: serde_json::Value = client
            .get(format!("{base}/api/v1/volume"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if total(body) == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server kept serving the pre-import volume"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_demo_site_is_registered_and_scraped_through_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = dir.path().join("api.log");
    let _server = Server(
        api(dir.path())
            .arg("--demo")
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("OPERATOR_TOKEN", TOKEN)
            .env("WORKER_POLL_MS", "50")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let source: serde_json::Value = loop {
        if let Ok(response) = client
            .get(format!("{base}/api/v1/sources/demo"))
            .send()
            .await
            && response.status() == 200
        {
            break response.json().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo source never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(source["kind"], "rss");
    assert!(
        source["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let job: serde_json::Value = loop {
        let response = client
            .post(format!("{base}/api/v1/jobs/scrape"))
            .bearer_auth(TOKEN)
            .header("x-request-id", REQUEST_ID)
            .json(&serde_json::json!({"source": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], REQUEST_ID);
        if response.status() == 202 {
            break response.json().await.unwrap();
        }
        assert_eq!(
            response.status(),
            503,
            "only a not-yet-reached queue may refuse"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue was never reached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let status_url = format!("{base}{}", job["status_url"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job: serde_json::Value = client
            .get(&status_url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match job["status"].as_str() {
            Some("done") => {
                // The demo source's own schedule may scrape it first (then this job finds
                // the articles known) or at the same time (then this one is skipped).
                assert!(
                    job["result"]["skipped"] == true
                        || job["result"]["articles_found"].as_u64().unwrap() >= 8,
                    "{job}"
                );
                assert_eq!(job["request_id"], REQUEST_ID, "{job}");
                break;
            }
            Some("dead") => panic!("the demo scrape died: {job}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo scrape never finished: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let latest: serde_json::Value = client
        .get(format!("{base}/api/v1/media/latest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = latest["items"].as_array().unwrap();
    assert!(items.len() >= 8);
    assert!(
        items.iter().all(
            |a| a["source"] == "demo" && a["title"].as_str().unwrap().starts_with("Demo story")
        )
    );

    // LOG_FORMAT=json: every line is one JSON object, and the worker's lines about the job
    // carry the id of the request that enqueued it.
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let job_id = job["job_id"].as_str().unwrap();
    let job_done = lines
        .iter()
        .find(|l| {
            l["message"] == "job done"
                && l["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|s| s["job_id"] == job_id))
        })
        .unwrap_or_else(|| panic!("no `job done` line for {job_id} in\n{log}"));
    let spans = job_done["spans"].as_array().unwrap();
    assert!(
        spans.iter().any(|s| s["request_id"] == REQUEST_ID),
        "the job's log line names the request: {job_done}"
    );
}

/// The `x-request-id` the demo test sends with its scrape.
const REQUEST_ID: &str = "demo-trace-1";

#[tokio::test]
async fn the_sources_file_is_applied_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sources.toml");
    std::fs::write(
        &file,
        "[[source]]\nname = \"gazette\"\nkind = \"rss\"\nurl = \"https://gazette.example/feed.xml\"\n\
         schedule = \"0 */15 * * * *\"\n\n[[source]]\nname = \"herald\"\nkind = \"html\"\n\
         url = \"https://herald.example/news\"\nselectors = { links = \"a.story\" }\n",
    )
    .unwrap();
    let port = free_port();
    let _server = Server(
        api(dir.path())
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("OPERATOR_TOKEN", TOKEN)
            .env("SOURCES_FILE", &file)
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let list: serde_json::Value = loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/api/v1/sources"))
            .send()
            .await
        {
            break response.json().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let names: Vec<&str> = list["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gazette", "herald"]);
    assert_eq!(list["sources"][0]["schedule"], "0 */15 * * * *");
    assert_eq!(list["sources"][1]["selectors"]["links"], "a.story");
}

#[test]
fn a_malformed_sources_file_stops_the_server_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sources.toml");
    std::fs::write(
        &file,
        "[[source]]\nname = \"gazette\"\nkind = \"rss\"\nurl = \"ftp://gazette.example\"\n",
    )
    .unwrap();
    let output = api(dir.path())
        .env("BIND", "127.0.0.1:0")
        .env("SOURCES_FILE", &file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("source[0].url"), "{stderr}");
}

#[test]
fn import_draws_a_progress_bar_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        &[
            r#"{"source":"gazette","url":"https://gazette.example/a","title":"A","published_at":"2026-01-01T00:00:00Z"}"#,
        ],
    );
    let piped = api(dir.path()).arg("import").arg(&file).output().unwrap();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("import ["), "no bar in a pipe: {stderr}");

    // util-linux `script` runs the command on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let command = format!(
        "{} import {}",
        env!("CARGO_BIN_EXE_mediawarm-api"),
        file.display()
    );
    let on_tty = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&on_tty.stdout);
    assert!(on_tty.status.success(), "{out}");
    assert!(
        out.contains("import [") && out.contains("1 lines"),
        "a bar on a terminal: {out}"
    );
    assert!(out.contains("0 new, 0 updated, 1 unchanged"), "{out}");
}

/// A fresh PostgreSQL database and Redis prefix for production-mode binaries (removed when
/// dropped); `None` (with a message) when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are unset.
struct Production(TestServices);

impl Production {
    async fn create() -> Self {
        Self(TestServices::create("mwcli").await)
    }

    fn database_url(&self) -> &str {
        &self.0.database.url
    }

    fn redis(&self) -> &TestRedis {
        &self.0.redis
    }

    /// The API binary against this database and Redis, on `port`.
    fn api(&self, dir: &std::path::Path, port: u16) -> Command {
        let mut command = api(dir);
        command
            .env("DATABASE_URL", self.database_url())
            .env("REDIS_URL", &self.redis().url)
            .env("CACHE_PREFIX", &self.redis().prefix)
            .env("QUEUE_NAMESPACE", self.redis().namespace())
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("OPERATOR_TOKEN", TOKEN)
            .env("WORKER_POLL_MS", "50");
        command
    }

    /// Starts the API binary (with `args`) on a free port and waits until it answers;
    /// returns the process and its base URL.
    async fn start(&self, dir: &std::path::Path, args: &[&str]) -> (Server, String) {
        let port = free_port();
        let server = Server(self.api(dir, port).args(args).spawn().unwrap());
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&reqwest::Client::new(), &base).await;
        (server, base)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Enqueues a scrape of the demo source (once it exists and the queue is reached); returns
/// the job's status path.
async fn enqueue_demo_scrape(client: &reqwest::Client, base: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(response) = client
            .post(format!("{base}/api/v1/jobs/scrape"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"source": "demo"}))
            .send()
            .await
            && response.status() == 202
        {
            let body: serde_json::Value = response.json().await.unwrap();
            return body["status_url"].as_str().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo source or the queue never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn job_status(client: &reqwest::Client, base: &str, status_path: &str) -> String {
    let job: serde_json::Value = client
        .get(format!("{base}{status_path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    job["status"].as_str().unwrap().to_owned()
}

/// In production mode the API runs no worker unless `--with-worker` asks for one: without it
/// a scrape stays pending; with it, the same kind of job is done by the API process alone.
#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn with_worker_runs_the_worker_in_the_production_api_process() {
    let production = Production::create().await;
    let client = reqwest::Client::new();

    let dir = tempfile::tempdir().unwrap();
    let (without, base) = production.start(dir.path(), &["--demo"]).await;
    let pending = enqueue_demo_scrape(&client, &base).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        job_status(&client, &base, &pending).await,
        "pending",
        "no process consumes jobs without --with-worker"
    );
    drop(without);

    let (_with, base) = production
        .start(dir.path(), &["--demo", "--with-worker"])
        .await;
    let status_url = enqueue_demo_scrape(&client, &base).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    for job in [&status_url, &pending] {
        loop {
            let status = job_status(&client, &base, job).await;
            if status == "done" {
                break;
            }
            assert_ne!(status, "dead", "{job}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "the in-process worker never finished {job} (the one queued while no worker \
                 ran included)"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Sends a signal to a process (`STOP`, `CONT`).
fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the API at `base` answers `/healthz`.
async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} never became healthy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The titles `GET /api/v1/media/latest?limit=3` answers on `base`.
async fn latest_titles(client: &reqwest::Client, base: &str) -> Vec<String> {
    let body: serde_json::Value = client
        .get(format!("{base}/api/v1/media/latest?limit=3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The freshness guarantee (docs/ARCHITECTURE.md) across two API processes sharing Redis, each with its near cache: once an
/// invalidation through one process has completed, the other never answers a value from
/// before it — also when that other process was frozen (SIGSTOP) through the invalidation and
/// its lease lapsed.
#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_near_cache_never_serves_a_value_older_than_a_completed_invalidation() {
    use mediawarm_shared::domain::{NewArticle, SourceName};
    use mediawarm_shared::store::{Store, StoreConfig};

    let production = Production::create().await;
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let (_a, a_base) = production.start(dir.path(), &[]).await;
    let (b, b_base) = production.start(dir.path(), &[]).await;
    let store = Store::connect(&StoreConfig {
        database_url: Some(production.database_url().to_owned()),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    store
        .ensure_import_sources(&[SourceName::parse("wire").unwrap()])
        .await
        .unwrap();
    let publish = |n: usize| {
        let store = store.clone();
        async move {
            let article = NewArticle {
                source: SourceName::parse("wire").unwrap(),
                url: format!("https://wire.example/{n}"),
                title: format!("Story {n}"),
                author: None,
                published_at: Some(chrono::Utc::now()),
                summary: None,
            };
            store
                .upsert_articles(&[article], chrono::Utc::now())
                .await
                .unwrap();
        }
    };
    let clear_through_a = || async {
        let response = client
            .delete(format!("{a_base}/api/v1/media/cache/clear?pattern=media:*"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    };
    publish(0).await;
    // B's near cache starts once its lease is first renewed.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    for n in 1..=25 {
        // B holds the current answer, in its near cache after the first read.
        for _ in 0..3 {
            latest_titles(&client, &b_base).await;
        }
        publish(n).await;
        clear_through_a().await;
        let titles = latest_titles(&client, &b_base).await;
        assert_eq!(
            titles.first().map(String::as_str),
            Some(format!("Story {n}").as_str()),
            "round {n}: B answered from before a completed invalidation: {titles:?}"
        );
    }
    let metrics = client
        .get(format!("{b_base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let near_hits: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("mediawarm_cache_hits_total{category=\"media\",backend=\"near\"} ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        near_hits >= 25.0,
        "B served from its near cache ({near_hits} near hits)"
    );

    // Frozen through an invalidation: A's invalidation completes once B's lease lapses, and
    // B, thawed, does not answer from its near cache before emptying it.
    latest_titles(&client, &b_base).await;
    latest_titles(&client, &b_base).await;
    signal(&b.0, "STOP");
    publish(100).await;
    clear_through_a().await;
    signal(&b.0, "CONT");
    let titles = latest_titles(&client, &b_base).await;
    assert_eq!(
        titles.first().map(String::as_str),
        Some("Story 100"),
        "a thawed process answered from before a completed invalidation: {titles:?}"
    );
}

/// A production API process holds a near-cache lease while it runs and gives it up when it
/// stops on SIGTERM, so invalidations do not wait for a process that is gone.
#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_stopped_api_gives_up_its_near_cache_lease() {
    let production = Production::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut api, _) = production.start(dir.path(), &[]).await;
    let redis = redis::Client::open(production.redis().url.as_str()).unwrap();
    let conn = redis.get_multiplexed_async_connection().await.unwrap();
    let leases_key = format!("{}near:leases", production.redis().prefix);
    let leases = |mut conn: redis::aio::MultiplexedConnection| {
        let key = leases_key.clone();
        async move {
            redis::cmd("ZCARD")
                .arg(&key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while leases(conn.clone()).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "no lease was taken");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    signal(&api.0, "TERM");
    let status = api.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(leases(conn).await, 0, "the lease was given up on shutdown");
}
