//! `GET /healthz` (liveness) and `GET /readyz` (readiness).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::openapi::schemas::{Health, Readiness};
use crate::state::AppState;

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: Duration = Duration::from_millis(1500);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
)]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
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
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) | Err(_) => "unavailable",
    };
    let status = if database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "database": database,
        "cache": state.cache.backend(),
        "redis_connected": state.cache.redis_connected(),
    });
    (status, Json(body))
}
