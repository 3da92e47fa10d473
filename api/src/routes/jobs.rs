//! Operator job endpoints: enqueue scrape, warm and invalidate jobs; read and retry jobs.
//!
//! Every write here only records and enqueues a job (202 with its `job_id` and
//! `status_url`); workers do the work. Above `QUEUE_MAX_DEPTH` waiting or running jobs,
//! enqueueing answers 503 `queue_full` with `Retry-After` and nothing is recorded.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use mediawarm_shared::cache::{CacheKey, KeyPattern};
use mediawarm_shared::domain::{Limit, SourceKind, SourceName};
use mediawarm_shared::jobs::{
    InvalidateCache, JobEnvelope, JobKind, JobPayload, JobRecord, JobStatus, ScrapeSource,
    WarmCache,
};
use mediawarm_shared::queue::{EnqueueError, EnqueueOptions, enqueue, new_task_id};
use mediawarm_shared::views::{CATEGORIES, View};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::params::Params;
use crate::auth::Operator;
use crate::error::{ApiError, ErrorBody, Result};
use crate::request_id::RequestId;
use crate::state::AppState;

/// The most keys one warm job may name, and the largest `top_n`.
const MAX_WARM_KEYS: usize = 1_000;
/// The most patterns one invalidate job may name.
const MAX_PATTERNS: usize = 100;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list))
        .route("/api/v1/jobs/scrape", post(scrape))
        .route("/api/v1/jobs/warm", post(warm))
        .route("/api/v1/jobs/invalidate", post(invalidate))
        .route("/api/v1/jobs/{id}", get(one))
        .route("/api/v1/jobs/{id}/retry", post(retry))
}

/// `POST /api/v1/jobs/scrape`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScrapeBody {
    /// The source to scrape.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    source: String,
    /// Also re-fetch known article pages.
    #[serde(default)]
    refresh: bool,
}

/// `POST /api/v1/jobs/warm`: either `top_n` or `keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WarmBody {
    /// Recompute the hottest N keys (1 to 1,000).
    #[schema(minimum = 1, maximum = 1000)]
    top_n: Option<u32>,
    /// Recompute these keys (1 to 1,000, each naming a view).
    #[schema(min_items = 1, max_items = 1000)]
    keys: Option<Vec<String>>,
}

/// `POST /api/v1/jobs/invalidate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvalidateBody {
    /// Key patterns such as `volume:*` (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    patterns: Vec<String>,
}

/// The body of a 202 from an enqueueing endpoint: the job was recorded and queued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobAccepted {
    /// The job's id (a ULID).
    job_id: String,
    /// Where to follow it.
    status_url: String,
}

/// A job's record as `GET /api/v1/jobs/{id}` and `GET /api/v1/jobs` show it: the stored
/// record without its delivery bookkeeping (task id, delivery count, lease).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Job {
    /// ULID.
    id: String,
    /// `scrape`, `warm` or `invalidate`.
    #[schema(value_type = String)]
    kind: JobKind,
    /// `pending`, `running`, `done` or `dead`.
    #[schema(value_type = String)]
    status: JobStatus,
    /// Attempts started.
    attempts: i32,
    /// Attempts allowed.
    max_attempts: i32,
    /// The work as enqueued.
    #[schema(value_type = Object)]
    payload: Value,
    /// What it did (when done).
    #[schema(required = true, value_type = Option<Object>)]
    result: Option<Value>,
    /// The last error.
    #[schema(required = true)]
    error: Option<String>,
    /// When it was enqueued.
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    updated_at: DateTime<Utc>,
    /// When its next attempt is due.
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    run_after: Option<DateTime<Utc>>,
    /// When it ended.
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    finished_at: Option<DateTime<Utc>>,
    /// The `x-request-id` of the request that enqueued it (null for scheduled jobs).
    #[schema(required = true)]
    request_id: Option<String>,
}

impl From<JobRecord> for Job {
    fn from(job: JobRecord) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            status: job.status,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            payload: job.payload,
            result: job.result,
            error: job.error,
            created_at: job.created_at,
            updated_at: job.updated_at,
            run_after: job.run_after,
            finished_at: job.finished_at,
            request_id: job.request_id,
        }
    }
}

/// The body of `GET /api/v1/jobs`: recent jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobList {
    /// The jobs.
    jobs: Vec<Job>,
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/scrape",
    tag = "jobs",
    request_body = ScrapeBody,
    security(("operator" = [])),
    responses(
        (status = 202, description = "Recorded and queued", body = JobAccepted, headers(("location" = String, description = "The job's URL"))),
        (status = 400, description = "An invalid body", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`queue_full` (with `Retry-After`), `queue_unavailable` or `database_unavailable`", body = ErrorBody, headers(("retry-after" = String, description = "Seconds to wait"))),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn scrape(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    _: Operator,
    body: std::result::Result<Json<ScrapeBody>, JsonRejection>,
) -> Result<Response> {
    let Json(body) = body?;
    let name = SourceName::parse(&body.source)?;
    let source = state.store.get_source(&name).await?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_source",
            format!("unknown source {:?}", name.as_str()),
        )
    })?;
    if source.kind == SourceKind::Import {
        return Err(ApiError::bad_request(
            "not_scrapable",
            format!(
                "source {:?} holds imported articles and has nothing to scrape",
                name.as_str()
            ),
        ));
    }
    submit(
        &state,
        &request_id,
        JobPayload::Scrape(ScrapeSource {
            source: name,
            refresh: body.refresh,
        }),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/warm",
    tag = "jobs",
    request_body = WarmBody,
    security(("operator" = [])),
    responses(
        (status = 202, description = "Recorded and queued", body = JobAccepted, headers(("location" = String, description = "The job's URL"))),
        (status = 400, description = "An invalid body", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`queue_full` (with `Retry-After`), `queue_unavailable` or `database_unavailable`", body = ErrorBody, headers(("retry-after" = String, description = "Seconds to wait"))),
    ),
)]
#[tracing::instrument(skip_all)]
async fn warm(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    _: Operator,
    body: std::result::Result<Json<WarmBody>, JsonRejection>,
) -> Result<Response> {
    let Json(body) = body?;
    let target = match (body.top_n, body.keys) {
        (Some(n), None) if (1..=MAX_WARM_KEYS as u32).contains(&n) => WarmCache::TopN(n),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "invalid_top_n",
                format!("top_n is a whole number from 1 to {MAX_WARM_KEYS}"),
            ));
        }
        (None, Some(keys)) if !keys.is_empty() && keys.len() <= MAX_WARM_KEYS => {
            let keys = keys
                .iter()
                .map(|raw| {
                    View::parse(raw)
                        .map_err(|e| ApiError::bad_request("unknown_key", e.to_string()))
                        .map(|view| view.key())
                })
                .collect::<Result<Vec<CacheKey>>>()?;
            WarmCache::Keys(keys)
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("keys holds 1 to {MAX_WARM_KEYS} keys"),
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give either top_n or keys",
            ));
        }
    };
    submit(&state, &request_id, JobPayload::Warm { target }).await
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/invalidate",
    tag = "jobs",
    request_body = InvalidateBody,
    security(("operator" = [])),
    responses(
        (status = 202, description = "Recorded and queued", body = JobAccepted, headers(("location" = String, description = "The job's URL"))),
        (status = 400, description = "An invalid body", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`queue_full` (with `Retry-After`), `queue_unavailable` or `database_unavailable`", body = ErrorBody, headers(("retry-after" = String, description = "Seconds to wait"))),
    ),
)]
#[tracing::instrument(skip_all)]
async fn invalidate(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    _: Operator,
    body: std::result::Result<Json<InvalidateBody>, JsonRejection>,
) -> Result<Response> {
    let Json(body) = body?;
    if body.patterns.is_empty() || body.patterns.len() > MAX_PATTERNS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("patterns holds 1 to {MAX_PATTERNS} patterns"),
        ));
    }
    for raw in &body.patterns {
        KeyPattern::parse(raw, CATEGORIES)?;
    }
    submit(
        &state,
        &request_id,
        JobPayload::Invalidate(InvalidateCache {
            patterns: body.patterns,
        }),
    )
    .await
}

/// Records and enqueues a job under the request's id; 202 with where to follow it.
async fn submit(state: &AppState, request_id: &RequestId, payload: JobPayload) -> Result<Response> {
    let queue = state.queue()?;
    let options = EnqueueOptions {
        request_id: Some(request_id.as_str().to_owned()),
        ..state.enqueue.clone()
    };
    match enqueue(&state.store, &queue, payload, &options).await {
        Ok(Some(id)) => Ok(accepted(&id)),
        Ok(None) => Err(ApiError::Internal(
            "a job without a de-duplication key was de-duplicated".to_owned(),
        )),
        Err(EnqueueError::QueueFull { depth }) => Err(ApiError::QueueFull { depth }),
        Err(EnqueueError::Store(e)) => Err(e.into()),
        Err(EnqueueError::Queue(e)) => Err(ApiError::QueueUnavailable(e.to_string())),
    }
}

fn accepted(id: &str) -> Response {
    let status_url = format!("/api/v1/jobs/{id}");
    let location = HeaderValue::from_str(&status_url).ok();
    let mut response = (
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            job_id: id.to_owned(),
            status_url,
        }),
    )
        .into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn parse_job_id(path: std::result::Result<Path<String>, PathRejection>) -> Result<String> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request("invalid_job_id", e.body_text()))?;
    raw.parse::<ulid::Ulid>()
        .map(|u| u.to_string())
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_job_id",
                "a job id is a ULID such as 01HZX3Q5V8N2M4K6J7H9G0F1E2",
            )
        })
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    operation_id = "show_job",
    params(("id" = String, Path, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$", description = "The job's id (a ULID)")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 400, description = "`invalid_job_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_job`", body = ErrorBody),
        (status = 503, description = "`database_unavailable` or `query_timeout` (a read ran past 5 s)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn one(
    State(state): State<AppState>,
    _: Operator,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Json<Job>> {
    let id = parse_job_id(path)?;
    let job = state
        .reads
        .job(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_job", format!("no job {id}")))?;
    Ok(Json(job.into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    operation_id = "list_jobs",
    params(
        ("status" = Option<String>, Query, pattern = "^(pending|running|done|dead)$", description = "Only jobs in this state"),
        ("kind" = Option<String>, Query, pattern = "^(scrape|warm|invalidate)$", description = "Only jobs of this kind"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "How many (default 20)"),
    ),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Recent jobs, newest first", body = JobList),
        (status = 400, description = "`invalid_status`, `invalid_kind` or `invalid_limit`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`database_unavailable` or `query_timeout` (a read ran past 5 s)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(State(state): State<AppState>, _: Operator, params: Params) -> Result<Json<JobList>> {
    let status = params
        .get("status")
        .map(|s| {
            s.parse::<JobStatus>()
                .map_err(|e| ApiError::bad_request("invalid_status", e))
        })
        .transpose()?;
    let kind = params
        .get("kind")
        .map(|s| {
            s.parse::<JobKind>()
                .map_err(|e| ApiError::bad_request("invalid_kind", e))
        })
        .transpose()?;
    let limit = params
        .get("limit")
        .map(Limit::parse)
        .transpose()?
        .unwrap_or(Limit::DEFAULT);
    let jobs = state.reads.list_jobs(status, kind, limit.get()).await?;
    Ok(Json(JobList {
        jobs: jobs.into_iter().map(Job::from).collect(),
    }))
}

/// Re-enqueues a dead job with a fresh set of attempts.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = String, Path, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$", description = "The job's id (a ULID)")),
    security(("operator" = [])),
    responses(
        (status = 202, description = "Queued again", body = JobAccepted, headers(("location" = String, description = "The job's URL"))),
        (status = 400, description = "`invalid_job_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_job`", body = ErrorBody),
        (status = 409, description = "`job_not_dead`", body = ErrorBody),
        (status = 503, description = "`queue_unavailable` or `database_unavailable`", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn retry(
    State(state): State<AppState>,
    _: Operator,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = parse_job_id(path)?;
    let queue = state.queue()?;
    let task_id = new_task_id();
    let Some(job) = state
        .store
        .requeue_dead_job(&id, &task_id, Utc::now())
        .await?
    else {
        return match state.reads.job(&id).await? {
            None => Err(ApiError::not_found("unknown_job", format!("no job {id}"))),
            Some(job) => Err(ApiError::conflict(
                "job_not_dead",
                format!(
                    "job {id} is {}; only dead jobs can be retried",
                    job.status.as_str()
                ),
            )),
        };
    };
    let payload: JobPayload = serde_json::from_value(job.payload.clone())
        .map_err(|e| ApiError::Internal(format!("stored payload of {id} does not parse: {e}")))?;
    let envelope = JobEnvelope {
        job_id: id.clone(),
        payload,
        request_id: job.request_id.clone(),
    };
    if let Err(error) = queue.push(envelope, &task_id, None).await {
        let message = format!("could not be queued: {error}");
        state
            .store
            .abandon_pending_job(&id, &message, Utc::now())
            .await?;
        return Err(ApiError::QueueUnavailable(error.to_string()));
    }
    Ok(accepted(&id))
}
