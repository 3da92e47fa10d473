//! The article's summary: a user selector, else the JSON-LD description, else a meta
//! description (OpenGraph, Twitter, `description`, Dublin Core).
//!
//! Guarantees: never panics; returns entity-decoded, whitespace-collapsed, non-empty text.

use crate::entities::clean_text;
use crate::meta;
use crate::page::Page;

/// The page's summary, from the most to the least reliable source.
pub(crate) fn choose(page: &Page<'_>) -> Option<String> {
    page.selected(page.selectors.summary.as_deref())
        .and_then(|t| clean_text(&t))
        .or_else(|| page.ld.description.as_deref().and_then(clean_text))
        .or_else(|| page.meta.get(meta::DESCRIPTION_KEYS).and_then(clean_text))
}
