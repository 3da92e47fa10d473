//! JSON-LD (`<script type="application/ld+json">`) metadata.
//!
//! Parses every JSON-LD block (tolerating HTML comments, CDATA wrappers and raw control
//! characters inside strings), flattens arrays and `@graph`, resolves `{"@id": …}` references,
//! and ranks the nodes: article types (NewsArticle, Article, BlogPosting, …) first, then web
//! pages, then anything else. From the best node it reads the headline, authors (strings,
//! objects with `name`, arrays, references), publication date and description; from the
//! publisher (unless it is a Person) / WebSite nodes the site name.
//!
//! Guarantees: never panics; malformed blocks are skipped; recursion is bounded by
//! `serde_json`'s own nesting limit and by an explicit depth cap.

use serde_json::Value;
use std::collections::HashMap;

/// What JSON-LD says about the page; every field is raw (uncleaned) text.
#[derive(Debug, Default, Clone)]
pub(crate) struct JsonLd {
    /// `headline` (or `name`) of the best article node.
    pub(crate) headline: Option<String>,
    /// `name` of a WebPage node (lower trust than a headline).
    pub(crate) page_name: Option<String>,
    /// Person names (or plain strings) under `author` / `creator`.
    pub(crate) authors: Vec<String>,
    /// Organisation names under `author` (used only when no person is named).
    pub(crate) org_authors: Vec<String>,
    /// `datePublished` / `dateCreated` / `uploadDate`, as written.
    pub(crate) published: Option<String>,
    /// `dateModified`, as written.
    pub(crate) modified: Option<String>,
    /// `description`.
    pub(crate) description: Option<String>,
    /// Publisher or WebSite name.
    pub(crate) site_name: Option<String>,
    /// `url` / `mainEntityOfPage` of the article node.
    pub(crate) url: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "newsarticle",
    "article",
    "blogposting",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "askpublicnewsarticle",
    "satiricalarticle",
    "scholarlyarticle",
    "techarticle",
    "socialmediaposting",
    "liveblogposting",
    "discussionforumposting",
    "posting",
    "report",
    "review",
    "recipe",
    "videoobject",
    "podcastepisode",
    "creativework",
];

const PAGE_TYPES: &[&str] = &[
    "webpage",
    "itempage",
    "aboutpage",
    "profilepage",
    "collectionpage",
    "qapage",
    "faqpage",
    "medicalwebpage",
];

const MAX_DEPTH: usize = 24;

/// Parses all JSON-LD blocks (their raw script texts) into one summary.
pub(crate) fn parse(blocks: &[String]) -> JsonLd {
    let mut nodes: Vec<&Value> = Vec::new();
    let values: Vec<Value> = blocks.iter().filter_map(|b| parse_block(b)).collect();
    for v in &values {
        collect_nodes(v, &mut nodes, 0);
    }
    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    for n in &nodes {
        if let Some(id) = n.get("@id").and_then(Value::as_str) {
            // Keep the richest node for an id (the one with most keys).
            let richer = by_id.get(id).is_none_or(|old| obj_len(old) < obj_len(n));
            if richer {
                by_id.insert(id, n);
            }
        }
    }
    let mut out = JsonLd::default();
    let rank = |n: &Value| -> u8 {
        let types = types_of(n);
        if types.iter().any(|t| ARTICLE_TYPES.contains(&t.as_str())) {
            0
        } else if types.iter().any(|t| PAGE_TYPES.contains(&t.as_str())) {
            1
        } else {
            2
        }
    };
    let mut ranked: Vec<&Value> = nodes
        .iter()
        .copied()
        .filter(|n| rank(n) < 2 && obj_len(n) > 1)
        .collect();
    ranked.sort_by_key(|n| rank(n));
    // Prefer an article node that actually carries article fields.
    let article = ranked.iter().copied().find(|n| {
        rank(n) == 0
            && (n.get("headline").is_some()
                || n.get("author").is_some()
                || n.get("datePublished").is_some())
    });
    let page = ranked.iter().copied().find(|n| rank(n) == 1);

    if let Some(a) = article {
        out.headline = text(a.get("headline")).or_else(|| text(a.get("name")));
        out.description = text(a.get("description"));
        out.url = text(a.get("url")).or_else(|| text(a.get("mainEntityOfPage")));
        if let Some(p) = a.get("publisher")
            && !is_person(p, &by_id)
        {
            out.site_name = name_of(p, &by_id, 0);
        }
    }
    for node in article.into_iter().chain(page) {
        if out.authors.is_empty() && out.org_authors.is_empty() {
            for key in ["author", "creator"] {
                if let Some(v) = node.get(key) {
                    collect_authors(v, &by_id, &mut out, 0);
                }
                if !out.authors.is_empty() {
                    break;
                }
            }
        }
        if out.published.is_none() {
            out.published = ["datePublished", "dateCreated", "uploadDate"]
                .iter()
                .find_map(|k| text(node.get(*k)));
        }
        if out.modified.is_none() {
            out.modified = text(node.get("dateModified"));
        }
        if out.description.is_none() {
            out.description = text(node.get("description"));
        }
    }
    if let Some(p) = page {
        out.page_name = text(p.get("headline")).or_else(|| text(p.get("name")));
    }
    if out.site_name.is_none() {
        out.site_name = nodes
            .iter()
            .find(|n| types_of(n).iter().any(|t| t == "website"))
            .and_then(|n| text(n.get("name")))
            .or_else(|| {
                nodes
                    .iter()
                    .find(|n| {
                        let types = types_of(n);
                        types
                            .iter()
                            .any(|t| t == "newsmediaorganization" || t == "organization")
                            && !types.iter().any(|t| t == "person")
                    })
                    .and_then(|n| text(n.get("name")))
            });
    }
    out
}

fn obj_len(v: &Value) -> usize {
    v.as_object().map_or(0, |o| o.len())
}

/// Parses one block, repairing the usual breakage (comments, CDATA, raw newlines in strings).
fn parse_block(raw: &str) -> Option<Value> {
    let mut s = raw.trim();
    for p in ["<!--", "//<![CDATA[", "<![CDATA["] {
        s = s.strip_prefix(p).unwrap_or(s).trim();
    }
    for p in ["-->", "//]]>", "]]>"] {
        s = s.strip_suffix(p).unwrap_or(s).trim();
    }
    s = s.trim_end_matches(';').trim();
    if let Ok(v) = serde_json::from_str::<Value>(s) {
        return Some(v);
    }
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    serde_json::from_str::<Value>(&cleaned).ok()
}

fn collect_nodes<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_nodes(x, out, depth + 1)),
        Value::Object(o) => {
            out.push(v);
            if let Some(g) = o.get("@graph") {
                collect_nodes(g, out, depth + 1);
            }
            // Articles are sometimes nested as mainEntity of a WebPage.
            for k in [
                "mainEntity",
                "mainEntityOfPage",
                "hasPart",
                "itemListElement",
            ] {
                if let Some(x) = o.get(k)
                    && (x.is_object() || x.is_array())
                {
                    collect_nodes(x, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Lower-cased `@type` values of a node (string or array; `schema:` prefixes removed).
fn types_of(v: &Value) -> Vec<String> {
    let norm = |s: &str| {
        let s = s.rsplit(['/', ':']).next().unwrap_or(s);
        s.to_ascii_lowercase()
    };
    match v.get("@type") {
        Some(Value::String(s)) => vec![norm(s)],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(norm).collect(),
        _ => Vec::new(),
    }
}

/// Plain text of a JSON value: a string, the first string of an array, or an object's
/// `@value` / `name` / `@id`.
fn text(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => return a.iter().find_map(|x| text(Some(x))),
        Value::Object(o) => {
            return text(o.get("@value"))
                .or_else(|| text(o.get("name")))
                .or_else(|| text(o.get("@id")));
        }
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// `name` of an object, following an `@id` reference.
/// Whether `v` (a node or an `{"@id"}` reference) is typed as a Person: a personal blog's
/// publisher is its author, not a site name to strip from bylines.
fn is_person(v: &Value, by_id: &HashMap<&str, &Value>) -> bool {
    let node = v
        .get("@id")
        .and_then(Value::as_str)
        .and_then(|id| by_id.get(id).copied())
        .unwrap_or(v);
    types_of(node).iter().any(|t| t == "person")
}

fn name_of(v: &Value, by_id: &HashMap<&str, &Value>, depth: usize) -> Option<String> {
    if depth > 4 {
        return None;
    }
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Array(a) => a.iter().find_map(|x| name_of(x, by_id, depth + 1)),
        Value::Object(o) => text(o.get("name")).or_else(|| {
            let id = o.get("@id")?.as_str()?;
            let target = by_id.get(id)?;
            if std::ptr::eq(*target, v) {
                return None;
            }
            text(target.get("name"))
        }),
        _ => None,
    }
}

fn collect_authors(v: &Value, by_id: &HashMap<&str, &Value>, out: &mut JsonLd, depth: usize) {
    if depth > 6 {
        return;
    }
    match v {
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() {
                out.authors.push(s.to_string());
            }
        }
        Value::Array(a) => a
            .iter()
            .take(50)
            .for_each(|x| collect_authors(x, by_id, out, depth + 1)),
        Value::Object(o) => {
            // Resolve a bare reference to the full node.
            let node = if o.get("name").is_none() {
                o.get("@id")
                    .and_then(Value::as_str)
                    .and_then(|id| by_id.get(id).copied())
                    .filter(|t| !std::ptr::eq(*t, v))
                    .unwrap_or(v)
            } else {
                v
            };
            let is_org = types_of(node)
                .iter()
                .any(|t| t.contains("organization") || t == "corporation");
            let name = match node.get("name") {
                Some(n) => text(Some(n)),
                None => {
                    let given = text(node.get("givenName"));
                    let family = text(node.get("familyName"));
                    match (given, family) {
                        (Some(g), Some(f)) => Some(format!("{g} {f}")),
                        (g, f) => g.or(f),
                    }
                }
            };
            if let Some(n) = name {
                if is_org {
                    out.org_authors.push(n);
                } else {
                    out.authors.push(n);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> JsonLd {
        parse(&[s.to_string()])
    }

    #[test]
    fn news_article_basic() {
        let j = one(
            r#"{"@type":"NewsArticle","headline":"Hello","author":{"@type":"Person","name":"Ann Lee"},
            "datePublished":"2021-03-05T10:00:00+01:00","description":"D","publisher":{"name":"Paper"}}"#,
        );
        assert_eq!(j.headline.as_deref(), Some("Hello"));
        assert_eq!(j.authors, vec!["Ann Lee"]);
        assert_eq!(j.published.as_deref(), Some("2021-03-05T10:00:00+01:00"));
        assert_eq!(j.site_name.as_deref(), Some("Paper"));
    }

    #[test]
    fn graph_with_references() {
        let j = one(r##"{"@context":"https://schema.org","@graph":[
              {"@type":"WebSite","@id":"#site","name":"Blog"},
              {"@type":"Article","headline":"T","author":{"@id":"#p1"},"datePublished":"2020-01-02"},
              {"@type":"Person","@id":"#p1","name":"Bob Smith"}]}"##);
        assert_eq!(j.authors, vec!["Bob Smith"]);
        assert_eq!(j.site_name.as_deref(), Some("Blog"));
    }

    #[test]
    fn arrays_and_types_arrays() {
        let j = one(r#"[{"@type":["BlogPosting"],"headline":"X","author":[{"name":"A"},"B"]}]"#);
        assert_eq!(j.authors, vec!["A", "B"]);
    }

    #[test]
    fn webpage_fallback_and_broken_json() {
        let j = one(
            "<!-- {\"@type\":\"WebPage\",\"name\":\"Page\",\"datePublished\":\"2020-01-02\",\"description\":\"a\nb\"} -->",
        );
        assert_eq!(j.page_name.as_deref(), Some("Page"));
        assert_eq!(j.published.as_deref(), Some("2020-01-02"));
        assert!(one("{not json").headline.is_none());
    }

    #[test]
    fn organisation_authors_kept_apart() {
        let j = one(r#"{"@type":"Article","author":{"@type":"Organization","name":"Org"}}"#);
        assert!(j.authors.is_empty());
        assert_eq!(j.org_authors, vec!["Org"]);
    }
}
