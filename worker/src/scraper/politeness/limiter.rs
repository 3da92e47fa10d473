//! The per-host limiter: at most one request start per interval and at most N requests in
//! flight per host, across every worker process when Redis is configured.
//!
//! Rate: each request reserves the next free start time of its host ("next allowed time":
//! `start = max(now, next)`, then `next = start + interval`) and sleeps until it, so requests
//! are spaced by the interval however many callers there are. In Redis the reservation is one
//! Lua script on a string key per host, timed by the server's clock (`TIME`), so processes
//! with skewed clocks agree. A `Retry-After` pushes the host's next allowed time forward for
//! everyone ([`HostLimiter::defer`]).
//!
//! Concurrency: a semaphore per host in-process; in Redis a sorted set of holders scored by
//! lease expiry, so a slot held by a process that died frees itself after the lease.
//!
//! Guarantees: a caller never waits past its deadline (it gets [`OverBudget`] instead and
//! reserves nothing); Redis failures never fail a request: the limiter logs once and limits
//! in-process until Redis answers again (checked at most every few seconds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mediawarm_shared::redis_target::RedisTarget;
use rand::RngExt as _;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long to stop asking Redis after it failed.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);

/// Reserves a start time: `KEYS[1]` next-allowed time (ms, server clock); `ARGV[1]` interval
/// ms; `ARGV[2]` longest acceptable wait ms. Returns the wait in ms, or -1 (nothing reserved)
/// when it would exceed the longest acceptable wait.
const RESERVE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local at = math.max(now, nxt)
local wait = at - now
if wait > tonumber(ARGV[2]) then return -1 end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], at + interval, 'PX', wait + interval + 60000)
return wait
";

/// Pushes the next-allowed time to at least now + `ARGV[1]` ms.
const DEFER_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local at = math.max(nxt, now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], at, 'PX', at - now + 60000)
return at - now
";

/// Takes a concurrency slot: `KEYS[1]` holders (sorted set, score = lease expiry ms);
/// `ARGV[1]` holder id, `ARGV[2]` cap, `ARGV[3]` lease ms. Returns 1 when taken.
const ACQUIRE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 60000)
  return 1
end
return 0
";

/// A wait that would end after the caller's deadline; nothing was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget;

/// Redis did not answer (already logged); the caller limits in-process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RedisDown;

/// Per-host rate and concurrency limits, in-process or shared through Redis.
#[derive(Debug)]
pub(crate) struct HostLimiter {
    /// Used without Redis, and while Redis is unreachable.
    local: Mutex<HashMap<String, LocalHost>>,
    /// Present when a Redis URL is configured.
    shared: Option<Arc<Shared>>,
    /// Requests in flight per host.
    concurrency: usize,
    /// How long a Redis concurrency slot lasts if its holder never releases it.
    lease: Duration,
}

#[derive(Debug)]
struct LocalHost {
    /// The next free start time.
    next: Instant,
    /// The host's in-flight slots.
    slots: Arc<Semaphore>,
}

pub(crate) struct Shared {
    /// The server, or the Sentinel service whose master holds the slots.
    target: RedisTarget,
    /// Opened on first use; dropped on error and reopened after [`REDIS_BACKOFF`].
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// Until when Redis is not asked (after a failure).
    down_until: Mutex<Option<Instant>>,
    /// Whether the fallback has been logged since Redis last answered.
    warned: AtomicBool,
    /// Key prefix (the deployment's cache prefix).
    prefix: String,
    reserve: Script,
    defer: Script,
    acquire: Script,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A held concurrency slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) enum Permit {
    /// An in-process slot.
    Local {
        /// Released on drop.
        _permit: OwnedSemaphorePermit,
    },
    /// A Redis slot (released by a spawned `ZREM` on drop).
    Shared {
        /// Where the slot lives.
        shared: Arc<Shared>,
        /// The holders' sorted set.
        key: String,
        /// This holder.
        id: String,
    },
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Permit::Shared { shared, key, id } = self
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (shared, key, id) = (Arc::clone(shared), std::mem::take(key), std::mem::take(id));
            runtime.spawn(async move {
                let mut cmd = redis::cmd("ZREM");
                cmd.arg(&key).arg(&id);
                let _ = shared
                    .call(|mut c| async move { cmd.query_async::<i64>(&mut c).await })
                    .await;
            });
        }
    }
}

impl HostLimiter {
    /// A limiter allowing `concurrency` requests in flight per host, shared through Redis at
    /// `redis_url` under `prefix` when given. A Redis URL that does not parse is logged and
    /// the limiter stays in-process.
    pub(crate) fn new(
        redis_url: Option<&str>,
        prefix: &str,
        concurrency: usize,
        lease: Duration,
    ) -> Self {
        let shared = redis_url
            .filter(|u| !u.is_empty())
            .and_then(|url| match RedisTarget::from_env(url) {
                Ok(target) => Some(Arc::new(Shared {
                    target,
                    conn: tokio::sync::Mutex::new(None),
                    down_until: Mutex::new(None),
                    warned: AtomicBool::new(false),
                    prefix: prefix.to_owned(),
                    reserve: Script::new(RESERVE_LUA),
                    defer: Script::new(DEFER_LUA),
                    acquire: Script::new(ACQUIRE_LUA),
                })),
                Err(error) => {
                    tracing::warn!(%error, "scraper: REDIS_URL does not parse; per-host limits are per process");
                    None
                }
            });
        Self {
            local: Mutex::new(HashMap::new()),
            shared,
            concurrency: concurrency.max(1),
            lease,
        }
    }

    /// Whether limits are shared through Redis (when it answers).
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Waits for a concurrency slot on `host`, then for its next start time (at least
    /// `interval` after the previous start), never past `deadline`.
    pub(crate) async fn acquire(
        &self,
        host: &str,
        interval: Duration,
        deadline: Instant,
    ) -> Result<Permit, OverBudget> {
        let permit = self.acquire_slot(host, deadline).await?;
        let wait = self.reserve(host, interval, deadline).await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(permit)
    }

    /// Makes `host` wait at least `wait` from now before its next request starts (a
    /// `Retry-After`), in every process sharing the limiter.
    pub(crate) async fn defer(&self, host: &str, wait: Duration) {
        if let Some(shared) = self.shared_up() {
            let key = shared.rate_key(host);
            let ms = millis(wait);
            let script = shared.defer.clone();
            let result =
                shared
                    .call(|mut c| async move {
                        script.key(&key).arg(ms).invoke_async::<i64>(&mut c).await
                    })
                    .await;
            if result.is_ok() {
                return;
            }
        }
        let mut hosts = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = self.local_host(&mut hosts, host);
        entry.next = entry.next.max(Instant::now() + wait);
    }

    async fn acquire_slot(&self, host: &str, deadline: Instant) -> Result<Permit, OverBudget> {
        if let Some(shared) = self.shared_up() {
            let key = shared.slots_key(host);
            let id = ulid::Ulid::generate().to_string();
            loop {
                let script = shared.acquire.clone();
                let (k, i) = (key.clone(), id.clone());
                let (cap, lease) = (self.concurrency as i64, millis(self.lease));
                let taken = shared
                    .call(|mut c| async move {
                        script
                            .key(&k)
                            .arg(&i)
                            .arg(cap)
                            .arg(lease)
                            .invoke_async::<i64>(&mut c)
                            .await
                    })
                    .await;
                match taken {
                    Ok(1) => {
                        return Ok(Permit::Shared {
                            shared: Arc::clone(shared),
                            key,
                            id,
                        });
                    }
                    Ok(_) => {
                        let pause = Duration::from_millis(rand::rng().random_range(20..=120));
                        if Instant::now() + pause > deadline {
                            return Err(OverBudget);
                        }
                        tokio::time::sleep(pause).await;
                    }
                    Err(RedisDown) => break,
                }
            }
        }
        let slots = {
            let mut hosts = self.local.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(&self.local_host(&mut hosts, host).slots)
        };
        match tokio::time::timeout_at(deadline, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Permit::Local { _permit: permit }),
            _ => Err(OverBudget),
        }
    }

    async fn reserve(
        &self,
        host: &str,
        interval: Duration,
        deadline: Instant,
    ) -> Result<Duration, OverBudget> {
        let now = Instant::now();
        let max_wait = deadline.saturating_duration_since(now);
        if let Some(shared) = self.shared_up() {
            let key = shared.rate_key(host);
            let script = shared.reserve.clone();
            let (interval_ms, max_ms) = (millis(interval), millis(max_wait));
            let reserved = shared
                .call(|mut c| async move {
                    script
                        .key(&key)
                        .arg(interval_ms)
                        .arg(max_ms)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await;
            match reserved {
                Ok(wait) if wait >= 0 => return Ok(Duration::from_millis(wait as u64)),
                Ok(_) => return Err(OverBudget),
                Err(RedisDown) => {}
            }
        }
        let mut hosts = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = self.local_host(&mut hosts, host);
        let at = entry.next.max(now);
        if at > deadline {
            return Err(OverBudget);
        }
        entry.next = at + interval;
        Ok(at - now)
    }

    fn local_host<'a>(
        &self,
        hosts: &'a mut HashMap<String, LocalHost>,
        host: &str,
    ) -> &'a mut LocalHost {
        hosts.entry(host.to_owned()).or_insert_with(|| LocalHost {
            next: Instant::now(),
            slots: Arc::new(Semaphore::new(self.concurrency)),
        })
    }

    /// The shared side, unless it failed within the last [`REDIS_BACKOFF`].
    fn shared_up(&self) -> Option<&Arc<Shared>> {
        let shared = self.shared.as_ref()?;
        let down = shared
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until);
        (!down).then_some(shared)
    }
}

impl Shared {
    fn rate_key(&self, host: &str) -> String {
        format!("{}scrape:rate:{host}", self.prefix)
    }

    fn slots_key(&self, host: &str) -> String {
        format!("{}scrape:slots:{host}", self.prefix)
    }

    /// Runs one Redis call; a failure marks Redis down for [`REDIS_BACKOFF`] and is logged
    /// once until Redis answers again.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, RedisDown>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = {
            let mut guard = self.conn.lock().await;
            if guard.is_none() {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)))
                    .set_number_of_retries(0);
                let opened = tokio::time::timeout(
                    Duration::from_secs(4),
                    self.target
                        .connection_manager(config, Duration::from_secs(2)),
                )
                .await;
                match opened {
                    Ok(Ok(manager)) => *guard = Some(manager),
                    Ok(Err(error)) => return Err(self.failed(&error.to_string())),
                    Err(_) => return Err(self.failed("connecting timed out")),
                }
            }
            guard.clone().ok_or(RedisDown)?
        };
        match tokio::time::timeout(Duration::from_secs(3), op(conn)).await {
            Ok(Ok(value)) => {
                if self.warned.swap(false, Ordering::Relaxed) {
                    tracing::info!("scraper: Redis answers again; per-host limits are shared");
                }
                Ok(value)
            }
            Ok(Err(error)) => {
                *self.conn.lock().await = None;
                Err(self.failed(&error.to_string()))
            }
            Err(_) => {
                *self.conn.lock().await = None;
                Err(self.failed("no answer within 3 s"))
            }
        }
    }

    fn failed(&self, error: &str) -> RedisDown {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + REDIS_BACKOFF);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error,
                "scraper: Redis unreachable; per-host limits are per process until it answers"
            );
        }
        RedisDown
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn local_starts_are_spaced_by_the_interval() {
        let limiter = HostLimiter::new(None, "t:", 8, Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_secs(60);
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..4 {
            let _permit = limiter
                .acquire("h:80", Duration::from_millis(500), deadline)
                .await
                .expect("within budget");
            starts.push(Instant::now() - start);
        }
        let expected: Vec<Duration> = (0..4).map(|i| Duration::from_millis(500 * i)).collect();
        assert_eq!(starts, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_reserves_nothing() {
        let limiter = HostLimiter::new(None, "t:", 8, Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_secs(1);
        let first = limiter
            .acquire("h:80", Duration::from_secs(5), deadline)
            .await;
        assert!(first.is_ok());
        drop(first);
        let second = limiter
            .acquire("h:80", Duration::from_secs(5), deadline)
            .await;
        assert_eq!(second.err(), Some(OverBudget));
        let other_host = limiter
            .acquire("g:80", Duration::from_secs(5), deadline)
            .await;
        assert!(other_host.is_ok(), "hosts are limited separately");
    }

    #[tokio::test(start_paused = true)]
    async fn defer_pushes_the_next_start() {
        let limiter = HostLimiter::new(None, "t:", 8, Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_secs(60);
        let start = Instant::now();
        limiter.defer("h:80", Duration::from_secs(3)).await;
        let _permit = limiter
            .acquire("h:80", Duration::from_millis(10), deadline)
            .await
            .expect("within budget");
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped_per_host() {
        let limiter = HostLimiter::new(None, "t:", 2, Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_millis(100);
        let a = limiter.acquire("h:80", Duration::ZERO, deadline).await;
        let b = limiter.acquire("h:80", Duration::ZERO, deadline).await;
        let c = limiter.acquire("h:80", Duration::ZERO, deadline).await;
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(
            c.err(),
            Some(OverBudget),
            "a third slot is refused by the deadline"
        );
        drop(a);
        let d = limiter.acquire("h:80", Duration::ZERO, deadline).await;
        assert!(d.is_ok(), "a released slot is reused");
    }
}
