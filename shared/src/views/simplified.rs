//! The per-source activity score: `simplified:score:source=_`.
//!
//! For each source: articles in the 24 hours before the request, the daily mean over the 7
//! days before that, and `score = articles_24h / max(daily_mean_7d, 1)`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Fields, ViewError, ensure_source, parse_source_field, source_field, to_json};
use crate::domain::SourceName;
use crate::store::Store;

/// `GET /api/v1/simplified?source=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimplifiedQuery {
    /// Only this source, or every source.
    pub source: Option<SourceName>,
}

/// The body of `GET /api/v1/simplified`: activity scores per source.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Simplified {
    /// One row per source.
    pub sources: Vec<SimplifiedRow>,
}

/// One source's activity.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SimplifiedRow {
    /// The source.
    pub source: String,
    /// Articles in the last 24 hours.
    pub articles_24h: i64,
    /// Mean articles a day over the 7 days before those 24 hours.
    pub daily_mean_7d: f64,
    /// `articles_24h / max(daily_mean_7d, 1)`.
    pub score: f64,
}

impl SimplifiedQuery {
    pub(super) fn key_string(&self) -> String {
        format!(
            "simplified:score:source={}",
            source_field(self.source.as_ref())
        )
    }

    pub(super) fn from_fields(mut f: Fields<'_>) -> Result<Self, String> {
        let source = parse_source_field(f.take("source")?)?;
        f.finish()?;
        Ok(Self { source })
    }

    pub(super) async fn compute(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Bytes, ViewError> {
        ensure_source(store, self.source.as_ref()).await?;
        let rows = store.activity(self.source.as_ref(), now).await?;
        let sources = rows
            .into_iter()
            .map(|a| {
                let daily_mean_7d = a.prev_7d as f64 / 7.0;
                SimplifiedRow {
                    source: a.source,
                    articles_24h: a.last_24h,
                    daily_mean_7d,
                    score: a.last_24h as f64 / daily_mean_7d.max(1.0),
                }
            })
            .collect();
        Ok(to_json(&Simplified { sources }))
    }
}
