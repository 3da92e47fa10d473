//! Request ids: every request carries one, taken from its `x-request-id` header when that is
//! a sensible id (1 to 64 characters of letters, digits, `.`, `_`, `-` or `:`) and made up
//! (a ULID) otherwise. The id is in the request's log span, echoed in the response's
//! `x-request-id`, recorded with any job the request enqueues, and in the span of every
//! attempt a worker makes at that job, so one id follows an operator's action end to end.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header a request id travels in.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_LEN: usize = 64;

/// A request's id, parsed once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A client's id, if it is one we keep (otherwise the caller makes one up).
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
        ok.then(|| Self(raw.to_owned()))
    }

    /// A fresh id (a ULID).
    pub fn generate() -> Self {
        Self(ulid::Ulid::generate().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Middleware giving every request its [`RequestId`] (as a request extension) and echoing it
/// in the response.
pub(crate) async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    let header = HeaderValue::from_str(id.as_str());
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Ok(value) = header {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensible_client_ids_are_kept_and_others_refused() {
        for good in ["abc", "req-1.2_3:4", &"a".repeat(64)] {
            assert_eq!(RequestId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            &"a".repeat(65),
            "has space",
            "semi;colon",
            "naïve",
            "new\nline",
        ] {
            assert!(RequestId::parse(bad).is_none(), "{bad:?}");
        }
        let made = RequestId::generate();
        assert_eq!(RequestId::parse(made.as_str()), Some(made));
    }
}
