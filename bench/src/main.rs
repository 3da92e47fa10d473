//! # mediawarm-bench
//!
//! `cargo run --release -p mediawarm-bench` sets up its own data, measures mediawarm side
//! by side against references in the same run, prints one table and writes `BENCHMARKS.md`
//! (with the machine it ran on). Every row is a ratio of two figures from this run, shown
//! with the absolute figures behind it; a row whose service is missing says `skipped: …`.
//!
//! ## Layout
//! - [`wrk`]: the load generator (Debian `wrk`), its Lua counters and result parsing.
//! - [`server`]: the real `mediawarm-api` / `mediawarm-worker` release binaries as child
//!   processes, each isolated (port, data directory, cache prefix, queue namespace).
//! - [`data`]: generated articles, imported with `mediawarm-api import`; the large
//!   PostgreSQL data set kept between runs; database and Redis clean-up.
//! - [`http`]: hit path against `/healthz`, hits against misses.
//! - [`cursor`]: keyset cursor against `OFFSET`, with the query plans.
//! - [`queue`]: no-op jobs through apalis next to `redis-benchmark`.
//! - [`scrape`]: pages scraped per second against a loopback fixture next to its own req/s.
//! - [`pages`]: the worst case of extracting a hostile page at the body cap.
//! - [`report`]: the table and BENCHMARKS.md.

mod cron;
mod cursor;
mod data;
mod http;
mod jobs;
mod machine;
mod pages;
mod queue;
mod report;
mod scrape;
mod server;
mod warming;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser;
use sqlx::Connection as _;

use crate::report::{Report, Row};
use crate::server::{Child, Deployment};

/// Measures mediawarm side by side and writes BENCHMARKS.md.
#[derive(Debug, Parser)]
#[command(name = "mediawarm-bench", about)]
struct Args {
    /// Shorter runs (2 s per wrk run, fewer repetitions); same data sets.
    #[arg(long)]
    quick: bool,
    /// Articles in the PostgreSQL data set (hit vs miss, cursor vs offset, API RSS).
    #[arg(long, default_value_t = 1_000_000)]
    articles: u64,
    /// Articles in the embedded (SQLite) data set of the memory-stack hit path.
    #[arg(long, default_value_t = 100_000)]
    sqlite_articles: u64,
    /// PostgreSQL URL with rights to create databases.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Redis URL (keys are written under `mwbench:<run>:` and removed afterwards).
    #[arg(
        long,
        env = "BENCH_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Print the table only; do not write the report.
    #[arg(long)]
    no_write: bool,
    /// Run `cargo build --release -p mediawarm-api -p mediawarm-worker` first even when the
    /// binaries exist (they are built anyway when missing).
    #[arg(long)]
    build: bool,
    /// Skip row 1 (hit path against /healthz).
    #[arg(long)]
    skip_hit: bool,
    /// Skip row 2 (hit vs miss).
    #[arg(long)]
    skip_miss: bool,
    /// Skip row 3 (cursor vs offset).
    #[arg(long)]
    skip_cursor: bool,
    /// Skip row 4 (queue).
    #[arg(long)]
    skip_queue: bool,
    /// Skip row 5 (scrape).
    #[arg(long)]
    skip_scrape: bool,
    /// Skip row 6 (warming).
    #[arg(long)]
    skip_warming: bool,
    /// Skip row 8 (hostile pages, and the labelled corpus pages' extraction time).
    #[arg(long)]
    skip_pages: bool,
    /// Measure row 8 (hostile pages, corpus pages) only, print it and write nothing (needs no service and
    /// no binary).
    #[arg(long)]
    only_pages: bool,
    /// Measure the scheduler's cost per poll with 10,000 scheduled sources only, print it
    /// and write nothing (SQLite; PostgreSQL + Redis too when `TEST_DATABASE_URL` and
    /// `TEST_REDIS_URL` are set).
    #[arg(long)]
    only_cron: bool,
    /// Skip rows 9–11 (jobs end to end, recovery after Redis restarted empty, carrier
    /// memory).
    #[arg(long)]
    skip_jobs: bool,
    /// Run rows 9–11 only and update them in BENCHMARKS.md in place (the other rows, the
    /// machine and the other sections stay as the last full run wrote them).
    #[arg(long)]
    only_jobs: bool,
    /// Jobs per job-path run (row 9; default 10,000, 3,000 with --quick).
    #[arg(long)]
    path_jobs: Option<u64>,
    /// Jobs accepted before Redis is restarted empty (row 10; default 5,000, 1,000 with
    /// --quick).
    #[arg(long)]
    recovery_jobs: Option<u64>,
    /// Jobs through each carrier-memory run (row 11; default 100,000, 10,000 with --quick).
    #[arg(long)]
    carrier_jobs: Option<u64>,
}

/// What every row needs.
#[derive(Debug)]
pub(crate) struct Bench {
    /// The wrk executable.
    pub(crate) wrk: PathBuf,
    /// Scratch directory (`target/bench`): data sets, scripts, logs.
    pub(crate) work: PathBuf,
    /// `target/release/mediawarm-api`.
    pub(crate) api_bin: PathBuf,
    /// `target/release/mediawarm-worker`.
    pub(crate) worker_bin: PathBuf,
    /// `--quick`.
    pub(crate) quick: bool,
    /// PostgreSQL URL with rights to create databases.
    pub(crate) admin_pg: String,
    /// Redis URL.
    pub(crate) redis_url: String,
    /// Whether PostgreSQL answered.
    pub(crate) pg_ok: bool,
    /// Whether Redis answered.
    pub(crate) redis_ok: bool,
    /// Unique to this run: names databases, prefixes and namespaces.
    pub(crate) run_id: String,
}

impl Bench {
    /// The load of throughput runs: `-t2 -c32` for 5 s (2 s quick).
    pub(crate) fn throughput_load(&self) -> wrk::Load {
        wrk::Load {
            threads: 2,
            connections: 32,
            seconds: if self.quick { 2 } else { 5 },
        }
    }

    /// Duration of latency runs (`-t1 -c1`).
    pub(crate) fn latency_secs(&self) -> u32 {
        if self.quick { 2 } else { 4 }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn build_binaries() -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    eprintln!("bench: cargo build --release -p mediawarm-api -p mediawarm-worker");
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "-p",
            "mediawarm-api",
            "-p",
            "mediawarm-worker",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the release binaries failed");
    }
    Ok(())
}

async fn redis_answers(url: &str) -> bool {
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut con).await
    };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(3), ping).await,
        Ok(Ok(_))
    )
}

async fn pg_version(url: &str) -> Option<String> {
    let mut conn = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        sqlx::PgConnection::connect(url),
    )
    .await
    .ok()?
    .ok()?;
    sqlx::query_scalar("select version()")
        .fetch_one(&mut conn)
        .await
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.only_jobs {
        args.skip_hit = true;
        args.skip_miss = true;
        args.skip_cursor = true;
        args.skip_queue = true;
        args.skip_scrape = true;
        args.skip_warming = true;
        args.skip_pages = true;
        args.skip_jobs = false;
    }
    let started = Instant::now();
    let started_at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    if args.only_cron {
        return cron::run().await;
    }
    if args.only_pages {
        let mut report = Report::default();
        pages::pages_row(&mut report);
        pages::corpus_row(&mut report, &workspace_root());
        println!("{}", report.table());
        return Ok(());
    }
    let mut machine = machine::Machine::describe();
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("executable directory")?;
    let api_bin = bin_dir.join("mediawarm-api");
    let worker_bin = bin_dir.join("mediawarm-worker");
    if args.build || !api_bin.is_file() || !worker_bin.is_file() {
        build_binaries()?;
    }
    for bin in [&api_bin, &worker_bin] {
        if !bin.is_file() {
            bail!(
                "{} is missing: run `cargo build --release -p mediawarm-api -p mediawarm-worker`",
                bin.display()
            );
        }
    }
    let work = bin_dir
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("bench");
    std::fs::create_dir_all(&work)?;
    let wrk = if args.only_jobs {
        Err(anyhow::anyhow!("wrk is not needed by --only-jobs"))
    } else {
        wrk::ensure_installed()
    };
    if let (Err(e), false) = (&wrk, args.only_jobs) {
        eprintln!("bench: {e}");
    }
    let pg = pg_version(&args.database_url).await;
    let redis_ok = redis_answers(&args.redis_url).await;
    if let Some(v) = &pg {
        machine.services.push(v.clone());
    }
    eprintln!(
        "bench: PostgreSQL {}, Redis {}",
        if pg.is_some() {
            "answers"
        } else {
            "unreachable (its rows are skipped)"
        },
        if redis_ok {
            "answers"
        } else {
            "unreachable (its rows are skipped)"
        }
    );
    let bench = Bench {
        wrk: wrk.as_ref().cloned().unwrap_or_default(),
        work,
        api_bin,
        worker_bin,
        quick: args.quick,
        admin_pg: args.database_url.clone(),
        redis_url: args.redis_url.clone(),
        pg_ok: pg.is_some(),
        redis_ok,
        run_id: format!("{}", std::process::id()),
    };
    let no_wrk = wrk
        .as_ref()
        .err()
        .map(|_| "wrk is not installed (apt-get install -y wrk)");
    let mut report = Report::default();
    let mut rss: Vec<(String, f64)> = Vec::new();
    let steps = mediawarm_shared::progress::bar("bench", 7, " rows");
    steps.set_message(" — hit path, memory + SQLite");

    let hit_name = |stack: &str| format!("hit path, {stack}: cached reads / `/healthz` (req/s)");
    let hit_target = "≥ 0.5× (goal 0.8×)";

    // Row 1, memory + SQLite.
    if args.skip_hit {
        report.push(Row::skipped(
            hit_name("memory + SQLite"),
            hit_target,
            "--skip-hit",
        ));
    } else if let Some(reason) = no_wrk {
        report.push(Row::skipped(
            hit_name("memory + SQLite"),
            hit_target,
            reason,
        ));
    } else {
        let d = Deployment {
            database_url: None,
            redis_url: None,
            data_dir: bench.work.join(format!("sqlite-{}", args.sqlite_articles)),
            cache_prefix: "mw:".to_owned(),
            queue_namespace: "mediawarm".to_owned(),
            log: bench.work.join("api-sqlite.log"),
        };
        let outcome = async {
            let prepared =
                data::prepare(&bench.api_bin, &d, None, args.sqlite_articles, &bench.work).await?;
            report.note(
                "Data sets",
                format!(
                    "Memory + SQLite: {} articles in `{}`, {}.",
                    wrk::thousands(prepared.articles as f64),
                    d.data_dir
                        .strip_prefix(workspace_root())
                        .unwrap_or(&d.data_dir)
                        .display(),
                    prepared.how
                ),
            );
            let api = Child::api(&bench.api_bin, &d, &[]).await?;
            let r = http::hit_path(&bench, &mut report, "memory + SQLite", &api).await;
            if let Some(m) = api.peak_rss_mib() {
                rss.push((
                    format!(
                        "API, memory + SQLite, {} articles",
                        wrk::thousands(args.sqlite_articles as f64)
                    ),
                    m,
                ));
            }
            api.stop().await;
            r
        }
        .await;
        if let Err(e) = outcome {
            report.push(Row::skipped(
                hit_name("memory + SQLite"),
                hit_target,
                &format!("failed: {e:#}"),
            ));
        }
    }

    steps.inc(1);
    steps.set_message(" — hit path on Redis, hit vs miss");

    // The large PostgreSQL data set (rows 1 Redis + PostgreSQL, 2, 3, 7).
    let big_db = format!("mediawarm_bench_{}", args.articles);
    let big_url = data::database_url(&args.database_url, &big_db);
    let need_big = !(args.skip_hit && args.skip_miss && args.skip_cursor);
    let big_ready: Result<(), String> = if !need_big {
        Err("skipped by flags".to_owned())
    } else if !bench.pg_ok {
        Err("PostgreSQL unreachable".to_owned())
    } else {
        let d = Deployment {
            database_url: Some(big_url.clone()),
            redis_url: bench.redis_ok.then(|| bench.redis_url.clone()),
            data_dir: bench.work.join("pg-import"),
            cache_prefix: format!("mwbench:{}:import:", bench.run_id),
            queue_namespace: format!("mwbench-i-{}", bench.run_id),
            log: bench.work.join("import-pg.log"),
        };
        if let Err(e) = data::create_database(&args.database_url, &big_db, false).await {
            Err(format!("creating {big_db}: {e:#}"))
        } else {
            let prepared = data::prepare(
                &bench.api_bin,
                &d,
                Some((&args.database_url, &big_db)),
                args.articles,
                &bench.work,
            )
            .await;
            if bench.redis_ok {
                let _ = data::clean_redis(&bench.redis_url, &d.cache_prefix).await;
            }
            match prepared {
                Ok(p) => {
                    report.note(
                        "Data sets",
                        format!(
                            "PostgreSQL: {} articles in database `{big_db}` (kept between runs and reused while its row count matches; drop it to rebuild), {}.",
                            wrk::thousands(p.articles as f64),
                            p.how
                        ),
                    );
                    Ok(())
                }
                Err(e) => Err(format!("preparing {big_db}: {e:#}")),
            }
        }
    };

    // Rows 1 (Redis + PostgreSQL) and 2 on one API process.
    let pg_stack = "Redis + PostgreSQL";
    let miss_names = ["hit vs miss, volume", "hit vs miss, simplified"];
    let miss_target = "≥ 20× (hit ≤ 1/20 of miss)";
    let blocker = big_ready
        .as_ref()
        .err()
        .cloned()
        .or_else(|| (!bench.redis_ok).then(|| "Redis unreachable".to_owned()))
        .or_else(|| no_wrk.map(str::to_owned));
    match blocker {
        Some(reason) => {
            if !args.skip_hit {
                report.push(Row::skipped(hit_name(pg_stack), hit_target, &reason));
            }
            if !args.skip_miss {
                for n in miss_names {
                    report.push(Row::skipped(n, miss_target, &reason));
                }
            }
        }
        None if args.skip_hit && args.skip_miss => {}
        None => {
            let prefix = format!("mwbench:{}:api:", bench.run_id);
            let ns = format!("mwbench-a-{}", bench.run_id);
            let d = Deployment {
                database_url: Some(big_url.clone()),
                redis_url: Some(bench.redis_url.clone()),
                data_dir: bench.work.join("pg-api"),
                cache_prefix: prefix.clone(),
                queue_namespace: ns.clone(),
                log: bench.work.join("api-pg.log"),
            };
            let outcome = async {
                let api = Child::api(&bench.api_bin, &d, &[]).await?;
                let mut r = Ok(());
                if args.skip_hit {
                    report.push(Row::skipped(hit_name(pg_stack), hit_target, "--skip-hit"));
                } else {
                    r = http::hit_path(&bench, &mut report, pg_stack, &api).await;
                }
                if r.is_ok() {
                    if args.skip_miss {
                        for n in miss_names {
                            report.push(Row::skipped(n, miss_target, "--skip-miss"));
                        }
                    } else {
                        let mut conn = sqlx::PgConnection::connect(&big_url).await?;
                        let newest: chrono::DateTime<chrono::Utc> =
                            sqlx::query_scalar("select max(published_at) from articles")
                                .fetch_one(&mut conn)
                                .await?;
                        r = http::hit_vs_miss(&bench, &mut report, &api, newest, args.articles)
                            .await;
                    }
                }
                if let Some(m) = api.peak_rss_mib() {
                    rss.push((
                        format!(
                            "API, Redis + PostgreSQL, {} articles",
                            wrk::thousands(args.articles as f64)
                        ),
                        m,
                    ));
                }
                api.stop().await;
                r
            }
            .await;
            let _ = data::clean_redis(&bench.redis_url, &prefix).await;
            let _ = data::clean_redis(&bench.redis_url, &ns).await;
            if let Err(e) = outcome {
                report.push(Row::skipped(
                    format!("hit path / hit vs miss, {pg_stack}"),
                    "",
                    &format!("failed: {e:#}"),
                ));
            }
        }
    }

    // Row 3.
    let cursor_name = "cursor vs offset";
    steps.inc(1);
    steps.set_message(" — cursor vs offset");
    if args.skip_cursor {
        report.push(Row::skipped(
            cursor_name,
            "≥ 100× at 900,000; flat within 2×",
            "--skip-cursor",
        ));
    } else if let Err(reason) = &big_ready {
        report.push(Row::skipped(
            cursor_name,
            "≥ 100× at 900,000; flat within 2×",
            reason,
        ));
    } else if let Err(e) =
        cursor::cursor_vs_offset(&bench, &mut report, &big_url, args.articles).await
    {
        report.push(Row::skipped(cursor_name, "", &format!("failed: {e:#}")));
    }

    // Row 4.
    steps.inc(1);
    steps.set_message(" — queue");
    if args.skip_queue {
        report.push(Row::skipped(
            "queue",
            "≥ 10,000 jobs/s processed",
            "--skip-queue",
        ));
    } else if let Err(e) = queue::queue_rows(&bench, &mut report).await {
        report.push(Row::skipped(
            "queue",
            "≥ 10,000 jobs/s processed",
            &format!("failed: {e:#}"),
        ));
    }

    // Row 5.
    steps.inc(1);
    steps.set_message(" — scrape");
    let scrape_name = "scrape: pages/s end to end / fixture's own req/s";
    if args.skip_scrape {
        report.push(Row::skipped(
            scrape_name,
            "≥ 1,000 pages/s",
            "--skip-scrape",
        ));
    } else if let Some(reason) = no_wrk {
        report.push(Row::skipped(scrape_name, "≥ 1,000 pages/s", reason));
    } else {
        match scrape::scrape_rows(&bench, &mut report).await {
            Ok(Some(m)) => rss.push(("worker (mediawarm-worker, two scrape jobs)".to_owned(), m)),
            Ok(None) => {}
            Err(e) => report.push(Row::skipped(
                scrape_name,
                "≥ 1,000 pages/s",
                &format!("failed: {e:#}"),
            )),
        }
    }

    // Row 6.
    steps.inc(1);
    steps.set_message(" — warming");
    if args.skip_warming {
        report.push(Row::skipped(
            warming::NAME,
            warming::TARGET,
            "--skip-warming",
        ));
    } else if let Some(reason) = no_wrk {
        report.push(Row::skipped(warming::NAME, warming::TARGET, reason));
    } else {
        match warming::warming_row(&bench, &mut report).await {
            Ok(Some(m)) => rss.push((
                "worker (mediawarm-worker, continuous scrapes and rewarming)".to_owned(),
                m,
            )),
            Ok(None) => {}
            Err(e) => report.push(Row::skipped(
                warming::NAME,
                warming::TARGET,
                &format!("failed: {e:#}"),
            )),
        }
    }

    // Row 8 (run before row 7, which reports on the processes above).
    if args.skip_pages {
        report.push(Row::skipped(pages::NAME, pages::TARGET, "--skip-pages"));
        report.push(Row::skipped(
            pages::CORPUS_NAME,
            pages::CORPUS_TARGET,
            "--skip-pages",
        ));
    } else {
        steps.set_message(" — hostile pages");
        pages::pages_row(&mut report);
        pages::corpus_row(&mut report, &workspace_root());
    }

    // Rows 9–11.
    steps.inc(1);
    steps.set_message(" — jobs end to end");
    let sizes = jobs::Sizes {
        path: args
            .path_jobs
            .unwrap_or(if args.quick { 3_000 } else { 10_000 }),
        recovery: args
            .recovery_jobs
            .unwrap_or(if args.quick { 1_000 } else { 5_000 }),
        carrier: args
            .carrier_jobs
            .unwrap_or(if args.quick { 10_000 } else { 100_000 }),
    };
    if args.skip_jobs {
        report.push(Row::skipped("jobs end to end", jobs::TARGET, "--skip-jobs"));
    } else if let Err(e) = jobs::job_rows(&bench, &mut report, sizes).await {
        report.push(Row::skipped(
            "jobs end to end",
            jobs::TARGET,
            &format!("failed: {e:#}"),
        ));
    }

    // Row 7.
    if args.only_jobs {
        report.rows.retain(|r| r.name.starts_with(jobs::ROW_PREFIX));
        report.notes.retain(|(s, _)| s == jobs::SECTION);
    } else if rss.is_empty() {
        report.push(Row::skipped(
            "peak RSS",
            "API ≤ 100 MB at 1,000,000 articles",
            "no process was measured",
        ));
    }
    for (who, mib) in &rss {
        let is_big_api = who.starts_with("API, Redis");
        report.push(Row::measured(
            format!("peak RSS (VmHWM), {who}"),
            format!("{mib:.1} MiB"),
            if is_big_api {
                "API ≤ 100 MB at 1,000,000 articles"
            } else {
                ""
            },
            is_big_api.then_some(*mib <= 100.0 * 1_000_000.0 / 1_048_576.0),
            "after the rows above",
        ));
    }

    let mut flags: Vec<String> = Vec::new();
    if args.quick {
        flags.push("--quick".to_owned());
    }
    if args.only_jobs {
        flags.push("--only-jobs".to_owned());
    }
    for (flag, value) in [
        ("--path-jobs", args.path_jobs),
        ("--recovery-jobs", args.recovery_jobs),
        ("--carrier-jobs", args.carrier_jobs),
    ] {
        if let Some(v) = value {
            flags.push(format!("{flag} {v}"));
        }
    }
    let command = if flags.is_empty() {
        "cargo run --release -p mediawarm-bench".to_owned()
    } else {
        format!(
            "cargo run --release -p mediawarm-bench -- {}",
            flags.join(" ")
        )
    };
    steps.inc(1);
    steps.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!("{}", report.table());
    if !args.no_write {
        let path = if args.out.is_absolute() {
            args.out.clone()
        } else {
            workspace_root().join(&args.out)
        };
        let existing = std::fs::read_to_string(&path).ok();
        let text = match existing {
            Some(old) if args.only_jobs => {
                report.merged_into(&old, jobs::ROW_PREFIX, &command, &started_at, secs)
            }
            _ => report.markdown(&machine, &command, &started_at, secs),
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: wrote {} ({secs:.0} s)", path.display());
    }
    Ok(())
}
