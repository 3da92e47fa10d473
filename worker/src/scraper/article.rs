//! Article assembly: a candidate link, what the feed or sitemap said about it, and what the
//! page itself says become one [`NewArticle`].
//!
//! Guarantees: the page's extraction wins field by field and the hints fill what it lacks;
//! the title is non-empty (else no article); every text is whitespace-collapsed and
//! non-empty; summaries are at most [`MAX_SUMMARY_CHARS`] characters; dates are UTC; the URL is
//! normalised, and is the page's canonical URL only when that stays on the page's site.

use chrono::{DateTime, FixedOffset, Utc};
use mediawarm_shared::domain::{NewArticle, SourceName};
use serde::Serialize;
use url::Url;

use super::extract::{self, Extracted};
use super::urls::normalize_url;

/// Longest summary kept, in characters; feeds sometimes put a whole article there.
pub(crate) use mediawarm_shared::domain::MAX_SUMMARY_CHARS;

/// What a feed item or news sitemap entry says about an article.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hints {
    /// Headline.
    pub(crate) title: Option<String>,
    /// Author(s), joined with ", ".
    pub(crate) author: Option<String>,
    /// Publication date.
    pub(crate) published: Option<DateTime<Utc>>,
    /// When the item last changed (Atom `updated`, sitemap `lastmod`): a stored article is
    /// fetched again when this is newer than the stored copy.
    pub(crate) updated: Option<DateTime<Utc>>,
    /// Description.
    pub(crate) summary: Option<String>,
}

/// A link to an article page found on the start URL, with what was said about it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Normalised URL of the article page.
    pub(crate) url: Url,
    /// Fields from the feed or sitemap (empty for HTML listings).
    pub(crate) hints: Hints,
}

impl Candidate {
    /// A candidate without hints.
    pub(crate) fn bare(url: Url) -> Self {
        Self {
            url,
            hints: Hints::default(),
        }
    }
}

/// Whitespace collapsed and trimmed; `None` when nothing is left.
pub(crate) fn clean(text: &str) -> Option<String> {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!collapsed.is_empty()).then_some(collapsed)
}

fn clip(text: String) -> String {
    mediawarm_shared::domain::cut_chars(text, MAX_SUMMARY_CHARS)
}

/// The article for `candidate`, from the page's extraction (`page`: the URL it was served
/// from and what was extracted) and the candidate's hints; `None` without a title.
pub(crate) fn assemble(
    source: &SourceName,
    candidate: &Candidate,
    page: Option<(&Url, &Extracted)>,
) -> Option<NewArticle> {
    let extracted = page.map(|(_, x)| x);
    let hints = &candidate.hints;
    let title = extracted
        .and_then(|x| x.title.as_deref())
        .and_then(clean)
        .or_else(|| hints.title.as_deref().and_then(clean))?;
    let author = extracted
        .map(|x| x.authors.join(", "))
        .and_then(|a| clean(&a))
        .or_else(|| hints.author.as_deref().and_then(clean))
        .or_else(|| {
            extracted
                .and_then(|x| x.publisher.as_deref())
                .and_then(clean)
        });
    let published_at = extracted
        .and_then(|x| x.published)
        .map(|d| d.with_timezone(&Utc))
        .or(hints.published);
    let summary = extracted
        .and_then(|x| x.description.as_deref())
        .and_then(clean)
        .or_else(|| hints.summary.as_deref().and_then(clean))
        .map(clip);
    let url = match page {
        Some((served_from, x)) => article_url(served_from, x.canonical_url.as_deref()),
        None => candidate.url.clone(),
    };
    Some(NewArticle {
        source: source.clone(),
        url: url.into(),
        title,
        author,
        published_at,
        summary,
    })
}

/// What the scraper would store from one article page alone (no feed hints), with the date
/// in the page's own offset: the output of `mediawarm-worker extract`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageArticle {
    /// The article URL: the page's canonical URL when it stays on the page's site, else the
    /// page URL; without a page URL, the canonical URL if the page gives an absolute one.
    pub url: Option<String>,
    /// Headline; `None` means the scraper would store nothing for this page.
    pub title: Option<String>,
    /// Author(s), joined with ", "; the publisher (site name) when the page names none.
    pub author: Option<String>,
    /// Publication date, in the offset the page wrote.
    pub published_at: Option<DateTime<FixedOffset>>,
    /// Description, at most [`MAX_SUMMARY_CHARS`] characters.
    pub summary: Option<String>,
}

/// Extracts `html` (served from `url`, when known) as the scraper would, without selectors
/// or feed hints. Never panics.
pub fn page_article(html: &str, url: Option<&Url>) -> PageArticle {
    page_article_with_rules(html, url).0
}

/// [`page_article`], also saying which extractor rule decided each field. The author is
/// credited to the rule `publisher` when the site name stands in for a missing author.
pub fn page_article_with_rules(html: &str, url: Option<&Url>) -> (PageArticle, extract::Rules) {
    let (x, mut rules) = extract::extract_with_rules(html, url, None);
    if x.authors.is_empty() {
        rules.authors = x.publisher.as_ref().map(|_| "publisher");
    }
    let article = page_article_from(x, url);
    if article.author.is_none() {
        rules.authors = None;
    }
    (article, rules)
}

fn page_article_from(x: extract::Extracted, url: Option<&Url>) -> PageArticle {
    let canonical = x.canonical_url.as_deref();
    PageArticle {
        url: match url {
            Some(served_from) => Some(article_url(served_from, canonical).into()),
            None => canonical
                .and_then(|c| normalize_url(c, None))
                .map(String::from),
        },
        title: x.title.as_deref().and_then(clean),
        author: clean(&x.authors.join(", ")).or_else(|| x.publisher.as_deref().and_then(clean)),
        published_at: x.published,
        summary: x.description.as_deref().and_then(clean).map(clip),
    }
}

/// The page's canonical URL when it is on the same site (ignoring `www.`) and does not point
/// a non-root page at the site root (a common misconfiguration); else the URL it was served
/// from. Normalised either way.
fn article_url(served_from: &Url, canonical: Option<&str>) -> Url {
    let fallback = normalize_url(served_from.as_str(), None).unwrap_or_else(|| served_from.clone());
    let Some(canonical) = canonical.and_then(|c| normalize_url(c, Some(served_from))) else {
        return fallback;
    };
    let site = |u: &Url| {
        u.host_str()
            .map(|h| h.trim_start_matches("www.").to_owned())
    };
    let same_site = site(&canonical) == site(served_from);
    let collapses_to_root = canonical.path() == "/" && served_from.path() != "/";
    if same_site && !collapses_to_root {
        canonical
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("valid url")
    }

    fn name() -> SourceName {
        SourceName::parse("gazette").expect("valid name")
    }

    #[test]
    fn page_fields_win_and_hints_fill_the_gaps() {
        let candidate = Candidate {
            url: url("https://g.example/a"),
            hints: Hints {
                title: Some("Feed title".into()),
                author: Some("Feed Author".into()),
                published: Utc.timestamp_opt(1_000, 0).single(),
                updated: None,
                summary: Some("Feed summary".into()),
            },
        };
        let extracted = Extracted {
            title: Some("  Page   title ".into()),
            published: FixedOffset::east_opt(3600)
                .and_then(|tz| tz.with_ymd_and_hms(2024, 1, 2, 10, 0, 0).single()),
            ..Extracted::default()
        };
        let article =
            assemble(&name(), &candidate, Some((&candidate.url, &extracted))).expect("an article");
        assert_eq!(article.title, "Page title");
        assert_eq!(article.author.as_deref(), Some("Feed Author"));
        assert_eq!(
            article.published_at,
            Utc.with_ymd_and_hms(2024, 1, 2, 9, 0, 0).single()
        );
        assert_eq!(article.summary.as_deref(), Some("Feed summary"));
    }

    #[test]
    fn the_publisher_is_credited_only_when_neither_page_nor_feed_names_an_author() {
        let mut candidate = Candidate::bare(url("https://g.example/a"));
        candidate.hints.author = Some("Feed Author".into());
        let extracted = Extracted {
            title: Some("Title".into()),
            publisher: Some("Gazette".into()),
            ..Extracted::default()
        };
        let page = Some((&candidate.url, &extracted));
        let article = assemble(&name(), &candidate, page).expect("an article");
        assert_eq!(article.author.as_deref(), Some("Feed Author"));
        candidate.hints.author = None;
        let article = assemble(&name(), &candidate, page).expect("an article");
        assert_eq!(article.author.as_deref(), Some("Gazette"));
    }

    #[test]
    fn no_title_means_no_article() {
        let candidate = Candidate::bare(url("https://g.example/a"));
        assert_eq!(assemble(&name(), &candidate, None), None);
        let blank = Extracted {
            title: Some("   ".into()),
            ..Extracted::default()
        };
        assert_eq!(
            assemble(&name(), &candidate, Some((&candidate.url, &blank))),
            None
        );
    }

    #[test]
    fn canonical_is_used_only_on_the_same_site_and_not_collapsed_to_root() {
        let served = url("https://www.g.example/a?utm_source=x");
        assert_eq!(
            article_url(&served, Some("https://g.example/story/a")).as_str(),
            "https://g.example/story/a"
        );
        assert_eq!(
            article_url(&served, Some("https://elsewhere.example/a")).as_str(),
            "https://www.g.example/a"
        );
        assert_eq!(
            article_url(&served, Some("https://www.g.example/")).as_str(),
            "https://www.g.example/a"
        );
        assert_eq!(
            article_url(&served, None).as_str(),
            "https://www.g.example/a"
        );
    }

    #[test]
    fn long_summaries_are_clipped() {
        let candidate = Candidate {
            url: url("https://g.example/a"),
            hints: Hints {
                title: Some("T".into()),
                summary: Some("é".repeat(MAX_SUMMARY_CHARS + 10)),
                ..Hints::default()
            },
        };
        let article = assemble(&name(), &candidate, None).expect("an article");
        assert_eq!(
            article.summary.map(|s| s.chars().count()),
            Some(MAX_SUMMARY_CHARS)
        );
    }
}
