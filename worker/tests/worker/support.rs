//! What the scraper tests share: the scraper configuration they start from.

use std::time::Duration;

use mediawarm_worker::scraper::ScraperConfig;

/// Loopback allowed (the scripted sites listen on 127.0.0.1), short timeouts, and retries
/// quick enough for a test.
pub(crate) fn config() -> ScraperConfig {
    ScraperConfig {
        allow_loopback: true,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry_base: Duration::from_millis(20),
        retry_max_delay: Duration::from_millis(100),
        ..ScraperConfig::default()
    }
}
