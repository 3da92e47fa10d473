//! The article's authors: [`choose`] is the cascade of rules over a parsed page; the rest of
//! this module cleans the raw bylines the rules find.
//!
//! Turns raw byline strings ("By Ann Lee and Bob Smith | 3 March 2021", "Von Max Muster,
//! max@example.org") into a deduplicated list of names: strips lead-ins in several languages
//! (By, Von, Par, Por, Di, Door, Written by, Autor: …), dates and anything after the first digit,
//! e-mail addresses and URLs, splits on `;`, `,`, `&`, `/`, `|` and the words and/und/et/y/e/en,
//! and drops parts that are too long to be a name or that equal the site name.
//!
//! Guarantees: never panics; every returned name is non-empty, at most 60 characters and
//! 6 words, has no digit, `@` or `://`, and appears once (case-insensitively).

use crate::dom::{bylines, values};
use crate::meta;
use crate::page::Page;

/// The article's authors, by the first rule that names someone: the user selector, JSON-LD
/// people, author `<meta>` keys (corrected by the article's link to its writer's page),
/// microdata, `rel=author` links, byline elements, a byline in running text, a post's
/// "submitted" user name, links to author pages, and last the organisations that metadata
/// names as author. A lone first name is then completed to a full name found on the page.
/// Also returns the name of the rule that decided (`None` when no rule named anyone).
pub(crate) fn choose_with_rule(page: &Page<'_>) -> (Vec<String>, Option<&'static str>) {
    let (authors, rule) = cascade(page);
    let authors = complete_first_name(page, authors);
    let rule = rule.filter(|_| !authors.is_empty());
    (authors, rule)
}

/// The ordered rules of [`choose`], before a lone first name is completed.
fn cascade(page: &Page<'_>) -> (Vec<String>, Option<&'static str>) {
    let (doc, sites) = (&page.doc, page.sites.as_slice());
    let mut authors = Vec::new();
    let mut rule: Option<&'static str> = None;
    // The first rule to name someone decided; later rules run only while no one is named.
    let decided = |rule: &mut Option<&'static str>, authors: &Vec<String>, name: &'static str| {
        if rule.is_none() && !authors.is_empty() {
            *rule = Some(name);
        }
    };
    if let Some(s) = page.selectors.author.as_deref() {
        authors = clean_authors(&values::select_texts(doc, s), sites);
    }
    decided(&mut rule, &authors, "selector");
    // Metadata that names an organisation yields to a person in a visible byline.
    let mut organisations = Vec::new();
    if authors.is_empty() {
        let (orgs, people): (Vec<&str>, Vec<&str>) = page
            .ld
            .authors
            .iter()
            .map(String::as_str)
            .partition(|a| looks_like_organisation(a, sites));
        authors = clean_authors(&people, sites);
        organisations.extend(orgs);
    }
    decided(&mut rule, &authors, "jsonld_person");
    // An author key naming only the publisher ("author" = the newspaper) yields to a later
    // key that names a person by a full name (`cXenseParse:author`, …), not by a handle.
    let from_selectors_or_ld = !authors.is_empty();
    for (i, values) in page.meta.per_key(meta::AUTHOR_KEYS).enumerate() {
        if !authors.is_empty() {
            break;
        }
        let (orgs, people): (Vec<&str>, Vec<&str>) = values
            .into_iter()
            .filter(|a| !a.contains("://") && !a.starts_with("www."))
            .partition(|a| looks_like_organisation(a, sites));
        let people = clean_authors(&people, sites);
        if i == 0 || people.iter().all(|n| looks_like_name(n)) {
            authors = people;
        }
        organisations.extend(orgs);
    }
    decided(&mut rule, &authors, "meta_author");
    // A blog's author meta is often the owners' names on every page; the article's link to
    // its writer's author page names who wrote this one.
    if !from_selectors_or_ld && !authors.is_empty() {
        let linked = clean_authors(&bylines::author_links(doc, true), sites);
        let shared = |a: &String| {
            let a = a.to_lowercase();
            authors.iter().any(|m| {
                let m = m.to_lowercase();
                m.contains(&a) || a.contains(&m)
            })
        };
        if !linked.is_empty() && !linked.iter().any(shared) {
            authors = linked;
            rule = Some("meta_author_corrected_by_link");
        }
    }
    if authors.is_empty() {
        authors = clean_authors(&values::itemprop(doc, "author"), sites);
    }
    decided(&mut rule, &authors, "microdata_author");
    if authors.is_empty() {
        authors = clean_authors(&bylines::rel_author(doc), sites);
    }
    decided(&mut rule, &authors, "rel_author");
    if authors.is_empty()
        && let Some(first) = bylines::bylines(doc)
            .iter()
            .map(|b| clean_authors(&[b], sites))
            .find(|v| !v.is_empty() && v.iter().all(|n| looks_like_name(n)))
    {
        authors = first;
    }
    decided(&mut rule, &authors, "byline_element");
    if authors.is_empty()
        && let Some(b) = bylines::text_byline(&page.texts, sites)
    {
        authors = clean_authors(&[b], sites);
    }
    decided(&mut rule, &authors, "text_byline");
    if authors.is_empty()
        && let Some(handle) = bylines::submitted_username(doc)
        && !clean_authors(&[&handle], sites).is_empty()
    {
        authors = vec![handle];
    }
    decided(&mut rule, &authors, "submitted_username");
    if authors.is_empty() {
        authors = clean_authors(&bylines::author_links(doc, false), sites);
    }
    decided(&mut rule, &authors, "author_page_link");
    if authors.is_empty() {
        authors = clean_organisations(&organisations, sites);
    }
    decided(&mut rule, &authors, "metadata_organisation");
    if authors.is_empty() {
        authors = clean_organisations(&page.ld.org_authors, sites);
    }
    decided(&mut rule, &authors, "jsonld_organisation");
    (authors, rule)
}

/// A lone first name ("Nils") is upgraded to a full name found elsewhere ("Nils Pickert"):
/// in author metadata, bylines, then any short visible text, the article's own before the
/// page chrome's. Any other list of authors is returned as it is.
fn complete_first_name(page: &Page<'_>, authors: Vec<String>) -> Vec<String> {
    let first = match authors.as_slice() {
        [only] if !only.contains(' ') => only.to_lowercase(),
        _ => return authors,
    };
    let (doc, sites) = (&page.doc, page.sites.as_slice());
    let prefix = format!("{first} ");
    let mut pool: Vec<String> = page
        .meta
        .all(meta::AUTHOR_KEYS)
        .iter()
        .map(|s| s.to_string())
        .collect();
    pool.extend(bylines::rel_author(doc));
    pool.extend(bylines::bylines(doc).into_iter().take(10));
    pool.extend(bylines::text_byline(&page.texts, sites));
    let (nodes, _) = &page.texts;
    let short = |chrome: bool| {
        nodes
            .iter()
            .filter(move |(_, t, c)| *c == chrome && t.chars().count() <= 120)
            .map(|(_, t, _)| t.clone())
    };
    pool.extend(short(false).chain(short(true)));
    let full = pool
        .iter()
        .flat_map(|p| clean_authors(&[p], sites))
        .find(|n| {
            n.to_lowercase().starts_with(&prefix)
                && n.split_whitespace().count() <= 3
                && looks_like_name(n)
        });
    match full {
        Some(f) => vec![f],
        None => authors,
    }
}

/// Lead-ins removed from the start of a byline (lower case, longest first matters little).
const PREFIXES: &[&str] = &[
    "erstellt von",
    "artikel von:",
    "artikel von",
    "veröffentlicht von",
    "publié par",
    "publicado por",
    "pubblicato da",
    "interview:",
    "redaktion:",
    "recherche:",
    "author",
    "written by",
    "posted by",
    "published by",
    "reported by",
    "story by",
    "words by",
    "text by",
    "geschrieben von",
    "verfasst von",
    "ein beitrag von",
    "ein kommentar von",
    "ein gastbeitrag von",
    "eine kolumne von",
    "artikel von",
    "beitrag von",
    "text von",
    "text und fotos:",
    "text:",
    "autor:",
    "autorin:",
    "autoren:",
    "author:",
    "authors:",
    "auteur :",
    "auteur:",
    "autore:",
    "redakteur:",
    "von:",
    "by:",
    "by",
    "von",
    "vom",
    "par",
    "por",
    "di",
    "door",
    "from",
];

/// Words that end a name when they trail it ("Ann Lee am", "Bob on").
const TRAILERS: &[&str] = &[
    "am",
    "on",
    "le",
    "el",
    "il",
    "op",
    "em",
    "at",
    "um",
    "|",
    "-",
    "–",
    "—",
    "•",
    "·",
    ",",
    "publiziert",
    "veröffentlicht",
    "published",
    "updated",
    "aktualisiert",
    "publié",
    "posted",
    "erstellt",
    "stand",
    "datum",
    "den",
    "der",
    "the",
    "in",
    "vor",
    "ago",
    "zuletzt",
];

/// Job titles that trail a name in bylines ("Ann Lee Chefredakteurin").
const JOB_TITLES: &[&str] = &[
    "chefredakteur",
    "chefredakteurin",
    "redakteur",
    "redakteurin",
    "editor",
    "reporter",
    "reporterin",
    "korrespondent",
    "korrespondentin",
    "journalist",
    "journalistin",
    "autor",
    "autorin",
    "author",
    "writer",
    "columnist",
    "kolumnist",
    "kolumnistin",
    "contributor",
    "correspondent",
    "volontär",
    "volontärin",
];

/// Weekday names (lower case) that trail a name before a date ("By Ann Lee Monday, …").
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
];

/// Is `word` something that ends a name rather than belongs to it: a connector, a month or
/// weekday word, or (when `name_words` more words precede it, at least two) a job title?
fn is_trailer(word: &str, name_words: usize) -> bool {
    let w = word.to_lowercase();
    let bare = w.trim_end_matches([',', '.']);
    TRAILERS.contains(&w.as_str())
        || (JOB_TITLES.contains(&bare) && name_words >= 2)
        || WEEKDAYS.contains(&bare)
        || (super::dates::is_month_word(bare) && bare.chars().count() > 3)
}

/// Words that make a string a label rather than a name.
const NOT_NAMES: &[&str] = &[
    "admin",
    "administrator",
    "unknown",
    "anonymous",
    "redaktion",
    "staff",
    "author",
    "autor",
    "share",
    "teilen",
    "kommentare",
    "comments",
    "facebook",
    "twitter",
    "more",
    "mehr",
    "by",
    "von",
    "par",
    "por",
    "posted",
    "follow",
    "folgen",
    "stand",
    "text",
    "interview",
    "foto",
    "fotos",
    "photo",
    "redaktion",
    "editorial team",
    "read more",
    "weiterlesen",
    "kontakt",
    "contact",
    "impressum",
];

/// Lead-ins of photo and illustration credits: such parts are not authors.
const CREDIT_PREFIXES: &[&str] = &[
    "foto",
    "fotos",
    "photo",
    "photos",
    "bild",
    "bilder",
    "illustration",
    "grafik",
    "image",
    "©",
    "(c)",
    "copyright",
    "quelle",
    "source",
];

/// Does `s` look like a person's (or a short byline) name: 1–5 words, most of them
/// capitalised, no sentence punctuation?
pub(crate) fn looks_like_name(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() || words.len() > 5 {
        return false;
    }
    if s.contains(['!', '?', ':', '"', '“', '”']) {
        return false;
    }
    let particles = [
        "von", "van", "de", "der", "den", "da", "di", "del", "la", "le", "du", "dos", "das", "y",
        "bin", "ibn", "al", "zu", "ten", "ter",
    ];
    let caps = words
        .iter()
        .filter(|w| {
            w.chars().next().is_some_and(|c| c.is_uppercase())
                || particles.contains(&w.to_lowercase().as_str())
        })
        .count();
    caps == words.len()
}

/// Words (lower case) that mark an organisation rather than a person.
const ORGANISATION_WORDS: &[&str] = &[
    "e.v",
    "e. v",
    "gmbh",
    "verband",
    "verein",
    "magazin",
    "magazine",
    "zeitung",
    "redaktion",
    "newsroom",
    "verlag",
    "agentur",
    "institut",
    "stiftung",
    "ministerium",
    "anstalt",
    "behörde",
    "bundesamt",
    "landesamt",
    "gesellschaft",
    "akademie",
    "pressestelle",
    "ministry",
    "agency",
    "association",
    "foundation",
    "academy",
    "commission",
    "press office",
    " ltd",
    " inc.",
    " llc",
    "university",
    "universität",
    "publishing",
    "editorial",
    "www.",
    ".com",
    ".de",
    ".org",
];

/// Does the raw author string `raw` name an organisation: an organisation word ("e.V.",
/// "GmbH", "Verlag", "Magazin" …), a web address, or the site's own name (`site_names`)?
pub(crate) fn looks_like_organisation(raw: &str, site_names: &[String]) -> bool {
    let low = raw.to_lowercase();
    if ORGANISATION_WORDS.iter().any(|w| low.contains(w)) {
        return true;
    }
    let n = squash(raw);
    n.len() >= 4
        && site_names.iter().any(|s| {
            let s = squash(s);
            s.len() >= 4 && (s.contains(&n) || n.contains(&s))
        })
}

/// Cleans raw author strings into names; `site_names` (site name, host) are dropped.
pub(crate) fn clean_authors<S: AsRef<str>>(raw: &[S], site_names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in raw.iter().take(50) {
        for name in clean_one(r.as_ref()) {
            if is_site_name(&name, site_names) {
                continue;
            }
            let low = name.to_lowercase();
            if !out.iter().any(|o| o.to_lowercase() == low) {
                out.push(name);
            }
        }
    }
    out
}

/// Credits that name a role, not an organisation ("Redaktion" on every page of a paper).
const GENERIC_CREDITS: &[&str] = &[
    "redaktion",
    "die redaktion",
    "newsroom",
    "editorial",
    "editorial staff",
    "staff",
    "admin",
    "administrator",
];

/// Is the word a web address ("www.x.de", "https://…", "facebook.com/page", "oe24.at")?
fn looks_like_address(w: &str) -> bool {
    let w = w.to_lowercase();
    if w.contains("://") || w.starts_with("www.") {
        return true;
    }
    let host = w.split('/').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| {
            (2..=6).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_lowercase())
        })
}

/// Cleans organisation credits, each as one name: "Bayerische Landesanstalt für Wald und
/// Forstwirtschaft - LWF" is one body, not people to split at "und" and "-". Web addresses and
/// e-mail addresses go; `site_names` are dropped as in [`clean_authors`]; `;` still separates
/// several organisations.
pub(crate) fn clean_organisations<S: AsRef<str>>(raw: &[S], site_names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in raw.iter().take(20) {
        for part in super::decode_entities(r.as_ref()).split(';') {
            let name = part
                .split_whitespace()
                .filter(|w| !(w.contains('@') || looks_like_address(w)))
                .collect::<Vec<_>>()
                .join(" ");
            let name = name.trim_matches(|c: char| c.is_whitespace() || ".,:;-–—|".contains(c));
            if name.is_empty()
                || name.chars().count() > 120
                || GENERIC_CREDITS.contains(&name.to_lowercase().as_str())
                || is_site_name(name, site_names)
                || out.iter().any(|o| o.eq_ignore_ascii_case(name))
            {
                continue;
            }
            out.push(name.to_string());
        }
    }
    out
}

fn is_site_name(name: &str, site_names: &[String]) -> bool {
    let n = squash(name);
    !n.is_empty()
        && site_names.iter().any(|s| {
            let s = squash(s);
            !s.is_empty()
                && (s == n || (n.len() >= 4 && s.starts_with(&n) && s.len() <= n.len() + 4))
        })
}

/// Lower-case letters and digits only ("Spiegel Online" ~ "spiegel-online.de" start).
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cleans one raw byline into zero or more names.
pub(crate) fn clean_one(raw: &str) -> Vec<String> {
    let s = collapse_ws(&super::decode_entities(raw));
    if s.is_empty() || s.chars().count() > 300 {
        return Vec::new();
    }
    let lower = s.to_lowercase();
    if lower.starts_with("http") || lower.starts_with("www.") || lower.starts_with('/') {
        return Vec::new();
    }
    // Twitter handles are not names.
    if s.starts_with('@') && !s.contains(' ') {
        return Vec::new();
    }
    // Drop e-mail addresses and URLs word by word.
    let s: String = s
        .split(' ')
        .filter(|w| !(w.contains('@') || w.contains("://") || w.starts_with("www.")))
        .collect::<Vec<_>>()
        .join(" ");
    // "Posted on 21 March 2020 by Ann Lee": a lead-in after a date starts the name.
    let s = after_dated_lead_in(&s).unwrap_or(s);
    // "Text von Ann Lee Illustration von Bo Ek": a second role ends the first name.
    let s = before_second_role(&s).to_string();
    // Everything from the first digit on is a date, time or count, not a name.
    let s = match s.find(|c: char| c.is_ascii_digit()) {
        Some(i) => s.get(..i).unwrap_or(""),
        None => s.as_str(),
    };
    // Bracketed remarks ("Ann Lee (dpa)") go.
    let s = match s.find(['(', '[']) {
        Some(i) if i > 0 => s.get(..i).unwrap_or(""),
        _ => s,
    };
    let mut parts = vec![s.to_string()];
    for sep in [
        ";", ",", " & ", "&", "/", "|", "•", "·", " – ", " — ", " - ", "\n",
    ] {
        parts = parts
            .iter()
            .flat_map(|p| p.split(sep).map(str::to_string).collect::<Vec<_>>())
            .collect();
    }
    for word in [
        " and ", " und ", " et ", " y ", " e ", " en ", " og ", " ve ",
    ] {
        parts = parts.iter().flat_map(|p| split_word(p, word)).collect();
    }
    let names: Vec<String> = parts.into_iter().filter_map(|p| finish(&p)).collect();
    // A team credited beside people ("… - Chrome Safe Browsing team") is not one of them;
    // credited alone, it is the byline.
    let is_group = |n: &String| {
        let low = n.to_lowercase();
        let words: Vec<&str> = low.split_whitespace().collect();
        words.len() > 1 && words.last().is_some_and(|w| GROUP_WORDS.contains(w))
    };
    if names.iter().any(is_group) && !names.iter().all(is_group) {
        return names.into_iter().filter(|n| !is_group(n)).collect();
    }
    names
}

/// Lead-ins that introduce the name after a date inside one byline.
const MID_LEAD_INS: &[&str] = &[
    " by ",
    " von ",
    " par ",
    " por ",
    " door ",
    " redaktion: ",
    " autor: ",
    " autorin: ",
    " author: ",
    " text: ",
];

/// The text after the last lead-in ("by", "von", "Redaktion:" …) that follows a digit: the
/// name of "Posted on 21 March 2020 by Ann Lee" or "05.02.2020 - Redaktion: Ann Lee".
fn after_dated_lead_in(s: &str) -> Option<String> {
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        return None;
    }
    let (at, lead) = MID_LEAD_INS
        .iter()
        .filter_map(|l| lower.rfind(l).map(|i| (i, *l)))
        .max_by_key(|(i, _)| *i)?;
    let before = s.get(..at)?;
    if !before.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = s.get(at + lead.len()..)?.trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Credit roles that start a second, non-author credit inside one byline.
const SECOND_ROLES: &[&str] = &[
    " illustration",
    " illustrationen",
    " fotos",
    " foto",
    " photos",
    " photo",
    " photography",
    " bilder",
    " bild",
    " grafik",
    " video",
    " edited by",
    " redigiert von",
];

/// `s` up to a second credit role ("Illustration von …", "Photos by …", "Foto: …") that
/// follows the first name; `s` itself when there is none.
fn before_second_role(s: &str) -> &str {
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        return s;
    }
    let cut = SECOND_ROLES
        .iter()
        .filter_map(|r| {
            let i = lower.find(r)?;
            let after = lower.get(i + r.len()..)?;
            let credit = after.starts_with(" von ")
                || after.starts_with(" by ")
                || after.starts_with(':')
                || after.starts_with(" :");
            (credit && i > 0).then_some(i)
        })
        .min();
    match cut {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Splits on a connecting word, case-insensitively.
fn split_word(s: &str, word: &str) -> Vec<String> {
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        // Lower-casing changed byte lengths; offsets would not line up. Split on exact case.
        return s.split(word).map(str::to_string).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some(i) = lower.get(from..).and_then(|t| t.find(word)) {
        let at = from + i;
        out.push(s.get(start..at).unwrap_or("").to_string());
        start = at + word.len();
        from = start;
    }
    out.push(s.get(start..).unwrap_or("").to_string());
    out
}

/// Last words of a team or desk credited in a byline ("Chrome Safe Browsing team").
const GROUP_WORDS: &[&str] = &["team", "desk", "staff", "newsroom", "redaktion", "ressort"];

/// Publication notes that share a byline with the name ("| Publicado hace 3 horas").
const PUBLICATION_NOTES: &[&str] = &[
    "publicado",
    "publicada",
    "published",
    "publié",
    "publiée",
    "pubblicato",
    "veröffentlicht",
    "posted",
    "updated",
    "aktualisiert",
    "actualizado",
    "erschienen",
];

fn finish(p: &str) -> Option<String> {
    let low = p.trim().to_lowercase();
    let first_word = low.split_whitespace().next().unwrap_or("");
    let led_in = PREFIXES
        .iter()
        .any(|p| p.contains(' ') && low.starts_with(&format!("{p} ")));
    if !led_in && PUBLICATION_NOTES.contains(&first_word.trim_end_matches([':', ','])) {
        return None;
    }
    if CREDIT_PREFIXES.iter().any(|c| {
        low.strip_prefix(c)
            .is_some_and(|r| r.is_empty() || r.starts_with([':', ' ', '/']))
    }) {
        return None;
    }
    let mut s = p
        .trim_matches(|c: char| c.is_whitespace() || ".:,;-–—|•·*\"'“”„«»()[]".contains(c))
        .to_string();
    // Strip lead-ins repeatedly ("Text: von Ann").
    loop {
        let lower = s.to_lowercase();
        let mut changed = false;
        for p in PREFIXES {
            if let Some(rest) = lower.strip_prefix(p) {
                let needs_space = p.chars().last().is_some_and(char::is_alphanumeric);
                if needs_space && !rest.starts_with(' ') {
                    continue;
                }
                let cut = s.len() - rest.len();
                if lower.len() == s.len() {
                    s = s.get(cut..).unwrap_or("").trim().to_string();
                    changed = true;
                }
                break;
            }
        }
        if !changed {
            break;
        }
    }
    // Trailing connectors, month and weekday words, and job titles.
    loop {
        let words: Vec<&str> = s.split(' ').collect();
        match words.last() {
            Some(w) if words.len() > 1 && is_trailer(w, words.len() - 1) => {
                s = words[..words.len() - 1].join(" ");
            }
            _ => break,
        }
    }
    let s = s
        .trim_matches(|c: char| c.is_whitespace() || ".:,;-–—|•·*\"'“”„«»".contains(c))
        .to_string();
    let bare_lead_in = PREFIXES
        .iter()
        .any(|p| p.trim_end_matches(':') == s.to_lowercase());
    if bare_lead_in {
        return None;
    }
    let words = s.split_whitespace().count();
    if s.is_empty()
        || s.chars().count() > 60
        || words > 6
        || s.chars().count() < 2
        || s.contains('@')
        || s.contains("://")
        || s.chars().any(|c| c.is_ascii_digit())
        || !s.chars().any(char::is_alphabetic)
        || NOT_NAMES.contains(&s.to_lowercase().as_str())
        || s.to_lowercase().contains("admin")
        || super::dates::is_month_word(&s.to_lowercase())
    {
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<String> {
        clean_authors(&[s], &["Daily Paper".to_string()])
    }

    #[test]
    fn an_organisation_is_credited_whole() {
        let sites = ["Daily Paper".to_string()];
        let o = |raw: &[&str]| clean_organisations(raw, &sites);
        assert_eq!(
            o(&["Bayerische Landesanstalt für Wald und Forstwirtschaft - LWF"]),
            vec!["Bayerische Landesanstalt für Wald und Forstwirtschaft - LWF"]
        );
        assert_eq!(
            o(&["Web Commerce GmbH www.w-commerce.de"]),
            vec!["Web Commerce GmbH"]
        );
        assert_eq!(o(&["facebook.com/vegolosi", "Vegolosi"]), vec!["Vegolosi"]);
        assert_eq!(
            o(&["Redaktion", "Daily Paper", "dpa; AFP"]),
            vec!["dpa", "AFP"]
        );
        assert!(looks_like_organisation(
            "Bayerische Landesanstalt für Wald und Forstwirtschaft",
            &[]
        ));
        assert!(!looks_like_organisation("Ann Lee", &[]));
    }

    #[test]
    fn strips_lead_ins() {
        assert_eq!(c("By Ann Lee"), vec!["Ann Lee"]);
        assert_eq!(c("Von Max Muster"), vec!["Max Muster"]);
        assert_eq!(c("Par Jean Dupont"), vec!["Jean Dupont"]);
        assert_eq!(c("Autor: Max Muster"), vec!["Max Muster"]);
    }

    #[test]
    fn splits_names() {
        assert_eq!(c("By Ann Lee and Bob Smith"), vec!["Ann Lee", "Bob Smith"]);
        assert_eq!(
            c("Max Muster und Erika Muster"),
            vec!["Max Muster", "Erika Muster"]
        );
        assert_eq!(
            c("A. One, B. Two & C. Three"),
            vec!["A. One", "B. Two", "C. Three"]
        );
    }

    #[test]
    fn drops_dates_emails_urls_and_site() {
        assert_eq!(c("Ann Lee am 12.03.2021"), vec!["Ann Lee"]);
        assert_eq!(c("Ann Lee ann@example.org"), vec!["Ann Lee"]);
        assert!(c("https://example.org/author/ann").is_empty());
        assert!(c("Daily Paper").is_empty());
        assert!(c("@annlee").is_empty());
    }

    #[test]
    fn a_lead_in_after_a_date_starts_the_name() {
        assert_eq!(
            c("Posted on September 21, 2020 by Adi Tzlil"),
            vec!["Adi Tzlil"]
        );
        assert_eq!(c("05.02.2020 - Redaktion: Eva Roth"), vec!["Eva Roth"]);
    }

    #[test]
    fn posted_by_is_a_lead_in_and_a_team_is_not_a_name() {
        assert_eq!(
            c("Posted by Ann Lee, Bo Ek and Cy Young - Chrome Safe Browsing team"),
            vec!["Ann Lee", "Bo Ek", "Cy Young"]
        );
        assert!(c("Posted 3 hours ago").is_empty());
    }

    #[test]
    fn a_second_credit_role_ends_the_byline() {
        assert_eq!(
            c("Text von Christian Weiler Illustration von Markus Rost"),
            vec!["Christian Weiler"]
        );
        assert_eq!(c("By Ann Lee Photos by Bo Ek"), vec!["Ann Lee"]);
    }

    #[test]
    fn month_weekday_and_job_title_words_trailing_a_name_go() {
        assert_eq!(c("By Nathan Wills March 25, 2015"), vec!["Nathan Wills"]);
        assert_eq!(c("By Gill Mohn Monday, 3 May"), vec!["Gill Mohn"]);
        assert_eq!(c("Christoph Stein Chefredakteur"), vec!["Christoph Stein"]);
        assert_eq!(
            c("Rasender Reporter"),
            vec!["Rasender Reporter"],
            "a job title is kept when no two-word name would remain"
        );
    }

    #[test]
    fn a_publication_note_beside_the_name_is_dropped() {
        assert_eq!(
            c("Jacobo Betancur Peláez | Publicado hace 3 horas"),
            vec!["Jacobo Betancur Peláez"]
        );
        assert_eq!(c("Ann Lee · Updated"), vec!["Ann Lee"]);
    }

    #[test]
    fn a_bare_lead_in_is_no_name() {
        assert!(c("Artikel von").is_empty());
        assert!(c("Written by:").is_empty());
    }

    #[test]
    fn dedupes() {
        assert_eq!(
            clean_authors(&["Ann Lee", "ANN LEE", "Bob"], &[]),
            vec!["Ann Lee", "Bob"]
        );
    }
}
