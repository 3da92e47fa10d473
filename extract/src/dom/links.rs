//! Link finders: the document's base URL, `<link rel=canonical>` and feed links
//! (`<link rel=alternate>` of an RSS, Atom, RDF or JSON Feed type), resolved.

use scraper::Html;
use url::Url;

use super::sel;

/// The document's base URL: `<base href>` resolved against `url`, else `url`.
pub(crate) fn base_url(doc: &Html, url: Option<&Url>) -> Option<Url> {
    let href = sel("base[href]")
        .and_then(|s| doc.select(&s).next())
        .and_then(|e| e.value().attr("href").map(str::trim).map(str::to_string));
    match (href, url) {
        (Some(h), Some(u)) => u.join(&h).ok().or_else(|| Some(u.clone())),
        (Some(h), None) => Url::parse(&h).ok(),
        (None, u) => u.cloned(),
    }
}

/// Resolves `href` against `base` (kept as written when there is no base or it fails).
pub(crate) fn resolve(href: &str, base: Option<&Url>) -> Option<String> {
    let h = href.trim();
    if h.is_empty() || h.starts_with("javascript:") || h.starts_with("data:") {
        return None;
    }
    match base {
        Some(b) => b.join(h).ok().map(|u| u.to_string()),
        None => Some(h.to_string()),
    }
}

/// `<link rel=canonical>` href, resolved.
pub(crate) fn canonical(doc: &Html, base: Option<&Url>) -> Option<String> {
    let s = sel("link[rel][href]")?;
    doc.select(&s)
        .filter(|e| {
            e.value().attr("rel").is_some_and(|r| {
                r.split_whitespace()
                    .any(|w| w.eq_ignore_ascii_case("canonical"))
            })
        })
        .find_map(|e| resolve(e.value().attr("href").unwrap_or(""), base))
}

/// Feed links: `<link rel=alternate>` (anywhere, also in `<body>`) whose type is RSS, Atom,
/// RDF or JSON Feed, resolved against `base`, deduplicated, in document order.
pub(crate) fn feed_links(doc: &Html, base: Option<&Url>) -> Vec<String> {
    let Some(s) = sel("link[href], a[href][rel]") else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for e in doc.select(&s).take(2000) {
        let v = e.value();
        let rel_alt = v.attr("rel").is_some_and(|r| {
            r.split_whitespace()
                .any(|w| w.eq_ignore_ascii_case("alternate"))
        });
        if !rel_alt {
            continue;
        }
        let ty = v.attr("type").unwrap_or("").trim().to_ascii_lowercase();
        let is_feed = matches!(
            ty.as_str(),
            "application/rss+xml"
                | "application/atom+xml"
                | "application/rdf+xml"
                | "application/feed+json"
                | "application/json"
                | "application/x.atom+xml"
                | "application/x-atom+xml"
                | "application/x-rss+xml"
                | "text/xml"
                | "application/xml"
        );
        // application/json alternates are feeds only when they say so (oEmbed, wp-json API
        // links are not).
        let json_ok = ty != "application/json"
            || v.attr("title")
                .is_some_and(|t| t.to_ascii_lowercase().contains("feed"))
            || v.attr("href")
                .is_some_and(|h| h.to_ascii_lowercase().contains("feed"));
        if !is_feed || !json_ok {
            continue;
        }
        if let Some(u) = resolve(v.attr("href").unwrap_or(""), base)
            && !out.contains(&u)
        {
            out.push(u);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn base_url_from_base_href_or_the_page() {
        let page = u("https://ex.org/a/b");
        let d = Html::parse_document(r#"<base href=" /sub/ ">"#);
        assert_eq!(base_url(&d, Some(&page)), Some(u("https://ex.org/sub/")));
        assert_eq!(base_url(&d, None), None);
        let d = Html::parse_document(r#"<base href="https://cdn.ex.org/">"#);
        assert_eq!(base_url(&d, None), Some(u("https://cdn.ex.org/")));
        let d = Html::parse_document("<p>x</p>");
        assert_eq!(base_url(&d, Some(&page)), Some(page));
    }

    #[test]
    fn resolve_skips_scripts_and_data_and_keeps_relative_without_base() {
        let base = u("https://ex.org/a/");
        assert_eq!(
            resolve(" b ", Some(&base)).as_deref(),
            Some("https://ex.org/a/b")
        );
        assert_eq!(resolve("/x", None).as_deref(), Some("/x"));
        assert_eq!(resolve("javascript:void(0)", Some(&base)), None);
        assert_eq!(resolve("data:text/plain,x", None), None);
        assert_eq!(resolve("  ", None), None);
    }

    #[test]
    fn canonical_link_resolved() {
        let d = Html::parse_document(
            r#"<link rel="Canonical" href="/c"><link rel="canonical" href="/d">"#,
        );
        let base = u("https://ex.org/a");
        assert_eq!(
            canonical(&d, Some(&base)).as_deref(),
            Some("https://ex.org/c")
        );
        assert_eq!(
            canonical(&Html::parse_document("<p>x</p>"), Some(&base)),
            None
        );
    }

    #[test]
    fn feed_links_of_feed_types_deduplicated_in_page_order() {
        let d = Html::parse_document(
            r#"<head><link rel="alternate" type="application/rss+xml" href="/rss">
            <link rel="alternate" type="application/rss+xml" href="/rss">
            <link rel="alternate" type="application/json" href="/wp-json/oembed">
            <link rel="alternate" type="application/json" title="JSON Feed" href="/j">
            <link rel="alternate" hreflang="de" href="/de"><link rel="stylesheet" href="/s.css"></head>
            <body><a rel="alternate" type="application/atom+xml" href="/atom">Atom</a></body>"#,
        );
        let base = u("https://ex.org/");
        assert_eq!(
            feed_links(&d, Some(&base)),
            vec![
                "https://ex.org/rss",
                "https://ex.org/j",
                "https://ex.org/atom"
            ]
        );
    }
}
