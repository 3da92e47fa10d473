//! Serving a view through the cache: `x-cache`, `ETag` and `If-None-Match`.
//!
//! Bodies are cached as the exact JSON bytes sent, so a hit costs one cache lookup and no
//! serialisation. The `ETag` is a hash of those bytes: identical content, identical tag, on
//! every API process.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use mediawarm_shared::views::View;

use crate::error::{ApiError, Result};
use crate::misses::ClientAddr;
use crate::state::AppState;

/// Answers `view` from the cache (computing and storing it on a miss, within the miss
/// limits of `client`), and counts the key as read once it was answered.
pub(crate) async fn serve(
    state: &AppState,
    view: View,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<Response> {
    let key = view.key();
    let (body, lookup) = state
        .cache
        .get_or_set(&key, None, || async {
            let _permit = state.misses.admit(client.0).await?;
            Ok::<_, ApiError>(view.compute(&state.reads, &state.views, Utc::now()).await?)
        })
        .await?;
    state.hot.record(&key);
    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &etag));
    let mut builder = Response::builder()
        .header("x-cache", lookup.as_str())
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let response = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        builder.status(StatusCode::OK).body(Body::from(body))
    };
    response.map_err(|e| crate::error::ApiError::Internal(e.to_string()))
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, lists and `*` allowed).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
