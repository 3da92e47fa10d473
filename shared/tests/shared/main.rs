//! The shared crate's integration tests: one binary, one module per subject (linking a test
//! binary costs more than compiling its tests on a small machine).
//!
//! - `store_contract`: the store's promises, on SQLite and PostgreSQL;
//! - `cache_contract`: the cache's promises, on memory and Redis, with fallback and stalls;
//! - `hot_keys_shared`: hot-key scores shared through Redis;
//! - `sources_file`: the `[[source]]` TOML file applied at start-up;
//! - `sentinel_failover`: the cache and the queue follow a Sentinel master across a fail-over.

mod cache_contract;
mod hot_keys_shared;
mod sentinel_failover;
mod sources_file;
mod store_contract;
