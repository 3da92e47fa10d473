//! The page's canonical address: `<link rel=canonical>`, else `og:url`, else the JSON-LD `url`,
//! resolved against the page's base URL.
//!
//! Guarantees: never panics; `javascript:` and `data:` addresses are never returned.

use crate::dom::links::{canonical, resolve};
use crate::page::Page;

/// The page's canonical URL, from the most to the least reliable source.
pub(crate) fn choose(page: &Page<'_>) -> Option<String> {
    let base = page.base.as_ref();
    canonical(&page.doc, base)
        .or_else(|| page.meta.get(&["og:url"]).and_then(|u| resolve(u, base)))
        .or_else(|| page.ld.url.as_deref().and_then(|u| resolve(u, base)))
}
