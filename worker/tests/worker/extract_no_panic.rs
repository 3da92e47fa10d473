//! Property tests of the scraper's page path (`decode_html`, then `page_article`): it never
//! panics on arbitrary bytes under any declared charset, nor on real news pages with bytes
//! cut, inserted or overwritten — the pages of the corpus at `MEDIAWARM_CORPUS` (default
//! `../shared/corpus` beside the project) when it is there; a run without it says so and
//! tests the rest. The extractor's own no-panic properties live in `mediawarm-extract`.

use std::path::PathBuf;
use std::sync::OnceLock;

use mediawarm_worker::scraper::extract;
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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
}
