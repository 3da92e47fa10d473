//! The Redis side of the cache: connection, the generation scheme in Lua, and reachability.
//!
//! Guarantees:
//! - every call is bounded by the response timeout, so a stalled Redis cannot hang a request;
//! - any error or timeout marks Redis down (one warning per transition); only the health
//!   check (in the service) marks it up again, after emptying the fallback;
//! - a read fetches the generation and the value in one round trip (a Lua script), creating
//!   the generation with `SET NX` when it is missing;
//! - pattern deletes use `SCAN MATCH` + `UNLINK` in batches, never `KEYS`;
//! - on a Sentinel target every new connection looks the master up, the health check asks
//!   `ROLE` (a demoted master counts as down), a `READONLY` answer drops the connection, and
//!   a generation change completes only once a replica acknowledged it (`WAIT 1`), so a
//!   completed invalidation survives a fail-over;
//! - a reconnection that lands on a different master marks Redis down and is remembered
//!   ([`RedisStore::master_moved`]) until the service has replaced every generation, so no
//!   read is served from the new master under a generation it may have missed.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisResult, Script};

use super::key::{CacheKey, KeyPattern};
use super::memory::new_generation;
use crate::error::CacheError;
use crate::redis_target::{RedisTarget, is_master, lost_master};

/// Keys asked of each `SCAN` step.
const SCAN_BATCH: usize = 500;

/// Reads (creating if missing) the generation at `KEYS[1]`, then the value at
/// `KEYS[2]..'@'..generation`. Returns `{generation, value}` or `{generation}`.
const GET_LUA: &str = r"
local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  gen = redis.call('GET', KEYS[1])
end
local value = redis.call('GET', KEYS[2] .. '@' .. gen)
if value then
  return {gen, value}
end
return {gen}
";

/// Stores `ARGV[2]` for `ARGV[3]` ms under the current (created if missing) generation.
const SET_LUA: &str = r"
local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  gen = redis.call('GET', KEYS[1])
end
redis.call('SET', KEYS[2] .. '@' .. gen, ARGV[2], 'PX', ARGV[3])
return gen
";

/// Unlinks the value at the current generation, if there is one; returns how many went.
const DELETE_LUA: &str = r"
local gen = redis.call('GET', KEYS[1])
if not gen then
  return 0
end
return redis.call('UNLINK', KEYS[2] .. '@' .. gen)
";

/// Reads the generation at `KEYS[1]`, creating it with `ARGV[1]` when missing.
const GENERATION_LUA: &str = r"
local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  gen = redis.call('GET', KEYS[1])
end
return gen
";

/// Sets the generation at `KEYS[1]` to `ARGV[2]` only if it is still `ARGV[1]`; returns 1 if
/// it did.
const SWAP_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Drops lapsed leases (by Redis' clock) and lists the live ones.
const NEAR_LIVE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// Sets lease `ARGV[1]` to expire `ARGV[2]` ms from now by Redis' clock.
const NEAR_RENEW_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
return 1
";

/// Counts the leases among `ARGV` that neither acknowledged (`KEYS[2]`) nor lapsed.
const NEAR_PENDING_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pending = 0
for _, id in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[2], id) == 0 then
    local expiry = redis.call('ZSCORE', KEYS[1], id)
    if expiry and tonumber(expiry) > now then
      pending = pending + 1
    end
  end
end
return pending
";

/// The Redis backend of the cache service.
pub(crate) struct RedisStore {
    /// `None` when the configured URL did not parse: Redis then stays down for good.
    target: Option<RedisTarget>,
    /// The master as last looked up: its client (for pub/sub) and address. A std lock: held
    /// only to clone or swap, never across an await.
    master: RwLock<Option<(redis::Client, String)>>,
    /// Set when a reconnection found a different master than the one before; cleared by
    /// [`RedisStore::settle_master`].
    moved: AtomicBool,
    /// Prepended to every stored key.
    prefix: String,
    /// `prefix` with glob characters escaped, for `SCAN MATCH`.
    glob_prefix: String,
    /// Bound on every command's answer.
    response_timeout: Duration,
    /// Bound on establishing a connection.
    connect_timeout: Duration,
    /// The live connection, replaced by the health check when it stops answering. A std lock:
    /// it is held only to clone or swap the handle, never across an await.
    connection: RwLock<Option<ConnectionManager>>,
    /// Whether Redis serves reads right now.
    up: AtomicBool,
    /// [`GET_LUA`].
    get_script: Script,
    /// [`SET_LUA`].
    set_script: Script,
    /// [`DELETE_LUA`].
    delete_script: Script,
    /// [`GENERATION_LUA`].
    generation_script: Script,
    /// [`SWAP_LUA`].
    swap_script: Script,
    /// [`NEAR_LIVE_LUA`].
    near_live_script: Script,
    /// [`NEAR_RENEW_LUA`].
    near_renew_script: Script,
    /// [`NEAR_PENDING_LUA`].
    near_pending_script: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("response_timeout", &self.response_timeout)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url` (not yet connected). A URL that does not parse is logged and leaves
    /// the store permanently down.
    pub(crate) fn new(url: &str, prefix: &str, response_timeout: Duration) -> Self {
        let target = match RedisTarget::from_env(url) {
            Ok(target) => Some(target),
            Err(error) => {
                tracing::error!(%error, "REDIS_URL does not parse; the cache stays on memory");
                None
            }
        };
        Self {
            target,
            master: RwLock::new(None),
            moved: AtomicBool::new(false),
            prefix: prefix.to_owned(),
            glob_prefix: escape_glob(prefix),
            response_timeout,
            connect_timeout: response_timeout.max(Duration::from_secs(1)),
            connection: RwLock::new(None),
            up: AtomicBool::new(false),
            get_script: Script::new(GET_LUA),
            set_script: Script::new(SET_LUA),
            delete_script: Script::new(DELETE_LUA),
            generation_script: Script::new(GENERATION_LUA),
            swap_script: Script::new(SWAP_LUA),
            near_live_script: Script::new(NEAR_LIVE_LUA),
            near_renew_script: Script::new(NEAR_RENEW_LUA),
            near_pending_script: Script::new(NEAR_PENDING_LUA),
        }
    }

    /// A fresh pub/sub connection to the master as last looked up (for the near cache's
    /// invalidation subscription), and that master's address.
    pub(crate) async fn pubsub(&self) -> Result<(redis::aio::PubSub, String), CacheError> {
        let (client, address) = self.current_master().ok_or(CacheError::Unavailable)?;
        Ok((client.get_async_pubsub().await?, address))
    }

    /// The master as last looked up: its client and address.
    fn current_master(&self) -> Option<(redis::Client, String)> {
        self.master
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The address of the master as last looked up.
    pub(crate) fn master_address(&self) -> Option<String> {
        self.current_master().map(|(_, address)| address)
    }

    /// Whether a reconnection found a different master and the service has not yet
    /// replaced every generation on it.
    pub(crate) fn master_moved(&self) -> bool {
        self.moved.load(Ordering::SeqCst)
    }

    /// Records that the service replaced every generation on the current master.
    pub(crate) fn settle_master(&self) {
        self.moved.store(false, Ordering::SeqCst);
    }

    /// Whether the master is found through sentinels.
    fn sentinel(&self) -> bool {
        self.target.as_ref().is_some_and(RedisTarget::is_sentinel)
    }

    /// The channel near-cache invalidations are published on.
    pub(crate) fn near_channel(&self) -> String {
        format!("{}near:invalidate", self.prefix)
    }

    fn near_leases_key(&self) -> String {
        format!("{}near:leases", self.prefix)
    }

    fn near_ack_key(&self, message: &str) -> String {
        format!("{}near:ack:{message}", self.prefix)
    }

    /// Renews lease `id` for `lease` from now (Redis' clock), only after the server answered
    /// `ROLE` with `master`: a lease held on a replica would not hold invalidations back.
    pub(crate) async fn near_renew(&self, id: &str, lease: Duration) -> Result<(), CacheError> {
        if !self
            .call(|mut conn| async move { is_master(&mut conn).await })
            .await?
        {
            self.forget_connection();
            return Err(CacheError::NotMaster);
        }
        let mut invocation = self.near_renew_script.key(self.near_leases_key());
        invocation
            .arg(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
            .arg(id);
        self.call(|mut conn| async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Removes lease `id`.
    pub(crate) async fn near_release(&self, id: &str) -> Result<(), CacheError> {
        let mut command = redis::cmd("ZREM");
        command.arg(self.near_leases_key()).arg(id);
        self.call(|mut conn| async move { command.query_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Records that `id` emptied its near cache for `message`.
    pub(crate) async fn near_ack(&self, message: &str, id: &str) -> Result<(), CacheError> {
        let key = self.near_ack_key(message);
        let mut pipe = redis::pipe();
        pipe.cmd("SADD")
            .arg(&key)
            .arg(id)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(60_000)
            .ignore();
        self.call(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await
    }

    /// The live leases (lapsed ones are dropped).
    pub(crate) async fn near_live_leases(&self) -> Result<Vec<String>, CacheError> {
        let invocation = self.near_live_script.key(self.near_leases_key());
        self.call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// Publishes invalidation `message`.
    pub(crate) async fn near_publish(&self, message: &str) -> Result<(), CacheError> {
        let mut command = redis::cmd("PUBLISH");
        command.arg(self.near_channel()).arg(message);
        self.call(|mut conn| async move { command.query_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// How many of `leases` have neither acknowledged `message` nor lapsed.
    pub(crate) async fn near_pending(
        &self,
        message: &str,
        leases: &[String],
    ) -> Result<i64, CacheError> {
        let mut invocation = self.near_pending_script.key(self.near_leases_key());
        invocation.key(self.near_ack_key(message));
        for lease in leases {
            invocation.arg(lease);
        }
        self.call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// Whether Redis serves reads right now.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Marks Redis as serving reads again.
    pub(crate) fn mark_up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Marks Redis down, warning once per transition.
    pub(crate) fn mark_down(&self, reason: &dyn fmt::Display) {
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(%reason, "redis unreachable; serving the cache from the in-memory fallback");
        }
    }

    /// Drops the current connection so the next health check opens a fresh one.
    pub(crate) fn forget_connection(&self) {
        *self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Answers whether Redis replies to `PING` (on a Sentinel target: whether the server
    /// still answers `ROLE` with `master`), opening a connection first if there is none.
    #[tracing::instrument(skip_all, level = "trace", err(level = "debug"))]
    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        if self.current().is_none() {
            self.connect().await?;
        }
        if self.sentinel() {
            let master = self
                .call(|mut conn| async move { is_master(&mut conn).await })
                .await?;
            if !master {
                self.mark_down(&CacheError::NotMaster);
                return Err(CacheError::NotMaster);
            }
            return Ok(());
        }
        self.call(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .map(drop)
    }

    /// Looks the master up and opens a connection manager to it, bounded by the connect
    /// timeout; notes when the master differs from the one before.
    async fn connect(&self) -> Result<(), CacheError> {
        let target = self.target.clone().ok_or(CacheError::Unavailable)?;
        let master = target.master(self.connect_timeout).await?;
        let client = master.client.clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(0);
        let manager = tokio::time::timeout(
            self.connect_timeout + self.response_timeout,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| CacheError::Timeout(self.connect_timeout))??;
        let previous = self
            .master
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace((master.client, master.address.clone()));
        if let Some((_, before)) = previous
            && before != master.address
        {
            tracing::warn!(%before, now = %master.address, "redis: the master moved; every generation is replaced before the cache serves from it");
            self.moved.store(true, Ordering::SeqCst);
            self.mark_down(&"the master moved");
        }
        *self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(manager);
        Ok(())
    }

    /// The current connection handle, if any.
    fn current(&self) -> Option<ConnectionManager> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs one bounded call; an error or a timeout marks Redis down.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.current().ok_or(CacheError::Unavailable)?;
        match tokio::time::timeout(self.response_timeout, op(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.mark_down(&error);
                if self.sentinel() && lost_master(&error) {
                    self.forget_connection();
                }
                Err(CacheError::Redis(error))
            }
            Err(_) => {
                let error = CacheError::Timeout(self.response_timeout);
                self.mark_down(&error);
                Err(error)
            }
        }
    }

    /// The key holding `category`'s generation token.
    fn generation_key(&self, category: &str) -> String {
        format!("{}_gen:{category}", self.prefix)
    }

    /// The stored key of `key` without its `@{generation}` suffix.
    fn base_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// Reads `key` under its category's current generation (created if missing), in one
    /// round trip; returns the value, if any, and that generation.
    pub(crate) async fn get(&self, key: &CacheKey) -> Result<(Option<Bytes>, String), CacheError> {
        let mut invocation = self.get_script.key(self.generation_key(key.category()));
        invocation.key(self.base_key(key)).arg(new_generation());
        let mut reply: Vec<Vec<u8>> = self
            .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        let value = (reply.len() > 1).then(|| Bytes::from(reply.swap_remove(1)));
        let generation = reply
            .pop()
            .map(|raw| String::from_utf8_lossy(&raw).into_owned())
            .ok_or(CacheError::Unavailable)?;
        Ok((value, generation))
    }

    /// Stores `value` under `key` at the given generation.
    pub(crate) async fn set_at(
        &self,
        key: &CacheKey,
        generation: &str,
        value: &Bytes,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}@{generation}", self.base_key(key)))
            .arg(value.as_ref())
            .arg("PX")
            .arg(ttl_millis(ttl));
        self.call(|mut conn| async move { command.query_async::<()>(&mut conn).await })
            .await
    }

    /// Stores `value` under `key` at its category's current generation, in one round trip.
    pub(crate) async fn set(
        &self,
        key: &CacheKey,
        value: &Bytes,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let mut invocation = self.set_script.key(self.generation_key(key.category()));
        invocation
            .key(self.base_key(key))
            .arg(new_generation())
            .arg(value.as_ref())
            .arg(ttl_millis(ttl));
        self.call(|mut conn| async move { invocation.invoke_async::<String>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Removes `key`'s current value; returns how many stored keys went (0 or 1).
    pub(crate) async fn delete(&self, key: &CacheKey) -> Result<u64, CacheError> {
        let mut invocation = self.delete_script.key(self.generation_key(key.category()));
        invocation.key(self.base_key(key));
        self.call(|mut conn| async move { invocation.invoke_async::<u64>(&mut conn).await })
            .await
    }

    /// Removes every stored key, of any generation, whose logical key matches `pattern`.
    #[tracing::instrument(skip_all, fields(pattern = pattern.as_str()), err)]
    pub(crate) async fn delete_pattern(&self, pattern: &KeyPattern) -> Result<u64, CacheError> {
        let stored_pattern = format!("{}{}@*", self.glob_prefix, pattern.as_str());
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&stored_pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH);
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .call(|mut conn| async move { scan.query_async(&mut conn).await })
                .await?;
            if !keys.is_empty() {
                let mut unlink = redis::cmd("UNLINK");
                unlink.arg(keys);
                removed += self
                    .call(|mut conn| async move { unlink.query_async::<u64>(&mut conn).await })
                    .await?;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    /// The current generation of `category` (created if missing).
    pub(crate) async fn generation(&self, category: &str) -> Result<String, CacheError> {
        let mut invocation = self.generation_script.key(self.generation_key(category));
        invocation.arg(new_generation());
        self.call(|mut conn| async move { invocation.invoke_async::<String>(&mut conn).await })
            .await
    }

    /// Switches `category` from generation `expected` to `new`; false if another
    /// invalidation replaced `expected` first.
    pub(crate) async fn swap_generation(
        &self,
        category: &str,
        expected: &str,
        new: &str,
    ) -> Result<bool, CacheError> {
        if self.sentinel() {
            let mut command = redis::cmd("EVAL");
            command
                .arg(SWAP_LUA)
                .arg(1)
                .arg(self.generation_key(category))
                .arg(expected)
                .arg(new);
            return self
                .replicated::<i64>(command)
                .await
                .map(|swapped| swapped == 1);
        }
        let mut invocation = self.swap_script.key(self.generation_key(category));
        invocation.arg(expected).arg(new);
        self.call(|mut conn| async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await
            .map(|swapped| swapped == 1)
    }

    /// Gives each of `categories` a new random generation, in one command.
    pub(crate) async fn replace_generations(&self, categories: &[&str]) -> Result<(), CacheError> {
        if categories.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("MSET");
        for category in categories {
            command
                .arg(self.generation_key(category))
                .arg(new_generation());
        }
        self.replicated::<()>(command).await
    }

    /// Gives every generation stored under the prefix a new random token (after the master
    /// moved: the new master may hold tokens older than invalidations the old one completed).
    /// Returns how many it replaced. Not replicated first: if this master is lost too, the
    /// next master change replaces them again.
    pub(crate) async fn replace_all_generations(&self) -> Result<u64, CacheError> {
        let pattern = format!("{}_gen:*", self.glob_prefix);
        let mut cursor: u64 = 0;
        let mut replaced = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH);
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .call(|mut conn| async move { scan.query_async(&mut conn).await })
                .await?;
            if !keys.is_empty() {
                let mut command = redis::cmd("MSET");
                for key in &keys {
                    command.arg(key.as_slice()).arg(new_generation());
                }
                self.call(|mut conn| async move { command.query_async::<()>(&mut conn).await })
                    .await?;
                replaced += keys.len() as u64;
            }
            if next == 0 {
                return Ok(replaced);
            }
            cursor = next;
        }
    }

    /// Runs `write`; on a Sentinel target follows it with `WAIT 1` in the same round trip on
    /// the same connection, and fails with [`CacheError::NotReplicated`] unless a replica
    /// acknowledged it in time.
    async fn replicated<T>(&self, write: redis::Cmd) -> Result<T, CacheError>
    where
        T: FromRedisValue + Send + 'static,
    {
        if !self.sentinel() {
            return self
                .call(|mut conn| async move { write.query_async::<T>(&mut conn).await })
                .await;
        }
        let wait = self.replica_wait();
        let mut pipe = redis::pipe();
        pipe.add_command(write)
            .cmd("WAIT")
            .arg(1)
            .arg(ttl_millis(wait));
        let (value, acknowledged): (T, i64) = self
            .call(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await?;
        if acknowledged < 1 {
            return Err(CacheError::NotReplicated(wait));
        }
        Ok(value)
    }

    /// How long a generation change waits for a replica: half the response timeout, so the
    /// `WAIT` answers within the bound on the call.
    fn replica_wait(&self) -> Duration {
        self.response_timeout / 2
    }

    /// `used_memory_human` from `INFO memory`, and `DBSIZE`.
    pub(crate) async fn server_stats(&self) -> Result<(Option<String>, u64), CacheError> {
        let mut pipeline = redis::pipe();
        pipeline.cmd("INFO").arg("memory").cmd("DBSIZE");
        let (info, keys): (String, u64) = self
            .call(|mut conn| async move { pipeline.query_async(&mut conn).await })
            .await?;
        let used = info.lines().find_map(|line| {
            line.strip_prefix("used_memory_human:")
                .map(|value| value.trim().to_owned())
        });
        Ok((used, keys))
    }
}

/// A time-to-live in whole milliseconds, at least 1 (Redis refuses `PX 0`).
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// `raw` with Redis glob metacharacters escaped, so it matches only itself.
fn escape_glob(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_glob_characters_are_escaped() {
        assert_eq!(escape_glob("mw:"), "mw:");
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn ttl_is_never_zero_milliseconds() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
    }
}
