//! No secret in any log line or error: the operator token, and passwords in `DATABASE_URL`
//! and `REDIS_URL`, whether the service answers, refuses or the URL is malformed.

use std::process::Stdio;
use std::time::Duration;

use mediawarm_shared::store::{Store, StoreConfig};

const SECRET: &str = "Sup3rSecretPw";

fn config(url: String) -> StoreConfig {
    StoreConfig {
        database_url: Some(url),
        sqlite_path: "unused.db".into(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn store_errors_never_show_the_database_password() {
    for url in [
        format!("postgres://mw:{SECRET}@127.0.0.1:1/mediawarm"),
        format!("postgres://mw:{SECRET}@127.0.0.1:notaport/mediawarm"),
        format!("postgresql://mw:{SECRET}@/mediawarm?host=%zz"),
        format!("mysql://mw:{SECRET}@127.0.0.1/mediawarm"),
    ] {
        let error = Store::connect(&config(url.clone()))
            .await
            .expect_err("nothing listens there");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(SECRET), "{url}: {shown}");
    }
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn store_describe_never_shows_the_database_password() {
    let url = mediawarm_testkit::services::service_url("TEST_DATABASE_URL");
    let with_password = url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{SECRET}@"),
        1,
    );
    assert!(
        with_password.contains(SECRET),
        "TEST_DATABASE_URL has the expected shape"
    );
    let store = Store::connect(&config(with_password))
        .await
        .expect("PostgreSQL accepts the connection (trust)");
    let described = format!("{} {store:?}", store.describe());
    assert!(!described.contains(SECRET), "{described}");
}

/// Runs `mediawarm-api` with `args` and `env` for at most `run_for`, returning its stderr.
async fn run_binary(args: &[&str], env: &[(&str, String)], run_for: Duration) -> String {
    let data = tempfile::tempdir().expect("tempdir");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mediawarm-api"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("DATA_DIR", data.path())
        .env("BIND", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn mediawarm-api");
    if tokio::time::timeout(run_for, child.wait()).await.is_err() {
        child.start_kill().expect("kill");
    }
    let output = child.wait_with_output().await.expect("output");
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    text
}

#[tokio::test]
async fn the_binary_never_logs_passwords_or_the_operator_token() {
    let database = run_binary(
        &["migrate"],
        &[(
            "DATABASE_URL",
            format!("postgres://mw:{SECRET}@127.0.0.1:1/mediawarm"),
        )],
        Duration::from_secs(20),
    )
    .await;
    assert!(
        database.contains("Error"),
        "migrate failed visibly: {database}"
    );
    assert!(!database.contains(SECRET), "{database}");

    let token = format!("{SECRET}-token");
    let serve = run_binary(
        &["serve"],
        &[
            ("REDIS_URL", format!("redis://:{SECRET}@127.0.0.1:1/0")),
            ("OPERATOR_TOKEN", token.clone()),
        ],
        Duration::from_secs(4),
    )
    .await;
    assert!(serve.contains("listening"), "serve started: {serve}");
    assert!(!serve.contains(SECRET), "{serve}");
}
