//! Counts over `sort_at` for the volume and simplified views.
//!
//! Both count by `sort_at` (set at first insert; moved only by a date correction), with
//! half-open windows `[from, to)`, so a row is counted in exactly one grain or window. The
//! views layer turns grains into time-zone-aligned buckets and windows into scores.

use chrono::{DateTime, Duration, Utc};
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};

use super::{Backend, Store};
use crate::domain::SourceName;
use crate::error::StoreError;

/// One source's recent article counts, by `sort_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceActivity {
    /// The source name.
    pub source: String,
    /// Articles with `sort_at` in `[now - 24 h, now)`.
    pub last_24h: i64,
    /// Articles with `sort_at` in `[now - 8 days, now - 24 h)`: the seven days before.
    pub prev_7d: i64,
}

impl Store {
    /// Article counts per grain of `grain_secs` seconds for `from <= sort_at < to`, optionally
    /// of one source: `(floor(epoch_seconds(sort_at) / grain_secs), count)`, ascending, only
    /// grains with at least one article.
    #[tracing::instrument(skip_all, fields(source = source.map(SourceName::as_str), grain_secs), err)]
    pub async fn volume_grains(
        &self,
        source: Option<&SourceName>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        grain_secs: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        if grain_secs <= 0 {
            return Err(StoreError::Invalid(format!(
                "grain must be positive, got {grain_secs} s"
            )));
        }
        let rows: Vec<(i64, i64)> = match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb =
                    QueryBuilder::<Postgres>::new("select floor(extract(epoch from sort_at) / ");
                qb.push_bind(grain_secs)
                    .push(")::bigint as grain, count(*) as n from articles where sort_at >= ")
                    .push_bind(from)
                    .push(" and sort_at < ")
                    .push_bind(to);
                if let Some(source) = source {
                    qb.push(" and source = ")
                        .push_bind(source.as_str().to_owned());
                }
                qb.push(" group by grain order by grain");
                qb.build_query_as()
                    .fetch_all(&mut *self.pg_read(pool).await?)
                    .await?
            }
            Backend::Sqlite(pool) => {
                let grain_us = grain_secs.checked_mul(1_000_000).ok_or_else(|| {
                    StoreError::Invalid(format!("grain of {grain_secs} s is too large"))
                })?;
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "select case when sort_at >= 0 then sort_at / ?1 \
                     else -((-sort_at - 1) / ?1) - 1 end as grain, count(*) as n \
                     from articles where sort_at >= ?2 and sort_at < ?3",
                );
                if source.is_some() {
                    qb.push(" and source = ?4");
                }
                qb.push(" group by grain order by grain");
                let mut query = qb
                    .build_query_as()
                    .bind(grain_us)
                    .bind(from.timestamp_micros())
                    .bind(to.timestamp_micros());
                if let Some(source) = source {
                    query = query.bind(source.as_str().to_owned());
                }
                self.sqlite_read(query.fetch_all(pool)).await?
            }
        };
        Ok(rows)
    }

    /// Recent activity of every live source (or only `source`), ordered by name; sources
    /// without articles are included with zero counts. Deleted sources are left out.
    #[tracing::instrument(skip_all, fields(source = source.map(SourceName::as_str)), err)]
    pub async fn activity(
        &self,
        source: Option<&SourceName>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SourceActivity>, StoreError> {
        let day_ago = now - Duration::hours(24);
        let week_before = now - Duration::days(8);
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut qb = QueryBuilder::<Postgres>::new(
                    "select s.name as source, \
                       count(a.id) filter (where a.sort_at >= $2) as last_24h, \
                       count(a.id) filter (where a.sort_at < $2) as prev_7d \
                     from sources s left join articles a \
                       on a.source = s.name and a.sort_at >= $1 and a.sort_at < $3 \
                     where s.deleted_at is null",
                );
                if source.is_some() {
                    qb.push(" and s.name = $4");
                }
                qb.push(" group by s.name order by s.name");
                let mut query = qb.build().bind(week_before).bind(day_ago).bind(now);
                if let Some(source) = source {
                    query = query.bind(source.as_str().to_owned());
                }
                let rows = query.fetch_all(&mut *self.pg_read(pool).await?).await?;
                rows.iter()
                    .map(|row| {
                        Ok(SourceActivity {
                            source: row.try_get("source")?,
                            last_24h: row.try_get("last_24h")?,
                            prev_7d: row.try_get("prev_7d")?,
                        })
                    })
                    .collect()
            }
            Backend::Sqlite(pool) => {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "select s.name as source, \
                       coalesce(sum(case when a.sort_at >= ?2 then 1 else 0 end), 0) as last_24h, \
                       coalesce(sum(case when a.sort_at < ?2 then 1 else 0 end), 0) as prev_7d \
                     from sources s left join articles a \
                       on a.source = s.name and a.sort_at >= ?1 and a.sort_at < ?3 \
                     where s.deleted_at is null",
                );
                if source.is_some() {
                    qb.push(" and s.name = ?4");
                }
                qb.push(" group by s.name order by s.name");
                let mut query = qb
                    .build()
                    .bind(week_before.timestamp_micros())
                    .bind(day_ago.timestamp_micros())
                    .bind(now.timestamp_micros());
                if let Some(source) = source {
                    query = query.bind(source.as_str().to_owned());
                }
                let rows = self.sqlite_read(query.fetch_all(pool)).await?;
                rows.iter()
                    .map(|row| {
                        Ok(SourceActivity {
                            source: row.try_get("source")?,
                            last_24h: row.try_get("last_24h")?,
                            prev_7d: row.try_get("prev_7d")?,
                        })
                    })
                    .collect()
            }
        }
    }
}
