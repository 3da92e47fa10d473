//! The Redis health task: marks Redis down when it stops answering (or, under Sentinel,
//! stops being the master), and back up once it answers again, after emptying the fallback
//! and, if the master moved, replacing every generation there and emptying the near cache.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::service::{Backend, Shared};

/// Stops the background tasks (Redis health, near-cache lease) when the last service clone
/// goes away.
#[derive(Debug)]
pub(super) struct HealthTask(pub(super) Vec<JoinHandle<()>>);

impl Drop for HealthTask {
    fn drop(&mut self) {
        for task in self.0.drain(..) {
            task.abort();
        }
    }
}

/// Pings Redis every `health_interval`: marks it down on failure (dropping the connection so
/// the next ping looks the master up and opens a fresh one), and back up on success after
/// emptying the fallback. When the reconnection found a different master, every generation
/// on it is replaced and the near cache emptied first; until that succeeds Redis stays down.
pub(super) async fn watch_redis(shared: Arc<Shared>) {
    let Backend::Redis { redis, fallback } = &shared.backend else {
        return;
    };
    let mut ticks = tokio::time::interval(shared.config.health_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match redis.ping().await {
            Ok(()) if !redis.is_up() => {
                fallback.clear().await;
                if redis.master_moved() {
                    match redis.replace_all_generations().await {
                        Ok(replaced) => {
                            if let Some(near) = &shared.near {
                                near.invalidate();
                            }
                            redis.settle_master();
                            tracing::info!(
                                replaced,
                                master = redis.master_address().unwrap_or_default(),
                                "redis master moved; every generation replaced"
                            );
                        }
                        Err(error) => {
                            tracing::warn!(%error, "redis master moved; replacing the generations failed, staying on the fallback");
                            redis.mark_down(&error);
                            continue;
                        }
                    }
                }
                redis.mark_up();
                fallback.clear().await;
                tracing::info!(
                    backend = "redis",
                    "redis reachable again; serving from redis, in-memory fallback emptied"
                );
            }
            Ok(()) => {}
            Err(error) => {
                redis.mark_down(&error);
                redis.forget_connection();
            }
        }
    }
}
