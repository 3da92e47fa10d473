//! `GET /api/v1/media/cache/stats` and `DELETE /api/v1/media/cache/clear[?pattern=]`.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use mediawarm_shared::cache::KeyPattern;
use mediawarm_shared::views::CATEGORIES;
use serde_json::{Value, json};

use super::openapi::schemas::{CacheStatsBody, Cleared, ErrorBody};
use super::params::Params;
use crate::auth::Operator;
use crate::error::{ApiError, Result};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/media/cache/stats", get(stats))
        .route("/api/v1/media/cache/clear", delete(clear))
}

/// Cache backend state and hit/miss counters.
#[utoipa::path(
    get,
    path = "/api/v1/media/cache/stats",
    tag = "cache",
    responses((status = 200, description = "The statistics", body = CacheStatsBody)),
)]
#[tracing::instrument(skip_all)]
async fn stats(State(state): State<AppState>) -> Json<Value> {
    let stats = state.cache.stats().await;
    Json(json!({"cache": stats, "message": "Cache statistics retrieved successfully"}))
}

/// Removes every stored key matching `pattern` (default: everything).
#[utoipa::path(
    delete,
    path = "/api/v1/media/cache/clear",
    tag = "cache",
    params(("pattern" = Option<String>, Query, min_length = 1, description = "A key pattern such as `volume:*`")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Keys removed", body = Cleared),
        (status = 400, description = "`invalid_pattern`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 500, description = "`internal_error`: the shared cache failed", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(pattern))]
async fn clear(State(state): State<AppState>, _: Operator, params: Params) -> Result<Json<Value>> {
    let given = params.get("pattern");
    if given.is_some_and(str::is_empty) {
        return Err(ApiError::bad_request(
            "invalid_pattern",
            "pattern is empty; omit it to clear everything",
        ));
    }
    let pattern = KeyPattern::parse(given.unwrap_or("*"), CATEGORIES)?;
    tracing::Span::current().record("pattern", pattern.as_str());
    let deleted = state.cache.delete_pattern(&pattern).await?;
    let message = match given {
        Some(p) => format!("Deleted {deleted} cached entries matching {p}"),
        None => format!("Cache cleared: {deleted} entries deleted"),
    };
    Ok(Json(
        json!({"deleted": deleted, "pattern": given, "message": message}),
    ))
}
