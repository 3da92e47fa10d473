//! Sitemaps: a `<urlset>` lists article pages (with Google News `news:title` and
//! `news:publication_date` as hints when present); a `<sitemapindex>` lists child sitemaps,
//! which the scraper follows one level deep.
//!
//! Deliberately simple: a tolerant pattern scan rather than a full XML parser, so a
//! slightly malformed sitemap still yields its `<loc>`s. Guarantees: synchronous, never
//! panics; locations are normalised and repeated ones kept once (in linear time); a body that is neither a
//! urlset nor a sitemap index is a permanent error. Gzipped sitemap files are not supported.

use std::sync::OnceLock;

use chrono::Utc;
use mediawarm_shared::domain::ErrorClass;
use regex::Regex;
use url::Url;

use super::ScrapeError;
use super::article::{Candidate, Hints, clean};
use super::extract::{decode_entities, parse_date};
use super::urls::normalize_url;

/// What a sitemap lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sitemap {
    /// Article pages.
    Urls(Vec<Candidate>),
    /// Child sitemaps, most recently modified first (undated ones last, in document order).
    Index(Vec<Url>),
}

struct Patterns {
    url_block: Regex,
    sitemap_block: Regex,
    loc: Regex,
    lastmod: Regex,
    news_title: Regex,
    news_date: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("static regex");
        Patterns {
            url_block: re(r"(?s)<(?:[A-Za-z0-9]+:)?url\b[^>]*>(.*?)</(?:[A-Za-z0-9]+:)?url>"),
            sitemap_block: re(
                r"(?s)<(?:[A-Za-z0-9]+:)?sitemap\b[^>]*>(.*?)</(?:[A-Za-z0-9]+:)?sitemap>",
            ),
            loc: re(r"(?s)<(?:[A-Za-z0-9]+:)?loc\b[^>]*>(.*?)</(?:[A-Za-z0-9]+:)?loc>"),
            lastmod: re(r"(?s)<(?:[A-Za-z0-9]+:)?lastmod\b[^>]*>(.*?)</(?:[A-Za-z0-9]+:)?lastmod>"),
            news_title: re(r"(?s)<news:title\b[^>]*>(.*?)</news:title>"),
            news_date: re(r"(?s)<news:publication_date\b[^>]*>(.*?)</news:publication_date>"),
        }
    })
}

/// The text of an XML element's content: CDATA unwrapped, entities decoded, trimmed.
fn xml_text(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
        .map_or_else(|| decode_entities(raw), str::to_owned);
    clean(&inner)
}

fn field(re: &Regex, block: &str) -> Option<String> {
    re.captures(block)
        .and_then(|c| c.get(1))
        .and_then(|m| xml_text(m.as_str()))
}

/// Reads the sitemap in `body`, fetched from `base`.
pub(crate) fn parse_sitemap(body: &str, base: &Url) -> Result<Sitemap, ScrapeError> {
    let p = patterns();
    let head: String = body.chars().take(4096).collect();
    if head.contains("<sitemapindex") || head.contains(":sitemapindex") {
        let mut children: Vec<(Option<i64>, Url)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for block in p.sitemap_block.captures_iter(body).filter_map(|c| c.get(1)) {
            let Some(url) =
                field(&p.loc, block.as_str()).and_then(|l| normalize_url(&l, Some(base)))
            else {
                continue;
            };
            if !seen.insert(url.clone()) {
                continue;
            }
            let modified = field(&p.lastmod, block.as_str())
                .and_then(|d| parse_date(&d))
                .map(|d| d.timestamp());
            children.push((modified, url));
        }
        children.sort_by_key(|child| std::cmp::Reverse(child.0));
        return Ok(Sitemap::Index(
            children.into_iter().map(|(_, u)| u).collect(),
        ));
    }
    if !(head.contains("<urlset") || head.contains(":urlset")) {
        return Err(ScrapeError::Permanent(
            ErrorClass::ParseFailed,
            format!("{base} is neither a sitemap urlset nor a sitemap index"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let candidates = p
        .url_block
        .captures_iter(body)
        .filter_map(|c| c.get(1))
        .filter_map(|block| {
            let block = block.as_str();
            let url = field(&p.loc, block).and_then(|l| normalize_url(&l, Some(base)))?;
            Some(Candidate {
                url,
                hints: Hints {
                    title: field(&p.news_title, block),
                    published: field(&p.news_date, block)
                        .and_then(|d| parse_date(&d))
                        .map(|d| d.with_timezone(&Utc)),
                    updated: field(&p.lastmod, block)
                        .and_then(|d| parse_date(&d))
                        .map(|d| d.with_timezone(&Utc)),
                    ..Hints::default()
                },
            })
        })
        .filter(|c| seen.insert(c.url.clone()))
        .collect();
    Ok(Sitemap::Urls(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://g.example/sitemap.xml").expect("valid url")
    }

    #[test]
    fn urlset_with_news_fields() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
                xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
          <url><loc>https://g.example/a?x=1&amp;utm_source=s</loc>
            <news:news><news:publication_date>2024-01-02T10:00:00+01:00</news:publication_date>
            <news:title><![CDATA[Storm & rain]]></news:title></news:news></url>
          <url><loc> /b </loc></url>
          <url><loc>https://g.example/b</loc></url>
          <url><loc>ftp://g.example/c</loc></url>
        </urlset>"#;
        let Ok(Sitemap::Urls(urls)) = parse_sitemap(xml, &base()) else {
            panic!("a urlset");
        };
        let locs: Vec<&str> = urls.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(locs, ["https://g.example/a?x=1", "https://g.example/b"]);
        assert_eq!(urls[0].hints.title.as_deref(), Some("Storm & rain"));
        assert_eq!(
            urls[0].hints.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-01-02T09:00:00+00:00")
        );
    }

    #[test]
    fn index_children_newest_first() {
        let xml = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <sitemap><loc>https://g.example/s1.xml</loc><lastmod>2024-01-01</lastmod></sitemap>
          <sitemap><loc>https://g.example/s0.xml</loc></sitemap>
          <sitemap><loc>https://g.example/s2.xml</loc><lastmod>2024-02-01</lastmod></sitemap>
        </sitemapindex>"#;
        let Ok(Sitemap::Index(children)) = parse_sitemap(xml, &base()) else {
            panic!("an index");
        };
        let locs: Vec<&str> = children.iter().map(Url::as_str).collect();
        assert_eq!(
            locs,
            [
                "https://g.example/s2.xml",
                "https://g.example/s1.xml",
                "https://g.example/s0.xml"
            ]
        );
    }

    #[test]
    fn other_documents_are_permanent_errors() {
        let err = parse_sitemap("<html></html>", &base()).expect_err("not a sitemap");
        assert!(err.is_permanent());
    }
}
