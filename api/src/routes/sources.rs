//! `/api/v1/sources`: list and read source definitions (anyone), create, patch and delete
//! them (operator).
//!
//! Every body is parsed into a [`SourceSpec`] (POST) or checked through
//! [`SourcePatch::apply`] (PATCH) before the store is touched, so a refused request writes
//! nothing. Reads are not cached: the table is small and operators expect to see their
//! writes at once.
//!
//! Cache: every write changes the simplified view (it lists sources), so it invalidates
//! `simplified:*`. A delete also invalidates every data category: with `purge` the articles
//! are gone, and without it every `?source=` filtered view of that source becomes a 404.
//! Invalidation runs after the write is committed; when it fails (Redis unreachable) the
//! answer is 503 `cache_unavailable` whose message says the write was committed, so a client
//! must not blindly retry a POST (it would get 409) and should clear the cache or wait out
//! the TTL.

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mediawarm_shared::cache::KeyPattern;
use mediawarm_shared::domain::{
    ErrorClass, RunStatus, ScrapeRun, SkippedPage, Source, SourceName, SourcePatch, SourceSpec,
    SourceSpecInput,
};
use mediawarm_shared::error::StoreError;
use mediawarm_shared::views::{CATEGORIES, DATA_CATEGORIES};
use serde::Serialize;

use super::params::Params;
use crate::auth::Operator;
use crate::error::{ApiError, ErrorBody, Result};
use crate::state::AppState;

/// How many scrape runs `GET /api/v1/sources/{name}` shows.
const RUNS_SHOWN: u32 = 20;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sources", get(list).post(create))
        .route(
            "/api/v1/sources/{name}",
            get(show).patch(update).delete(remove),
        )
}

/// The body of `GET /api/v1/sources`: every live source, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SourceList {
    /// The sources.
    sources: Vec<ListedSource>,
}

/// A source of the list, with its latest scrape run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ListedSource {
    /// The source.
    #[serde(flatten)]
    source: Source,
    /// Its latest scrape run, or null when it never ran.
    #[schema(required = true)]
    last_run: Option<RunView>,
}

/// The body of `GET /api/v1/sources/{name}`: a source with its latest runs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SourceWithRuns {
    /// The source.
    #[serde(flatten)]
    source: Source,
    /// The latest scrape runs.
    runs: Vec<RunView>,
}

/// The body of `DELETE /api/v1/sources/{name}`: what the delete did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SourceDeleted {
    /// The source's name.
    #[schema(value_type = String)]
    deleted: SourceName,
    /// Whether its articles were removed.
    purged: bool,
}

/// A scrape run as the API shows it. Anyone sees a failed run's `error_class` (runs recorded
/// before classes existed: `unknown`) and, in `error`, that class's fixed sentence, never the
/// error's text; a skipped run's `error` is why it was skipped. The operator also gets
/// `error_detail`, the error's full text. `skipped_pages` lists the article pages the run
/// went on without, each with its error class.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ScrapeRun)]
pub(crate) struct RunView {
    /// The job.
    job_id: String,
    /// The source.
    source: String,
    /// When the latest attempt started.
    #[schema(value_type = String, format = DateTime)]
    started_at: chrono::DateTime<chrono::Utc>,
    /// When it finished; null while running.
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `running`, `succeeded`, `failed` or `skipped`.
    #[schema(value_type = String)]
    status: RunStatus,
    /// HTTP pages fetched.
    pages_fetched: i64,
    /// Articles stored for the first time.
    articles_new: i64,
    /// Stored articles whose content changed.
    articles_updated: i64,
    /// A failed run: the fixed sentence of its `error_class` (never the error's text). A
    /// skipped run: why it was skipped.
    #[schema(required = true)]
    error: Option<String>,
    /// A failed run's class: `fetch_failed`, `http_status`, `refused_address`,
    /// `robots_disallowed`, `parse_failed`, `page_too_large`, `timeout`,
    /// `database_error`, `queue_error`, `internal` or `unknown`.
    #[schema(required = true, value_type = Option<String>)]
    error_class: Option<ErrorClass>,
    /// The error's full text: only with the operator token.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_detail: Option<String>,
    /// The article pages the run went on without (at most 50).
    skipped_pages: Vec<SkippedPage>,
}

impl RunView {
    fn new(run: ScrapeRun, operator: bool) -> Self {
        let class = run
            .error_class
            .or((run.status == RunStatus::Failed).then_some(ErrorClass::Unknown));
        let error = match class {
            Some(class) => Some(class.sentence().to_owned()),
            None if run.status == RunStatus::Skipped => run.error.clone(),
            None => None,
        };
        Self {
            job_id: run.job_id,
            source: run.source,
            started_at: run.started_at,
            finished_at: run.finished_at,
            status: run.status,
            pages_fetched: run.pages_fetched,
            articles_new: run.articles_new,
            articles_updated: run.articles_updated,
            error,
            error_class: class,
            error_detail: run.error.filter(|_| operator),
            skipped_pages: run.skipped_pages,
        }
    }
}

/// The `{name}` path segment as a source name; 400 `invalid_source` otherwise.
fn source_name(path: std::result::Result<Path<String>, PathRejection>) -> Result<SourceName> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request("invalid_source", e.body_text()))?;
    Ok(SourceName::parse(&raw)?)
}

fn unknown(name: &SourceName) -> ApiError {
    ApiError::not_found(
        "unknown_source",
        format!("unknown source {:?}", name.as_str()),
    )
}

/// Invalidates `pattern` over `categories` after a committed write described by `what`.
async fn invalidate(
    state: &AppState,
    pattern: &str,
    categories: &[&str],
    what: &str,
) -> Result<()> {
    let pattern = KeyPattern::parse(pattern, categories)
        .map_err(|e| ApiError::Internal(format!("invalidation pattern {pattern:?}: {e}")))?;
    match state.cache.invalidate(&pattern, categories).await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, what, "source write committed but cache invalidation failed");
            Err(ApiError::CacheUnavailable(format!(
                "{what} was committed, but the cache could not be invalidated: cached views \
                 may be stale until they expire or the cache is cleared; do not repeat the request"
            )))
        }
    }
}

/// `GET /api/v1/sources`: every live source, ordered by name, import sources included, each
/// with its latest scrape run (`last_run`, null when it never ran). Two queries whatever the
/// number of sources or runs.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sources",
    operation_id = "list_sources",
    responses(
        (status = 200, description = "Every live source with its latest run", body = SourceList),
        (status = 503, description = "`database_unavailable` or `query_timeout` (a read ran past 5 s)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SourceList>> {
    let operator = Operator::present(&headers, &state);
    let sources = state.reads.list_sources().await?;
    let mut last_runs: HashMap<String, ScrapeRun> = state
        .reads
        .latest_runs()
        .await?
        .into_iter()
        .map(|run| (run.source.clone(), run))
        .collect();
    let sources: Vec<ListedSource> = sources
        .into_iter()
        .map(|source| ListedSource {
            last_run: last_runs
                .remove(source.name.as_str())
                .map(|run| RunView::new(run, operator)),
            source,
        })
        .collect();
    Ok(Json(SourceList { sources }))
}

/// `GET /api/v1/sources/{name}`: the source and its latest runs; 404 `unknown_source`.
#[utoipa::path(
    get,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    operation_id = "show_source",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "The source's name")),
    responses(
        (status = 200, description = "The source and its latest runs", body = SourceWithRuns),
        (status = 400, description = "`invalid_source`", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 503, description = "`database_unavailable` or `query_timeout` (a read ran past 5 s)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn show(
    State(state): State<AppState>,
    path: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<SourceWithRuns>> {
    let operator = Operator::present(&headers, &state);
    let name = source_name(path)?;
    let source = state
        .reads
        .get_source(&name)
        .await?
        .ok_or_else(|| unknown(&name))?;
    let runs = state.reads.runs_for(&name, RUNS_SHOWN).await?;
    let runs = runs
        .into_iter()
        .map(|run| RunView::new(run, operator))
        .collect();
    Ok(Json(SourceWithRuns { source, runs }))
}

/// `POST /api/v1/sources`: 201 with `Location` and the stored source; 409 `source_exists`
/// when a live source has the name. A 503 `cache_unavailable` means it was created.
#[utoipa::path(
    post,
    path = "/api/v1/sources",
    tag = "sources",
    request_body = SourceSpecInput,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Created", body = Source, headers(("location" = String, description = "The source's URL"))),
        (status = 400, description = "An invalid definition or body", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 409, description = "`source_exists`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, or `cache_unavailable` (the source was created)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(source))]
async fn create(
    State(state): State<AppState>,
    _: Operator,
    body: std::result::Result<Json<SourceSpecInput>, JsonRejection>,
) -> Result<Response> {
    let Json(input) = body?;
    let spec = SourceSpec::parse(input)?;
    tracing::Span::current().record("source", spec.name().as_str());
    let source = spec.to_source();
    match state.store.insert_source(&source).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "source_exists",
                format!("source {:?} already exists", source.name.as_str()),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    invalidate(
        &state,
        "simplified:*",
        CATEGORIES,
        &format!("creating source {:?}", source.name.as_str()),
    )
    .await?;
    let location = format!("/api/v1/sources/{}", source.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(source),
    )
        .into_response())
}

/// `PATCH /api/v1/sources/{name}`: applies the given fields, re-validates the whole
/// definition, answers the stored source; 404 `unknown_source`. A patch read-modify-writes:
/// of two concurrent patches of one source the later write wins whole.
#[utoipa::path(
    patch,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "The source's name")),
    request_body = SourcePatch,
    security(("operator" = [])),
    responses(
        (status = 200, description = "The stored source", body = Source),
        (status = 400, description = "An invalid change or body", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, or `cache_unavailable` (the change was saved)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn update(
    State(state): State<AppState>,
    _: Operator,
    path: std::result::Result<Path<String>, PathRejection>,
    body: std::result::Result<Json<SourcePatch>, JsonRejection>,
) -> Result<Json<Source>> {
    let name = source_name(path)?;
    let Json(patch) = body?;
    let current = state
        .store
        .get_source(&name)
        .await?
        .ok_or_else(|| unknown(&name))?;
    let patched = patch.apply(&current)?;
    if !state.store.update_source(&patched).await? {
        return Err(unknown(&name));
    }
    invalidate(
        &state,
        "simplified:*",
        CATEGORIES,
        &format!("updating source {:?}", name.as_str()),
    )
    .await?;
    Ok(Json(patched))
}

/// `DELETE /api/v1/sources/{name}[?purge=true]`: stops the source; its articles stay unless
/// `purge=true`. Answers `{"deleted": name, "purged": bool}`; 404 `unknown_source`;
/// `purge` other than `true`/`false` is 400 `invalid_query`.
#[utoipa::path(
    delete,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "The source's name"), ("purge" = Option<bool>, Query, description = "Also delete its articles")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Deleted", body = SourceDeleted),
        (status = 400, description = "`invalid_source` or `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, or `cache_unavailable` (the delete was committed)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(purge))]
async fn remove(
    State(state): State<AppState>,
    _: Operator,
    path: std::result::Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Json<SourceDeleted>> {
    let name = source_name(path)?;
    let purge = match params.get("purge") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "invalid purge {:?}: expected true or false",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    };
    tracing::Span::current().record("purge", purge);
    if !state.store.delete_source(&name, purge).await? {
        return Err(unknown(&name));
    }
    let what = if purge {
        format!("deleting source {:?} and its articles", name.as_str())
    } else {
        format!("deleting source {:?}", name.as_str())
    };
    invalidate(&state, "*", DATA_CATEGORIES, &what).await?;
    Ok(Json(SourceDeleted {
        deleted: name,
        purged: purge,
    }))
}
