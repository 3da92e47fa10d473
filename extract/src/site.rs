//! The site's name, the names it goes by, and the publisher to credit for an unsigned page.
//!
//! Guarantees: never panics; every returned string is trimmed and non-empty.

use url::Url;

use crate::entities::clean_text;
use crate::jsonld::JsonLd;
use crate::meta::{self, Meta};
use crate::page::Page;

/// The site's name: `og:site_name` (or another site meta key) unless it is a handle or a URL,
/// else the JSON-LD publisher or WebSite name.
pub(crate) fn name(meta: &Meta, ld: &JsonLd) -> Option<String> {
    meta.get(meta::SITE_KEYS)
        .filter(|s| !s.starts_with('@') && !s.contains("://"))
        .and_then(clean_text)
        .or_else(|| ld.site_name.as_deref().and_then(clean_text))
}

/// Every name the site goes by, to recognise it in titles and bylines: its [`name`], the
/// JSON-LD publisher, then the host and its main label (see [`host_names`]).
pub(crate) fn names(site_name: Option<&str>, ld: &JsonLd, url: Option<&Url>) -> Vec<String> {
    let mut sites: Vec<String> = site_name.iter().map(|s| s.to_string()).collect();
    if let Some(s) = ld.site_name.as_deref().and_then(clean_text) {
        sites.push(s);
    }
    sites.extend(host_names(url));
    sites
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

/// The publisher to credit when no author is known: the site's name without its tagline
/// (what precedes the first ` • `, ` – `, ` — `, ` | `, ` - ` or `: `).
pub(crate) fn publisher(page: &Page<'_>) -> Option<String> {
    page.site_name
        .as_deref()
        .map(|site| {
            [" • ", " – ", " — ", " | ", " - ", ": "]
                .iter()
                .fold(site, |s, sep| s.split(sep).next().unwrap_or(s))
                .trim()
                .to_string()
        })
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_the_host_and_its_main_label() {
        let u = Url::parse("https://www.Spiegel.de/a").unwrap();
        assert_eq!(host_names(Some(&u)), vec!["spiegel.de", "spiegel"]);
        let u = Url::parse("https://ab.io/").unwrap();
        assert_eq!(host_names(Some(&u)), vec!["ab.io"]);
        assert!(host_names(None).is_empty());
    }

    #[test]
    fn site_name_skips_handles_and_urls() {
        let ld = JsonLd::default();
        let m = Meta::from_pairs(&[("og:site_name", "@paper"), ("application-name", "Paper")]);
        assert_eq!(name(&m, &ld), None);
        let m = Meta::from_pairs(&[("og:site_name", "https://paper.example")]);
        assert_eq!(name(&m, &ld), None);
        let m = Meta::from_pairs(&[("og:site_name", " The  Paper ")]);
        assert_eq!(name(&m, &ld).as_deref(), Some("The Paper"));
    }
}
