//! `GET /api/v1/media/cache/stats`, `GET /api/v1/media/cache/hot[?limit=]` and
//! `DELETE /api/v1/media/cache/clear[?pattern=]`.
//!
//! Stats and hot keys are reads for anyone (like `/metrics`); they never touch the database
//! and are not themselves cached or counted as hot.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use mediawarm_shared::cache::{CacheStats, KeyPattern};
use mediawarm_shared::domain::Limit;
use mediawarm_shared::views::CATEGORIES;
use serde::Serialize;

use super::params::Params;
use crate::auth::Operator;
use crate::error::{ApiError, ErrorBody, Result};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/media/cache/stats", get(stats))
        .route("/api/v1/media/cache/hot", get(hot))
        .route("/api/v1/media/cache/clear", delete(clear))
}

/// The body of `GET /api/v1/media/cache/stats`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CacheStatsBody {
    /// The statistics.
    cache: CacheStats,
    /// `Cache statistics retrieved successfully`.
    #[schema(value_type = String)]
    message: &'static str,
}

/// The body of `GET /api/v1/media/cache/hot`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HotKeysBody {
    /// Hottest first; at most `limit`.
    keys: Vec<HotKey>,
    /// The limit applied.
    #[schema(minimum = 1, maximum = 100)]
    limit: u32,
}

/// One hot key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HotKey {
    /// The logical cache key (without the deployment's prefix), e.g.
    /// `volume:day:…`; `POST /api/v1/jobs/warm` accepts it in `keys`.
    key: String,
    /// Its category: `media`, `volume` or `simplified`.
    category: String,
}

/// The body of `DELETE /api/v1/media/cache/clear`: what the clear removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Cleared {
    /// Stored keys removed.
    deleted: u64,
    /// The pattern given, or null.
    #[schema(required = true)]
    pattern: Option<String>,
    /// For people.
    message: String,
}

/// Cache backend state and hit/miss counters.
#[utoipa::path(
    get,
    path = "/api/v1/media/cache/stats",
    tag = "cache",
    responses((status = 200, description = "The statistics", body = CacheStatsBody)),
)]
#[tracing::instrument(skip_all)]
async fn stats(State(state): State<AppState>) -> Json<CacheStatsBody> {
    Json(CacheStatsBody {
        cache: state.cache.stats().await,
        message: "Cache statistics retrieved successfully",
    })
}

/// The hottest cache keys, hottest first: what warming (`POST /api/v1/jobs/warm` with
/// `top_n`) would recompute. Scores decay (see `HOT_HALF_LIFE_SECONDS`), so a key nobody reads
/// any more drops out.
#[utoipa::path(
    get,
    path = "/api/v1/media/cache/hot",
    tag = "cache",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "How many keys (default 20)")),
    responses(
        (status = 200, description = "The hottest keys", body = HotKeysBody),
        (status = 400, description = "`invalid_limit`", body = ErrorBody),
        (status = 503, description = "`cache_unavailable`: the shared hot-key set cannot be read (with `Retry-After`)", body = ErrorBody, headers(("retry-after" = String, description = "Seconds to wait"))),
    ),
)]
#[tracing::instrument(skip_all, fields(limit))]
async fn hot(State(state): State<AppState>, params: Params) -> Result<Json<HotKeysBody>> {
    let limit = params
        .get("limit")
        .map(Limit::parse)
        .transpose()?
        .unwrap_or(Limit::DEFAULT);
    tracing::Span::current().record("limit", limit.get());
    let keys = state.hot.top(limit.get() as usize).await.map_err(|error| {
        tracing::warn!(%error, "hot keys unavailable");
        ApiError::CacheUnavailable("the hot-key set cannot be read right now".to_owned())
    })?;
    let keys = keys
        .iter()
        .map(|key| HotKey {
            key: key.as_str().to_owned(),
            category: key.category().to_owned(),
        })
        .collect();
    Ok(Json(HotKeysBody {
        keys,
        limit: limit.get(),
    }))
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
async fn clear(
    State(state): State<AppState>,
    _: Operator,
    params: Params,
) -> Result<Json<Cleared>> {
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
    Ok(Json(Cleared {
        deleted,
        pattern: given.map(str::to_owned),
        message,
    }))
}
