//! The worker's integration tests that run in-process (and `extract_cli`, which runs the
//! built binary once per test and needs no setup): one binary, one module per subject.
//! The scenarios with real worker processes are the `processes` binary.
//!
//! - `scraper`: what a scrape finds in feeds, listings and sitemaps, and how it fails;
//! - `polite`: the scraper's manners (robots.txt, rate limits, retries, conditional requests,
//!   compression, body caps), with limits shared through Redis when `TEST_REDIS_URL` is set;
//! - `polite_store`: the fetch cache the scraper keeps, on SQLite and PostgreSQL;
//! - `extract_cli`: the `extract` command as an operator runs it;
//! - `backfill_cli`: the `backfill` command as an operator runs it;
//! - `extract_no_panic`: the page path never panics (property tests).

mod support;

mod backfill_cli;
mod extract_cli;
mod extract_no_panic;
mod polite;
mod polite_store;
mod scraper;
