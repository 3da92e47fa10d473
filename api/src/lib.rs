//! # mediawarm-api
//!
//! The HTTP face of mediawarm: cached reads of articles and their derived views, and the
//! operator endpoints. It never scrapes and never writes articles: writes happen in jobs.
//!
//! ## Layout
//! - [`build_app`]: the router every binary and test uses.
//! - [`Application`]: a bound listener plus the router; binds port 0 in tests and reports the
//!   real port.
//! - `routes/`: one module per resource; `cached` serves any view through the cache;
//!   `dashboard` serves the operator dashboard at `/dashboard`.
//! - [`error`]: the one mapping from failures to HTTP.
//! - [`auth`]: the operator token.
//! - [`request_id`]: the id every request carries into its logs and the jobs it enqueues.
//! - [`cli`]: the `serve`, `migrate` and `import` commands.

pub mod auth;
pub mod cli;
pub mod demo;
pub mod error;
pub mod request_id;
mod routes;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use mediawarm_worker::shutdown_signal;
pub use state::{AppParts, AppState, QueueSlot};

/// The largest request body any route accepts. Enforced by every body extractor while the
/// body streams in, so an oversized body is answered by the route's own JSON error (413
/// `body_too_large`) rather than a plain-text one.
const BODY_LIMIT: usize = 64 * 1024;
/// The longest any request (reading its body included) may take before it is answered 503
/// `request_timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The application's router over `state`.
pub fn build_app(state: AppState) -> Router {
    Router::new()
        .merge(routes::media::router())
        .merge(routes::views::router())
        .merge(routes::cache::router())
        .merge(routes::sources::router())
        .merge(routes::jobs::router())
        .merge(routes::queue::router())
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(routes::openapi::router())
        .merge(routes::dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(error::catch_panics(state.metrics.clone()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn_with_state(
            state,
            routes::metrics::count_requests,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let path = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let request_id = req
                .extensions()
                .get::<request_id::RequestId>()
                .map(request_id::RequestId::as_str);
            tracing::info_span!("http", method = %req.method(), path, request_id)
        }))
        .layer(axum::middleware::from_fn(request_id::assign))
}

/// Answers 503 `request_timeout` (in the JSON error shape) when a request runs past
/// [`REQUEST_TIMEOUT`]; the handler's future is dropped.
async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// 405 in the JSON error shape; axum adds the route's `Allow` header.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A server bound to its address, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port) and builds the router over `state`.
    pub async fn bind(addr: &str, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            router: build_app(state),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
