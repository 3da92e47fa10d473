//! Property tests: `extract` and `parse_date` never panic, on arbitrary strings and on
//! truncated or mutated article-like snippets; the scraper's page path (`decode_html`, then
//! `page_article`) never panics on arbitrary bytes under any declared charset, nor on real
//! news pages with bytes cut, inserted or overwritten — the pages of the corpus at
//! `MEDIAWARM_CORPUS` (default `../shared/corpus` beside the project) when it is there; a run
//! without it says so and tests the rest.

use std::path::PathBuf;
use std::sync::OnceLock;

use mediawarm_worker::scraper::extract::{self, Selectors as ExtractSelectors};
use mediawarm_worker::scraper::page_article;
use proptest::prelude::*;

/// Real pages of the corpus's `articles/pages` (every 7th file, at most 60), read once.
fn corpus_pages() -> &'static [Vec<u8>] {
    static PAGES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let corpus = std::env::var_os("MEDIAWARM_CORPUS").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
            PathBuf::from,
        );
        let dir = corpus.join("articles/pages");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!(
                "skipped: no corpus at {} (mutated real pages)",
                dir.display()
            );
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        paths
            .iter()
            .step_by(7)
            .take(60)
            .filter_map(|p| std::fs::read(p).ok())
            .collect()
    })
}

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("text/html"),
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=iso-8859-1"),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=shift_jis"),
    Some("text/html; charset=utf-16"),
    Some("text/html; charset=no-such-charset"),
];

const SNIPPET: &str = r##"<!doctype html><html><head><title>Héadline – Sïte</title>
<meta property="og:title" content="Héadline"><meta property="article:published_time" content="2021-03-05T10:00:00+01:00">
<meta name="author" content="Von Ann Lee und Bob">
<script type="application/ld+json">{"@graph":[{"@type":"NewsArticle","headline":"H","author":{"@id":"#p"},
"datePublished":"3. März 2021"},{"@type":"Person","@id":"#p","name":"Ann"}]}</script>
<link rel="alternate" type="application/rss+xml" href="/feed"></head><body><article><h1>Héadline</h1>
<div class="byline">By Ann Lee and Bob Roe, 12 janvier 2020</div><time datetime="2021-13-45">x</time>
<p>Veröffentlicht am 31.02.2021 — 日本語 текст</p></article></body></html>"##;

fn char_prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings(s in any::<String>()) {
        let _ = extract::extract(&s, None, None);
        let _ = extract::parse_date(&s);
    }

    #[test]
    fn html_like_strings(s in r#"(<[a-z]{1,6}( [a-z:-]{1,8}="[^"]{0,20}")?>|</[a-z]{1,6}>|[^<]{0,20}|<script type="application/ld\+json">\{"@type":"Article","author":[^<]{0,30}</script>){0,30}"#) {
        let url = url::Url::parse("https://www.example.org/2021/03/05/x").ok();
        let sel = ExtractSelectors { title: Some(s.chars().take(10).collect()), ..Default::default() };
        let _ = extract::extract(&s, url.as_ref(), Some(&sel));
    }

    #[test]
    fn truncated_snippet(n in 0usize..2000) {
        let s = char_prefix(SNIPPET, n);
        let _ = extract::extract(s, None, None);
    }

    #[test]
    fn mutated_snippet(pos in 0usize..2000, junk in any::<String>(), cut in 0usize..50) {
        let chars: Vec<char> = SNIPPET.chars().collect();
        let p = pos.min(chars.len());
        let end = (p + cut).min(chars.len());
        let mut s: String = chars[..p].iter().collect();
        s.push_str(&junk);
        s.extend(chars[end..].iter());
        let url = url::Url::parse("https://ex.org/a/").ok();
        let _ = extract::extract(&s, url.as_ref(), None);
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096), ct in 0usize..8) {
        let html = extract::decode_html(&bytes, CONTENT_TYPES[ct]);
        let url = url::Url::parse("https://www.example.org/2021/03/05/x").ok();
        let _ = page_article(&html, url.as_ref());
    }

    #[test]
    fn mutated_real_pages(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), 0usize..64, proptest::collection::vec(any::<u8>(), 0..32)),
            1..8,
        ),
        ct in 0usize..8,
    ) {
        let pages = corpus_pages();
        if pages.is_empty() {
            return Ok(());
        }
        let mut page = which.get(pages).clone();
        for (at, cut, junk) in edits {
            let start = at.index(page.len() + 1);
            let end = (start + cut).min(page.len());
            page.splice(start..end, junk);
        }
        let html = extract::decode_html(&page, CONTENT_TYPES[ct]);
        let url = url::Url::parse("https://news.example.org/2021/03/05/story").ok();
        let _ = page_article(&html, url.as_ref());
    }

    #[test]
    fn date_like_strings(s in r"[0-9]{0,4}[-./ ]?[0-9a-zäéû]{0,9}[-./ ,]{0,2}[0-9]{0,4}(T[0-9:]{0,8}([+-][0-9:]{0,5}|Z)?)?") {
        if let Some(d) = extract::parse_date(&s) {
            let y = chrono::Datelike::year(&d);
            prop_assert!((1990..=2100).contains(&y));
        }
    }
}
