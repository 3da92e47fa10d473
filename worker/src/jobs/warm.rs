//! `WarmCache`: recompute keys through the view catalogue and store them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mediawarm_shared::cache::CacheKey;
use mediawarm_shared::jobs::WarmCache;
use mediawarm_shared::views::View;
use serde_json::json;

use super::JobError;
use crate::Context;

pub(super) async fn run(
    ctx: &Arc<Context>,
    target: &WarmCache,
) -> Result<serde_json::Value, JobError> {
    let keys: Vec<CacheKey> = match target {
        WarmCache::Keys(keys) => keys.clone(),
        WarmCache::TopN(n) => ctx
            .hot
            .top(*n as usize)
            .await
            .map_err(|e| JobError::transient(format!("reading the hot keys: {e}")))?,
    };
    let (mut warmed, mut failed) = (0u64, Vec::new());
    let mut spent: BTreeMap<&str, Duration> = BTreeMap::new();
    for key in &keys {
        let started = Instant::now();
        let Ok(view) = View::parse(key.as_str()) else {
            failed.push(key.as_str().to_owned());
            continue;
        };
        let computed = ctx
            .cache
            .refresh(key, None, || {
                view.compute(&ctx.store, &ctx.views, Utc::now())
            })
            .await;
        *spent.entry(key.category()).or_default() += started.elapsed();
        match computed {
            Ok(_) => warmed += 1,
            Err(error) => {
                tracing::warn!(key = key.as_str(), %error, "warm: computing a key failed");
                failed.push(key.as_str().to_owned());
            }
        }
    }
    for (category, elapsed) in spent {
        ctx.metrics.observe_warm(category, elapsed);
    }
    Ok(json!({"requested": keys.len(), "warmed": warmed, "failed": failed}))
}
