//! The near cache: values read from Redis kept in the API process, with a protocol that keeps
//! The freshness guarantee (docs/ARCHITECTURE.md, "Invariants and why") (a read that starts after an invalidation completed never
//! returns a value from before it).
//!
//! ## Protocol
//! - **Lease.** A process with a near cache holds a lease in Redis: its id in the sorted set
//!   `{prefix}near:leases`, scored with an expiry taken from Redis' clock (`TIME` + `L`, the
//!   lease length). It renews every `L/3`, and only after its invalidation subscription has
//!   answered a `PING` on that very connection. It uses its near cache only while its own
//!   clock says the lease holds: until `t0 + L − margin`, `t0` taken *before* the `PING` was
//!   sent, so the process stops using the near cache before Redis considers the lease lapsed.
//!   A process whose subscription dropped or whose renewal failed stops using (and empties)
//!   its near cache until both work again.
//! - **Invalidation.** Every process that changes cached data (any invalidation, rewarm
//!   switch or delete, near cache or not) first makes the change in Redis, then lists the
//!   live leases, publishes a message on `{prefix}near:invalidate`, and waits until every
//!   listed process has acknowledged it (added its id to `{prefix}near:ack:{message}`) or
//!   its lease has lapsed by Redis' clock. Only then is the invalidation complete. A process
//!   acknowledges after emptying its near cache and bumping its epoch.
//! - **Fills.** A value read from Redis enters the near cache only if no invalidation message
//!   arrived while it was being read (the epoch is unchanged) and the lease holds.
//! - **Lapses.** A process whose lease lapsed (frozen, partitioned, slow) empties its near
//!   cache before it uses it again: invalidations may have completed without it.
//! - **Masters.** A lease is renewed only on a server that answers `ROLE` with `master`, and
//!   only while the subscription is on that same master: when the master moves (Sentinel),
//!   the session ends, the near cache is emptied, and a new session subscribes on the new
//!   master before it takes a lease there.
//!
//! Why that is enough: a process listed as live subscribed before it took its lease, so it
//! receives the message, or its lease lapses, by which time it has stopped serving from its
//! near cache. A process not listed took its lease after the change was made in Redis, and
//! fills only from reads that started after that. A read racing the message cannot install
//! its (old) value after the acknowledgement, because the epoch moved first.
//!
//! Pub/sub alone would not do: it delivers at most once and late; here a lost message costs
//! an invalidation at most one lease length of waiting, never a stale read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;

use super::key::CacheKey;
use super::redis::RedisStore;
use crate::error::CacheError;

/// The most entries a near cache holds; when full (by count or by bytes) it is emptied
/// (values are re-read from Redis on the next hits).
const MAX_ENTRIES: usize = 10_000;

/// The most bytes (keys and values) a near cache holds.
const MAX_BYTES: usize = 32 * 1024 * 1024;

/// How long a near entry lives at most, whatever the value's time-to-live in Redis.
const ENTRY_TTL: Duration = Duration::from_secs(30);

/// Subtracted from a lease on this process' clock (clock rate differences, scheduling).
const MARGIN: Duration = Duration::from_millis(300);

/// Entries and the epoch they belong to.
#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every invalidation message and every loss of the lease.
    epoch: u64,
    /// Key → value and when it expires here.
    map: HashMap<String, (Bytes, Instant)>,
    /// Bytes of keys and values in `map`.
    bytes: usize,
}

impl Entries {
    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// One process' near cache.
#[derive(Debug)]
pub(crate) struct NearCache {
    /// This process' lease member.
    id: String,
    /// The lease length `L`.
    lease: Duration,
    /// The origin of `valid_until_ns`.
    base: Instant,
    /// Until when (ns after `base`) the lease holds on this process' clock; 0: not usable.
    valid_until_ns: AtomicU64,
    /// A std lock: held for one lookup, insert or clear, never across an await.
    entries: RwLock<Entries>,
    /// Set at shutdown: the lease is given up and no longer renewed.
    released: AtomicBool,
}

impl NearCache {
    pub(crate) fn new(lease: Duration) -> Self {
        Self {
            id: ulid::Ulid::generate().to_string(),
            lease,
            base: Instant::now(),
            valid_until_ns: AtomicU64::new(0),
            entries: RwLock::new(Entries::default()),
            released: AtomicBool::new(false),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether the lease holds on this process' clock.
    pub(crate) fn usable(&self) -> bool {
        self.now_ns() < self.valid_until_ns.load(Ordering::SeqCst)
    }

    /// The value of `key`, if the lease holds and it is here.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Bytes> {
        if !self.usable() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (value, expires) = entries.map.get(key.as_str())?;
        (Instant::now() < *expires).then(|| value.clone())
    }

    /// The current epoch: taken before a Redis read whose value may be kept.
    pub(crate) fn epoch(&self) -> u64 {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .epoch
    }

    /// Keeps `value` for `key` if nothing was invalidated since `epoch` and the lease holds.
    pub(crate) fn fill(&self, key: &CacheKey, value: &Bytes, epoch: u64, ttl: Duration) {
        if !self.usable() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.epoch != epoch {
            return;
        }
        let size = key.as_str().len() + value.len();
        if size > MAX_BYTES {
            return;
        }
        if entries.map.len() >= MAX_ENTRIES || entries.bytes + size > MAX_BYTES {
            entries.clear();
        }
        let expires = Instant::now() + ttl.min(ENTRY_TTL);
        if let Some((old, _)) = entries
            .map
            .insert(key.as_str().to_owned(), (value.clone(), expires))
        {
            entries.bytes -= key.as_str().len() + old.len();
        }
        entries.bytes += size;
    }

    /// Empties the near cache and moves the epoch (an invalidation message arrived).
    pub(crate) fn invalidate(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.epoch += 1;
        entries.clear();
    }

    /// Drops `key` and moves the epoch (its value was replaced in Redis).
    pub(crate) fn forget(&self, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.epoch += 1;
        if let Some((old, _)) = entries.map.remove(key) {
            entries.bytes -= key.len() + old.len();
        }
    }

    /// Stops using the near cache (the lease or the subscription was lost) and empties it.
    fn disable(&self) {
        self.valid_until_ns.store(0, Ordering::SeqCst);
        self.invalidate();
    }

    /// Entries held (for statistics).
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

/// Gives up `near`'s lease (at shutdown): it stops being used and renewed, and invalidations
/// stop waiting for it at once instead of after up to one lease length.
pub(crate) async fn release(near: &NearCache, redis: &RedisStore) {
    near.released.store(true, Ordering::SeqCst);
    near.disable();
    if let Err(error) = redis.near_release(&near.id).await {
        tracing::debug!(%error, "near cache: giving up the lease failed; it lapses on its own");
    }
}

/// Keeps `near`'s subscription and lease alive until the task is aborted: subscribe, then
/// renew every `L/3` after a `PING` through the subscription; on any failure disable the
/// near cache and start over after a second.
pub(crate) async fn maintain(near: Arc<NearCache>, redis: Arc<RedisStore>) {
    loop {
        if let Err(error) = session(&near, &redis).await {
            tracing::debug!(%error, "near cache: subscription or lease lost; not used until back");
        }
        near.disable();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One subscription's life: returns when it or the lease fails.
async fn session(near: &Arc<NearCache>, redis: &Arc<RedisStore>) -> Result<(), CacheError> {
    let timeout = near.lease / 3;
    let (pubsub, master) = tokio::time::timeout(timeout, redis.pubsub())
        .await
        .map_err(|_| CacheError::Timeout(timeout))??;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(timeout, sink.subscribe(redis.near_channel()))
        .await
        .map_err(|_| CacheError::Timeout(timeout))??;
    let messages = async {
        while let Some(message) = stream.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            let (id, key) = match payload.split_once(' ') {
                Some((id, key)) => (id, Some(key)),
                None => (payload.as_str(), None),
            };
            match key {
                Some(key) => near.forget(key),
                None => near.invalidate(),
            }
            if let Err(error) = redis.near_ack(id, &near.id).await {
                tracing::debug!(%error, "near cache: acknowledging an invalidation failed");
            }
        }
    };
    let renewals = renew(near, redis, &mut sink, timeout, &master);
    tokio::select! {
        () = messages => Err(CacheError::Unavailable),
        result = renewals => result,
    }
}

/// Renews the lease every `L/3`, each time after a `PING` through the subscription and only
/// while the store's master is still `master` (the one the subscription is on); returns the
/// first failure.
async fn renew(
    near: &NearCache,
    redis: &RedisStore,
    sink: &mut redis::aio::PubSubSink,
    timeout: Duration,
    master: &str,
) -> Result<(), CacheError> {
    let valid = u64::try_from(near.lease.saturating_sub(MARGIN).as_nanos()).unwrap_or(u64::MAX);
    let mut ticks = tokio::time::interval(near.lease / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let t0 = near.now_ns();
        tokio::time::timeout(timeout, sink.ping::<redis::Value>())
            .await
            .map_err(|_| CacheError::Timeout(timeout))??;
        if near.released.load(Ordering::SeqCst) {
            return Err(CacheError::Unavailable);
        }
        if redis.master_address().as_deref() != Some(master) {
            return Err(CacheError::NotMaster);
        }
        redis.near_renew(&near.id, near.lease).await?;
        // A lease that had lapsed may have let an invalidation complete without this
        // process: everything it holds is suspect. (One that still held had not lapsed in
        // Redis either, so every invalidation since waits for this process.)
        if !near.usable() {
            near.invalidate();
        }
        near.valid_until_ns
            .store(t0.saturating_add(valid), Ordering::SeqCst);
    }
}

/// Completes a change already made in Redis — of everything (`key` `None`: an invalidation)
/// or of one key's value — by waiting until every process holding a live lease acknowledged
/// it or lost its lease. Fails (the caller reports the change as not done) only when Redis
/// stops answering or acknowledgements stall past twice the lease length, which a live lease
/// cannot outlast.
pub(crate) async fn barrier(
    redis: &RedisStore,
    lease: Duration,
    key: Option<&CacheKey>,
) -> Result<(), CacheError> {
    let live = redis.near_live_leases().await?;
    if live.is_empty() {
        return Ok(());
    }
    let message = ulid::Ulid::generate().to_string();
    let payload = match key {
        Some(key) => format!("{message} {}", key.as_str()),
        None => message.clone(),
    };
    redis.near_publish(&payload).await?;
    let started = Instant::now();
    let limit = lease * 2 + Duration::from_secs(1);
    loop {
        if redis.near_pending(&message, &live).await? == 0 {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(CacheError::Timeout(limit));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> CacheKey {
        CacheKey::parse(raw).unwrap()
    }

    /// A near cache whose lease holds for the next minute.
    fn leased() -> NearCache {
        let near = NearCache::new(Duration::from_secs(2));
        let until = near.now_ns() + 60_000_000_000;
        near.valid_until_ns.store(until, Ordering::SeqCst);
        near
    }

    #[test]
    fn nothing_is_served_or_kept_without_a_lease() {
        let near = NearCache::new(Duration::from_secs(2));
        let k = key("media:latest:a");
        near.fill(
            &k,
            &Bytes::from_static(b"v"),
            near.epoch(),
            Duration::from_secs(60),
        );
        assert_eq!(near.len(), 0);
        assert_eq!(near.get(&k), None);
    }

    #[test]
    fn a_fill_that_straddles_an_invalidation_is_dropped() {
        let near = leased();
        let k = key("media:latest:a");
        let before = near.epoch();
        near.invalidate();
        near.fill(
            &k,
            &Bytes::from_static(b"old"),
            before,
            Duration::from_secs(60),
        );
        assert_eq!(
            near.get(&k),
            None,
            "read before the invalidation, kept after it"
        );
        near.fill(
            &k,
            &Bytes::from_static(b"new"),
            near.epoch(),
            Duration::from_secs(60),
        );
        assert_eq!(near.get(&k), Some(Bytes::from_static(b"new")));
    }

    #[test]
    fn forgetting_a_key_drops_it_and_blocks_fills_in_flight() {
        let near = leased();
        let (a, b) = (key("media:latest:a"), key("volume:day:b"));
        let epoch = near.epoch();
        near.fill(
            &a,
            &Bytes::from_static(b"a"),
            epoch,
            Duration::from_secs(60),
        );
        near.fill(
            &b,
            &Bytes::from_static(b"b"),
            epoch,
            Duration::from_secs(60),
        );
        near.forget(a.as_str());
        assert_eq!(near.get(&a), None);
        assert_eq!(
            near.get(&b),
            Some(Bytes::from_static(b"b")),
            "other keys stay"
        );
        near.fill(
            &a,
            &Bytes::from_static(b"stale"),
            epoch,
            Duration::from_secs(60),
        );
        assert_eq!(near.get(&a), None);
    }

    #[test]
    fn losing_the_lease_empties_it_and_the_byte_budget_holds() {
        let near = leased();
        let k = key("media:latest:a");
        near.fill(
            &k,
            &Bytes::from_static(b"v"),
            near.epoch(),
            Duration::from_secs(60),
        );
        near.disable();
        assert!(!near.usable());
        assert_eq!(near.len(), 0);

        let near = leased();
        let big = Bytes::from(vec![0u8; MAX_BYTES / 3]);
        for i in 0..4 {
            near.fill(
                &key(&format!("media:latest:{i}")),
                &big,
                near.epoch(),
                Duration::from_secs(60),
            );
            let bytes = near.entries.read().unwrap().bytes;
            assert!(bytes <= MAX_BYTES, "{bytes} bytes held");
        }
        assert!(near.len() < 4, "the budget emptied it once full");
    }
}
