//! Article counts per time bucket: `volume:day:tz=UTC,source=_,range=7d`.
//!
//! Buckets are aligned in the requested IANA time zone (a day bucket starts at local
//! midnight, an hour bucket on the local hour), empty buckets are included, and a request
//! may span at most [`MAX_BUCKETS`] buckets. The store counts rows in 15-minute grains (every
//! zone's UTC offset is a multiple of 15 minutes), which the view sums into buckets, so one
//! indexed range scan serves every zone.

use bytes::Bytes;
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;

use super::{Fields, ViewError, ensure_source, parse_source_field, source_field, to_json};
use crate::domain::{Interval, SourceName, Timezone, in_supported_range};
use crate::error::DomainError;
use crate::store::Store;

/// The most buckets one volume request may span.
pub const MAX_BUCKETS: usize = 2_000;

/// The store's counting grain, in seconds.
const GRAIN_SECS: i64 = 900;

/// The window a volume request covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeRange {
    /// The last 7 days up to the moment of computing (the default).
    LastWeek,
    /// `[from, to)`, with `from` aligned down to its bucket's start.
    Between {
        /// First instant (a bucket start).
        from: DateTime<Utc>,
        /// First instant past the window.
        to: DateTime<Utc>,
    },
}

/// `GET /api/v1/volume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeQuery {
    interval: Interval,
    tz: Timezone,
    source: Option<SourceName>,
    range: VolumeRange,
}

/// Why a volume request is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VolumeError {
    /// `from` is after `to`.
    #[error("from ({from}) is after to ({to})")]
    FromAfterTo {
        /// The given start.
        from: DateTime<Utc>,
        /// The given end.
        to: DateTime<Utc>,
    },
    /// The window spans more than [`MAX_BUCKETS`] buckets.
    #[error(
        "the range spans {0} buckets; at most {MAX_BUCKETS} are allowed: narrow it or use a larger interval"
    )]
    TooManyBuckets(usize),
    /// A bound did not parse.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// The body of `GET /api/v1/volume`: article counts per time bucket.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volume {
    /// `hour` or `day`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub interval: &'static str,
    /// The IANA time zone buckets are aligned in.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tz: &'static str,
    /// The source filter, or null.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub source: Option<String>,
    /// Start of the first bucket (RFC 3339, in `tz`).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub from: String,
    /// End of the window (RFC 3339, in `tz`).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub to: String,
    /// Every bucket of the window, empty ones included.
    pub buckets: Vec<Bucket>,
    /// Sum of the counts.
    pub total: i64,
}

/// One bucket of a volume.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// Start of the bucket (RFC 3339, in the volume's `tz`).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub start: String,
    /// Articles whose sort time falls in it.
    pub count: i64,
}

impl VolumeQuery {
    /// A volume query. Explicit bounds must fall in
    /// [`SUPPORTED_YEARS`](crate::domain::SUPPORTED_YEARS); `from` is aligned
    /// down to the start of its bucket and `to` up to the end of its bucket, so the key, the
    /// window counted and the bounds echoed in the answer are the same.
    pub fn new(
        interval: Interval,
        tz: Timezone,
        source: Option<SourceName>,
        range: VolumeRange,
    ) -> Result<Self, VolumeError> {
        let range = match range {
            VolumeRange::LastWeek => VolumeRange::LastWeek,
            VolumeRange::Between { from, to } => {
                if from > to {
                    return Err(VolumeError::FromAfterTo { from, to });
                }
                let out_of_range = |t: DateTime<Utc>| DomainError::DateOutOfRange(t.to_rfc3339());
                let from = align(interval, tz, trunc_secs(from))
                    .filter(|t| in_supported_range(*t))
                    .ok_or(out_of_range(from))?;
                let to = align_up(interval, tz, to)
                    .filter(|t| in_supported_range(*t))
                    .ok_or(out_of_range(to))?;
                let n = bucket_starts(interval, tz, from, to, MAX_BUCKETS + 1).len();
                if n > MAX_BUCKETS {
                    return Err(VolumeError::TooManyBuckets(n));
                }
                VolumeRange::Between { from, to }
            }
        };
        Ok(Self {
            interval,
            tz,
            source,
            range,
        })
    }

    /// The source filter, if any.
    pub fn source(&self) -> Option<&SourceName> {
        self.source.as_ref()
    }

    pub(super) fn key_string(&self) -> String {
        let range = match self.range {
            VolumeRange::LastWeek => "range=7d".to_owned(),
            VolumeRange::Between { from, to } => {
                format!("from={},to={}", from.timestamp(), to.timestamp())
            }
        };
        format!(
            "volume:{}:tz={},source={},{range}",
            self.interval.as_str(),
            self.tz.name(),
            source_field(self.source.as_ref())
        )
    }

    pub(super) fn from_fields(sub: &str, mut f: Fields<'_>) -> Result<Self, String> {
        let interval: Interval = sub.parse().map_err(|e: DomainError| e.to_string())?;
        let tz = Timezone::parse(f.take("tz")?).map_err(|e| e.to_string())?;
        let source = parse_source_field(f.take("source")?)?;
        let range = match f.0.front().map(|(k, _)| *k) {
            Some("range") => {
                if f.take("range")? != "7d" {
                    return Err("range is 7d".to_owned());
                }
                VolumeRange::LastWeek
            }
            _ => {
                let secs = |v: &str| {
                    v.parse::<i64>()
                        .ok()
                        .and_then(|s| DateTime::from_timestamp(s, 0))
                        .ok_or_else(|| "bad timestamp".to_owned())
                };
                let from = secs(f.take("from")?)?;
                let to = secs(f.take("to")?)?;
                VolumeRange::Between { from, to }
            }
        };
        f.finish()?;
        Self::new(interval, tz, source, range).map_err(|e| e.to_string())
    }

    /// The concrete `[from, to)` window as of `now`.
    fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self.range {
            VolumeRange::LastWeek => {
                let week_ago = trunc_secs(now - Duration::days(7));
                (
                    align(self.interval, self.tz, week_ago).unwrap_or(week_ago),
                    now,
                )
            }
            VolumeRange::Between { from, to } => (from, to),
        }
    }

    pub(super) async fn compute(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Bytes, ViewError> {
        ensure_source(store, self.source.as_ref()).await?;
        let (from, to) = self.window(now);
        let starts = bucket_starts(self.interval, self.tz, from, to, MAX_BUCKETS);
        let grains = store
            .volume_grains(self.source.as_ref(), from, to, GRAIN_SECS)
            .await?;
        let mut counts = vec![0i64; starts.len()];
        for (grain, count) in grains {
            let t = grain * GRAIN_SECS;
            let i = starts.partition_point(|s| s.timestamp() <= t);
            if let Some(slot) = i.checked_sub(1).and_then(|i| counts.get_mut(i)) {
                *slot += count;
            }
        }
        let tz = self.tz.tz();
        let buckets = starts
            .iter()
            .zip(&counts)
            .map(|(s, &count)| Bucket {
                start: s.with_timezone(&tz).to_rfc3339(),
                count,
            })
            .collect();
        Ok(to_json(&Volume {
            interval: self.interval.as_str(),
            tz: self.tz.name(),
            source: self.source.as_ref().map(|s| s.as_str().to_owned()),
            from: from.with_timezone(&tz).to_rfc3339(),
            to: to.with_timezone(&tz).to_rfc3339(),
            buckets,
            total: counts.iter().sum(),
        }))
    }
}

fn trunc_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// The start of the bucket that contains `t`; `None` when it cannot be represented.
pub(super) fn align(interval: Interval, tz: Timezone, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = t.with_timezone(&tz.tz());
    match interval {
        Interval::Hour => t.checked_sub_signed(Duration::seconds(i64::from(
            local.minute() * 60 + local.second(),
        ))),
        Interval::Day => tz.start_of_day(local.date_naive()),
    }
}

/// `t` itself when it starts a bucket, else the start of the next bucket.
fn align_up(interval: Interval, tz: Timezone, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let t = if t.nanosecond() == 0 {
        t
    } else {
        trunc_secs(t).checked_add_signed(Duration::seconds(1))?
    };
    let start = align(interval, tz, t)?;
    if start == t {
        Some(t)
    } else {
        next_start(interval, tz, start)
    }
}

/// The start of the bucket after the one that starts at `s`.
fn next_start(interval: Interval, tz: Timezone, s: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match interval {
        Interval::Hour => s.checked_add_signed(Duration::hours(1)),
        Interval::Day => s
            .with_timezone(&tz.tz())
            .date_naive()
            .succ_opt()
            .and_then(|d| tz.start_of_day(d))
            .filter(|n| *n > s),
    }
}

/// Bucket starts in `[from, to)`, at most `max` of them; `from` must be a bucket start.
pub(super) fn bucket_starts(
    interval: Interval,
    tz: Timezone,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
) -> Vec<DateTime<Utc>> {
    let mut starts = Vec::new();
    let mut next = Some(from);
    while let Some(s) = next.filter(|s| *s < to && starts.len() < max) {
        starts.push(s);
        next = next_start(interval, tz, s);
    }
    starts
}
