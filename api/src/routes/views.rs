//! `GET /api/v1/volume` and `GET /api/v1/simplified`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::{Duration, Utc};
use mediawarm_shared::domain::{Interval, SourceName, Timezone, in_supported_range};
use mediawarm_shared::views::{
    Simplified, SimplifiedQuery, View, Volume, VolumeQuery, VolumeRange,
};

use super::cached;
use super::params::Params;
use crate::error::{ApiError, ErrorBody, Result};
use crate::misses::ClientAddr;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/volume", get(volume))
        .route("/api/v1/simplified", get(simplified))
}

/// Parses the volume query string into its view. Without `from` and `to` the window is the
/// last 7 days; with only one of them the window is 7 days from `from` or up to `to`.
pub(crate) fn volume_query(params: &Params) -> Result<VolumeQuery> {
    let interval: Interval = params.get("interval").unwrap_or("day").parse()?;
    let tz = params
        .get("tz")
        .map(Timezone::parse)
        .transpose()?
        .unwrap_or(Timezone::UTC);
    let source = params.get("source").map(SourceName::parse).transpose()?;
    let from = params
        .get("from")
        .map(|v| tz.parse_bound(v, false))
        .transpose()?;
    let to = params
        .get("to")
        .map(|v| tz.parse_bound(v, true))
        .transpose()?;
    let week = Duration::days(7);
    let range = match (from, to) {
        (None, None) => VolumeRange::LastWeek,
        (Some(from), Some(to)) => VolumeRange::Between { from, to },
        (Some(from), None) => VolumeRange::Between {
            from,
            to: from
                .checked_add_signed(week)
                .map_or(Utc::now(), |end| end.min(Utc::now())),
        },
        (None, Some(to)) => VolumeRange::Between {
            from: to
                .checked_sub_signed(week)
                .filter(|from| in_supported_range(*from))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_range",
                        "the week before `to` starts before the year 0001: give `from` too",
                    )
                })?,
            to,
        },
    };
    Ok(VolumeQuery::new(interval, tz, source, range)?)
}

/// Article counts per hour or day bucket.
#[utoipa::path(
    get,
    path = "/api/v1/volume",
    tag = "reads",
    params(
        ("interval" = Option<String>, Query, pattern = "^(hour|day)$", description = "`hour` or `day` (default)"),
        ("from" = Option<String>, Query, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}", description = "RFC 3339 or YYYY-MM-DD (default: 7 days before `to`)"),
        ("to" = Option<String>, Query, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}", description = "RFC 3339 or YYYY-MM-DD (default: now)"),
        ("tz" = Option<String>, Query, description = "IANA time zone buckets align in (default UTC)"),
        ("source" = Option<String>, Query, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "Only this source"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of a previous answer"),
    ),
    responses(
        (status = 200, description = "Counts per bucket, empty buckets included", body = Volume, headers(
            ("x-cache" = String, description = "`hit` or `miss`"),
            ("etag" = String, description = "Tag of the body"))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "A malformed parameter, `invalid_range` or `range_too_large` (over 2,000 buckets)", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this address has too many uncached reads computing", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, `query_timeout` (a read ran past 5 s) or `server_busy` (too many uncached reads in the process)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn volume(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    client: ClientAddr,
) -> Result<Response> {
    let query = volume_query(&params)?;
    cached::serve(&state, View::Volume(query), &headers, client).await
}

/// Per source: articles in the last 24 hours against the 7-day daily mean.
#[utoipa::path(
    get,
    path = "/api/v1/simplified",
    tag = "reads",
    params(
        ("source" = Option<String>, Query, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", description = "Only this source"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of a previous answer"),
    ),
    responses(
        (status = 200, description = "Scores per source", body = Simplified, headers(
            ("x-cache" = String, description = "`hit` or `miss`"),
            ("etag" = String, description = "Tag of the body"))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "`invalid_source`", body = ErrorBody),
        (status = 404, description = "`unknown_source`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this address has too many uncached reads computing", body = ErrorBody),
        (status = 503, description = "`database_unavailable`, `query_timeout` (a read ran past 5 s) or `server_busy` (too many uncached reads in the process)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn simplified(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    client: ClientAddr,
) -> Result<Response> {
    let source = params.get("source").map(SourceName::parse).transpose()?;
    cached::serve(
        &state,
        View::Simplified(SimplifiedQuery { source }),
        &headers,
        client,
    )
    .await
}
