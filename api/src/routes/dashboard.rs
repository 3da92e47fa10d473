//! `GET /dashboard`: the operator dashboard, one self-contained HTML page.
//!
//! The page (`api/assets/dashboard.{html,css,js}`, compiled in with `include_str!`) is static:
//! its CSS and script are inlined and it names no URL outside this server, so it works
//! offline and behind any firewall. Its script reads the JSON endpoints every operator can
//! call (`/api/v1/media/cache/stats`, `/api/v1/media/cache/hot`, `/api/v1/queue/stats`,
//! `/api/v1/sources`, and with the token `/api/v1/jobs`), refreshes them every 3 s, and runs
//! warm, invalidate and scrape jobs with the operator token the operator types (kept in the
//! tab's `sessionStorage`, sent only in the `Authorization` header), following each job until
//! it is `done` or `dead`. Data is written into the page as text only, never as HTML.
//!
//! Guarantees: the page is served with a `Content-Security-Policy` that allows exactly its
//! own inline style and script (by SHA-256 hash) and requests to this origin, so even a
//! markup injection could neither run script nor load or send anything elsewhere; and it is
//! never cached, so a deploy never leaves an old page talking to a new API.
//!
//! Why not `apalis-board`: it reads and acts on jobs through apalis' backend storage, but our
//! jobs' state of record is our own `jobs` table (status, attempts, result, error, retries by
//! hand), which apalis' storage does not hold; it would also show only the queue backend of
//! the process that mounts it and pin a release-candidate UI (a WASM bundle mounted at `/`)
//! next to our exact apalis pin. So the page is built here over our own endpoints.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::state::AppState;

const TEMPLATE: &str = include_str!("../../assets/dashboard.html");
const STYLE: &str = include_str!("../../assets/dashboard.css");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/dashboard", get(page))
}

/// The assembled page and the policy that allows exactly its inline style and script.
struct Page {
    html: String,
    policy: HeaderValue,
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = assemble(TEMPLATE, STYLE, SCRIPT);
    let policy = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    );
    Page {
        html,
        policy: HeaderValue::from_str(&policy).unwrap_or_else(|_| {
            // Unreachable: the policy is ASCII. Failing closed keeps the page inert.
            HeaderValue::from_static("default-src 'none'")
        }),
    }
});

/// The template with `{{style}}` and `{{script}}` replaced, each exactly once, so the bytes
/// inlined are the bytes hashed.
fn assemble(template: &str, style: &str, script: &str) -> String {
    let (head, rest) = template.split_once("{{style}}").unwrap_or((template, ""));
    let (middle, tail) = rest.split_once("{{script}}").unwrap_or((rest, ""));
    let mut html = String::with_capacity(template.len() + style.len() + script.len());
    html.push_str(head);
    html.push_str(style);
    html.push_str(middle);
    html.push_str(script);
    html.push_str(tail);
    html
}

/// A CSP source expression naming an inline block by its SHA-256.
fn csp_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The operator dashboard (HTML).
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "operations",
    responses((status = 200, description = "The operator dashboard: one self-contained HTML page", content_type = "text/html", body = String)),
)]
async fn page() -> Response {
    let page = &*PAGE;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, page.policy.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        page.html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_inlines_its_style_and_script_once_and_names_no_other_origin() {
        let html = &PAGE.html;
        assert!(html.contains(STYLE) && html.contains(SCRIPT));
        assert!(!html.contains("{{style}}") && !html.contains("{{script}}"));
        assert_eq!(html.matches("<script").count(), 1);
        assert_eq!(html.matches("<style").count(), 1);
        assert!(!SCRIPT.contains("</script"), "the script would end early");
        assert!(!STYLE.contains("</style"), "the style would end early");
        for needle in ["http:", "https:", "//cdn", "@import", "url("] {
            assert!(!html.contains(needle), "the page contains {needle:?}");
        }
        assert!(
            !SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"),
            "data is rendered as text only"
        );
    }

    #[test]
    fn the_policy_hashes_exactly_the_inlined_blocks() {
        let policy = PAGE.policy.to_str().unwrap();
        assert!(policy.contains(&csp_hash(SCRIPT)));
        assert!(policy.contains(&csp_hash(STYLE)));
        assert!(policy.contains("connect-src 'self'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
