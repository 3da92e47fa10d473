//! Source names and kinds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// The unique name of a source: `[a-z0-9][a-z0-9_-]{0,63}`.
///
/// The restricted alphabet keeps names safe inside cache keys, URLs and log lines without
/// escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SourceName(String);

impl SourceName {
    /// Parses a source name, refusing anything outside `[a-z0-9][a-z0-9_-]{0,63}`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let bytes = raw.as_bytes();
        let valid_first = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid_rest = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
        if valid_first && valid_rest && bytes.len() <= 64 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::InvalidSourceName(
                raw.chars().take(80).collect(),
            ))
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SourceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SourceName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for SourceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// What a source's start URL points at, and so how it is scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An RSS feed (0.9x, 1.0 or 2.0).
    Rss,
    /// An Atom feed.
    Atom,
    /// An HTML listing page whose links are picked by a CSS selector.
    Html,
    /// A sitemap or news sitemap (or a sitemap index).
    Sitemap,
    /// Articles loaded by `mediawarm-api import`; never scheduled or scraped.
    Import,
}

impl SourceKind {
    /// The lowercase name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rss => "rss",
            Self::Atom => "atom",
            Self::Html => "html",
            Self::Sitemap => "sitemap",
            Self::Import => "import",
        }
    }
}

impl FromStr for SourceKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rss" => Ok(Self::Rss),
            "atom" => Ok(Self::Atom),
            "html" => Ok(Self::Html),
            "sitemap" => Ok(Self::Sitemap),
            "import" => Ok(Self::Import),
            other => Err(DomainError::InvalidSourceKind(
                other.chars().take(40).collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_name_accepts_lowercase_digits_dash_underscore() {
        assert!(SourceName::parse("gazette").is_ok());
        assert!(SourceName::parse("0day_news-fr").is_ok());
        assert!(SourceName::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn source_name_refuses_empty_uppercase_leading_dash_and_long() {
        for bad in [
            "",
            "Gazette",
            "-x",
            "_x",
            "a b",
            "a:b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(SourceName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
