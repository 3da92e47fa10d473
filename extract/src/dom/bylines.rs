//! Byline finders: author names in `rel=author` links, links to author pages, a post's
//! "submitted" user name, elements classed as bylines, and bylines in running text near the
//! headline ("By …", "Von …", a name closing a dateline).

use scraper::{ElementRef, Html};

use super::text::TextNodes;
use super::{class_id, in_article, in_chrome, sel, text_of};

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
        let names = crate::authors::clean_authors(&[&c], sites);
        if names.is_empty() || !names.iter().all(|n| crate::authors::looks_like_name(n)) {
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
        && crate::authors::looks_like_name(name)
        && !name.chars().any(|c| c.is_ascii_digit())
        && !name
            .split_whitespace()
            .any(|w| w.starts_with(['-', '–']) || w.ends_with(['-', '–']));
    let only_date = before.split_whitespace().all(|w| {
        let w = w.to_lowercase();
        let w = w.trim_matches(|c: char| ",.|-–—·•".contains(c));
        w.is_empty()
            || w.chars().any(|c| c.is_ascii_digit())
            || crate::dates::is_month_word(w)
            || ["uhr", "am", "um", "at", "on", "h"].contains(&w)
    });
    (is_name && only_date && crate::dates::parse_date(before).is_some()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::text::text_nodes;

    fn doc(html: &str) -> Html {
        Html::parse_document(html)
    }

    fn byline_in_text(html: &str) -> Option<String> {
        text_byline(&text_nodes(&doc(html)), &[])
    }

    #[test]
    fn rel_author_links_outside_chrome_with_link_titles() {
        let d = doc(
            r#"<head><link rel="author" title="Bob Roe" href="/b"></head><body>
            <a rel="author" href="/a">Ann Lee</a><footer><a rel="author" href="/f">Foot Er</a></footer></body>"#,
        );
        assert_eq!(rel_author(&d), vec!["Bob Roe", "Ann Lee"]);
    }

    #[test]
    fn submitted_username_is_a_handle() {
        let d = doc(
            r#"<div class="submitted">Submitted by <span class="username">rasos</span> on 3 May</div>"#,
        );
        assert_eq!(submitted_username(&d).as_deref(), Some("rasos"));
        let d = doc(r#"<div class="submitted"><span class="username">Ann Lee</span></div>"#);
        assert_eq!(submitted_username(&d), None);
    }

    #[test]
    fn author_links_in_the_article_or_anywhere() {
        let d = doc(
            r#"<article><p>By <a href="/author/ann-lee">Ann Lee</a></p></article>
            <div><a href="/autor/bob"><img alt=""><span itemprop="name">Bob Roe</span> Foto: X</a></div>
            <nav><a href="/author/menu">Menu Item</a></nav>"#,
        );
        assert_eq!(author_links(&d, true), vec!["Ann Lee"]);
        assert_eq!(author_links(&d, false), vec!["Ann Lee", "Bob Roe"]);
    }

    #[test]
    fn author_links_in_prose_are_not_bylines() {
        let prose = "word ".repeat(40);
        let d = doc(&format!(
            r#"<article><p>{prose}<a href="/author/ann">Ann Lee</a></p></article>"#
        ));
        assert!(author_links(&d, true).is_empty());
        assert_eq!(author_links(&d, false), vec!["Ann Lee"]);
    }

    #[test]
    fn byline_elements_name_parts_and_article_first() {
        let d = doc(
            r#"<div class="byline">By Ann Lee</div><div class="author-avatar">Pic</div>
            <article><span class="author-name">Bob Roe</span></article>
            <div class="sidebar"><span class="author">Side Bar</span></div>"#,
        );
        assert_eq!(bylines(&d), vec!["Bob Roe", "By Ann Lee"]);
    }

    #[test]
    fn text_bylines_after_a_lead_in() {
        assert_eq!(
            byline_in_text("<h1>Headline</h1><p>By Ann Lee</p>").as_deref(),
            Some("By Ann Lee")
        );
        assert_eq!(
            byline_in_text("<h1>Headline</h1><p><span>Von</span> <a>Max Muster</a></p>").as_deref(),
            Some("Max Muster")
        );
        assert_eq!(
            byline_in_text("<h1>Headline</h1><p>Posted on 3 May 2021 by Ann Lee</p>").as_deref(),
            Some("by Ann Lee")
        );
        assert_eq!(
            byline_in_text("<h1>Headline</h1><p>Learning by Ear</p>"),
            None
        );
    }

    #[test]
    fn text_bylines_skip_chrome() {
        assert_eq!(
            byline_in_text("<h1>Headline</h1><footer><p>By Ann Lee</p></footer>"),
            None
        );
    }

    #[test]
    fn names_closing_a_dateline() {
        assert_eq!(
            name_after_date("04.02.2022 | 13:10 Uhr | Uta Helk").as_deref(),
            Some("Uta Helk")
        );
        assert_eq!(
            name_after_date("25.10.2022 - Rein Nagl").as_deref(),
            Some("Rein Nagl")
        );
        assert_eq!(name_after_date("02.11.2022 - Band - Venue"), None);
        assert_eq!(name_after_date("Headline - Ann Lee"), None);
    }
}
