//! Fetching: the one shared HTTP client and a single GET attempt that classifies every
//! outcome.
//!
//! Guarantees: every request goes through the address guard (resolver, literal-host check,
//! redirect policy: public addresses, same host), ignores proxy environment variables, is
//! bounded by the connect, read and whole-request timeouts, and never buffers more than its
//! body cap of (decompressed; gzip, brotli, deflate) body. A conditional request answered 304
//! reads no body; a response whose content type the caller does not accept is dropped before
//! its body is read. Failures come back as [`Failure`]: 429, 502, 503, 504 and timeouts are
//! retryable (with the `Retry-After` they carried); other 5xx, 408 and connection failures are
//! transient; other statuses, refused addresses, too many redirects and oversized bodies are
//! permanent. Retrying is the caller's business (`politeness`).

use std::error::Error as StdError;
use std::sync::Arc;

use std::time::Duration;

use bytes::Bytes;
use mediawarm_shared::domain::ErrorClass;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, CONTENT_TYPE, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    RETRY_AFTER,
};
use url::Url;

use super::guard::{self, GuardedResolver, Refused};
use super::politeness::retry;
use super::{ScrapeError, ScraperConfig};

/// What kinds of body a request wants; anything else is dropped unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Article pages and HTML listings: `text/html`, `application/xhtml+xml`.
    Html,
    /// Feeds and sitemaps: XML, RSS, Atom, JSON, or any `text/*`.
    Feed,
    /// robots.txt: anything.
    Any,
}

impl Accept {
    /// The `Accept` request header.
    fn header(self) -> &'static str {
        match self {
            Accept::Html => "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            Accept::Feed => {
                "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1"
            }
            Accept::Any => "*/*",
        }
    }

    /// Whether a response of `content_type` is read (a missing one always is: the body is
    /// sniffed later).
    pub(crate) fn allows(self, content_type: Option<&str>) -> bool {
        let Some(ct) = content_type else {
            return true;
        };
        let ct = ct.to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        match self {
            Accept::Any => true,
            Accept::Html => {
                essence.is_empty() || essence == "text/html" || essence == "application/xhtml+xml"
            }
            Accept::Feed => {
                essence.is_empty()
                    || essence.starts_with("text/")
                    || essence.contains("xml")
                    || essence.contains("rss")
                    || essence.contains("atom")
                    || essence.contains("json")
            }
        }
    }
}

/// Validators of an earlier response, sent back to make the request conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    /// Sent as `If-None-Match`.
    pub(crate) etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub(crate) last_modified: Option<String>,
}

impl Validators {
    /// Whether there is anything to send.
    pub(crate) fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// A successful (2xx) response, read in full.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Where the body came from, after redirects.
    pub(crate) url: Url,
    /// The `Content-Type` header, if any.
    pub(crate) content_type: Option<String>,
    /// The (decompressed) body, at most the cap long.
    pub(crate) body: Bytes,
    /// The response's validators, for the next conditional request.
    pub(crate) validators: Validators,
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

    /// The body as text, decoded with the charset its `Content-Type`, byte-order mark,
    /// `<meta>` or XML declaration names ([`decode_html`](super::extract::decode_html));
    /// malformed bytes become U+FFFD.
    pub(crate) fn text(&self) -> String {
        super::extract::decode_html(&self.body, self.content_type.as_deref())
    }
}

/// What one GET produced.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// A 2xx with its body.
    Page(Page),
    /// A 304 to a conditional request: nothing changed, no body read.
    NotModified,
    /// A 2xx whose content type was not accepted; its body was not read.
    Skipped {
        /// The content type it had.
        content_type: String,
    },
}

/// A failed GET: the error, the status if one came back, and whether to retry.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What to report.
    pub(crate) error: ScrapeError,
    /// The HTTP status, when the failure is one.
    pub(crate) status: Option<u16>,
    /// `Some` when retrying may help soon, with the wait the server asked for.
    pub(crate) retry: Option<Option<Duration>>,
}

impl Failure {
    fn permanent(class: ErrorClass, message: String) -> Self {
        Self {
            error: ScrapeError::Permanent(class, message),
            status: None,
            retry: None,
        }
    }
}

/// Builds the shared client: rustls, gzip/brotli/deflate, the guard's resolver and redirect
/// policy, no proxy.
pub(crate) fn build_client(cfg: &ScraperConfig) -> Result<reqwest::Client, ScrapeError> {
    reqwest::Client::builder()
        .user_agent(cfg.user_agent.clone())
        .connect_timeout(cfg.connect_timeout)
        .read_timeout(cfg.read_timeout)
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
        .brotli(true)
        .deflate(true)
        .referer(false)
        .build()
        .map_err(|e| {
            ScrapeError::Permanent(
                ErrorClass::Internal,
                format!("building the HTTP client: {}", chain(&e)),
            )
        })
}

/// One GET of `url`: conditional when `validators` has any, reading at most `cap` bytes of
/// a body whose content type `accept` allows.
#[tracing::instrument(skip_all, fields(url = %url), err(Debug, level = "debug"))]
pub(crate) async fn get(
    client: &reqwest::Client,
    cfg: &ScraperConfig,
    url: &Url,
    accept: Accept,
    validators: Option<&Validators>,
    cap: usize,
) -> Result<Fetched, Failure> {
    guard::check_literal_host(url, cfg.allow_loopback)
        .map_err(|refused| Failure::permanent(ErrorClass::RefusedAddress, refused.0))?;
    let mut request = client.get(url.clone()).header(ACCEPT, accept.header());
    if let Some(v) = validators {
        if let Some(etag) = &v.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &v.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
    }
    let mut response = request.send().await.map_err(|e| classify(&e, url))?;
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    if status == StatusCode::NOT_MODIFIED && validators.is_some_and(|v| !v.is_empty()) {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        let message = format!("{url} answered {status}");
        let code = status.as_u16();
        let retry_after =
            header(RETRY_AFTER).and_then(|v| retry::retry_after(&v, std::time::SystemTime::now()));
        return Err(match code {
            429 | 502 | 503 | 504 => Failure {
                error: ScrapeError::Transient(ErrorClass::HttpStatus, message),
                status: Some(code),
                retry: Some(retry_after),
            },
            408 | 500..=599 => Failure {
                error: ScrapeError::Transient(ErrorClass::HttpStatus, message),
                status: Some(code),
                retry: None,
            },
            _ => Failure {
                error: ScrapeError::Permanent(ErrorClass::HttpStatus, message),
                status: Some(code),
                retry: None,
            },
        });
    }
    let content_type = header(CONTENT_TYPE);
    if !accept.allows(content_type.as_deref()) {
        return Ok(Fetched::Skipped {
            content_type: content_type.unwrap_or_default(),
        });
    }
    let page_validators = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
    };
    let too_large = || {
        Failure::permanent(
            ErrorClass::PageTooLarge,
            format!("the body of {url} is over the {cap}-byte cap"),
        )
    };
    let declared = response.content_length();
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(too_large());
    }
    let final_url = response.url().clone();
    let capacity = declared.map_or(64 * 1024, |len| len as usize).min(cap);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, url))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Page(Page {
        url: final_url,
        content_type,
        body: Bytes::from(body),
        validators: page_validators,
    }))
}

/// Sorts a client error into permanent (refused by the guard, too many redirects, a request
/// that cannot be built) or transient (timeouts, connection and transfer failures).
fn classify(err: &reqwest::Error, url: &Url) -> Failure {
    if let Some(refused) = find_source::<Refused>(err) {
        return Failure::permanent(ErrorClass::RefusedAddress, refused.0.clone());
    }
    let detail = chain(err);
    if err.is_timeout() {
        Failure {
            error: ScrapeError::Transient(
                ErrorClass::Timeout,
                format!("timed out fetching {url}: {detail}"),
            ),
            status: None,
            retry: Some(None),
        }
    } else if err.is_builder() || err.is_redirect() {
        Failure::permanent(ErrorClass::FetchFailed, format!("fetching {url}: {detail}"))
    } else {
        Failure {
            error: ScrapeError::Transient(
                ErrorClass::FetchFailed,
                format!("fetching {url}: {detail}"),
            ),
            status: None,
            retry: None,
        }
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
