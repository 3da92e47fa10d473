//! `InvalidateCache`: supersede and remove the keys matching each pattern.

use std::sync::Arc;

use mediawarm_shared::cache::KeyPattern;
use mediawarm_shared::jobs::InvalidateCache;
use mediawarm_shared::views::CATEGORIES;
use serde_json::json;

use super::JobError;
use crate::Context;

pub(super) async fn run(
    ctx: &Arc<Context>,
    job: &InvalidateCache,
) -> Result<serde_json::Value, JobError> {
    let mut deleted = 0;
    for raw in &job.patterns {
        let pattern = KeyPattern::parse(raw, CATEGORIES)
            .map_err(|e| JobError::permanent(format!("pattern {raw:?}: {e}")))?;
        deleted += ctx
            .cache
            .invalidate(&pattern, CATEGORIES)
            .await
            .map_err(|e| JobError::transient(format!("invalidating {raw}: {e}")))?;
    }
    Ok(json!({"patterns": job.patterns, "deleted": deleted}))
}
