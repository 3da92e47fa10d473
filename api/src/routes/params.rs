//! Query-string access that refuses malformed encodings with a JSON 400.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The query string's parameters, the first value of each name kept.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// The raw value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        if let Some(query) = parts.uri.query() {
            if query.len() > 4096 {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "the query string is too long",
                ));
            }
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Ok(Self(map))
    }
}
