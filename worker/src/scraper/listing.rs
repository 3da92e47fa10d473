//! HTML listings: the source's `links` selector picks the article links on the start page.
//!
//! Guarantees: synchronous (callers run it on a blocking thread); links are resolved against
//! `<base href>` (else the page URL), normalised, kept in page order with repeats and the
//! listing page itself dropped, in time linear in the links; nesting past
//! [`super::depth::MAX_DEPTH`] is dropped before parsing; an invalid selector is a
//! permanent error.

use mediawarm_shared::domain::ErrorClass;
use scraper::{Html, Selector};
use url::Url;

use super::ScrapeError;
use super::urls::normalize_url;

/// Parses a source's CSS selector; an invalid one is a permanent error naming `what`.
pub(crate) fn parse_selector(what: &str, css: &str) -> Result<Selector, ScrapeError> {
    Selector::parse(css).map_err(|e| {
        ScrapeError::Permanent(
            ErrorClass::ParseFailed,
            format!("invalid {what} selector {css:?}: {e}"),
        )
    })
}

/// The article links that `links` selects on the listing page `html` served from `page_url`.
///
/// A selected element's own `href` is used, else that of its first descendant `a[href]`.
pub(crate) fn listing_links(
    html: &str,
    page_url: &Url,
    links: &str,
) -> Result<Vec<Url>, ScrapeError> {
    let links = parse_selector("links", links)?;
    let anchor = parse_selector("anchor", "a[href]")?;
    let base_sel = parse_selector("base", "base[href]")?;
    let doc = Html::parse_document(&super::depth::bound_html(html));
    let base = doc
        .select(&base_sel)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| normalize_url(href, Some(page_url)))
        .unwrap_or_else(|| page_url.clone());
    let listing = normalize_url(page_url.as_str(), None);
    let mut out: Vec<Url> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for element in doc.select(&links) {
        let href = element.value().attr("href").or_else(|| {
            element
                .select(&anchor)
                .next()
                .and_then(|a| a.value().attr("href"))
        });
        let Some(url) = href.and_then(|h| normalize_url(h, Some(&base))) else {
            continue;
        };
        if Some(&url) != listing.as_ref() && seen.insert(url.clone()) {
            out.push(url);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_links_are_resolved_normalised_and_deduplicated() {
        let html = r##"<html><head><base href="https://g.example/news/"></head><body>
          <ul class="teasers">
            <li><a href="a.html?utm_medium=x#top">A</a></li>
            <li><h2><a href="/b">B</a></h2></li>
            <li><a href="a.html">A again</a></li>
            <li><a href="mailto:x@g.example">mail</a></li>
            <li><a href="https://g.example/list">self</a></li>
          </ul><a href="/elsewhere">not selected</a></body></html>"##;
        let page = Url::parse("https://g.example/list").expect("valid url");
        let links = listing_links(html, &page, "ul.teasers li").expect("valid selector");
        let links: Vec<&str> = links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            ["https://g.example/news/a.html", "https://g.example/b"]
        );
    }

    #[test]
    fn links_around_nesting_past_the_depth_bound_are_found() {
        let deep = "<div>".repeat(50_000);
        let html = format!(
            "<ul><li><a class=story href=/one>1</a></li></ul>{deep}<a class=story href=/deep>d</a>"
        );
        let html = format!(
            "{html}{}<a class=story href=/two>2</a>",
            "</div>".repeat(50_000)
        );
        let page = Url::parse("https://g.example/").expect("valid url");
        let links = listing_links(&html, &page, "a.story").expect("valid selector");
        let links: Vec<&str> = links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            ["https://g.example/one", "https://g.example/two"],
            "the link nested past the bound is dropped with its element"
        );
    }

    #[test]
    fn an_invalid_selector_is_permanent() {
        let page = Url::parse("https://g.example/").expect("valid url");
        let err = listing_links("<a href=x>", &page, "a[").expect_err("invalid");
        assert!(err.is_permanent());
    }
}
