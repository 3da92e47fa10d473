//! `GET /api/v1/media/latest` and `GET /api/v1/media/{id}`.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use mediawarm_shared::domain::{Article, Limit, SourceName, parse_offset};
use mediawarm_shared::views::{ArticleQuery, LatestPage, LatestQuery, Page, View};

use super::cached;
use super::params::Params;
use crate::error::{ApiError, ErrorBody, Result};
use crate::misses::ClientAddr;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/media/latest", get(latest))
        .route("/api/v1/media/{id}", get(article))
}

/// How deep offset pages may reach: `offset + limit` at most this. A database skips every
/// row before an offset, so deeper pages go through the cursor, whose cost does not grow
/// with depth.
pub(crate) const MAX_OFFSET_DEPTH: u64 = 10_000;

/// Parses the latest-media query string into its view.
pub(crate) fn latest_query(state: &AppState, params: &Params) -> Result<LatestQuery> {
    let limit = params
        .get("limit")
        .map(Limit::parse)
        .transpose()?
        .unwrap_or(Limit::DEFAULT);
    let source = params.get("source").map(SourceName::parse).transpose()?;
    let page = match (params.get("cursor"), params.get("offset")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "conflicting_pagination",
                "give either cursor or offset, not both",
            ));
        }
        (Some(cursor), None) => Page::After(state.views.cursors.decode(cursor)?),
        (None, Some(offset)) => {
            let offset = parse_offset(offset)?;
            if offset.saturating_add(u64::from(limit.get())) > MAX_OFFSET_DEPTH {
                return Err(ApiError::bad_request(
                    "invalid_offset",
                    format!(
                        "offset {offset} with limit {} reaches past the first {MAX_OFFSET_DEPTH} articles: page deeper with the cursor (the next_cursor of each page), not an offset",
                        limit.get()
                    ),
                ));
            }
            Page::Offset(offset)
        }
        (None, None) => Page::First,
    };
    Ok(LatestQuery {
        limit,
        source,
        page,
    })
}

/// The latest articles, newest first: cursor mode (the default) or offset mode.
#[utoipa::path(
    get,
    path = "/api/v1/media/latest",
    tag = "reads",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 9999, description = "Offset mode: skip this many articles (not with `cursor`); `offset + limit` at most 10,000, deeper pages use the cursor (400 `invalid_offset`)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page (not with `offset`)"),
        ("source" = Option<String>, Query, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "Only this source"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of a previous answer"),
    ),
    responses(
        (status = 200, description = "A page", body = LatestPage, headers(
            ("x-cache" = String, description = "`hit` or `miss`"),
            ("etag" = String, description = "Tag of the body"))),
        (status = 304, description = "Not modified (the `If-None-Match` tag matches)"),
        (status = 400, description = "A malformed parameter, both `cursor` and `offset`, or `invalid_offset` (also when `offset + limit` is over 10,000)", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this address has too many uncached reads computing", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, `query_timeout` (a read ran past 5 s) or `server_busy` (too many uncached reads in the process)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn latest(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    client: ClientAddr,
) -> Result<Response> {
    let query = latest_query(&state, &params)?;
    cached::serve(&state, View::Latest(query), &headers, client).await
}

/// One article.
#[utoipa::path(
    get,
    path = "/api/v1/media/{id}",
    tag = "reads",
    params(
        ("id" = i64, Path, minimum = 1, description = "The article's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of a previous answer"),
    ),
    responses(
        (status = 200, description = "The article", body = Article, headers(
            ("x-cache" = String, description = "`hit` or `miss`"),
            ("etag" = String, description = "Tag of the body"))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this address has too many uncached reads computing", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, `query_timeout` (a read ran past 5 s) or `server_busy` (too many uncached reads in the process)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn article(
    State(state): State<AppState>,
    path: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Result<Response> {
    let Path(id) = path.map_err(|e| ApiError::bad_request("invalid_id", e.body_text()))?;
    let id = id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::bad_request("invalid_id", "an article id is a positive whole number")
    })?;
    cached::serve(&state, View::Article(ArticleQuery { id }), &headers, client).await
}
