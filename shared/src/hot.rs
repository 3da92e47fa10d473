//! Hot-key tracking: which cached reads people actually ask for.
//!
//! Every cached read records its key here. Counts accumulate locally (a read costs a map
//! increment, no round trip) and are flushed in batches: to a Redis sorted set shared by
//! every process in production, or to an in-process map in embedded mode. Scores decay
//! exponentially (they halve every `half_life`), so a key that was hot yesterday and cold
//! today falls out of the top. Warming asks for the top N.
//!
//! The decay is applied by whichever process first takes the period's `SET NX` token, with
//! one `ZUNIONSTORE … WEIGHTS 0.5` (one command, whatever the set's size), before that
//! process adds its batch (so every batch counts in full), and the set is capped at
//! [`MAX_TRACKED`] keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::cache::CacheKey;
use crate::error::CacheError;
use crate::redis_target::RedisTarget;

/// The most keys tracked; colder ones are dropped.
pub const MAX_TRACKED: usize = 10_000;

/// Cheap-to-clone handle on the hot-key tracker.
#[derive(Clone)]
pub struct HotKeys {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HotKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotKeys")
            .field(
                "shared",
                &matches!(self.inner.backend, HotBackend::Redis { .. }),
            )
            .finish()
    }
}

struct Inner {
    /// Reads since the last flush. A std mutex: held for one increment or one swap.
    pending: Mutex<HashMap<String, u64>>,
    /// Where the decayed scores live.
    backend: HotBackend,
    /// Scores halve every `half_life`.
    half_life: Duration,
}

enum HotBackend {
    /// Embedded mode: scores in this process, with the time of the last decay.
    Memory(Mutex<(HashMap<String, f64>, Instant)>),
    /// Production: a sorted set every process shares.
    Redis {
        /// The server, or the Sentinel service whose master holds the scores.
        target: RedisTarget,
        /// Opened on first use (on the master as looked up then), dropped on error and
        /// reopened, so a fail-over is followed.
        conn: tokio::sync::Mutex<Option<ConnectionManager>>,
        /// The sorted set.
        set_key: String,
        /// The token that elects one decayer per period.
        decay_key: String,
    },
}

impl HotKeys {
    /// A tracker in this process only.
    pub fn in_memory(half_life: Duration) -> Self {
        Self::with_backend(
            HotBackend::Memory(Mutex::new((HashMap::new(), Instant::now()))),
            half_life,
        )
    }

    /// A tracker shared through Redis under `prefix`. Never fails: an unreachable Redis only
    /// delays flushes.
    pub fn shared(redis_url: &str, prefix: &str, half_life: Duration) -> Result<Self, CacheError> {
        let target = RedisTarget::from_env(redis_url)?;
        Ok(Self::with_backend(
            HotBackend::Redis {
                target,
                conn: tokio::sync::Mutex::new(None),
                set_key: format!("{prefix}_hot"),
                decay_key: format!("{prefix}_hot_decay"),
            },
            half_life,
        ))
    }

    fn with_backend(backend: HotBackend, half_life: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                pending: Mutex::new(HashMap::new()),
                backend,
                half_life,
            }),
        }
    }

    /// Counts one read of `key`. Costs a map increment.
    pub fn record(&self, key: &CacheKey) {
        let mut pending = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = pending.get_mut(key.as_str()) {
            *count += 1;
        } else if pending.len() < MAX_TRACKED {
            pending.insert(key.as_str().to_owned(), 1);
        }
    }

    /// Sends the local counts to the shared scores (and decays them when a period is due).
    /// On a Redis error the counts are dropped: they are a heuristic, not data.
    pub async fn flush(&self) -> Result<(), CacheError> {
        let batch = std::mem::take(
            &mut *self
                .inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        match &self.inner.backend {
            HotBackend::Memory(state) => {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                let (scores, last_decay) = &mut *state;
                if last_decay.elapsed() >= self.inner.half_life {
                    *last_decay = Instant::now();
                    scores.retain(|_, score| {
                        *score *= 0.5;
                        *score >= 0.01
                    });
                }
                for (key, count) in batch {
                    *scores.entry(key).or_default() += count as f64;
                }
                if scores.len() > MAX_TRACKED {
                    let mut ranked: Vec<(String, f64)> = scores.drain().collect();
                    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                    ranked.truncate(MAX_TRACKED);
                    scores.extend(ranked);
                }
                Ok(())
            }
            HotBackend::Redis {
                set_key, decay_key, ..
            } => {
                let half_life_ms = u64::try_from(self.inner.half_life.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let mut token = redis::cmd("SET");
                token
                    .arg(decay_key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(half_life_ms);
                let decay_due: Option<String> = self
                    .with_conn(|mut c| async move { token.query_async(&mut c).await })
                    .await?;
                // Older scores decay before this batch is added, so a batch always counts
                // in full whichever process opened the period.
                let mut pipe = redis::pipe();
                if decay_due.is_some() {
                    pipe.cmd("ZUNIONSTORE")
                        .arg(set_key)
                        .arg(1)
                        .arg(set_key)
                        .arg("WEIGHTS")
                        .arg(0.5)
                        .ignore()
                        .cmd("ZREMRANGEBYSCORE")
                        .arg(set_key)
                        .arg("-inf")
                        .arg(0.01)
                        .ignore();
                }
                for (key, count) in &batch {
                    pipe.cmd("ZINCRBY")
                        .arg(set_key)
                        .arg(*count)
                        .arg(key)
                        .ignore();
                }
                pipe.cmd("ZREMRANGEBYRANK")
                    .arg(set_key)
                    .arg(0)
                    .arg(-(MAX_TRACKED as i64) - 1)
                    .ignore();
                self.with_conn(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                    .await?;
                Ok(())
            }
        }
    }

    /// The `n` hottest keys, hottest first (after flushing this process's counts).
    pub async fn top(&self, n: usize) -> Result<Vec<CacheKey>, CacheError> {
        self.flush().await?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let raw: Vec<String> = match &self.inner.backend {
            HotBackend::Memory(state) => {
                let state = state.lock().unwrap_or_else(PoisonError::into_inner);
                let mut ranked: Vec<(&String, &f64)> = state.0.iter().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
                ranked.into_iter().take(n).map(|(k, _)| k.clone()).collect()
            }
            HotBackend::Redis { set_key, .. } => {
                let mut cmd = redis::cmd("ZREVRANGE");
                cmd.arg(set_key).arg(0).arg(n as i64 - 1);
                self.with_conn(|mut c| async move { cmd.query_async(&mut c).await })
                    .await?
            }
        };
        Ok(raw.iter().filter_map(|k| CacheKey::parse(k).ok()).collect())
    }

    /// Flushes every `interval` until the last handle is dropped.
    pub fn spawn_flusher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(error) = (HotKeys { inner }).flush().await {
                    tracing::debug!(%error, "hot keys: flush failed");
                }
            }
        })
    }

    async fn with_conn<T, F, Fut>(&self, op: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let HotBackend::Redis { target, conn, .. } = &self.inner.backend else {
            return Err(CacheError::Unavailable);
        };
        let handle = {
            let mut guard = conn.lock().await;
            match guard.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let config = redis::aio::ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(Duration::from_secs(1)))
                        .set_response_timeout(Some(Duration::from_secs(1)))
                        .set_number_of_retries(1);
                    let c = tokio::time::timeout(
                        Duration::from_secs(2),
                        target.connection_manager(config, Duration::from_secs(1)),
                    )
                    .await
                    .map_err(|_| CacheError::Unavailable)??;
                    *guard = Some(c.clone());
                    c
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(2), op(handle)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                *conn.lock().await = None;
                Err(CacheError::Redis(error))
            }
            Err(_) => {
                *conn.lock().await = None;
                Err(CacheError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> CacheKey {
        CacheKey::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn the_most_read_keys_come_first() {
        let hot = HotKeys::in_memory(Duration::from_secs(600));
        for _ in 0..5 {
            hot.record(&key("volume:day:a"));
        }
        for _ in 0..9 {
            hot.record(&key("media:latest:b"));
        }
        hot.record(&key("simplified:score:c"));
        let top = hot.top(2).await.unwrap();
        assert_eq!(top, [key("media:latest:b"), key("volume:day:a")]);
    }

    #[tokio::test]
    async fn scores_decay_so_new_reads_overtake_old_ones() {
        let hot = HotKeys::in_memory(Duration::from_millis(1));
        for _ in 0..8 {
            hot.record(&key("volume:day:old"));
        }
        hot.flush().await.unwrap();
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            hot.flush().await.unwrap();
        }
        for _ in 0..2 {
            hot.record(&key("volume:day:new"));
        }
        assert_eq!(hot.top(1).await.unwrap(), [key("volume:day:new")]);
    }
}
