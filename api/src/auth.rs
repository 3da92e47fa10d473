//! Operator authentication: `Authorization: Bearer <OPERATOR_TOKEN>`.
//!
//! The token is compared in constant time (over SHA-256 digests, so neither the content nor
//! the length leaks through timing), and is never logged after start-up.

use axum::extract::FromRequestParts;
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

/// Proof that the request carries the operator token; take it as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(token) if state.operator.verify(token) => Ok(Operator),
            _ => Err(ApiError::Unauthorized),
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
    fn generated_tokens_differ_and_verify() {
        let (a, va) = OperatorToken::generate();
        let (_, vb) = OperatorToken::generate();
        assert_ne!(va, vb);
        assert_eq!(va.len(), 64);
        assert!(a.verify(&va));
    }
}
