//! The cache service: Redis with an in-memory fallback, generations for freshness,
//! concurrent-miss coalescing and statistics.
//!
//! ## Guarantees
//! - **Reads never fail.** With no Redis configured the service runs on memory. With Redis
//!   configured but unreachable (at start or later) it serves from a fallback memory cache
//!   whose entries live only `fallback_ttl`, warns once, keeps retrying, and returns to Redis
//!   within a few health intervals of Redis answering again, emptying the fallback first (a
//!   process on the fallback could not see other processes' invalidations).
//! - **Freshness.** Each category has a random generation token; values are stored under
//!   `{prefix}{key}@{generation}`. [`CacheService::invalidate`] replaces the tokens of every
//!   category a pattern can reach, and [`CacheService::get_or_set`] stores under the token it
//!   read *before* computing, so a value computed from data older than an invalidation can
//!   never be read after it. Tokens are random, never counters: if Redis loses them, new ones
//!   cannot revive old values.
//! - **Coalescing.** Concurrent misses of one key in one process run one computation.
//! - **Bounded calls.** Every Redis call is bounded by `redis_timeout`.
//! - **Fail-over.** On a Sentinel target (`redis+sentinel://…`) the service follows the
//!   master: when a reconnection lands on a different master, it replaces every generation
//!   there and empties its near cache and fallback before it serves from Redis again, and a
//!   generation change completes only once a replica acknowledged it.
//!
//! ## Layout
//! - `service`: [`CacheService`] itself: reads, writes, invalidation, and where each goes.
//! - `config`: [`CacheConfig`].
//! - `stats`: hit and miss counters (the Prometheus series) and [`CacheStats`].
//! - `rewarm`: [`CacheService::invalidate_and_rewarm`] and its report, [`Rewarm`].
//! - `watch`: the Redis health task (down, back up, master moved).
//! - `key`: [`CacheKey`] and [`KeyPattern`], parsed at the edge.
//! - `memory`: the moka-backed store (the memory backend and the fallback).
//! - `redis`: the Redis store, its Lua scripts and its up/down state.
//! - `near`: the near cache in API processes and its lease protocol.
//! - `flights`: the per-key locks behind coalescing.

mod config;
mod flights;
mod key;
mod memory;
mod near;
mod redis;
mod rewarm;
mod service;
mod stats;
mod watch;

pub use config::CacheConfig;
pub use key::{CacheKey, KeyError, KeyPattern};
pub use rewarm::Rewarm;
pub use service::{CacheService, Lookup};
pub use stats::{CacheStats, CategoryStats, ReadLabels};
