//! Feeds in RSS 0.9x / 1.0 (RDF) / 2.0, Atom and JSON Feed (via feed-rs, which tells them
//! apart by content): each item becomes a [`Candidate`] whose hints are the item's title,
//! authors, date and summary.
//!
//! feed-rs dispatches `<rss>` on its `version` and knows only 0.91, 0.92 and 2.0: an `<rss>`
//! root of another version (0.93, 0.94, "2.01") or of none is read as RSS 2.0, the superset
//! of the 0.9x family.
//!
//! Guarantees: CPU-bound and synchronous (callers run it on a blocking thread); items without
//! an http(s) link are dropped; links are normalised and repeated links kept once (first
//! wins); HTML in titles and summaries is reduced to its text; nesting past
//! [`super::depth::MAX_DEPTH`] in the feed and in its HTML is dropped before parsing.

use feed_rs::model::{Entry, Text};
use mediawarm_shared::domain::ErrorClass;
use scraper::Html;
use url::Url;

use super::ScrapeError;
use super::article::{Candidate, Hints, clean};
use super::urls::normalize_url;

/// The items of the feed in `body`, fetched from `base`; an unparsable body is permanent.
pub(crate) fn feed_candidates(body: &[u8], base: &Url) -> Result<Vec<Candidate>, ScrapeError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .build()
        .parse(rss_version_known_to_the_parser(&super::depth::bound_xml(body)).as_ref())
        .map_err(|e| {
            ScrapeError::Permanent(
                ErrorClass::ParseFailed,
                format!("{base} is not a parsable feed: {e}"),
            )
        })?;
    let mut seen = std::collections::HashSet::new();
    Ok(feed
        .entries
        .iter()
        .filter_map(|entry| candidate(entry, base))
        .filter(|c| seen.insert(c.url.clone()))
        .collect())
}

/// `body` with its `<rss>` root's `version` set to "2.0" when feed-rs would not recognise it
/// (a version other than 0.91, 0.92 and 2.0, or none); any other body unchanged.
fn rss_version_known_to_the_parser(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    let head = &body[..body.len().min(8192)];
    let Some(start) = head.windows(4).position(|w| w == b"<rss").filter(|&i| {
        head.get(i + 4)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'>')
    }) else {
        return Cow::Borrowed(body);
    };
    let Some(end) = head[start..]
        .iter()
        .position(|&c| c == b'>')
        .map(|e| start + e)
    else {
        return Cow::Borrowed(body);
    };
    // Only the root element: before it, nothing but the prolog (`<?xml …?>`, comments, a
    // doctype).
    if head[..start]
        .windows(2)
        .any(|w| w[0] == b'<' && !matches!(w[1], b'?' | b'!'))
    {
        return Cow::Borrowed(body);
    }
    let tag = &head[start..end];
    let attr = tag.windows(8).position(|w| w == b"version=").filter(|&i| {
        tag.get(i.wrapping_sub(1))
            .is_some_and(u8::is_ascii_whitespace)
    });
    let mut out = Vec::with_capacity(body.len() + 16);
    match attr {
        Some(i) => {
            let quote_at = start + i + 8;
            let Some(&quote) = body.get(quote_at).filter(|q| matches!(q, b'"' | b'\'')) else {
                return Cow::Borrowed(body);
            };
            let Some(close) = body[quote_at + 1..end].iter().position(|&c| c == quote) else {
                return Cow::Borrowed(body);
            };
            let value = &body[quote_at + 1..quote_at + 1 + close];
            if matches!(value, b"2.0" | b"0.91" | b"0.92" | b"") {
                return Cow::Borrowed(body);
            }
            out.extend_from_slice(&body[..quote_at + 1]);
            out.extend_from_slice(b"2.0");
            out.extend_from_slice(&body[quote_at + 1 + close..]);
        }
        None => {
            out.extend_from_slice(&body[..start + 4]);
            out.extend_from_slice(b" version=\"2.0\"");
            out.extend_from_slice(&body[start + 4..]);
        }
    }
    Cow::Owned(out)
}

fn candidate(entry: &Entry, base: &Url) -> Option<Candidate> {
    let alternate = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| normalize_url(&l.href, Some(base)));
    let url = alternate.or_else(|| {
        entry
            .id
            .starts_with("http")
            .then(|| normalize_url(&entry.id, None))
            .flatten()
    })?;
    let authors: Vec<String> = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().and_then(clean))
        .collect();
    Some(Candidate {
        url,
        hints: Hints {
            title: entry.title.as_ref().and_then(plain_text),
            author: clean(&authors.join(", ")),
            published: entry.published.or(entry.updated),
            updated: entry.updated,
            summary: entry.summary.as_ref().and_then(plain_text),
        },
    })
}

/// The text of a feed `Text`: markup removed when it is HTML (or looks like it).
fn plain_text(text: &Text) -> Option<String> {
    let is_html = text.content_type.to_string().contains("html")
        || (text.content.contains('<') && text.content.contains('>'));
    if is_html {
        let fragment = Html::parse_fragment(&super::depth::bound_html(&text.content));
        let joined: Vec<&str> = fragment.root_element().text().collect();
        clean(&joined.join(" "))
    } else {
        clean(&text.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://g.example/feed.xml").expect("valid url")
    }

    #[test]
    fn rss_items_become_candidates_with_hints() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>G</title>
        <item><title>First &amp; best</title><link>/a?utm_source=rss</link>
          <description>&lt;p&gt;Lede &lt;b&gt;one&lt;/b&gt;&lt;/p&gt;</description>
          <pubDate>Tue, 02 Jan 2024 10:00:00 +0100</pubDate></item>
        <item><title>No link</title></item>
        <item><title>Again</title><link>https://g.example/a</link></item>
        </channel></rss>"#;
        let items = feed_candidates(rss.as_bytes(), &base()).expect("parses");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].url.as_str(), "https://g.example/a");
        assert_eq!(items[0].hints.title.as_deref(), Some("First & best"));
        assert_eq!(items[0].hints.summary.as_deref(), Some("Lede one"));
        assert_eq!(
            items[0].hints.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-01-02T09:00:00+00:00")
        );
    }

    #[test]
    fn a_feed_nested_past_the_depth_bound_still_yields_its_items() {
        let deep = format!("{}x{}", "<x:n>".repeat(20_000), "</x:n>".repeat(20_000));
        let summary = format!("&lt;div&gt;{}Lede", "&lt;div&gt;".repeat(20_000));
        let rss = format!(
            r#"<?xml version="1.0"?><rss version="2.0" xmlns:x="urn:x"><channel><title>G</title>
            <item><title>One</title><link>https://g.example/one</link>{deep}</item>
            <item><title>Two</title><link>https://g.example/two</link>
              <description>{summary}</description></item></channel></rss>"#
        );
        let items = feed_candidates(rss.as_bytes(), &base()).expect("parses");
        let urls: Vec<&str> = items.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(urls, ["https://g.example/one", "https://g.example/two"]);
        assert_eq!(items[1].hints.summary.as_deref(), Some("Lede"));
    }

    #[test]
    fn rss_of_any_0_9x_version_or_none_is_read() {
        for root in [
            r#"<rss version="0.93">"#,
            r#"<rss version='0.94'>"#,
            r#"<rss version="2.01" xmlns:dc="http://purl.org/dc/elements/1.1/">"#,
            "<rss>",
            "<rss\n  xmlns:media=\"http://search.yahoo.com/mrss/\">",
        ] {
            let feed = format!(
                r#"<?xml version="1.0"?>{root}<channel><title>G</title>
                <item><title>One</title><link>https://g.example/one</link>
                <pubDate>Wed, 01 May 2024 12:00:00 +0200</pubDate></item></channel></rss>"#
            );
            let items = feed_candidates(feed.as_bytes(), &base()).expect(root);
            assert_eq!(items.len(), 1, "{root}");
            assert_eq!(items[0].hints.title.as_deref(), Some("One"), "{root}");
            assert!(items[0].hints.published.is_some(), "{root}");
        }
        for untouched in [
            &br#"<rss version="0.91"><channel></channel></rss>"#[..],
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><title><![CDATA[<rss version="9">]]></title></feed>"#,
        ] {
            assert!(matches!(
                rss_version_known_to_the_parser(untouched),
                std::borrow::Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn garbage_is_a_permanent_error() {
        let err =
            feed_candidates(b"<html><body>hi</body></html>", &base()).expect_err("not a feed");
        assert!(err.is_permanent(), "{err}");
    }
}
