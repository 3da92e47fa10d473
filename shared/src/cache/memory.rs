//! The in-process cache: the whole backend when no Redis is configured, and the fallback
//! while Redis is unreachable.
//!
//! It follows the same generation scheme as Redis: each category has a random token in a map,
//! values are stored under `{logical_key}@{token}`, and replacing a token makes every value
//! written under the old one unreadable at once. Entries carry their own time-to-live (moka
//! [`Expiry`]) and the whole store is bounded by a byte budget (moka weigher).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::future::Cache;

use super::key::{CacheKey, KeyPattern};

/// Bytes charged per entry on top of its key and value (moka's bookkeeping, roughly).
const ENTRY_OVERHEAD: usize = 96;

/// A stored value and the time it may live.
#[derive(Debug, Clone)]
struct Entry {
    /// The cached bytes.
    value: Bytes,
    /// How long the entry lives after it was (re)written.
    ttl: Duration,
}

/// Gives each entry the time-to-live it was written with.
#[derive(Debug)]
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// A new random generation token: 16 hex characters.
pub(crate) fn new_generation() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// An in-process, generation-aware cache bounded in bytes.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    /// Values under `{logical_key}@{generation}`.
    entries: Cache<String, Entry>,
    /// The current generation token of each category. A std mutex: it is held only for a
    /// map lookup or insert, never across an await.
    generations: Mutex<HashMap<String, String>>,
}

impl MemoryStore {
    /// A store holding at most about `max_bytes` of keys and values.
    pub(crate) fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                let weight = key.len() + entry.value.len() + ENTRY_OVERHEAD;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self {
            entries,
            generations: Mutex::new(HashMap::new()),
        }
    }

    /// The current generation of `category`, created at random if it has none.
    pub(crate) fn generation(&self, category: &str) -> String {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generations
            .entry(category.to_owned())
            .or_insert_with(new_generation)
            .clone()
    }

    /// Reads `key` under its category's current generation; returns the value (if any) and
    /// that generation.
    pub(crate) async fn get(&self, key: &CacheKey) -> (Option<Bytes>, String) {
        let generation = self.generation(key.category());
        let value = self
            .entries
            .get(&stored_key(key, &generation))
            .await
            .map(|entry| entry.value);
        (value, generation)
    }

    /// Stores `value` under `key` at the given generation (possibly an old one, in which case
    /// nobody will read it).
    pub(crate) async fn set_at(
        &self,
        key: &CacheKey,
        generation: &str,
        value: Bytes,
        ttl: Duration,
    ) {
        if ttl.is_zero() {
            return;
        }
        self.entries
            .insert(stored_key(key, generation), Entry { value, ttl })
            .await;
    }

    /// Stores `value` under `key` at its category's current generation.
    pub(crate) async fn set(&self, key: &CacheKey, value: Bytes, ttl: Duration) {
        let generation = self.generation(key.category());
        self.set_at(key, &generation, value, ttl).await;
    }

    /// Removes `key`'s current value; returns how many entries were removed (0 or 1).
    pub(crate) async fn delete(&self, key: &CacheKey) -> u64 {
        let generation = self.generation(key.category());
        u64::from(
            self.entries
                .remove(&stored_key(key, &generation))
                .await
                .is_some(),
        )
    }

    /// Removes every entry, of any generation, whose logical key matches `pattern`.
    pub(crate) async fn delete_pattern(&self, pattern: &KeyPattern) -> u64 {
        let doomed: Vec<String> = self
            .entries
            .iter()
            .filter(|(stored, _)| {
                stored
                    .split_once('@')
                    .is_some_and(|(logical, _)| pattern.matches(logical))
            })
            .map(|(stored, _)| stored.as_ref().clone())
            .collect();
        let mut removed = 0;
        for stored in doomed {
            if self.entries.remove(&stored).await.is_some() {
                removed += 1;
            }
        }
        removed
    }

    /// Switches `category` from generation `expected` to `new`; false if it is no longer
    /// `expected`.
    pub(crate) fn swap_generation(&self, category: &str, expected: &str, new: &str) -> bool {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match generations.get_mut(category) {
            Some(current) if current == expected => {
                new.clone_into(current);
                true
            }
            _ => false,
        }
    }

    /// Gives each of `categories` a new random generation.
    pub(crate) fn replace_generations(&self, categories: &[&str]) {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for category in categories {
            generations.insert((*category).to_owned(), new_generation());
        }
    }

    /// Forgets every generation and every entry.
    pub(crate) async fn clear(&self) {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.entries.invalidate_all();
        self.entries.run_pending_tasks().await;
    }

    /// The number of live entries.
    pub(crate) async fn len(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }
}

/// The stored form of a logical key at a generation.
fn stored_key(key: &CacheKey, generation: &str) -> String {
    format!("{}@{generation}", key.as_str())
}
