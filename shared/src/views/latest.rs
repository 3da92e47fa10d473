//! Pages of the newest articles: `media:latest:limit=20,source=_,page=first`.
//!
//! Cursor pages are keyset pages on `(sort_at, id)` descending: no SQL `OFFSET`, no
//! duplicates or gaps while new articles arrive. A date correction (`mediawarm-worker
//! backfill`) moves `sort_at`, so a cursor handed out before it may skip or repeat an
//! article it moved. Offset pages stay for compatibility.

use bytes::Bytes;
use serde::Serialize;

use super::{
    Fields, ViewContext, ViewError, ensure_source, parse_source_field, source_field, to_json,
};
use crate::domain::{Article, Limit, SortKey, SourceName};
use crate::store::Store;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest articles (cursor mode's first page; the default).
    First,
    /// The articles right after this position (a decoded cursor).
    After(SortKey),
    /// Skip this many articles (offset mode).
    Offset(u64),
}

/// `GET /api/v1/media/latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestQuery {
    /// Page size.
    pub limit: Limit,
    /// Only this source, or every source.
    pub source: Option<SourceName>,
    /// Where the page starts.
    pub page: Page,
}

/// The body of `GET /api/v1/media/latest`: a page of the latest articles, newest first.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestPage {
    /// The articles.
    pub items: Vec<Article>,
    /// The page size.
    pub limit: u32,
    /// Present in offset mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = u64, required = false))]
    pub offset: Option<u64>,
    /// Pass back as `cursor` for the next page; null on the last page (and in offset mode).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

impl LatestQuery {
    pub(super) fn key_string(&self) -> String {
        let page = match self.page {
            Page::First => "first".to_owned(),
            Page::After(k) => format!("after.{}.{}", k.sort_at_us, k.id),
            Page::Offset(n) => format!("offset.{n}"),
        };
        format!(
            "media:latest:limit={},source={},page={page}",
            self.limit.get(),
            source_field(self.source.as_ref())
        )
    }

    pub(super) fn from_fields(mut f: Fields<'_>) -> Result<Self, String> {
        let limit = Limit::parse(f.take("limit")?).map_err(|e| e.to_string())?;
        let source = parse_source_field(f.take("source")?)?;
        let page = match f.take("page")?.split('.').collect::<Vec<_>>().as_slice() {
            ["first"] => Page::First,
            ["after", sort, id] => Page::After(SortKey {
                sort_at_us: sort.parse().map_err(|_| "bad sort position")?,
                id: id.parse().map_err(|_| "bad id")?,
            }),
            ["offset", n] => Page::Offset(n.parse().map_err(|_| "bad offset")?),
            _ => return Err("page is first, after.<sort>.<id> or offset.<n>".to_owned()),
        };
        f.finish()?;
        Ok(Self {
            limit,
            source,
            page,
        })
    }

    pub(super) async fn compute(
        &self,
        store: &Store,
        ctx: &ViewContext,
    ) -> Result<Bytes, ViewError> {
        ensure_source(store, self.source.as_ref()).await?;
        let limit = self.limit.get();
        let mut rows = match self.page {
            Page::First => {
                store
                    .latest_after(self.source.as_ref(), None, limit + 1)
                    .await?
            }
            Page::After(k) => {
                store
                    .latest_after(self.source.as_ref(), Some(k), limit + 1)
                    .await?
            }
            Page::Offset(n) => {
                store
                    .latest_offset(self.source.as_ref(), n, limit + 1)
                    .await?
            }
        };
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = has_more
            .then(|| rows.last().map(|a| ctx.cursors.encode(a.sort_key())))
            .flatten();
        let offset = match self.page {
            Page::Offset(n) => Some(n),
            _ => None,
        };
        Ok(to_json(&LatestPage {
            items: rows,
            limit,
            offset,
            next_cursor,
        }))
    }
}
