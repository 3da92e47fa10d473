//! Articles as stored and as served.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SourceName;

/// The position of an article in the newest-first order: `(sort_at, id)`, both descending.
///
/// `sort_at` is the article's published date, or the time it was first seen when the page
/// has none; it is set at first insert and never changed afterwards, so a row never moves
/// across a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// Microseconds since the Unix epoch (UTC).
    pub sort_at_us: i64,
    /// The article id, which breaks ties between equal `sort_at`.
    pub id: i64,
}

/// An article as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Database id.
    pub id: i64,
    /// Name of the source the article came from.
    pub source: String,
    /// Canonical URL (unique).
    pub url: String,
    /// Headline.
    pub title: String,
    /// Author(s), as the page gives them.
    pub author: Option<String>,
    /// The page's own publication date, in UTC.
    pub published_at: Option<DateTime<Utc>>,
    /// Description or lede.
    pub summary: Option<String>,
    /// The keyset position; not part of the public shape.
    #[serde(skip)]
    pub sort_at_us: i64,
}

impl Article {
    /// This article's keyset position.
    pub fn sort_key(&self) -> SortKey {
        SortKey {
            sort_at_us: self.sort_at_us,
            id: self.id,
        }
    }
}

/// An article to insert or update, keyed by its canonical URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewArticle {
    /// The source it belongs to.
    pub source: SourceName,
    /// Canonical URL: the upsert key.
    pub url: String,
    /// Headline (non-empty).
    pub title: String,
    /// Author(s).
    pub author: Option<String>,
    /// Publication date from the page or feed.
    pub published_at: Option<DateTime<Utc>>,
    /// Description or lede.
    pub summary: Option<String>,
}
