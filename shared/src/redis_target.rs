//! Where a Redis user connects: one server (`redis://`, `rediss://`, `unix://`), or the
//! current master of a Sentinel service (`redis+sentinel://`).
//!
//! `REDIS_URL` and `QUEUE_REDIS_URL` are parsed into a [`RedisTarget`] by
//! [`RedisTarget::parse`]; a URL that does not parse is refused with a [`RedisUrlError`] that
//! names what is wrong. The Sentinel form is
//! `redis+sentinel://[user:password@]host:port[,host:port…]/SERVICE[/DB]`: the credentials are
//! the master's (and its replicas'), the hosts are the sentinels (port 26379 when left out),
//! and the sentinels' own password, if they have one, comes from `REDIS_SENTINEL_PASSWORD`.
//!
//! Guarantees:
//! - [`RedisTarget::master`] asks the sentinels in turn (`SENTINEL get-master-addr-by-name`)
//!   and returns an address only after that server answered `ROLE` with `master`, so a
//!   caller never starts on a replica that a sentinel still reports during a fail-over;
//! - nothing is cached here: every connection opened through a target looks the master up
//!   again, so a user that drops its connection on an error follows a fail-over;
//! - [`MasterConnection`] is such a user for code that wants one connection value (the
//!   apalis queue): it drops its connection after a connection error or a `READONLY`
//!   answer, looks the master up again on the next command, and retries a command the old
//!   master refused with `READONLY` once on the new one.
//! - passwords never appear in `Debug` output or in [`RedisTarget::describe`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind,
    IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult, Value,
};

/// The scheme of the Sentinel form.
pub const SENTINEL_SCHEME: &str = "redis+sentinel";

/// The sentinels' port when a host leaves it out.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// The environment variable holding the sentinels' own password.
pub const SENTINEL_PASSWORD_ENV: &str = "REDIS_SENTINEL_PASSWORD";

/// Why a Redis URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisUrlError {
    /// The URL is empty.
    #[error("the Redis URL is empty")]
    Empty,
    /// A `redis://`-style URL the redis client refused.
    #[error("invalid Redis URL: {0}")]
    Direct(String),
    /// The Sentinel form names no sentinel.
    #[error(
        "redis+sentinel URL names no sentinel (expected host:port[,host:port…] before /SERVICE)"
    )]
    NoSentinels,
    /// One sentinel address is malformed.
    #[error("redis+sentinel URL: sentinel address {address:?}: {reason}")]
    BadSentinel {
        /// The address as written.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The Sentinel form names no service (the master's name in the sentinels' configuration).
    #[error("redis+sentinel URL names no service (expected /SERVICE after the sentinels)")]
    NoService,
    /// The database number is not a non-negative integer.
    #[error("redis+sentinel URL: database {0:?} is not a non-negative integer")]
    BadDatabase(String),
    /// Path segments after `/SERVICE/DB`.
    #[error("redis+sentinel URL: unexpected path after /SERVICE/DB: {0:?}")]
    TrailingPath(String),
    /// A query string or fragment, which the Sentinel form does not take.
    #[error("redis+sentinel URL takes no query string or fragment")]
    Query,
    /// A `%` escape that is not two hex digits, or that does not decode to UTF-8.
    #[error("redis+sentinel URL: bad percent-escape in the credentials")]
    BadEscape,
}

/// The parsed Sentinel form.
#[derive(Clone, PartialEq, Eq)]
struct Sentinel {
    /// The sentinels, asked in this order.
    sentinels: Vec<(String, u16)>,
    /// The master's name in the sentinels' configuration.
    service: String,
    /// The master's (and replicas') user.
    username: Option<String>,
    /// The master's (and replicas') password.
    password: Option<String>,
    /// The database selected on the master.
    db: i64,
    /// The sentinels' own password.
    sentinel_password: Option<String>,
}

/// What a target points at.
#[derive(Clone)]
enum Kind {
    /// One server.
    Direct(Client),
    /// The master of a Sentinel service.
    Sentinel(Arc<Sentinel>),
}

/// A parsed Redis URL: one server, or a Sentinel service's master. Cheap to clone.
#[derive(Clone)]
pub struct RedisTarget(Kind);

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisTarget")
            .field(&self.describe())
            .finish()
    }
}

/// A master found through a target: a client for it, and its address.
#[derive(Clone)]
pub struct Master {
    /// A client connecting to the master with the target's credentials and database.
    pub client: Client,
    /// `host:port` of the master (for a direct target, the configured server).
    pub address: String,
}

impl fmt::Debug for Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Master")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// Parses `url`; `sentinel_password` is the sentinels' own password (used only by the
    /// Sentinel form).
    pub fn parse(url: &str, sentinel_password: Option<&str>) -> Result<Self, RedisUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(RedisUrlError::Empty);
        }
        let Some(rest) = url
            .split_once("://")
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(SENTINEL_SCHEME))
            .map(|(_, rest)| rest)
        else {
            return Client::open(url)
                .map(|client| Self(Kind::Direct(client)))
                .map_err(|error| RedisUrlError::Direct(error.to_string()));
        };
        let mut sentinel = parse_sentinel(rest)?;
        sentinel.sentinel_password = sentinel_password
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        Ok(Self(Kind::Sentinel(Arc::new(sentinel))))
    }

    /// Parses `url`, taking the sentinels' password from `REDIS_SENTINEL_PASSWORD`.
    pub fn from_env(url: &str) -> Result<Self, RedisUrlError> {
        let password = std::env::var(SENTINEL_PASSWORD_ENV).ok();
        Self::parse(url, password.as_deref())
    }

    /// Whether the master is found through sentinels (and can move).
    pub fn is_sentinel(&self) -> bool {
        matches!(self.0, Kind::Sentinel(_))
    }

    /// A description without credentials, for logs.
    pub fn describe(&self) -> String {
        match &self.0 {
            Kind::Direct(client) => describe_addr(client.get_connection_info().addr()),
            Kind::Sentinel(s) => {
                let hosts: Vec<String> = s
                    .sentinels
                    .iter()
                    .map(|(host, port)| format_host_port(host, *port))
                    .collect();
                format!(
                    "{SENTINEL_SCHEME}://{}/{}/{}",
                    hosts.join(","),
                    s.service,
                    s.db
                )
            }
        }
    }

    /// The current master. A direct target answers at once with its server; a Sentinel
    /// target asks each sentinel in turn, each step bounded by `timeout`, and returns the
    /// first reported master that confirms its role.
    pub fn master(&self, timeout: Duration) -> RedisFuture<'_, Master> {
        Box::pin(self.find_master(timeout))
    }

    async fn find_master(&self, timeout: Duration) -> RedisResult<Master> {
        match &self.0 {
            Kind::Direct(client) => Ok(Master {
                client: client.clone(),
                address: describe_addr(client.get_connection_info().addr()),
            }),
            Kind::Sentinel(sentinel) => sentinel.master(timeout).await,
        }
    }

    /// A connection manager on the current master (looked up now). The manager itself
    /// reconnects to that address only; callers drop it on an error to follow a fail-over.
    ///
    /// The future is boxed: callers hold it inside deep futures (a scrape job), and its
    /// full type would push theirs past the compiler's recursion limit.
    pub fn connection_manager(
        &self,
        config: ConnectionManagerConfig,
        timeout: Duration,
    ) -> RedisFuture<'_, ConnectionManager> {
        Box::pin(async move {
            let master = self.master(timeout).await?;
            bounded(
                timeout,
                ConnectionManager::new_with_config(master.client, config),
            )
            .await
        })
    }
}

impl Sentinel {
    async fn master(&self, timeout: Duration) -> RedisResult<Master> {
        let mut last: Option<RedisError> = None;
        for (host, port) in &self.sentinels {
            match self.ask(host, *port, timeout).await {
                Ok(master) => return Ok(master),
                Err(error) => {
                    tracing::debug!(sentinel = %format_host_port(host, *port), %error, "sentinel: no master from this sentinel");
                    last = Some(error);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            RedisError::from((ErrorKind::EmptySentinelList, "no sentinel configured"))
        }))
    }

    /// Asks one sentinel for the master, then checks the master's role.
    async fn ask(&self, host: &str, port: u16, timeout: Duration) -> RedisResult<Master> {
        let mut settings = redis::RedisConnectionInfo::default();
        if let Some(password) = &self.sentinel_password {
            settings = settings.set_password(password);
        }
        let info = ConnectionAddr::Tcp(host.to_owned(), port)
            .into_connection_info()?
            .set_redis_settings(settings);
        let mut conn = connect(&Client::open(info)?, timeout).await?;
        let mut query = redis::cmd("SENTINEL");
        query.arg("get-master-addr-by-name").arg(&self.service);
        let reply: Option<(String, String)> =
            bounded(timeout, query.query_async(&mut conn)).await?;
        let Some((master_host, master_port)) = reply else {
            return Err(RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "the sentinel does not know this service",
                self.service.clone(),
            )));
        };
        let master_port: u16 = master_port.parse().map_err(|_| {
            RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "the sentinel reported a bad port",
                master_port.clone(),
            ))
        })?;
        let mut settings = redis::RedisConnectionInfo::default().set_db(self.db);
        if let Some(username) = &self.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        let info: ConnectionInfo = ConnectionAddr::Tcp(master_host.clone(), master_port)
            .into_connection_info()?
            .set_redis_settings(settings);
        let client = Client::open(info)?;
        let mut conn = connect(&client, timeout).await?;
        if !bounded(timeout, is_master(&mut conn)).await? {
            return Err(RedisError::from((
                ErrorKind::NoValidReplicasFoundBySentinel,
                "the reported master is not (yet) a master",
                format_host_port(&master_host, master_port),
            )));
        }
        Ok(Master {
            client,
            address: format_host_port(&master_host, master_port),
        })
    }
}

/// Parses every set URL of `urls` (variable name, value; empty counts as unset) so that a
/// binary refuses a bad one at start, naming the variable, instead of running without Redis.
pub fn check_urls(urls: &[(&'static str, Option<&str>)]) -> Result<(), BadRedisUrl> {
    for &(variable, url) in urls {
        if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
            RedisTarget::from_env(url).map_err(|error| BadRedisUrl { variable, error })?;
        }
    }
    Ok(())
}

/// A configured Redis URL that does not parse, and the variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {error}")]
pub struct BadRedisUrl {
    /// `REDIS_URL` or `QUEUE_REDIS_URL`.
    pub variable: &'static str,
    /// What is wrong with it.
    pub error: RedisUrlError,
}

/// Whether the server behind `conn` answers `ROLE` with `master`.
pub async fn is_master<C: ConnectionLike + Send>(conn: &mut C) -> RedisResult<bool> {
    let role: Value = redis::cmd("ROLE").query_async(conn).await?;
    let first = match role {
        Value::Array(items) => items.into_iter().next(),
        _ => None,
    };
    Ok(match first {
        Some(value) => redis::from_redis_value::<String>(value)
            .map(|role| role == "master")
            .unwrap_or(false),
        None => false,
    })
}

/// Whether `error` means the connection is on the wrong server or broken: a `READONLY`
/// answer (a replica), or a failure of the connection itself.
pub fn lost_master(error: &RedisError) -> bool {
    error.code() == Some("READONLY")
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_io_error()
        || error.is_unrecoverable_error()
}

async fn connect(client: &Client, timeout: Duration) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    bounded(
        timeout + timeout,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
}

async fn bounded<T>(
    timeout: Duration,
    future: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "redis did not answer in time",
        ))),
    }
}

fn describe_addr(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) => format_host_port(host, *port),
        ConnectionAddr::TcpTls { host, port, .. } => {
            format!("tls:{}", format_host_port(host, *port))
        }
        ConnectionAddr::Unix(path) => format!("unix:{}", path.display()),
        _ => "redis".to_owned(),
    }
}

fn format_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Parses what follows `redis+sentinel://`.
fn parse_sentinel(rest: &str) -> Result<Sentinel, RedisUrlError> {
    if rest.contains(['?', '#']) {
        return Err(RedisUrlError::Query);
    }
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, password) = match info.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (info, None),
            };
            let user = percent_decode(user)?;
            let password = password.map(percent_decode).transpose()?;
            (
                Some(user).filter(|u| !u.is_empty()),
                password.filter(|p| !p.is_empty()),
            )
        }
    };
    let sentinels = hosts
        .split(',')
        .filter(|h| !h.trim().is_empty())
        .map(parse_host_port)
        .collect::<Result<Vec<_>, _>>()?;
    if sentinels.is_empty() {
        return Err(RedisUrlError::NoSentinels);
    }
    let mut segments = path.split('/');
    let service = segments.next().unwrap_or_default();
    if service.is_empty() {
        return Err(RedisUrlError::NoService);
    }
    let db = match segments.next() {
        None | Some("") => 0,
        Some(raw) => raw
            .parse::<u32>()
            .map(i64::from)
            .map_err(|_| RedisUrlError::BadDatabase(raw.to_owned()))?,
    };
    let trailing: Vec<&str> = segments.filter(|s| !s.is_empty()).collect();
    if !trailing.is_empty() {
        return Err(RedisUrlError::TrailingPath(trailing.join("/")));
    }
    Ok(Sentinel {
        sentinels,
        service: service.to_owned(),
        username,
        password,
        db,
        sentinel_password: None,
    })
}

/// Parses `host[:port]` or `[v6]:port`.
fn parse_host_port(raw: &str) -> Result<(String, u16), RedisUrlError> {
    let address = raw.trim();
    let bad = |reason| RedisUrlError::BadSentinel {
        address: address.to_owned(),
        reason,
    };
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address opened with [ is not closed with ]"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected :port after ]"))?,
                ),
            ),
        }
    } else {
        match address.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if host.contains([' ', '@', '/', '[', ']']) {
        return Err(bad("the host contains a character a host cannot hold"));
    }
    let port = match port {
        None => DEFAULT_SENTINEL_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(0) => return Err(bad("port 0")),
            Ok(port) => port,
            Err(_) => return Err(bad("the port is not a number from 1 to 65535")),
        },
    };
    Ok((host.to_owned(), port))
}

/// Decodes `%XX` escapes.
fn percent_decode(raw: &str) -> Result<String, RedisUrlError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(RedisUrlError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| RedisUrlError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| RedisUrlError::BadEscape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| RedisUrlError::BadEscape)
}

/// The connection under a [`MasterConnection`].
#[derive(Clone)]
enum Link {
    /// A direct target: a connection manager, which reconnects to its one server by itself.
    Direct(ConnectionManager),
    /// A Sentinel target: a connection to the master as last looked up.
    Master(MultiplexedConnection),
}

/// One logical connection to the current master, for code that holds a connection value
/// (apalis-redis' `RedisStorage<T, Conn>`). Clones share the connection.
///
/// On a direct target it is a connection manager. On a Sentinel target it opens a connection
/// to the master on first use; after a connection error or a `READONLY` answer it drops it,
/// and the next command looks the master up again. A command refused with `READONLY` was
/// not run, so it is sent once more to the new master; any other error is returned.
#[derive(Clone)]
pub struct MasterConnection {
    /// Where the master is found (shared: clones stay small).
    target: Arc<RedisTarget>,
    /// Bound on looking the master up and connecting.
    timeout: Duration,
    /// The connection in use and its number (counting from 1 per opening), so an error
    /// drops only the connection it happened on. A tokio lock: held across the lookup so
    /// concurrent commands after a fail-over open one connection, not one each.
    link: Arc<tokio::sync::Mutex<(u64, Option<Link>)>>,
    /// The database, as reported by `get_db`.
    db: i64,
}

impl fmt::Debug for MasterConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterConnection")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl MasterConnection {
    /// Connects to `target`'s current master; fails if it cannot be reached within
    /// `timeout`. Connections use the redis client's default timeouts (as apalis-redis'
    /// own `connect` does).
    pub async fn connect(target: RedisTarget, timeout: Duration) -> RedisResult<Self> {
        let db = match &target.0 {
            Kind::Direct(client) => client.get_connection_info().redis_settings().db(),
            Kind::Sentinel(sentinel) => sentinel.db,
        };
        let conn = Self {
            target: Arc::new(target),
            timeout,
            link: Arc::new(tokio::sync::Mutex::new((0, None))),
            db,
        };
        conn.link().await?;
        Ok(conn)
    }

    /// The connection in use and its number, opened (after a lookup) when there is none.
    async fn link(&self) -> RedisResult<(u64, Link)> {
        let mut guard = self.link.lock().await;
        if let (number, Some(link)) = &*guard {
            return Ok((*number, link.clone()));
        }
        let link = match &self.target.0 {
            Kind::Direct(client) => {
                Link::Direct(bounded(self.timeout, ConnectionManager::new(client.clone())).await?)
            }
            Kind::Sentinel(sentinel) => {
                let master = sentinel.master(self.timeout).await?;
                let conn = bounded(
                    self.timeout,
                    master.client.get_multiplexed_async_connection(),
                )
                .await?;
                tracing::info!(master = %master.address, "redis: connected to the sentinel service's master");
                Link::Master(conn)
            }
        };
        let number = guard.0 + 1;
        *guard = (number, Some(link.clone()));
        Ok((number, link))
    }

    /// Drops connection `number` after `error` on it, if the error means the master was lost
    /// (Sentinel targets only: a connection manager reconnects by itself) and no newer
    /// connection replaced it meanwhile. Returns whether the command was refused unrun with
    /// `READONLY`.
    async fn after_error(&self, number: u64, error: &RedisError) -> bool {
        if !self.target.is_sentinel() || !lost_master(error) {
            return false;
        }
        let mut guard = self.link.lock().await;
        if guard.0 == number && guard.1.take().is_some() {
            tracing::warn!(%error, "redis: lost the master; looking it up again");
        }
        error.code() == Some("READONLY")
    }
}

impl ConnectionLike for MasterConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut retried = false;
            loop {
                let (number, link) = self.link().await?;
                let result = match link {
                    Link::Direct(mut conn) => conn.req_packed_command(cmd).await,
                    Link::Master(mut conn) => conn.req_packed_command(cmd).await,
                };
                match result {
                    Err(error) if self.after_error(number, &error).await && !retried => {
                        retried = true
                    }
                    result => return result,
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut retried = false;
            loop {
                let (number, link) = self.link().await?;
                let result = match link {
                    Link::Direct(mut conn) => {
                        conn.req_packed_commands(pipeline, offset, count).await
                    }
                    Link::Master(mut conn) => {
                        conn.req_packed_commands(pipeline, offset, count).await
                    }
                };
                match result {
                    Err(error) if self.after_error(number, &error).await && !retried => {
                        retried = true
                    }
                    result => return result,
                }
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(url: &str) -> Sentinel {
        match RedisTarget::parse(url, Some("sentinel-secret")).unwrap().0 {
            Kind::Sentinel(s) => (*s).clone(),
            Kind::Direct(_) => panic!("{url} parsed as a direct URL"),
        }
    }

    #[test]
    fn the_full_sentinel_form_parses() {
        let s = sentinel(
            "redis+sentinel://app:p%40ss@10.0.0.1:26379,10.0.0.2:26380,[::1]:5000/mymaster/3",
        );
        assert_eq!(
            s.sentinels,
            vec![
                ("10.0.0.1".to_owned(), 26379),
                ("10.0.0.2".to_owned(), 26380),
                ("::1".to_owned(), 5000)
            ]
        );
        assert_eq!(s.service, "mymaster");
        assert_eq!(s.db, 3);
        assert_eq!(s.username.as_deref(), Some("app"));
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        assert_eq!(s.sentinel_password.as_deref(), Some("sentinel-secret"));
    }

    #[test]
    fn the_short_sentinel_form_takes_defaults() {
        let s = sentinel("redis+sentinel://:secret@sentinel-a,sentinel-b/cache");
        assert_eq!(
            s.sentinels,
            vec![
                ("sentinel-a".to_owned(), DEFAULT_SENTINEL_PORT),
                ("sentinel-b".to_owned(), DEFAULT_SENTINEL_PORT)
            ]
        );
        assert_eq!((s.service.as_str(), s.db), ("cache", 0));
        assert_eq!((s.username, s.password.as_deref()), (None, Some("secret")));
        let s = sentinel("REDIS+SENTINEL://h:1/svc/");
        assert_eq!((s.service.as_str(), s.db), ("svc", 0));
        assert!(s.password.is_none());
    }

    #[test]
    fn an_empty_sentinel_password_is_none() {
        let target = RedisTarget::parse("redis+sentinel://h:1/svc", Some("")).unwrap();
        let Kind::Sentinel(s) = target.0 else {
            panic!("not sentinel")
        };
        assert!(s.sentinel_password.is_none());
    }

    #[test]
    fn direct_urls_still_parse() {
        for url in [
            "redis://127.0.0.1:6379/0",
            "redis://:pw@host/2",
            "unix:///tmp/redis.sock",
        ] {
            let target = RedisTarget::parse(url, None).unwrap();
            assert!(!target.is_sentinel(), "{url}");
        }
    }

    #[test]
    fn bad_urls_are_refused_with_what_is_wrong() {
        let cases: &[(&str, RedisUrlError)] = &[
            ("", RedisUrlError::Empty),
            ("redis+sentinel:///svc", RedisUrlError::NoSentinels),
            ("redis+sentinel://,/svc", RedisUrlError::NoSentinels),
            ("redis+sentinel://h:1", RedisUrlError::NoService),
            ("redis+sentinel://h:1/", RedisUrlError::NoService),
            (
                "redis+sentinel://h:1/svc/x",
                RedisUrlError::BadDatabase("x".to_owned()),
            ),
            (
                "redis+sentinel://h:1/svc/-1",
                RedisUrlError::BadDatabase("-1".to_owned()),
            ),
            (
                "redis+sentinel://h:1/svc/0/extra",
                RedisUrlError::TrailingPath("extra".to_owned()),
            ),
            ("redis+sentinel://h:1/svc?db=1", RedisUrlError::Query),
            ("redis+sentinel://u:%zz@h:1/svc", RedisUrlError::BadEscape),
            ("redis+sentinel://u:%4@h:1/svc", RedisUrlError::BadEscape),
        ];
        for (url, expected) in cases {
            assert_eq!(
                RedisTarget::parse(url, None).unwrap_err(),
                *expected,
                "{url}"
            );
        }
        for (url, address) in [
            ("redis+sentinel://h:0/svc", "h:0"),
            ("redis+sentinel://h:65536/svc", "h:65536"),
            ("redis+sentinel://h:port/svc", "h:port"),
            ("redis+sentinel://:1/svc", ":1"),
            ("redis+sentinel://a:1,[::1/svc", "[::1"),
            ("redis+sentinel://[::1]x/svc", "[::1]x"),
        ] {
            match RedisTarget::parse(url, None) {
                Err(RedisUrlError::BadSentinel { address: got, .. }) => {
                    assert_eq!(got, address, "{url}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(
            RedisTarget::parse("http://example.com", None),
            Err(RedisUrlError::Direct(_))
        ));
    }

    #[test]
    fn a_bad_configured_url_is_named_by_its_variable() {
        assert_eq!(
            check_urls(&[
                ("REDIS_URL", Some("redis://h:1/0")),
                ("QUEUE_REDIS_URL", None)
            ]),
            Ok(())
        );
        assert_eq!(check_urls(&[("REDIS_URL", Some(""))]), Ok(()));
        let error = check_urls(&[
            ("REDIS_URL", Some("redis://h:1/0")),
            ("QUEUE_REDIS_URL", Some("redis+sentinel://h:1")),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "QUEUE_REDIS_URL: redis+sentinel URL names no service (expected /SERVICE after the sentinels)"
        );
    }

    #[test]
    fn errors_read_clearly() {
        let error = RedisTarget::parse("redis+sentinel://h:99999/svc", None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "redis+sentinel URL: sentinel address \"h:99999\": the port is not a number from 1 to 65535"
        );
    }

    #[test]
    fn descriptions_and_debug_hide_passwords() {
        let target =
            RedisTarget::parse("redis+sentinel://u:hunter2@h:1,k:2/svc/1", Some("s3cret")).unwrap();
        assert_eq!(target.describe(), "redis+sentinel://h:1,k:2/svc/1");
        let debug = format!("{target:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("s3cret"),
            "{debug}"
        );
        let direct = RedisTarget::parse("redis://:hunter2@h:7/0", None).unwrap();
        assert!(!format!("{direct:?}").contains("hunter2"));
    }
}
