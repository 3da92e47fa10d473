//! Data sets: synthetic articles written as JSON Lines (the format of `mediawarm-api import`,
//! as `scripts/gen-articles.py` writes it) and imported with the real binary; databases and
//! Redis keys of a run, created and removed.
//!
//! The large PostgreSQL data set is kept between runs in the database `mediawarm_bench_<n>`:
//! a run reuses it when its `articles` table holds exactly `n` rows, and rebuilds it
//! otherwise, and runs `vacuum (analyze) articles` on it before measuring. Its dates spread over the 90 days before the day it was generated (one article
//! in ten has no date and sorts at its import time).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use sqlx::Connection as _;

use crate::server::{self, Deployment};

/// A tiny deterministic generator (splitmix64): the same file for the same `n`.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Number of sources articles spread over (`bench-0` … `bench-9`).
pub(crate) const SOURCES: u64 = 10;

/// Writes `n` articles to `path`, dated over the 90 days before `anchor`.
pub(crate) fn write_articles(path: &Path, n: u64, anchor: DateTime<Utc>) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = SplitMix(42);
    let span = 90 * 86_400;
    for i in 0..n {
        let source = format!("bench-{}", i % SOURCES);
        let secs = i64::try_from(rng.next() % span).unwrap_or(0);
        let published = (i % 10 != 9).then(|| {
            (anchor - Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        });
        let author = match rng.next() % 3 {
            0 => Some("Ada Reporter"),
            1 => Some("Grace Writer"),
            _ => None,
        };
        let row = serde_json::json!({
            "source": source,
            "url": format!("https://{source}.example/articles/{i}"),
            "title": format!("Synthetic article {i}"),
            "author": author,
            "published_at": published,
            "summary": format!("Summary of article {i}."),
        });
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `admin` with its database name replaced by `db`.
pub(crate) fn database_url(admin: &str, db: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, ""), |(b, q)| (b, q));
    let base = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && base[..i].rfind('/') != Some(i - 1) => &base[..i],
        _ => base,
    };
    if query.is_empty() {
        format!("{base}/{db}")
    } else {
        format!("{base}/{db}?{query}")
    }
}

/// Creates database `db` (dropping it first when `fresh`).
pub(crate) async fn create_database(admin: &str, db: &str, fresh: bool) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .context("connecting to PostgreSQL")?;
    if fresh {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists \"{db}\" with (force)"
        )))
        .execute(&mut conn)
        .await?;
    }
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(db)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{db}\"")))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// Drops database `db`.
pub(crate) async fn drop_database(admin: &str, db: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists \"{db}\" with (force)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Rows in `articles` of the database at `url`, or `None` when it has no such table.
pub(crate) async fn pg_article_count(url: &str) -> Option<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    sqlx::query_scalar("select count(*) from articles")
        .fetch_one(&mut conn)
        .await
        .ok()
}

/// Rows in `articles` of the SQLite file, or `None`.
pub(crate) async fn sqlite_article_count(path: &Path) -> Option<i64> {
    if !path.exists() {
        return None;
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .ok()?;
    sqlx::query_scalar("select count(*) from articles")
        .fetch_one(&mut conn)
        .await
        .ok()
}

/// A data set ready to serve, and how it got there.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Articles it holds.
    pub(crate) articles: u64,
    /// "reused" or "imported in 12.3 s (81,000 rows/s)".
    pub(crate) how: String,
}

/// Makes sure `d`'s store holds exactly `n` generated articles: reuses it when the count
/// matches, else rebuilds it from a fresh file.
pub(crate) async fn prepare(
    api_bin: &Path,
    d: &Deployment,
    admin_pg: Option<(&str, &str)>,
    n: u64,
    work: &Path,
) -> anyhow::Result<Prepared> {
    let count = match (admin_pg, &d.database_url) {
        (Some(_), Some(url)) => pg_article_count(url).await,
        _ => sqlite_article_count(&d.data_dir.join("mediawarm.db")).await,
    };
    let marker = work.join(format!("import-{}.txt", marker_name(d, n)));
    if count == Some(i64::try_from(n)?) {
        if let Some(url) = &d.database_url {
            vacuum_analyze(url).await?;
        }
        let earlier = std::fs::read_to_string(&marker)
            .map(|how| format!("; first {}", how.trim()))
            .unwrap_or_default();
        return Ok(Prepared {
            articles: n,
            how: format!("reused from an earlier run (row count matched{earlier})"),
        });
    }
    match admin_pg {
        Some((admin, db)) => create_database(admin, db, true).await?,
        None => {
            let _ = std::fs::remove_dir_all(&d.data_dir);
            std::fs::create_dir_all(&d.data_dir)?;
        }
    }
    let file: PathBuf = work.join(format!("articles-{n}.jsonl"));
    let anchor = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    eprintln!("bench: generating {n} articles into {}", file.display());
    write_articles(&file, n, anchor)?;
    eprintln!("bench: importing them (`mediawarm-api import`); this is done once and reused");
    let started = Instant::now();
    server::import(api_bin, d, &file).await?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    if let Some(url) = &d.database_url {
        vacuum_analyze(url).await?;
    }
    let how = format!(
        "imported in {secs:.1} s ({} rows/s)",
        crate::wrk::thousands(n as f64 / secs.max(1e-9))
    );
    let _ = std::fs::write(&marker, &how);
    Ok(Prepared { articles: n, how })
}

fn marker_name(d: &Deployment, n: u64) -> String {
    match &d.database_url {
        Some(url) => format!("pg-{}-{n}", url.rsplit('/').next().unwrap_or("db")),
        None => format!("sqlite-{n}"),
    }
}

/// `vacuum (analyze) articles`: what autovacuum does some minutes after a bulk load (fresh
/// planner statistics, a visibility map for index-only scans), done at once so a run right
/// after the import measures the steady state.
async fn vacuum_analyze(url: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("vacuum (analyze) articles")
        .execute(&mut conn)
        .await
        .context("vacuum (analyze) articles")?;
    Ok(())
}

/// Removes every Redis key starting with `prefix`, and apalis' registry entries for queues
/// under it (`mediawarm_testkit::services::remove_prefix`).
pub(crate) async fn clean_redis(url: &str, prefix: &str) -> anyhow::Result<u64> {
    Ok(mediawarm_testkit::services::remove_prefix(url, prefix).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_the_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            database_url("postgres://u@h/postgres?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://u@h:5432", "b"),
            "postgres://u@h:5432/b"
        );
    }

    #[test]
    fn generated_lines_are_importable() {
        let dir = std::env::temp_dir().join(format!("mwbench-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("a.jsonl");
        write_articles(&path, 20, Utc::now()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20);
        for line in lines {
            assert!(
                mediawarm_shared::store::parse_import_line(line).is_ok(),
                "{line}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
