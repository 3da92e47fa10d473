//! Scoring the extractor on a labelled folder: what `mediawarm-worker extract --labels DIR`
//! prints.
//!
//! The folder holds `pages/*.html` (decoded with the charset they declare) and `labels.jsonl`
//! (one `{"file", "url", "origin", "title", "author", "date"}` a line; `null` = not labelled). Each page is extracted with
//! [`page_article`] (what the scraper would store, dates in the page's own offset) and
//! compared field by field with the metric of the corpus' reference `score.py`, re-implemented
//! here so that the figures are the same:
//! - text is NFKC-normalised and case-folded, quotes removed, white space collapsed, and
//!   ` .:-–—|` trimmed from both ends;
//! - title: exact = equal after that; lenient = one contains the other (and the prediction is
//!   not empty);
//! - author: both sides split into names on `;` `,` `and` `und` `&` `/` `|`, a leading
//!   `by`/`von`/`par`/`por` dropped; exact = same set; lenient = the sets share a name;
//! - date: the first `YYYY-MM-DD` of each side, equal (lenient is the same figure).
//!
//! A field is scored only where its label is non-empty; a missing prediction counts as
//! wrong. Case folding is Unicode lowercasing plus the full-folding cases that survive NFKC
//! in Latin and Greek text (`ß`, `ẞ` → `ss`, final and symbol sigma/theta/phi/… → their
//! plain lowercase letters), which matches Python's `str.casefold` for these texts.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;
use url::Url;

use super::article::page_article_with_rules;

/// Why a folder could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of `labels.jsonl` is not a label.
    #[error("labels.jsonl line {line}: {message}")]
    Label {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// One line of `labels.jsonl`.
#[derive(Debug, Clone, Deserialize)]
struct Label {
    file: String,
    url: Option<String>,
    origin: Option<String>,
    title: Option<String>,
    author: Option<String>,
    date: Option<String>,
}

/// One page's prediction, in the format `score.py` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    /// The page's file name (under `pages/`).
    pub file: String,
    /// The extracted title.
    pub title: Option<String>,
    /// The extracted author(s).
    pub author: Option<String>,
    /// The extracted date-time (RFC 3339, the page's offset).
    pub date: Option<String>,
}

/// How one field scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldScore {
    /// Exact matches after normalisation.
    pub exact: usize,
    /// Lenient matches.
    pub lenient: usize,
    /// Pages where the field is labelled.
    pub labelled: usize,
}

/// Scores of the three fields over one group of pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupScore {
    /// `all`, or an origin.
    pub group: String,
    /// Title.
    pub title: FieldScore,
    /// Author.
    pub author: FieldScore,
    /// Date.
    pub date: FieldScore,
}

impl fmt::Display for GroupScore {
    /// `score.py`'s line: `all: title=0.652(lenient 0.700, n=300) author=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.group)?;
        let mut sep = " ";
        for (name, s) in [
            ("title", self.title),
            ("author", self.author),
            ("date", self.date),
        ] {
            if s.labelled == 0 {
                continue;
            }
            let n = s.labelled as f64;
            write!(
                f,
                "{sep}{name}={:.3}(lenient {:.3}, n={})",
                s.exact as f64 / n,
                s.lenient as f64 / n,
                s.labelled
            )?;
            sep = " ";
        }
        Ok(())
    }
}

/// One half of a folder's pages, by a stable hash of the page's host ([`half_of`]): a rule
/// tuned on one half can be checked on the other, whose sites it has never seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// Hosts whose FNV-1a hash is even.
    A,
    /// Hosts whose FNV-1a hash is odd.
    B,
}

/// The half a page's host falls in: 64-bit FNV-1a of the lower-cased host without `www.`
/// (stable across runs, platforms and Rust versions, unlike the standard hasher), even = A.
pub fn half_of(host: &str) -> Half {
    let host = host.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in host.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    if hash.is_multiple_of(2) {
        Half::A
    } else {
        Half::B
    }
}

/// How one rule of a field's cascade did: the labelled pages it decided, and how many of
/// them it got right (the exact figure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleScore {
    /// `title`, `author` or `date`.
    pub field: &'static str,
    /// The rule's name; `(none)` for pages where no rule found the field.
    pub rule: &'static str,
    /// Labelled pages the rule decided.
    pub decided: usize,
    /// Of those, the ones it got right.
    pub right: usize,
}

impl fmt::Display for RuleScore {
    /// `date metadata: decided 240, right 228 (0.950)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: decided {}, right {} ({:.3})",
            self.field,
            self.rule,
            self.decided,
            self.right,
            self.right as f64 / self.decided.max(1) as f64
        )
    }
}

/// The result of scoring a folder.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// One prediction per labelled page scored, in label order.
    pub predictions: Vec<Prediction>,
    /// `all` first, then each origin in order of first appearance.
    pub groups: Vec<GroupScore>,
    /// Per field, each rule that decided a labelled page; most decided first.
    pub rules: Vec<RuleScore>,
    /// Extraction time of each page scored (parsing and every field, not reading or
    /// decoding the file), in label order: the thread's CPU time where the system reports it
    /// (Linux), so other load on the machine does not inflate it; wall time elsewhere.
    pub times: Vec<(String, Duration)>,
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (nanoseconds,
/// first field); `None` where that file does not exist.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// How long `f` ran on this thread: CPU time where [`thread_cpu`] answers, else wall time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let cpu = thread_cpu();
    let wall = Instant::now();
    let out = f();
    let took = match (cpu, thread_cpu()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall.elapsed(),
    };
    (out, took)
}

impl Evaluation {
    /// The extraction time at quantile `q` (0..=1, nearest rank), and the slowest page.
    pub fn time_quantile(&self, q: f64) -> Option<Duration> {
        let mut times: Vec<Duration> = self.times.iter().map(|(_, t)| *t).collect();
        times.sort();
        let last = times.len().checked_sub(1)?;
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1;
        times.get(rank.min(last)).copied()
    }

    /// The slowest page and its time.
    pub fn slowest(&self) -> Option<&(String, Duration)> {
        self.times.iter().max_by_key(|(_, t)| *t)
    }
}

/// Extracts every labelled page of `dir` (only those of `split`'s half, when given) and
/// scores the predictions; `progress` is told `(pages done, pages in all)` after each page.
pub fn evaluate(
    dir: &Path,
    split: Option<Half>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Evaluation, EvaluateError> {
    let labels_path = dir.join("labels.jsonl");
    let text = std::fs::read_to_string(&labels_path).map_err(|source| EvaluateError::Read {
        path: labels_path.clone(),
        source,
    })?;
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let label: Label = serde_json::from_str(line).map_err(|e| EvaluateError::Label {
            line: i + 1,
            message: e.to_string(),
        })?;
        if split.is_none_or(|half| half_of(&host(&label)) == half) {
            labels.push(label);
        }
    }
    let mut predictions = Vec::with_capacity(labels.len());
    let mut rules = Vec::with_capacity(labels.len());
    let mut times = Vec::with_capacity(labels.len());
    for (done, label) in labels.iter().enumerate() {
        progress(done, labels.len());
        let path = dir.join("pages").join(&label.file);
        let bytes = std::fs::read(&path).map_err(|source| EvaluateError::Read {
            path: path.clone(),
            source,
        })?;
        let html = super::extract::decode_html(&bytes, None);
        let url = label.url.as_deref().and_then(|u| Url::parse(u).ok());
        let ((article, page_rules), took) = timed(|| page_article_with_rules(&html, url.as_ref()));
        times.push((label.file.clone(), took));
        rules.push(page_rules);
        predictions.push(Prediction {
            file: label.file.clone(),
            title: article.title,
            author: article.author,
            date: article.published_at.map(|d| d.to_rfc3339()),
        });
    }
    let by_file: HashMap<&str, &Prediction> =
        predictions.iter().map(|p| (p.file.as_str(), p)).collect();
    let mut origins: Vec<&str> = Vec::new();
    for label in &labels {
        if let Some(origin) = label.origin.as_deref()
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }
    let mut groups = vec![score(&labels, &by_file, None)];
    groups.extend(origins.iter().map(|o| score(&labels, &by_file, Some(o))));
    let rules = rule_scores(&labels, &predictions, &rules);
    Ok(Evaluation {
        predictions,
        groups,
        rules,
        times,
    })
}

/// The host a label's page is grouped by for [`half_of`]: its URL's host, else its file name.
fn host(label: &Label) -> String {
    label
        .url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| label.file.clone())
}

/// Per field and rule, the labelled pages decided and those right; `labels`, `predictions`
/// and `rules` are parallel.
fn rule_scores(
    labels: &[Label],
    predictions: &[Prediction],
    rules: &[mediawarm_extract::Rules],
) -> Vec<RuleScore> {
    let mut counts: Vec<RuleScore> = Vec::new();
    let mut count = |field: &'static str, rule: Option<&'static str>, right: bool| {
        let rule = rule.unwrap_or("(none)");
        match counts
            .iter_mut()
            .find(|c| c.field == field && c.rule == rule)
        {
            Some(c) => {
                c.decided += 1;
                c.right += usize::from(right);
            }
            None => counts.push(RuleScore {
                field,
                rule,
                decided: 1,
                right: usize::from(right),
            }),
        }
    };
    for ((label, pred), page_rules) in labels.iter().zip(predictions).zip(rules) {
        let [title, author, date] = exact(label, Some(pred));
        if let Some(ok) = title {
            count("title", page_rules.title, ok);
        }
        if let Some(ok) = author {
            count("author", page_rules.authors, ok);
        }
        if let Some(ok) = date {
            count("date", page_rules.published, ok);
        }
    }
    let order = |f: &str| ["title", "author", "date"].iter().position(|x| *x == f);
    counts.sort_by(|a, b| {
        order(a.field)
            .cmp(&order(b.field))
            .then(b.decided.cmp(&a.decided))
            .then(a.rule.cmp(b.rule))
    });
    counts
}

/// Whether `pred` gets each field of `label` exactly right (title, author, date); `None`
/// where the field is not labelled.
fn exact(label: &Label, pred: Option<&Prediction>) -> [Option<bool>; 3] {
    let title = label
        .title
        .as_deref()
        .filter(|g| !g.is_empty())
        .map(|gold| norm(gold) == norm(pred.and_then(|p| p.title.as_deref()).unwrap_or("")));
    let author = label
        .author
        .as_deref()
        .filter(|g| !g.is_empty())
        .map(|gold| {
            names(gold)
                == pred
                    .and_then(|p| p.author.as_deref())
                    .filter(|a| !a.is_empty())
                    .map(names)
                    .unwrap_or_default()
        });
    let date = label
        .date
        .as_deref()
        .filter(|g| !g.is_empty())
        .map(|gold| day(Some(gold)) == day(pred.and_then(|p| p.date.as_deref())));
    [title, author, date]
}

fn score(labels: &[Label], preds: &HashMap<&str, &Prediction>, origin: Option<&str>) -> GroupScore {
    let mut out = GroupScore {
        group: origin.unwrap_or("all").to_owned(),
        ..GroupScore::default()
    };
    for label in labels {
        if origin.is_some() && label.origin.as_deref() != origin {
            continue;
        }
        let pred = preds.get(label.file.as_str());
        if let Some(gold) = label.title.as_deref().filter(|g| !g.is_empty()) {
            let (g, q) = (
                norm(gold),
                norm(pred.and_then(|p| p.title.as_deref()).unwrap_or("")),
            );
            out.title.labelled += 1;
            out.title.exact += usize::from(g == q);
            out.title.lenient += usize::from(!q.is_empty() && (q.contains(&g) || g.contains(&q)));
        }
        if let Some(gold) = label.author.as_deref().filter(|g| !g.is_empty()) {
            let g = names(gold);
            let q = pred
                .and_then(|p| p.author.as_deref())
                .filter(|a| !a.is_empty())
                .map(names)
                .unwrap_or_default();
            out.author.labelled += 1;
            out.author.exact += usize::from(g == q);
            out.author.lenient += usize::from(!q.is_empty() && !g.is_disjoint(&q));
        }
        if let Some(gold) = label.date.as_deref().filter(|g| !g.is_empty()) {
            let ok = day(Some(gold)) == day(pred.and_then(|p| p.date.as_deref()));
            out.date.labelled += 1;
            out.date.exact += usize::from(ok);
            out.date.lenient += usize::from(ok);
        }
    }
    out
}

struct Patterns {
    quotes: Regex,
    space: Regex,
    separators: Regex,
    prefix: Regex,
    day: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("static regex");
        Patterns {
            quotes: re("[\u{2018}\u{2019}\u{201c}\u{201d}\"'`\u{b4}]"),
            space: re(r"[\s\x1c-\x1f]+"),
            separators: re(r";|,|\band\b|\bund\b|&|/|\|"),
            prefix: re(r"^(?:by|von|par|por)[\s\x1c-\x1f]+"),
            day: re(r"^(\d{4}-\d{2}-\d{2})"),
        }
    })
}

/// Python's `str.casefold` for the texts scored here (see the module docs).
fn casefold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'ς' => out.push('σ'),
            'ϐ' => out.push('β'),
            'ϑ' => out.push('θ'),
            'ϕ' => out.push('φ'),
            'ϖ' => out.push('π'),
            'ϰ' => out.push('κ'),
            'ϱ' => out.push('ρ'),
            'ϵ' => out.push('ε'),
            'ẛ' => out.push('ṡ'),
            '\u{345}' | '\u{1fbe}' => out.push('ι'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `score.py`'s `norm`.
fn norm(s: &str) -> String {
    let p = patterns();
    let folded = casefold(&s.nfkc().collect::<String>());
    let unquoted = p.quotes.replace_all(&folded, "");
    let spaced = p.space.replace_all(&unquoted, " ");
    spaced
        .trim_matches(|c| matches!(c, ' ' | '.' | ':' | '-' | '–' | '—' | '|'))
        .to_owned()
}

/// `score.py`'s `names`.
fn names(s: &str) -> BTreeSet<String> {
    let p = patterns();
    p.separators
        .split(&norm(s))
        .map(|part| {
            p.prefix
                .replace(part.trim_matches(is_py_space), "")
                .into_owned()
        })
        .filter(|part| !part.is_empty())
        .collect()
}

/// `score.py`'s `date`: the leading `YYYY-MM-DD`.
fn day(s: Option<&str>) -> Option<String> {
    let s = s?.trim_matches(is_py_space);
    patterns()
        .day
        .captures(s)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_folds_case_quotes_space_and_trailing_punctuation() {
        assert_eq!(norm("  „Straße“ im  Test: "), "„strasse im test");
        assert_eq!(norm("The ‘Big’ Day."), "the big day");
        assert_eq!(norm("ﬁne – ΣΟΦΊΑ ς |"), "fine – σοφία σ");
        assert_eq!(norm(""), "");
    }

    #[test]
    fn names_split_on_separators_and_drop_by_prefixes() {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(names("By Ann Lee and Bo Ek"), set(&["ann lee", "bo ek"]));
        assert_eq!(
            names("von Max Muster; Erika / X | Y & Z"),
            set(&["max muster", "erika", "x", "y", "z"])
        );
        assert_eq!(
            names("Sandra Anderson"),
            set(&["sandra anderson"]),
            "and inside a word"
        );
    }

    #[test]
    fn days_are_the_leading_date() {
        assert_eq!(
            day(Some("2024-01-02T23:00:00-05:00")),
            Some("2024-01-02".into())
        );
        assert_eq!(day(Some(" 2024-01-02")), Some("2024-01-02".into()));
        assert_eq!(day(Some("02.01.2024")), None);
        assert_eq!(day(None), None);
    }

    #[test]
    fn the_score_line_has_score_py_shape() {
        let g = GroupScore {
            group: "all".into(),
            title: FieldScore {
                exact: 2,
                lenient: 3,
                labelled: 3,
            },
            author: FieldScore::default(),
            date: FieldScore {
                exact: 1,
                lenient: 1,
                labelled: 8,
            },
        };
        assert_eq!(
            g.to_string(),
            "all: title=0.667(lenient 1.000, n=3) date=0.125(lenient 0.125, n=8)"
        );
    }

    #[test]
    fn a_folder_is_scored_per_field_and_origin() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("pages")).expect("pages dir");
        let page = r#"<html><head><title>Harbour reopens | Gazette</title>
<meta name="author" content="Hal Harbour">
<meta property="article:published_time" content="2024-03-02T23:30:00-05:00"></head>
<body><h1>Harbour reopens</h1></body></html>"#;
        std::fs::write(dir.path().join("pages/a.html"), page).expect("page");
        std::fs::write(
            dir.path().join("pages/b.html"),
            "<html><body></body></html>",
        )
        .expect("page");
        let labels = concat!(
            r#"{"file":"a.html","url":"https://g.example/a","origin":"x","title":"Harbour Reopens","author":"By Hal Harbour","date":"2024-03-02","description":null}"#,
            "\n",
            r#"{"file":"b.html","url":null,"origin":"y","title":"Something","author":null,"date":null,"description":null}"#,
            "\n"
        );
        std::fs::write(dir.path().join("labels.jsonl"), labels).expect("labels");
        let eval = evaluate(dir.path(), None, &mut |_, _| {}).expect("scores");
        assert_eq!(
            eval.predictions[0].date.as_deref(),
            Some("2024-03-02T23:30:00-05:00"),
            "the page's offset is kept"
        );
        let all = &eval.groups[0];
        assert_eq!(
            all.title,
            FieldScore {
                exact: 1,
                lenient: 1,
                labelled: 2
            }
        );
        assert_eq!(
            all.author,
            FieldScore {
                exact: 1,
                lenient: 1,
                labelled: 1
            }
        );
        assert_eq!(
            all.date,
            FieldScore {
                exact: 1,
                lenient: 1,
                labelled: 1
            }
        );
        let groups: Vec<&str> = eval.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(groups, ["all", "x", "y"]);
    }

    #[test]
    fn halves_come_from_a_stable_hash_of_the_host() {
        // The properties the split relies on: `www.` and case do not matter, both halves
        // are used, and the hash is FNV-1a's (the empty string hashes to its odd basis).
        assert_eq!(half_of("www.Example.com"), half_of("example.com"));
        let hosts = [
            "a.example",
            "b.example",
            "c.example",
            "d.example",
            "e.example",
        ];
        let a = hosts.iter().filter(|h| half_of(h) == Half::A).count();
        assert!(a > 0 && a < hosts.len(), "both halves are used");
        // The empty host hashes to the FNV offset basis, which is odd.
        assert_eq!(half_of(""), Half::B);
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c, even.
        assert_eq!(half_of("a"), Half::A);
    }

    #[test]
    fn rules_are_credited_with_the_pages_they_decided() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("pages")).expect("pages dir");
        let page = |day: &str| {
            format!(
                r#"<html><head><meta property="article:published_time" content="{day}T10:00:00Z">
</head><body></body></html>"#
            )
        };
        std::fs::write(dir.path().join("pages/a.html"), page("2024-03-02")).expect("page");
        std::fs::write(dir.path().join("pages/b.html"), page("2024-03-03")).expect("page");
        std::fs::write(dir.path().join("pages/c.html"), "<p>x</p>").expect("page");
        let labels = concat!(
            r#"{"file":"a.html","url":null,"origin":"x","title":null,"author":null,"date":"2024-03-02"}"#,
            "\n",
            r#"{"file":"b.html","url":null,"origin":"x","title":null,"author":null,"date":"2024-01-01"}"#,
            "\n",
            r#"{"file":"c.html","url":null,"origin":"x","title":null,"author":null,"date":"2024-01-01"}"#,
            "\n"
        );
        std::fs::write(dir.path().join("labels.jsonl"), labels).expect("labels");
        let eval = evaluate(dir.path(), None, &mut |_, _| {}).expect("scores");
        let rule = |field: &'static str, rule: &'static str, decided, right| RuleScore {
            field,
            rule,
            decided,
            right,
        };
        assert_eq!(
            eval.rules,
            [rule("date", "metadata", 2, 1), rule("date", "(none)", 1, 0)]
        );
        assert_eq!(eval.times.len(), 3);
        assert!(eval.time_quantile(0.5).is_some());
    }

    #[test]
    fn lenient_counts_a_title_containing_the_other_and_overlapping_authors() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("pages")).expect("pages dir");
        let page = r#"<html><head><title>Harbour reopens after the storm</title>
<meta name="author" content="Hal Harbour, Ann Lee"></head><body></body></html>"#;
        std::fs::write(dir.path().join("pages/c.html"), page).expect("page");
        std::fs::write(dir.path().join("pages/d.html"), "<p>x</p>").expect("page");
        let labels = concat!(
            r#"{"file":"c.html","url":null,"origin":"x","title":"Harbour reopens","author":"Hal Harbour","date":null,"description":null}"#,
            "\n",
            r#"{"file":"d.html","url":null,"origin":"x","title":"Bare page","author":"Nobody","date":"2024-01-01","description":null}"#,
            "\n"
        );
        std::fs::write(dir.path().join("labels.jsonl"), labels).expect("labels");
        let eval = evaluate(dir.path(), None, &mut |_, _| {}).expect("scores");
        let all = &eval.groups[0];
        let score = |exact, lenient, labelled| FieldScore {
            exact,
            lenient,
            labelled,
        };
        assert_eq!(
            all.title,
            score(0, 1, 2),
            "only the lenient figure counts c"
        );
        assert_eq!(all.author, score(0, 1, 2));
        assert_eq!(all.date, score(0, 0, 1), "no prediction counts wrong");
    }
}
