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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Article {
    /// Database id.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub id: i64,
    /// Name of the source the article came from.
    pub source: String,
    /// Canonical URL (unique).
    pub url: String,
    /// Headline.
    pub title: String,
    /// Author(s), as the page gives them.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub author: Option<String>,
    /// The page's own publication date, in UTC.
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, value_type = Option<String>, format = DateTime)
    )]
    pub published_at: Option<DateTime<Utc>>,
    /// Description or lede.
    #[cfg_attr(feature = "openapi", schema(required = true))]
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

/// The longest article URL stored, in bytes. PostgreSQL's unique index on `url` refuses
/// entries over about 2.7 KB, and a cut URL would name another page, so longer ones are
/// refused, not cut.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest title stored, in characters.
pub const MAX_TITLE_CHARS: usize = 1000;
/// The longest author field stored, in characters.
pub const MAX_AUTHOR_CHARS: usize = 300;
/// The longest summary stored, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2000;

/// Why an article cannot be stored as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleRefused {
    /// The URL is longer than [`MAX_URL_BYTES`].
    #[error("the url is {0} bytes long; at most {MAX_URL_BYTES} are stored")]
    UrlTooLong(usize),
    /// A text field is longer than its cap (only [`NewArticle::check_caps`] refuses these).
    #[error("{field:?} is {chars} characters long; at most {max} are stored")]
    FieldTooLong {
        /// The field's name.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
        /// Its cap.
        max: usize,
    },
}

/// `text` cut to at most `max` characters, at a character boundary (trailing whitespace
/// of a cut text dropped).
pub fn cut_chars(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].trim_end().to_owned(),
        None => text,
    }
}

impl NewArticle {
    /// This article as it may be stored: title, author and summary cut to
    /// [`MAX_TITLE_CHARS`], [`MAX_AUTHOR_CHARS`] and [`MAX_SUMMARY_CHARS`] characters;
    /// refused when its URL is over [`MAX_URL_BYTES`]. What a scrape applies to each item
    /// before its run's upsert, so one oversized item never fails the others.
    pub fn within_caps(self) -> Result<Self, ArticleRefused> {
        if self.url.len() > MAX_URL_BYTES {
            return Err(ArticleRefused::UrlTooLong(self.url.len()));
        }
        Ok(Self {
            title: cut_chars(self.title, MAX_TITLE_CHARS),
            author: self.author.map(|a| cut_chars(a, MAX_AUTHOR_CHARS)),
            summary: self.summary.map(|s| cut_chars(s, MAX_SUMMARY_CHARS)),
            ..self
        })
    }

    /// Refuses an article any of whose fields is over its cap, cutting nothing: what an
    /// import applies, since its input is meant to be stored exactly.
    pub fn check_caps(&self) -> Result<(), ArticleRefused> {
        if self.url.len() > MAX_URL_BYTES {
            return Err(ArticleRefused::UrlTooLong(self.url.len()));
        }
        let fields = [
            ("title", Some(&self.title), MAX_TITLE_CHARS),
            ("author", self.author.as_ref(), MAX_AUTHOR_CHARS),
            ("summary", self.summary.as_ref(), MAX_SUMMARY_CHARS),
        ];
        for (field, value, max) in fields {
            let chars = value.map_or(0, |v| v.chars().count());
            if chars > max {
                return Err(ArticleRefused::FieldTooLong { field, chars, max });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(url: String, title: String) -> NewArticle {
        NewArticle {
            source: SourceName::parse("gazette").unwrap(),
            url,
            title,
            author: Some("é".repeat(MAX_AUTHOR_CHARS + 1)),
            published_at: None,
            summary: Some(format!("{} tail", "ü".repeat(MAX_SUMMARY_CHARS - 1))),
        }
    }

    #[test]
    fn text_fields_are_cut_at_a_character_boundary() {
        let fitted = article("https://a.example/1".into(), "ß".repeat(100_000))
            .within_caps()
            .unwrap();
        assert_eq!(fitted.title.chars().count(), MAX_TITLE_CHARS);
        assert!(fitted.title.chars().all(|c| c == 'ß'));
        assert_eq!(fitted.author.unwrap().chars().count(), MAX_AUTHOR_CHARS);
        let summary = fitted.summary.unwrap();
        assert_eq!(
            summary.chars().count(),
            MAX_SUMMARY_CHARS - 1,
            "{summary:?}"
        );
    }

    #[test]
    fn a_url_over_the_cap_is_refused_and_one_at_the_cap_kept() {
        let base = "https://a.example/";
        let at_cap = format!("{base}{}", "x".repeat(MAX_URL_BYTES - base.len()));
        assert!(article(at_cap.clone(), "t".into()).within_caps().is_ok());
        let over = format!("{at_cap}y");
        assert_eq!(
            article(over, "t".into()).within_caps(),
            Err(ArticleRefused::UrlTooLong(MAX_URL_BYTES + 1))
        );
    }

    #[test]
    fn check_caps_refuses_without_cutting() {
        let a = article("https://a.example/1".into(), "t".into());
        assert_eq!(
            a.check_caps(),
            Err(ArticleRefused::FieldTooLong {
                field: "author",
                chars: MAX_AUTHOR_CHARS + 1,
                max: MAX_AUTHOR_CHARS
            })
        );
        let fitted = a.within_caps().unwrap();
        assert_eq!(fitted.check_caps(), Ok(()));
    }
}
