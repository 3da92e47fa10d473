//! Headline finders: the `<title>` text and the `<h1>` headlines, read as a reader sees them
//! (without kickers, subtitles, screen-reader text or a heading that only names the site).

use scraper::{ElementRef, Html};

use super::{class_id, in_article, in_chrome, sel, text_of};

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
    crate::title::collapse(&s)
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
    home && crate::title::squash(&text_of(a)) == crate::title::squash(&text_of(el))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(html: &str) -> Html {
        Html::parse_document(html)
    }

    #[test]
    fn title_tag_is_the_first_outside_svg() {
        let d = doc(
            "<head><title> Page  title </title></head><body><svg><title>Icon</title></svg></body>",
        );
        assert_eq!(title_tag(&d).as_deref(), Some("Page title"));
        let d = doc("<body><svg><title>Icon</title></svg></body>");
        assert_eq!(title_tag(&d), None);
    }

    #[test]
    fn heading_text_drops_kickers_and_hidden_text() {
        let d = doc(
            r#"<h1><span class="kicker">Breaking</span> Rates rise <span class="sr-only">(video)</span>again</h1>"#,
        );
        assert_eq!(h1s(&d), vec!["Rates rise again"]);
    }

    #[test]
    fn heading_text_prefers_the_marked_headline_part() {
        let d = doc(
            r#"<h1><span class="topline">Kicker</span><span class="headline">The Headline</span></h1>"#,
        );
        assert_eq!(article_h1(&d).as_deref(), Some("The Headline"));
    }

    #[test]
    fn heading_text_after_a_hidden_separator() {
        let d = doc(r#"<h1>Kicker<span aria-hidden="true"> – </span>Real headline here</h1>"#);
        assert_eq!(article_h1(&d).as_deref(), Some("Real headline here"));
    }

    #[test]
    fn h1s_put_article_headings_first() {
        let d = doc("<body><h1>Section</h1><article><h1>Story</h1></article></body>");
        assert_eq!(h1s(&d), vec!["Story", "Section", "Story"]);
    }

    #[test]
    fn site_headings_are_no_headlines() {
        let d = doc(
            r#"<h1 class="site-title">Blog</h1><h1><a href="/" rel="home">My Blog</a></h1>
            <h1><a href="https://blog.example/">Blog Two</a></h1><h1>Post title</h1>"#,
        );
        assert_eq!(h1s(&d), vec!["Post title"]);
        assert_eq!(article_h1(&d).as_deref(), Some("Post title"));
    }

    #[test]
    fn article_h1_skips_chrome_and_labels() {
        let d = doc("<nav><h1>Menu</h1></nav><h1>Sie sind hier:</h1><h1>Echter Titel</h1>");
        assert_eq!(article_h1(&d).as_deref(), Some("Echter Titel"));
        assert_eq!(article_h1(&doc("<p>No heading</p>")), None);
    }
}
