//! Operator authentication: `Authorization: Bearer <OPERATOR_TOKEN>`.
//!
//! The token is compared in constant time (over SHA-256 digests, so neither the content nor
//! the length leaks through timing), and is never logged after start-up.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The secret operators present. Holds only its digest.
#[derive(Clone)]
pub struct OperatorToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(<redacted>)")
    }
}

impl OperatorToken {
    /// A token from its configured value.
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// A fresh random token (64 hex characters), returned with its value so it can be shown
    /// once.
    pub fn generate() -> (Self, String) {
        let bytes: [u8; 32] = rand::rng().random();
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        (Self::new(&value), value)
    }

    /// Whether `candidate` is the token.
    pub fn verify(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

/// The shortest operator token production mode accepts, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why `serve` refuses to start with the operator token it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Production mode without a token.
    #[error(
        "OPERATOR_TOKEN is unset but {0} is set (production mode): set OPERATOR_TOKEN to a secret of at least {MIN_TOKEN_CHARS} characters, the same for every API process"
    )]
    Missing(&'static str),
    /// Production mode with a guessable token.
    #[error(
        "OPERATOR_TOKEN is {0} characters long but {1} is set (production mode): it must be at least {MIN_TOKEN_CHARS}"
    )]
    TooShort(usize, &'static str),
}

/// The operator token a `serve` process runs with.
#[derive(Debug)]
pub enum TokenChoice {
    /// The configured token.
    Configured(OperatorToken),
    /// No token was configured in embedded mode: a random one, with its value to log once.
    Generated(OperatorToken, String),
}

impl OperatorToken {
    /// The token to serve with. `production` names the first variable that selects
    /// production mode (`DATABASE_URL`, `REDIS_URL`, `QUEUE_REDIS_URL`), if any: there, a
    /// token must be configured and at least [`MIN_TOKEN_CHARS`] long, since every process
    /// must share it and a per-process random one would lock operators out of all but one.
    /// In embedded mode an unset (or empty) token is generated.
    pub fn choose(
        configured: Option<&str>,
        production: Option<&'static str>,
    ) -> Result<TokenChoice, TokenError> {
        match (configured.filter(|t| !t.is_empty()), production) {
            (None, Some(variable)) => Err(TokenError::Missing(variable)),
            (Some(token), Some(variable)) if token.chars().count() < MIN_TOKEN_CHARS => {
                Err(TokenError::TooShort(token.chars().count(), variable))
            }
            (Some(token), _) => Ok(TokenChoice::Configured(Self::new(token))),
            (None, None) => {
                let (token, value) = Self::generate();
                Ok(TokenChoice::Generated(token, value))
            }
        }
    }
}

/// Proof that the request carries the operator token; take it as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl Operator {
    /// Whether `headers` carry the operator token: for the public reads that show the
    /// operator more.
    pub(crate) fn present(headers: &HeaderMap, state: &AppState) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, token)| state.operator.verify(token.trim()))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if Self::present(&parts.headers, state) {
            Ok(Operator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_token_verifies_and_others_do_not() {
        let token = OperatorToken::new("s3cret");
        assert!(token.verify("s3cret"));
        assert!(!token.verify("s3cre"));
        assert!(!token.verify(""));
        assert!(!token.verify("s3cret "));
    }

    #[test]
    fn production_needs_a_configured_token_of_16_characters() {
        assert_eq!(
            OperatorToken::choose(None, Some("REDIS_URL")).unwrap_err(),
            TokenError::Missing("REDIS_URL")
        );
        assert_eq!(
            OperatorToken::choose(Some(""), Some("DATABASE_URL")).unwrap_err(),
            TokenError::Missing("DATABASE_URL")
        );
        let short = OperatorToken::choose(Some("ééééééééééééé15"), Some("QUEUE_REDIS_URL"));
        assert_eq!(
            short.unwrap_err(),
            TokenError::TooShort(15, "QUEUE_REDIS_URL")
        );
        assert!(
            TokenError::TooShort(15, "QUEUE_REDIS_URL")
                .to_string()
                .contains("OPERATOR_TOKEN")
        );
        match OperatorToken::choose(Some("0123456789abcdef"), Some("DATABASE_URL")) {
            Ok(TokenChoice::Configured(token)) => assert!(token.verify("0123456789abcdef")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn embedded_mode_generates_a_token_or_takes_any_configured_one() {
        match OperatorToken::choose(None, None) {
            Ok(TokenChoice::Generated(token, value)) => assert!(token.verify(&value)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            OperatorToken::choose(Some("t"), None),
            Ok(TokenChoice::Configured(_))
        ));
    }

    #[test]
    fn generated_tokens_differ_and_verify() {
        let (a, va) = OperatorToken::generate();
        let (_, vb) = OperatorToken::generate();
        assert_ne!(va, vb);
        assert_eq!(va.len(), 64);
        assert!(a.verify(&va));
    }
}
