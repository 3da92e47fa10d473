//! Logging for the binaries: `tracing` output on stderr (stdout stays free for command output
//! such as `mediawarm-worker extract`), filtered by `RUST_LOG`, as text (colours only on a
//! terminal) or, with `LOG_FORMAT=json`, one JSON object per line carrying the event's fields
//! and those of every enclosing span (`request_id`, `job_id`, `source`, …).

use std::io::IsTerminal as _;

/// The filter when `RUST_LOG` is unset: our logs at `info`, chatty dependencies at `warn`.
const DEFAULT_FILTER: &str = "info,tower_http=warn,sqlx=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `LOG_FORMAT` holds something other than `text` or `json`.
#[derive(Debug, thiserror::Error)]
#[error("LOG_FORMAT must be `text` or `json`, not {0:?}")]
pub struct LogFormatError(String);

impl LogFormat {
    /// Parses `LOG_FORMAT` (case-insensitive; unset or empty is `text`).
    pub fn parse(value: Option<&str>) -> Result<Self, LogFormatError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(Self::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(Self::Json),
            Some(other) => Err(LogFormatError(other.to_owned())),
        }
    }
}

/// Installs the process-wide subscriber in the format `LOG_FORMAT` names. Call once, first
/// thing in `main`; an unknown format is an error (the binary should stop).
pub fn init() -> Result<(), LogFormatError> {
    let format = LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_parses_known_values_and_names_a_bad_one() {
        assert_eq!(LogFormat::parse(None).unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse(Some("")).unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse(Some("JSON")).unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("text")).unwrap(), LogFormat::Text);
        let error = LogFormat::parse(Some("yaml")).unwrap_err().to_string();
        assert!(
            error.contains("yaml") && error.contains("LOG_FORMAT"),
            "{error}"
        );
    }
}
