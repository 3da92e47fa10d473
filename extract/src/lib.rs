//! Article metadata extraction for mediawarm: the pure half of the scraper. The worker fetches
//! and decodes pages; this crate only reads them (no I/O, no async runtime, no HTTP client).
//!
//! [`extract`] reads an HTML page (and optionally its URL and site-specific CSS selectors) and
//! returns its title, authors, publication date, description, canonical URL, site name and feed
//! links. Sources are tried from most to least reliable: user selectors, JSON-LD, `<meta>` tags
//! (OpenGraph, `article:*`, Dublin Core, citation, Parse.ly, Sailthru), microdata, `<time>`,
//! `rel=author` and byline / date classes, and finally the URL path. A page is read as a
//! browser with scripting off reads it (`<noscript>` content is markup). The site's name,
//! without its tagline, is the publisher to credit where no author is known. A date the
//! article labels in words as its publication date ("Erschienen am …", "Published on …")
//! beats any other date that names a different day. The publication date is the date the
//! page shows readers as the article's date: a metadata date the page does not show yields to
//! the one it displays with the article, unless the page labels that one as an update.
//!
//! [`depth`] bounds how deeply a page's elements nest before any parser sees it; the worker's
//! feed and listing parsers use it too.
//!
//! Guarantees: [`extract`] and [`parse_date`] never panic, whatever the input (checked by
//! property tests); they do no I/O; every returned string is trimmed and non-empty; dates keep
//! the offset the page wrote (`+00:00` when it wrote none).

mod authors;
mod canonical;
mod charset;
mod dates;
pub mod depth;
mod description;
mod dom;
mod entities;
mod jsonld;
mod meta;
mod page;
mod site;
mod title;

use chrono::{DateTime, FixedOffset};
use scraper::Html;
use url::Url;

pub use charset::decode_html;
pub use dates::parse_date;
pub use entities::decode_entities;

use page::Page;

/// Metadata extracted from one article page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Headline, without the site-name prefix or suffix.
    pub title: Option<String>,
    /// Author names, cleaned and deduplicated, in page order.
    pub authors: Vec<String>,
    /// The publisher to credit when no author is known: the site's name without its tagline.
    /// Kept apart from `authors` so a feed's author still beats it.
    pub publisher: Option<String>,
    /// Publication date-time in the page's own offset.
    pub published: Option<DateTime<FixedOffset>>,
    /// Summary (JSON-LD, OpenGraph or meta description).
    pub description: Option<String>,
    /// `<link rel=canonical>` (else `og:url`), resolved against the page URL.
    pub canonical_url: Option<String>,
    /// Site name (`og:site_name`, JSON-LD publisher / WebSite, `application-name`).
    pub site_name: Option<String>,
    /// RSS / Atom / JSON Feed links (`<link rel=alternate>` anywhere in the page), resolved.
    pub feed_links: Vec<String>,
}

/// Site-specific CSS selectors; when given and matching, they win over the generic rules.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Selectors {
    /// Selector of the headline element.
    pub title: Option<String>,
    /// Selector of the author element(s).
    pub author: Option<String>,
    /// Selector of the date element (`datetime` / `content` attribute or text is parsed).
    pub date: Option<String>,
    /// Selector of the summary element.
    pub summary: Option<String>,
}

/// The RSS / Atom / JSON Feed links of the HTML page `html` served from `base`
/// (`<link rel=alternate>` anywhere, also in `<body>`), resolved, in page order. Never panics.
pub fn feed_links(html: &str, base: &Url) -> Vec<String> {
    dom::links::feed_links(&Html::parse_document(&depth::bound_html(html)), Some(base))
}

/// Which rule of each field's cascade decided it: a rule's short name (`"metadata"`,
/// `"jsonld_person"`, `"h1_agrees"`, …), `None` where the field was not found. Read by the
/// scorer's per-rule report; the names are for people and may change.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The rule that chose the title.
    pub title: Option<&'static str>,
    /// The rule that chose the authors.
    pub authors: Option<&'static str>,
    /// The rule that chose the publication date.
    pub published: Option<&'static str>,
}

/// Extracts article metadata from `html`.
///
/// `url` is the page's address (used to resolve links, recognise the site name and, as a last
/// resort, read a date from the path). `selectors`, when given and matching, win over the
/// generic rules for their field. The page is parsed once; each field is then one
/// cascade of rules over it. Never panics.
pub fn extract(html: &str, url: Option<&Url>, selectors: Option<&Selectors>) -> Extracted {
    extract_with_rules(html, url, selectors).0
}

/// [`extract`], also saying which rule decided each field; the [`Extracted`] is the same.
pub fn extract_with_rules(
    html: &str,
    url: Option<&Url>,
    selectors: Option<&Selectors>,
) -> (Extracted, Rules) {
    let page = Page::parse(html, url, selectors);
    let title = title::choose_with_rule(&page);
    let (authors, author_rule) = authors::choose_with_rule(&page);
    let published = dates::choose_with_rule(&page);
    let rules = Rules {
        title: title.as_ref().map(|(_, r)| *r),
        authors: author_rule,
        published: published.map(|(_, r)| r),
    };
    let extracted = Extracted {
        title: title.map(|(t, _)| t),
        authors,
        publisher: site::publisher(&page),
        published: published.map(|(d, _)| d),
        description: description::choose(&page),
        canonical_url: canonical::choose(&page),
        site_name: page.site_name.clone(),
        feed_links: dom::links::feed_links(&page.doc, page.base.as_ref()),
    };
    (extracted, rules)
}
