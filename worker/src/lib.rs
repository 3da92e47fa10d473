//! # mediawarm-worker
//!
//! The side of mediawarm that writes: apalis workers that scrape sources, upsert articles,
//! then invalidate the derived cache keys and rewarm the hot ones; and the cron scheduler
//! that enqueues scrapes.
//!
//! ## Layout
//! - `scraper`: fetching (one shared HTTP client), feeds, listings and article extraction.

pub mod scraper;
