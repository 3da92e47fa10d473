//! What the cache counts and reports: hit and miss counters per category and serving store
//! (they are the Prometheus series themselves), and the [`CacheStats`] snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;

/// Hits and misses of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryStats {
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when there were no reads.
    pub hit_rate: f64,
}

/// A snapshot of the cache's state and counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheStats {
    /// `redis` or `memory`: what serves reads right now.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub backend: &'static str,
    /// Whether Redis answers right now.
    pub redis_connected: bool,
    /// Redis' `used_memory_human` (e.g. `"2.50M"`), when Redis answered.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub redis_used_memory: Option<String>,
    /// Redis' `DBSIZE`, when Redis answered.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub redis_keys: Option<u64>,
    /// Entries in the memory cache (the backend, or the fallback).
    pub memory_cache_size: u64,
    /// Reads served from the cache, all categories.
    pub hits: u64,
    /// Reads that found nothing, all categories.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when there were no reads.
    pub hit_rate: f64,
    /// The same counters per category (`media`, `volume`, `simplified`).
    pub categories: BTreeMap<String, CategoryStats>,
}

/// `hits / (hits + misses)`, or 0.
pub(super) fn hit_rate(hits: u64, misses: u64) -> f64 {
    let reads = hits + misses;
    if reads == 0 {
        0.0
    } else {
        hits as f64 / reads as f64
    }
}

/// `category`, `backend` of a cache read, as the Prometheus families label them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReadLabels {
    category: String,
    backend: &'static str,
}

/// Which store answered a read: `redis`, `memory` (the memory backend or the fallback), or
/// `near` (the near cache in front of Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    Redis,
    Memory,
    Near,
}

impl Served {
    const ALL: [Self; 3] = [Self::Redis, Self::Memory, Self::Near];

    fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Memory => "memory",
            Self::Near => "near",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Redis => 0,
            Self::Memory => 1,
            Self::Near => 2,
        }
    }
}

/// One category's counters: hits then misses, each by [`Served`].
#[derive(Debug, Clone)]
pub(super) struct CategoryCounters {
    hits: [Counter; 3],
    misses: [Counter; 3],
}

/// Hit and miss counters per category and serving backend. They are the Prometheus series
/// themselves (`mediawarm_cache_hits_total`, `mediawarm_cache_misses_total`): counting a read
/// is a read-locked map lookup by `&str` and one atomic add.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) hits: Family<ReadLabels, Counter>,
    pub(super) misses: Family<ReadLabels, Counter>,
    /// A std lock: held for one lookup or one insert, never across an await.
    per_category: RwLock<HashMap<String, CategoryCounters>>,
}

impl Counters {
    /// `category`'s counters, created at zero on first use.
    pub(super) fn category(&self, category: &str) -> CategoryCounters {
        if let Some(counters) = self
            .per_category
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(category)
        {
            return counters.clone();
        }
        let series = |family: &Family<ReadLabels, Counter>| {
            Served::ALL.map(|served| {
                family
                    .get_or_create(&ReadLabels {
                        category: category.to_owned(),
                        backend: served.as_str(),
                    })
                    .clone()
            })
        };
        let counters = CategoryCounters {
            hits: series(&self.hits),
            misses: series(&self.misses),
        };
        self.per_category
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(category.to_owned())
            .or_insert(counters)
            .clone()
    }

    /// Counts one read of `category` answered by `served`.
    pub(super) fn record(&self, category: &str, served: Served, hit: bool) {
        let index = served.index();
        {
            let map = self
                .per_category
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(counters) = map.get(category) {
                let series = if hit {
                    &counters.hits
                } else {
                    &counters.misses
                };
                series[index].inc();
                return;
            }
        }
        let counters = self.category(category);
        let series = if hit {
            &counters.hits
        } else {
            &counters.misses
        };
        series[index].inc();
    }

    /// The counters per category (both backends summed).
    pub(super) fn categories(&self) -> BTreeMap<String, CategoryStats> {
        self.per_category
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(category, counters)| {
                let hits = counters.hits.iter().map(Counter::get).sum();
                let misses = counters.misses.iter().map(Counter::get).sum();
                let stats = CategoryStats {
                    hits,
                    misses,
                    hit_rate: hit_rate(hits, misses),
                };
                (category.clone(), stats)
            })
            .collect()
    }
}
