//! Date finders: `<time>` elements, elements classed as dates, bylines or meta lines, the days
//! the page shows, and dates in running text (labelled as the publication date, or scored by
//! their lead-in and distance from the headline).

use scraper::{ElementRef, Html};

use super::text::TextNodes;
use super::{class_id, in_article, in_chrome, sel, text_of, value_of};

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
        .filter_map(|(_, t, _)| crate::dates::parse_date(t))
        .chain(times.iter().filter_map(|v| crate::dates::parse_date(v)))
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
        .find_map(|e| crate::dates::parse_date(&e.text))
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
            .and_then(crate::dates::parse_date);
        let date = same.or_else(|| {
            nodes
                .get(i + 1)
                .filter(|n| n.1.chars().count() <= 60)
                .and_then(|n| crate::dates::parse_date(&n.1))
        });
        if date.is_some() {
            return date;
        }
    }
    None
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
            crate::dates::truncate_chars(text, 40)
        } else {
            text.as_str()
        };
        let Some(dt) = crate::dates::parse_date(text) else {
            continue;
        };
        let prev = if i > 0 {
            nodes.get(i - 1).map(|n| n.1.as_str()).unwrap_or("")
        } else {
            ""
        };
        let context = format!("{} {}", crate::dates::truncate_chars(prev, 80), text).to_lowercase();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::text::text_nodes;
    use chrono::NaiveDate;

    fn doc(html: &str) -> Html {
        Html::parse_document(html)
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn times_rank_pubdate_then_article_then_rest_then_updates() {
        let d = doc(
            r#"<time datetime="2020-01-01">a</time><article><time datetime="2021-02-02">b</time>
            <time class="updated" datetime="2022-03-03">c</time></article>
            <nav><time datetime="2018-08-08">n</time></nav><time pubdate datetime="2019-09-09">d</time>"#,
        );
        assert_eq!(
            times(&d),
            vec!["2019-09-09", "2021-02-02", "2020-01-01", "2022-03-03"]
        );
    }

    #[test]
    fn time_values_are_every_time_in_page_order() {
        let d = doc(
            r#"<nav><time datetime="2020-01-01"></time></nav><time>3 May 2021</time><time></time>"#,
        );
        assert_eq!(time_values(&d), vec!["2020-01-01", "3 May 2021"]);
    }

    #[test]
    fn visible_days_leave_out_chrome() {
        let d = doc(r#"<p>3 May 2021</p><nav><p>1 January 2020</p></nav>
            <time datetime="2021-05-04"></time><footer><time datetime="2019-01-01"></time></footer>"#);
        let texts = text_nodes(&d);
        assert_eq!(
            visible_days(&d, &texts),
            vec![ymd(2021, 5, 3), ymd(2021, 5, 4)]
        );
    }

    #[test]
    fn date_elements_article_first_updates_and_chrome_left_out() {
        let d = doc(
            r#"<span class="date">1 January 2020</span><span class="date-updated">2 January 2020</span>
            <div class="sidebar"><span class="date">9 September 2019</span></div>
            <article><span class="date">3 May 2021</span></article>"#,
        );
        let texts: Vec<String> = date_elements(&d).into_iter().map(|e| e.text).collect();
        assert_eq!(texts, vec!["3 May 2021", "1 January 2020"]);
    }

    #[test]
    fn display_date_skips_updates_and_dates_outside_the_article() {
        let d = doc(
            r#"<article><p>Updated <span class="date">5 May 2021</span></p>
            <span class="date">3 May 2021</span></article>"#,
        );
        let shown = display_date(&date_elements(&d)).map(|d| d.date_naive());
        assert_eq!(shown, Some(ymd(2021, 5, 3)));
        let d = doc(r#"<span class="date">1 January 2020</span>"#);
        assert_eq!(display_date(&date_elements(&d)), None);
    }

    #[test]
    fn labelled_publication_dates_in_text_or_the_next_node() {
        let day = |html: &str, chrome: bool| {
            labelled_publication_date(&text_nodes(&doc(html)), chrome).map(|d| d.date_naive())
        };
        assert_eq!(
            day("<p>Erschienen am: 01.11.2023</p>", false),
            Some(ymd(2023, 11, 1))
        );
        assert_eq!(
            day("<p><b>Published on</b> <span>3 May 2021</span></p>", false),
            Some(ymd(2021, 5, 3))
        );
        let footer = "<footer><p>Erschienen am 01.11.2023</p></footer>";
        assert_eq!(day(footer, false), None);
        assert_eq!(day(footer, true), Some(ymd(2023, 11, 1)));
        assert_eq!(day("<p>Erscheinungsdatum 01.11.2023</p>", false), None);
    }

    #[test]
    fn text_date_prefers_publication_lead_ins_over_updates() {
        let d = doc(
            "<h1>Headline</h1><p>Aktualisiert am 5. Mai 2021</p><p>Veröffentlicht am 3. Mai 2021</p>",
        );
        let day = text_date(&text_nodes(&d)).map(|d| d.date_naive());
        assert_eq!(day, Some(ymd(2021, 5, 3)));
        assert_eq!(text_date(&text_nodes(&doc("<p>No date here</p>"))), None);
    }
}
