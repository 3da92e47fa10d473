//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every endpoint, generated from the
//! handlers' `#[utoipa::path]` annotations.
//!
//! Guarantees: every route [`crate::build_app`] serves appears here with every status it can
//! answer, and every 4xx/5xx is documented with the one error shape (`ErrorBody`). The
//! document is built once per process and served as fixed bytes.
//!
//! This module only assembles: every schema in the document is derived from the type a
//! handler actually serializes or parses, so field names, nesting and optionality follow the
//! code. What the derive cannot see is stated on the field it concerns: `value_type` for
//! enums shown as strings and for timestamps, `required = true` on fields that are always
//! present but may be null. The
//! API's own bodies derive `utoipa::ToSchema` beside their handlers (and [`ErrorBody`] in
//! [`crate::error`]); the types defined in `mediawarm-shared` (articles, sources and their
//! inputs, skipped pages, cache statistics, the view bodies served from the cache) carry
//! their schema through that crate's `openapi` feature, which this crate enables. Handlers
//! import nothing from here. The schemathesis run (`.ci/schemathesis.sh`) still validates live
//! responses against the document.
//!
//! [`ErrorBody`]: crate::error::ErrorBody

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{cache, dashboard, health, jobs, media, metrics, queue, sources, views};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

/// The document as served.
static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    let json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    Bytes::from(json)
});

/// The OpenAPI document of the whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mediawarm",
        description = "Cached reads of scraped news articles, and the operator endpoints that \
                       manage sources, jobs and the cache. Every error answers \
                       `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        media::latest,
        media::article,
        views::volume,
        views::simplified,
        cache::stats,
        cache::hot,
        cache::clear,
        sources::list,
        sources::create,
        sources::show,
        sources::update,
        sources::remove,
        jobs::scrape,
        jobs::warm,
        jobs::invalidate,
        jobs::list,
        jobs::one,
        jobs::retry,
        queue::stats,
        health::healthz,
        health::readyz,
        metrics::metrics,
        dashboard::page,
        document,
    ),
    modifiers(&OperatorAuth),
    tags(
        (name = "reads", description = "Cached reads: anyone."),
        (name = "cache", description = "Cache statistics and clearing."),
        (name = "sources", description = "Source definitions."),
        (name = "jobs", description = "Operator jobs: scrape, warm, invalidate."),
        (name = "operations", description = "Health, readiness, metrics, the dashboard and this document."),
    ),
)]
pub(crate) struct ApiDoc;

/// Declares the `operator` bearer scheme the operator endpoints name.
struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <OPERATOR_TOKEN>`"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
async fn document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_route_and_the_error_shape() {
        let doc: serde_json::Value = serde_json::from_slice(&DOCUMENT).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/v1/media/latest",
            "/api/v1/media/{id}",
            "/api/v1/volume",
            "/api/v1/simplified",
            "/api/v1/media/cache/stats",
            "/api/v1/media/cache/hot",
            "/api/v1/media/cache/clear",
            "/api/v1/sources",
            "/api/v1/sources/{name}",
            "/api/v1/jobs",
            "/api/v1/jobs/scrape",
            "/api/v1/jobs/warm",
            "/api/v1/jobs/invalidate",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/retry",
            "/api/v1/queue/stats",
            "/healthz",
            "/readyz",
            "/metrics",
            "/dashboard",
            "/api/v1/openapi.json",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        assert!(doc["components"]["securitySchemes"]["operator"].is_object());
    }

    #[test]
    fn every_error_answer_is_documented_with_the_error_shape() {
        let doc: serde_json::Value = serde_json::from_slice(&DOCUMENT).expect("json");
        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str().expect("operationId");
                assert!(operation_ids.insert(id.to_owned()), "{id} is not unique");
                for (status, response) in op["responses"].as_object().expect("responses") {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        let expected = if path == "/readyz" {
                            "#/components/schemas/Readiness"
                        } else {
                            "#/components/schemas/ErrorBody"
                        };
                        assert_eq!(schema, expected, "{method} {path} {status}");
                    }
                }
            }
        }
    }
}
