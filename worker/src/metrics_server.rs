//! The worker's own `GET /metrics` listener, on `WORKER_METRICS_BIND` (unset: none, so
//! several workers can share a host). In embedded mode the API serves the same metrics.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mediawarm_shared::metrics::{CONTENT_TYPE, Metrics};
use mediawarm_shared::store::Store;
use tokio::net::TcpListener;

/// What the listener serves from.
#[derive(Debug, Clone)]
struct MetricsState {
    metrics: Metrics,
    store: Store,
}

/// A bound metrics listener.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    router: Router,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free one); `GET /metrics` renders `metrics`, refreshing
    /// its job gauges from `store`. Any other path is 404.
    pub async fn bind(addr: SocketAddr, metrics: Metrics, store: Store) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let router = Router::new()
            .route("/metrics", get(render))
            .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
            .with_state(MetricsState { metrics, store });
        Ok(Self { listener, router })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn render(State(state): State<MetricsState>) -> Response {
    let body = state.metrics.render(&state.store).await;
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response()
}
