//! Fetching: the one shared HTTP client and a GET that classifies every failure.
//!
//! Guarantees: every request goes through the address guard (resolver, literal-host check,
//! redirect policy), ignores proxy environment variables, is bounded by the connect and whole
//! request timeouts, and never buffers more than `max_body_bytes` of (decompressed) body.
//! Failures come back as [`ScrapeError`]: timeouts, connection failures, 5xx, 408 and 429 are
//! transient; other statuses, refused addresses, too many redirects and oversized bodies are
//! permanent.

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::guard::{self, GuardedResolver, Refused};
use super::{ScrapeError, ScraperConfig};

/// A successful (2xx) response, read in full.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Where the body came from, after redirects.
    pub(crate) url: Url,
    /// The `Content-Type` header, if any.
    pub(crate) content_type: Option<String>,
    /// The (decompressed) body, at most `max_body_bytes` long.
    pub(crate) body: Bytes,
}

impl Page {
    /// Whether the page is HTML: by its content type, or, without one, by its first byte.
    pub(crate) fn is_html(&self) -> bool {
        match self.content_type.as_deref() {
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.contains("text/html") || ct.contains("application/xhtml")
            }
            None => self
                .body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'<'),
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Builds the shared client: rustls, gzip, the guard's resolver and redirect policy, no proxy.
pub(crate) fn build_client(cfg: &ScraperConfig) -> Result<reqwest::Client, ScrapeError> {
    reqwest::Client::builder()
        .user_agent(cfg.user_agent.clone())
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .redirect(guard::redirect_policy(
            cfg.max_redirects,
            cfg.allow_loopback,
        ))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_loopback: cfg.allow_loopback,
        }))
        .no_proxy()
        .gzip(true)
        .referer(false)
        .build()
        .map_err(|e| ScrapeError::Permanent(format!("building the HTTP client: {}", chain(&e))))
}

/// GETs `url` and reads the whole body, refusing non-public addresses, non-2xx statuses and
/// bodies over `max_body_bytes`.
#[tracing::instrument(skip_all, fields(url = %url), err(Display))]
pub(crate) async fn get(
    client: &reqwest::Client,
    cfg: &ScraperConfig,
    url: &Url,
) -> Result<Page, ScrapeError> {
    guard::check_literal_host(url, cfg.allow_loopback)
        .map_err(|refused| ScrapeError::Permanent(refused.0))?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| classify(&e, url))?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("{url} answered {status}");
        return Err(match status.as_u16() {
            408 | 429 | 500..=599 => ScrapeError::Transient(message),
            _ => ScrapeError::Permanent(message),
        });
    }
    let cap = cfg.max_body_bytes;
    let too_large =
        || ScrapeError::Permanent(format!("the body of {url} is over the {cap}-byte cap"));
    let declared = response.content_length();
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(too_large());
    }
    let final_url = response.url().clone();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let capacity = declared.map_or(64 * 1024, |len| len as usize).min(cap);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, url))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Page {
        url: final_url,
        content_type,
        body: Bytes::from(body),
    })
}

/// Sorts a client error into permanent (refused by the guard, too many redirects, a request
/// that cannot be built) or transient (timeouts, connection and transfer failures).
fn classify(err: &reqwest::Error, url: &Url) -> ScrapeError {
    if let Some(refused) = find_source::<Refused>(err) {
        return ScrapeError::Permanent(refused.0.clone());
    }
    let detail = chain(err);
    if err.is_timeout() {
        ScrapeError::Transient(format!("timed out fetching {url}: {detail}"))
    } else if err.is_builder() || err.is_redirect() {
        ScrapeError::Permanent(format!("fetching {url}: {detail}"))
    } else {
        ScrapeError::Transient(format!("fetching {url}: {detail}"))
    }
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An error and its sources, joined with `": "`.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        current = e.source();
    }
    out
}
