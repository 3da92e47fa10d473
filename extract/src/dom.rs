//! DOM heuristics: `<title>`, `<h1>`, `<time>`, itemprop microdata, `rel=author` links, byline
//! and date classes, canonical and feed `<link>`s, user CSS selectors, and scans of the visible
//! text near the headline for bylines ("Von …", "By …") and dates ("Veröffentlicht am …").
//!
//! Elements inside `<nav>`, `<footer>`, `<aside>`, forms and comment sections are skipped for
//! authors and dates; elements inside `<article>`, `<header>`, `<main>` or post/entry containers
//! are preferred. Guarantees: never panics (an invalid user selector simply matches nothing);
//! every returned string is whitespace-collapsed and non-empty.

use scraper::{ElementRef, Html, Selector};
use url::Url;

/// Parses a selector, `None` when it is invalid.
pub(crate) fn sel(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

/// Text content of an element with white space collapsed.
pub(crate) fn text_of(el: ElementRef<'_>) -> String {
    let mut s = String::new();
    for t in el.text() {
        s.push_str(t);
        s.push(' ');
    }
    super::title::collapse(&s)
}

fn class_id(el: &ElementRef<'_>) -> String {
    let v = el.value();
    let mut s = String::new();
    s.push_str(v.attr("class").unwrap_or(""));
    s.push(' ');
    s.push_str(v.attr("id").unwrap_or(""));
    s.to_ascii_lowercase()
}

/// Class/id fragments of page chrome.
const CHROME: &[&str] = &[
    "comment",
    "sidebar",
    "related",
    "widget_",
    "widget-area",
    "footer",
    "teaser",
    "recommend",
];

/// Is the element inside page chrome (navigation, footer, sidebar, comments, forms)? An
/// `<aside>` within the `<article>` is the article's own metadata box, not chrome; nor is a
/// container whose class only says it has one or names the page layout (`has-sidebar`,
/// `gallery--with-sidebar`, `layoutTwoColumnsRightSidebar`).
pub(crate) fn in_chrome(el: ElementRef<'_>) -> bool {
    for a in el.ancestors().filter_map(ElementRef::wrap).take(40) {
        let name = a.value().name();
        if matches!(name, "body" | "html") {
            break;
        }
        if matches!(name, "nav" | "footer" | "form") {
            return true;
        }
        if name == "aside"
            && !a
                .ancestors()
                .filter_map(ElementRef::wrap)
                .any(|x| x.value().name() == "article")
        {
            return true;
        }
        let ci = class_id(&a);
        let chrome = ci.split_whitespace().any(|t| {
            !(t.starts_with("has-")
                || t.starts_with("no-")
                || t.contains("with")
                || t.contains("layout"))
                && CHROME.iter().any(|c| t.contains(c))
        });
        if chrome {
            return true;
        }
    }
    false
}

/// Is the element inside the article body or its header?
pub(crate) fn in_article(el: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .take(40)
        .any(|a| {
            let name = a.value().name();
            if matches!(name, "article" | "header" | "main") {
                return true;
            }
            let ci = class_id(&a);
            ci.contains("article")
                || ci.contains("post")
                || ci.contains("entry")
                || ci.contains("news-single")
                || ci.contains("news-detail")
        })
}

/// Raw texts of the JSON-LD script blocks.
pub(crate) fn jsonld_blocks(doc: &Html) -> Vec<String> {
    let Some(s) = sel("script") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| {
            e.value()
                .attr("type")
                .is_some_and(|t| t.to_ascii_lowercase().contains("ld+json"))
        })
        .map(|e| e.text().collect::<String>())
        .take(50)
        .collect()
}

/// Text of the first `<title>` (outside `<svg>`).
pub(crate) fn title_tag(doc: &Html) -> Option<String> {
    let s = sel("title")?;
    doc.select(&s)
        .find(|e| {
            !e.ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| a.value().name() == "svg")
        })
        .map(text_of)
        .filter(|t| !t.is_empty())
}

/// Class or id fragments of the parts of a heading that are not the headline: kickers,
/// topic labels, subtitles and text meant only for screen readers.
const HEADING_EXTRAS: &[&str] = &[
    "kicker",
    "dachzeile",
    "overline",
    "topline",
    "roofline",
    "eyebrow",
    "subheadline",
    "subtitle",
    "sub-title",
    "topic-label",
    "visuallyhidden",
    "visually-hidden",
    "sr-only",
    "screen-reader",
    "screenreader",
    "element-invisible",
    "offscreen",
];

/// Is this element inside a heading a headline part (class, id or `itemprop` "headline")?
fn is_headline_part(el: &ElementRef<'_>) -> bool {
    let ci = class_id(el);
    el.value()
        .attr("itemprop")
        .is_some_and(|p| p.eq_ignore_ascii_case("headline"))
        || ci
            .split_whitespace()
            .any(|t| t.contains("headline") && !t.contains("subheadline"))
}

/// Is this element inside a heading a kicker, label, subtitle or hidden text?
fn is_heading_extra(el: &ElementRef<'_>) -> bool {
    let v = el.value();
    if v.name() == "small" || v.attr("aria-hidden").is_some_and(|a| a == "true") {
        return true;
    }
    let ci = class_id(el);
    ci.split_whitespace()
        .any(|t| HEADING_EXTRAS.iter().any(|x| t.contains(x)))
}

/// The text a reader sees as a heading's headline: when the heading marks a part as the
/// headline (class or `itemprop` "headline"), that part; otherwise the heading without its
/// kickers, topic labels, subtitles, `<small>` parts and screen-reader or `aria-hidden`
/// text. Text nodes are joined as written (no space is added inside a word or before
/// punctuation); block elements and `<br>` separate words. Whitespace-collapsed.
pub(crate) fn heading_text(el: ElementRef<'_>) -> String {
    if let Some(part) = el
        .descendants()
        .skip(1)
        .filter_map(ElementRef::wrap)
        .find(is_headline_part)
    {
        let t = joined_text_from(part, 0);
        if !t.is_empty() {
            return t;
        }
    }
    // "Kicker <span aria-hidden> – </span> Headline": the page sets the kicker apart with a
    // separator only sighted readers see; the headline is what follows it.
    if let Some(k) = el.children().position(|c| {
        ElementRef::wrap(c).is_some_and(|e| {
            let v = e.value();
            (v.attr("aria-hidden") == Some("true") || v.attr("role") == Some("presentation"))
                && matches!(text_of(e).as_str(), "–" | "-" | "—" | "|" | ":" | "·" | "/")
        })
    }) {
        let after = joined_text_from(el, k + 1);
        if after.split_whitespace().count() >= 2 {
            return after;
        }
    }
    let t = joined_text_from(el, 0);
    if t.is_empty() { text_of(el) } else { t }
}

/// The heading text of `el`'s children from the `skip`-th on (see [`heading_text`]).
fn joined_text_from(el: ElementRef<'_>, skip: usize) -> String {
    fn walk(el: ElementRef<'_>, skip: usize, out: &mut String, depth: usize) {
        if depth > 30 {
            return;
        }
        for child in el.children().skip(skip) {
            if let scraper::Node::Text(t) = child.value() {
                out.push_str(t);
                continue;
            }
            let Some(c) = ElementRef::wrap(child) else {
                continue;
            };
            let name = c.value().name();
            if is_heading_extra(&c) || matches!(name, "script" | "style") {
                out.push(' ');
                continue;
            }
            let block = matches!(
                name,
                "br" | "div" | "p" | "li" | "ul" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            );
            if block {
                out.push(' ');
            }
            walk(c, 0, out, depth + 1);
            if block {
                out.push(' ');
            }
        }
    }
    let mut s = String::new();
    walk(el, skip, &mut s, 0);
    super::title::collapse(&s)
}

/// `<h1>` headline texts ([`heading_text`]), those inside the article first.
pub(crate) fn h1s(doc: &Html) -> Vec<String> {
    let Some(s) = sel("h1") else {
        return Vec::new();
    };
    let all: Vec<ElementRef<'_>> = doc
        .select(&s)
        .take(20)
        .filter(|e| !is_site_heading(*e))
        .collect();
    let mut out: Vec<String> = all
        .iter()
        .filter(|e| in_article(**e) && !in_chrome(**e))
        .map(|e| heading_text(*e))
        .collect();
    out.extend(all.iter().map(|e| heading_text(*e)));
    out.retain(|t| !t.is_empty());
    out
}

/// Headline text ([`heading_text`]) of the first non-empty `<h1>` outside page chrome (nav,
/// footer, aside, sidebars, comments) that is not a label ending in `:` ("Sie sind hier:").
pub(crate) fn article_h1(doc: &Html) -> Option<String> {
    let s = sel("h1")?;
    doc.select(&s)
        .take(20)
        .filter(|e| !in_chrome(*e) && !is_site_heading(*e))
        .map(heading_text)
        .find(|t| !t.is_empty() && !t.ends_with(':'))
}

/// Is this heading the site's name rather than a headline: classed as the site title or logo
/// (`site-title`, `site-name`, `logo`, `branding`), or wholly a link to the home page (`rel=home`
/// or a link to the root path), as blog and CMS themes print it on every page?
fn is_site_heading(el: ElementRef<'_>) -> bool {
    let ci = class_id(&el);
    if ["site-title", "site-name", "sitename", "logo", "branding"]
        .iter()
        .any(|k| ci.contains(k))
    {
        return true;
    }
    let Some(a) = sel("a[href]").and_then(|s| el.select(&s).next()) else {
        return false;
    };
    let href = a.value().attr("href").unwrap_or("").trim();
    let home = a
        .value()
        .attr("rel")
        .is_some_and(|r| r.split_whitespace().any(|w| w.eq_ignore_ascii_case("home")))
        || matches!(href, "/" | "./")
        || url::Url::parse(href).is_ok_and(|u| u.path() == "/" && u.query().is_none());
    home && super::title::squash(&text_of(a)) == super::title::squash(&text_of(el))
}

/// A value from an element: `datetime`, `content` or `title` attribute, else its text.
fn value_of(el: ElementRef<'_>) -> String {
    let v = el.value();
    let attrs: &[&str] = if v.name() == "abbr" {
        &["datetime", "content", "title"]
    } else {
        &["datetime", "content"]
    };
    for a in attrs {
        if let Some(x) = v.attr(a).map(str::trim).filter(|x| !x.is_empty()) {
            return x.to_string();
        }
    }
    text_of(el)
}

/// Values of elements with `itemprop=NAME` that are not `<meta>` tags (those are in `Meta`).
pub(crate) fn itemprop(doc: &Html, name: &str) -> Vec<String> {
    let Some(s) = sel("[itemprop]") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| {
            e.value().name() != "meta"
                && e.value()
                    .attr("itemprop")
                    .is_some_and(|p| p.split_whitespace().any(|w| w.eq_ignore_ascii_case(name)))
        })
        .take(20)
        .filter_map(|e| {
            if name == "author" {
                // Prefer the nested itemprop=name.
                let n = sel("[itemprop~=name]").and_then(|ns| e.select(&ns).next());
                if let Some(n) = n {
                    return Some(value_of(n));
                }
            }
            let v = value_of(e);
            (!v.is_empty()).then_some(v)
        })
        .collect()
}

/// `<time>` values (datetime attribute or text), best first: `pubdate` or published classes,
/// then those inside the article, then the rest; chrome is skipped.
pub(crate) fn times(doc: &Html) -> Vec<String> {
    let Some(s) = sel("time") else {
        return Vec::new();
    };
    let mut scored: Vec<(u8, usize, String)> = Vec::new();
    for (i, e) in doc.select(&s).take(100).enumerate() {
        if in_chrome(e) {
            continue;
        }
        let v = value_of(e);
        if v.is_empty() {
            continue;
        }
        let ci = class_id(&e);
        let parent_ci = e
            .parent()
            .and_then(ElementRef::wrap)
            .map(|p| class_id(&p))
            .unwrap_or_default();
        let modified = ci.contains("updated") || ci.contains("modified");
        let rank = if e.value().attr("pubdate").is_some()
            || ci.contains("publish")
            || ci.contains("entry-date")
            || parent_ci.contains("publish")
        {
            0
        } else if modified {
            4
        } else if in_article(e) {
            1
        } else {
            2
        };
        scored.push((rank, i, v));
    }
    scored.sort_by_key(|(r, i, _)| (*r, *i));
    scored.into_iter().map(|(_, _, v)| v).collect()
}

/// `datetime` (else `content`, else text) values of every `<time>` element, in page order.
pub(crate) fn time_values(doc: &Html) -> Vec<String> {
    let Some(s) = sel("time") else {
        return Vec::new();
    };
    doc.select(&s)
        .take(100)
        .map(value_of)
        .filter(|v| !v.is_empty())
        .collect()
}

/// The calendar days the page shows outside its chrome (navigation, related articles,
/// sidebars, footers): dates in its visible text and in `<time>` elements.
pub(crate) fn visible_days(doc: &Html, texts: &TextNodes) -> Vec<chrono::NaiveDate> {
    let (nodes, _) = texts;
    let times = sel("time").map_or_else(Vec::new, |s| {
        doc.select(&s)
            .filter(|e| !in_chrome(*e))
            .take(100)
            .map(value_of)
            .collect::<Vec<_>>()
    });
    let mut out: Vec<chrono::NaiveDate> = nodes
        .iter()
        .filter(|(_, t, chrome)| {
            !chrome && t.chars().any(|c| c.is_ascii_digit()) && t.chars().count() <= 400
        })
        .filter_map(|(_, t, _)| super::dates::parse_date(t))
        .chain(times.iter().filter_map(|v| super::dates::parse_date(v)))
        .map(|d| d.date_naive())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An element whose class or id says it holds the date ("date", "datum", "published",
/// "posted-on", "meta", "byline" …): [`date_elements`]' answer, computed once per page.
pub(crate) struct DateElement {
    /// 0 date class in the article, 1 date class elsewhere, 2 byline or meta class in the
    /// article, 3 elsewhere.
    rank: u8,
    /// Its text (short ones only).
    pub(crate) text: String,
    /// The text just before it in its parent ("Updated " before `<time>`).
    lead: String,
}

/// The publication date the page displays with its article: the first date in a date,
/// byline or meta element inside the article (not chrome) that is not an update or copyright
/// notice.
pub(crate) fn display_date(
    elements: &[DateElement],
) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    elements
        .iter()
        .filter(|e| {
            let low = format!("{} {}", e.lead, e.text).to_lowercase();
            matches!(e.rank, 0 | 2) && !MOD_WORDS.iter().any(|w| low.contains(w))
        })
        .find_map(|e| super::dates::parse_date(&e.text))
}

/// The page's [`DateElement`]s outside chrome and not classed as updates, article ones first.
pub(crate) fn date_elements(doc: &Html) -> Vec<DateElement> {
    let Some(s) = sel("[class], [id]") else {
        return Vec::new();
    };
    let mut scored: Vec<(usize, DateElement)> = Vec::new();
    for (i, e) in doc.select(&s).take(5000).enumerate() {
        let ci = class_id(&e);
        let hit_strong = [
            "date",
            "datum",
            "publish",
            "publication",
            "posted",
            "pubdate",
            "time",
            "fecha",
            "stamp",
            "created",
            "erschienen",
        ]
        .iter()
        .any(|k| ci.contains(k));
        let hit_weak = [
            "meta",
            "byline",
            "info",
            "author",
            "dateline",
            "subline",
            "article-header",
        ]
        .iter()
        .any(|k| ci.contains(k));
        if !(hit_strong || hit_weak) || ci.contains("update") || ci.contains("modif") {
            continue;
        }
        if in_chrome(e) {
            continue;
        }
        let t = text_of(e);
        if t.is_empty() || t.chars().count() > 200 {
            continue;
        }
        let rank = match (hit_strong, in_article(e)) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        scored.push((
            i,
            DateElement {
                rank,
                text: t,
                lead: text_before(e),
            },
        ));
        if scored.len() > 200 {
            break;
        }
    }
    scored.sort_by_key(|(i, e)| (e.rank, *i));
    scored.into_iter().map(|(_, e)| e).collect()
}

/// The text just before `el` in its parent: its preceding text and inline siblings ("Updated "
/// before `<time>`), nearest last, up to the previous block element and about 40 characters.
fn text_before(el: ElementRef<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut len = 0;
    for sib in el.prev_siblings() {
        let t = match sib.value() {
            scraper::Node::Text(t) => t.trim().to_string(),
            scraper::Node::Element(e)
                if matches!(
                    e.name(),
                    "span" | "b" | "strong" | "em" | "i" | "small" | "label" | "abbr"
                ) =>
            {
                ElementRef::wrap(sib).map(text_of).unwrap_or_default()
            }
            scraper::Node::Element(_) => break,
            _ => continue,
        };
        len += t.chars().count();
        parts.push(t);
        if len >= 40 {
            break;
        }
    }
    parts.reverse();
    parts.join(" ")
}

/// Texts of `rel=author` links (outside chrome).
pub(crate) fn rel_author(doc: &Html) -> Vec<String> {
    let Some(s) = sel("a[rel~=author], link[rel~=author][title]") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| !in_chrome(*e))
        .take(10)
        .map(|e| {
            let t = text_of(e);
            if t.is_empty() {
                e.value().attr("title").unwrap_or("").to_string()
            } else {
                t
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// The user name in a post's "submitted" line (Drupal: `.submitted .username`, "Submitted by
/// rasos on …"), outside chrome: a handle, not necessarily a capitalised name.
pub(crate) fn submitted_username(doc: &Html) -> Option<String> {
    let s = sel(".submitted .username, .submitted [rel~=author], .meta-submitted .username")?;
    doc.select(&s)
        .filter(|e| !in_chrome(*e))
        .map(text_of)
        .find(|t| {
            let n = t.chars().count();
            (2..=40).contains(&n)
                && !t.contains(char::is_whitespace)
                && t.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

/// Texts of links to author pages (`/author/`, `/autor/`, `/autoren/`), outside chrome, and
/// only inside the article or its header when `article_only`.
pub(crate) fn author_links(doc: &Html, article_only: bool) -> Vec<String> {
    let Some(s) = sel("a[href]") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| {
            e.value().attr("href").is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                [
                    "/author/",
                    "/autor/",
                    "/autoren/",
                    "/authors/",
                    "/auteur/",
                    "/profile/",
                ]
                .iter()
                .any(|k| h.contains(k))
            })
        })
        .filter(|e| !in_chrome(*e) && (!article_only || (in_article(*e) && !in_prose(*e))))
        .take(10)
        .map(|e| {
            // A schema.org name inside the link is the name; the rest is a photo credit.
            sel("[itemprop=name]")
                .and_then(|n| e.select(&n).map(text_of).find(|t| !t.is_empty()))
                .unwrap_or_else(|| text_of(e))
        })
        .filter(|t| !t.is_empty() && t.chars().count() < 80)
        .collect()
}

/// Is the element inside a paragraph of running text (its nearest block over 150
/// characters), as a link in an article's prose is, rather than in a byline?
fn in_prose(el: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| matches!(a.value().name(), "p" | "li" | "div" | "td" | "blockquote"))
        .is_some_and(|b| text_of(b).chars().count() > 150)
}

/// Texts of byline elements (class or id with author/byline/autor/verfasser), short ones,
/// article ones first. Nested name elements are preferred over whole bylines.
pub(crate) fn bylines(doc: &Html) -> Vec<String> {
    let Some(s) = sel("[class], [id]") else {
        return Vec::new();
    };
    let mut scored: Vec<(u8, usize, String)> = Vec::new();
    for (i, e) in doc.select(&s).take(5000).enumerate() {
        let ci = class_id(&e);
        let name_like = ci.contains("author-name")
            || ci.contains("authorname")
            || ci.contains("author_name")
            || ci.contains("byline__name")
            || ci.contains("byline-name");
        let hit = name_like
            || [
                "author",
                "byline",
                "autor",
                "verfasser",
                "writer",
                "creator",
            ]
            .iter()
            .any(|k| ci.contains(k));
        if !hit
            || ci.contains("avatar")
            || ci.contains("bio")
            || ci.contains("image")
            || ci.contains("img")
            || ci.contains("photo")
            || ci.contains("description")
            || matches!(
                e.value().name(),
                "img" | "script" | "style" | "body" | "html"
            )
        {
            continue;
        }
        if in_chrome(e) {
            continue;
        }
        let t = text_of(e);
        if t.is_empty() || t.chars().count() > 120 {
            continue;
        }
        let rank = match (name_like, in_article(e)) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        scored.push((rank, i, t));
        if scored.len() > 100 {
            break;
        }
    }
    scored.sort_by_key(|(r, i, _)| (*r, *i));
    scored.into_iter().map(|(_, _, v)| v).collect()
}

/// Value of the first element matching a user selector (datetime/content attribute or text).
pub(crate) fn select_value(doc: &Html, selector: &str) -> Option<String> {
    let s = sel(selector)?;
    doc.select(&s).map(value_of).find(|v| !v.is_empty())
}

/// Texts of all elements matching a user selector.
pub(crate) fn select_texts(doc: &Html, selector: &str) -> Vec<String> {
    let Some(s) = sel(selector) else {
        return Vec::new();
    };
    doc.select(&s)
        .take(20)
        .map(value_of)
        .filter(|v| !v.is_empty())
        .collect()
}

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

/// Publication lead-ins near a date in running text.
const PUB_WORDS: &[&str] = &[
    "veröffentlicht",
    "erschienen",
    "erstellt",
    "publiziert",
    "published",
    "posted",
    "publié",
    "publicado",
    "pubblicato",
    "gepubliceerd",
    "datum",
    "date:",
    "stand:",
];

/// Modification lead-ins: dates after them are not the publication date.
const MOD_WORDS: &[&str] = &[
    "aktualisiert",
    "geändert",
    "änderung",
    "updated",
    "modified",
    "mis à jour",
    "actualizado",
    "aggiornato",
    "bijgewerkt",
    "copyright",
    "©",
];

/// Words that label the date after them as the page's publication date (not a book's or a
/// product's: "Erscheinungsdatum", "publication date" are left out). Stricter than
/// [`PUB_WORDS`], which only raise a date's score in [`text_date`].
const PUBLISHED_LEADS: &[&str] = &[
    "erschienen am",
    "veröffentlicht am",
    "publiziert am",
    "published on",
    "publié le",
    "publicado el",
    "pubblicato il",
    "gepubliceerd op",
];

/// The first date the page labels in words as a publication date ("Erschienen am:
/// 01.11.2023", or "Published on" with the date in the next text), read outside page chrome
/// when `chrome` is false and only inside it when `chrome` is true (a page footer's
/// "Erschienen am" names the page's own day; a sidebar's names another article's).
pub(crate) fn labelled_publication_date(
    texts: &TextNodes,
    chrome: bool,
) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let (nodes, _) = texts;
    for (i, (_, text, in_chrome)) in nodes.iter().enumerate() {
        if *in_chrome != chrome || text.chars().count() > 200 {
            continue;
        }
        let low = text.to_lowercase();
        let Some(end) = PUBLISHED_LEADS
            .iter()
            .find_map(|l| low.find(l).map(|k| k + l.len()))
        else {
            continue;
        };
        let same = (low.len() == text.len())
            .then(|| text.get(end..))
            .flatten()
            .map(|r| r.trim_start_matches(|c: char| c == ':' || c.is_whitespace()))
            .filter(|r| {
                r.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c.is_alphabetic())
            })
            .and_then(super::dates::parse_date);
        let date = same.or_else(|| {
            nodes
                .get(i + 1)
                .filter(|n| n.1.chars().count() <= 60)
                .and_then(|n| super::dates::parse_date(&n.1))
        });
        if date.is_some() {
            return date;
        }
    }
    None
}

/// Visible text nodes of a page, as (character position, collapsed text, in chrome), and
/// the character position of the first `<h1>`: [`text_nodes`]' answer, computed once per
/// page and shared by every rule that reads the page's text.
pub(crate) type TextNodes = (Vec<(usize, String, bool)>, Option<usize>);

/// The page's [`TextNodes`] (one walk of the whole tree).
pub(crate) fn text_nodes(doc: &Html) -> TextNodes {
    use scraper::Node;
    let root = doc.root_element();
    let mut h1_at: Option<usize> = None;
    let mut nodes: Vec<(usize, String, bool)> = Vec::new();
    let mut pos = 0usize;
    for n in root.descendants().take(200_000) {
        match n.value() {
            Node::Element(e) if e.name() == "h1" && h1_at.is_none() => {
                h1_at = Some(pos);
            }
            Node::Text(t) => {
                let parent = n.parent().and_then(ElementRef::wrap);
                let skip = parent.is_some_and(|p| {
                    matches!(
                        p.value().name(),
                        "script" | "style" | "noscript" | "template" | "title" | "option"
                    )
                });
                if skip {
                    continue;
                }
                let text = super::title::collapse(t);
                if text.is_empty() {
                    continue;
                }
                let chrome = parent.is_some_and(in_chrome);
                pos += text.chars().count() + 1;
                nodes.push((pos, text, chrome));
                if nodes.len() > 20_000 {
                    break;
                }
            }
            _ => {}
        }
    }
    (nodes, h1_at)
}

/// Byline lead-ins that start a text node ("By Ann Lee", "Von Max Muster", "Autor: …").
const BYLINE_LEADS: &[&str] = &[
    "by ",
    "von ",
    "par ",
    "por ",
    "door ",
    "di ",
    "text von ",
    "text: ",
    "autor: ",
    "autorin: ",
    "author: ",
    "auteur: ",
    "auteure: ",
    "redaktion: ",
    "written by ",
    "posted by ",
    "published by ",
    "geschrieben von ",
    "verfasst von ",
    "ein beitrag von ",
    "| by",
    "by",
    "von",
    "von:",
    "par",
    "por",
    "autor:",
    "author:",
    "text:",
];

/// Finds a byline in running text near the headline (anywhere when the page has no `<h1>`):
/// a text node that starts with a lead-in ("By", "Von", "Par", "Autor:", "Auteur :" …; leading
/// dashes and bars skipped) followed by a name, or a lead-in alone (with or without a colon:
/// "Written by:") followed by a node holding the name, or "… by Name" at the end of a short
/// node after a date or a verb ("Posted on 3 May 2021 by Ann Lee", not "Learning by Ear"), or
/// a name closing a short dateline ("04.02.2022 | 13:10 Uhr | Uta Helk").
/// Candidates that only name the site (`sites`) are skipped; the nearest wins, and one more
/// than 4000 characters below the headline (which must start with a capital: a line of its
/// own, not a phrase of prose) only when none is nearer. Returns the raw byline.
pub(crate) fn text_byline(texts: &TextNodes, sites: &[String]) -> Option<String> {
    let (nodes, h1_at) = (&texts.0, texts.1);
    let h = h1_at.unwrap_or(0);
    let mut best: Option<(usize, String)> = None;
    for (i, (p, text, chrome)) in nodes.iter().enumerate() {
        if *chrome || text.chars().count() > 150 {
            continue;
        }
        // Far from the headline only below it (the end of a long article), ranked after
        // every near candidate.
        let dist = if *p >= h { *p - h } else { (h - *p) * 3 };
        if dist > 4000 && h1_at.is_some() && *p < h {
            continue;
        }
        let text = text
            .trim_start_matches(|c: char| c.is_whitespace() || "-–—|•·/,".contains(c))
            .replace(" : ", ": ");
        let low = text.to_lowercase();
        let far = dist > 4000 && h1_at.is_some();
        if far && !text.starts_with(char::is_uppercase) {
            continue;
        }
        let bare = low.trim_end_matches(':').trim_end();
        let mut cand: Option<String> = None;
        for lead in BYLINE_LEADS {
            if low == *lead || bare == lead.trim().trim_end_matches(':') {
                // The name is in the next node.
                if let Some(next) = nodes.get(i + 1) {
                    cand = Some(next.1.clone());
                }
                break;
            }
            if lead.ends_with(' ') && low.starts_with(lead) {
                cand = Some(text.clone());
                break;
            }
        }
        // "(last edited 2019-11-10 by" + a link holding the name.
        if cand.is_none()
            && let Some(before) = low.strip_suffix(" by")
            && low.chars().count() < 100
            && before.chars().any(|c| c.is_ascii_digit())
            && let Some(next) = nodes.get(i + 1)
        {
            cand = Some(next.1.clone());
        }
        if cand.is_none()
            && let Some(k) = low.rfind(" by ")
            && low.chars().count() < 100
            && low.get(..k).is_some_and(|before| {
                before.chars().any(|c| c.is_ascii_digit())
                    || [
                        "posted",
                        "written",
                        "published",
                        "reported",
                        "story",
                        "words",
                    ]
                    .iter()
                    .any(|w| before.contains(w))
            })
        {
            cand = text.get(k + 1..).map(str::to_string);
        }
        if cand.is_none() {
            cand = name_after_date(&text);
        }
        let Some(c) = cand else { continue };
        let names = super::authors::clean_authors(&[&c], sites);
        if names.is_empty() || !names.iter().all(|n| super::authors::looks_like_name(n)) {
            continue;
        }
        if best.as_ref().is_none_or(|(d, _)| dist < *d) {
            best = Some((dist, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The name closing a short dateline: "04.02.2022 | 13:10 Uhr | Uta Helk", "25.10.2022 -
/// Rein Nagl". The part after the last separator must be a name of two to four words and the
/// text before it a date and time only (not "02.11.2022 - Band - Venue").
fn name_after_date(text: &str) -> Option<String> {
    if text.chars().count() > 80 {
        return None;
    }
    let (before, name) = [" | ", " - ", " – ", " — ", " · ", " • "]
        .iter()
        .filter_map(|sep| text.rfind(sep).map(|i| (i, sep.len())))
        .max_by_key(|(i, _)| *i)
        .and_then(|(i, len)| Some((text.get(..i)?, text.get(i + len..)?.trim())))?;
    let words = name.split_whitespace().count();
    let is_name = (2..=4).contains(&words)
        && super::authors::looks_like_name(name)
        && !name.chars().any(|c| c.is_ascii_digit())
        && !name
            .split_whitespace()
            .any(|w| w.starts_with(['-', '–']) || w.ends_with(['-', '–']));
    let only_date = before.split_whitespace().all(|w| {
        let w = w.to_lowercase();
        let w = w.trim_matches(|c: char| ",.|-–—·•".contains(c));
        w.is_empty()
            || w.chars().any(|c| c.is_ascii_digit())
            || super::dates::is_month_word(w)
            || ["uhr", "am", "um", "at", "on", "h"].contains(&w)
    });
    (is_name && only_date && super::dates::parse_date(before).is_some()).then(|| name.to_string())
}

/// Scans the page's visible text for dates and returns the most likely publication date:
/// dates after a publication lead-in ("Veröffentlicht am", "Published") or close to the
/// headline score higher; dates after "updated" / "Aktualisiert", in chrome or comments lower.
/// In a paragraph of more than 400 characters only a date in its first 40 counts.
pub(crate) fn text_date(texts: &TextNodes) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let (nodes, h1_at) = (&texts.0, texts.1);
    let mut best: Option<(i32, usize, chrono::DateTime<chrono::FixedOffset>)> = None;
    for (i, (p, text, chrome)) in nodes.iter().enumerate() {
        if !text.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        // In a long paragraph only a dateline opening it counts ("(21. November 2022) …").
        let text = if text.chars().count() > 400 {
            super::dates::truncate_chars(text, 40)
        } else {
            text.as_str()
        };
        let Some(dt) = super::dates::parse_date(text) else {
            continue;
        };
        let prev = if i > 0 {
            nodes.get(i - 1).map(|n| n.1.as_str()).unwrap_or("")
        } else {
            ""
        };
        let context = format!("{} {}", super::dates::truncate_chars(prev, 80), text).to_lowercase();
        let mut score = 0i32;
        if PUB_WORDS.iter().any(|w| context.contains(w)) {
            score += 3;
        }
        if MOD_WORDS.iter().any(|w| context.contains(w)) {
            score -= 4;
        }
        if *chrome {
            score -= 2;
        }
        if let Some(h) = h1_at {
            if *p > h && *p - h < 2500 {
                score += 2;
            } else if *p <= h && h - *p < 600 {
                score += 1;
            }
        }
        // Short texts that are mostly the date are better than dates inside prose.
        if text.chars().count() < 60 {
            score += 1;
        }
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, i, dt));
        }
    }
    best.map(|(_, _, d)| d)
}
