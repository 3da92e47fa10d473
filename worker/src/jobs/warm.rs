//! `WarmCache`: recompute keys through the view catalogue and store them.

use std::sync::Arc;

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
    for key in &keys {
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
        match computed {
            Ok(_) => warmed += 1,
            Err(error) => {
                tracing::warn!(key = key.as_str(), %error, "warm: computing a key failed");
                failed.push(key.as_str().to_owned());
            }
        }
    }
    Ok(json!({"requested": keys.len(), "warmed": warmed, "failed": failed}))
}
