//! `<meta>` tag collection (OpenGraph, `article:*`, Dublin Core, citation, Parse.ly,
//! Sailthru, Twitter, itemprop and plain `name=` tags).
//!
//! Every `<meta>` with a `property`, `name`, `itemprop` or `http-equiv` key and a non-empty
//! `content` is kept in document order under its lower-cased key. Lookups take a list of keys in
//! priority order. Guarantees: never panics; values are whitespace-trimmed and non-empty.

use scraper::{Html, Selector};

/// Meta tags of a page, in document order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Meta {
    entries: Vec<(String, String)>,
}

impl Meta {
    /// Collects the meta tags of `doc`.
    pub(crate) fn from_doc(doc: &Html) -> Meta {
        let mut entries = Vec::new();
        let Ok(sel) = Selector::parse("meta") else {
            return Meta { entries };
        };
        for el in doc.select(&sel) {
            let v = el.value();
            let Some(content) = v.attr("content").map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            for attr in ["property", "name", "itemprop", "http-equiv"] {
                if let Some(k) = v.attr(attr) {
                    let k = k.trim().to_ascii_lowercase();
                    if !k.is_empty() {
                        entries.push((k, content.to_string()));
                    }
                }
            }
        }
        Meta { entries }
    }

    /// Builds a `Meta` from pairs (keys are lower-cased); used by tests.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Meta {
        Meta {
            entries: pairs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
                .collect(),
        }
    }

    /// First value of the first key (in `keys` order) present on the page.
    pub(crate) fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| {
            self.entries
                .iter()
                .find(|(ek, _)| ek == k)
                .map(|(_, v)| v.as_str())
        })
    }

    /// The values of each key of `keys` present on the page, key by key in `keys` order.
    pub(crate) fn per_key<'a>(&'a self, keys: &'a [&'a str]) -> impl Iterator<Item = Vec<&'a str>> {
        keys.iter().filter_map(|k| {
            let v: Vec<&str> = self
                .entries
                .iter()
                .filter(|(ek, _)| ek == k)
                .map(|(_, v)| v.as_str())
                .collect();
            (!v.is_empty()).then_some(v)
        })
    }

    /// All values of the first key (in `keys` order) present on the page.
    pub(crate) fn all<'a>(&'a self, keys: &'a [&'a str]) -> Vec<&'a str> {
        self.per_key(keys).next().unwrap_or_default()
    }
}

/// Meta keys holding the publication date, best first.
pub(crate) const DATE_KEYS: &[&str] = &[
    "article:published_time",
    "article:published",
    "og:article:published_time",
    "og:published_time",
    "published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish_date",
    "publish-date",
    "published-date",
    "date_published",
    "article.published",
    "article_date_original",
    "original-publish-date",
    "cxenseparse:recs:publishtime",
    "sailthru.date",
    "parsely-pub-date",
    "citation_publication_date",
    "citation_date",
    "citation_online_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "dc.date.publication",
    "date",
    "creation_date",
    "created",
    "displaydate",
    "dat",
    "timestamp",
];

/// Meta keys holding the modification date.
pub(crate) const MODIFIED_KEYS: &[&str] = &[
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "last-modified",
    "dc.date.modified",
    "dcterms.modified",
];

/// Meta keys holding author names, best first (`article:author` may be a URL; filtered later).
pub(crate) const AUTHOR_KEYS: &[&str] = &[
    "author",
    "article:author",
    "og:article:author",
    "article:author_name",
    "parsely-author",
    "sailthru.author",
    "citation_author",
    "dc.creator",
    "dcterms.creator",
    "dc.creator.name",
    "byl",
    "byline",
    "authors",
    "cxenseparse:author",
    "twitter:creator",
];

/// Meta keys holding the headline, best first.
pub(crate) const TITLE_KEYS: &[&str] = &[
    "og:title",
    "twitter:title",
    "parsely-title",
    "sailthru.title",
    "citation_title",
    "dc.title",
    "headline",
    "title",
];

/// Meta keys holding a description.
pub(crate) const DESCRIPTION_KEYS: &[&str] = &[
    "og:description",
    "description",
    "twitter:description",
    "dc.description",
    "sailthru.description",
];

/// Meta keys holding the site name.
pub(crate) const SITE_KEYS: &[&str] = &[
    "og:site_name",
    "application-name",
    "apple-mobile-web-app-title",
    "twitter:site",
    "publisher",
    "dc.publisher",
    "citation_journal_title",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_property_name_itemprop() {
        let doc = Html::parse_document(
            r#"<head><meta property="og:title" content=" T "><meta name="Author" content="A">
            <meta itemprop="datePublished" content="2020-01-01"><meta name="x" content=""></head>"#,
        );
        let m = Meta::from_doc(&doc);
        assert_eq!(m.get(&["og:title"]), Some("T"));
        assert_eq!(m.get(&["nope", "author"]), Some("A"));
        assert_eq!(m.get(DATE_KEYS), Some("2020-01-01"));
        assert_eq!(m.get(&["x"]), None);
    }

    #[test]
    fn all_values_of_first_key() {
        let m = Meta::from_pairs(&[("author", "A"), ("author", "B"), ("dc.creator", "C")]);
        assert_eq!(m.all(AUTHOR_KEYS), vec!["A", "B"]);
    }
}
