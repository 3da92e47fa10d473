//! The article's publication date: [`choose`] is the cascade of rules over a parsed page; the
//! rest of this module parses the dates the rules find.
//!
//! Understands the formats seen in real pages: ISO 8601 (with or without zone, seconds and
//! fraction, `Z`, `+01:00`, `+0100`), RFC 2822, `YYYY-MM-DD`, `YYYY/MM/DD`, `DD.MM.YYYY`,
//! `DD/MM/YYYY` (month first only when the day cannot be a month; a time after it on a 24- or
//! 12-hour clock, `05:22 pm`), compact `YYYYMMDD`, and dates written in words in English,
//! German, French, Spanish, Italian, Portuguese and Dutch (`3. März 2021`, `12 janvier 2020`,
//! `January 5, 2021`, `5 de marzo de 2021`), plus dates embedded in URL paths (`/2021/03/05/`).
//!
//! Guarantees: every function is total (never panics, whatever the input), only returns real
//! calendar dates with years in 1990..=2100 (a plausible range for web articles), and keeps the
//! offset written in the text; a date without a zone gets `+00:00`.

use chrono::{
    DateTime, Datelike as _, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike as _,
};
use regex::Regex;
use std::sync::OnceLock;

use crate::dom::{self, values};
use crate::meta;
use crate::page::Page;

/// The article's publication date, by the first rule that finds one: the user selector, the
/// metadata date ([`metadata_date`]), microdata, `<time>` elements, date elements, the day in
/// the URL path, a date labelled as published in the page's chrome, the best-scored date in
/// running text, the month in the URL path, and last the modification date. The day the
/// article says in words it was published on then overrides a different day; an ambiguous
/// slash date is read the way the page shows it; a date-only value stored as local midnight
/// comes back in its zone ([`local_midnight`]). Also returns the name of the deciding rule.
pub(crate) fn choose_with_rule(page: &Page<'_>) -> Option<(DateTime<FixedOffset>, &'static str)> {
    let (meta, ld, texts, url) = (&page.meta, &page.ld, &page.texts, page.url);
    type Rule<'a> = (
        &'static str,
        Box<dyn Fn() -> Option<DateTime<FixedOffset>> + 'a>,
    );
    // Which of its two outcomes the metadata rule took ([`metadata_date`]).
    let metadata_rule = std::cell::Cell::new("metadata");
    let rules: [Rule<'_>; 11] = [
        (
            "selector",
            Box::new(|| {
                page.selected(page.selectors.date.as_deref())
                    .and_then(|d| parse_date(&d))
            }),
        ),
        (
            "metadata",
            Box::new(|| {
                metadata_date(page).map(|(d, rule)| {
                    metadata_rule.set(rule);
                    d
                })
            }),
        ),
        (
            "itemprop_date_published",
            Box::new(|| {
                values::itemprop(&page.doc, "datePublished")
                    .iter()
                    .find_map(|d| parse_date(d))
            }),
        ),
        (
            "time_element",
            Box::new(|| {
                dom::dates::times(&page.doc)
                    .iter()
                    .find_map(|d| parse_date(d))
            }),
        ),
        ("date_element", Box::new(|| date_element_date(page))),
        (
            "url_day",
            Box::new(|| url.and_then(|u| date_from_url_day(u.path()))),
        ),
        // With no date in metadata, markup or the URL, a date labelled as published even in
        // the page's chrome (a footer's "Erschienen am") is surer than a date in running text.
        (
            "labelled_in_chrome",
            Box::new(|| dom::dates::labelled_publication_date(texts, true)),
        ),
        ("text_date", Box::new(|| dom::dates::text_date(texts))),
        (
            "url_month",
            Box::new(|| url.and_then(|u| date_from_url(u.path()))),
        ),
        (
            "jsonld_modified",
            Box::new(|| ld.modified.as_deref().and_then(parse_date)),
        ),
        (
            "meta_modified",
            Box::new(|| meta.get(meta::MODIFIED_KEYS).and_then(parse_date)),
        ),
    ];
    let published = rules
        .iter()
        .find_map(|(name, rule)| rule().map(|d| (d, *name)))
        .map(|(d, name)| match name {
            "metadata" => (d, metadata_rule.get()),
            _ => (d, name),
        });
    // The day the article says in words it was published on ("Erschienen am 01.11.2023")
    // beats a date from anywhere else that disagrees; one naming the same day keeps its time.
    let published = match (
        published,
        dom::dates::labelled_publication_date(texts, false),
    ) {
        (Some((p, _)), Some(l))
            if page.selectors.date.is_none() && p.date_naive() != l.date_naive() =>
        {
            Some((l, "labelled_overrides"))
        }
        (None, Some(l)) => Some((l, "labelled")),
        (p, _) => p,
    };
    published.map(|(dt, rule)| (local_midnight(settle_slash_date(page, dt)), rule))
}

/// The first date the page's date elements hold.
fn date_element_date(page: &Page<'_>) -> Option<DateTime<FixedOffset>> {
    page.date_elements()
        .iter()
        .find_map(|e| parse_date(&e.text))
}

/// The publication date the page's metadata gives (JSON-LD, else the date `<meta>` keys), in
/// the offset the page's `<time>` elements use. A metadata date the page does not show gives
/// way to the date it displays with the article, unless the page labels that date as an
/// update ("Updated", "Aktualisiert") or it is the metadata date read month-first. A
/// displayed date that the metadata call the modification date still wins when the page
/// shows it as the article's date: the publisher presents it so, as Drupal's "online date"
/// or a re-issued article does.
fn metadata_date(page: &Page<'_>) -> Option<(DateTime<FixedOffset>, &'static str)> {
    let (meta, ld) = (&page.meta, &page.ld);
    let hidden = ld.published.as_deref().and_then(parse_date).or_else(|| {
        meta::DATE_KEYS
            .iter()
            .filter_map(|k| meta.get(&[k]))
            .find_map(parse_date)
    });
    let hidden = hidden.map(|dt| in_page_offset(dt, &dom::dates::time_values(&page.doc)));
    hidden.map(|dt| {
        let shown = dom::dates::visible_days(&page.doc, &page.texts);
        if shown.is_empty() || shown.contains(&dt.date_naive()) {
            return (dt, "metadata");
        }
        match dom::dates::display_date(page.date_elements()) {
            Some(d)
                if d.date_naive() != dt.date_naive()
                    && !is_day_month_swap(d.date_naive(), dt.date_naive()) =>
            {
                // The metadata date-time naming the displayed day gives it its time of day.
                let shown = ld
                    .modified
                    .iter()
                    .map(String::as_str)
                    .chain(meta.all(meta::MODIFIED_KEYS))
                    .chain(meta::DATE_KEYS.iter().filter_map(|k| meta.get(&[k])))
                    .filter_map(parse_date)
                    .find(|m| m.date_naive() == d.date_naive())
                    .unwrap_or(d);
                (shown, "metadata_yields_to_displayed")
            }
            _ => (dt, "metadata"),
        }
    })
}

/// `dt` with day and month settled by the page's visible date when `dt` is the metadata's
/// ambiguous slash date ("03/05/2021") and no user selector chose the date.
fn settle_slash_date(page: &Page<'_>, dt: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let (meta, ld) = (&page.meta, &page.ld);
    let ambiguous = page.selectors.date.is_none()
        && ld
            .published
            .iter()
            .map(String::as_str)
            .chain(meta::DATE_KEYS.iter().filter_map(|k| meta.get(&[k])))
            .any(|raw| is_ambiguous_slash_date(raw) && parse_date(raw) == Some(dt));
    if ambiguous {
        let visible = date_element_date(page).or_else(|| dom::dates::text_date(&page.texts));
        settle_day_month(dt, visible)
    } else {
        dt
    }
}

const MIN_YEAR: i32 = 1990;
const MAX_YEAR: i32 = 2100;

/// Month names and abbreviations (lower case) in the supported languages, mapped to 1..=12.
const MONTHS: &[(&str, u32)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("jän", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("mär", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("okt", 10),
    ("dezember", 12),
    ("dez", 12),
    // French
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("févr", 2),
    ("mars", 3),
    ("avril", 4),
    ("avr", 4),
    ("juin", 6),
    ("juillet", 7),
    ("juil", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("déc", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("ene", 1),
    ("abr", 4),
    ("ago", 8),
    ("dic", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    ("gen", 1),
    ("mag", 5),
    ("giu", 6),
    ("lug", 7),
    ("set", 9),
    ("ott", 10),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    ("fev", 2),
    ("out", 10),
    // Dutch
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    ("oktober", 10),
    ("mrt", 3),
];

/// Looks a month word up (lower case, trailing dot already removed).
fn month_number(word: &str) -> Option<u32> {
    MONTHS.iter().find(|(n, _)| *n == word).map(|(_, m)| *m)
}

/// Is `word` (lower case) a month name or abbreviation in a supported language?
pub(crate) fn is_month_word(word: &str) -> bool {
    month_number(word.trim_end_matches('.')).is_some()
}

fn month_alternation() -> String {
    let mut names: Vec<&str> = MONTHS.iter().map(|(n, _)| *n).collect();
    // Longest first so that `march` wins over `mar`.
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    names.join("|")
}

fn re_iso() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"(?x)
            ([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})
            (?:[T\s]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?
               \s*(Z|z|UTC|GMT|[+-][0-9]{2}(?::?[0-9]{2})?)?
            )?",
        )
        .expect("static regex")
    })
}

fn re_ymd_slash() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"\b([0-9]{4})[/.]([0-9]{1,2})[/.]([0-9]{1,2})\b").expect("static regex")
    })
}

fn re_dmy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"\b([0-9]{1,2})\s?([./-])\s?([0-9]{1,2})\s?[./-]\s?([0-9]{4}|[0-9]{2})\b(?:[,\s]+(?:um\s+|at\s+|à\s+|-\s+)?([0-9]{1,2})[:.h]([0-9]{2})(?:\s*([AaPp])\.?\s?[Mm]\b\.?)?)?",
        )
        .expect("static regex")
    })
}

fn re_words_dmy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let months = month_alternation();
        Regex::new(&format!(
            r"\b([0-9]{{1,2}})(?:st|nd|rd|th|er|e|º|°|\.)?\s*(?:de\s+|of\s+)?({months})\b\.?,?\s*(?:de\s+|del\s+)?'?([0-9]{{4}})\b"
        ))
        .expect("static regex")
    })
}

fn re_words_mdy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let months = month_alternation();
        Regex::new(&format!(
            r"\b({months})\b\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?,?\s+([0-9]{{4}})\b"
        ))
        .expect("static regex")
    })
}

fn re_compact() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^([0-9]{4})([0-9]{2})([0-9]{2})(?:T?([0-9]{2})([0-9]{2})([0-9]{2})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$").expect("static regex"))
}

fn re_url() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?:^|[/_-])((?:19|20)[0-9]{2})[/_-]?([01][0-9])[/_-]?([0-3][0-9])(?:[/_.-]|$)")
            .expect("static regex")
    })
}

/// A day-first date written as one path segment or its end ("/meldungen/29-10-2021").
fn re_url_dmy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?:^|[/_-])([0-3][0-9])[-_.]([01][0-9])[-_.]((?:19|20)[0-9]{2})(?:[/_.]|$)")
            .expect("static regex")
    })
}

fn re_url_month() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"/((?:19|20)[0-9]{2})/([01][0-9])/").expect("static regex"))
}

fn num<T: std::str::FromStr>(s: Option<regex::Match<'_>>) -> Option<T> {
    s.and_then(|m| m.as_str().parse().ok())
}

fn plausible_year(y: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&y)
}

fn expand_year(y: i32) -> i32 {
    if y < 100 {
        if y < 70 { 2000 + y } else { 1900 + y }
    } else {
        y
    }
}

/// Builds a date-time from parts; `None` for any impossible value.
fn make(
    y: i32,
    m: u32,
    d: u32,
    hms: Option<(u32, u32, u32)>,
    offset_secs: i32,
) -> Option<DateTime<FixedOffset>> {
    if !plausible_year(y) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let (h, mi, s) = hms.unwrap_or((0, 0, 0));
    let time = NaiveTime::from_hms_opt(h, mi, s.min(59))?;
    let offset = FixedOffset::east_opt(offset_secs)?;
    offset
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
}

/// Parses a zone designator (`Z`, `UTC`, `+01`, `+0100`, `+01:00`) into seconds east of UTC.
fn parse_zone(z: &str) -> Option<i32> {
    let z = z.trim();
    if z.is_empty() || z.eq_ignore_ascii_case("z") || z == "UTC" || z == "GMT" {
        return Some(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits.get(0..2)?.parse::<i32>().ok()?,
            digits.get(2..4)?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn parse_iso(s: &str) -> Option<DateTime<FixedOffset>> {
    let c = re_iso().captures(s)?;
    let y = num(c.get(1))?;
    let m = num(c.get(2))?;
    let d = num(c.get(3))?;
    let hms = match (num::<u32>(c.get(4)), num::<u32>(c.get(5))) {
        (Some(h), Some(mi)) => Some((h, mi, num(c.get(6)).unwrap_or(0))),
        _ => None,
    };
    let off = match c.get(7) {
        Some(z) => parse_zone(z.as_str())?,
        None => 0,
    };
    make(y, m, d, hms, off).or_else(|| make(y, m, d, None, 0))
}

fn parse_compact(s: &str) -> Option<DateTime<FixedOffset>> {
    let c = re_compact().captures(s)?;
    let hms = match (num::<u32>(c.get(4)), num::<u32>(c.get(5))) {
        (Some(h), Some(mi)) => Some((h, mi, num(c.get(6)).unwrap_or(0))),
        _ => None,
    };
    let off = match c.get(7) {
        Some(z) => parse_zone(z.as_str())?,
        None => 0,
    };
    make(num(c.get(1))?, num(c.get(2))?, num(c.get(3))?, hms, off)
}

fn parse_ymd_slash(s: &str) -> Option<DateTime<FixedOffset>> {
    let c = re_ymd_slash().captures(s)?;
    make(num(c.get(1))?, num(c.get(2))?, num(c.get(3))?, None, 0)
}

fn parse_dmy(s: &str) -> Option<DateTime<FixedOffset>> {
    for c in re_dmy().captures_iter(s) {
        let (Some(a), Some(b), Some(y)) = (
            num::<u32>(c.get(1)),
            num::<u32>(c.get(3)),
            num::<i32>(c.get(4)),
        ) else {
            continue;
        };
        let sep = c.get(2).map(|m| m.as_str()).unwrap_or(".");
        let y = expand_year(y);
        // Dots are day-first everywhere; slashes are day-first unless that is impossible.
        let (d, m) = if sep != "." && a <= 12 && b > 12 {
            (b, a)
        } else {
            (a, b)
        };
        let hms = match (num::<u32>(c.get(5)), num::<u32>(c.get(6))) {
            (Some(h), Some(mi)) => Some((twelve_hour(h, c.get(7).map(|m| m.as_str())), mi, 0)),
            _ => None,
        };
        if let Some(dt) = make(y, m, d, hms, 0).or_else(|| make(y, m, d, None, 0)) {
            return Some(dt);
        }
    }
    None
}

/// The 24-hour value of hour `h` on a 12-hour clock with `marker` "a"/"p" (any case): 12 am is
/// 0, 1 pm is 13; without a marker, or for an hour no 12-hour clock shows, `h` unchanged.
fn twelve_hour(h: u32, marker: Option<&str>) -> u32 {
    match marker.map(str::to_ascii_lowercase).as_deref() {
        Some("p") if (1..12).contains(&h) => h + 12,
        Some("a") if h == 12 => 0,
        _ => h,
    }
}

fn parse_words(s: &str) -> Option<DateTime<FixedOffset>> {
    let lower = s.to_lowercase();
    let mut best: Option<(usize, DateTime<FixedOffset>)> = None;
    for c in re_words_dmy().captures_iter(&lower) {
        let month = c.get(2).and_then(|m| month_number(m.as_str()));
        if let (Some(d), Some(m), Some(y)) = (num::<u32>(c.get(1)), month, num::<i32>(c.get(3)))
            && let Some(dt) = make(y, m, d, None, 0)
        {
            let pos = c.get(0).map_or(usize::MAX, |m| m.start());
            best = Some((pos, dt));
            break;
        }
    }
    for c in re_words_mdy().captures_iter(&lower) {
        let month = c.get(1).and_then(|m| month_number(m.as_str()));
        if let (Some(m), Some(d), Some(y)) = (month, num::<u32>(c.get(2)), num::<i32>(c.get(3)))
            && let Some(dt) = make(y, m, d, None, 0)
        {
            let pos = c.get(0).map_or(usize::MAX, |m| m.start());
            if best.as_ref().is_none_or(|(p, _)| pos < *p) {
                best = Some((pos, dt));
            }
            break;
        }
    }
    best.map(|(_, dt)| dt)
}

/// Parses one date (and time, when present) out of `s`.
///
/// Tries, in order: RFC 3339 / ISO 8601, RFC 2822, compact `YYYYMMDD`, `YYYY/MM/DD`, dates in
/// words (several languages), then numeric day-first dates (`DD.MM.YYYY`, `DD/MM/YYYY`). The
/// text may carry other words around the date (`"Posted on 3. März 2021 by Ann"`). Returns
/// `None` when nothing in `s` is a plausible date (year 1990..=2100). Never panics.
pub fn parse_date(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Bound the work on huge inputs: dates are short, look at the start only.
    let s = truncate_chars(s, 400);
    if let Ok(dt) = DateTime::parse_from_rfc3339(s)
        && plausible_year(chrono::Datelike::year(&dt))
    {
        return Some(dt);
    }
    if let Some(dt) = parse_iso(s) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s)
        && plausible_year(chrono::Datelike::year(&dt))
    {
        return Some(dt);
    }
    if let Some(dt) = parse_compact(s) {
        return Some(dt);
    }
    if let Some(dt) = parse_ymd_slash(s) {
        return Some(dt);
    }
    if let Some(dt) = parse_words(s) {
        return Some(dt);
    }
    parse_dmy(s)
}

/// A UTC time of exactly 23:00 or 22:00 is a date-only value a CMS stored as local midnight
/// of a zone one or two hours east of UTC; it comes back in that offset (the same instant), so
/// its calendar day is the day the page meant. Any other value is returned unchanged.
pub(crate) fn local_midnight(dt: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    if dt.offset().local_minus_utc() != 0
        || dt.minute() != 0
        || dt.second() != 0
        || dt.nanosecond() != 0
    {
        return dt;
    }
    let hours = match dt.hour() {
        23 => 1,
        22 => 2,
        _ => return dt,
    };
    FixedOffset::east_opt(hours * 3600).map_or(dt, |o| dt.with_timezone(&o))
}

/// `dt` (a metadata date-time written in UTC) in the page's own offset, when one of the
/// page's `<time datetime>` values `times` is the same instant written with an offset, or
/// written without a zone as local time: the same minutes and seconds a whole number of hours
/// (at most 14) away, with minutes or seconds not both zero. The calendar day readers see is
/// the local one. Any other `dt` is returned unchanged.
pub(crate) fn in_page_offset(dt: DateTime<FixedOffset>, times: &[String]) -> DateTime<FixedOffset> {
    if dt.offset().local_minus_utc() != 0 || (dt.minute() == 0 && dt.second() == 0) {
        return dt;
    }
    for raw in times {
        let Some(v) = parse_date(raw) else { continue };
        let offset = if has_zone(raw) {
            if v != dt {
                continue;
            }
            v.offset().local_minus_utc()
        } else {
            let diff = (v.naive_local() - dt.naive_utc()).num_seconds();
            if diff % 3600 != 0 || diff.abs() > 14 * 3600 {
                continue;
            }
            i32::try_from(diff).unwrap_or(0)
        };
        if offset != 0
            && let Some(o) = FixedOffset::east_opt(offset)
        {
            return dt.with_timezone(&o);
        }
    }
    dt
}

/// Whether `a` is `b` with day and month exchanged (and differs from it).
pub(crate) fn is_day_month_swap(a: NaiveDate, b: NaiveDate) -> bool {
    a != b && a.year() == b.year() && a.day() == b.month() && a.month() == b.day()
}

/// Whether a written date-time carries a zone designator after its time part.
fn has_zone(raw: &str) -> bool {
    let raw = raw.trim();
    let Some(t) = raw.find(['T', 't', ' ']) else {
        return false;
    };
    let time = raw.get(t + 1..).unwrap_or("");
    time.contains(['Z', 'z', '+', '-']) || time.contains("UTC") || time.contains("GMT")
}

/// Whether `raw` starts with a numeric date `A/B/YYYY` whose day and month could be either
/// way round (both at most 12 and different).
pub(crate) fn is_ambiguous_slash_date(raw: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| {
        Regex::new(r"^\s*([0-9]{1,2})/([0-9]{1,2})/[0-9]{4}\b").expect("static regex")
    });
    re.captures(raw).is_some_and(|c| {
        let a = num::<u32>(c.get(1)).unwrap_or(0);
        let b = num::<u32>(c.get(2)).unwrap_or(0);
        (1..=12).contains(&a) && (1..=12).contains(&b) && a != b
    })
}

/// `dt` with day and month exchanged when `visible` (the date the page shows) is exactly that
/// exchange in the same year: the page's own display settles an ambiguous `A/B/YYYY`.
pub(crate) fn settle_day_month(
    dt: DateTime<FixedOffset>,
    visible: Option<DateTime<FixedOffset>>,
) -> DateTime<FixedOffset> {
    let Some(v) = visible else {
        return dt;
    };
    if v.year() != dt.year() || v.month() != dt.day() || v.day() != dt.month() {
        return dt;
    }
    NaiveDate::from_ymd_opt(dt.year(), dt.day(), dt.month())
        .map(|d| d.and_time(dt.time()))
        .and_then(|n| dt.offset().from_local_datetime(&n).single())
        .unwrap_or(dt)
}

/// Finds a date in a URL path (`/2021/03/05/`, `/2021-03-05-slug`, `/20210305/`); a path with
/// only `/YYYY/MM/` gives the first of that month. A last-resort signal; never panics.
pub(crate) fn date_from_url(path: &str) -> Option<DateTime<FixedOffset>> {
    date_from_url_day(path).or_else(|| {
        let c = re_url_month().captures(path)?;
        make(num(c.get(1))?, num(c.get(2))?, 1, None, 0)
    })
}

/// Like [`date_from_url`] but only for full year/month/day paths (no month-only guess).
pub(crate) fn date_from_url_day(path: &str) -> Option<DateTime<FixedOffset>> {
    if let Some(c) = re_url().captures(path) {
        return make(num(c.get(1))?, num(c.get(2))?, num(c.get(3))?, None, 0);
    }
    let c = re_url_dmy().captures(path)?;
    make(num(c.get(3))?, num(c.get(2))?, num(c.get(1))?, None, 0)
}

/// Returns at most `max` characters of `s`, cut on a character boundary.
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(s: &str) -> Option<String> {
        parse_date(s).map(|d| d.format("%Y-%m-%d %z").to_string())
    }

    #[test]
    fn iso_forms() {
        assert_eq!(
            ymd("2021-03-05T10:20:30+01:00").unwrap(),
            "2021-03-05 +0100"
        );
        assert_eq!(
            ymd("2021-03-05T23:20:30.123-05:00").unwrap(),
            "2021-03-05 -0500"
        );
        assert_eq!(ymd("2021-03-05T10:20+0100").unwrap(), "2021-03-05 +0100");
        assert_eq!(ymd("2021-03-05 10:20:30").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("2021-03-05").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("2021-03-05T10:20:30Z").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("20210305").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("2021/03/05").unwrap(), "2021-03-05 +0000");
    }

    #[test]
    fn rfc2822() {
        assert_eq!(
            ymd("Fri, 05 Mar 2021 10:20:30 +0100").unwrap(),
            "2021-03-05 +0100"
        );
    }

    #[test]
    fn numeric_day_first() {
        assert_eq!(ymd("05.03.2021").unwrap(), "2021-03-05 +0000");
        assert_eq!(
            ymd("Veröffentlicht am 5.3.2021, 10:15 Uhr").unwrap(),
            "2021-03-05 +0000"
        );
        assert_eq!(ymd("03/25/2021").unwrap(), "2021-03-25 +0000");
        assert_eq!(ymd("25/03/2021").unwrap(), "2021-03-25 +0000");
    }

    #[test]
    fn twelve_hour_clock_after_a_day_first_date() {
        let t = |s: &str| parse_date(s).map(|d| d.format("%Y-%m-%d %H:%M").to_string());
        assert_eq!(t("10/05/2022 05:22 pm").unwrap(), "2022-05-10 17:22");
        assert_eq!(t("10/05/2022 5:22 P.M.").unwrap(), "2022-05-10 17:22");
        assert_eq!(t("10/05/2022 12:05 a.m.").unwrap(), "2022-05-10 00:05");
        assert_eq!(t("10/05/2022 12:30 pm").unwrap(), "2022-05-10 12:30");
        assert_eq!(t("10.05.2022, 17:22 Uhr").unwrap(), "2022-05-10 17:22");
        assert_eq!(
            t("10.05.2022 um 9:15 am Abend").unwrap(),
            "2022-05-10 09:15"
        );
    }

    #[test]
    fn words() {
        assert_eq!(ymd("3. März 2021").unwrap(), "2021-03-03 +0000");
        assert_eq!(ymd("12 janvier 2020").unwrap(), "2020-01-12 +0000");
        assert_eq!(ymd("January 5, 2021").unwrap(), "2021-01-05 +0000");
        assert_eq!(
            ymd("Posted on Jan. 5th, 2021 by Ann").unwrap(),
            "2021-01-05 +0000"
        );
        assert_eq!(ymd("5 de marzo de 2021").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("5 maggio 2021").unwrap(), "2021-05-05 +0000");
        assert_eq!(ymd("5 de março de 2021").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("5 maart 2021").unwrap(), "2021-03-05 +0000");
        assert_eq!(ymd("1er août 2019").unwrap(), "2019-08-01 +0000");
        assert_eq!(ymd("5th of March 2021").unwrap(), "2021-03-05 +0000");
    }

    #[test]
    fn rejects_nonsense() {
        assert_eq!(ymd(""), None);
        assert_eq!(ymd("hello world"), None);
        assert_eq!(ymd("2021-13-45"), None);
        assert_eq!(ymd("1776-07-04"), None);
        assert_eq!(ymd("31.02.2021"), None);
    }

    #[test]
    fn url_dates() {
        let f = |p: &str| date_from_url(p).map(|d| d.format("%Y-%m-%d").to_string());
        assert_eq!(f("/2021/03/05/slug").unwrap(), "2021-03-05");
        assert_eq!(f("/news/2021-03-05-slug.html").unwrap(), "2021-03-05");
        assert_eq!(f("/2021/03/slug").unwrap(), "2021-03-01");
        assert_eq!(f("/media-news/meldungen/29-10-2021").unwrap(), "2021-10-29");
        assert_eq!(f("/archiv/05.03.2021/slug").unwrap(), "2021-03-05");
        assert_eq!(f("/item/1234-10-2021"), None);
        assert_eq!(f("/about/"), None);
    }
}
