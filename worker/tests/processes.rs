//! Worker processes as deployed: these tests spawn the real `mediawarm-worker` binary
//! (configured only through environment variables) against a fixture site, on both stacks —
//! embedded (SQLite database + SQLite queue file in a shared `DATA_DIR`) and production (a
//! fresh PostgreSQL database and Redis under a unique prefix and queue namespace; ignored
//! unless asked for with `-- --include-ignored`, and then failing when `TEST_DATABASE_URL` /
//! `TEST_REDIS_URL` are unset).
//!
//! What they hold the worker to:
//! - three processes' schedulers make exactly one job per tick of a per-second cron for 30 s
//!   (`CRON_WINDOW_SECS` shortens the window for a local run), a tick without a job only
//!   where a scheduler skipped it because the previous tick's job had not started yet;
//! - 500 scrape jobs consumed by two processes while one of them is SIGKILLed three times
//!   (and restarted each time) all end done, with every article stored once and one settled
//!   run record per job; the same with SIGTERM, where no job even needs a rerun;
//! - a job whose worker is SIGKILLed mid-scrape is rerun by another live worker and ends
//!   done, without duplicate articles;
//! - the same when every worker died and a fresh one starts (a deploy);
//! - a job that outlives the orphan window on a live worker is not taken over by a peer,
//!   even when the heartbeat is configured below apalis's one-second resolution;
//! - SIGTERM lets the in-flight job finish, then the process exits 0;
//! - proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored: the scrape goes
//!   straight to the site and the proxy sees no connection; and without
//!   `SCRAPE_ALLOW_LOOPBACK` the fixture on 127.0.0.1 is refused before any request reaches
//!   it, the job ending dead with the refusal as its error.
//!
//! Scenarios run one at a time (they share two CPU cores and measure liveness), and every
//! worker process is killed when its test ends, whatever the outcome. Latencies are printed
//! (run with `--nocapture` to see them), never asserted.

#[path = "processes/harness.rs"]
mod harness;
#[path = "processes/recovery.rs"]
mod recovery;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use harness::{DEADLINE, Deployment, HEARTBEAT_MS, JOB_LEASE_MS, Stack, Worker, millis_between};
use mediawarm_shared::domain::{RunStatus, SourceName};
use mediawarm_shared::jobs::{JobRecord, JobStatus};
use mediawarm_testkit::{FeedBehaviour, FixtureSite};

/// One scenario at a time in this binary.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Ticks the cron scenario checks (one per second) unless `CRON_WINDOW_SECS` says otherwise.
const CRON_WINDOW_TICKS: i64 = 30;

/// The worker processes whose schedulers compete for each cron tick.
const CRON_WORKERS: &[&str] = &["a", "b", "c"];

/// Sources in the workload scenarios, each on its own fixture site (article URLs differ).
const WORKLOAD_SOURCES: usize = 50;

/// Scrapes of each source in a workload, enqueued round-robin: 50 × 10 = 500 jobs.
const WORKLOAD_ROUNDS: usize = 10;

/// Articles each workload site publishes.
const WORKLOAD_ARTICLES: usize = 2;

/// How long each workload feed takes to answer, so that a signal finds jobs in flight.
const WORKLOAD_FEED_DELAY: Duration = Duration::from_millis(100);

/// Signals sent to the victim worker during a workload.
const FAULTS: usize = 3;

/// How long a workload may take to drain.
const WORKLOAD_DEADLINE: Duration = Duration::from_secs(300);

/// Articles the fixture site publishes.
const ARTICLES: usize = 5;

const NO_CRON: &[(&str, &str)] = &[("NO_CRON", "true")];

/// A heartbeat below the 1 s floor (apalis counts liveness in whole seconds): the worker
/// must raise it, or a peer takes over its running jobs.
const SUB_SECOND_HEARTBEAT: &[(&str, &str)] =
    &[("NO_CRON", "true"), ("WORKER_HEARTBEAT_MS", "500")];

/// What a scheduler logs (at debug) when the other process enqueued the tick first.
const LOST_TICK: &str = "tick already enqueued by another scheduler";
/// What a scheduler logs (at debug) when it skips a tick because the previous one's job has
/// not started yet: the only reason a tick may have no job.
const SKIPPED_TICK: &str = "previous scheduled scrape still pending: tick skipped";

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

/// The cron window: `CRON_WINDOW_SECS` (for a quicker local run), else [`CRON_WINDOW_TICKS`].
fn cron_window_ticks() -> i64 {
    std::env::var("CRON_WINDOW_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&ticks: &i64| ticks > 0)
        .unwrap_or(CRON_WINDOW_TICKS)
}

async fn cron_makes_one_job_per_tick(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let site = FixtureSite::start().await;
    site.publish("tick", ARTICLES, Utc::now());
    let source = dep
        .add_source("ticker", &site.feed_url(), Some("* * * * * *"))
        .await;
    let mut workers: Vec<Worker> = CRON_WORKERS
        .iter()
        .map(|name| dep.spawn_worker(name, &[]))
        .collect();
    for worker in &mut workers {
        worker.wait_log("scheduler: sources loaded").await;
    }
    let all: Vec<&Worker> = workers.iter().collect();

    let window_ticks = cron_window_ticks();
    let first = Utc::now().timestamp() + 1;
    let last = first + window_ticks - 1;
    let prefix = format!("cron:{}:", source.name);
    let tick_of = |key: &str| -> i64 {
        key.strip_prefix(&prefix)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("malformed de-dup key {key:?}"))
    };
    let window = Duration::from_secs(window_ticks.unsigned_abs());
    dep.wait_within(
        window + DEADLINE,
        "the window's last tick to be enqueued",
        &all,
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
    let skips: usize = all
        .iter()
        .map(|w| w.log().matches(SKIPPED_TICK).count())
        .sum();
    let mut missing = Vec::new();
    for tick in first..=last {
        let jobs = per_tick.get(&tick).map_or(0, Vec::len);
        if jobs == 0 {
            missing.push(tick);
            continue;
        }
        if jobs != 1 {
            all.iter().for_each(|w| w.print_log());
        }
        assert_eq!(
            jobs, 1,
            "{stack:?}: tick {tick} has {jobs} jobs: {per_tick:?}"
        );
    }
    if missing.len() > skips {
        all.iter().for_each(|w| w.print_log());
    }
    assert!(
        missing.len() <= skips,
        "{stack:?}: ticks {missing:?} have no job and only {skips} skips were logged: {per_tick:?}"
    );
    let scrape_jobs = dep.scrape_jobs().await;
    assert_eq!(
        scrape_jobs.len(),
        keys.len(),
        "{stack:?}: every scrape job came from a de-duplicated tick"
    );
    let lost: Vec<usize> = all
        .iter()
        .map(|w| w.log().matches(LOST_TICK).count())
        .collect();
    assert!(
        lost.iter().sum::<usize>() > 0,
        "{stack:?}: the schedulers should have competed for the same ticks"
    );

    let in_window: Vec<String> = (first..=last)
        .filter_map(|t| per_tick.get(&t))
        .flatten()
        .cloned()
        .collect();
    let mut latencies = Vec::new();
    for id in &in_window {
        let job = finished(&dep, id, &all).await;
        assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
        let run = run_of(&dep, &source.name, id).await;
        latencies.push(millis_between(job.created_at, run.started_at));
    }
    latencies.sort_unstable();
    assert_articles_once(&dep, &source.name).await;
    println!(
        "{stack:?}: {} schedulers, ticks {first}..={last} ({window_ticks} s) one job each \
         ({} ticks seen in all, {} without a job, {skips} skips logged); ticks each scheduler \
         lost to another: {lost:?}; pickup (enqueue → run start) ms, sorted: {latencies:?}",
        all.len(),
        per_tick.len(),
        missing.len(),
    );
    for worker in &mut workers {
        assert!(
            worker.exited().is_none(),
            "{stack:?}: worker {} died",
            worker.name
        );
    }
}

/// Which signal a workload scenario sends its victim worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGKILL: a crash; the victim's in-flight jobs are orphaned and rerun elsewhere.
    Kill,
    /// SIGTERM: a stop; the victim finishes its in-flight jobs and exits 0.
    Terminate,
}

/// How many `job done` lines a worker logged after its shutdown signal.
fn jobs_done_after_signal(worker: &Worker) -> usize {
    worker
        .log()
        .lines()
        .skip_while(|line| !line.contains("shutdown signal received"))
        .filter(|line| line.contains("job done"))
        .count()
}

/// [`WORKLOAD_SOURCES`] × [`WORKLOAD_ROUNDS`] scrape jobs consumed by two workers, one of
/// which receives `fault` [`FAULTS`] times and is restarted after each: every job ends done
/// once, every article is stored once, every job has one settled run record.
async fn workload_survives_faults(stack: Stack, fault: Fault) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let mut sites = Vec::with_capacity(WORKLOAD_SOURCES);
    let mut sources = Vec::with_capacity(WORKLOAD_SOURCES);
    for i in 0..WORKLOAD_SOURCES {
        let site = FixtureSite::start().await;
        site.publish(&format!("w{i}"), WORKLOAD_ARTICLES, Utc::now());
        site.set_feed(FeedBehaviour::Slow(WORKLOAD_FEED_DELAY));
        let source = dep
            .add_source(&format!("load{i}"), &site.feed_url(), None)
            .await;
        sources.push(source.name);
        sites.push(site);
    }
    let mut job_ids: HashSet<String> = HashSet::new();
    for _ in 0..WORKLOAD_ROUNDS {
        for source in &sources {
            job_ids.insert(dep.enqueue_scrape(source).await);
        }
    }
    let total = job_ids.len();
    assert_eq!(total, WORKLOAD_SOURCES * WORKLOAD_ROUNDS);

    let started = Instant::now();
    let mut victim = dep.spawn_worker("victim-0", NO_CRON);
    let mut peer = dep.spawn_worker("peer", NO_CRON);
    victim.wait_log("worker started").await;
    peer.wait_log("worker started").await;
    let mut done_after_signal = Vec::new();
    let mut retired = Vec::new();
    for round in 1..=FAULTS {
        let threshold = i64::try_from(total * round / (FAULTS + 1)).expect("small");
        dep.wait_within(
            WORKLOAD_DEADLINE,
            &format!("{threshold} jobs done"),
            &[&victim, &peer],
            || async {
                let counts = dep.peek.scrape_job_counts().await;
                (counts.get("done").copied().unwrap_or(0) >= threshold).then_some(())
            },
        )
        .await;
        match fault {
            Fault::Kill => victim.kill(),
            Fault::Terminate => {
                victim.terminate();
                let status = victim.wait_exit().await;
                if status.code() != Some(0) {
                    victim.print_log();
                }
                assert_eq!(
                    status.code(),
                    Some(0),
                    "{stack:?}: {} exit status {status}",
                    victim.name
                );
                done_after_signal.push(jobs_done_after_signal(&victim));
            }
        }
        let next = dep.spawn_worker(&format!("victim-{round}"), NO_CRON);
        retired.push(std::mem::replace(&mut victim, next));
        victim.wait_log("worker started").await;
    }
    let counts = dep
        .wait_within(
            WORKLOAD_DEADLINE,
            "every job to finish",
            &[&victim, &peer],
            || async {
                let counts = dep.peek.scrape_job_counts().await;
                let finished = counts.get("done").copied().unwrap_or(0)
                    + counts.get("dead").copied().unwrap_or(0);
                (usize::try_from(finished).ok() == Some(total)).then_some(counts)
            },
        )
        .await;
    let drained_in = started.elapsed();

    let jobs = dep.scrape_jobs().await;
    let not_done: Vec<&JobRecord> = jobs
        .iter()
        .filter(|j| j.status != JobStatus::Done)
        .collect();
    assert!(
        not_done.is_empty(),
        "{stack:?}: jobs not done ({counts:?}): {not_done:?}"
    );
    let recorded: HashSet<String> = jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        recorded, job_ids,
        "{stack:?}: the jobs recorded are the jobs enqueued"
    );
    let rerun = jobs.iter().filter(|j| j.attempts > 1).count();
    let most_attempts = jobs.iter().map(|j| j.attempts).max().unwrap_or(0);

    let mut skipped = 0;
    for source in &sources {
        let runs = dep.store.runs_for(source, 1000).await.expect("runs");
        let mut per_job: BTreeMap<&str, usize> = BTreeMap::new();
        for run in &runs {
            *per_job.entry(run.job_id.as_str()).or_default() += 1;
            assert!(
                matches!(run.status, RunStatus::Succeeded | RunStatus::Skipped),
                "{stack:?}: a run left {:?}: {run:?}",
                run.status
            );
            if run.status == RunStatus::Skipped {
                skipped += 1;
            }
        }
        assert_eq!(
            per_job.len(),
            WORKLOAD_ROUNDS,
            "{stack:?}: {source}: one run record per job"
        );
        assert!(
            per_job.values().all(|&n| n == 1),
            "{stack:?}: {source}: a job with several run records: {per_job:?}"
        );
        assert!(
            per_job.keys().all(|id| job_ids.contains(*id)),
            "{stack:?}: {source}: a run record of an unknown job"
        );
        let articles = dep.articles(source).await;
        assert_eq!(
            articles.len(),
            WORKLOAD_ARTICLES,
            "{stack:?}: {source}: article count"
        );
    }
    let articles = dep.all_articles().await;
    let urls: HashSet<&str> = articles.iter().map(|a| a.url.as_str()).collect();
    let expected_urls: HashSet<String> = sites
        .iter()
        .enumerate()
        .flat_map(|(i, site)| {
            (0..WORKLOAD_ARTICLES).map(move |n| site.article_url(&format!("w{i}-{n}")))
        })
        .collect();
    assert_eq!(
        articles.len(),
        WORKLOAD_SOURCES * WORKLOAD_ARTICLES,
        "{stack:?}: article count"
    );
    assert_eq!(urls.len(), articles.len(), "{stack:?}: duplicate URLs");
    assert_eq!(
        urls,
        expected_urls.iter().map(String::as_str).collect(),
        "{stack:?}: the articles stored are the fixture's"
    );

    match fault {
        Fault::Kill => assert!(
            rerun > 0,
            "{stack:?}: the SIGKILLs should have interrupted jobs in flight"
        ),
        Fault::Terminate => {
            assert_eq!(
                rerun, 0,
                "{stack:?}: a job needed a rerun although every stop was graceful"
            );
            assert!(
                done_after_signal.iter().sum::<usize>() > 0,
                "{stack:?}: the SIGTERMs should have found jobs in flight"
            );
        }
    }
    for worker in [&mut victim, &mut peer] {
        assert!(
            worker.exited().is_none(),
            "{stack:?}: worker {} died",
            worker.name
        );
    }
    let signals = match fault {
        Fault::Kill => format!("{FAULTS} SIGKILLs"),
        Fault::Terminate => format!(
            "{FAULTS} SIGTERMs (each exit 0; jobs finished after each signal: {done_after_signal:?})"
        ),
    };
    println!(
        "{stack:?}: {total} scrape jobs ({WORKLOAD_SOURCES} sources × {WORKLOAD_ROUNDS}, feed \
         delay {WORKLOAD_FEED_DELAY:?}) on two workers, {signals} to one of them (restarted \
         each time): all done {drained_in:?} after the workers started; jobs rerun {rerun} \
         (most attempts {most_attempts}); runs skipped because the source was busy {skipped}; \
         {} articles, each stored once; 0 jobs lost",
        articles.len()
    );
}

async fn killed_worker_job_rerun_by_live_peer(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
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
        "{stack:?}: job rerun by the live worker {} ms after the SIGKILL (apalis' orphan \
         window {} ms = heartbeat × 3; the job's lease {JOB_LEASE_MS} ms lapses after it, then \
         the reconciler reruns it); pickup of the first attempt {} ms",
        millis_between(killed_at, run.started_at),
        HEARTBEAT_MS * 3,
        millis_between(job.created_at, first_attempt.started_at),
    );
}

async fn orphan_rerun_after_every_worker_died(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
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
         worker was killed (orphan window {} ms, job lease {JOB_LEASE_MS} ms)",
        millis_between(started_at, run.started_at),
        millis_between(killed_at, run.started_at),
        HEARTBEAT_MS * 3,
    );
}

async fn long_job_kept_by_its_live_worker(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
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
    let dep = Deployment::new(stack).await;
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

/// A worker with `WORKER_METRICS_BIND` serves `/metrics` with its own job and scrape counts;
/// one without it opens no listener.
async fn worker_serves_its_metrics(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let site = FixtureSite::start().await;
    site.publish("metrics", ARTICLES, Utc::now());
    let source = dep.add_source("metered", &site.feed_url(), None).await;
    let mut quiet = dep.spawn_worker("quiet", NO_CRON);
    quiet.wait_log("worker started").await;
    assert!(
        !quiet.log().contains("metrics listening"),
        "no listener without WORKER_METRICS_BIND"
    );
    quiet.terminate();
    assert!(quiet.wait_exit().await.success());

    let mut worker = dep.spawn_worker(
        "metered",
        &[("NO_CRON", "true"), ("WORKER_METRICS_BIND", "127.0.0.1:0")],
    );
    worker.wait_log("worker started").await;
    let addr = worker.metrics_addr();
    let url = format!("http://{addr}/metrics");
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        text.contains(
            "mediawarm_scrape_errors_total{source=\"metered\",reason=\"fetch_failed\"} 0"
        ),
        "a configured source is exported at zero from start-up:\n{text}"
    );

    let job_id = dep.enqueue_scrape(&source.name).await;
    let job = finished(&dep, &job_id, &[&worker]).await;
    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    // Job counts are a snapshot at most JOB_COUNTS_MAX_AGE_MS (1 s) old.
    let done = "mediawarm_jobs{kind=\"scrape\",status=\"done\"} 1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let text = loop {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if text.contains(done) || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for expected in [
        "mediawarm_job_duration_seconds_count{kind=\"scrape\",outcome=\"done\"} 1".to_owned(),
        format!("mediawarm_scrape_articles_total{{source=\"metered\",change=\"new\"}} {ARTICLES}"),
        "mediawarm_jobs{kind=\"scrape\",status=\"done\"} 1".to_owned(),
        "mediawarm_database_up 1".to_owned(),
    ] {
        assert!(text.contains(&expected), "{stack:?}: {expected} in\n{text}");
    }
    let other = reqwest::get(format!("http://{addr}/elsewhere"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

/// The real binary ignores proxy variables, and refuses loopback unless told otherwise.
async fn network_guard_of_the_binary(stack: Stack) {
    let _serial = SERIAL.lock().await;
    let dep = Deployment::new(stack).await;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let proxied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = proxied.clone();
    let accepting = tokio::spawn(async move {
        while proxy.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let proxy_env: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|k| (k, proxy_url.as_str()))
    .chain([("NO_CRON", "true")])
    .collect();

    let site = FixtureSite::start().await;
    site.publish("direct", ARTICLES, Utc::now());
    let source = dep.add_source("direct", &site.feed_url(), None).await;
    let mut worker = dep.spawn_worker("proxied", &proxy_env);
    let job = finished(&dep, &dep.enqueue_scrape(&source.name).await, &[&worker]).await;
    assert_eq!(job.status, JobStatus::Done, "{stack:?}: {job:?}");
    assert_articles_once(&dep, &source.name).await;
    assert!(site.hits("/feed.xml") >= 1);
    assert_eq!(
        proxied.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "{stack:?}: the proxy variables were followed"
    );
    worker.terminate();
    assert!(worker.wait_exit().await.success());

    let guarded_site = FixtureSite::start().await;
    guarded_site.publish("guarded", ARTICLES, Utc::now());
    let source = dep
        .add_source("guarded", &guarded_site.feed_url(), None)
        .await;
    let worker = dep.spawn_worker_without("guarded", NO_CRON, &["SCRAPE_ALLOW_LOOPBACK"]);
    let job = finished(&dep, &dep.enqueue_scrape(&source.name).await, &[&worker]).await;
    assert_eq!(job.status, JobStatus::Dead, "{stack:?}: {job:?}");
    assert_eq!(
        job.attempts, 1,
        "{stack:?}: a refusal is permanent: {job:?}"
    );
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("refused") && error.contains("127.0.0.1"),
        "{stack:?}: {error}"
    );
    assert_eq!(
        guarded_site.hits("/feed.xml") + guarded_site.hits("/robots.txt"),
        0,
        "{stack:?}: no request reached the loopback site"
    );
    assert!(dep.articles(&source.name).await.is_empty());
    accepting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_ignored_and_loopback_refused_by_default_embedded() {
    network_guard_of_the_binary(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn proxy_ignored_and_loopback_refused_by_default_production() {
    network_guard_of_the_binary(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_metrics_embedded() {
    worker_serves_its_metrics(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn worker_metrics_production() {
    worker_serves_its_metrics(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_three_workers_one_job_per_tick_for_30_s_embedded() {
    cron_makes_one_job_per_tick(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn cron_three_workers_one_job_per_tick_for_30_s_production() {
    cron_makes_one_job_per_tick(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_jobs_survive_three_sigkills_embedded() {
    workload_survives_faults(Stack::Embedded, Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn five_hundred_jobs_survive_three_sigkills_production() {
    workload_survives_faults(Stack::Production, Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_jobs_survive_three_sigterms_embedded() {
    workload_survives_faults(Stack::Embedded, Fault::Terminate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn five_hundred_jobs_survive_three_sigterms_production() {
    workload_survives_faults(Stack::Production, Fault::Terminate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_job_rerun_by_another_embedded() {
    killed_worker_job_rerun_by_live_peer(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn sigkilled_worker_job_rerun_by_another_production() {
    killed_worker_job_rerun_by_live_peer(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_job_rerun_after_deploy_embedded() {
    orphan_rerun_after_every_worker_died(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn orphaned_job_rerun_after_deploy_production() {
    orphan_rerun_after_every_worker_died(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_job_not_taken_over_from_live_worker_embedded() {
    long_job_kept_by_its_live_worker(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn long_job_not_taken_over_from_live_worker_production() {
    long_job_kept_by_its_live_worker(Stack::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_job_then_exits_0_embedded() {
    sigterm_finishes_in_flight_job(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn sigterm_finishes_in_flight_job_then_exits_0_production() {
    sigterm_finishes_in_flight_job(Stack::Production).await;
}
