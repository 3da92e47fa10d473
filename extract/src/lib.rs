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
mod charset;
mod dates;
pub mod depth;
mod dom;
mod jsonld;
mod meta;
mod title;

use chrono::{DateTime, FixedOffset};
use scraper::Html;
use url::Url;

pub use charset::decode_html;
pub use dates::parse_date;

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
    dom::links::feed_links(
        &Html::parse_document(&crate::depth::bound_html(html)),
        Some(base),
    )
}

/// Decodes the common HTML entities left in JSON-LD and meta strings (`&amp;`, `&quot;`,
/// `&#39;`, `&#x27;`, `&nbsp;`, numeric references). Unknown entities are kept as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = tail.get(1..e)?;
            let c = match name {
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                "lt" => '<',
                "gt" => '>',
                "nbsp" => ' ',
                "ndash" => '–',
                "mdash" => '—',
                "hellip" => '…',
                "rsquo" => '’',
                "lsquo" => '‘',
                "rdquo" => '”',
                "ldquo" => '“',
                "auml" => 'ä',
                "ouml" => 'ö',
                "uuml" => 'ü',
                "Auml" => 'Ä',
                "Ouml" => 'Ö',
                "Uuml" => 'Ü',
                "szlig" => 'ß',
                "eacute" => 'é',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = tail.get(e + 1..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

fn clean_text(s: &str) -> Option<String> {
    let t = title::collapse(&decode_entities(s));
    (!t.is_empty()).then_some(t)
}

/// Host name part used to recognise the site in titles and bylines ("spiegel" for
/// `www.spiegel.de`), plus the full host.
fn host_names(url: Option<&Url>) -> Vec<String> {
    let Some(host) = url.and_then(Url::host_str) else {
        return Vec::new();
    };
    let host = host.trim_start_matches("www.").to_ascii_lowercase();
    let mut out = vec![host.clone()];
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() >= 2
        && let Some(l) = labels.get(labels.len() - 2)
        && l.len() >= 3
    {
        out.push((*l).to_string());
    }
    out
}

/// Parses `html` as a browser with scripting disabled does: the content of `<noscript>` is
/// markup, not text, so a byline or date that a page repeats there for readers without
/// JavaScript (Blogger's templates, lazy-loading themes) is seen. Nesting past
/// [`crate::depth::MAX_DEPTH`] is dropped first, which bounds the parse's time.
fn parse_without_scripting(html: &str) -> Html {
    use html5ever::tendril::TendrilSink;
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    html5ever::parse_document(scraper::HtmlTreeSink::new(Html::new_document()), opts)
        .one(&*crate::depth::bound_html(html))
}

/// Extracts article metadata from `html`.
///
/// `url` is the page's address (used to resolve links, recognise the site name and, as a last
/// resort, read a date from the path). `selectors`, when given and matching, win over the
/// generic rules for their field. Never panics.
pub fn extract(html: &str, url: Option<&Url>, selectors: Option<&Selectors>) -> Extracted {
    let doc = parse_without_scripting(html);
    let texts = dom::text::text_nodes(&doc);
    let meta = meta::Meta::from_doc(&doc);
    let ld = jsonld::parse(&dom::values::jsonld_blocks(&doc));
    let base = dom::links::base_url(&doc, url);
    let sel = selectors.cloned().unwrap_or_default();

    // Site name.
    let site_name = meta
        .get(meta::SITE_KEYS)
        .filter(|s| !s.starts_with('@') && !s.contains("://"))
        .and_then(clean_text)
        .or_else(|| ld.site_name.as_deref().and_then(clean_text));
    let mut sites: Vec<String> = site_name.iter().cloned().collect();
    if let Some(s) = ld.site_name.as_deref().and_then(clean_text) {
        sites.push(s);
    }
    sites.extend(host_names(url.or(base.as_ref())));

    // Title.
    let title = sel
        .title
        .as_deref()
        .and_then(|s| dom::values::select_value(&doc, s))
        .and_then(|t| clean_text(&t))
        .or_else(|| {
            let c = title::Candidates {
                jsonld: ld.headline.as_deref().and_then(clean_text),
                meta: meta.get(meta::TITLE_KEYS).and_then(clean_text),
                title_tag: dom::headings::title_tag(&doc).and_then(|t| clean_text(&t)),
                h1: dom::headings::h1s(&doc),
                article_h1: dom::headings::article_h1(&doc),
            };
            title::choose(&c, &sites)
        });

    // Authors.
    let mut authors = Vec::new();
    if let Some(s) = sel.author.as_deref() {
        authors = authors::clean_authors(&dom::values::select_texts(&doc, s), &sites);
    }
    // Metadata that names an organisation yields to a person in a visible byline.
    let mut organisations = Vec::new();
    if authors.is_empty() {
        let (orgs, people): (Vec<&str>, Vec<&str>) = ld
            .authors
            .iter()
            .map(String::as_str)
            .partition(|a| authors::looks_like_organisation(a, &sites));
        authors = authors::clean_authors(&people, &sites);
        organisations.extend(orgs);
    }
    // An author key naming only the publisher ("author" = the newspaper) yields to a later
    // key that names a person by a full name (`cXenseParse:author`, …), not by a handle.
    let from_selectors_or_ld = !authors.is_empty();
    for (i, values) in meta.per_key(meta::AUTHOR_KEYS).enumerate() {
        if !authors.is_empty() {
            break;
        }
        let (orgs, people): (Vec<&str>, Vec<&str>) = values
            .into_iter()
            .filter(|a| !a.contains("://") && !a.starts_with("www."))
            .partition(|a| authors::looks_like_organisation(a, &sites));
        let people = authors::clean_authors(&people, &sites);
        if i == 0 || people.iter().all(|n| authors::looks_like_name(n)) {
            authors = people;
        }
        organisations.extend(orgs);
    }
    // A blog's author meta is often the owners' names on every page; the article's link to
    // its writer's author page names who wrote this one.
    if !from_selectors_or_ld && !authors.is_empty() {
        let linked = authors::clean_authors(&dom::bylines::author_links(&doc, true), &sites);
        let shared = |a: &String| {
            let a = a.to_lowercase();
            authors.iter().any(|m| {
                let m = m.to_lowercase();
                m.contains(&a) || a.contains(&m)
            })
        };
        if !linked.is_empty() && !linked.iter().any(shared) {
            authors = linked;
        }
    }
    if authors.is_empty() {
        authors = authors::clean_authors(&dom::values::itemprop(&doc, "author"), &sites);
    }
    if authors.is_empty() {
        authors = authors::clean_authors(&dom::bylines::rel_author(&doc), &sites);
    }
    if authors.is_empty()
        && let Some(first) = dom::bylines::bylines(&doc)
            .iter()
            .map(|b| authors::clean_authors(&[b], &sites))
            .find(|v| !v.is_empty() && v.iter().all(|n| authors::looks_like_name(n)))
    {
        authors = first;
    }
    if authors.is_empty()
        && let Some(b) = dom::bylines::text_byline(&texts, &sites)
    {
        authors = authors::clean_authors(&[b], &sites);
    }
    if authors.is_empty()
        && let Some(handle) = dom::bylines::submitted_username(&doc)
        && !authors::clean_authors(&[&handle], &sites).is_empty()
    {
        authors = vec![handle];
    }
    if authors.is_empty() {
        authors = authors::clean_authors(&dom::bylines::author_links(&doc, false), &sites);
    }
    if authors.is_empty() {
        authors = authors::clean_organisations(&organisations, &sites);
    }
    if authors.is_empty() {
        authors = authors::clean_organisations(&ld.org_authors, &sites);
    }

    // A lone first name ("Nils") is upgraded to a full name found elsewhere ("Nils Pickert"):
    // in author metadata, bylines, then any short visible text.
    if let [only] = authors.as_slice()
        && !only.contains(' ')
    {
        let prefix = format!("{} ", only.to_lowercase());
        let mut pool: Vec<String> = meta
            .all(meta::AUTHOR_KEYS)
            .iter()
            .map(|s| s.to_string())
            .collect();
        pool.extend(dom::bylines::rel_author(&doc));
        pool.extend(dom::bylines::bylines(&doc).into_iter().take(10));
        pool.extend(dom::bylines::text_byline(&texts, &sites));
        // Then any short visible text: the article's own first, page chrome last.
        let (nodes, _) = &texts;
        let short = |chrome: bool| {
            nodes
                .iter()
                .filter(move |(_, t, c)| *c == chrome && t.chars().count() <= 120)
                .map(|(_, t, _)| t.clone())
        };
        pool.extend(short(false).chain(short(true)));
        let full = pool
            .iter()
            .flat_map(|p| authors::clean_authors(&[p], &sites))
            .find(|n| {
                n.to_lowercase().starts_with(&prefix)
                    && n.split_whitespace().count() <= 3
                    && authors::looks_like_name(n)
            });
        if let Some(f) = full {
            authors = vec![f];
        }
    }

    // An unsigned page is credited to its publisher, by the site's name without its tagline.
    let publisher = site_name
        .as_deref()
        .map(|site| {
            [" • ", " – ", " — ", " | ", " - ", ": "]
                .iter()
                .fold(site, |s, sep| s.split(sep).next().unwrap_or(s))
                .trim()
                .to_string()
        })
        .filter(|p| !p.is_empty());

    // Date. The page's date elements are read at most once, and only when needed.
    let date_elements = std::cell::OnceCell::new();
    let date_elements = || {
        date_elements
            .get_or_init(|| dom::dates::date_elements(&doc))
            .as_slice()
    };
    let date_text = || date_elements().iter().find_map(|e| parse_date(&e.text));
    let hidden = ld.published.as_deref().and_then(parse_date).or_else(|| {
        meta::DATE_KEYS
            .iter()
            .filter_map(|k| meta.get(&[k]))
            .find_map(parse_date)
    });
    let hidden = hidden.map(|dt| dates::in_page_offset(dt, &dom::dates::time_values(&doc)));
    // A metadata date the page does not show gives way to the date it displays with the
    // article, unless the page labels that date as an update ("Updated", "Aktualisiert") or
    // it is the metadata date read month-first. A displayed date that the metadata call the
    // modification date still wins when the page shows it as the article's date: the
    // publisher presents it so, as Drupal's "online date" or a re-issued article does.
    let hidden = hidden.map(|dt| {
        let shown = dom::dates::visible_days(&doc, &texts);
        if shown.is_empty() || shown.contains(&dt.date_naive()) {
            return dt;
        }
        match dom::dates::display_date(date_elements()) {
            Some(d)
                if d.date_naive() != dt.date_naive()
                    && !dates::is_day_month_swap(d.date_naive(), dt.date_naive()) =>
            {
                // The metadata date-time naming the displayed day gives it its time of day.
                ld.modified
                    .iter()
                    .map(String::as_str)
                    .chain(meta.all(meta::MODIFIED_KEYS))
                    .chain(meta::DATE_KEYS.iter().filter_map(|k| meta.get(&[k])))
                    .filter_map(parse_date)
                    .find(|m| m.date_naive() == d.date_naive())
                    .unwrap_or(d)
            }
            _ => dt,
        }
    });
    let published = sel
        .date
        .as_deref()
        .and_then(|s| dom::values::select_value(&doc, s))
        .and_then(|d| parse_date(&d))
        .or(hidden)
        .or_else(|| {
            dom::values::itemprop(&doc, "datePublished")
                .iter()
                .find_map(|d| parse_date(d))
        })
        .or_else(|| dom::dates::times(&doc).iter().find_map(|d| parse_date(d)))
        .or_else(date_text)
        .or_else(|| url.and_then(|u| dates::date_from_url_day(u.path())))
        // With no date in metadata, markup or the URL, a date labelled as published even in
        // the page's chrome (a footer's "Erschienen am") is surer than a date in running text.
        .or_else(|| dom::dates::labelled_publication_date(&texts, true))
        .or_else(|| dom::dates::text_date(&texts))
        .or_else(|| url.and_then(|u| dates::date_from_url(u.path())))
        .or_else(|| ld.modified.as_deref().and_then(parse_date))
        .or_else(|| meta.get(meta::MODIFIED_KEYS).and_then(parse_date));
    // The day the article says in words it was published on ("Erschienen am 01.11.2023")
    // beats a date from anywhere else that disagrees; one naming the same day keeps its time.
    let published = match (
        published,
        dom::dates::labelled_publication_date(&texts, false),
    ) {
        (Some(p), Some(l)) if sel.date.is_none() && p.date_naive() != l.date_naive() => Some(l),
        (p, l) => p.or(l),
    };
    let published = published.map(|dt| {
        let ambiguous = sel.date.is_none()
            && ld
                .published
                .iter()
                .map(String::as_str)
                .chain(meta::DATE_KEYS.iter().filter_map(|k| meta.get(&[k])))
                .any(|raw| dates::is_ambiguous_slash_date(raw) && parse_date(raw) == Some(dt));
        let dt = if ambiguous {
            let visible = date_text().or_else(|| dom::dates::text_date(&texts));
            dates::settle_day_month(dt, visible)
        } else {
            dt
        };
        dates::local_midnight(dt)
    });

    // Description.
    let description = sel
        .summary
        .as_deref()
        .and_then(|s| dom::values::select_value(&doc, s))
        .and_then(|t| clean_text(&t))
        .or_else(|| ld.description.as_deref().and_then(clean_text))
        .or_else(|| meta.get(meta::DESCRIPTION_KEYS).and_then(clean_text));

    let canonical_url = dom::links::canonical(&doc, base.as_ref())
        .or_else(|| {
            meta.get(&["og:url"])
                .and_then(|u| dom::links::resolve(u, base.as_ref()))
        })
        .or_else(|| {
            ld.url
                .as_deref()
                .and_then(|u| dom::links::resolve(u, base.as_ref()))
        });

    Extracted {
        title,
        authors,
        publisher,
        published,
        description,
        canonical_url,
        site_name,
        feed_links: dom::links::feed_links(&doc, base.as_ref()),
    }
}
