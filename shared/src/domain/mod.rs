//! Domain types, parsed once at the edge.
//!
//! Every value that enters the system from outside (a query string, a JSONL line, a TOML
//! file) is turned into one of these types before any other code sees it; past that point the
//! rest of the code handles only valid values.

mod article;
mod cursor;
mod query;
mod scrape_run;
mod source;
mod source_def;
mod source_input;

pub use article::{
    Article, ArticleRefused, MAX_AUTHOR_CHARS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, MAX_URL_BYTES,
    NewArticle, SortKey, cut_chars,
};
pub use cursor::CursorCodec;
pub use query::{Interval, Limit, SUPPORTED_YEARS, Timezone, in_supported_range, parse_offset};
pub use scrape_run::{ErrorClass, RunCounts, RunStatus, ScrapeRun, SkippedPage};
pub use source::{SourceKind, SourceName};
pub use source_def::{Selectors, Source};
pub use source_input::{
    DEFAULT_RATE_LIMIT_PER_SEC, MAX_RATE_LIMIT_PER_SEC, MAX_SELECTOR_LEN, MAX_URL_LEN,
    SelectorsInput, SourceInputError, SourcePatch, SourceSpec, SourceSpecInput, SourceUrl,
};
