//! Source definitions: what to scrape, how and how often.

use serde::{Deserialize, Serialize};

use super::{SourceKind, SourceName};

/// A configured source, as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    /// Unique name; the key in URLs, cache keys and articles.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")
    )]
    pub name: SourceName,
    /// How the start URL is scraped: `rss`, `atom`, `html`, `sitemap` or `import`.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^(rss|atom|html|sitemap|import)$")
    )]
    pub kind: SourceKind,
    /// Start URL (empty for `import` sources).
    pub url: String,
    /// CSS selectors for HTML listings and pages; none (JSON `null`) to extract from the page
    /// itself.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub selectors: Option<Selectors>,
    /// Cron schedule with a seconds field; none (JSON `null`) when never scheduled.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub schedule: Option<String>,
    /// Requests per second allowed against this source's host.
    #[serde(default = "default_rate_limit")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rate_limit_per_sec: f64,
    /// Whether the scheduler runs it.
    #[serde(default = "default_enabled")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub enabled: bool,
}

fn default_rate_limit() -> f64 {
    1.0
}

fn default_enabled() -> bool {
    true
}

impl Source {
    /// The row `import` creates for a source name it has not seen: kind `import`, no URL,
    /// never scheduled.
    pub fn import(name: SourceName) -> Self {
        Self {
            name,
            kind: SourceKind::Import,
            url: String::new(),
            selectors: None,
            schedule: None,
            rate_limit_per_sec: default_rate_limit(),
            enabled: true,
        }
    }
}

/// CSS selectors for extracting articles; each absent one falls back to page metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Selectors {
    /// Links to article pages on the listing page.
    #[serde(default)]
    pub links: Option<String>,
    /// The headline on an article page.
    #[serde(default)]
    pub title: Option<String>,
    /// The byline.
    #[serde(default)]
    pub author: Option<String>,
    /// The publication date (a `<time datetime>` or text).
    #[serde(default)]
    pub date: Option<String>,
    /// The lede or description.
    #[serde(default)]
    pub summary: Option<String>,
}
