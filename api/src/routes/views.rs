//! `GET /api/v1/volume` and `GET /api/v1/simplified`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::{Duration, Utc};
use mediawarm_shared::domain::{Interval, SourceName, Timezone};
use mediawarm_shared::views::{SimplifiedQuery, View, VolumeQuery, VolumeRange};

use super::cached;
use super::params::Params;
use crate::error::Result;
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
    let range = match (from, to) {
        (None, None) => VolumeRange::LastWeek,
        (Some(from), Some(to)) => VolumeRange::Between { from, to },
        (Some(from), None) => VolumeRange::Between {
            from,
            to: Utc::now().min(from + Duration::days(7)),
        },
        (None, Some(to)) => VolumeRange::Between {
            from: to - Duration::days(7),
            to,
        },
    };
    Ok(VolumeQuery::new(interval, tz, source, range)?)
}

#[tracing::instrument(skip_all)]
async fn volume(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response> {
    let query = volume_query(&params)?;
    cached::serve(&state, View::Volume(query), &headers).await
}

#[tracing::instrument(skip_all)]
async fn simplified(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response> {
    let source = params.get("source").map(SourceName::parse).transpose()?;
    cached::serve(
        &state,
        View::Simplified(SimplifiedQuery { source }),
        &headers,
    )
    .await
}
