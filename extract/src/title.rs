//! Title selection and site-name suffix removal.
//!
//! `<title>` and `og:title` often read "Headline | Site" or "Site – Headline". The raw title is
//! split on ` | `, ` - `, ` – `, ` — `, ` :: `, ` · `, ` » `, ` // `; a part at either end that
//! equals or contains the site name or the host (or WordPress' "Blog Archive") is dropped, then
//! clearly shorter last parts (a brand, a section: "Headline | iPhone | Forum") while the first
//! part is the longest. The final title is the one the page agrees on: an `<h1>` that matches a
//! candidate wins (not through a part of the raw title that cleaning dropped; a heading that is
//! the site's own title or a link home is never one), then the first headline-sized `<h1>`
//! outside page chrome (2+ words, 12..=250 characters, not the site name), then the JSON-LD
//! headline, `og:title` (unless an unescaped quote cut it short of the `<title>`), the cleaned
//! `<title>` (candidates that only name the site are skipped), and the first `<h1>`.
//!
//! [`choose`] is the cascade over a parsed page: the user selector's text, else [`pick`] among
//! the page's candidates.
//!
//! Guarantees: never panics; returns trimmed, whitespace-collapsed, non-empty text without soft
//! hyphens or zero-width characters, or `None`.

use crate::dom::headings;
use crate::entities::clean_text;
use crate::meta;
use crate::page::Page;

const SEPARATORS: &[&str] = &[
    " | ", " - ", " – ", " — ", " :: ", " · ", " » ", " // ", " « ", " ~ ",
];

/// Lower-case letters and digits only, for loose comparisons.
pub(crate) fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Collapses runs of white space into one space and trims; soft hyphens and zero-width
/// characters (invisible hyphenation and joining hints) are removed.
pub(crate) fn collapse(s: &str) -> String {
    let visible: String = s
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
            )
        })
        .collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a title on the first separator kind present; `None` when none is present.
fn split_parts(t: &str) -> Option<(&'static str, Vec<String>)> {
    SEPARATORS.iter().find_map(|sep| {
        t.contains(sep)
            .then(|| (*sep, t.split(sep).map(|p| p.trim().to_string()).collect()))
    })
}

/// Title parts that name a page type rather than the page: WordPress' "Blog Archive" between
/// the blog's name and the post's ("Blog » Blog Archive » Post").
const PAGE_TYPE_PARTS: &[&str] = &["blogarchive", "blogarchiv"];

fn names_site(part: &str, sites: &[String]) -> bool {
    let p = squash(part);
    if p.is_empty() || PAGE_TYPE_PARTS.contains(&p.as_str()) {
        return true;
    }
    sites.iter().any(|s| {
        let s = squash(s);
        !s.is_empty()
            && s.len() >= 3
            && (p == s || p.contains(&s) || (s.contains(&p) && p.len() >= 4))
    })
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Removes a site-name prefix or suffix from `raw`. `sites` holds the site name(s) and the
/// host's name part ("spiegel" for www.spiegel.de).
pub(crate) fn strip_site(raw: &str, sites: &[String]) -> String {
    let t = collapse(raw);
    let Some((sep, mut parts)) = split_parts(&t) else {
        return t;
    };
    // Drop site-naming parts from both ends.
    while parts.len() > 1 && parts.last().is_some_and(|p| names_site(p, sites)) {
        parts.pop();
    }
    while parts.len() > 1 && parts.first().is_some_and(|p| names_site(p, sites)) {
        parts.remove(0);
    }
    if parts.len() >= 2 {
        // Short trailing brand or section parts go ("Headline | iPhone | Forum").
        let longest = parts.iter().map(|p| p.chars().count()).max().unwrap_or(0);
        let first_len = parts.first().map_or(0, |p| p.chars().count());
        while parts.len() >= 2 && first_len == longest {
            let last = parts.last().map(|s| s.as_str()).unwrap_or("");
            if words(last) <= 3 && last.chars().count() * 2 < longest {
                parts.pop();
            } else {
                break;
            }
        }
    }
    // "Section | Headline": a short leading section name goes, also once the site is gone.
    if parts.len() == 2 {
        let first = parts.first().map(|s| s.as_str()).unwrap_or("");
        let last = parts.last().map(|s| s.as_str()).unwrap_or("");
        if words(first) <= 2 && first.chars().count() * 3 < last.chars().count() {
            parts.remove(0);
        }
    }
    let out = parts.join(sep);
    let out = out
        .trim_matches(|c: char| c.is_whitespace() || "|/-–—:·»«~".contains(c))
        .to_string();
    if out.trim().is_empty() { t } else { out }
}

/// The page's title: the user selector's text, else the pick among the page's candidates
/// ([`pick_with_rule`]): JSON-LD headline, meta title, `<title>` and `<h1>` headlines; with
/// the name of the rule that decided.
pub(crate) fn choose_with_rule(page: &Page<'_>) -> Option<(String, &'static str)> {
    page.selected(page.selectors.title.as_deref())
        .and_then(|t| clean_text(&t))
        .map(|t| (t, "selector"))
        .or_else(|| pick_with_rule(&Candidates::of(page), &page.sites))
}

impl Candidates {
    /// The page's candidate titles, each entity-decoded and whitespace-collapsed.
    fn of(page: &Page<'_>) -> Self {
        Candidates {
            jsonld: page.ld.headline.as_deref().and_then(clean_text),
            meta: page.meta.get(meta::TITLE_KEYS).and_then(clean_text),
            title_tag: headings::title_tag(&page.doc).and_then(|t| clean_text(&t)),
            h1: headings::h1s(&page.doc),
            article_h1: headings::article_h1(&page.doc),
        }
    }
}

/// Candidate titles of a page, all optional.
#[derive(Debug, Default, Clone)]
pub(crate) struct Candidates {
    /// JSON-LD headline.
    pub(crate) jsonld: Option<String>,
    /// `og:title` (or another meta title).
    pub(crate) meta: Option<String>,
    /// `<title>` text.
    pub(crate) title_tag: Option<String>,
    /// `<h1>` texts, best first.
    pub(crate) h1: Vec<String>,
    /// The first non-empty `<h1>` outside page chrome, if any.
    pub(crate) article_h1: Option<String>,
}

/// Picks the page's title from its candidates; `sites` as for [`strip_site`].
#[cfg(test)]
pub(crate) fn pick(c: &Candidates, sites: &[String]) -> Option<String> {
    pick_with_rule(c, sites).map(|(t, _)| t)
}

/// [`pick`] with the name of the rule that decided.
fn pick_with_rule(c: &Candidates, sites: &[String]) -> Option<(String, &'static str)> {
    let clean = |o: &Option<String>| {
        o.as_deref()
            .map(|s| strip_site(s, sites))
            .filter(|s| !s.is_empty())
    };
    let jsonld = clean(&c.jsonld);
    let meta = match (&c.meta, &c.title_tag) {
        (Some(m), Some(t)) if cut_at_quote(m, t) => clean(&c.title_tag),
        _ => clean(&c.meta),
    };
    let tag = clean(&c.title_tag);
    let raw_tag = c.title_tag.as_deref().map(squash).unwrap_or_default();
    let raw_meta = c.meta.as_deref().map(squash).unwrap_or_default();
    let h1s: Vec<String> =
        c.h1.iter()
            .map(|h| collapse(h))
            .filter(|h| !h.is_empty() && h.chars().count() < 300)
            .collect();

    // An <h1> that matches another candidate is the visible headline.
    for h in &h1s {
        let hs = squash(h);
        if hs.len() < 4 {
            continue;
        }
        let within = |raw: &str, squashed: &str, cleaned: &Option<String>| {
            squashed.contains(&hs)
                && hs.len() * 3 >= squashed.len()
                && !is_dropped_part(&hs, raw, cleaned.as_deref())
        };
        let agrees = [&jsonld, &meta, &tag]
            .iter()
            .any(|o| o.as_deref().is_some_and(|t| squash(t) == hs))
            || within(c.title_tag.as_deref().unwrap_or(""), &raw_tag, &tag)
            || within(c.meta.as_deref().unwrap_or(""), &raw_meta, &meta);
        if agrees {
            return Some((h.clone(), "h1_agrees"));
        }
    }
    // A headline-sized <h1> outside page chrome is what readers see as the title.
    if let Some(h) = c.article_h1.as_deref().map(collapse) {
        let n = h.chars().count();
        if (12..=250).contains(&n) && h.split_whitespace().count() >= 2 && !names_site(&h, sites) {
            return Some((without_kicker(&h, &[&jsonld, &meta, &tag]), "article_h1"));
        }
    }
    // Candidates that merely name the site are no headline.
    let not_site =
        |o: Option<String>| o.filter(|t| !names_site(t, sites) || t.split_whitespace().count() > 6);
    let named = |o: Option<String>, rule: &'static str| o.map(|t| (t, rule));
    named(not_site(jsonld), "jsonld_headline")
        .or_else(|| named(not_site(meta), "meta_title"))
        .or_else(|| named(not_site(tag.clone()), "title_tag"))
        .or_else(|| named(h1s.first().cloned(), "first_h1"))
        .or_else(|| named(tag, "title_tag_site_name"))
}

/// Is `squashed` (a [`squash`]ed heading) a part of the raw title `raw` that cleaning removed
/// ("Headline | Site" cleaned to "Headline": "Site")? A site-title `<h1>` is such a part and
/// agrees with the raw title only by naming the site.
fn is_dropped_part(squashed: &str, raw: &str, cleaned: Option<&str>) -> bool {
    let kept = cleaned.map(squash).unwrap_or_default();
    split_parts(&collapse(raw)).is_some_and(|(_, parts)| {
        parts
            .iter()
            .any(|p| squash(p) == squashed && !kept.contains(squashed))
    })
}

/// Is the meta title `meta` the `<title>` text `tag` cut short by a `"` the page left
/// unescaped in the attribute (`content="Biden de "incapacitado""` ends the value at `de `)?
fn cut_at_quote(meta: &str, tag: &str) -> bool {
    let (meta, tag) = (collapse(meta), collapse(tag));
    !meta.is_empty()
        && tag
            .strip_prefix(meta.as_str())
            .is_some_and(|rest| rest.trim_start().starts_with('"'))
}

/// `h1` without a kicker run into it ("Nach Lockerungen Autohäuser rechnen …"): when another
/// candidate of 3+ words is exactly its end and at most 5 words precede, those words go (the
/// shortest such end wins). A kicker the page punctuates as part of the headline (ending in
/// `:`) stays.
fn without_kicker(h1: &str, others: &[&Option<String>]) -> String {
    let hw: Vec<&str> = h1.split_whitespace().collect();
    let hs = squash(h1);
    let mut best: Option<usize> = None;
    for other in others.iter().filter_map(|o| o.as_deref()) {
        let n = words(other);
        let os = squash(other);
        if n < 3 || n >= hw.len() || hw.len() - n > 5 || os.len() < 12 || !hs.ends_with(&os) {
            continue;
        }
        let start = hw.len() - n;
        let colon = hw.get(start - 1).is_some_and(|w| w.ends_with(':'));
        let exact = hw
            .get(start..)
            .is_some_and(|tail| squash(&tail.join(" ")) == os);
        if exact && !colon && best.is_none_or(|b| start > b) {
            best = Some(start);
        }
    }
    match best.and_then(|start| hw.get(start..)) {
        Some(tail) => tail.join(" "),
        None => h1.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Vec<String> {
        vec!["Daily Paper".into(), "dailypaper".into()]
    }

    #[test]
    fn strips_suffix_and_prefix() {
        assert_eq!(strip_site("Big News | Daily Paper", &sites()), "Big News");
        assert_eq!(strip_site("Daily Paper – Big News", &sites()), "Big News");
        assert_eq!(
            strip_site("Big News - dailypaper.com", &sites()),
            "Big News"
        );
        assert_eq!(strip_site("Plain title", &sites()), "Plain title");
    }

    #[test]
    fn wordpress_blog_archive_part_goes_with_the_site() {
        assert_eq!(
            strip_site(
                "Disfunctions.de » Blog Archiv » Podcasts in Plex einbinden",
                &["disfunctions".into()]
            ),
            "Podcasts in Plex einbinden"
        );
        assert_eq!(
            strip_site("Daily Paper » Blog Archive » Big News", &sites()),
            "Big News"
        );
    }

    #[test]
    fn strips_trailing_section_parts_after_the_headline() {
        assert_eq!(
            strip_site(
                "No App Store over mobile data with iOS 13? | iPhone | Forum",
                &[]
            ),
            "No App Store over mobile data with iOS 13?"
        );
    }

    #[test]
    fn soft_hyphens_and_zero_width_characters_are_removed() {
        assert_eq!(
            collapse("Er\u{ad}in\u{ad}ne\u{ad}rung an\u{200b} die  Opfer"),
            "Erinnerung an die Opfer"
        );
    }

    #[test]
    fn strips_unknown_short_brand() {
        assert_eq!(
            strip_site("A long headline about things :: Brand", &[]),
            "A long headline about things"
        );
    }

    #[test]
    fn h1_agreement_wins() {
        let c = Candidates {
            jsonld: None,
            meta: Some("Big News today".into()),
            title_tag: Some("Big News today | Daily Paper".into()),
            h1: vec!["Menu".into(), "Big News today".into()],
            article_h1: None,
        };
        assert_eq!(pick(&c, &sites()).as_deref(), Some("Big News today"));
    }

    #[test]
    fn a_meta_title_cut_at_an_unescaped_quote_yields_to_the_title_tag() {
        let c = Candidates {
            meta: Some("Senador califica a Biden de ".into()),
            title_tag: Some("Senador califica a Biden de \"incapacitado\"".into()),
            ..Default::default()
        };
        assert_eq!(
            pick(&c, &sites()).as_deref(),
            Some("Senador califica a Biden de \"incapacitado\"")
        );
        // A meta title that is simply shorter than the <title> stays.
        let c = Candidates {
            meta: Some("Big News".into()),
            title_tag: Some("Big News today, and more".into()),
            ..Default::default()
        };
        assert_eq!(pick(&c, &sites()).as_deref(), Some("Big News"));
    }

    #[test]
    fn falls_back_in_order() {
        let c = Candidates {
            title_tag: Some("Only Title | Daily Paper".into()),
            ..Default::default()
        };
        assert_eq!(pick(&c, &sites()).as_deref(), Some("Only Title"));
        assert_eq!(pick(&Candidates::default(), &sites()), None);
    }
}
