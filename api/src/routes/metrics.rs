//! `GET /metrics`: the process' Prometheus metrics ([`mediawarm_shared::metrics`]) as
//! OpenMetrics text, and the middleware that counts every request into them.
//!
//! The endpoint never fails: when the database does not answer in time the job gauges are
//! left as they were and `mediawarm_database_up` reads 0.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mediawarm_shared::metrics::CONTENT_TYPE;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Middleware counting every answered request by matched route template (`unmatched` for
/// anything that matched no route, so label cardinality is bounded by the route table),
/// method and status, with its latency.
pub(crate) async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    state
        .metrics
        .observe_request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The method's label: the standard methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics, OpenMetrics text format 1.0.0", content_type = "application/openmetrics-text", body = String)),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.store).await;
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response()
}
