//! Worker processes as deployed: these tests spawn the real `mediawarm-worker` binary
//! (configured only through environment variables) against a fixture site, on both stacks —
//! embedded (SQLite database + SQLite queue file in a shared `DATA_DIR`) and production (a
//! fresh PostgreSQL database and Redis under a unique prefix and queue namespace; skipped
//! when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are unset).
//!
//! What they hold the worker to:
//! - two processes' schedulers make exactly one job per cron tick, with no gap;
//! - a job whose worker is SIGKILLed mid-scrape is rerun by another live worker and ends
//!   done, without duplicate articles;
//! - the same when every worker died and a fresh one starts (a deploy);
//! - a job that outlives the orphan window on a live worker is not taken over by a peer,
//!   even when the heartbeat is configured below apalis's one-second resolution;
//! - SIGTERM lets the in-flight job finish, then the process exits 0.
//!
//! Scenarios run one at a time (they share two CPU cores and measure liveness), and every
//! worker process is killed when its test ends, whatever the outcome. Latencies are printed
//! (run with `--nocapture` to see them), never asserted.

#[path = "processes/harness.rs"]
mod harness;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use harness::{Deployment, HEARTBEAT_MS, Stack, Worker, millis_between};
use mediawarm_shared::domain::{RunStatus, SourceName};
use mediawarm_shared::jobs::{JobRecord, JobStatus};
use mediawarm_testkit::{FeedBehaviour, FixtureSite};

/// One scenario at a time in this binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Ticks the cron scenario checks (one per second).
const WINDOW_TICKS: i64 = 6;

/// Articles the fixture site publishes.
const ARTICLES: usize = 5;

const NO_CRON: &[(&str, &str)] = &[("NO_CRON", "true")];

/// A heartbeat below the 1 s floor (apalis counts liveness in whole seconds): the worker
/// must raise it, or a peer takes over its running jobs.
const SUB_SECOND_HEARTBEAT: &[(&str, &str)] =
    &[("NO_CRON", "true"), ("WORKER_HEARTBEAT_MS", "500")];

/// What a scheduler logs (at debug) when the other process enqueued the tick first.
const LOST_TICK: &str = "tick already enqueued by another scheduler";

/// The job's record once it is `done` or `dead`.
async fn finished(dep: &Deployment, job_id: &str, workers: &[&Worker]) -> JobRecord {
    dep.wait_for(&format!("job {job_id} to finish"), workers, || async {
        let job = dep.job(job_id).await;
        matches!(job.status, JobStatus::Done | JobStatus::Dead).then_some(job)
    })
    .await
}

/// Waits until a worker is running `job_id` and its feed request has reached the site.
async fn in_flight(dep: &Deployment, site: &FixtureSite, job_id: &str, workers: &[&Worker]) {
    dep.wait_for(
        &format!("job {job_id} to be mid-scrape"),
        workers,
        || async {
            let job = dep.job(job_id).await;
            (job.status == JobStatus::Running && site.hits("/feed.xml") >= 1).then_some(())
        },
    )
    .await;
}

/// Every article of the source is stored once: `ARTICLES` rows with distinct URLs.
async fn assert_articles_once(dep: &Deployment, source: &SourceName) {
    let articles = dep.articles(source).await;
    let urls: HashSet<&str> = articles.iter().map(|a| a.url.as_str()).collect();
    assert_eq!(articles.len(), ARTICLES, "{:?}: article count", dep.stack);
    assert_eq!(
        urls.len(),
        articles.len(),
        "{:?}: duplicate URLs",
        dep.stack
    );
}

/// The one run of `job_id` (a rerun restarts the same record).
async fn run_of(
    dep: &Deployment,
    source: &SourceName,
    job_id: &str,
) -> mediawarm_shared::domain::ScrapeRun {
    let runs = dep.store.runs_for(source, 100).await.expect("runs");
    let mut mine: Vec<_> = runs.into_iter().filter(|r| r.job_id == job_id).collect();
    assert_eq!(mine.len(), 1, "{:?}: one run record per job", dep.stack);
    mine.remove(0)
}

fn job_done_by(worker: &Worker, job_id: &str) -> bool {
    worker
        .log()
        .lines()
        .any(|line| line.contains(job_id) && line.contains("job done"))
}

async fn cron_makes_one_job_per_tick(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let Some(dep) = Deployment::new(stack).await else {
        return;
    };
    let site = FixtureSite::start().await;
    site.publish("tick", ARTICLES, Utc::now());
    let source = dep
        .add_source("ticker", &site.feed_url(), Some("* * * * * *"))
        .await;
    let mut a = dep.spawn_worker("a", &[]);
    let mut b = dep.spawn_worker("b", &[]);
    a.wait_log("scheduler: sources loaded").await;
    b.wait_log("scheduler: sources loaded").await;

    let first = Utc::now().timestamp() + 1;
    let last = first + WINDOW_TICKS - 1;
    let prefix = format!("cron:{}:", source.name);
    let tick_of = |key: &str| -> i64 {
        key.strip_prefix(&prefix)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("malformed de-dup key {key:?}"))
    };
    dep.wait_for(
        "the window's last tick to be enqueued",
        &[&a, &b],
        || async {
            let keys = dep.peek.dedup_keys(&prefix).await;
            keys.iter()
                .any(|(key, _)| tick_of(key) >= last)
                .then_some(())
        },
    )
    .await;

    let keys = dep.peek.dedup_keys(&prefix).await;
    let mut per_tick: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (key, id) in &keys {
        per_tick.entry(tick_of(key)).or_default().push(id.clone());
    }
    for tick in first..=last {
        let jobs = per_tick.get(&tick).map_or(0, Vec::len);
        if jobs != 1 {
            a.print_log();
            b.print_log();
        }
        assert_eq!(
            jobs, 1,
            "{stack:?}: tick {tick} has {jobs} jobs: {per_tick:?}"
        );
    }
    let ticks: Vec<i64> = per_tick.keys().copied().collect();
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "{stack:?}: a gap between ticks: {ticks:?}"
    );
    let scrape_jobs = dep.scrape_jobs().await;
    assert_eq!(
        scrape_jobs.len(),
        keys.len(),
        "{stack:?}: every scrape job came from a de-duplicated tick"
    );
    let lost = [&a, &b].map(|w| w.log().matches(LOST_TICK).count());
    assert!(
        lost.iter().sum::<usize>() > 0,
        "{stack:?}: both schedulers should have tried the same ticks"
    );

    let window: Vec<String> = (first..=last)
        .filter_map(|t| per_tick.get(&t))
        .flatten()
        .cloned()
        .collect();
    let mut latencies = Vec::new();
    for id in &window {
        let job = finished(&dep, id, &[&a, &b]).await;
        assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
        let run = run_of(&dep, &source.name, id).await;
        latencies.push(millis_between(job.created_at, run.started_at));
    }
    latencies.sort_unstable();
    assert_articles_once(&dep, &source.name).await;
    println!(
        "{stack:?}: ticks {first}..={last} one job each ({} ticks seen in all: {ticks:?}); \
         ticks lost to the other scheduler (a, b): {lost:?}; pickup (enqueue → run start) ms: {latencies:?}",
        ticks.len()
    );
    assert!(
        a.exited().is_none() && b.exited().is_none(),
        "{stack:?}: a worker died"
    );
}

async fn killed_worker_job_rerun_by_live_peer(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let Some(dep) = Deployment::new(stack).await else {
        return;
    };
    let site = FixtureSite::start().await;
    site.publish("kill", ARTICLES, Utc::now());
    site.set_feed(FeedBehaviour::Slow(Duration::from_secs(120)));
    let source = dep.add_source("victim", &site.feed_url(), None).await;
    let mut a = dep.spawn_worker("a", NO_CRON);
    a.wait_log("worker started").await;
    let job_id = dep.enqueue_scrape(&source.name).await;
    in_flight(&dep, &site, &job_id, &[&a]).await;
    let first_attempt = run_of(&dep, &source.name, &job_id).await;
    let mut b = dep.spawn_worker("b", NO_CRON);
    b.wait_log("worker started").await;

    a.kill();
    let killed_at = Utc::now();
    site.set_feed(FeedBehaviour::Healthy);
    let job = finished(&dep, &job_id, &[&a, &b]).await;

    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    assert_eq!(
        job.attempts, 2,
        "{stack:?}: the killed attempt and one rerun"
    );
    assert!(
        job_done_by(&b, &job_id),
        "{stack:?}: the live worker b ran the job to completion"
    );
    assert!(b.exited().is_none(), "{stack:?}: worker b died");
    let run = run_of(&dep, &source.name, &job_id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{stack:?}: {run:?}");
    assert_articles_once(&dep, &source.name).await;
    println!(
        "{stack:?}: job rerun by the live worker {} ms after the SIGKILL (window: {} ms = \
         heartbeat × 3, checked each heartbeat); pickup of the first attempt {} ms",
        millis_between(killed_at, run.started_at),
        HEARTBEAT_MS * 3,
        millis_between(job.created_at, first_attempt.started_at),
    );
}

async fn orphan_rerun_after_every_worker_died(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let Some(dep) = Deployment::new(stack).await else {
        return;
    };
    let site = FixtureSite::start().await;
    site.publish("deploy", ARTICLES, Utc::now());
    site.set_feed(FeedBehaviour::Slow(Duration::from_secs(120)));
    let source = dep.add_source("orphan", &site.feed_url(), None).await;
    let mut a = dep.spawn_worker("a", NO_CRON);
    let mut b = dep.spawn_worker("b", NO_CRON);
    a.wait_log("worker started").await;
    b.wait_log("worker started").await;
    let job_id = dep.enqueue_scrape(&source.name).await;
    in_flight(&dep, &site, &job_id, &[&a, &b]).await;

    a.kill();
    b.kill();
    let killed_at = Utc::now();
    site.set_feed(FeedBehaviour::Healthy);
    let mut c = dep.spawn_worker("c", NO_CRON);
    c.wait_log("worker started").await;
    let started_at = Utc::now();
    let job = finished(&dep, &job_id, &[&a, &b, &c]).await;

    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    assert_eq!(
        job.attempts, 2,
        "{stack:?}: the orphaned attempt and one rerun"
    );
    assert!(
        job_done_by(&c, &job_id),
        "{stack:?}: the fresh worker c ran the orphaned job"
    );
    assert!(c.exited().is_none(), "{stack:?}: worker c died");
    let run = run_of(&dep, &source.name, &job_id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{stack:?}: {run:?}");
    assert_articles_once(&dep, &source.name).await;
    println!(
        "{stack:?}: orphan rerun by the fresh worker {} ms after its start, {} ms after every \
         worker was killed (window: {} ms)",
        millis_between(started_at, run.started_at),
        millis_between(killed_at, run.started_at),
        HEARTBEAT_MS * 3,
    );
}

async fn long_job_kept_by_its_live_worker(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let Some(dep) = Deployment::new(stack).await else {
        return;
    };
    let site = FixtureSite::start().await;
    site.publish("long", ARTICLES, Utc::now());
    let slow = Duration::from_millis(HEARTBEAT_MS * 6);
    site.set_feed(FeedBehaviour::Slow(slow));
    let source = dep.add_source("patient", &site.feed_url(), None).await;
    let mut a = dep.spawn_worker("a", SUB_SECOND_HEARTBEAT);
    a.wait_log("worker started").await;
    let job_id = dep.enqueue_scrape(&source.name).await;
    in_flight(&dep, &site, &job_id, &[&a]).await;
    let mut b = dep.spawn_worker("b", SUB_SECOND_HEARTBEAT);
    b.wait_log("worker started").await;
    let job = finished(&dep, &job_id, &[&a, &b]).await;

    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    assert_eq!(
        job.attempts, 1,
        "{stack:?}: a job outliving the orphan window on a live worker is not taken over"
    );
    assert!(job_done_by(&a, &job_id), "{stack:?}: worker a finished it");
    assert!(
        !b.log().contains(&job_id),
        "{stack:?}: worker b never touched the job"
    );
    assert!(
        a.exited().is_none() && b.exited().is_none(),
        "{stack:?}: a worker died"
    );
    assert_eq!(site.hits("/feed.xml"), 1, "{stack:?}: one feed fetch");
    assert_articles_once(&dep, &source.name).await;
}

async fn sigterm_finishes_in_flight_job(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let Some(dep) = Deployment::new(stack).await else {
        return;
    };
    let site = FixtureSite::start().await;
    site.publish("term", ARTICLES, Utc::now());
    site.set_feed(FeedBehaviour::Slow(Duration::from_secs(3)));
    let source = dep.add_source("graceful", &site.feed_url(), None).await;
    let mut a = dep.spawn_worker("a", NO_CRON);
    a.wait_log("worker started").await;
    let job_id = dep.enqueue_scrape(&source.name).await;
    in_flight(&dep, &site, &job_id, &[&a]).await;
    let term_at = Utc::now();

    a.terminate();
    let status = a.wait_exit().await;

    if !status.success() {
        a.print_log();
    }
    assert_eq!(status.code(), Some(0), "{stack:?}: exit status {status}");
    let job = dep.job(&job_id).await;
    if job.status != JobStatus::Done {
        a.print_log();
    }
    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    assert_eq!(job.attempts, 1, "{stack:?}: finished by its own worker");
    assert!(
        job_done_by(&a, &job_id),
        "{stack:?}: the job ended in worker a"
    );
    assert_articles_once(&dep, &source.name).await;
    let run = run_of(&dep, &source.name, &job_id).await;
    println!(
        "{stack:?}: SIGTERM mid-job; job finished {} ms after the signal, pickup {} ms",
        millis_between(term_at, job.finished_at.unwrap_or(term_at)),
        millis_between(job.created_at, run.started_at),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_two_workers_one_job_per_tick_embedded() {
    cron_makes_one_job_per_tick(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_two_workers_one_job_per_tick_production() {
    cron_makes_one_job_per_tick(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_job_rerun_by_another_embedded() {
    killed_worker_job_rerun_by_live_peer(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_job_rerun_by_another_production() {
    killed_worker_job_rerun_by_live_peer(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_job_rerun_after_deploy_embedded() {
    orphan_rerun_after_every_worker_died(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_job_rerun_after_deploy_production() {
    orphan_rerun_after_every_worker_died(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_job_not_taken_over_from_live_worker_embedded() {
    long_job_kept_by_its_live_worker(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_job_not_taken_over_from_live_worker_production() {
    long_job_kept_by_its_live_worker(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_job_then_exits_0_embedded() {
    sigterm_finishes_in_flight_job(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_job_then_exits_0_production() {
    sigterm_finishes_in_flight_job(Stack::Production).await;
}
