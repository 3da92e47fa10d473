//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! Series:
//! - `mediawarm_cache_hits_total{category}` / `mediawarm_cache_misses_total{category}`: from
//!   [`mediawarm_shared::cache::CacheService::stats`];
//! - `mediawarm_cache_redis_connected`, `mediawarm_cache_memory_entries`;
//! - `mediawarm_jobs{kind,status}`: jobs in the store by kind and status, every pair present
//!   (0 when none); omitted, with `mediawarm_database_up 0`, when the database does not
//!   answer within [`DB_TIMEOUT`], so the endpoint itself never fails;
//! - `mediawarm_http_requests_total{path,status}`: requests answered since start, by matched
//!   route template (`unmatched` for anything that matched no route, so label cardinality is
//!   bounded by the route table) and status code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mediawarm_shared::jobs::{JobKind, JobStatus};

use crate::state::AppState;

/// How long the jobs query may take before it is left out.
const DB_TIMEOUT: Duration = Duration::from_millis(1500);

/// The Prometheus text exposition content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Requests answered, by matched route template and status code.
#[derive(Debug, Default)]
pub(crate) struct HttpCounters {
    /// A std mutex: held for one increment or one copy, never across an await.
    by_route: Mutex<BTreeMap<(String, u16), u64>>,
}

impl HttpCounters {
    fn record(&self, path: &str, status: u16) {
        let mut map = self.by_route.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(&(path.to_owned(), status)) {
            Some(n) => *n += 1,
            None => {
                map.insert((path.to_owned(), status), 1);
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<(String, u16), u64> {
        self.by_route
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Middleware counting every answered request by matched path and status.
pub(crate) async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.http.record(&path, response.status().as_u16());
    response
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String)),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(4096);
    let stats = state.cache.stats().await;
    family(
        &mut out,
        "mediawarm_cache_hits_total",
        "counter",
        "Reads served from the cache, by category.",
    );
    for (category, c) in &stats.categories {
        sample(
            &mut out,
            "mediawarm_cache_hits_total",
            &[("category", category)],
            c.hits,
        );
    }
    family(
        &mut out,
        "mediawarm_cache_misses_total",
        "counter",
        "Reads computed on a cache miss, by category.",
    );
    for (category, c) in &stats.categories {
        sample(
            &mut out,
            "mediawarm_cache_misses_total",
            &[("category", category)],
            c.misses,
        );
    }
    family(
        &mut out,
        "mediawarm_cache_redis_connected",
        "gauge",
        "1 when Redis serves the cache, 0 on the memory cache or fallback.",
    );
    sample(
        &mut out,
        "mediawarm_cache_redis_connected",
        &[],
        u64::from(stats.redis_connected),
    );
    family(
        &mut out,
        "mediawarm_cache_memory_entries",
        "gauge",
        "Entries in the in-memory cache (backend or fallback).",
    );
    sample(
        &mut out,
        "mediawarm_cache_memory_entries",
        &[],
        stats.memory_cache_size,
    );

    let counts = tokio::time::timeout(DB_TIMEOUT, state.store.job_counts()).await;
    let counts = match counts {
        Ok(Ok(counts)) => Some(counts),
        Ok(Err(error)) => {
            tracing::warn!(%error, "metrics: job counts unavailable");
            None
        }
        Err(_) => None,
    };
    family(
        &mut out,
        "mediawarm_database_up",
        "gauge",
        "1 when the database answered the metrics query.",
    );
    sample(
        &mut out,
        "mediawarm_database_up",
        &[],
        u64::from(counts.is_some()),
    );
    if let Some(counts) = counts {
        family(
            &mut out,
            "mediawarm_jobs",
            "gauge",
            "Jobs in the store, by kind and status.",
        );
        for kind in JobKind::ALL {
            for status in [
                JobStatus::Pending,
                JobStatus::Running,
                JobStatus::Done,
                JobStatus::Dead,
            ] {
                let n = counts
                    .iter()
                    .filter(|(k, s, _)| *k == kind && *s == status)
                    .map(|(_, _, n)| *n)
                    .sum::<i64>();
                sample(
                    &mut out,
                    "mediawarm_jobs",
                    &[("kind", kind.as_str()), ("status", status.as_str())],
                    u64::try_from(n).unwrap_or(0),
                );
            }
        }
    }

    family(
        &mut out,
        "mediawarm_http_requests_total",
        "counter",
        "HTTP requests answered, by matched route and status.",
    );
    for ((path, status), n) in state.http.snapshot() {
        sample(
            &mut out,
            "mediawarm_http_requests_total",
            &[("path", &path), ("status", &status.to_string())],
            n,
        );
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        out,
    )
        .into_response()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("path", "a\"b\\c\nd")], 3);
        assert_eq!(out, "m{path=\"a\\\"b\\\\c\\nd\"} 3\n");
    }

    #[test]
    fn counters_add_up_per_path_and_status() {
        let counters = HttpCounters::default();
        counters.record("/healthz", 200);
        counters.record("/healthz", 200);
        counters.record("/healthz", 503);
        let snap = counters.snapshot();
        assert_eq!(snap[&("/healthz".to_owned(), 200)], 2);
        assert_eq!(snap[&("/healthz".to_owned(), 503)], 1);
    }
}
