//! The cache service (placeholder until the cache module lands).
