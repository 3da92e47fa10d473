//! The `SOURCES_FILE`: a TOML file of `[[source]]` tables that seeds source definitions.
//!
//! ```toml
//! [[source]]
//! name = "gazette"
//! kind = "html"
//! url = "https://gazette.example/news"
//! schedule = "0 */15 * * * *"
//! rate_limit_per_sec = 0.5
//! [source.selectors]
//! links = "a.story"
//! ```
//!
//! Each table takes exactly the fields of a `POST /api/v1/sources` body and the same rules
//! ([`SourceSpec`]). Guarantees: [`parse_sources_file`] accepts the whole file or nothing,
//! and its error names the entry (0-based `source[i]`) and the field; names are unique
//! within a file. [`apply_sources_file`] creates missing sources and updates changed ones,
//! and never deletes or disables a source the file does not name.

use serde::Deserialize;
use serde_path_to_error::Segment;

use crate::domain::{SourceSpec, SourceSpecInput};
use crate::error::StoreError;
use crate::store::Store;

/// Why a sources file was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SourcesFileError {
    /// The text is not valid TOML, or its top level is not `[[source]]` tables.
    #[error("sources file: {0}")]
    Syntax(String),
    /// An entry is malformed or breaks a source rule.
    #[error("sources file: source[{index}].{field}: {message}")]
    Entry {
        /// The entry's 0-based position among the `[[source]]` tables.
        index: usize,
        /// The field at fault, as spelled in the file (`selectors.links` for a selector).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two entries share a name.
    #[error("sources file: source[{index}].name: {name:?} is already defined by source[{first}]")]
    DuplicateName {
        /// The later entry's 0-based position.
        index: usize,
        /// The earlier entry's 0-based position.
        first: usize,
        /// The repeated name.
        name: String,
    },
}

/// What [`apply_sources_file`] did, in numbers of sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourcesFileReport {
    /// Sources that did not exist (or were deleted) and were created.
    pub created: usize,
    /// Sources whose stored definition differed and was replaced.
    pub updated: usize,
    /// Sources already stored exactly as the file defines them.
    pub unchanged: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: Vec<SourceSpecInput>,
}

/// Parses and validates a sources file; the whole file or an error naming the first
/// entry and field at fault.
pub fn parse_sources_file(text: &str) -> Result<Vec<SourceSpec>, SourcesFileError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| SourcesFileError::Syntax(one_line(&e)))?;
    let raw: RawFile = serde_path_to_error::deserialize(deserializer).map_err(locate)?;
    let mut specs: Vec<SourceSpec> = Vec::with_capacity(raw.source.len());
    for (index, input) in raw.source.into_iter().enumerate() {
        let spec = SourceSpec::parse(input).map_err(|e| SourcesFileError::Entry {
            index,
            field: e.field().to_owned(),
            message: e.to_string(),
        })?;
        if let Some(first) = specs.iter().position(|s| s.name() == spec.name()) {
            return Err(SourcesFileError::DuplicateName {
                index,
                first,
                name: spec.name().to_string(),
            });
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Turns a deserialization error into an entry error when its path reaches into an entry.
fn locate(err: serde_path_to_error::Error<toml::de::Error>) -> SourcesFileError {
    let mut index = None;
    let mut keys: Vec<String> = Vec::new();
    for segment in err.path().iter() {
        match segment {
            Segment::Seq { index: i } if index.is_none() => index = Some(*i),
            Segment::Map { key } if index.is_some() => keys.push(key.clone()),
            _ => {}
        }
    }
    let message = one_line(err.inner());
    let Some(index) = index else {
        return SourcesFileError::Syntax(message);
    };
    let field = if keys.is_empty() {
        named_field(&message).unwrap_or_else(|| "(entry)".to_owned())
    } else {
        keys.join(".")
    };
    SourcesFileError::Entry {
        index,
        field,
        message,
    }
}

/// The field a serde "missing field `x`" or "unknown field `x`" message names.
fn named_field(message: &str) -> Option<String> {
    ["missing field `", "unknown field `"]
        .iter()
        .find_map(|lead| message.split_once(lead))
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(field, _)| field.to_owned())
}

fn one_line(err: &toml::de::Error) -> String {
    let text = err.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_owned();
    match err.message() {
        m if m.is_empty() || first.contains(m) => first,
        m => format!("{first}: {m}"),
    }
}

/// Makes the store hold every source of `specs`: creates missing names (reviving deleted
/// ones), replaces definitions that differ, and leaves every other source alone.
///
/// Each source is written on its own; a failure part-way leaves the earlier ones written,
/// and running the file again finishes the job.
#[tracing::instrument(skip_all, fields(sources = specs.len()), err)]
pub async fn apply_sources_file(
    store: &Store,
    specs: &[SourceSpec],
) -> Result<SourcesFileReport, StoreError> {
    let mut report = SourcesFileReport::default();
    for spec in specs {
        let wanted = spec.to_source();
        match store.get_source(spec.name()).await? {
            None => {
                store.insert_source(&wanted).await?;
                report.created += 1;
            }
            Some(current) if current == wanted => report.unchanged += 1,
            Some(_) if store.update_source(&wanted).await? => report.updated += 1,
            Some(_) => {
                store.insert_source(&wanted).await?;
                report.created += 1;
            }
        }
    }
    tracing::info!(
        created = report.created,
        updated = report.updated,
        unchanged = report.unchanged,
        "sources file applied"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;

    const VALID: &str = r#"
        [[source]]
        name = "gazette"
        kind = "html"
        url = "https://gazette.example/news"
        schedule = "0 */15 * * * *"
        rate_limit_per_sec = 0.5
        [source.selectors]
        links = "a.story"
        title = "h1"

        [[source]]
        name = "herald"
        kind = "rss"
        url = "https://herald.example/feed.xml"
        rate_limit_per_sec = 2
        enabled = false
    "#;

    fn entry_error(text: &str) -> (usize, String, String) {
        match parse_sources_file(text) {
            Err(SourcesFileError::Entry {
                index,
                field,
                message,
            }) => (index, field, message),
            other => panic!("expected an entry error, got {other:?}"),
        }
    }

    fn with_second(extra: &str) -> String {
        format!(
            "[[source]]\nname = \"ok\"\nkind = \"rss\"\nurl = \"https://ok.example/\"\n\n\
             [[source]]\n{extra}\n"
        )
    }

    #[test]
    fn a_valid_file_parses_every_entry() {
        let specs = parse_sources_file(VALID).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name().as_str(), "gazette");
        assert_eq!(specs[0].kind(), SourceKind::Html);
        assert_eq!(specs[0].schedule(), Some("0 */15 * * * *"));
        assert_eq!(specs[0].rate_limit_per_sec(), 0.5);
        assert_eq!(
            specs[0].selectors().and_then(|s| s.title.as_deref()),
            Some("h1")
        );
        assert_eq!(specs[1].rate_limit_per_sec(), 2.0);
        assert!(!specs[1].enabled());
    }

    #[test]
    fn an_empty_file_has_no_sources() {
        assert_eq!(parse_sources_file("").unwrap(), Vec::new());
        assert_eq!(parse_sources_file("# nothing\n").unwrap(), Vec::new());
    }

    #[test]
    fn a_toml_syntax_error_is_refused() {
        let err = parse_sources_file("[[source]\nname = 1").unwrap_err();
        assert!(matches!(err, SourcesFileError::Syntax(_)), "{err:?}");
    }

    #[test]
    fn an_unknown_top_level_key_is_refused() {
        let err = parse_sources_file("[[sources]]\nname = \"x\"\n").unwrap_err();
        assert!(matches!(err, SourcesFileError::Syntax(_)), "{err:?}");
    }

    #[test]
    fn an_unknown_field_names_its_entry_and_field() {
        let (index, field, _) = entry_error(&with_second(
            "name = \"b\"\nkind = \"rss\"\nurl = \"https://b.example\"\ncolour = \"red\"",
        ));
        assert_eq!((index, field.as_str()), (1, "colour"));
    }

    #[test]
    fn a_missing_field_names_its_entry_and_field() {
        let (index, field, _) = entry_error(&with_second("name = \"b\"\nkind = \"rss\""));
        assert_eq!((index, field.as_str()), (1, "url"));
    }

    #[test]
    fn a_wrongly_typed_field_names_its_entry_and_field() {
        let (index, field, _) = entry_error(&with_second(
            "name = \"b\"\nkind = \"rss\"\nurl = \"https://b.example\"\nrate_limit_per_sec = \"fast\"",
        ));
        assert_eq!((index, field.as_str()), (1, "rate_limit_per_sec"));
    }

    #[test]
    fn an_unknown_selector_names_its_entry_and_field() {
        let (index, field, _) = entry_error(&with_second(
            "name = \"b\"\nkind = \"html\"\nurl = \"https://b.example\"\n[source.selectors]\nlink = \"a\"",
        ));
        assert_eq!(index, 1);
        assert!(field.starts_with("selectors"), "{field}");
    }

    #[test]
    fn each_rule_violation_names_its_entry_and_field() {
        let cases = [
            (
                "name = \"B\"\nkind = \"rss\"\nurl = \"https://b.example\"",
                "name",
            ),
            (
                "name = \"b\"\nkind = \"import\"\nurl = \"https://b.example\"",
                "kind",
            ),
            (
                "name = \"b\"\nkind = \"json\"\nurl = \"https://b.example\"",
                "kind",
            ),
            ("name = \"b\"\nkind = \"rss\"\nurl = \"ftp://x\"", "url"),
            (
                "name = \"b\"\nkind = \"html\"\nurl = \"https://b.example\"\nselectors = { links = \"a[\" }",
                "selectors.links",
            ),
            (
                "name = \"b\"\nkind = \"rss\"\nurl = \"https://b.example\"\nschedule = \"* * *\"",
                "schedule",
            ),
            (
                "name = \"b\"\nkind = \"rss\"\nurl = \"https://b.example\"\nrate_limit_per_sec = 0",
                "rate_limit_per_sec",
            ),
            (
                "name = \"b\"\nkind = \"rss\"\nurl = \"https://b.example\"\nrate_limit_per_sec = nan",
                "rate_limit_per_sec",
            ),
        ];
        for (entry, expected) in cases {
            let (index, field, message) = entry_error(&with_second(entry));
            assert_eq!((index, field.as_str()), (1, expected), "{entry}: {message}");
        }
    }

    #[test]
    fn a_duplicate_name_is_refused() {
        let err = parse_sources_file(&with_second(
            "name = \"ok\"\nkind = \"atom\"\nurl = \"https://ok.example/atom\"",
        ))
        .unwrap_err();
        assert_eq!(
            err,
            SourcesFileError::DuplicateName {
                index: 1,
                first: 0,
                name: "ok".to_owned()
            }
        );
    }

    #[test]
    fn errors_display_the_entry_and_field() {
        let err = parse_sources_file(&with_second(
            "name = \"b\"\nkind = \"rss\"\nurl = \"ftp://x\"",
        ))
        .unwrap_err();
        assert!(
            err.to_string().starts_with("sources file: source[1].url: "),
            "{err}"
        );
    }
}
