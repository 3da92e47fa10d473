//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every endpoint, generated from the
//! handlers' `#[utoipa::path]` annotations.
//!
//! Guarantees: every route [`crate::build_app`] serves appears here with every status it can
//! answer, and every 4xx/5xx is documented with the one error shape (`ErrorBody`). The
//! document is built once per process and served as fixed bytes.
//!
//! The shapes of values defined in `mediawarm-shared` (articles, sources, runs, cache stats,
//! view bodies) are described by the mirror types in [`schemas`], so the shared crate does not
//! depend on the documentation generator. The schemathesis run (`.ci/schemathesis.sh`)
//! validates live responses against them, which is what keeps the mirrors honest.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{cache, dashboard, health, jobs, media, metrics, queue, sources, views};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

/// The document as served.
static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    let json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    Bytes::from(json)
});

/// The OpenAPI document of the whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mediawarm",
        description = "Cached reads of scraped news articles, and the operator endpoints that \
                       manage sources, jobs and the cache. Every error answers \
                       `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        media::latest,
        media::article,
        views::volume,
        views::simplified,
        cache::stats,
        cache::hot,
        cache::clear,
        sources::list,
        sources::create,
        sources::show,
        sources::update,
        sources::remove,
        jobs::scrape,
        jobs::warm,
        jobs::invalidate,
        jobs::list,
        jobs::one,
        jobs::retry,
        queue::stats,
        health::healthz,
        health::readyz,
        metrics::metrics,
        dashboard::page,
        document,
    ),
    modifiers(&OperatorAuth),
    tags(
        (name = "reads", description = "Cached reads: anyone."),
        (name = "cache", description = "Cache statistics and clearing."),
        (name = "sources", description = "Source definitions."),
        (name = "jobs", description = "Operator jobs: scrape, warm, invalidate."),
        (name = "operations", description = "Health, readiness, metrics, the dashboard and this document."),
    ),
)]
pub(crate) struct ApiDoc;

/// Declares the `operator` bearer scheme the operator endpoints name.
struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <OPERATOR_TOKEN>`"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
async fn document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.clone(),
    )
        .into_response()
}

/// Documentation-only mirrors of the JSON shapes the API answers (see the module header).
/// They are never built: only their schemas are used.
#[allow(dead_code)]
pub(crate) mod schemas {
    use std::collections::BTreeMap;

    use utoipa::ToSchema;

    /// Every 4xx and 5xx answer.
    #[derive(ToSchema)]
    pub(crate) struct ErrorBody {
        pub(crate) error: ErrorDetail,
    }

    /// What went wrong.
    #[derive(ToSchema)]
    pub(crate) struct ErrorDetail {
        /// Stable snake_case reason, e.g. `invalid_cursor`, `unknown_source`,
        /// `database_unavailable`, `queue_full`, `unauthorized`, `body_too_large`.
        #[schema(example = "invalid_cursor", pattern = "^[a-z][a-z0-9_]*$")]
        pub(crate) code: String,
        /// For people.
        pub(crate) message: String,
    }

    /// An article.
    #[derive(ToSchema)]
    pub(crate) struct Article {
        /// Database id.
        #[schema(minimum = 1)]
        pub(crate) id: i64,
        /// The source's name.
        pub(crate) source: String,
        /// Canonical URL.
        pub(crate) url: String,
        /// Headline.
        pub(crate) title: String,
        /// Author(s).
        #[schema(required = true)]
        pub(crate) author: Option<String>,
        /// The page's publication date (RFC 3339, UTC).
        #[schema(required = true, format = DateTime)]
        pub(crate) published_at: Option<String>,
        /// Description or lede.
        #[schema(required = true)]
        pub(crate) summary: Option<String>,
    }

    /// A page of the latest articles, newest first.
    #[derive(ToSchema)]
    pub(crate) struct LatestPage {
        /// The articles.
        pub(crate) items: Vec<Article>,
        /// The page size.
        pub(crate) limit: u32,
        /// Present in offset mode only.
        #[schema(required = false)]
        pub(crate) offset: u64,
        /// Pass back as `cursor` for the next page; null on the last page (and in offset
        /// mode).
        #[schema(required = true)]
        pub(crate) next_cursor: Option<String>,
    }

    /// Article counts per time bucket.
    #[derive(ToSchema)]
    pub(crate) struct Volume {
        /// `hour` or `day`.
        pub(crate) interval: String,
        /// The IANA time zone buckets are aligned in.
        pub(crate) tz: String,
        /// The source filter, or null.
        #[schema(required = true)]
        pub(crate) source: Option<String>,
        /// Start of the first bucket (RFC 3339).
        #[schema(format = DateTime)]
        pub(crate) from: String,
        /// End of the window (RFC 3339).
        #[schema(format = DateTime)]
        pub(crate) to: String,
        /// Every bucket of the window, empty ones included.
        pub(crate) buckets: Vec<Bucket>,
        /// Sum of the counts.
        pub(crate) total: i64,
    }

    /// One bucket.
    #[derive(ToSchema)]
    pub(crate) struct Bucket {
        /// Start of the bucket (RFC 3339).
        #[schema(format = DateTime)]
        pub(crate) start: String,
        /// Articles whose sort time falls in it.
        pub(crate) count: i64,
    }

    /// Activity scores per source.
    #[derive(ToSchema)]
    pub(crate) struct Simplified {
        /// One row per source.
        pub(crate) sources: Vec<SimplifiedRow>,
    }

    /// One source's activity.
    #[derive(ToSchema)]
    pub(crate) struct SimplifiedRow {
        /// The source.
        pub(crate) source: String,
        /// Articles in the last 24 hours.
        pub(crate) articles_24h: i64,
        /// Mean articles a day over the 7 days before those 24 hours.
        pub(crate) daily_mean_7d: f64,
        /// `articles_24h / max(daily_mean_7d, 1)`.
        pub(crate) score: f64,
    }

    /// Cache statistics.
    #[derive(ToSchema)]
    pub(crate) struct CacheStatsBody {
        /// The statistics.
        pub(crate) cache: CacheStats,
        /// `Cache statistics retrieved successfully`.
        pub(crate) message: String,
    }

    /// The cache's state and counters.
    #[derive(ToSchema)]
    pub(crate) struct CacheStats {
        /// `redis` or `memory`: what serves reads right now.
        pub(crate) backend: String,
        /// Whether Redis answers right now.
        pub(crate) redis_connected: bool,
        /// Redis' used memory (e.g. `2.50M`), when it answered.
        #[schema(required = true)]
        pub(crate) redis_used_memory: Option<String>,
        /// Redis' key count, when it answered.
        #[schema(required = true)]
        pub(crate) redis_keys: Option<u64>,
        /// Entries in the memory cache.
        pub(crate) memory_cache_size: u64,
        /// Reads served from the cache.
        pub(crate) hits: u64,
        /// Reads that were computed.
        pub(crate) misses: u64,
        /// `hits / (hits + misses)`, 0 without reads.
        pub(crate) hit_rate: f64,
        /// The same counters per category (`media`, `volume`, `simplified`).
        pub(crate) categories: BTreeMap<String, CategoryStats>,
    }

    /// One category's counters.
    #[derive(ToSchema)]
    pub(crate) struct CategoryStats {
        /// Reads served from the cache.
        pub(crate) hits: u64,
        /// Reads that were computed.
        pub(crate) misses: u64,
        /// `hits / (hits + misses)`.
        pub(crate) hit_rate: f64,
    }

    /// The hottest cache keys.
    #[derive(ToSchema)]
    pub(crate) struct HotKeysBody {
        /// Hottest first; at most `limit`.
        pub(crate) keys: Vec<HotKey>,
        /// The limit applied.
        #[schema(minimum = 1, maximum = 100)]
        pub(crate) limit: u32,
    }

    /// One hot key.
    #[derive(ToSchema)]
    pub(crate) struct HotKey {
        /// The logical cache key (without the deployment's prefix), e.g.
        /// `volume:day:…`; `POST /api/v1/jobs/warm` accepts it in `keys`.
        pub(crate) key: String,
        /// Its category: `media`, `volume` or `simplified`.
        pub(crate) category: String,
    }

    /// What a cache clear removed.
    #[derive(ToSchema)]
    pub(crate) struct Cleared {
        /// Stored keys removed.
        pub(crate) deleted: u64,
        /// The pattern given, or null.
        #[schema(required = true)]
        pub(crate) pattern: Option<String>,
        /// For people.
        pub(crate) message: String,
    }

    /// CSS selectors of a source.
    #[derive(ToSchema)]
    pub(crate) struct Selectors {
        /// Links to article pages on the listing.
        pub(crate) links: Option<String>,
        /// The headline.
        pub(crate) title: Option<String>,
        /// The byline.
        pub(crate) author: Option<String>,
        /// The publication date.
        pub(crate) date: Option<String>,
        /// The lede.
        pub(crate) summary: Option<String>,
    }

    /// A source definition.
    #[derive(ToSchema)]
    pub(crate) struct Source {
        /// Unique name.
        #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
        pub(crate) name: String,
        /// `rss`, `atom`, `html`, `sitemap` or `import`.
        #[schema(pattern = "^(rss|atom|html|sitemap|import)$")]
        pub(crate) kind: String,
        /// Start URL (empty for `import` sources).
        pub(crate) url: String,
        /// CSS selectors, or null.
        #[schema(required = true)]
        pub(crate) selectors: Option<Selectors>,
        /// Cron schedule with a seconds field, or null.
        #[schema(required = true)]
        pub(crate) schedule: Option<String>,
        /// Requests per second against the source's host.
        pub(crate) rate_limit_per_sec: f64,
        /// Whether the scheduler runs it.
        pub(crate) enabled: bool,
    }

    /// One scrape job's record.
    #[derive(ToSchema)]
    pub(crate) struct ScrapeRun {
        /// The job.
        pub(crate) job_id: String,
        /// The source.
        pub(crate) source: String,
        /// When the latest attempt started.
        #[schema(format = DateTime)]
        pub(crate) started_at: String,
        /// When it finished; null while running.
        #[schema(required = true, format = DateTime)]
        pub(crate) finished_at: Option<String>,
        /// `running`, `succeeded`, `failed` or `skipped`.
        pub(crate) status: String,
        /// HTTP pages fetched.
        pub(crate) pages_fetched: i64,
        /// Articles stored for the first time.
        pub(crate) articles_new: i64,
        /// Stored articles whose content changed.
        pub(crate) articles_updated: i64,
        /// A failed run: the fixed sentence of its `error_class` (never the error's text). A
        /// skipped run: why it was skipped.
        #[schema(required = true)]
        pub(crate) error: Option<String>,
        /// A failed run's class: `fetch_failed`, `http_status`, `refused_address`,
        /// `robots_disallowed`, `parse_failed`, `page_too_large`, `timeout`,
        /// `database_error`, `queue_error`, `internal` or `unknown`.
        #[schema(required = true)]
        pub(crate) error_class: Option<String>,
        /// The error's full text: only with the operator token.
        pub(crate) error_detail: Option<String>,
        /// The article pages the run went on without (at most 50).
        pub(crate) skipped_pages: Vec<SkippedPage>,
    }

    /// An article page a run could not use.
    #[derive(ToSchema)]
    pub(crate) struct SkippedPage {
        /// The page's URL (at most 300 characters of it).
        pub(crate) url: String,
        /// Why: an error class (`page_too_large`, `http_status`, `timeout`…).
        pub(crate) reason: String,
    }

    /// A source with its latest runs, newest first.
    #[derive(ToSchema)]
    pub(crate) struct SourceWithRuns {
        /// The source.
        #[serde(flatten)]
        pub(crate) source: Source,
        /// The latest scrape runs.
        pub(crate) runs: Vec<ScrapeRun>,
    }

    /// A source of the list, with its latest scrape run.
    #[derive(ToSchema)]
    pub(crate) struct ListedSource {
        /// The source.
        #[serde(flatten)]
        pub(crate) source: Source,
        /// Its latest scrape run, or null when it never ran.
        #[schema(required = true)]
        pub(crate) last_run: Option<ScrapeRun>,
    }

    /// Every live source, by name.
    #[derive(ToSchema)]
    pub(crate) struct SourceList {
        /// The sources.
        pub(crate) sources: Vec<ListedSource>,
    }

    /// A new source (POST body).
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct NewSource {
        /// Unique name.
        #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
        pub(crate) name: String,
        /// `rss`, `atom`, `html` or `sitemap`.
        #[schema(pattern = "^(rss|atom|html|sitemap)$")]
        pub(crate) kind: String,
        /// Start URL (http or https).
        pub(crate) url: String,
        /// CSS selectors (`links` required for `html`).
        pub(crate) selectors: Option<Selectors>,
        /// Cron schedule with a seconds field.
        pub(crate) schedule: Option<String>,
        /// Requests per second (default 1).
        pub(crate) rate_limit_per_sec: Option<f64>,
        /// Default true.
        pub(crate) enabled: Option<bool>,
    }

    /// A PATCH body: absent fields keep their value; `selectors` and `schedule` may be null.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SourceChanges {
        /// Only the current name is accepted.
        pub(crate) name: Option<String>,
        /// A new kind.
        pub(crate) kind: Option<String>,
        /// A new start URL.
        pub(crate) url: Option<String>,
        /// New selectors, or null to remove them.
        pub(crate) selectors: Option<Selectors>,
        /// A new schedule, or null to unschedule.
        pub(crate) schedule: Option<String>,
        /// A new rate limit.
        pub(crate) rate_limit_per_sec: Option<f64>,
        /// Enables or disables the schedule.
        pub(crate) enabled: Option<bool>,
    }

    /// What a source delete did.
    #[derive(ToSchema)]
    pub(crate) struct SourceDeleted {
        /// The source's name.
        pub(crate) deleted: String,
        /// Whether its articles were removed.
        pub(crate) purged: bool,
    }

    /// A job was recorded and queued.
    #[derive(ToSchema)]
    pub(crate) struct JobAccepted {
        /// The job's id (a ULID).
        pub(crate) job_id: String,
        /// Where to follow it.
        pub(crate) status_url: String,
    }

    /// A job's record.
    #[derive(ToSchema)]
    pub(crate) struct Job {
        /// ULID.
        pub(crate) id: String,
        /// `scrape`, `warm` or `invalidate`.
        pub(crate) kind: String,
        /// `pending`, `running`, `done` or `dead`.
        pub(crate) status: String,
        /// Attempts started.
        pub(crate) attempts: i32,
        /// Attempts allowed.
        pub(crate) max_attempts: i32,
        /// The work as enqueued.
        #[schema(value_type = Object)]
        pub(crate) payload: serde_json::Value,
        /// What it did (when done).
        #[schema(required = true, value_type = Option<Object>)]
        pub(crate) result: Option<serde_json::Value>,
        /// The last error.
        #[schema(required = true)]
        pub(crate) error: Option<String>,
        /// When it was enqueued.
        #[schema(format = DateTime)]
        pub(crate) created_at: String,
        /// When it last changed.
        #[schema(format = DateTime)]
        pub(crate) updated_at: String,
        /// When its next attempt is due.
        #[schema(required = true, format = DateTime)]
        pub(crate) run_after: Option<String>,
        /// When it ended.
        #[schema(required = true, format = DateTime)]
        pub(crate) finished_at: Option<String>,
        /// The `x-request-id` of the request that enqueued it (null for scheduled jobs).
        #[schema(required = true)]
        pub(crate) request_id: Option<String>,
    }

    /// Recent jobs, newest first.
    #[derive(ToSchema)]
    pub(crate) struct JobList {
        /// The jobs.
        pub(crate) jobs: Vec<Job>,
    }

    /// Jobs per kind and status, from the jobs table.
    #[derive(ToSchema)]
    pub(crate) struct QueueStats {
        /// When the jobs were counted: the counts are a per-process snapshot at most
        /// `JOB_COUNTS_MAX_AGE_MS` (1 s by default) old.
        #[schema(format = DateTime)]
        pub(crate) as_of: String,
        /// Jobs waiting or running, all kinds: what backpressure bounds.
        pub(crate) depth: i64,
        /// Above this depth enqueueing answers 503 `queue_full`.
        pub(crate) max_depth: i64,
        /// Every kind (`scrape`, `warm`, `invalidate`) with its counts.
        pub(crate) kinds: BTreeMap<String, KindCounts>,
    }

    /// One kind's jobs per status; `done` and `dead` count the finished jobs still kept.
    #[derive(ToSchema)]
    pub(crate) struct KindCounts {
        /// Queued, or waiting for a retry.
        pub(crate) pending: i64,
        /// Being run.
        pub(crate) running: i64,
        /// Finished successfully.
        pub(crate) done: i64,
        /// Failed for good.
        pub(crate) dead: i64,
    }

    /// Liveness.
    #[derive(ToSchema)]
    pub(crate) struct Health {
        /// `ok`.
        pub(crate) status: String,
    }

    /// Readiness.
    #[derive(ToSchema)]
    pub(crate) struct Readiness {
        /// `ready` or `not_ready`.
        pub(crate) status: String,
        /// `ok` or `unavailable`.
        pub(crate) database: String,
        /// `redis` or `memory`.
        pub(crate) cache: String,
        /// Whether Redis answers.
        pub(crate) redis_connected: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_route_and_the_error_shape() {
        let doc: serde_json::Value = serde_json::from_slice(&DOCUMENT).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/v1/media/latest",
            "/api/v1/media/{id}",
            "/api/v1/volume",
            "/api/v1/simplified",
            "/api/v1/media/cache/stats",
            "/api/v1/media/cache/hot",
            "/api/v1/media/cache/clear",
            "/api/v1/sources",
            "/api/v1/sources/{name}",
            "/api/v1/jobs",
            "/api/v1/jobs/scrape",
            "/api/v1/jobs/warm",
            "/api/v1/jobs/invalidate",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/retry",
            "/api/v1/queue/stats",
            "/healthz",
            "/readyz",
            "/metrics",
            "/dashboard",
            "/api/v1/openapi.json",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        assert!(doc["components"]["securitySchemes"]["operator"].is_object());
    }

    #[test]
    fn every_error_answer_is_documented_with_the_error_shape() {
        let doc: serde_json::Value = serde_json::from_slice(&DOCUMENT).expect("json");
        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str().expect("operationId");
                assert!(operation_ids.insert(id.to_owned()), "{id} is not unique");
                for (status, response) in op["responses"].as_object().expect("responses") {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        let expected = if path == "/readyz" {
                            "#/components/schemas/Readiness"
                        } else {
                            "#/components/schemas/ErrorBody"
                        };
                        assert_eq!(schema, expected, "{method} {path} {status}");
                    }
                }
            }
        }
    }
}
