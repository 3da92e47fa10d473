//! Source definitions as they arrive from outside (a POST or PATCH body, a `SOURCES_FILE`
//! entry), parsed into [`SourceSpec`] before anything else sees them.
//!
//! Guarantees: a [`SourceSpec`] can only be built by [`SourceSpec::parse`], so holding one
//! means every rule held: a valid name; a scrapable kind (never `import`); an `http`/`https`
//! URL with a host, no credentials and at most [`MAX_URL_LEN`] characters; CSS selectors that
//! parse (and `links` for `html` sources); a cron schedule that parses (with a seconds
//! field); a finite rate limit in `(0, 100]`. [`SourcePatch::apply`] re-checks the whole
//! patched definition, so a patch can never produce a source a POST would refuse.
//! Unknown fields are refused at deserialization (`deny_unknown_fields`).

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Selectors, Source, SourceKind, SourceName};
use crate::error::DomainError;

/// The longest start URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// The highest per-host rate limit accepted, in requests per second.
pub const MAX_RATE_LIMIT_PER_SEC: f64 = 100.0;

/// The rate limit a definition gets when it names none.
pub const DEFAULT_RATE_LIMIT_PER_SEC: f64 = 1.0;

/// The longest CSS selector accepted, in bytes.
pub const MAX_SELECTOR_LEN: usize = 1024;

const ECHO_LEN: usize = 200;

/// A source definition refused by validation. Each variant names the field it concerns
/// (see [`SourceInputError::field`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SourceInputError {
    /// The name is not a valid source name.
    #[error(transparent)]
    Name(DomainError),
    /// A PATCH tried to rename the source.
    #[error(
        "a source's name cannot be changed (from {from:?} to {to:?}): create the new source, then delete the old one"
    )]
    NameNotPatchable {
        /// The current name.
        from: String,
        /// The name asked for.
        to: String,
    },
    /// The kind is not one of the known kinds.
    #[error("invalid source kind {0:?}: expected rss, atom, html or sitemap")]
    Kind(String),
    /// The kind is `import`, which only `mediawarm-api import` creates.
    #[error(
        "kind \"import\" cannot be given: import sources are created by mediawarm-api import; use rss, atom, html or sitemap"
    )]
    ImportKind,
    /// The start URL is refused.
    #[error("invalid url {url:?}: {reason}")]
    Url {
        /// The URL given (truncated).
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// A CSS selector does not parse.
    #[error("invalid selectors.{field} {selector:?}: {reason}")]
    Selector {
        /// Which selector (`links`, `title`, `author`, `date`, `summary`).
        field: &'static str,
        /// The selector given (truncated).
        selector: String,
        /// Why it is refused.
        reason: String,
    },
    /// The schedule is not a cron expression with a seconds field.
    #[error(
        "invalid schedule {schedule:?}: {reason}; expected cron with a seconds field, e.g. \"0 */15 * * * *\""
    )]
    Schedule {
        /// The schedule given (truncated).
        schedule: String,
        /// What the cron parser said.
        reason: String,
    },
    /// The rate limit is not a finite number in `(0, 100]`.
    #[error("invalid rate_limit_per_sec {0}: expected a number above 0 and at most 100")]
    RateLimit(f64),
}

impl SourceInputError {
    /// The input field the error concerns, as spelled in JSON and TOML
    /// (`selectors.links` for a selector).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Name(_) | Self::NameNotPatchable { .. } => "name",
            Self::Kind(_) | Self::ImportKind => "kind",
            Self::Url { .. } => "url",
            Self::Selector { field, .. } => match *field {
                "links" => "selectors.links",
                "title" => "selectors.title",
                "author" => "selectors.author",
                "date" => "selectors.date",
                _ => "selectors.summary",
            },
            Self::Schedule { .. } => "schedule",
            Self::RateLimit(_) => "rate_limit_per_sec",
        }
    }
}

fn echo(raw: &str) -> String {
    raw.chars().take(ECHO_LEN).collect()
}

/// A start URL: `http` or `https`, with a host, without credentials, at most
/// [`MAX_URL_LEN`] bytes. Held in the URL parser's normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SourceUrl(String);

impl SourceUrl {
    /// Parses and normalises a start URL, refusing anything but `http`/`https` with a host
    /// and no user name or password.
    pub fn parse(raw: &str) -> Result<Self, SourceInputError> {
        let refuse = |reason: &str| SourceInputError::Url {
            url: echo(raw),
            reason: reason.to_owned(),
        };
        if raw.len() > MAX_URL_LEN {
            return Err(refuse(&format!("longer than {MAX_URL_LEN} bytes")));
        }
        let url = url::Url::parse(raw).map_err(|e| refuse(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("only http and https URLs can be scraped"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("the URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("credentials in URLs are not accepted"));
        }
        let normalised = String::from(url);
        if normalised.len() > MAX_URL_LEN {
            return Err(refuse(&format!("longer than {MAX_URL_LEN} bytes")));
        }
        Ok(Self(normalised))
    }

    /// The URL as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SourceUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SourceUrl {
    type Err = SourceInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for SourceUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// CSS selectors as given, before they are parsed; unknown names are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SelectorsInput {
    /// Links to article pages on the listing page.
    #[serde(default)]
    pub links: Option<String>,
    /// The headline on an article page.
    #[serde(default)]
    pub title: Option<String>,
    /// The byline.
    #[serde(default)]
    pub author: Option<String>,
    /// The publication date.
    #[serde(default)]
    pub date: Option<String>,
    /// The lede or description.
    #[serde(default)]
    pub summary: Option<String>,
}

impl From<Selectors> for SelectorsInput {
    fn from(s: Selectors) -> Self {
        Self {
            links: s.links,
            title: s.title,
            author: s.author,
            date: s.date,
            summary: s.summary,
        }
    }
}

impl SelectorsInput {
    /// Checks every present selector; `None` when none is present.
    fn validate(self) -> Result<Option<Selectors>, SourceInputError> {
        let check = |field: &'static str, raw: Option<String>| {
            raw.map(|selector| {
                let refuse = |reason: String| SourceInputError::Selector {
                    field,
                    selector: echo(&selector),
                    reason,
                };
                if selector.len() > MAX_SELECTOR_LEN {
                    return Err(refuse(format!("longer than {MAX_SELECTOR_LEN} bytes")));
                }
                match scraper::Selector::parse(&selector) {
                    Ok(_) => Ok(selector),
                    Err(e) => Err(refuse(e.to_string())),
                }
            })
            .transpose()
        };
        let selectors = Selectors {
            links: check("links", self.links)?,
            title: check("title", self.title)?,
            author: check("author", self.author)?,
            date: check("date", self.date)?,
            summary: check("summary", self.summary)?,
        };
        Ok((selectors != Selectors::default()).then_some(selectors))
    }
}

/// A source definition as given in a POST body or a `SOURCES_FILE` entry, before
/// validation. Unknown fields are refused; `name`, `kind` and `url` are required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = NewSource))]
pub struct SourceSpecInput {
    /// The source's unique name.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub name: String,
    /// `rss`, `atom`, `html` or `sitemap`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(rss|atom|html|sitemap)$"))]
    pub kind: String,
    /// The start URL (http or https).
    pub url: String,
    /// CSS selectors; absent or `null` for none.
    #[serde(default)]
    pub selectors: Option<SelectorsInput>,
    /// Cron schedule with a seconds field; absent or `null` for never scheduled.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Requests per second against the source's host; default 1.
    #[serde(default)]
    pub rate_limit_per_sec: Option<f64>,
    /// Whether the scheduler runs it; default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A validated definition of a scrapable source (see the module documentation for the
/// rules). Build it with [`SourceSpec::parse`]; turn it into a stored [`Source`] with
/// [`SourceSpec::to_source`].
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    name: SourceName,
    kind: SourceKind,
    url: SourceUrl,
    selectors: Option<Selectors>,
    schedule: Option<String>,
    rate_limit_per_sec: f64,
    enabled: bool,
}

impl SourceSpec {
    /// Validates a definition; the first rule it breaks is the error.
    pub fn parse(input: SourceSpecInput) -> Result<Self, SourceInputError> {
        let name = SourceName::parse(&input.name).map_err(SourceInputError::Name)?;
        let kind = parse_kind(&input.kind)?;
        let url = SourceUrl::parse(&input.url)?;
        let selectors = input
            .selectors
            .map(SelectorsInput::validate)
            .transpose()?
            .flatten();
        let schedule = input.schedule.map(|s| parse_schedule(&s)).transpose()?;
        let rate_limit_per_sec = input
            .rate_limit_per_sec
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_SEC);
        if !(rate_limit_per_sec.is_finite()
            && rate_limit_per_sec > 0.0
            && rate_limit_per_sec <= MAX_RATE_LIMIT_PER_SEC)
        {
            return Err(SourceInputError::RateLimit(rate_limit_per_sec));
        }
        Ok(Self {
            name,
            kind,
            url,
            selectors,
            schedule,
            rate_limit_per_sec,
            enabled: input.enabled.unwrap_or(true),
        })
    }

    /// The source's unique name.
    pub fn name(&self) -> &SourceName {
        &self.name
    }

    /// How it is scraped (never [`SourceKind::Import`]).
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The normalised start URL.
    pub fn url(&self) -> &SourceUrl {
        &self.url
    }

    /// The CSS selectors, `None` when none was given.
    pub fn selectors(&self) -> Option<&Selectors> {
        self.selectors.as_ref()
    }

    /// The cron schedule (trimmed), `None` when never scheduled.
    pub fn schedule(&self) -> Option<&str> {
        self.schedule.as_deref()
    }

    /// Requests per second allowed against the source's host.
    pub fn rate_limit_per_sec(&self) -> f64 {
        self.rate_limit_per_sec
    }

    /// Whether the scheduler runs it.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The source row this definition describes.
    pub fn to_source(&self) -> Source {
        self.clone().into()
    }
}

impl From<SourceSpec> for Source {
    fn from(spec: SourceSpec) -> Self {
        Self {
            name: spec.name,
            kind: spec.kind,
            url: spec.url.0,
            selectors: spec.selectors,
            schedule: spec.schedule,
            rate_limit_per_sec: spec.rate_limit_per_sec,
            enabled: spec.enabled,
        }
    }
}

impl TryFrom<SourceSpecInput> for SourceSpec {
    type Error = SourceInputError;
    fn try_from(input: SourceSpecInput) -> Result<Self, Self::Error> {
        Self::parse(input)
    }
}

impl<'de> Deserialize<'de> for SourceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let input = SourceSpecInput::deserialize(d)?;
        Self::parse(input).map_err(serde::de::Error::custom)
    }
}

fn parse_kind(raw: &str) -> Result<SourceKind, SourceInputError> {
    match raw.parse::<SourceKind>() {
        Ok(SourceKind::Import) => Err(SourceInputError::ImportKind),
        Ok(kind) => Ok(kind),
        Err(_) => Err(SourceInputError::Kind(echo(raw))),
    }
}

fn parse_schedule(raw: &str) -> Result<String, SourceInputError> {
    let trimmed = raw.trim();
    let fields = trimmed.split_whitespace().count();
    let reason = match cron::Schedule::from_str(trimmed) {
        Ok(_) => return Ok(trimmed.to_owned()),
        Err(_) if !trimmed.starts_with('@') && !(6..=7).contains(&fields) => {
            format!("it has {fields} fields, a schedule needs 6 or 7 (seconds first)")
        }
        Err(e) => {
            let detail = e.to_string();
            let detail: Vec<&str> = detail.split_whitespace().collect();
            format!("not a valid cron expression ({})", detail.join(" "))
        }
    };
    Err(SourceInputError::Schedule {
        schedule: echo(raw),
        reason,
    })
}

/// A PATCH body: every field optional; absent fields keep their value. `selectors` and
/// `schedule` can be set to `null` to remove them; `selectors` replaces the whole set (no
/// per-selector merge). `name` may be given only if it is the current name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SourceChanges))]
pub struct SourcePatch {
    /// Must equal the current name when given; names cannot change.
    #[serde(default)]
    pub name: Option<String>,
    /// A new kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// A new start URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `null` removes the selectors and a set replaces them; absent keeps them.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SelectorsInput>))]
    pub selectors: Option<Option<SelectorsInput>>,
    /// `null` unschedules and a cron expression sets a new schedule; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub schedule: Option<Option<String>>,
    /// A new rate limit.
    #[serde(default)]
    pub rate_limit_per_sec: Option<f64>,
    /// Enables or disables the schedule.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Deserializes a field that is present (possibly `null`) as `Some(value)`, so that
/// `#[serde(default)]` leaves an absent field `None`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl SourcePatch {
    /// The source after the patch, validated as a whole exactly like a POST body. An
    /// `import` source stays refused (kind `import`) until the patch gives it a scrapable
    /// kind and a URL.
    pub fn apply(&self, current: &Source) -> Result<Source, SourceInputError> {
        if let Some(name) = &self.name
            && name != current.name.as_str()
        {
            return Err(SourceInputError::NameNotPatchable {
                from: current.name.to_string(),
                to: echo(name),
            });
        }
        let input = SourceSpecInput {
            name: current.name.to_string(),
            kind: self
                .kind
                .clone()
                .unwrap_or_else(|| current.kind.as_str().to_owned()),
            url: self.url.clone().unwrap_or_else(|| current.url.clone()),
            selectors: self
                .selectors
                .clone()
                .unwrap_or_else(|| current.selectors.clone().map(SelectorsInput::from)),
            schedule: self
                .schedule
                .clone()
                .unwrap_or_else(|| current.schedule.clone()),
            rate_limit_per_sec: Some(
                self.rate_limit_per_sec
                    .unwrap_or(current.rate_limit_per_sec),
            ),
            enabled: Some(self.enabled.unwrap_or(current.enabled)),
        };
        SourceSpec::parse(input).map(Source::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SourceSpecInput {
        SourceSpecInput {
            name: "gazette".to_owned(),
            kind: "rss".to_owned(),
            url: "https://gazette.example/feed.xml".to_owned(),
            ..SourceSpecInput::default()
        }
    }

    fn html_input(links: Option<&str>) -> SourceSpecInput {
        SourceSpecInput {
            kind: "html".to_owned(),
            selectors: Some(SelectorsInput {
                links: links.map(str::to_owned),
                title: Some("h1".to_owned()),
                ..SelectorsInput::default()
            }),
            ..input()
        }
    }

    fn parse(input: SourceSpecInput) -> Result<SourceSpec, SourceInputError> {
        SourceSpec::parse(input)
    }

    #[test]
    fn a_minimal_definition_gets_the_defaults() {
        let spec = parse(input()).unwrap();
        assert_eq!(spec.name().as_str(), "gazette");
        assert_eq!(spec.kind(), SourceKind::Rss);
        assert_eq!(spec.url().as_str(), "https://gazette.example/feed.xml");
        assert_eq!(spec.selectors(), None);
        assert_eq!(spec.schedule(), None);
        assert_eq!(spec.rate_limit_per_sec(), 1.0);
        assert!(spec.enabled());
    }

    #[test]
    fn the_name_must_be_a_source_name() {
        let err = parse(SourceSpecInput {
            name: "Bad Name".to_owned(),
            ..input()
        })
        .unwrap_err();
        assert!(matches!(err, SourceInputError::Name(_)), "{err:?}");
        assert_eq!(err.field(), "name");
    }

    #[test]
    fn the_kind_must_be_known() {
        for kind in ["json", "", "RSS"] {
            let err = parse(SourceSpecInput {
                kind: kind.to_owned(),
                ..input()
            })
            .unwrap_err();
            assert!(matches!(err, SourceInputError::Kind(_)), "{kind}: {err:?}");
        }
        for kind in ["rss", "atom", "sitemap"] {
            let spec = parse(SourceSpecInput {
                kind: kind.to_owned(),
                ..input()
            })
            .unwrap();
            assert_eq!(spec.kind().as_str(), kind);
        }
    }

    #[test]
    fn the_import_kind_is_refused() {
        let err = parse(SourceSpecInput {
            kind: "import".to_owned(),
            ..input()
        })
        .unwrap_err();
        assert_eq!(err, SourceInputError::ImportKind);
        assert_eq!(err.field(), "kind");
    }

    #[test]
    fn the_url_must_be_http_or_https() {
        for url in ["ftp://x", "file:///etc/passwd", "javascript:alert(1)"] {
            let err = SourceUrl::parse(url).unwrap_err();
            assert!(matches!(err, SourceInputError::Url { .. }), "{url}");
        }
        assert!(SourceUrl::parse("http://x.example").is_ok());
    }

    #[test]
    fn the_url_must_have_a_host() {
        for url in ["http://", "https://", "not a url", ""] {
            assert!(SourceUrl::parse(url).is_err(), "{url:?}");
        }
    }

    #[test]
    fn the_url_must_not_carry_credentials() {
        for url in ["https://user@x.example/", "https://user:pw@x.example/"] {
            let err = SourceUrl::parse(url).unwrap_err();
            assert!(err.to_string().contains("credentials"), "{url}: {err}");
        }
    }

    #[test]
    fn the_url_is_at_most_2048_bytes() {
        let base = "https://x.example/";
        let ok = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        assert!(SourceUrl::parse(&ok).is_ok());
        let long = format!("{ok}a");
        assert!(SourceUrl::parse(&long).is_err());
    }

    #[test]
    fn the_url_is_normalised() {
        let url = SourceUrl::parse("HTTPS://Gazette.Example").unwrap();
        assert_eq!(url.as_str(), "https://gazette.example/");
    }

    #[test]
    fn every_present_selector_must_parse() {
        for field in ["links", "title", "author", "date", "summary"] {
            let mut selectors = SelectorsInput::default();
            let slot = match field {
                "links" => &mut selectors.links,
                "title" => &mut selectors.title,
                "author" => &mut selectors.author,
                "date" => &mut selectors.date,
                _ => &mut selectors.summary,
            };
            *slot = Some("a[".to_owned());
            let err = parse(SourceSpecInput {
                selectors: Some(selectors),
                ..input()
            })
            .unwrap_err();
            assert!(
                matches!(err, SourceInputError::Selector { field: f, .. } if f == field),
                "{field}: {err:?}"
            );
            assert_eq!(err.field(), format!("selectors.{field}"));
        }
        assert!(parse(html_input(Some("a.story, h2 > a"))).is_ok());
    }

    #[test]
    fn an_empty_selector_is_refused() {
        let err = parse(html_input(Some(""))).unwrap_err();
        assert!(matches!(err, SourceInputError::Selector { .. }), "{err:?}");
    }

    #[test]
    fn an_empty_selector_set_is_no_selectors() {
        let spec = parse(SourceSpecInput {
            selectors: Some(SelectorsInput::default()),
            ..input()
        })
        .unwrap();
        assert_eq!(spec.selectors(), None);
    }

    #[test]
    fn html_sources_may_leave_links_to_feed_discovery() {
        let spec = parse(html_input(None)).unwrap();
        assert_eq!(spec.kind(), SourceKind::Html);
        assert_eq!(spec.selectors().and_then(|s| s.links.as_deref()), None);
    }

    #[test]
    fn the_schedule_must_be_cron_with_seconds() {
        for bad in ["* * *", "0 */15 * * *", "every minute", "", "61 * * * * *"] {
            let err = parse(SourceSpecInput {
                schedule: Some(bad.to_owned()),
                ..input()
            })
            .unwrap_err();
            assert!(
                matches!(err, SourceInputError::Schedule { .. }),
                "{bad:?}: {err:?}"
            );
        }
        for good in ["0 */15 * * * *", "0 0 6 * * Mon-Fri 2030", " 0 * * * * * "] {
            let spec = parse(SourceSpecInput {
                schedule: Some(good.to_owned()),
                ..input()
            })
            .unwrap();
            assert_eq!(spec.schedule(), Some(good.trim()));
        }
    }

    #[test]
    fn the_rate_limit_must_be_finite_positive_and_at_most_100() {
        for bad in [0.0, -1.0, 1e9, 100.01, f64::NAN, f64::INFINITY] {
            let err = parse(SourceSpecInput {
                rate_limit_per_sec: Some(bad),
                ..input()
            })
            .unwrap_err();
            assert!(matches!(err, SourceInputError::RateLimit(_)), "{bad}");
        }
        for good in [0.01, 2.5, 100.0] {
            let spec = parse(SourceSpecInput {
                rate_limit_per_sec: Some(good),
                ..input()
            })
            .unwrap();
            assert_eq!(spec.rate_limit_per_sec(), good);
        }
    }

    #[test]
    fn enabled_defaults_to_true_and_can_be_false() {
        let spec = parse(SourceSpecInput {
            enabled: Some(false),
            ..input()
        })
        .unwrap();
        assert!(!spec.enabled());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"name":"g","kind":"rss","url":"https://g.example","extra":1}"#;
        assert!(serde_json::from_str::<SourceSpecInput>(json).is_err());
        let json =
            r#"{"name":"g","kind":"rss","url":"https://g.example","selectors":{"link":"a"}}"#;
        assert!(serde_json::from_str::<SourceSpecInput>(json).is_err());
        assert!(serde_json::from_str::<SourcePatch>(r#"{"colour":"red"}"#).is_err());
    }

    #[test]
    fn a_spec_deserializes_through_validation() {
        let json =
            r#"{"name":"g","kind":"rss","url":"https://g.example/f","rate_limit_per_sec":2}"#;
        let spec: SourceSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.rate_limit_per_sec(), 2.0);
        let bad = r#"{"name":"g","kind":"rss","url":"ftp://x"}"#;
        assert!(serde_json::from_str::<SourceSpec>(bad).is_err());
    }

    #[test]
    fn to_source_carries_every_field() {
        let spec = parse(SourceSpecInput {
            schedule: Some("0 0 * * * *".to_owned()),
            rate_limit_per_sec: Some(3.0),
            enabled: Some(false),
            ..html_input(Some("a.story"))
        })
        .unwrap();
        let source = spec.to_source();
        assert_eq!(source.name.as_str(), "gazette");
        assert_eq!(source.kind, SourceKind::Html);
        assert_eq!(source.url, "https://gazette.example/feed.xml");
        assert_eq!(
            source.selectors.as_ref().and_then(|s| s.links.as_deref()),
            Some("a.story")
        );
        assert_eq!(source.schedule.as_deref(), Some("0 0 * * * *"));
        assert_eq!(source.rate_limit_per_sec, 3.0);
        assert!(!source.enabled);
    }

    fn current() -> Source {
        parse(SourceSpecInput {
            schedule: Some("0 0 * * * *".to_owned()),
            ..html_input(Some("a.story"))
        })
        .unwrap()
        .to_source()
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        let patched = SourcePatch::default().apply(&current()).unwrap();
        assert_eq!(patched, current());
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let patch: SourcePatch =
            serde_json::from_str(r#"{"enabled":false,"rate_limit_per_sec":5}"#).unwrap();
        let patched = patch.apply(&current()).unwrap();
        assert!(!patched.enabled);
        assert_eq!(patched.rate_limit_per_sec, 5.0);
        assert_eq!(patched.schedule, current().schedule);
        assert_eq!(patched.selectors, current().selectors);
    }

    #[test]
    fn a_patch_null_removes_schedule_and_selectors() {
        let patch: SourcePatch =
            serde_json::from_str(r#"{"kind":"rss","schedule":null,"selectors":null}"#).unwrap();
        let patched = patch.apply(&current()).unwrap();
        assert_eq!(patched.schedule, None);
        assert_eq!(patched.selectors, None);
        assert_eq!(patched.kind, SourceKind::Rss);
    }

    #[test]
    fn a_patch_revalidates_the_whole_result() {
        let patch: SourcePatch = serde_json::from_str(r#"{"url":"ftp://x"}"#).unwrap();
        assert!(matches!(
            patch.apply(&current()).unwrap_err(),
            SourceInputError::Url { .. }
        ));
        let patch: SourcePatch = serde_json::from_str(r#"{"rate_limit_per_sec":0}"#).unwrap();
        assert!(matches!(
            patch.apply(&current()).unwrap_err(),
            SourceInputError::RateLimit(_)
        ));
        let patch: SourcePatch = serde_json::from_str(r#"{"url":"http://"}"#).unwrap();
        assert!(matches!(
            patch.apply(&current()).unwrap_err(),
            SourceInputError::Url { .. }
        ));
    }

    #[test]
    fn a_patch_cannot_rename() {
        let patch: SourcePatch = serde_json::from_str(r#"{"name":"other"}"#).unwrap();
        let err = patch.apply(&current()).unwrap_err();
        assert!(matches!(err, SourceInputError::NameNotPatchable { .. }));
        let same: SourcePatch = serde_json::from_str(r#"{"name":"gazette"}"#).unwrap();
        assert!(same.apply(&current()).is_ok());
    }

    #[test]
    fn an_import_source_becomes_scrapable_only_with_kind_and_url() {
        let import = Source::import(SourceName::parse("legacy").unwrap());
        let enable_only: SourcePatch = serde_json::from_str(r#"{"enabled":false}"#).unwrap();
        assert_eq!(
            enable_only.apply(&import).unwrap_err(),
            SourceInputError::ImportKind
        );
        let convert: SourcePatch =
            serde_json::from_str(r#"{"kind":"atom","url":"https://legacy.example/atom"}"#).unwrap();
        let patched = convert.apply(&import).unwrap();
        assert_eq!(patched.kind, SourceKind::Atom);
    }
}
