//! Cache keys and key patterns, parsed at the edge.
//!
//! A [`CacheKey`] is a logical key `{category}:{subcategory}:{params}`: the category is
//! `[a-z_]+`, the rest uses a small alphabet with no `@` (the service appends `@{generation}`
//! to build the stored key), no glob characters and no spaces, so a key is always safe inside
//! a Redis `SCAN MATCH` pattern and a log line.
//!
//! A [`KeyPattern`] is a Redis-style glob (`*`, `?`) over logical keys. Parsing guarantees it
//! can match keys of at least one known category, and [`KeyPattern::matching_categories`]
//! never under-reports: every category that has a key the pattern matches is returned, which
//! is what generation-based invalidation needs to stay correct.

use std::fmt;

/// The longest accepted key or pattern, in bytes.
const MAX_LEN: usize = 512;
/// The shortest accepted key, in bytes (`a:b`).
const MIN_KEY_LEN: usize = 3;

/// Why a key or a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The input was empty.
    #[error("cache key or pattern is empty")]
    Empty,
    /// A key shorter than 3 bytes or a key or pattern longer than 512 bytes.
    #[error(
        "cache key or pattern is {len} bytes long: keys need 3 to 512 bytes, patterns 1 to 512"
    )]
    Length {
        /// The length of the refused input, in bytes.
        len: usize,
    },
    /// The key does not start with a category (`[a-z_]+`) followed by `:`.
    #[error("cache key {0:?} must start with a category of a-z or '_' followed by ':'")]
    MissingCategory(String),
    /// A character outside the allowed alphabet.
    #[error(
        "character {ch:?} at byte {pos} is not allowed: use A-Z, a-z, 0-9 and : = , . _ + / % -{glob}"
    )]
    InvalidChar {
        /// The refused character.
        ch: char,
        /// Its byte offset in the input.
        pos: usize,
        /// `" * ?"` for patterns, empty for keys (part of the message only).
        glob: &'static str,
    },
    /// The pattern cannot match a key of any known category.
    #[error("pattern {0:?} matches no key of a known category")]
    UnknownCategory(String),
}

/// Whether `c` may appear in a logical key after its category.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '=' | ',' | '.' | '_' | '+' | '/' | '%' | '-')
}

/// Whether `c` may start or continue a category name.
fn is_category_char(c: char) -> bool {
    c.is_ascii_lowercase() || c == '_'
}

/// A validated logical cache key `{category}:{subcategory}:{params}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    /// The whole key.
    raw: String,
    /// Byte length of the category (the position of the first `:`).
    category_len: usize,
}

impl CacheKey {
    /// Parses a logical key: 3 to 512 bytes, a category of `[a-z_]+` then `:`, then only
    /// characters from `[A-Za-z0-9:=,._+/%-]`.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        if raw.is_empty() {
            return Err(KeyError::Empty);
        }
        if !(MIN_KEY_LEN..=MAX_LEN).contains(&raw.len()) {
            return Err(KeyError::Length { len: raw.len() });
        }
        let category_len = raw
            .find(|c: char| !is_category_char(c))
            .unwrap_or(raw.len());
        if category_len == 0 || !raw[category_len..].starts_with(':') {
            return Err(KeyError::MissingCategory(raw.to_owned()));
        }
        if let Some((pos, ch)) = raw.char_indices().find(|&(_, c)| !is_key_char(c)) {
            return Err(KeyError::InvalidChar { ch, pos, glob: "" });
        }
        Ok(Self {
            raw: raw.to_owned(),
            category_len,
        })
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The category: everything before the first `:`.
    pub fn category(&self) -> &str {
        &self.raw[..self.category_len]
    }
}

impl AsRef<str> for CacheKey {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// One element of a compiled glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Exactly this character.
    Literal(char),
    /// Any one character (`?`).
    AnyOne,
    /// Any run of characters, possibly empty (`*`).
    AnyRun,
}

/// A Redis-style glob over logical keys (`*` and `?`; no classes, no escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The pattern as given.
    raw: String,
    /// The pattern compiled once, so matching never re-parses.
    tokens: Vec<Token>,
}

impl KeyPattern {
    /// Parses a pattern: 1 to 512 bytes of key characters plus `*` and `?`, able to match a
    /// key of at least one of `known` categories (so `"*"`, `"volume:*"`, `"vol*"` pass and
    /// `"foo:*"` does not).
    pub fn parse(raw: &str, known: &[&str]) -> Result<Self, KeyError> {
        if raw.is_empty() {
            return Err(KeyError::Empty);
        }
        if raw.len() > MAX_LEN {
            return Err(KeyError::Length { len: raw.len() });
        }
        let mut tokens = Vec::with_capacity(raw.len());
        for (pos, ch) in raw.char_indices() {
            tokens.push(match ch {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                c if is_key_char(c) => Token::Literal(c),
                _ => {
                    return Err(KeyError::InvalidChar {
                        ch,
                        pos,
                        glob: " * ?",
                    });
                }
            });
        }
        let pattern = Self {
            raw: raw.to_owned(),
            tokens,
        };
        if pattern.matching_categories(known).is_empty() {
            return Err(KeyError::UnknownCategory(raw.to_owned()));
        }
        Ok(pattern)
    }

    /// The pattern as a string slice.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the whole logical `key` matches the pattern.
    pub fn matches(&self, key: &str) -> bool {
        self.run(key).contains(&self.tokens.len())
    }

    /// The categories of `known` that have at least one key this pattern can match, i.e.
    /// those `c` for which some key starting with `c:` matches. Never misses one (it may be
    /// wider than the keys actually stored).
    pub fn matching_categories<'a>(&self, known: &[&'a str]) -> Vec<&'a str> {
        known
            .iter()
            .copied()
            .filter(|category| {
                let prefix = format!("{category}:");
                !self.run(&prefix).is_empty()
            })
            .collect()
    }

    /// Runs the glob as a set of positions over `input`; the result holds every token index
    /// reachable after consuming all of it (`tokens.len()` meaning "the whole pattern").
    fn run(&self, input: &str) -> Vec<usize> {
        let mut states = self.closure(vec![0]);
        for ch in input.chars() {
            if states.is_empty() {
                break;
            }
            let mut next = Vec::with_capacity(states.len() + 1);
            for &state in &states {
                match self.tokens.get(state) {
                    Some(Token::Literal(c)) if *c == ch => next.push(state + 1),
                    Some(Token::AnyOne) => next.push(state + 1),
                    Some(Token::AnyRun) => next.push(state),
                    _ => {}
                }
            }
            states = self.closure(next);
        }
        states
    }

    /// Adds to `states` every position reachable by letting `*` match nothing, deduplicated.
    fn closure(&self, mut states: Vec<usize>) -> Vec<usize> {
        let mut i = 0;
        while i < states.len() {
            let state = states[i];
            if self.tokens.get(state) == Some(&Token::AnyRun) && !states.contains(&(state + 1)) {
                states.push(state + 1);
            }
            i += 1;
        }
        states.sort_unstable();
        states.dedup();
        states
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl serde::Serialize for CacheKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CacheKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <String as serde::Deserialize>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KNOWN: &[&str] = &["media", "volume", "simplified"];

    #[test]
    fn key_accepts_the_category_subcategory_params_shape() {
        let key = CacheKey::parse("volume:day:from=2025-01-01,to=2025-01-08,tz=Europe/Paris")
            .expect("valid key");
        assert_eq!(key.category(), "volume");
        assert_eq!(
            key.as_str(),
            "volume:day:from=2025-01-01,to=2025-01-08,tz=Europe/Paris"
        );
        assert_eq!(key.to_string(), key.as_str());
    }

    #[test]
    fn key_accepts_every_allowed_character() {
        assert!(CacheKey::parse("media_x:AZaz09:=,._+/%-").is_ok());
    }

    #[test]
    fn key_is_refused_when_empty() {
        assert_eq!(CacheKey::parse(""), Err(KeyError::Empty));
    }

    #[test]
    fn key_is_refused_when_shorter_than_3_bytes() {
        assert_eq!(CacheKey::parse("a:"), Err(KeyError::Length { len: 2 }));
    }

    #[test]
    fn key_is_refused_when_longer_than_512_bytes() {
        let raw = format!("media:{}", "x".repeat(507));
        assert_eq!(CacheKey::parse(&raw), Err(KeyError::Length { len: 513 }));
        let raw = format!("media:{}", "x".repeat(506));
        assert!(CacheKey::parse(&raw).is_ok());
    }

    #[test]
    fn key_is_refused_without_a_category_and_colon() {
        for raw in ["volume", ":volume:x", "Volume:x", "vol1:x", "9:abc"] {
            assert!(
                matches!(CacheKey::parse(raw), Err(KeyError::MissingCategory(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn key_is_refused_with_an_at_sign() {
        assert!(matches!(
            CacheKey::parse("media:latest@abc"),
            Err(KeyError::InvalidChar {
                ch: '@',
                pos: 12,
                ..
            })
        ));
    }

    #[test]
    fn key_is_refused_with_glob_characters() {
        for raw in ["media:*", "media:?", "media:[a]", "media:\\x"] {
            assert!(
                matches!(CacheKey::parse(raw), Err(KeyError::InvalidChar { .. })),
                "{raw}"
            );
        }
    }

    #[test]
    fn key_is_refused_with_spaces_or_non_ascii() {
        assert!(matches!(
            CacheKey::parse("media:a b"),
            Err(KeyError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            CacheKey::parse("media:é"),
            Err(KeyError::InvalidChar { ch: 'é', .. })
        ));
    }

    #[test]
    fn pattern_accepts_the_documented_examples() {
        for raw in [
            "*",
            "volume:*",
            "vol*",
            "media:latest:*",
            "?edia:*",
            "volume:day:x",
        ] {
            assert!(KeyPattern::parse(raw, KNOWN).is_ok(), "{raw}");
        }
    }

    #[test]
    fn pattern_is_refused_when_empty() {
        assert_eq!(KeyPattern::parse("", KNOWN), Err(KeyError::Empty));
    }

    #[test]
    fn pattern_is_refused_when_longer_than_512_bytes() {
        let raw = format!("media:{}", "*".repeat(507));
        assert_eq!(
            KeyPattern::parse(&raw, KNOWN),
            Err(KeyError::Length { len: 513 })
        );
    }

    #[test]
    fn pattern_is_refused_with_an_unknown_category() {
        for raw in ["foo:*", "volumes:*", "volume", "x*"] {
            assert!(
                matches!(
                    KeyPattern::parse(raw, KNOWN),
                    Err(KeyError::UnknownCategory(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn pattern_is_refused_with_brackets_spaces_or_at_signs() {
        for (raw, bad) in [
            ("volume[", '['),
            ("a b", ' '),
            ("media:*@*", '@'),
            ("media\\*", '\\'),
        ] {
            assert!(
                matches!(
                    KeyPattern::parse(raw, KNOWN),
                    Err(KeyError::InvalidChar { ch, .. }) if ch == bad
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn pattern_error_messages_are_for_people() {
        let message = KeyPattern::parse("foo:*", KNOWN)
            .expect_err("unknown category")
            .to_string();
        assert!(message.contains("foo:*"), "{message}");
        let message = KeyPattern::parse("a b", KNOWN)
            .expect_err("space")
            .to_string();
        assert!(message.contains("' '"), "{message}");
    }

    #[test]
    fn pattern_matches_like_a_redis_glob() {
        let pattern = KeyPattern::parse("media:latest:*", KNOWN).expect("valid");
        assert!(pattern.matches("media:latest:limit=20"));
        assert!(pattern.matches("media:latest:"));
        assert!(!pattern.matches("media:item:1"));
        let pattern = KeyPattern::parse("volume:?ay:*", KNOWN).expect("valid");
        assert!(pattern.matches("volume:day:x"));
        assert!(!pattern.matches("volume:hour:x"));
        let pattern = KeyPattern::parse("*", KNOWN).expect("valid");
        assert!(pattern.matches("simplified:all:"));
        let pattern = KeyPattern::parse("m*a*:x", KNOWN).expect("valid");
        assert!(pattern.matches("media:a:x"));
        assert!(!pattern.matches("media:a:y"));
    }

    #[test]
    fn pattern_reports_every_category_it_can_reach() {
        let cats = |raw: &str| {
            KeyPattern::parse(raw, KNOWN)
                .expect("valid")
                .matching_categories(KNOWN)
        };
        assert_eq!(cats("*"), KNOWN.to_vec());
        assert_eq!(cats("volume:*"), vec!["volume"]);
        assert_eq!(cats("vol*"), vec!["volume"]);
        assert_eq!(cats("*:latest:*"), KNOWN.to_vec());
        assert_eq!(cats("m*x"), vec!["media"]);
        assert_eq!(cats("s?mplified:*"), vec!["simplified"]);
    }

    /// The reference glob: Redis semantics for `*` and `?`, by plain backtracking.
    fn reference_glob(pattern: &[char], key: &[char]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some(('*', rest)) => (0..=key.len()).any(|skip| reference_glob(rest, &key[skip..])),
            Some(('?', rest)) => key
                .split_first()
                .is_some_and(|(_, key)| reference_glob(rest, key)),
            Some((c, rest)) => key
                .split_first()
                .is_some_and(|(k, key)| k == c && reference_glob(rest, key)),
        }
    }

    fn glob_agrees(pattern: &KeyPattern, key: &str) -> Result<(), TestCaseError> {
        let expected = reference_glob(
            &pattern.as_str().chars().collect::<Vec<_>>(),
            &key.chars().collect::<Vec<_>>(),
        );
        prop_assert_eq!(
            pattern.matches(key),
            expected,
            "pattern {:?} on key {:?}",
            pattern.as_str(),
            key
        );
        Ok(())
    }

    /// Keys over a small alphabet, so that generated patterns often match them; `vol` is
    /// no known category.
    const SMALL_KEY: &str = "(media|volume|simplified|vol):[ab:=]{0,10}";

    /// [`SMALL_KEY`]s of known categories only.
    const KNOWN_KEY: &str = "(media|volume|simplified):[ab:=]{0,10}";

    /// Patterns over the same alphabet plus the glob characters.
    const SMALL_PATTERN: &str =
        "(\\*|\\?|m\\*|vol\\*|media:|volume:|\\?edia:|s\\?mplified)?[ab:=*?]{0,8}";

    /// Turns `key` into a pattern that matches it: each character is kept, replaced by `?`,
    /// or absorbed into a `*`.
    fn pattern_from(key: &str, edits: &[u8]) -> String {
        key.chars()
            .zip(edits.iter().cycle())
            .map(|(c, edit)| match edit % 4 {
                0 => '?',
                1 => '*',
                _ => c,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn key_parse_never_panics(raw in any::<String>()) {
            let _ = CacheKey::parse(&raw);
        }

        #[test]
        fn key_parse_never_panics_near_the_length_limits(raw in "[a-z_]{0,3}:?[ -~]{0,600}") {
            if let Ok(key) = CacheKey::parse(&raw) {
                prop_assert!((MIN_KEY_LEN..=MAX_LEN).contains(&key.as_str().len()));
            }
        }

        #[test]
        fn pattern_parse_never_panics(raw in any::<String>()) {
            let _ = KeyPattern::parse(&raw, KNOWN);
        }

        #[test]
        fn pattern_parse_never_panics_on_glob_like_text(raw in "[a-z:*?\\[\\]@ -]{0,40}") {
            if let Ok(pattern) = KeyPattern::parse(&raw, KNOWN) {
                prop_assert_eq!(pattern.as_str(), raw.as_str());
                prop_assert!(!pattern.matching_categories(KNOWN).is_empty());
            }
        }

        #[test]
        fn a_parsed_key_round_trips(raw in "[a-z_]{1,12}:[A-Za-z0-9:=,._+/%-]{1,200}") {
            let key = CacheKey::parse(&raw).expect("generated keys are valid");
            prop_assert_eq!(key.as_str(), raw.as_str());
            prop_assert_eq!(key.to_string(), raw.clone());
            prop_assert_eq!(Some(key.category()), raw.split(':').next());
            prop_assert_eq!(CacheKey::parse(key.as_str()), Ok(key.clone()));
            let json = serde_json::to_string(&key).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<CacheKey>(&json).expect("deserialises"), key);
        }

        #[test]
        fn matches_agrees_with_a_reference_glob(pattern in SMALL_PATTERN, key in SMALL_KEY) {
            if let Ok(pattern) = KeyPattern::parse(&pattern, KNOWN) {
                glob_agrees(&pattern, &key)?;
            }
        }

        #[test]
        fn a_pattern_made_from_a_key_matches_it(
            key in KNOWN_KEY,
            other in SMALL_KEY,
            edits in proptest::collection::vec(any::<u8>(), 1..16),
        ) {
            let raw = pattern_from(&key, &edits);
            let pattern = KeyPattern::parse(&raw, KNOWN).expect("it can match a known category");
            prop_assert!(pattern.matches(&key), "{raw:?} should match {key:?}");
            glob_agrees(&pattern, &key)?;
            glob_agrees(&pattern, &other)?;
        }

        #[test]
        fn matching_categories_never_misses_the_category_of_a_matched_key(
            pattern in SMALL_PATTERN,
            key in SMALL_KEY,
        ) {
            if let Ok(pattern) = KeyPattern::parse(&pattern, KNOWN)
                && pattern.matches(&key)
            {
                let category = CacheKey::parse(&key).expect("valid key").category().to_owned();
                if KNOWN.contains(&category.as_str()) {
                    prop_assert!(
                        pattern.matching_categories(KNOWN).contains(&category.as_str()),
                        "{:?} matches {key:?} but does not report {category:?}",
                        pattern.as_str()
                    );
                }
            }
        }
    }
}
