//! Selection: which of the start URL's links a run fetches, between discovery and the
//! article pages.
//!
//! Guarantees: only links on the start URL's site are kept, at most [`MAX_CANDIDATES`] of
//! them in discovery order; without `refresh`, a page the store already holds is dropped
//! unless the feed or sitemap says it changed after it was stored, and such a changed page
//! comes with its stored validators so that it is fetched conditionally; at most the
//! run's cap of pages is selected, and the selection says whether the cap left any out.

use std::collections::HashMap;

use mediawarm_shared::domain::ErrorClass;
use mediawarm_shared::store::{FetchRecord, Store};
use url::Url;

use super::article::Candidate;
use super::fetch::Validators;
use super::urls::same_site;
use super::{MAX_CANDIDATES, ScrapeError};

/// The pages a run fetches.
#[derive(Debug)]
pub(super) struct Selection {
    /// In discovery order.
    pub(super) candidates: Vec<Candidate>,
    /// Stored validators of the known pages among them, by URL.
    pub(super) validators: HashMap<String, Validators>,
    /// The per-run cap left no page out.
    pub(super) complete: bool,
}

/// Selects from `candidates` what a run fetches, at most `max_per_run` pages. Fails
/// (transient) only when the store cannot say which pages it knows.
pub(super) async fn select(
    store: &Store,
    start: &Url,
    candidates: Vec<Candidate>,
    refresh: bool,
    max_per_run: usize,
) -> Result<Selection, ScrapeError> {
    let mut candidates = on_site(start, candidates);
    let found = candidates.len();
    let validators = if refresh || candidates.is_empty() {
        HashMap::new()
    } else {
        skip_known(store, &mut candidates).await?
    };
    let complete = candidates.len() <= max_per_run;
    candidates.truncate(max_per_run);
    tracing::debug!(found, to_fetch = candidates.len(), "article links");
    Ok(Selection {
        candidates,
        validators,
        complete,
    })
}

/// The candidates on `start`'s site, at most [`MAX_CANDIDATES`], in order.
fn on_site(start: &Url, mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    let before = candidates.len();
    candidates.retain(|c| same_site(start, &c.url));
    if candidates.len() < before {
        tracing::debug!(
            skipped = before - candidates.len(),
            "links to other hosts skipped"
        );
    }
    candidates.truncate(MAX_CANDIDATES);
    candidates
}

/// Drops the candidates the store holds, except those whose hints say they changed after
/// they were stored; returns the stored validators of those kept known pages.
async fn skip_known(
    store: &Store,
    candidates: &mut Vec<Candidate>,
) -> Result<HashMap<String, Validators>, ScrapeError> {
    let urls: Vec<String> = candidates.iter().map(|c| c.url.to_string()).collect();
    let known = store.known_article_times(&urls).await.map_err(|e| {
        ScrapeError::Transient(
            ErrorClass::DatabaseError,
            format!("looking up known URLs: {e}"),
        )
    })?;
    candidates.retain(|c| match known.get(c.url.as_str()) {
        None => true,
        Some(stored) => c.hints.updated.is_some_and(|updated| updated > *stored),
    });
    let changed: Vec<String> = candidates
        .iter()
        .filter(|c| known.contains_key(c.url.as_str()))
        .map(|c| c.url.to_string())
        .collect();
    if changed.is_empty() {
        return Ok(HashMap::new());
    }
    tracing::debug!(changed = changed.len(), "known pages the feed says changed");
    Ok(lookup_records(store, &changed)
        .await
        .into_iter()
        .map(|(url, r)| {
            let v = Validators {
                etag: r.etag,
                last_modified: r.last_modified,
            };
            (url, v)
        })
        .collect())
}

/// The stored fetch records of `urls`; a store that cannot answer means none (a full fetch).
pub(super) async fn lookup_records(store: &Store, urls: &[String]) -> HashMap<String, FetchRecord> {
    store.fetch_records(urls).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "reading validators failed; fetching in full");
        HashMap::new()
    })
}
