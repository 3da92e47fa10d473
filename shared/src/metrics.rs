//! Prometheus metrics of one process (API, worker, or both in embedded mode).
//!
//! One [`Metrics`] per process, cheap to clone, holding a `prometheus-client` registry with
//! every family the project exports; the list is `deploy/metrics.txt`, which the Grafana
//! dashboard and a test check against. Guarantees:
//! - every family is in the exposition from start-up; families with fixed label values (job
//!   kinds and outcomes, cache categories and backends) have every series at zero from the
//!   start, per-source series from the first time the worker sees the source;
//! - label cardinality is bounded: HTTP routes are matched templates (`unmatched` otherwise),
//!   sources are configured sources, everything else is a closed set;
//! - counting costs atomics and, for labelled families, one read-locked map lookup; nothing
//!   on a request path waits on I/O. The gauges that need the database or Redis are refreshed
//!   by [`Metrics::render`], at scrape time, with the database bounded by a timeout so the
//!   exposition is always produced.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cache::CacheService;
use crate::domain::ErrorClass;
use crate::jobs::{JobKind, JobStatus};
use crate::store::{JobCounts, Store};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long the job counts may take at scrape time before they are left out (and
/// `mediawarm_database_up` reads 0).
const DB_TIMEOUT: Duration = Duration::from_millis(1500);

/// How a finished job attempt ended, as `mediawarm_job_duration_seconds{outcome}` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Succeeded.
    Done,
    /// Succeeded without doing anything (another scrape of the source held its lease).
    Skipped,
    /// Failed transiently; queued again.
    Retry,
    /// Failed for good.
    Dead,
}

impl JobOutcome {
    /// Every outcome, for zero-initialised series.
    pub const ALL: [Self; 4] = [Self::Done, Self::Skipped, Self::Retry, Self::Dead];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Retry => "retry",
            Self::Dead => "dead",
        }
    }
}

/// `route`, `method`, `status` of an answered request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// `route`, `method` of a request, for its latency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// `kind` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// `kind`, `status` of jobs in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindStatusLabels {
    kind: &'static str,
    status: &'static str,
}

/// `kind`, `outcome` of a finished job attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindOutcomeLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// `source` of a scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

/// `source`, `reason` (an [`ErrorClass`]) of a failed scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceReasonLabels {
    source: String,
    reason: &'static str,
}

/// `source`, `change` (`new` or `updated`) of scraped articles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceChangeLabels {
    source: String,
    change: &'static str,
}

/// `category` of a warm run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CategoryLabels {
    category: String,
}

/// A family exported with its `# HELP` and `# TYPE` even before its first series (the
/// registry leaves empty families out), so every family is visible from start-up.
#[derive(Debug)]
struct Described<M>(M);

impl<M: EncodeMetric> EncodeMetric for Described<M> {
    fn encode(&self, encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// A histogram family with fixed buckets.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request latencies: 0.1 ms to about 15 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.5, 14))
}

/// Job and warm-run durations: 5 ms to about 12 minutes.
fn job_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.5, 14))
}

/// The process' metrics. Cheap to clone; clones share every series.
#[derive(Debug, Clone)]
pub struct Metrics(Arc<Inner>);

/// What [`Metrics`] holds.
#[derive(Debug)]
struct Inner {
    registry: Registry,
    cache: CacheService,
    job_counts: JobCounts,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    http_panics: Counter,
    cache_fallback: Gauge,
    redis_connected: Gauge,
    memory_entries: Gauge,
    database_up: Gauge,
    queue_depth: Family<KindLabels, Gauge>,
    jobs: Family<KindStatusLabels, Gauge>,
    job_duration: Histograms<KindOutcomeLabels>,
    scrape_pages: Family<SourceLabels, Counter>,
    scrape_articles: Family<SourceChangeLabels, Counter>,
    scrape_errors: Family<SourceReasonLabels, Counter>,
    warm_duration: Histograms<CategoryLabels>,
    jobs_repushed: Family<KindLabels, Counter>,
    jobs_rescued: Family<KindLabels, Counter>,
    stale_deliveries: Family<KindLabels, Counter>,
    cron_ticks_skipped: Counter,
}

impl Metrics {
    /// Registers every family, the cache's hit and miss counters included, with the series
    /// of `categories` (the cache's categories) and of every job kind at zero. The job
    /// gauges are read from `job_counts`, the process' snapshot of the jobs table.
    pub fn new(cache: &CacheService, categories: &[&str], job_counts: JobCounts) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "mediawarm_http_requests",
            "HTTP requests answered, by matched route, method and status",
            Described(http_requests.clone()),
        );
        let http_duration = Histograms::<RouteLabels>::new_with_constructor(request_histogram);
        registry.register(
            "mediawarm_http_request_duration_seconds",
            "HTTP request latency, by matched route and method",
            Described(http_duration.clone()),
        );
        let http_panics = Counter::default();
        registry.register(
            "mediawarm_http_panics",
            "Requests whose handler panicked (answered 500 internal_error); any is a bug",
            http_panics.clone(),
        );
        let (hits, misses) = cache.counter_families();
        for category in categories {
            cache.count_category(category);
        }
        registry.register(
            "mediawarm_cache_hits",
            "Cache reads that found a value, by category and the backend that served",
            hits,
        );
        registry.register(
            "mediawarm_cache_misses",
            "Cache reads that found nothing, by category and the backend asked",
            misses,
        );
        let cache_fallback = Gauge::default();
        registry.register(
            "mediawarm_cache_memory_fallback",
            "1 while Redis is configured but unreachable and reads go to the in-memory fallback",
            cache_fallback.clone(),
        );
        let redis_connected = Gauge::default();
        registry.register(
            "mediawarm_cache_redis_connected",
            "1 when Redis serves the cache",
            redis_connected.clone(),
        );
        let memory_entries = Gauge::default();
        registry.register(
            "mediawarm_cache_memory_entries",
            "Entries in the in-memory cache (the backend, or the fallback)",
            memory_entries.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "mediawarm_database_up",
            "1 when the database answered the last scrape's job counts",
            database_up.clone(),
        );
        let queue_depth = Family::<KindLabels, Gauge>::default();
        registry.register(
            "mediawarm_queue_depth",
            "Jobs waiting to run, by kind",
            queue_depth.clone(),
        );
        let jobs = Family::<KindStatusLabels, Gauge>::default();
        registry.register(
            "mediawarm_jobs",
            "Jobs in the store, by kind and status",
            jobs.clone(),
        );
        let job_duration = Histograms::<KindOutcomeLabels>::new_with_constructor(job_histogram);
        registry.register(
            "mediawarm_job_duration_seconds",
            "Duration of job attempts, by kind and outcome",
            job_duration.clone(),
        );
        let scrape_pages = Family::<SourceLabels, Counter>::default();
        registry.register(
            "mediawarm_scrape_pages",
            "Pages fetched by scrapes, by source",
            Described(scrape_pages.clone()),
        );
        let scrape_articles = Family::<SourceChangeLabels, Counter>::default();
        registry.register(
            "mediawarm_scrape_articles",
            "Articles written by scrapes, by source and change (new, updated)",
            Described(scrape_articles.clone()),
        );
        let scrape_errors = Family::<SourceReasonLabels, Counter>::default();
        registry.register(
            "mediawarm_scrape_errors",
            "Scrape attempts that failed, by source and reason (the run's error class)",
            Described(scrape_errors.clone()),
        );
        let warm_duration = Histograms::<CategoryLabels>::new_with_constructor(job_histogram);
        registry.register(
            "mediawarm_warm_duration_seconds",
            "Duration of warm runs (invalidate-and-rewarm or a warm job), by category",
            warm_duration.clone(),
        );

        let jobs_repushed = Family::<KindLabels, Counter>::default();
        registry.register(
            "mediawarm_jobs_repushed",
            "Pending jobs the reconciler pushed again because the queue no longer carried them, by kind",
            Described(jobs_repushed.clone()),
        );
        let jobs_rescued = Family::<KindLabels, Counter>::default();
        registry.register(
            "mediawarm_jobs_rescued",
            "Running jobs whose lease lapsed (a stopped delivery) that the reconciler requeued or ended dead, by kind",
            Described(jobs_rescued.clone()),
        );
        let stale_deliveries = Family::<KindLabels, Counter>::default();
        registry.register(
            "mediawarm_stale_deliveries",
            "Deliveries that found their job taken over by a later delivery and wrote nothing, by kind",
            Described(stale_deliveries.clone()),
        );

        let cron_ticks_skipped = Counter::default();
        registry.register(
            "mediawarm_cron_ticks_skipped",
            "Scheduler ticks not enqueued because the source still had a pending scheduled scrape",
            cron_ticks_skipped.clone(),
        );

        for kind in JobKind::ALL {
            let kind = kind.as_str();
            let _ = queue_depth.get_or_create(&KindLabels { kind });
            let _ = jobs_repushed.get_or_create(&KindLabels { kind });
            let _ = jobs_rescued.get_or_create(&KindLabels { kind });
            let _ = stale_deliveries.get_or_create(&KindLabels { kind });
            for status in JobStatus::ALL {
                let _ = jobs.get_or_create(&KindStatusLabels {
                    kind,
                    status: status.as_str(),
                });
            }
            for outcome in JobOutcome::ALL {
                let _ = job_duration.get_or_create(&KindOutcomeLabels {
                    kind,
                    outcome: outcome.as_str(),
                });
            }
        }
        for category in categories {
            let _ = warm_duration.get_or_create(&CategoryLabels {
                category: (*category).to_owned(),
            });
        }

        Self(Arc::new(Inner {
            registry,
            cache: cache.clone(),
            job_counts,
            http_requests,
            http_duration,
            http_panics,
            cache_fallback,
            redis_connected,
            memory_entries,
            database_up,
            queue_depth,
            jobs,
            job_duration,
            scrape_pages,
            scrape_articles,
            scrape_errors,
            warm_duration,
            jobs_repushed,
            jobs_rescued,
            stale_deliveries,
            cron_ticks_skipped,
        }))
    }

    /// Counts an answered request and its latency (`method` from a closed set, so label
    /// values stay bounded).
    pub fn observe_request(
        &self,
        route: String,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RouteLabels { route, method };
        self.0
            .http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.0
            .http_requests
            .get_or_create(&HttpLabels {
                route: labels.route,
                method,
                status,
            })
            .inc();
    }

    /// Counts a request whose handler panicked.
    pub fn count_panic(&self) {
        self.0.http_panics.inc();
    }

    /// Counts a scheduler tick skipped because its source's previous scheduled scrape was
    /// still pending (no label: one series however many sources there are).
    pub fn count_cron_tick_skipped(&self) {
        self.0.cron_ticks_skipped.inc();
    }

    /// Records a finished job attempt.
    pub fn observe_job(&self, kind: JobKind, outcome: JobOutcome, elapsed: Duration) {
        self.0
            .job_duration
            .get_or_create(&KindOutcomeLabels {
                kind: kind.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Creates `source`'s scrape series at zero, so they are exported before its first scrape.
    pub fn register_source(&self, source: &str) {
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        let _ = self.0.scrape_pages.get_or_create(&labels);
        for class in ErrorClass::ALL {
            let _ = self.0.scrape_errors.get_or_create(&SourceReasonLabels {
                source: source.to_owned(),
                reason: class.as_str(),
            });
        }
        for change in ["new", "updated"] {
            let _ = self.0.scrape_articles.get_or_create(&SourceChangeLabels {
                source: source.to_owned(),
                change,
            });
        }
    }

    /// Records a scrape that fetched `pages` and wrote `new` and `updated` articles.
    pub fn observe_scrape(&self, source: &str, pages: u64, new: u64, updated: u64) {
        self.register_source(source);
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        self.0.scrape_pages.get_or_create(&labels).inc_by(pages);
        for (change, n) in [("new", new), ("updated", updated)] {
            self.0
                .scrape_articles
                .get_or_create(&SourceChangeLabels {
                    source: source.to_owned(),
                    change,
                })
                .inc_by(n);
        }
    }

    /// Records a failed scrape attempt of `source` (after `pages` pages were fetched), by the
    /// class of its error.
    pub fn observe_scrape_error(&self, source: &str, pages: u64, reason: ErrorClass) {
        self.register_source(source);
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        self.0.scrape_pages.get_or_create(&labels).inc_by(pages);
        self.0
            .scrape_errors
            .get_or_create(&SourceReasonLabels {
                source: source.to_owned(),
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Counts a pending job of `kind` pushed again by the reconciler.
    pub fn observe_repushed(&self, kind: JobKind) {
        self.0
            .jobs_repushed
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// Counts a lapsed running job of `kind` rescued by the reconciler.
    pub fn observe_rescued(&self, kind: JobKind) {
        self.0
            .jobs_rescued
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// Counts a delivery of `kind` that was fenced off by a later one.
    pub fn observe_stale_delivery(&self, kind: JobKind) {
        self.0
            .stale_deliveries
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// The process' snapshot of job counts, which `/metrics` and the queue statistics share.
    pub fn job_counts(&self) -> &JobCounts {
        &self.0.job_counts
    }

    /// Records one warm run of `category`.
    pub fn observe_warm(&self, category: &str, elapsed: Duration) {
        self.0
            .warm_duration
            .get_or_create(&CategoryLabels {
                category: category.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Refreshes the gauges that need the cache or `store` (the job counts from the
    /// process' snapshot, so at most one counting query per its maximum age; bounded by a
    /// timeout: when the database does not answer, the job gauges keep their last values and
    /// `mediawarm_database_up` reads 0), then encodes everything as OpenMetrics text.
    pub async fn render(&self, store: &Store) -> String {
        let inner = &*self.0;
        inner
            .redis_connected
            .set(i64::from(inner.cache.redis_connected()));
        inner
            .cache_fallback
            .set(i64::from(inner.cache.on_fallback()));
        inner
            .memory_entries
            .set(i64::try_from(inner.cache.memory_entries().await).unwrap_or(i64::MAX));
        match tokio::time::timeout(DB_TIMEOUT, inner.job_counts.get(store)).await {
            Ok(Ok(counts)) => {
                inner.database_up.set(1);
                for kind in JobKind::ALL {
                    for status in JobStatus::ALL {
                        let n = counts.count(kind, status);
                        inner
                            .jobs
                            .get_or_create(&KindStatusLabels {
                                kind: kind.as_str(),
                                status: status.as_str(),
                            })
                            .set(n);
                        if status == JobStatus::Pending {
                            inner
                                .queue_depth
                                .get_or_create(&KindLabels {
                                    kind: kind.as_str(),
                                })
                                .set(n);
                        }
                    }
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "metrics: job counts unavailable");
                inner.database_up.set(0);
            }
            Err(_) => {
                tracing::warn!("metrics: job counts timed out");
                inner.database_up.set(0);
            }
        }
        let mut out = String::with_capacity(16 * 1024);
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &inner.registry) {
            tracing::error!(%error, "metrics: encoding failed");
        }
        out
    }
}
