//! Property tests: `extract` and `parse_date` never panic, on arbitrary strings and on
//! truncated or mutated article-like snippets; a date they read lies in a plausible year.

use mediawarm_extract::{self as extract, Selectors as ExtractSelectors};
use proptest::prelude::*;

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
    fn date_like_strings(s in r"[0-9]{0,4}[-./ ]?[0-9a-zäéû]{0,9}[-./ ,]{0,2}[0-9]{0,4}(T[0-9:]{0,8}([+-][0-9:]{0,5}|Z)?)?") {
        if let Some(d) = extract::parse_date(&s) {
            let y = chrono::Datelike::year(&d);
            prop_assert!((1990..=2100).contains(&y));
        }
    }
}
