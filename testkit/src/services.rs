//! A test's own PostgreSQL database and Redis key prefix on the shared servers named by
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL`.
//!
//! [`remove_prefix`] is the one clean-up of a Redis prefix, also used by the benchmark.
//!
//! Guarantees: every value gets a fresh name (a ULID), so tests run in parallel without
//! seeing each other; dropping it removes what it named — the database (`WITH (FORCE)`), every
//! Redis key under the prefix, and the entries apalis leaves for queues under the prefix in
//! its global registries — so a test leaves nothing behind, failing or not.
//!
//! Tests that need these services are marked `#[ignore = "needs TEST_DATABASE_URL …"]`, so
//! a plain `cargo test` reports them as not run, never as passed; `cargo test -- --include-ignored`
//! runs them, and then an unset variable, like a server that does not answer, fails the test.

/// The global sorted sets where apalis-redis registers every queue and every queue's worker
/// set, and never unregisters them.
const APALIS_REGISTRIES: [&str; 2] = ["core:apalis:queues", "core:apalis:queues:list"];

/// A fresh PostgreSQL database, dropped with the value.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL of the server's administrative database (`TEST_DATABASE_URL`).
    pub admin_url: String,
    /// The database's name.
    pub name: String,
    /// The URL of the database itself.
    pub url: String,
}

impl TestDatabase {
    /// Creates a database named `{label}_{ulid}`; panics when `TEST_DATABASE_URL` is unset.
    pub async fn create(label: &str) -> Self {
        Self::create_on(service_url("TEST_DATABASE_URL"), label).await
    }

    async fn create_on(admin_url: String, label: &str) -> Self {
        let name = format!(
            "{label}_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("TEST_DATABASE_URL is set but PostgreSQL is unreachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("creating the test database");
        admin.close().await;
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }
}

/// `url` with its database path replaced by `database`, its query (`?sslmode=…`) kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..host_end])
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        block_on_own_thread(async move {
            let dropped = match sqlx::PgPool::connect(&admin_url).await {
                Ok(admin) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await
                .map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = dropped {
                eprintln!("could not drop test database {name}: {e}");
            }
        });
    }
}

/// A fresh Redis key prefix (`{label}:{ulid}:`), its keys removed with the value.
#[derive(Debug)]
pub struct TestRedis {
    /// `TEST_REDIS_URL`.
    pub url: String,
    /// The prefix every key of the test starts with.
    pub prefix: String,
}

impl TestRedis {
    /// A prefix `{label}:{ulid}:`; panics when `TEST_REDIS_URL` is unset.
    pub async fn create(label: &str) -> Self {
        Self::create_on(service_url("TEST_REDIS_URL"), label).await
    }

    /// Panics unless Redis at `url` answers `PING`.
    async fn create_on(url: String, label: &str) -> Self {
        let client = redis::Client::open(url.as_str()).expect("TEST_REDIS_URL parses");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("TEST_REDIS_URL is set but Redis is unreachable");
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .expect("TEST_REDIS_URL answers PING");
        Self {
            url,
            prefix: format!("{label}:{}:", ulid::Ulid::generate()),
        }
    }

    /// An apalis queue namespace under the prefix, so its keys go with the prefix too.
    pub fn namespace(&self) -> String {
        format!("{}q", self.prefix)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        block_on_own_thread(async move {
            let _ = remove_prefix(&url, &prefix).await;
        });
    }
}

/// Removes every Redis key starting with `prefix` (SCAN + UNLINK, never KEYS or FLUSHDB) and
/// the entries of apalis queues under `prefix` in apalis' global registries; returns how
/// many keys were removed.
pub async fn remove_prefix(url: &str, prefix: &str) -> redis::RedisResult<u64> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pattern = format!("{prefix}*");
    let (mut cursor, mut removed) = (0u64, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await?;
            removed += n;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for registry in APALIS_REGISTRIES {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(registry)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        let ours: Vec<&String> = members.iter().filter(|m| m.starts_with(prefix)).collect();
        if !ours.is_empty() {
            let _: u64 = redis::cmd("ZREM")
                .arg(registry)
                .arg(&ours)
                .query_async(&mut conn)
                .await?;
        }
    }
    Ok(removed)
}

/// A test's own database and Redis prefix: what a production-stack test runs on.
#[derive(Debug)]
pub struct TestServices {
    /// The database.
    pub database: TestDatabase,
    /// The Redis prefix.
    pub redis: TestRedis,
}

impl TestServices {
    /// Creates both, named after `label`; panics when `TEST_DATABASE_URL` or
    /// `TEST_REDIS_URL` is unset.
    pub async fn create(label: &str) -> Self {
        Self {
            database: TestDatabase::create_on(service_url("TEST_DATABASE_URL"), label).await,
            redis: TestRedis::create_on(service_url("TEST_REDIS_URL"), label).await,
        }
    }
}

/// The value of the environment variable `var`; a test that asks for an unset one fails.
pub fn service_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is unset: this test needs it (it is ignored by `cargo test`; run it with \
             TEST_DATABASE_URL and TEST_REDIS_URL set and `-- --include-ignored`)"
        )
    })
}

/// Runs `cleanup` to completion on a runtime of its own in a thread of its own: `Drop` may
/// run inside a test's runtime, where blocking on another future is not allowed.
fn block_on_own_thread(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime");
        runtime.block_on(cleanup);
    })
    .join();
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_path_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "mw_x"),
            "postgres://postgres@127.0.0.1:5432/mw_x"
        );
        assert_eq!(
            with_database("postgres://u:p@db/postgres?sslmode=disable", "mw_x"),
            "postgres://u:p@db/mw_x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db", "mw_x"), "postgres://db/mw_x");
    }
}
