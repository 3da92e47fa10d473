//! `GET /metrics`: every family of `deploy/metrics.txt` from start-up, and the counts moving
//! with real traffic, jobs and scrapes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use mediawarm_testkit::FixtureSite;
use serde_json::json;

use crate::both_stacks;
use crate::helpers::{Stack, TestApp};

both_stacks!(
    every_family_is_exported_from_start_up,
    requests_cache_reads_jobs_and_scrapes_are_counted,
);

/// The families the project exports (the list the Grafana dashboard is checked against).
fn families() -> BTreeSet<String> {
    include_str!("../../../deploy/metrics.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The exposition's samples: `name{labels}` → value.
struct Exposition {
    samples: BTreeMap<String, f64>,
    text: String,
}

impl Exposition {
    async fn fetch(app: &TestApp) -> Self {
        let response = app.get("/metrics").await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
        );
        let text = response.text().await.unwrap();
        assert!(text.ends_with("# EOF\n"), "a complete exposition");
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("a sample line");
                (series.to_owned(), value.parse::<f64>().expect("a number"))
            })
            .collect();
        Self { samples, text }
    }

    /// The value of the series `name{labels}` (labels in exposition order), if exported.
    fn value(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    /// The families declared (`# TYPE` lines), named as their samples are (`_total` for
    /// counters); every sample belongs to one of them.
    fn families(&self) -> BTreeSet<String> {
        let declared: BTreeMap<&str, &str> = self
            .text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split_once(' ').expect("# TYPE name type"))
            .collect();
        for series in self.samples.keys() {
            let name = series.split('{').next().unwrap();
            let family = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|family| declared.contains_key(family))
                .unwrap_or(name);
            assert!(declared.contains_key(family), "{series} has no # TYPE");
        }
        declared
            .into_iter()
            .map(|(name, kind)| match kind {
                "counter" => format!("{name}_total"),
                _ => name.to_owned(),
            })
            .collect()
    }
}

async fn every_family_is_exported_from_start_up(app: TestApp) {
    let first = Exposition::fetch(&app).await;
    let second = Exposition::fetch(&app).await;
    assert_eq!(
        second.families(),
        families(),
        "deploy/metrics.txt lists exactly what /metrics exports"
    );
    assert!(first.value("mediawarm_database_up").is_some());
    assert_eq!(second.value("mediawarm_database_up"), Some(1.0));
    for kind in ["scrape", "warm", "invalidate"] {
        assert_eq!(
            second.value(&format!("mediawarm_queue_depth{{kind=\"{kind}\"}}")),
            Some(0.0)
        );
        for outcome in ["done", "skipped", "retry", "dead"] {
            assert_eq!(
                second.value(&format!(
                    "mediawarm_job_duration_seconds_count{{kind=\"{kind}\",outcome=\"{outcome}\"}}"
                )),
                Some(0.0)
            );
        }
    }
    for category in ["media", "volume", "simplified"] {
        for backend in ["redis", "memory", "near"] {
            assert_eq!(
                second.value(&format!(
                    "mediawarm_cache_hits_total{{category=\"{category}\",backend=\"{backend}\"}}"
                )),
                Some(0.0)
            );
        }
    }
    let connected = match app.stack {
        Stack::Embedded => 0.0,
        Stack::Production => 1.0,
    };
    assert_eq!(
        second.value("mediawarm_cache_redis_connected"),
        Some(connected)
    );
    assert_eq!(second.value("mediawarm_cache_memory_fallback"), Some(0.0));
    assert_eq!(
        second.value(
            "mediawarm_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"}"
        ),
        Some(1.0),
        "the first scrape is counted once answered"
    );
}

async fn requests_cache_reads_jobs_and_scrapes_are_counted(app: TestApp) {
    let site = FixtureSite::start().await;
    site.publish("m", 4, Utc::now() - chrono::Duration::hours(1));
    app.create_rss_source("metered", &site.feed_url()).await;
    let job = app
        .enqueue("/api/v1/jobs/scrape", json!({"source": "metered"}))
        .await;
    assert_eq!(app.wait_job(&job).await["status"], "done");

    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/media/latest").await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/media/latest?limit=0").await.status(), 400);
    assert_eq!(app.get("/no/such/route").await.status(), 404);

    let m = Exposition::fetch(&app).await;
    // Embedded reads are served from memory; production ones from Redis, or from the near
    // cache once a value read from Redis is kept there.
    let backends: &[&str] = match app.stack {
        Stack::Embedded => &["memory"],
        Stack::Production => &["redis", "near"],
    };
    let media = |family: &str| {
        backends
            .iter()
            .map(|backend| {
                m.value(&format!(
                    "{family}{{category=\"media\",backend=\"{backend}\"}}"
                ))
                .unwrap()
            })
            .sum::<f64>()
    };
    assert_eq!(media("mediawarm_cache_misses_total"), 1.0, "{}", m.text);
    assert_eq!(media("mediawarm_cache_hits_total"), 2.0, "{}", m.text);
    let latest = |status: u16| {
        m.value(&format!(
            "mediawarm_http_requests_total{{route=\"/api/v1/media/latest\",method=\"GET\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(latest(200), Some(3.0));
    assert_eq!(latest(400), Some(1.0));
    assert_eq!(
        m.value("mediawarm_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "mediawarm_http_request_duration_seconds_count{route=\"/api/v1/media/latest\",method=\"GET\"}"
        ),
        Some(4.0)
    );

    assert_eq!(
        m.value("mediawarm_job_duration_seconds_count{kind=\"scrape\",outcome=\"done\"}"),
        Some(1.0)
    );
    assert_eq!(
        m.value("mediawarm_scrape_pages_total{source=\"metered\"}"),
        Some(5.0),
        "the feed and its four article pages"
    );
    assert_eq!(
        m.value("mediawarm_scrape_articles_total{source=\"metered\",change=\"new\"}"),
        Some(4.0)
    );
    assert_eq!(
        m.value("mediawarm_scrape_articles_total{source=\"metered\",change=\"updated\"}"),
        Some(0.0)
    );
    assert_eq!(
        m.value("mediawarm_scrape_errors_total{source=\"metered\",reason=\"http_status\"}"),
        Some(0.0)
    );
    for category in ["media", "volume", "simplified"] {
        assert_eq!(
            m.value(&format!(
                "mediawarm_warm_duration_seconds_count{{category=\"{category}\"}}"
            )),
            Some(1.0),
            "the scrape invalidated and rewarmed {category}"
        );
    }
    assert_eq!(
        m.value("mediawarm_jobs{kind=\"scrape\",status=\"done\"}"),
        Some(1.0)
    );
}
