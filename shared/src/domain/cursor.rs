//! Opaque, tamper-evident pagination cursors.
//!
//! A cursor names the last row of a page by its keyset position `(sort_at, id)`. Clients get
//! it as an opaque token: `base64url(version ‖ sort_at_us ‖ id ‖ mac)`, where `mac` is the
//! first 12 bytes of HMAC-SHA256 over the preceding bytes with a secret every process of the
//! deployment shares (kept in the database). A token that was edited, truncated or made up
//! does not decode.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::SortKey;
use crate::error::DomainError;

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const BODY_LEN: usize = 1 + 8 + 8;
const TOKEN_LEN: usize = BODY_LEN + MAC_LEN;

/// Encodes and verifies cursor tokens with the deployment's shared secret.
#[derive(Clone)]
pub struct CursorCodec {
    /// HMAC key. Shared by every process so a cursor from one API instance works on another.
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec { key: <redacted> }")
    }
}

impl CursorCodec {
    /// A codec over `secret` (any length; 32 random bytes in practice).
    pub fn new(secret: &[u8]) -> Self {
        #[allow(clippy::expect_used)]
        let key = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self { key }
    }

    /// The token for a page that ends at `last`.
    pub fn encode(&self, last: SortKey) -> String {
        let mut buf = [0u8; TOKEN_LEN];
        buf[0] = VERSION;
        buf[1..9].copy_from_slice(&last.sort_at_us.to_be_bytes());
        buf[9..17].copy_from_slice(&last.id.to_be_bytes());
        let mut mac = self.key.clone();
        mac.update(&buf[..BODY_LEN]);
        let tag = mac.finalize().into_bytes();
        buf[BODY_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Verifies a token and returns the position it names.
    pub fn decode(&self, token: &str) -> Result<SortKey, DomainError> {
        let invalid = || DomainError::InvalidCursor;
        if token.len() > 64 {
            return Err(invalid());
        }
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() != TOKEN_LEN || raw[0] != VERSION {
            return Err(invalid());
        }
        let mut mac = self.key.clone();
        mac.update(&raw[..BODY_LEN]);
        mac.verify_truncated_left(&raw[BODY_LEN..])
            .map_err(|_| invalid())?;
        let mut sort = [0u8; 8];
        let mut id = [0u8; 8];
        sort.copy_from_slice(&raw[1..9]);
        id.copy_from_slice(&raw[9..17]);
        Ok(SortKey {
            sort_at_us: i64::from_be_bytes(sort),
            id: i64::from_be_bytes(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_cursor_round_trips() {
        let key = SortKey {
            sort_at_us: 1_700_000_000_000_000,
            id: 42,
        };
        assert_eq!(codec().decode(&codec().encode(key)), Ok(key));
    }

    #[test]
    fn a_cursor_from_another_secret_is_refused() {
        let key = SortKey {
            sort_at_us: 5,
            id: 7,
        };
        let other = CursorCodec::new(b"another secret");
        assert_eq!(
            codec().decode(&other.encode(key)),
            Err(DomainError::InvalidCursor)
        );
    }

    #[test]
    fn garbage_and_empty_cursors_are_refused() {
        for bad in ["", "abc", "!!!!", "123", &"A".repeat(200)] {
            assert!(codec().decode(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn every_single_byte_edit_is_detected(sort in any::<i64>(), id in any::<i64>(), pos in 0usize..TOKEN_LEN, flip in 1u8..=255) {
            let token = codec().encode(SortKey { sort_at_us: sort, id });
            let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
            raw[pos] ^= flip;
            prop_assert!(codec().decode(&URL_SAFE_NO_PAD.encode(raw)).is_err());
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(s in ".{0,80}") {
            let _ = codec().decode(&s);
        }

        #[test]
        fn encode_then_decode_is_identity(sort in any::<i64>(), id in any::<i64>()) {
            let key = SortKey { sort_at_us: sort, id };
            prop_assert_eq!(codec().decode(&codec().encode(key)), Ok(key));
        }
    }
}
