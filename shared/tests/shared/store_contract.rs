//! The store contract: one suite of behaviours every backend must show, run against SQLite
//! (a fresh file in a temporary directory per test) and PostgreSQL (a fresh `mwtest_<ulid>`
//! database per test on `TEST_DATABASE_URL`, dropped afterwards, also when the test panics).
//!
//! The PostgreSQL half is ignored unless asked for (`-- --include-ignored`); then it needs
//! `TEST_DATABASE_URL`, and fails when it is unset or unreachable.

use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mediawarm_shared::domain::{
    ErrorClass, NewArticle, RunCounts, RunStatus, Selectors, SkippedPage, SortKey, Source,
    SourceKind, SourceName,
};
use mediawarm_shared::error::{ImportError, StoreError};
use mediawarm_shared::jobs::{JobKind, JobRecord, JobStatus};
use mediawarm_shared::store::{
    DateCorrection, FetchRecord, ImportProgress, JobStart, NewJob, Rescue, SourceActivity, Store,
    StoreConfig,
};
use mediawarm_testkit::services::TestDatabase;
use sqlx::postgres::{PgConnectOptions, PgPool};

/// One test's store plus what it needs to connect again and to clean up.
struct Harness {
    store: Store,
    cfg: StoreConfig,
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] TestDatabase),
}

impl Harness {
    async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cfg = StoreConfig {
            database_url: None,
            sqlite_path: dir.path().join("nested").join("dir").join("mediawarm.db"),
            ..StoreConfig::default()
        };
        let store = Store::connect(&cfg).await.expect("sqlite connects");
        store.migrate().await.expect("sqlite migrates");
        Harness {
            store,
            cfg,
            _cleanup: Cleanup::Sqlite(dir),
        }
    }

    async fn postgres() -> Harness {
        let database = TestDatabase::create("mwtest").await;
        let cfg = StoreConfig {
            database_url: Some(database.url.clone()),
            ..StoreConfig::default()
        };
        let store = Store::connect(&cfg).await.expect("postgres connects");
        store.migrate().await.expect("postgres migrates");
        Harness {
            store,
            cfg,
            _cleanup: Cleanup::Postgres(database),
        }
    }

    /// Runs SQL outside the store (statistics, raw checks), on the same database.
    async fn raw_postgres(&self, sql: &'static str) {
        if let Some(url) = self.cfg.database_url.as_deref() {
            let options = PgConnectOptions::from_str(url).expect("url");
            let pool = PgPool::connect_with(options).await.expect("raw connect");
            sqlx::query(sql).execute(&pool).await.expect("raw sql");
            pool.close().await;
        }
    }
}

type Contract = for<'a> fn(&'a Harness) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

macro_rules! contract_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = super::Harness::sqlite().await;
                    let run: super::Contract = |h| Box::pin(super::$name(h));
                    run(&harness).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs TEST_DATABASE_URL"]
                async fn $name() {
                    let harness = super::Harness::postgres().await;
                    let run: super::Contract = |h| Box::pin(super::$name(h));
                    run(&harness).await;
                }
            )*
        }
    };
}

contract_suite!(
    migrating_twice_is_a_no_op,
    describe_names_the_backend_without_a_password,
    upsert_counts_new_updated_and_unchanged,
    upsert_refuses_an_unknown_source_and_writes_nothing,
    sort_at_is_fixed_at_first_insert_while_published_at_follows_the_page,
    date_corrections_move_published_at_and_sort_at_of_rows_still_as_read,
    a_cursor_from_before_a_correction_sees_every_unmoved_row_once,
    keyset_pages_cover_every_row_once_in_order_despite_ties,
    offset_pages_follow_the_same_order,
    source_filter_applies_to_keyset_and_offset_pages,
    article_by_id_returns_the_row_or_none,
    volume_grains_count_from_inclusive_to_exclusive,
    activity_counts_both_windows_and_lists_idle_sources,
    import_creates_sources_and_is_idempotent,
    import_is_all_or_nothing_and_names_the_bad_line,
    import_loads_five_thousand_lines_in_batches,
    a_large_import_refreshes_the_planner_statistics,
    cursor_secret_is_the_same_across_connections,
    latest_after_is_served_by_the_keyset_index,
    sources_can_be_created_listed_updated_and_deleted,
    deleting_a_source_keeps_its_articles_unless_purged,
    scrape_runs_are_recorded_per_job_newest_first,
    latest_runs_give_one_run_per_live_source,
    known_urls_reports_stored_urls_across_batches,
    jobs_move_through_their_states_and_never_back_from_final,
    a_dedup_key_records_one_job,
    retention_deletes_only_finished_jobs_older_than_the_cutoff,
    a_source_lease_admits_one_job_until_released_or_lapsed,
    a_running_job_is_taken_over_only_once_its_lease_lapsed,
    two_racing_deliveries_start_one_attempt,
    a_delivery_finding_the_attempts_spent_ends_the_job_dead_unrun,
    the_reconciler_finds_unqueued_and_lapsed_jobs_and_rescues_them,
    one_process_at_a_time_holds_a_process_lease,
    a_stale_delivery_neither_restarts_nor_finishes_a_run,
    a_limited_read_is_cancelled_at_its_limit_and_others_are_not,
    retention_deletes_old_runs_but_each_sources_latest_and_old_fetch_records,
);

async fn retention_deletes_old_runs_but_each_sources_latest_and_old_fetch_records(h: &Harness) {
    let store = &h.store;
    seed_sources(store, &["gazette", "herald"]).await;
    let counts = RunCounts::default();
    for (job, source, started) in [
        ("g-old", "gazette", 100),
        ("g-new", "gazette", 200),
        ("h-only", "herald", 100),
        ("g-running", "gazette", 50),
    ] {
        store
            .start_run(job, 1, &name(source), at(started))
            .await
            .expect("start");
        if job != "g-running" {
            store
                .finish_run(
                    job,
                    1,
                    RunStatus::Succeeded,
                    counts,
                    None,
                    None,
                    at(started + 1),
                )
                .await
                .expect("finish");
        }
    }
    assert_eq!(store.purge_runs(at(1_000)).await.expect("purge runs"), 1);
    let gazette: Vec<String> = store
        .runs_for(&name("gazette"), 10)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.job_id)
        .collect();
    assert_eq!(
        gazette,
        ["g-new", "g-running"],
        "the latest and running runs stay"
    );
    assert_eq!(
        store
            .runs_for(&name("herald"), 10)
            .await
            .expect("runs")
            .len(),
        1
    );

    let record = |url: &str, fetched: i64| FetchRecord {
        url: url.to_owned(),
        etag: Some("\"e\"".to_owned()),
        last_modified: None,
        fetched_at: at(fetched),
        article_urls: None,
    };
    store
        .save_fetch_records(&[
            record("https://g.example/old", 100),
            record("https://g.example/new", 900),
        ])
        .await
        .expect("save");
    assert_eq!(store.purge_fetch_records(at(500)).await.expect("purge"), 1);
    let kept = store
        .fetch_records(&[
            "https://g.example/old".to_owned(),
            "https://g.example/new".to_owned(),
        ])
        .await
        .expect("records");
    assert_eq!(kept.keys().collect::<Vec<_>>(), ["https://g.example/new"]);
}

async fn a_limited_read_is_cancelled_at_its_limit_and_others_are_not(h: &Harness) {
    let limited = h
        .store
        .with_read_limit(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = limited
        .probe_read_limit(3.0)
        .await
        .expect_err("a 3 s read under a 200 ms limit");
    assert!(matches!(err, StoreError::Timeout(_)), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "cancelled at the limit, not at the end: {:?}",
        started.elapsed()
    );
    limited
        .probe_read_limit(0.0)
        .await
        .expect("a quick read passes the limit");
    seed_sources(&h.store, &["gazette"]).await;
    let latest = limited
        .latest_after(None, None, 10)
        .await
        .expect("the view reads work under a limit");
    assert!(latest.is_empty());
    h.store
        .probe_read_limit(0.3)
        .await
        .expect("the store itself is not limited");
}

fn new_job<'a>(id: &'a str, payload: &'a serde_json::Value, dedup: Option<&'a str>) -> NewJob<'a> {
    NewJob {
        id,
        kind: JobKind::Warm,
        payload,
        max_attempts: 3,
        dedup_key: dedup,
        request_id: Some("contract-request"),
        task_id: "01J00000000000000000000T00",
    }
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// Starts a delivery of `id` for `owner` at `now` with a 10 s lease; panics unless it starts.
async fn started(store: &Store, id: &str, owner: &str, now: DateTime<Utc>) -> JobRecord {
    match store
        .start_job(id, owner, now + secs(10), now)
        .await
        .unwrap()
    {
        JobStart::Started(record) => record,
        other => panic!("the delivery of {id} did not start: {other:?}"),
    }
}

async fn jobs_move_through_their_states_and_never_back_from_final(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    assert!(
        store
            .insert_job(
                &new_job("01J0000000000000000000000A", &payload, None),
                base()
            )
            .await
            .unwrap()
    );
    let job = store
        .job("01J0000000000000000000000A")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.status, job.attempts, job.payload.clone(), job.delivery),
        (JobStatus::Pending, 0, payload.clone(), 0)
    );
    assert_eq!(job.request_id.as_deref(), Some("contract-request"));
    assert_eq!(job.task_id.as_deref(), Some("01J00000000000000000000T00"));
    let running = started(store, &job.id, "w1", base()).await;
    assert_eq!(
        (running.status, running.attempts, running.delivery),
        (JobStatus::Running, 1, 1)
    );
    assert!(
        store
            .retry_job_later(
                &job.id,
                running.delivery,
                "flaky",
                base() + secs(2),
                "01J00000000000000000000T01",
                base(),
            )
            .await
            .unwrap()
    );
    let pending = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (
            pending.status,
            pending.error.as_deref(),
            pending.task_id.as_deref()
        ),
        (
            JobStatus::Pending,
            Some("flaky"),
            Some("01J00000000000000000000T01")
        )
    );
    assert!(pending.run_after.is_some());
    let second = started(store, &job.id, "w2", base()).await;
    assert_eq!((second.attempts, second.delivery), (2, 2));
    let result = serde_json::json!({"warmed": 5});
    assert!(
        store
            .finish_delivery(&job.id, 2, JobStatus::Done, Some(&result), None, base())
            .await
            .unwrap()
    );
    let done = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.attempts, done.result),
        (JobStatus::Done, 2, Some(result))
    );
    assert_eq!(
        store
            .start_job(&job.id, "w3", base() + secs(10), base())
            .await
            .unwrap(),
        JobStart::Finished,
        "a duplicate delivery of a done job is ignored"
    );
    assert!(
        store
            .requeue_dead_job(&job.id, "01J00000000000000000000T02", base())
            .await
            .unwrap()
            .is_none(),
        "only dead jobs are requeued"
    );
    store
        .insert_job(
            &new_job("01J0000000000000000000000B", &payload, None),
            base(),
        )
        .await
        .unwrap();
    let b = started(store, "01J0000000000000000000000B", "w1", base()).await;
    store
        .finish_delivery(
            "01J0000000000000000000000B",
            b.delivery,
            JobStatus::Dead,
            None,
            Some("boom"),
            base(),
        )
        .await
        .unwrap();
    let dead = store
        .list_jobs(Some(JobStatus::Dead), None, 10)
        .await
        .unwrap();
    assert_eq!(
        dead.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["01J0000000000000000000000B"]
    );
    let again = store
        .requeue_dead_job(
            "01J0000000000000000000000B",
            "01J00000000000000000000T03",
            base(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, again.attempts, again.delivery),
        (JobStatus::Pending, 0, 1),
        "a retry by hand gives fresh attempts but keeps the delivery count"
    );
    assert_eq!(store.unfinished_jobs().await.unwrap(), 1);
    assert_eq!(
        store
            .list_jobs(None, Some(JobKind::Scrape), 10)
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn a_running_job_is_taken_over_only_once_its_lease_lapsed(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    let id = "01J0000000000000000000001A";
    store
        .insert_job(&new_job(id, &payload, None), base())
        .await
        .unwrap();
    let first = started(store, id, "w1", base()).await;
    assert_eq!(
        store
            .start_job(id, "w2", base() + secs(15), base() + secs(5))
            .await
            .unwrap(),
        JobStart::Busy,
        "a duplicate delivery does not run beside a live one"
    );
    assert!(
        store
            .renew_job_lease(id, first.delivery, base() + secs(20))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .start_job(id, "w2", base() + secs(25), base() + secs(15))
            .await
            .unwrap(),
        JobStart::Busy,
        "a renewed lease still holds"
    );
    let second = started(store, id, "w2", base() + secs(21)).await;
    assert_eq!((second.delivery, second.attempts), (2, 2));
    assert!(
        !store
            .renew_job_lease(id, first.delivery, base() + secs(40))
            .await
            .unwrap(),
        "the first delivery learns it lost the job"
    );
    assert!(
        !store
            .finish_delivery(
                id,
                first.delivery,
                JobStatus::Done,
                None,
                None,
                base() + secs(22)
            )
            .await
            .unwrap(),
        "a stale delivery's completion changes nothing"
    );
    assert!(
        !store
            .retry_job_later(
                id,
                first.delivery,
                "late",
                base() + secs(30),
                "01J00000000000000000000T09",
                base() + secs(22)
            )
            .await
            .unwrap(),
        "nor does its retry"
    );
    let row = store.job(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.delivery), (JobStatus::Running, 2));
    assert!(
        store
            .finish_delivery(id, 2, JobStatus::Done, None, None, base() + secs(23))
            .await
            .unwrap()
    );
    assert!(
        !store
            .retry_job_later(
                id,
                2,
                "late",
                base() + secs(30),
                "01J00000000000000000000T09",
                base() + secs(24)
            )
            .await
            .unwrap(),
        "a done job never goes back to pending"
    );
}

async fn two_racing_deliveries_start_one_attempt(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    for round in 0..10 {
        let id = format!("01J00000000000000000002{round:03}");
        store
            .insert_job(&new_job(&id, &payload, None), base())
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.start_job(&id, "wa", base() + secs(10), base()),
            store.start_job(&id, "wb", base() + secs(10), base()),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let winners: Vec<&JobRecord> = outcomes
            .iter()
            .filter_map(|o| match o {
                JobStart::Started(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.contains(&JobStart::Busy),
            "round {round}: the loser sees a live lease: {outcomes:?}"
        );
        let finished: Vec<bool> = futures::future::join_all([1, 2].map(|delivery| {
            store.finish_delivery(&id, delivery, JobStatus::Done, None, None, base())
        }))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        assert_eq!(finished, [true, false], "round {round}: one completion");
    }
}

async fn a_delivery_finding_the_attempts_spent_ends_the_job_dead_unrun(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    let id = "01J0000000000000000000003A";
    store
        .insert_job(&new_job(id, &payload, None), base())
        .await
        .unwrap();
    let mut now = base();
    for attempt in 1..=3 {
        let record = started(store, id, "crashing", now).await;
        assert_eq!(record.attempts, attempt);
        now += secs(11);
    }
    match store
        .start_job(id, "late", now + secs(10), now)
        .await
        .unwrap()
    {
        JobStart::Spent(record) => {
            assert_eq!((record.status, record.attempts), (JobStatus::Dead, 3));
            assert!(
                record
                    .error
                    .as_deref()
                    .unwrap_or("")
                    .contains("attempts spent"),
                "{:?}",
                record.error
            );
        }
        other => panic!("expected the attempts to be spent: {other:?}"),
    }
}

async fn the_reconciler_finds_unqueued_and_lapsed_jobs_and_rescues_them(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    for id in [
        "01J0000000000000000000004A",
        "01J0000000000000000000004B",
        "01J0000000000000000000004C",
    ] {
        store
            .insert_job(&new_job(id, &payload, None), base())
            .await
            .unwrap();
    }
    let fresh = store
        .unqueued_candidates(base() + secs(1), base(), None, 10)
        .await
        .unwrap();
    assert!(
        fresh.is_empty(),
        "rows written at the cut-off are not settled yet: {fresh:?}"
    );
    let settled = store
        .unqueued_candidates(base() + secs(10), base() + secs(5), None, 2)
        .await
        .unwrap();
    assert_eq!(
        settled.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["01J0000000000000000000004A", "01J0000000000000000000004B"]
    );
    assert_eq!(settled[0].payload, payload);
    let rest = store
        .unqueued_candidates(
            base() + secs(10),
            base() + secs(5),
            Some("01J0000000000000000000004B"),
            2,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(
        store
            .set_job_task(
                "01J0000000000000000000004C",
                Some("01J00000000000000000000T00"),
                "01J00000000000000000000T05",
                base() + secs(10)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_job_task(
                "01J0000000000000000000004C",
                Some("01J00000000000000000000T00"),
                "01J00000000000000000000T06",
                base() + secs(10)
            )
            .await
            .unwrap(),
        "a second reconciler working from the old task id changes nothing"
    );

    let a = started(store, "01J0000000000000000000004A", "dies", base()).await;
    assert!(
        store
            .lapsed_jobs(base() + secs(5), 10)
            .await
            .unwrap()
            .is_empty(),
        "a live lease is not lapsed"
    );
    let lapsed = store.lapsed_jobs(base() + secs(11), 10).await.unwrap();
    assert_eq!(
        lapsed
            .iter()
            .map(|j| (j.id.as_str(), j.delivery))
            .collect::<Vec<_>>(),
        [("01J0000000000000000000004A", a.delivery)]
    );
    assert_eq!(
        store
            .rescue_job(
                &a.id,
                a.delivery,
                "01J00000000000000000000T07",
                base() + secs(5),
                base() + secs(5)
            )
            .await
            .unwrap(),
        Rescue::Moved,
        "nothing is rescued before its lease lapsed"
    );
    assert_eq!(
        store
            .rescue_job(
                &a.id,
                a.delivery,
                "01J00000000000000000000T07",
                base() + secs(11),
                base() + secs(11)
            )
            .await
            .unwrap(),
        Rescue::Requeued
    );
    let row = store.job(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.attempts, row.task_id.as_deref()),
        (JobStatus::Pending, 1, Some("01J00000000000000000000T07")),
        "the crashed attempt counts"
    );
    assert!(
        row.error
            .as_deref()
            .unwrap_or("")
            .contains("did not finish")
    );
    assert_eq!(
        store
            .rescue_job(
                &a.id,
                a.delivery,
                "01J00000000000000000000T08",
                base() + secs(11),
                base() + secs(11)
            )
            .await
            .unwrap(),
        Rescue::Moved,
        "a second rescue of the same delivery changes nothing"
    );
    let mut now = base() + secs(12);
    for _ in 0..2 {
        started(store, &a.id, "dies", now).await;
        now += secs(11);
    }
    let last = store.job(&a.id).await.unwrap().unwrap();
    assert_eq!(
        store
            .rescue_job(&a.id, last.delivery, "01J00000000000000000000T09", now, now)
            .await
            .unwrap(),
        Rescue::Buried,
        "the third crashed attempt spends the job"
    );
    assert_eq!(
        store.job(&a.id).await.unwrap().unwrap().status,
        JobStatus::Dead
    );
}

async fn one_process_at_a_time_holds_a_process_lease(h: &Harness) {
    let store = &h.store;
    assert!(
        store
            .take_process_lease("reconciler", "p1", base() + secs(30), base())
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_process_lease("reconciler", "p2", base() + secs(30), base() + secs(10))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_process_lease("reconciler", "p1", base() + secs(40), base() + secs(10))
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(
        !store
            .take_process_lease("reconciler", "p2", base() + secs(60), base() + secs(35))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_process_lease("reconciler", "p2", base() + secs(80), base() + secs(41))
            .await
            .unwrap(),
        "a lapsed lease is taken over"
    );
    store
        .release_process_lease("reconciler", "p1")
        .await
        .unwrap();
    assert!(
        !store
            .take_process_lease("reconciler", "p1", base() + secs(80), base() + secs(42))
            .await
            .unwrap(),
        "only the holder gives it up"
    );
    store
        .release_process_lease("reconciler", "p2")
        .await
        .unwrap();
    assert!(
        store
            .take_process_lease("reconciler", "p1", base() + secs(80), base() + secs(42))
            .await
            .unwrap()
    );
}

async fn a_dedup_key_records_one_job(h: &Harness) {
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    let key = Some("cron:gazette:1700000000");
    assert!(
        h.store
            .insert_job(
                &new_job("01J0000000000000000000000C", &payload, key),
                base()
            )
            .await
            .unwrap()
    );
    assert!(
        !h.store
            .insert_job(
                &new_job("01J0000000000000000000000D", &payload, key),
                base()
            )
            .await
            .unwrap()
    );
    assert!(
        h.store
            .job("01J0000000000000000000000D")
            .await
            .unwrap()
            .is_none()
    );
}

async fn retention_deletes_only_finished_jobs_older_than_the_cutoff(h: &Harness) {
    let store = &h.store;
    let payload = serde_json::json!({"kind": "warm", "target": {"top_n": 5}});
    for (id, status, at) in [
        ("01J0000000000000000000000E", JobStatus::Done, base()),
        ("01J0000000000000000000000F", JobStatus::Dead, base()),
        (
            "01J0000000000000000000000G",
            JobStatus::Done,
            base() + chrono::Duration::days(2),
        ),
    ] {
        store
            .insert_job(&new_job(id, &payload, None), base())
            .await
            .unwrap();
        let delivery = started(store, id, "w", at).await.delivery;
        store
            .finish_delivery(id, delivery, status, None, None, at)
            .await
            .unwrap();
    }
    store
        .insert_job(
            &new_job("01J0000000000000000000000H", &payload, None),
            base(),
        )
        .await
        .unwrap();
    let purged = store
        .purge_finished_jobs(base() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(purged, 2);
    assert!(
        store
            .job("01J0000000000000000000000G")
            .await
            .unwrap()
            .is_some(),
        "recent jobs stay"
    );
    assert!(
        store
            .job("01J0000000000000000000000H")
            .await
            .unwrap()
            .is_some(),
        "pending jobs stay"
    );
}

async fn a_source_lease_admits_one_job_until_released_or_lapsed(h: &Harness) {
    let store = &h.store;
    seed_sources(store, &["gazette"]).await;
    let gazette = name("gazette");
    let until = base() + chrono::Duration::minutes(15);
    assert!(
        store
            .acquire_source_lease(&gazette, "job-a", 1, until, base())
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_source_lease(&gazette, "job-b", 1, until, base())
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_source_lease(&gazette, "job-a", 1, until, base())
            .await
            .unwrap(),
        "the holder may renew"
    );
    assert!(
        store
            .acquire_source_lease(&gazette, "job-a", 2, until, base())
            .await
            .unwrap(),
        "a later delivery of the same job (a rerun after a crash) takes the lease over"
    );
    assert!(
        !store
            .acquire_source_lease(&gazette, "job-a", 1, until, base())
            .await
            .unwrap(),
        "the earlier, fenced-off delivery never takes it back"
    );
    store
        .release_source_lease(&gazette, "job-a", 1)
        .await
        .unwrap();
    assert!(
        !store
            .acquire_source_lease(&gazette, "job-b", 1, until, base())
            .await
            .unwrap(),
        "a stale delivery cannot release the lease"
    );
    store
        .release_source_lease(&gazette, "job-a", 2)
        .await
        .unwrap();
    assert!(
        store
            .acquire_source_lease(&gazette, "job-b", 1, until, base())
            .await
            .unwrap()
    );
    let later = until + chrono::Duration::seconds(1);
    assert!(
        store
            .acquire_source_lease(
                &gazette,
                "job-c",
                1,
                later + chrono::Duration::minutes(15),
                later
            )
            .await
            .unwrap(),
        "a lapsed lease can be taken over"
    );
}

fn name(raw: &str) -> SourceName {
    SourceName::parse(raw).expect("valid source name")
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().expect("valid time")
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

fn article(source: &str, url: &str, published_at: Option<DateTime<Utc>>) -> NewArticle {
    NewArticle {
        source: name(source),
        url: url.to_owned(),
        title: format!("title of {url}"),
        author: Some("A. Writer".to_owned()),
        published_at,
        summary: None,
    }
}

async fn seed_sources(store: &Store, names: &[&str]) {
    let names: Vec<SourceName> = names.iter().map(|n| name(n)).collect();
    store
        .ensure_import_sources(&names)
        .await
        .expect("sources created");
}

/// Every article newest first, walking keyset pages of `page` rows.
async fn walk_keyset(store: &Store, source: Option<&SourceName>, page: u32) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<SortKey> = None;
    loop {
        let rows = store
            .latest_after(source, after, page)
            .await
            .expect("keyset page");
        let Some(last) = rows.last() else { break };
        after = Some(last.sort_key());
        ids.extend(rows.iter().map(|a| a.id));
        if rows.len() < page as usize {
            break;
        }
    }
    ids
}

async fn migrating_twice_is_a_no_op(h: &Harness) {
    h.store.migrate().await.expect("second migrate");
    h.store.ping().await.expect("ping");
}

async fn describe_names_the_backend_without_a_password(h: &Harness) {
    let description = h.store.describe();
    assert!(
        description.starts_with(h.store.kind()),
        "{description} should start with {}",
        h.store.kind()
    );
    assert!(!description.contains('@'), "{description}");
}

async fn upsert_counts_new_updated_and_unchanged(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let now = base();
    let batch = vec![
        article("gazette", "https://g.example/1", Some(at(1_000))),
        article("gazette", "https://g.example/2", None),
        article("gazette", "https://g.example/3", Some(at(3_000))),
    ];
    let first = h.store.upsert_articles(&batch, now).await.expect("upsert");
    assert_eq!((first.new, first.updated, first.unchanged), (3, 0, 0));
    assert!(first.changed());

    let mut again = batch.clone();
    again[1].title = "a corrected title".to_owned();
    again.push(article("gazette", "https://g.example/4", None));
    let second = h
        .store
        .upsert_articles(&again, now + chrono::Duration::hours(1))
        .await
        .expect("upsert");
    assert_eq!((second.new, second.updated, second.unchanged), (1, 1, 2));

    let third = h
        .store
        .upsert_articles(&again, now + chrono::Duration::hours(2))
        .await
        .expect("upsert");
    assert_eq!((third.new, third.updated, third.unchanged), (0, 0, 4));
    assert!(!third.changed());

    let duplicated = vec![
        article("gazette", "https://g.example/5", None),
        NewArticle {
            title: "last wins".to_owned(),
            ..article("gazette", "https://g.example/5", None)
        },
    ];
    let fourth = h
        .store
        .upsert_articles(&duplicated, now)
        .await
        .expect("upsert");
    assert_eq!((fourth.new, fourth.updated, fourth.unchanged), (1, 0, 0));
    let rows = h.store.latest_offset(None, 0, 100).await.expect("read");
    assert_eq!(rows.len(), 5);
    let fifth = rows
        .iter()
        .find(|a| a.url == "https://g.example/5")
        .expect("stored");
    assert_eq!(fifth.title, "last wins");
    assert_eq!(
        h.store
            .upsert_articles(&[], now)
            .await
            .expect("empty batch"),
        Default::default()
    );
}

async fn upsert_refuses_an_unknown_source_and_writes_nothing(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let batch = vec![
        article("gazette", "https://g.example/1", None),
        article("nowhere", "https://n.example/1", None),
    ];
    let err = h
        .store
        .upsert_articles(&batch, base())
        .await
        .expect_err("unknown source refused");
    match err {
        StoreError::Conflict(message) => assert!(message.contains("nowhere"), "{message}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(
        h.store
            .latest_after(None, None, 10)
            .await
            .expect("read")
            .is_empty()
    );
}

async fn sort_at_is_fixed_at_first_insert_while_published_at_follows_the_page(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let dated = article("gazette", "https://g.example/dated", Some(at(5_000)));
    let undated = article("gazette", "https://g.example/undated", None);
    let first_seen = at(9_000);
    h.store
        .upsert_articles(&[dated.clone(), undated.clone()], first_seen)
        .await
        .expect("insert");
    let before = h.store.latest_offset(None, 0, 10).await.expect("read");
    let sort_of = |rows: &[mediawarm_shared::domain::Article], url: &str| {
        rows.iter()
            .find(|a| a.url == url)
            .map(|a| (a.sort_at_us, a.published_at))
            .expect("row present")
    };
    assert_eq!(
        sort_of(&before, &dated.url),
        (at(5_000).timestamp_micros(), Some(at(5_000)))
    );
    assert_eq!(
        sort_of(&before, &undated.url),
        (first_seen.timestamp_micros(), None)
    );

    let corrected = NewArticle {
        published_at: Some(at(7_000)),
        ..dated.clone()
    };
    let now_dated = NewArticle {
        published_at: Some(at(1_000)),
        ..undated.clone()
    };
    let outcome = h
        .store
        .upsert_articles(&[corrected, now_dated], at(20_000))
        .await
        .expect("update");
    assert_eq!(outcome.updated, 2);
    let after = h.store.latest_offset(None, 0, 10).await.expect("read");
    assert_eq!(
        sort_of(&after, &dated.url),
        (at(5_000).timestamp_micros(), Some(at(7_000)))
    );
    assert_eq!(
        sort_of(&after, &undated.url),
        (first_seen.timestamp_micros(), Some(at(1_000)))
    );
}

/// Date corrections page a source's rows by id, move `published_at` and `sort_at` of rows
/// still as read, leave stale reads, other columns and other rows alone, and keep the content
/// hash in step (an identical upsert afterwards is `unchanged`).
async fn date_corrections_move_published_at_and_sort_at_of_rows_still_as_read(h: &Harness) {
    seed_sources(&h.store, &["gazette", "daily"]).await;
    let dated = article("gazette", "https://g.example/dated", Some(at(5_000)));
    let undated = article("gazette", "https://g.example/undated", None);
    let raced = article("gazette", "https://g.example/raced", Some(at(6_000)));
    let other = article("daily", "https://d.example/other", Some(at(4_000)));
    let first_seen = at(9_000);
    h.store
        .upsert_articles(
            &[dated.clone(), other.clone(), undated.clone(), raced.clone()],
            first_seen,
        )
        .await
        .expect("insert");

    let first = h
        .store
        .article_dates_after(&name("gazette"), 0, 2)
        .await
        .expect("first page");
    let urls: Vec<&str> = first.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls, [dated.url.as_str(), undated.url.as_str()]);
    assert_eq!(first[0].published_at, Some(at(5_000)));
    assert_eq!(first[1].published_at, None);
    let rest = h
        .store
        .article_dates_after(&name("gazette"), first[1].id, 2)
        .await
        .expect("second page");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].url, raced.url);
    assert!(
        h.store
            .article_dates_after(&name("gazette"), rest[0].id, 2)
            .await
            .expect("past the end")
            .is_empty()
    );

    let fixes = [
        DateCorrection {
            id: first[0].id,
            was: Some(at(5_000)),
            published_at: at(7_000),
        },
        DateCorrection {
            id: first[1].id,
            was: None,
            published_at: at(1_000),
        },
        DateCorrection {
            id: rest[0].id,
            was: Some(at(999)),
            published_at: at(8_000),
        },
    ];
    let written = h
        .store
        .correct_published_dates(&fixes, at(20_000))
        .await
        .expect("correct");
    assert_eq!(written, 2, "the stale read of the raced row is skipped");
    assert_eq!(
        h.store
            .correct_published_dates(&fixes[..1], at(21_000))
            .await
            .expect("again"),
        0,
        "a row read before the first correction has moved on"
    );

    let rows = h.store.latest_offset(None, 0, 10).await.expect("read");
    let row = |url: &str| rows.iter().find(|a| a.url == url).expect("row present");
    for (url, date) in [
        (&dated.url, at(7_000)),
        (&undated.url, at(1_000)),
        (&raced.url, at(6_000)),
        (&other.url, at(4_000)),
    ] {
        assert_eq!(row(url).published_at, Some(date), "{url}");
        assert_eq!(row(url).sort_at_us, date.timestamp_micros(), "{url}");
        assert_eq!(row(url).title, format!("title of {url}"));
        assert_eq!(row(url).author.as_deref(), Some("A. Writer"));
    }

    let same = [
        NewArticle {
            published_at: Some(at(7_000)),
            ..dated.clone()
        },
        NewArticle {
            published_at: Some(at(1_000)),
            ..undated.clone()
        },
    ];
    let outcome = h
        .store
        .upsert_articles(&same, at(30_000))
        .await
        .expect("upsert");
    assert_eq!(outcome.unchanged, 2, "{outcome:?}");
}

/// What a cursor handed out before a date correction sees: an article moved from the pages
/// already read to the pages after the cursor is repeated, one moved the other way is
/// skipped, and every other article is seen exactly once.
async fn a_cursor_from_before_a_correction_sees_every_unmoved_row_once(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let batch: Vec<NewArticle> = (0..10)
        .map(|i| {
            article(
                "gazette",
                &format!("https://g.example/{i}"),
                Some(base() + chrono::Duration::minutes(i)),
            )
        })
        .collect();
    h.store.upsert_articles(&batch, base()).await.expect("seed");
    let first = h
        .store
        .latest_after(None, None, 3)
        .await
        .expect("first page");
    let cursor = first.last().expect("a full page").sort_key();
    let rows = h.store.latest_offset(None, 0, 20).await.expect("all");
    let id_of = |i: i64| {
        rows.iter()
            .find(|a| a.url == format!("https://g.example/{i}"))
            .expect("row")
            .id
    };
    let (seen_moved, unseen_moved) = (id_of(8), id_of(2));
    let fixes = [
        DateCorrection {
            id: seen_moved,
            was: Some(base() + chrono::Duration::minutes(8)),
            published_at: base() - chrono::Duration::minutes(1),
        },
        DateCorrection {
            id: unseen_moved,
            was: Some(base() + chrono::Duration::minutes(2)),
            published_at: base() + chrono::Duration::minutes(20),
        },
    ];
    assert_eq!(
        h.store
            .correct_published_dates(&fixes, base())
            .await
            .expect("correct"),
        2
    );
    let mut seen: Vec<i64> = first.iter().map(|a| a.id).collect();
    let mut after = Some(cursor);
    loop {
        let page = h.store.latest_after(None, after, 3).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.sort_key());
        seen.extend(page.iter().map(|a| a.id));
    }
    let count = |id: i64| seen.iter().filter(|s| **s == id).count();
    assert_eq!(count(seen_moved), 2, "moved past the cursor: repeated");
    assert_eq!(count(unseen_moved), 0, "moved before the cursor: skipped");
    for i in (0..10).filter(|i| ![8, 2].contains(i)) {
        assert_eq!(count(id_of(i)), 1, "row {i}");
    }
}

/// 60 rows in groups of 4 sharing a `sort_at`, in two sources.
async fn seed_tied_rows(store: &Store) {
    seed_sources(store, &["alpha", "beta"]).await;
    let batch: Vec<NewArticle> = (0..60)
        .map(|i| {
            let source = if i % 3 == 0 { "beta" } else { "alpha" };
            article(
                source,
                &format!("https://x.example/{i}"),
                Some(base() + chrono::Duration::minutes(i / 4)),
            )
        })
        .collect();
    store.upsert_articles(&batch, base()).await.expect("seed");
}

fn assert_newest_first(rows: &[mediawarm_shared::domain::Article]) {
    for pair in rows.windows(2) {
        assert!(
            (pair[0].sort_at_us, pair[0].id) > (pair[1].sort_at_us, pair[1].id),
            "{:?} should come before {:?}",
            pair[0].sort_key(),
            pair[1].sort_key()
        );
    }
}

async fn keyset_pages_cover_every_row_once_in_order_despite_ties(h: &Harness) {
    seed_tied_rows(&h.store).await;
    let everything = h.store.latest_after(None, None, 1000).await.expect("all");
    assert_eq!(everything.len(), 60);
    assert_newest_first(&everything);
    let expected: Vec<i64> = everything.iter().map(|a| a.id).collect();
    for page in [1, 3, 4, 7, 60, 100] {
        assert_eq!(
            walk_keyset(&h.store, None, page).await,
            expected,
            "page size {page}"
        );
    }

    let first_page = h.store.latest_after(None, None, 10).await.expect("page");
    let cursor = first_page.last().map(|a| a.sort_key());
    seed_sources(&h.store, &["alpha"]).await;
    h.store
        .upsert_articles(
            &[article(
                "alpha",
                "https://x.example/newest",
                Some(base() + chrono::Duration::days(1)),
            )],
            base(),
        )
        .await
        .expect("a new article arrives");
    let second_page = h.store.latest_after(None, cursor, 10).await.expect("page");
    let expected_second: Vec<i64> = expected[10..20].to_vec();
    assert_eq!(
        second_page.iter().map(|a| a.id).collect::<Vec<_>>(),
        expected_second
    );
}

async fn offset_pages_follow_the_same_order(h: &Harness) {
    seed_tied_rows(&h.store).await;
    let expected: Vec<i64> = walk_keyset(&h.store, None, 1000).await;
    let mut seen = Vec::new();
    for offset in (0..70).step_by(7) {
        let rows = h
            .store
            .latest_offset(None, offset, 7)
            .await
            .expect("offset page");
        seen.extend(rows.iter().map(|a| a.id));
    }
    assert_eq!(seen, expected);
    assert!(
        h.store
            .latest_offset(None, 60, 10)
            .await
            .expect("past the end")
            .is_empty()
    );
}

async fn source_filter_applies_to_keyset_and_offset_pages(h: &Harness) {
    seed_tied_rows(&h.store).await;
    let beta = name("beta");
    let keyset = walk_keyset(&h.store, Some(&beta), 3).await;
    assert_eq!(keyset.len(), 20);
    let offset = h
        .store
        .latest_offset(Some(&beta), 0, 100)
        .await
        .expect("offset");
    assert!(offset.iter().all(|a| a.source == "beta"));
    assert_newest_first(&offset);
    assert_eq!(offset.iter().map(|a| a.id).collect::<Vec<_>>(), keyset);
    let unknown = name("gamma");
    assert!(
        h.store
            .latest_after(Some(&unknown), None, 10)
            .await
            .expect("unknown source")
            .is_empty()
    );
    assert!(h.store.source_exists(&beta).await.expect("exists"));
    assert!(!h.store.source_exists(&unknown).await.expect("exists"));
}

async fn article_by_id_returns_the_row_or_none(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let mut stored = article("gazette", "https://g.example/1", Some(at(1_234_567)));
    stored.summary = Some("lede".to_owned());
    h.store
        .upsert_articles(std::slice::from_ref(&stored), base())
        .await
        .expect("insert");
    let listed = h.store.latest_after(None, None, 1).await.expect("read");
    let id = listed[0].id;
    let found = h.store.article(id).await.expect("by id").expect("present");
    assert_eq!(found, listed[0]);
    assert_eq!(found.summary.as_deref(), Some("lede"));
    assert_eq!(found.published_at, Some(at(1_234_567)));
    assert_eq!(h.store.article(id + 1000).await.expect("by id"), None);
}

async fn volume_grains_count_from_inclusive_to_exclusive(h: &Harness) {
    seed_sources(&h.store, &["alpha", "beta"]).await;
    let t0 = base();
    let grain = 900;
    let minutes = |m: i64| t0 + chrono::Duration::minutes(m);
    let batch = vec![
        article("alpha", "u/before", Some(minutes(-1))),
        article("alpha", "u/at-from", Some(minutes(0))),
        article("alpha", "u/5", Some(minutes(5))),
        article("beta", "u/14", Some(minutes(14))),
        article("alpha", "u/15", Some(minutes(15))),
        article("beta", "u/44", Some(minutes(44))),
        article("alpha", "u/at-to", Some(minutes(60))),
    ];
    h.store.upsert_articles(&batch, t0).await.expect("seed");
    let first_grain = t0.timestamp() / grain;
    let all = h
        .store
        .volume_grains(None, minutes(0), minutes(60), grain)
        .await
        .expect("grains");
    assert_eq!(
        all,
        vec![(first_grain, 3), (first_grain + 1, 1), (first_grain + 2, 1)]
    );
    let beta = h
        .store
        .volume_grains(Some(&name("beta")), minutes(0), minutes(60), grain)
        .await
        .expect("grains");
    assert_eq!(beta, vec![(first_grain, 1), (first_grain + 2, 1)]);
    let pre_epoch = h
        .store
        .volume_grains(None, at(-10_000), at(0), grain)
        .await
        .expect("empty");
    assert!(pre_epoch.is_empty());
    assert!(matches!(
        h.store.volume_grains(None, t0, t0, 0).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn activity_counts_both_windows_and_lists_idle_sources(h: &Harness) {
    seed_sources(&h.store, &["alpha", "beta", "idle"]).await;
    let now = base();
    let hours = |n: i64| now - chrono::Duration::hours(n);
    let batch = vec![
        article("alpha", "a/now", Some(now)),
        article("alpha", "a/1h", Some(hours(1))),
        article("alpha", "a/24h", Some(hours(24))),
        article("alpha", "a/25h", Some(hours(25))),
        article("alpha", "a/8d", Some(hours(24 * 8))),
        article("alpha", "a/9d", Some(hours(24 * 9))),
        article("beta", "b/2h", Some(hours(2))),
        article("beta", "b/3d", Some(hours(72))),
        article("beta", "b/4d", Some(hours(96))),
    ];
    h.store.upsert_articles(&batch, now).await.expect("seed");
    let activity = h.store.activity(None, now).await.expect("activity");
    let row = |source: &str, last_24h, prev_7d| SourceActivity {
        source: source.to_owned(),
        last_24h,
        prev_7d,
    };
    assert_eq!(
        activity,
        vec![row("alpha", 2, 2), row("beta", 1, 2), row("idle", 0, 0)]
    );
    let only = h
        .store
        .activity(Some(&name("beta")), now)
        .await
        .expect("activity");
    assert_eq!(only, vec![row("beta", 1, 2)]);
}

fn jsonl(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        writeln!(out, "{line}").expect("write to vec");
    }
    out
}

fn import_line(source: &str, i: usize) -> String {
    serde_json::json!({
        "source": source,
        "url": format!("https://{source}.example/{i}"),
        "title": format!("Story {i}"),
        "author": if i.is_multiple_of(2) { serde_json::Value::Null } else { "Someone".into() },
        "published_at": format!("2024-04-{:02}T{:02}:00:00Z", 1 + i % 28, i % 24),
        "summary": "text",
    })
    .to_string()
}

async fn import_creates_sources_and_is_idempotent(h: &Harness) {
    seed_sources(&h.store, &["existing"]).await;
    let mut lines: Vec<String> = (0..10).map(|i| import_line("existing", i)).collect();
    lines.push(String::new());
    lines.extend((0..5).map(|i| import_line("fresh", i)));
    lines.push("   ".to_owned());
    let file = jsonl(&lines);
    let mut calls = Vec::new();
    let report = h
        .store
        .import_jsonl(&file[..], &mut |p: ImportProgress| calls.push(p))
        .await
        .expect("import");
    assert_eq!(report.lines, 15);
    assert_eq!(
        (
            report.new,
            report.updated,
            report.unchanged,
            report.sources_created
        ),
        (15, 0, 0, 1)
    );
    assert_eq!(calls.last().map(|p| p.lines), Some(15));
    let fresh = h
        .store
        .get_source(&name("fresh"))
        .await
        .expect("read")
        .expect("created");
    assert_eq!(fresh.kind, SourceKind::Import);
    assert_eq!(fresh.schedule, None);

    let again = h
        .store
        .import_jsonl(&file[..], &mut |_| {})
        .await
        .expect("re-import");
    assert_eq!(
        (
            again.new,
            again.updated,
            again.unchanged,
            again.sources_created
        ),
        (0, 0, 15, 0)
    );
    assert_eq!(walk_keyset(&h.store, None, 100).await.len(), 15);
}

async fn import_is_all_or_nothing_and_names_the_bad_line(h: &Harness) {
    let mut lines: Vec<String> = (0..2500).map(|i| import_line("bulk", i)).collect();
    lines[2100] = r#"{"source": "bulk", "url": "https://bulk.example/x"}"#.to_owned();
    let err = h
        .store
        .import_jsonl(&jsonl(&lines)[..], &mut |_| {})
        .await
        .expect_err("bad line refused");
    assert!(
        matches!(err, ImportError::Malformed { line: 2101, .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("line 2101: "), "{err}");
    assert!(
        h.store
            .latest_after(None, None, 10)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(!h.store.source_exists(&name("bulk")).await.expect("read"));

    let bad_json = vec![import_line("bulk", 1), "{not json".to_owned()];
    let err = h
        .store
        .import_jsonl(&jsonl(&bad_json)[..], &mut |_| {})
        .await
        .expect_err("bad json refused");
    assert!(err.to_string().starts_with("line 2: "), "{err}");
}

async fn import_loads_five_thousand_lines_in_batches(h: &Harness) {
    let lines: Vec<String> = (0..5000usize)
        .map(|i| import_line(if i.is_multiple_of(2) { "even" } else { "odd" }, i))
        .collect();
    let mut calls: Vec<ImportProgress> = Vec::new();
    let report = h
        .store
        .import_jsonl(&jsonl(&lines)[..], &mut |p| calls.push(p))
        .await
        .expect("import");
    assert_eq!(report.lines, 5000);
    assert_eq!(report.new, 5000);
    assert_eq!(report.sources_created, 2);
    assert!(calls.len() >= 5, "{} progress calls", calls.len());
    assert!(calls.windows(2).all(|w| w[0].lines < w[1].lines));
    assert_eq!(walk_keyset(&h.store, None, 100).await.len(), 5000);
}

async fn a_large_import_refreshes_the_planner_statistics(h: &Harness) {
    let lines: Vec<String> = (0..10_001usize).map(|i| import_line("bulk", i)).collect();
    h.store
        .import_jsonl(&jsonl(&lines)[..], &mut |_| {})
        .await
        .expect("import");
    match h.cfg.database_url.as_deref() {
        None => {
            let pool =
                sqlx::SqlitePool::connect(&format!("sqlite://{}", h.cfg.sqlite_path.display()))
                    .await
                    .expect("sqlite");
            let rows: i64 =
                sqlx::query_scalar("select count(*) from sqlite_stat1 where tbl = 'articles'")
                    .fetch_one(&pool)
                    .await
                    .expect("sqlite_stat1 exists once analyzed");
            assert!(rows > 0);
        }
        Some(url) => {
            let pool = PgPool::connect(url).await.expect("postgres");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let analyzed: Option<bool> = sqlx::query_scalar(
                    "select last_analyze is not null from pg_stat_user_tables where relname = 'articles'",
                )
                .fetch_optional(&pool)
                .await
                .expect("pg_stat_user_tables");
                if analyzed == Some(true) {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "articles was never analyzed"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn cursor_secret_is_the_same_across_connections(h: &Harness) {
    let first = h.store.cursor_secret().await.expect("secret");
    assert_eq!(first.len(), 32);
    assert_eq!(h.store.cursor_secret().await.expect("secret"), first);
    let other = Store::connect(&h.cfg).await.expect("second connection");
    assert_eq!(other.cursor_secret().await.expect("secret"), first);
}

async fn latest_after_is_served_by_the_keyset_index(h: &Harness) {
    let lines: Vec<String> = (0..3000usize)
        .map(|i| {
            import_line(
                if i.is_multiple_of(10) {
                    "rare"
                } else {
                    "common"
                },
                i,
            )
        })
        .collect();
    h.store
        .import_jsonl(&jsonl(&lines)[..], &mut |_| {})
        .await
        .expect("import");
    h.raw_postgres("analyze articles").await;
    let rare = name("rare");
    let cursor = Some(SortKey {
        sort_at_us: base().timestamp_micros(),
        id: 1500,
    });
    for (source, after) in [
        (None, None),
        (None, cursor),
        (Some(&rare), None),
        (Some(&rare), cursor),
    ] {
        let plan = h
            .store
            .explain_latest_after(source, after, 20)
            .await
            .expect("explain")
            .join("\n");
        if h.store.kind() == "postgres" {
            assert!(plan.contains("Index Scan"), "{plan}");
            assert!(!plan.contains("Sort"), "{plan}");
        } else {
            assert!(
                plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}

fn gazette() -> Source {
    Source {
        name: name("gazette"),
        kind: SourceKind::Rss,
        url: "https://g.example/feed.xml".to_owned(),
        selectors: Some(Selectors {
            links: Some("a.story".to_owned()),
            title: Some("h1".to_owned()),
            ..Selectors::default()
        }),
        schedule: Some("0 */15 * * * *".to_owned()),
        rate_limit_per_sec: 0.5,
        enabled: true,
    }
}

async fn sources_can_be_created_listed_updated_and_deleted(h: &Harness) {
    let v0 = h.store.sources_version().await.expect("version");
    h.store.insert_source(&gazette()).await.expect("insert");
    let v1 = h.store.sources_version().await.expect("version");
    assert_ne!(v0, v1);
    assert!(matches!(
        h.store.insert_source(&gazette()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        h.store.get_source(&name("gazette")).await.expect("get"),
        Some(gazette())
    );
    assert_eq!(h.store.list_sources().await.expect("list"), vec![gazette()]);

    let changed = Source {
        selectors: None,
        enabled: false,
        ..gazette()
    };
    assert!(h.store.update_source(&changed).await.expect("update"));
    let v2 = h.store.sources_version().await.expect("version");
    assert_ne!(v1, v2);
    assert_eq!(
        h.store.get_source(&name("gazette")).await.expect("get"),
        Some(changed)
    );
    let missing = Source {
        name: name("missing"),
        ..gazette()
    };
    assert!(!h.store.update_source(&missing).await.expect("update"));

    assert!(
        h.store
            .delete_source(&name("gazette"), false)
            .await
            .expect("delete")
    );
    assert_ne!(v2, h.store.sources_version().await.expect("version"));
    assert!(
        !h.store
            .delete_source(&name("gazette"), false)
            .await
            .expect("delete")
    );
    assert!(h.store.list_sources().await.expect("list").is_empty());
    assert_eq!(
        h.store.get_source(&name("gazette")).await.expect("get"),
        None
    );
    h.store
        .insert_source(&gazette())
        .await
        .expect("re-create after delete");
    assert_eq!(h.store.list_sources().await.expect("list"), vec![gazette()]);
}

async fn deleting_a_source_keeps_its_articles_unless_purged(h: &Harness) {
    seed_sources(&h.store, &["keep", "purge"]).await;
    let batch = vec![
        article("keep", "k/1", Some(at(1))),
        article("purge", "p/1", Some(at(2))),
    ];
    h.store.upsert_articles(&batch, base()).await.expect("seed");
    assert!(
        h.store
            .delete_source(&name("keep"), false)
            .await
            .expect("delete")
    );
    assert!(
        h.store
            .delete_source(&name("purge"), true)
            .await
            .expect("delete")
    );
    let left = h.store.latest_after(None, None, 10).await.expect("read");
    assert_eq!(
        left.iter().map(|a| a.url.as_str()).collect::<Vec<_>>(),
        ["k/1"]
    );
    assert!(matches!(
        h.store
            .upsert_articles(&[article("keep", "k/2", None)], base())
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        h.store
            .activity(None, base())
            .await
            .expect("activity")
            .is_empty()
    );
}

async fn scrape_runs_are_recorded_per_job_newest_first(h: &Harness) {
    let gazette = name("gazette");
    h.store
        .start_run("job-1", 1, &gazette, at(100))
        .await
        .expect("start");
    h.store
        .start_run("job-2", 1, &gazette, at(200))
        .await
        .expect("start");
    let counts = RunCounts {
        pages_fetched: 4,
        articles_new: 2,
        articles_updated: 1,
    };
    assert!(
        h.store
            .finish_run(
                "job-1",
                1,
                RunStatus::Failed,
                counts,
                Some("boom"),
                Some(ErrorClass::HttpStatus),
                at(150)
            )
            .await
            .expect("finish")
    );
    let skipped: Vec<SkippedPage> = (0..60)
        .map(|i| SkippedPage::new(&format!("https://g.example/{i}"), ErrorClass::PageTooLarge))
        .collect();
    assert!(
        h.store
            .record_skipped_pages("job-1", 1, &skipped)
            .await
            .expect("record")
    );
    let runs = h.store.runs_for(&gazette, 10).await.expect("runs");
    let failed = runs.iter().find(|r| r.job_id == "job-1").expect("job-1");
    assert_eq!(failed.skipped_pages, skipped[..SkippedPage::MAX_RECORDED]);
    assert_eq!(failed.error.as_deref(), Some("boom"));
    assert_eq!(failed.error_class, Some(ErrorClass::HttpStatus));
    h.store
        .start_run("job-1", 2, &gazette, at(300))
        .await
        .expect("retry restarts the row");
    assert!(
        h.store
            .finish_run(
                "job-1",
                2,
                RunStatus::Succeeded,
                counts,
                None,
                None,
                at(350)
            )
            .await
            .expect("finish")
    );
    assert!(
        !h.store
            .finish_run(
                "job-x",
                1,
                RunStatus::Succeeded,
                counts,
                None,
                None,
                at(350)
            )
            .await
            .expect("finish unknown")
    );
    let runs = h.store.runs_for(&gazette, 10).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(),
        ["job-1", "job-2"]
    );
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].started_at, at(300));
    assert_eq!(runs[0].finished_at, Some(at(350)));
    assert_eq!(runs[0].error, None);
    assert_eq!(runs[0].error_class, None, "a retry clears the class");
    assert!(runs[0].skipped_pages.is_empty(), "and the skipped pages");
    assert_eq!(runs[0].pages_fetched, 4);
    assert_eq!(runs[1].status, RunStatus::Running);
    assert_eq!(runs[1].finished_at, None);
    assert_eq!(h.store.runs_for(&gazette, 1).await.expect("runs").len(), 1);
}

async fn a_stale_delivery_neither_restarts_nor_finishes_a_run(h: &Harness) {
    let gazette = name("gazette");
    let counts = RunCounts::default();
    assert!(
        h.store
            .start_run("job-s", 1, &gazette, at(100))
            .await
            .unwrap()
    );
    assert!(
        h.store
            .start_run("job-s", 2, &gazette, at(200))
            .await
            .unwrap()
    );
    assert!(
        !h.store
            .start_run("job-s", 1, &gazette, at(300))
            .await
            .unwrap(),
        "the earlier delivery cannot restart the later one's run"
    );
    assert!(
        !h.store
            .finish_run(
                "job-s",
                1,
                RunStatus::Failed,
                counts,
                Some("stale"),
                None,
                at(310)
            )
            .await
            .unwrap(),
        "nor finish it"
    );
    assert!(
        h.store
            .finish_run(
                "job-s",
                2,
                RunStatus::Succeeded,
                counts,
                None,
                None,
                at(320)
            )
            .await
            .unwrap()
    );
    let runs = h.store.runs_for(&gazette, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "one run row per job");
    assert_eq!(
        (runs[0].status, runs[0].started_at, runs[0].error.clone()),
        (RunStatus::Succeeded, at(200), None)
    );
}

async fn known_urls_reports_stored_urls_across_batches(h: &Harness) {
    seed_sources(&h.store, &["gazette"]).await;
    let stored: Vec<NewArticle> = (0..1200)
        .filter(|i| i % 3 == 0)
        .map(|i| article("gazette", &format!("https://g.example/{i}"), None))
        .collect();
    h.store
        .upsert_articles(&stored, base())
        .await
        .expect("upsert");
    let asked: Vec<String> = (0..1200)
        .map(|i| format!("https://g.example/{i}"))
        .collect();
    let known = h.store.known_urls(&asked).await.expect("known urls");
    assert_eq!(known.len(), 400);
    assert!(known.contains("https://g.example/0"));
    assert!(known.contains("https://g.example/1197"));
    assert!(!known.contains("https://g.example/1"));
    assert!(
        h.store
            .known_urls(&["https://g.example/0/".to_owned()])
            .await
            .expect("known urls")
            .is_empty(),
        "URLs are compared exactly"
    );
    assert!(h.store.known_urls(&[]).await.expect("empty").is_empty());
}

async fn latest_runs_give_one_run_per_live_source(h: &Harness) {
    for source_name in ["gazette", "herald", "quiet", "gone"] {
        let source = Source {
            name: name(source_name),
            ..gazette()
        };
        h.store.insert_source(&source).await.expect("insert");
    }
    let counts = RunCounts::default();
    for (job, source, started) in [
        ("g-1", "gazette", 100),
        ("g-2", "gazette", 300),
        ("g-0", "gazette", 200),
        ("h-a", "herald", 50),
        ("h-b", "herald", 50),
        ("x-1", "gone", 400),
        ("o-1", "orphan", 500),
    ] {
        h.store
            .start_run(job, 1, &name(source), at(started))
            .await
            .expect("start");
    }
    h.store
        .finish_run(
            "g-2",
            1,
            RunStatus::Failed,
            counts,
            Some("boom"),
            Some(ErrorClass::Timeout),
            at(310),
        )
        .await
        .expect("finish");
    h.store
        .delete_source(&name("gone"), false)
        .await
        .expect("delete");
    let mut latest: Vec<(String, String)> = h
        .store
        .latest_runs()
        .await
        .expect("latest runs")
        .into_iter()
        .map(|run| (run.source, run.job_id))
        .collect();
    latest.sort();
    assert_eq!(
        latest,
        [
            ("gazette".to_owned(), "g-2".to_owned()),
            ("herald".to_owned(), "h-b".to_owned()),
        ],
        "the newest run (ties: the larger job id) of each live source; none for a source \
         that never ran, a deleted one, or runs of no source"
    );
}
