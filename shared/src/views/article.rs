//! One article by id: `media:article:id=42`.

use bytes::Bytes;

use super::{Fields, ViewError, to_json};
use crate::store::Store;

/// `GET /api/v1/media/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleQuery {
    /// The article id.
    pub id: i64,
}

impl ArticleQuery {
    pub(super) fn key_string(&self) -> String {
        format!("media:article:id={}", self.id)
    }

    pub(super) fn from_fields(mut f: Fields<'_>) -> Result<Self, String> {
        let id = f.take("id")?.parse().map_err(|_| "id is not a number")?;
        f.finish()?;
        Ok(Self { id })
    }

    pub(super) async fn compute(&self, store: &Store) -> Result<Bytes, ViewError> {
        let article = store
            .article(self.id)
            .await?
            .ok_or(ViewError::NotFound(self.id))?;
        Ok(to_json(&article))
    }
}
