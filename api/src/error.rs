//! The one place where errors become HTTP responses.
//!
//! Every failure a handler can meet converts into [`ApiError`], which answers
//! `{"error": {"code": "…", "message": "…"}}` with a stable snake_case `code`. Client
//! mistakes get a 4xx naming the problem; internal failures are logged once here, with their
//! detail, and answered with a generic message that leaks nothing.
//!
//! That body is [`ErrorBody`], the one error shape: every error answer is built from it, and
//! the OpenAPI document names it for every 4xx and 5xx.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mediawarm_shared::cache::KeyError;
use mediawarm_shared::domain::SourceInputError;
use mediawarm_shared::error::{CacheError, DomainError, StoreError};
use mediawarm_shared::metrics::Metrics;
use mediawarm_shared::views::{ViewError, VolumeError};
use serde::Serialize;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

/// The body of every 4xx and 5xx answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case reason, e.g. `invalid_cursor`, `unknown_source`,
    /// `database_unavailable`, `queue_full`, `unauthorized`, `body_too_large`.
    #[schema(value_type = String, example = "invalid_cursor", pattern = "^[a-z][a-z0-9_]*$")]
    pub code: &'static str,
    /// For people.
    pub message: String,
}

/// Handlers' result type.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `code` names the rule it broke.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable reason.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Missing or wrong operator token.
    #[error("missing or invalid operator token")]
    Unauthorized,
    /// The thing asked for does not exist.
    #[error("{message}")]
    NotFound {
        /// Stable machine-readable reason.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The request conflicts with the current state (e.g. the name is taken).
    #[error("{message}")]
    Conflict {
        /// Stable machine-readable reason.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The route exists but does not accept the method.
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    /// The request body is larger than the server accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The request took longer than the server allows.
    #[error("the request took too long; retry after the Retry-After delay")]
    Timeout,
    /// The database did not answer.
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    /// A database read ran past its limit and was cancelled.
    #[error("the query took too long and was cancelled; retry after the Retry-After delay")]
    QueryTimeout,
    /// The shared cache could not be invalidated; the message says whether a write was
    /// committed.
    #[error("{0}")]
    CacheUnavailable(String),
    /// Too many jobs are waiting: backpressure.
    #[error(
        "the queue is full ({depth} jobs waiting or running); retry after the Retry-After delay"
    )]
    QueueFull {
        /// Jobs waiting or running.
        depth: i64,
    },
    /// One client has too many cache misses computing at once.
    #[error("too many uncached reads from this address at once; retry after the Retry-After delay")]
    TooManyMisses,
    /// The process has too many cache misses computing at once.
    #[error("the server is busy; retry after the Retry-After delay")]
    Busy,
    /// The job queue cannot be reached.
    #[error("the job queue is unavailable: {0}")]
    QueueUnavailable(String),
    /// Something failed that is not the client's fault; the detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 409 with the given code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 404 with the given code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "request_timeout"),
            Self::DatabaseUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            Self::QueryTimeout => (StatusCode::SERVICE_UNAVAILABLE, "query_timeout"),
            Self::TooManyMisses => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            Self::CacheUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "cache_unavailable"),
            Self::QueueFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, "queue_full"),
            Self::QueueUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let body = Json(ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        });
        let mut response = (status, body).into_response();
        match self {
            Self::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::QueueFull { .. } | Self::TooManyMisses | Self::Busy => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Timeout
            | Self::QueryTimeout
            | Self::DatabaseUnavailable
            | Self::CacheUnavailable(_)
            | Self::QueueUnavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match &e {
            DomainError::InvalidSourceName(_) => "invalid_source",
            DomainError::InvalidSourceKind(_) => "invalid_source_kind",
            DomainError::InvalidCursor => "invalid_cursor",
            DomainError::InvalidLimit(_) => "invalid_limit",
            DomainError::InvalidOffset(_) => "invalid_offset",
            DomainError::InvalidInterval(_) => "invalid_interval",
            DomainError::InvalidTimezone(_) => "invalid_tz",
            DomainError::InvalidDate(_) | DomainError::DateOutOfRange(_) => "invalid_date",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::FromAfterTo { .. } => Self::bad_request("invalid_range", e.to_string()),
            VolumeError::TooManyBuckets(_) => Self::bad_request("range_too_large", e.to_string()),
            VolumeError::Domain(d) => d.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Timeout(detail) = &e {
            tracing::warn!(%detail, "query timeout");
            return Self::QueryTimeout;
        }
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            Self::DatabaseUnavailable
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::UnknownSource(name) => {
                Self::not_found("unknown_source", format!("unknown source {name:?}"))
            }
            ViewError::NotFound(id) => {
                Self::not_found("not_found", format!("article {id} not found"))
            }
            ViewError::Store(s) => s.into(),
        }
    }
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        Self::Internal(format!("cache: {e}"))
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        Self::bad_request("invalid_pattern", e.to_string())
    }
}

impl From<SourceInputError> for ApiError {
    fn from(e: SourceInputError) -> Self {
        let code = match &e {
            SourceInputError::Name(_) | SourceInputError::NameNotPatchable { .. } => {
                "invalid_source"
            }
            SourceInputError::Kind(_) | SourceInputError::ImportKind => "invalid_source_kind",
            SourceInputError::Url { .. } => "invalid_url",
            SourceInputError::Selector { .. } => "invalid_selector",
            SourceInputError::Schedule { .. } => "invalid_schedule",
            SourceInputError::RateLimit(_) => "invalid_rate_limit",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    /// Every way a JSON body can be refused (wrong content type, malformed JSON, a field of
    /// the wrong type or unknown, a body over the size limit) answers JSON, never axum's
    /// plain text: 413 `body_too_large` for size, else 400 `invalid_body`.
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge;
        }
        Self::bad_request("invalid_body", rejection.body_text())
    }
}

/// The last line of defence against a handler that panics: the request is answered 500
/// `internal_error` in the usual JSON shape (not a dropped connection), the panic is logged
/// and counted in `mediawarm_http_panics_total`. No input is meant to reach it.
pub fn catch_panics(metrics: Metrics) -> CatchPanicLayer<PanicResponse> {
    CatchPanicLayer::custom(PanicResponse { metrics })
}

/// What [`catch_panics`] answers a panic with.
#[derive(Debug, Clone)]
pub struct PanicResponse {
    metrics: Metrics,
}

impl ResponseForPanic for PanicResponse {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(
        &mut self,
        panic: Box<dyn std::any::Any + Send + 'static>,
    ) -> axum::http::Response<Self::ResponseBody> {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        self.metrics.count_panic();
        ApiError::Internal(format!("handler panicked: {message}")).into_response()
    }
}
