//! The view catalogue: every cached read as a typed query.
//!
//! Each view can be turned into its cache key ([`View::key`]), parsed back from a key
//! ([`View::parse`]) and computed from the store ([`View::compute`]). Keys are canonical:
//! `View::parse(k)?.key() == k` for every key this module produces, and
//! `View::parse(v.key()) == v` for every view. That is what lets the worker recompute any
//! key the API serves (warming), and lets an operator name keys in a `WarmCache` job.
//!
//! Key shapes (`{category}:{subcategory}:{params}`):
//! - `media:latest:limit=20,source=_,page=first` (also `page=after.<sort_at_us>.<id>` and
//!   `page=offset.<n>`; `source=_` means every source)
//! - `media:article:id=42`
//! - `volume:day:tz=Europe/Paris,source=_,from=<unix s>,to=<unix s>` (or `range=7d`, the
//!   default "last 7 days" window, computed at read time)
//! - `simplified:score:source=_`
//!
//! The bodies views answer are the public types [`LatestPage`], [`Article`](crate::domain::Article),
//! [`Volume`] and [`Simplified`]; with the `openapi` feature they carry their OpenAPI schema,
//! which is how the API documents what it serves from the cache.

mod article;
mod latest;
mod simplified;
mod volume;

use bytes::Bytes;
use chrono::{DateTime, Utc};

pub use article::ArticleQuery;
pub use latest::{LatestPage, LatestQuery, Page};
pub use simplified::{Simplified, SimplifiedQuery, SimplifiedRow};
pub use volume::{Bucket, MAX_BUCKETS, Volume, VolumeError, VolumeQuery, VolumeRange};

use crate::cache::CacheKey;
use crate::domain::{CursorCodec, SourceName};
use crate::error::{DomainError, StoreError};
use crate::store::Store;

/// The cache categories the catalogue serves; patterns and invalidations are checked against
/// this list.
pub const CATEGORIES: &[&str] = &["media", "volume", "simplified"];

/// The categories a change to articles makes stale: all of them.
pub const DATA_CATEGORIES: &[&str] = CATEGORIES;

/// Why a view could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The `source` filter names no known source.
    #[error("unknown source {0:?}")]
    UnknownSource(SourceName),
    /// The article does not exist.
    #[error("article {0} not found")]
    NotFound(i64),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a key names no view.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{key:?} names no view: {reason}")]
pub struct UnknownKey {
    /// The key as given (truncated).
    pub key: String,
    /// What did not match.
    pub reason: String,
}

impl UnknownKey {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.chars().take(120).collect(),
            reason: reason.into(),
        }
    }
}

/// What computing a view needs besides the store.
#[derive(Debug, Clone)]
pub struct ViewContext {
    /// Signs the `next_cursor` tokens of latest-media pages.
    pub cursors: CursorCodec,
}

/// One cached read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// A page of the newest articles.
    Latest(LatestQuery),
    /// One article by id.
    Article(ArticleQuery),
    /// Article counts per time bucket.
    Volume(VolumeQuery),
    /// The per-source activity score.
    Simplified(SimplifiedQuery),
}

impl View {
    /// The canonical cache key of this view.
    pub fn key(&self) -> CacheKey {
        let raw = match self {
            Self::Latest(q) => q.key_string(),
            Self::Article(q) => q.key_string(),
            Self::Volume(q) => q.key_string(),
            Self::Simplified(q) => q.key_string(),
        };
        #[allow(clippy::expect_used)]
        CacheKey::parse(&raw).expect("the catalogue only builds valid keys")
    }

    /// The view a key names, or why it names none.
    pub fn parse(key: &str) -> Result<Self, UnknownKey> {
        let mut parts = key.splitn(3, ':');
        let (Some(category), Some(sub), Some(params)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(UnknownKey::new(
                key,
                "expected {category}:{subcategory}:{params}",
            ));
        };
        let fields =
            Fields::parse(params).ok_or_else(|| UnknownKey::new(key, "malformed params"))?;
        let view = match (category, sub) {
            ("media", "latest") => LatestQuery::from_fields(fields).map(Self::Latest),
            ("media", "article") => ArticleQuery::from_fields(fields).map(Self::Article),
            ("volume", _) => VolumeQuery::from_fields(sub, fields).map(Self::Volume),
            ("simplified", "score") => SimplifiedQuery::from_fields(fields).map(Self::Simplified),
            _ => Err("unknown category or subcategory".to_owned()),
        }
        .map_err(|reason| UnknownKey::new(key, reason))?;
        if view.key().as_str() != key {
            return Err(UnknownKey::new(key, "not in canonical form"));
        }
        Ok(view)
    }

    /// Computes the view's JSON body from the store, as of `now`.
    #[tracing::instrument(skip_all, fields(key = %self.key().as_str()), err(level = "debug", Debug))]
    pub async fn compute(
        &self,
        store: &Store,
        ctx: &ViewContext,
        now: DateTime<Utc>,
    ) -> Result<Bytes, ViewError> {
        match self {
            Self::Latest(q) => q.compute(store, ctx).await,
            Self::Article(q) => q.compute(store).await,
            Self::Volume(q) => q.compute(store, now).await,
            Self::Simplified(q) => q.compute(store, now).await,
        }
    }
}

/// Refuses a filter on a source that does not exist (so unknown names are never cached).
async fn ensure_source(store: &Store, source: Option<&SourceName>) -> Result<(), ViewError> {
    match source {
        Some(name) if !store.source_exists(name).await? => {
            Err(ViewError::UnknownSource(name.clone()))
        }
        _ => Ok(()),
    }
}

/// `source=_` in keys means "every source" (`_` can never be a source name).
fn source_field(source: Option<&SourceName>) -> &str {
    source.map_or("_", SourceName::as_str)
}

fn parse_source_field(raw: &str) -> Result<Option<SourceName>, String> {
    if raw == "_" {
        Ok(None)
    } else {
        SourceName::parse(raw)
            .map(Some)
            .map_err(|e: DomainError| e.to_string())
    }
}

/// The `k=v,k=v` params of a key, in order.
#[derive(Debug)]
struct Fields<'a>(std::collections::VecDeque<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn parse(params: &'a str) -> Option<Self> {
        params
            .split(',')
            .map(|kv| kv.split_once('='))
            .collect::<Option<_>>()
            .map(Self)
    }

    /// Takes the next field, which must be named `name`.
    fn take(&mut self, name: &str) -> Result<&'a str, String> {
        match self.0.pop_front() {
            Some((k, v)) if k == name => Ok(v),
            _ => Err(format!("expected field {name}")),
        }
    }

    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("unexpected extra fields".to_owned())
        }
    }
}

fn to_json(value: &impl serde::Serialize) -> Bytes {
    #[allow(clippy::expect_used)]
    Bytes::from(serde_json::to_vec(value).expect("view bodies are plain data"))
}

#[cfg(test)]
mod tests;
