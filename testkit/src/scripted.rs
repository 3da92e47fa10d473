//! A scripted site on `127.0.0.1:0`: each path answers what the test set for it (status,
//! headers, body, delay, conditional-request validators), and every request is recorded
//! (path, time, the request headers the scraper's manners are judged by).
//!
//! Guarantees: a path answers its replies in the order given, the last one repeating; a path
//! with none answers 404; `{base}` in a fixed or chunked body becomes the site's base URL; a
//! reply with an ETag (or Last-Modified) answers 304 to a request that sends it back in
//! `If-None-Match` (or `If-Modified-Since`); every request is recorded before it is answered;
//! the server stops when the value is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use bytes::Bytes;

/// Size of the chunks of a [`Payload::Chunked`] body.
const CHUNK_BYTES: usize = 4096;

/// How a reply's body is sent.
#[derive(Debug, Clone)]
pub enum Payload {
    /// All at once, with a `Content-Length`.
    Fixed(String),
    /// In 4 KiB chunks without a `Content-Length`.
    Chunked(String),
    /// 64 KiB chunks forever.
    Endless,
    /// One byte every 100 ms forever.
    Trickle,
    /// These bytes as they are (a compressed body, sent with its `content-encoding`).
    Raw(Vec<u8>),
}

/// What a path answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers sent as given.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub payload: Payload,
    /// How long the site waits before answering.
    pub delay: Option<Duration>,
    /// Answer 304 when the request's `If-None-Match` equals it (and send it as `ETag`).
    pub etag: Option<String>,
    /// Answer 304 when the request's `If-Modified-Since` equals it (and send it as
    /// `Last-Modified`).
    pub last_modified: Option<String>,
}

impl Reply {
    /// 200 with `body` as `content_type`.
    pub fn ok(content_type: &str, body: impl Into<String>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", content_type.to_owned())],
            payload: Payload::Fixed(body.into()),
            delay: None,
            etag: None,
            last_modified: None,
        }
    }

    /// 200 with an HTML `body`.
    pub fn html(body: impl Into<String>) -> Self {
        Self::ok("text/html; charset=utf-8", body)
    }

    /// 200 with an RSS `body`.
    pub fn rss(body: impl Into<String>) -> Self {
        Self::ok("application/rss+xml", body)
    }

    /// `code` with a short plain-text body.
    pub fn status(code: u16) -> Self {
        Self {
            status: code,
            ..Self::ok("text/plain", format!("status {code}"))
        }
    }

    /// 302 to `location`, with no body and no content type.
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            status: 302,
            headers: vec![("location", location.into())],
            payload: Payload::Fixed(String::new()),
            delay: None,
            etag: None,
            last_modified: None,
        }
    }

    /// This reply with one more header.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// This reply with an ETag (304 when it is sent back).
    #[must_use]
    pub fn etag(mut self, etag: &str) -> Self {
        self.etag = Some(etag.to_owned());
        self
    }

    /// This reply with a Last-Modified date (304 when it is sent back).
    #[must_use]
    pub fn last_modified(mut self, date: &str) -> Self {
        self.last_modified = Some(date.to_owned());
        self
    }

    /// This reply after `delay`.
    #[must_use]
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// This reply with its fixed body sent in chunks, without a `Content-Length`.
    #[must_use]
    pub fn chunked(mut self) -> Self {
        if let Payload::Fixed(text) = self.payload {
            self.payload = Payload::Chunked(text);
        }
        self
    }

    /// `body` compressed with `encoding` (`gzip` or `br`; panics on another), sent with
    /// `content-encoding`.
    pub fn compressed(content_type: &str, body: &str, encoding: &'static str) -> Self {
        use std::io::Write as _;
        let bytes = match encoding {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(body.as_bytes()).expect("gzip");
                e.finish().expect("gzip")
            }
            "br" => {
                let mut out = Vec::new();
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
                e.write_all(body.as_bytes()).expect("br");
                drop(e);
                out
            }
            other => panic!("no encoder for {other}"),
        };
        Self {
            payload: Payload::Raw(bytes),
            ..Self::ok(content_type, "")
        }
        .header("content-encoding", encoding)
    }
}

/// One request as the site saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The path requested.
    pub path: String,
    /// When it arrived.
    pub at: Instant,
    /// Its `If-None-Match`.
    pub if_none_match: Option<String>,
    /// Its `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// Its `Accept-Encoding`.
    pub accept_encoding: Option<String>,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
}

#[derive(Debug, Default)]
struct SiteState {
    /// Per path: replies served in order, the last one repeating.
    routes: Mutex<HashMap<String, VecDeque<Reply>>>,
    hits: Mutex<Vec<Hit>>,
    bytes_sent: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running scripted site; it stops when dropped.
#[derive(Debug)]
pub struct ScriptedSite {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    state: Arc<SiteState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScriptedSite {
    /// Starts a site where every path answers 404.
    pub async fn start() -> Self {
        let state = Arc::new(SiteState::default());
        let app = Router::new().fallback(serve).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let port = listener.local_addr().expect("local address").port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            state,
            server,
        }
    }

    /// The URL of `path` on this site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `reply` at `path` from now on.
    pub fn route(&self, path: &str, reply: Reply) {
        self.script(path, [reply]);
    }

    /// Serves `replies` at `path` in order, the last one repeating.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies = replies
            .into_iter()
            .map(|mut r| {
                match &mut r.payload {
                    Payload::Fixed(text) | Payload::Chunked(text) => {
                        *text = text.replace("{base}", &self.base);
                    }
                    Payload::Endless | Payload::Trickle | Payload::Raw(_) => {}
                }
                r
            })
            .collect();
        lock(&self.state.routes).insert(path.to_owned(), replies);
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state.hits)
            .iter()
            .filter(|h| h.path == path)
            .count()
    }

    /// The requests `path` received, in order.
    pub fn hits_of(&self, path: &str) -> Vec<Hit> {
        lock(&self.state.hits)
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// Every request received, in order.
    pub fn all_hits(&self) -> Vec<Hit> {
        lock(&self.state.hits).clone()
    }

    /// How many requests the site received.
    pub fn total_hits(&self) -> usize {
        lock(&self.state.hits).len()
    }

    /// Bytes of endless or trickling bodies sent at `path` so far.
    pub fn bytes_sent(&self, path: &str) -> usize {
        lock(&self.state.bytes_sent).get(path).copied().unwrap_or(0)
    }

    /// Most requests that were at once inside a reply's delay.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn serve(State(state): State<Arc<SiteState>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = text(header::IF_NONE_MATCH);
    let if_modified_since = text(header::IF_MODIFIED_SINCE);
    lock(&state.hits).push(Hit {
        path: path.clone(),
        at: Instant::now(),
        if_none_match: if_none_match.clone(),
        if_modified_since: if_modified_since.clone(),
        accept_encoding: text(header::ACCEPT_ENCODING),
        user_agent: text(header::USER_AGENT),
    });
    let reply = {
        let mut routes = lock(&state.routes);
        match routes.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    }
    .unwrap_or_else(|| Reply::status(404));
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(etag) = &reply.etag
        && if_none_match.as_deref() == Some(etag.as_str())
    {
        return Response::builder()
            .status(304)
            .header(header::ETAG, etag)
            .body(Body::empty())
            .expect("valid response");
    }
    if let Some(date) = &reply.last_modified
        && if_modified_since.as_deref() == Some(date.as_str())
    {
        return Response::builder()
            .status(304)
            .header(header::LAST_MODIFIED, date)
            .body(Body::empty())
            .expect("valid response");
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    if let Some(etag) = &reply.etag {
        response = response.header(header::ETAG, etag);
    }
    if let Some(date) = &reply.last_modified {
        response = response.header(header::LAST_MODIFIED, date);
    }
    let body = match reply.payload {
        Payload::Fixed(text) => Body::from(text),
        Payload::Raw(bytes) => Body::from(bytes),
        Payload::Chunked(text) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = text
                .into_bytes()
                .chunks(CHUNK_BYTES)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Body::from_stream(futures::stream::iter(chunks))
        }
        Payload::Endless => endless(&state, path, Bytes::from(vec![b'x'; 65536]), Duration::ZERO),
        Payload::Trickle => endless(
            &state,
            path,
            Bytes::from_static(b"<"),
            Duration::from_millis(100),
        ),
    };
    response.body(body).expect("valid response")
}

/// A body that never ends: `chunk` every `pause`, each counted in the site's bytes sent at
/// `path`.
fn endless(state: &Arc<SiteState>, path: String, chunk: Bytes, pause: Duration) -> Body {
    let counter = Arc::clone(state);
    Body::from_stream(futures::stream::unfold((), move |()| {
        let (counter, path, chunk) = (Arc::clone(&counter), path.clone(), chunk.clone());
        async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            *lock(&counter.bytes_sent).entry(path).or_default() += chunk.len();
            Some((Ok::<_, std::io::Error>(chunk), ()))
        }
    }))
}
