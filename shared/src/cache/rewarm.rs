//! Invalidation with rewarming: a category's hot keys computed under a new generation that
//! no reader uses yet, then switched to with a compare-and-set.

use std::fmt;
use std::future::Future;

use bytes::Bytes;
use serde::Serialize;

use super::key::CacheKey;
use super::memory;
use super::service::{Backend, CacheService};
use crate::error::CacheError;

/// What [`CacheService::invalidate_and_rewarm`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rewarm {
    /// Keys computed and installed with the new generation.
    pub warmed: u64,
    /// Keys whose computation or store failed (they will be computed on their next read).
    pub failed: u64,
    /// Whether the category switched to the warmed generation (false: a concurrent
    /// invalidation won and the category was invalidated plainly).
    pub switched: bool,
}

impl CacheService {
    /// Invalidates `category` after a data change and, in the same step, installs freshly
    /// computed values for `keys` (the category's hot keys), so their readers see neither a
    /// miss nor a stale value.
    ///
    /// The values are computed (after the caller's data change) and stored under a new
    /// generation that no reader uses yet; then the category switches to it with a
    /// compare-and-set. Readers see the old values until the switch and the new ones after.
    /// If another invalidation replaced the generation meanwhile, the computed values may
    /// predate its change, so they are abandoned and the category is plainly invalidated
    /// instead (fresh, at the cost of misses). With Redis configured this must reach Redis;
    /// if it cannot, the fallback is emptied and the call fails with
    /// [`CacheError::Unavailable`] so the caller (a job) retries. Keys outside `category` are
    /// ignored.
    #[tracing::instrument(skip_all, fields(category, keys = keys.len()), err)]
    pub async fn invalidate_and_rewarm<F, Fut, E>(
        &self,
        category: &str,
        keys: &[CacheKey],
        compute: F,
    ) -> Result<Rewarm, CacheError>
    where
        F: Fn(CacheKey) -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
        E: fmt::Display,
    {
        let expected = match &self.shared.backend {
            Backend::Memory(memory) => memory.generation(category),
            Backend::Redis { redis, fallback } => {
                fallback.replace_generations(&[category]);
                match redis.generation(category).await {
                    Ok(generation) => generation,
                    Err(error) => {
                        fallback.clear().await;
                        tracing::warn!(%error, "invalidation could not reach redis; fallback emptied");
                        return Err(CacheError::Unavailable);
                    }
                }
            }
        };
        let next = memory::new_generation();
        let ttl = self.shared.config.default_ttl;
        let mut report = Rewarm::default();
        for key in keys.iter().filter(|k| k.category() == category) {
            let value = match compute(key.clone()).await {
                Ok(value) => value,
                Err(error) => {
                    tracing::warn!(key = key.as_str(), %error, "rewarm: computing a hot key failed");
                    report.failed += 1;
                    continue;
                }
            };
            let stored = match &self.shared.backend {
                Backend::Memory(memory) => {
                    memory.set_at(key, &next, value, ttl).await;
                    true
                }
                Backend::Redis { redis, .. } => redis.set_at(key, &next, &value, ttl).await.is_ok(),
            };
            if stored {
                report.warmed += 1;
            } else {
                report.failed += 1;
            }
        }
        report.switched = match &self.shared.backend {
            Backend::Memory(memory) => memory.swap_generation(category, &expected, &next),
            Backend::Redis { redis, .. } => {
                redis.swap_generation(category, &expected, &next).await?
            }
        };
        if !report.switched {
            tracing::info!(
                category,
                "rewarm: a concurrent invalidation won; invalidating plainly"
            );
            report.warmed = 0;
            match &self.shared.backend {
                Backend::Memory(memory) => memory.replace_generations(&[category]),
                Backend::Redis { redis, .. } => redis.replace_generations(&[category]).await?,
            }
        }
        if let Backend::Redis { redis, .. } = &self.shared.backend {
            self.near_barrier(redis).await?;
        }
        Ok(report)
    }
}
