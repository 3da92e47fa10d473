//! # mediawarm-shared
//!
//! The library both mediawarm processes link: the API (`mediawarm-api`) reads through it and
//! the worker (`mediawarm-worker`) writes through it, so the worker can recompute any key the
//! API serves.
//!
//! ## Layout
//! - [`domain`]: input types parsed once at the edge (`SourceName`, `Article`, `SortKey`,
//!   `SourceSpec`).
//! - [`config`]: the database and cache options both binaries take.
//! - [`error`]: one error enum per boundary (domain, store, cache).
//! - [`store`]: the `Store`, one type over PostgreSQL and SQLite, and its migrations.
//! - [`cache`]: the `CacheService`: Redis with an in-memory fallback, generations for
//!   freshness, concurrent-miss coalescing and statistics.
//! - [`views`]: the view catalogue: every cached read as a typed query with `key()`,
//!   `parse(key)` and `compute(store)`.
//! - [`sources_file`]: the `SOURCES_FILE` (TOML) that seeds source definitions.
//! - [`jobs`]: job payloads and records (our ULID ids, our states).
//! - [`queue`]: the apalis queues (Redis or SQLite) behind one small module, and `enqueue`
//!   with backpressure.
//! - [`hot`]: hot-key tracking for warming.
//! - [`redis_target`]: Redis URLs (one server, or a Sentinel service's master) and a
//!   connection that follows the master across a fail-over.
//! - [`metrics`]: the Prometheus registry of a process (API, worker, or both).
//! - [`telemetry`]: the binaries' logging set-up.
//! - [`progress`]: progress bars for long commands (on a terminal only).
//! - [`shutdown`]: the Ctrl-C / SIGTERM stop request both binaries wait on.
//!
//! ## Features
//! - `openapi` (off by default): derives `utoipa::ToSchema` on every type the HTTP API answers
//!   or accepts (articles, sources and their inputs, scrape runs' skipped pages, cache
//!   statistics, view bodies), so the API's OpenAPI document describes the real types. The
//!   API enables it; the worker does not.

pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod hot;
pub mod jobs;
pub mod metrics;
pub mod progress;
pub mod queue;
pub mod redis_target;
pub mod shutdown;
pub mod sources_file;
pub mod store;
pub mod telemetry;
pub mod views;
