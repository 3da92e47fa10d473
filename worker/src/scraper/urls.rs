//! URL normalisation: the one spelling of an article's address that dedup and upserts key on.
//!
//! Guarantees of [`normalize_url`]: the result is an absolute `http` or `https` URL with a
//! host, lowercase host, no default port, no credentials, no fragment and no tracking
//! parameters; everything else (path, other query parameters and their order and encoding)
//! is kept exactly as written.

use url::Url;

/// Query parameters dropped as tracking noise: exact names, and prefixes (`utm_*`, `mc_*`).
const TRACKING_NAMES: &[&str] = &["fbclid", "gclid", "dclid", "msclkid"];
const TRACKING_PREFIXES: &[&str] = &["utm_", "mc_"];

/// Parses `raw` (resolved against `base` when given) into its normalised form, or `None` when
/// it is not an http(s) URL with a host.
///
/// Drops the fragment, credentials and `utm_*`, `mc_*`, `fbclid`, `gclid`, `dclid` and
/// `msclkid` parameters (case-insensitively), lowercases the host and removes default ports;
/// keeps the path as written (no trailing-slash changes).
pub fn normalize_url(raw: &str, base: Option<&Url>) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(base) => base.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    url.set_username("").ok()?;
    url.set_password(None).ok()?;
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect();
        let kept = kept.join("&");
        url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    Some(url)
}

/// Whether `a` and `b` are on the same site for fetching purposes: the same host, ignoring a
/// leading `www.` and case, and the same explicit port (scheme ignored, so an upgrade to https
/// stays on the site).
pub(crate) fn same_site(a: &Url, b: &Url) -> bool {
    let host = |u: &Url| {
        u.host_str()
            .map(|h| h.to_ascii_lowercase().trim_start_matches("www.").to_owned())
    };
    host(a).is_some() && host(a) == host(b) && a.port() == b.port()
}

fn is_tracking(pair: &str) -> bool {
    let name = pair
        .split('=')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    TRACKING_NAMES.contains(&name.as_str()) || TRACKING_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Option<String> {
        normalize_url(raw, None).map(String::from)
    }

    #[test]
    fn drops_fragment_tracking_default_port_and_lowercases_host() {
        assert_eq!(
            norm("HTTPS://News.Example.COM:443/a/B?id=7&utm_source=x&UTM_Medium=y&fbclid=z#top")
                .as_deref(),
            Some("https://news.example.com/a/B?id=7")
        );
        assert_eq!(
            norm("http://example.com:80/x?gclid=1&mc_cid=2&mc_eid=3").as_deref(),
            Some("http://example.com/x")
        );
    }

    #[test]
    fn keeps_path_other_parameters_and_their_encoding() {
        assert_eq!(
            norm("https://example.com/a/b/?q=a+b&flag&z=%20").as_deref(),
            Some("https://example.com/a/b/?q=a+b&flag&z=%20")
        );
        assert_eq!(
            norm("https://example.com:8443/a").as_deref(),
            Some("https://example.com:8443/a")
        );
        assert_eq!(
            norm("https://example.com/a?").as_deref(),
            Some("https://example.com/a")
        );
    }

    #[test]
    fn resolves_against_a_base_and_refuses_other_schemes() {
        let base = Url::parse("https://example.com/news/index.html").expect("valid base");
        assert_eq!(
            normalize_url("../story?utm_campaign=a#c", Some(&base)).map(String::from),
            Some("https://example.com/story".to_owned())
        );
        assert_eq!(normalize_url("mailto:a@example.com", Some(&base)), None);
        assert_eq!(norm("ftp://example.com/x"), None);
        assert_eq!(norm("javascript:alert(1)"), None);
        assert_eq!(norm("/relative/without/base"), None);
        assert_eq!(norm("   "), None);
    }

    #[test]
    fn same_site_ignores_www_case_and_scheme_but_not_ports() {
        let u = |s: &str| Url::parse(s).expect("valid url");
        assert!(same_site(
            &u("http://g.example/a"),
            &u("https://www.G.example/b")
        ));
        assert!(same_site(
            &u("http://127.0.0.1:8080/"),
            &u("http://127.0.0.1:8080/x")
        ));
        assert!(!same_site(
            &u("http://127.0.0.1:8080/"),
            &u("http://127.0.0.1:8081/")
        ));
        assert!(!same_site(
            &u("http://g.example/"),
            &u("http://cdn.g.example/")
        ));
        assert!(!same_site(&u("http://g.example/"), &u("http://localhost/")));
    }

    #[test]
    fn drops_credentials() {
        assert_eq!(
            norm("https://user:secret@example.com/x").as_deref(),
            Some("https://example.com/x")
        );
    }
}
