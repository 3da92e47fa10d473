//! Row 8: the worst case of page work, and the time of ordinary pages. Pages of hostile markup as large as the scraper's
//! body cap (5 MiB) go through the extractor the scraper runs on every article page (the
//! depth bound, html5ever, then the metadata rules); the slowest must take at most 2 s.
//!
//! The unbounded parse of these pages is not measured: it takes minutes (880 KB of nested
//! `<div>` took 20 s before the bound).

use std::time::{Duration, Instant};

use mediawarm_worker::scraper::{depth, extract};

use crate::report::{Report, Row};

/// The row's name.
pub(crate) const NAME: &str = "hostile page at the 5 MiB body cap: slowest extraction / 2 s";
/// The row's target.
pub(crate) const TARGET: &str = "≤ 1× (2 s in a release build)";

/// The scraper's body cap.
const BODY_CAP: usize = 5 * 1024 * 1024;

/// `unit` repeated until the page reaches the body cap.
fn fill(head: &str, unit: &str) -> String {
    let mut page = String::with_capacity(BODY_CAP);
    page.push_str(head);
    while page.len() + unit.len() <= BODY_CAP {
        page.push_str(unit);
    }
    page
}

/// Each hostile page: its name and its markup.
fn pages() -> Vec<(&'static str, String)> {
    let head = "<!doctype html><html><head><title>Hostile</title></head><body>";
    let mut distinct_formatting = String::from(head);
    let mut i = 0u64;
    while distinct_formatting.len() < BODY_CAP - 64 {
        distinct_formatting.push_str(&format!("<div><b class=c{i}></div>x"));
        i += 1;
    }
    vec![
        ("nested <div>", fill(head, "<div>")),
        ("nested <div> with text", fill(head, "<div>x")),
        ("nested <span><em>", fill(head, "<span><em>")),
        ("nested tables", fill(head, "<table><tr><td>")),
        ("nested lists", fill(head, "<ul><li>")),
        ("reopened formatting (distinct)", distinct_formatting),
        ("unclosed <font> with text", fill(head, "<font color=red>x")),
        ("stray end tags", fill(head, "</div>")),
        ("nested <a>", fill(head, "<a href=/x>")),
        ("many siblings", fill(head, "<p>paragraph</p>")),
    ]
}

/// Row 8.
pub(crate) fn pages_row(report: &mut Report) {
    let mut worst: Option<(&'static str, Duration)> = None;
    let mut figures = Vec::new();
    for (name, page) in pages() {
        let started = Instant::now();
        let bounded = depth::bound_html(&page).len();
        let bound = started.elapsed();
        let started = Instant::now();
        let extracted = extract::extract(&page, None, None);
        let took = started.elapsed();
        std::hint::black_box((bounded, extracted));
        figures.push(format!(
            "{name}: {:.2} s (the depth pass alone: {:.0} ms)",
            took.as_secs_f64(),
            bound.as_secs_f64() * 1000.0
        ));
        if worst.is_none_or(|(_, w)| took > w) {
            worst = Some((name, took));
        }
    }
    let Some((name, took)) = worst else {
        return;
    };
    report.push(Row::measured(
        NAME,
        format!("{:.2}× (worst: {name})", took.as_secs_f64() / 2.0),
        TARGET,
        Some(took <= Duration::from_secs(2)),
        figures.join("; "),
    ));
}

/// The corpus row's name.
pub(crate) const CORPUS_NAME: &str =
    "extraction time per labelled corpus page: slowest (CPU) / 100 ms";
/// The corpus row's target.
pub(crate) const CORPUS_TARGET: &str = "≤ 1× (no page over 100 ms in a release build)";

/// The labelled corpus beside the project (`MEDIAWARM_CORPUS`, default `../shared/corpus`
/// from the workspace root): never in the repository, so the row is skipped without it.
fn corpus_dir(root: &std::path::Path) -> std::path::PathBuf {
    std::env::var_os("MEDIAWARM_CORPUS").map_or_else(
        || root.join("..").join("shared").join("corpus"),
        std::path::PathBuf::from,
    )
}

/// Extraction time of every labelled page of the corpus' `articles` and `dates` sets, as
/// `mediawarm-worker extract --labels` measures it (the extracting thread's CPU time, so
/// other load on the machine does not count): p50, p99 and the slowest page per set.
pub(crate) fn corpus_row(report: &mut Report, root: &std::path::Path) {
    let corpus = corpus_dir(root);
    let mut figures = Vec::new();
    let mut worst: Option<(String, Duration)> = None;
    for set in ["articles", "dates"] {
        let dir = corpus.join(set);
        if !dir.join("labels.jsonl").exists() {
            continue;
        }
        let evaluation =
            match mediawarm_worker::scraper::evaluate::evaluate(&dir, None, &mut |_, _| {}) {
                Ok(evaluation) => evaluation,
                Err(e) => {
                    report.push(Row::skipped(
                        CORPUS_NAME,
                        CORPUS_TARGET,
                        &format!("failed: {e}"),
                    ));
                    return;
                }
            };
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let Some((file, slowest)) = evaluation.slowest().cloned() else {
            continue;
        };
        figures.push(format!(
            "{set} ({} pages): p50 {:.2} ms, p99 {:.2} ms, worst {:.2} ms ({file})",
            evaluation.times.len(),
            ms(evaluation.time_quantile(0.5)),
            ms(evaluation.time_quantile(0.99)),
            ms(Some(slowest)),
        ));
        if worst.as_ref().is_none_or(|(_, w)| slowest > *w) {
            worst = Some((format!("{set}/{file}"), slowest));
        }
    }
    match worst {
        Some((file, took)) => report.push(Row::measured(
            CORPUS_NAME,
            format!("{:.2}× (worst: {file})", took.as_secs_f64() / 0.1),
            CORPUS_TARGET,
            Some(took <= Duration::from_millis(100)),
            figures.join("; "),
        )),
        None => report.push(Row::skipped(
            CORPUS_NAME,
            CORPUS_TARGET,
            &format!("no labelled corpus at {}", corpus.display()),
        )),
    }
}
