//! `GET /healthz` (liveness) and `GET /readyz` (readiness).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: Duration = Duration::from_millis(1500);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The body of `GET /healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    #[schema(value_type = String)]
    status: &'static str,
}

/// The body of `GET /readyz`, on 200 and 503 alike.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(value_type = String)]
    status: &'static str,
    /// `ok` or `unavailable`.
    #[schema(value_type = String)]
    database: &'static str,
    /// `redis` or `memory`.
    #[schema(value_type = String)]
    cache: &'static str,
    /// Whether Redis answers.
    redis_connected: bool,
}

/// Liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 when the database answers within [`READY_TIMEOUT`], else 503; Redis is reported, not
/// required (reads fall back to memory without it).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database does not answer", body = Readiness),
    ),
)]
#[tracing::instrument(skip_all)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) | Err(_) => "unavailable",
    };
    let status = if database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if status == StatusCode::OK {
            "ready"
        } else {
            "not_ready"
        },
        database,
        cache: state.cache.backend(),
        redis_connected: state.cache.redis_connected(),
    };
    (status, Json(body))
}
