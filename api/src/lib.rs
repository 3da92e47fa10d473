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
//! - `cli` (feature `worker`, on by default): the `serve`, `migrate` and `import` commands
//!   of the `mediawarm-api` binary, which may run the worker in-process. It is the only part
//!   of this crate that depends on `mediawarm-worker`; without the feature the library
//!   depends on `mediawarm-shared` alone and the binary is not built.

pub mod auth;
#[cfg(feature = "worker")]
pub mod cli;
pub mod demo;
pub mod error;
mod misses;
pub mod request_id;
mod routes;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use mediawarm_shared::shutdown::shutdown_signal;
pub use misses::MissLimits;
pub use state::{AppParts, AppState, QueueSlot};

/// The largest request body any route accepts. Enforced by every body extractor while the
/// body streams in, so an oversized body is answered by the route's own JSON error (413
/// `body_too_large`) rather than a plain-text one.
const BODY_LIMIT: usize = 64 * 1024;
/// The longest any request (reading its body included) may take before it is answered 503
/// `request_timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest one database read behind a cache miss may run before the request is
/// answered 503 `query_timeout` (PostgreSQL cancels the statement).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// What the server allows each connection, and how many connections it holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection that has not sent a request's complete headers this long after it
    /// started waiting for them (at connect, or after its previous answer) is closed.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog, unread, until
    /// one closes.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// A server bound to its address, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port) and builds the router over `state`, with the
    /// default [`ConnectionLimits`].
    pub async fn bind(addr: &str, state: AppState) -> std::io::Result<Self> {
        Self::bind_with(addr, state, ConnectionLimits::default()).await
    }

    /// [`Application::bind`] with these connection limits.
    pub async fn bind_with(
        addr: &str,
        state: AppState,
        limits: ConnectionLimits,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            router: build_app(state),
            limits,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves HTTP/1.1 until `shutdown` completes, then finishes in-flight requests (idle
    /// connections are closed). Each request carries its peer's [`ConnectInfo`].
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            router,
            limits,
        } = self;
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot,
                () = &mut shutdown => break,
            };
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let service = router.clone().map_request(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            );
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                drop(slot);
            });
        }
        graceful.shutdown().await;
        Ok(())
    }
}
