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

pub use article::{Article, NewArticle, SortKey};
pub use cursor::CursorCodec;
pub use query::{Interval, Limit, Timezone, parse_offset};
pub use scrape_run::{RunCounts, RunStatus, ScrapeRun};
pub use source::{SourceKind, SourceName};
pub use source_def::{Selectors, Source};
