//! Logging for the binaries: structured `tracing` output on stderr (stdout stays free for
//! command output such as `mediawarm-worker extract`), filtered by `RUST_LOG`.

/// The filter when `RUST_LOG` is unset: our logs at `info`, chatty dependencies at `warn`.
const DEFAULT_FILTER: &str = "info,tower_http=warn,sqlx=warn";

/// Installs the process-wide subscriber. Call once, first thing in `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| DEFAULT_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
