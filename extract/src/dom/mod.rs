//! Finders over a parsed page's DOM, grouped by what they find: [`headings`] (the `<title>`
//! and `<h1>` headlines), [`bylines`] (author names in links, byline elements and running
//! text), [`dates`] (`<time>` elements, date elements and dates in running text), [`text`]
//! (the page's visible text nodes), [`links`] (base, canonical and feed links) and [`values`]
//! (microdata, user selectors and JSON-LD scripts). This module holds what they share: where an
//! element sits (page chrome or the article) and how its text or value is read.
//!
//! Elements inside `<nav>`, `<footer>`, `<aside>`, forms and comment sections are skipped for
//! authors and dates; elements inside `<article>`, `<header>`, `<main>` or post/entry containers
//! are preferred. Guarantees: never panics (an invalid user selector simply matches nothing);
//! every returned string is whitespace-collapsed and non-empty.

pub(crate) mod bylines;
pub(crate) mod dates;
pub(crate) mod headings;
pub(crate) mod links;
pub(crate) mod text;
pub(crate) mod values;

use scraper::{ElementRef, Selector};

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
    crate::title::collapse(&s)
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

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::Html;

    fn with_id<'a>(doc: &'a Html, id: &str) -> ElementRef<'a> {
        let s = sel(&format!("#{id}")).unwrap();
        doc.select(&s).next().unwrap()
    }

    #[test]
    fn chrome_is_navigation_footers_forms_and_outer_asides() {
        let doc = Html::parse_document(
            r#"<body><nav><a id="n">x</a></nav><footer><p id="f">x</p></footer>
            <form><span id="fo">x</span></form><aside><p id="a">x</p></aside>
            <article><aside><p id="ia">x</p></aside><p id="p">x</p></article></body>"#,
        );
        for id in ["n", "f", "fo", "a"] {
            assert!(in_chrome(with_id(&doc, id)), "{id}");
        }
        assert!(!in_chrome(with_id(&doc, "ia")));
        assert!(!in_chrome(with_id(&doc, "p")));
    }

    #[test]
    fn chrome_classes_but_not_layout_classes() {
        let doc = Html::parse_document(
            r#"<div class="sidebar"><p id="s">x</p></div><div class="comments"><p id="c">x</p></div>
            <div class="has-sidebar layoutTwoColumnsRightSidebar"><p id="l">x</p></div>"#,
        );
        assert!(in_chrome(with_id(&doc, "s")));
        assert!(in_chrome(with_id(&doc, "c")));
        assert!(!in_chrome(with_id(&doc, "l")));
    }

    #[test]
    fn article_is_article_header_main_or_post_classes() {
        let doc = Html::parse_document(
            r#"<header><p id="h">x</p></header><div class="post-content"><p id="pc">x</p></div>
            <div class="news-detail"><p id="nd">x</p></div><div><p id="o">x</p></div>"#,
        );
        assert!(in_article(with_id(&doc, "h")));
        assert!(in_article(with_id(&doc, "pc")));
        assert!(in_article(with_id(&doc, "nd")));
        assert!(!in_article(with_id(&doc, "o")));
    }

    #[test]
    fn values_prefer_datetime_and_content_then_text() {
        let doc = Html::parse_document(
            r#"<time id="t" datetime=" 2021-05-03 ">3 May</time><span id="c" content="X">Y</span>
            <abbr id="a" title="2020-01-02">Jan 2</abbr><span id="s" title="T">  Plain
            text </span><span id="e" datetime=" ">Fallback</span>"#,
        );
        assert_eq!(value_of(with_id(&doc, "t")), "2021-05-03");
        assert_eq!(value_of(with_id(&doc, "c")), "X");
        assert_eq!(value_of(with_id(&doc, "a")), "2020-01-02");
        assert_eq!(value_of(with_id(&doc, "s")), "Plain text");
        assert_eq!(value_of(with_id(&doc, "e")), "Fallback");
    }

    #[test]
    fn text_is_collapsed_and_invalid_selectors_are_none() {
        let doc = Html::parse_document("<p id=\"p\">  a <b>b</b>\n c </p>");
        assert_eq!(text_of(with_id(&doc, "p")), "a b c");
        assert!(sel("[[").is_none());
    }
}
