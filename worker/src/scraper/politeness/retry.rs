//! When to try a request again: exponential backoff with jitter, and `Retry-After`.
//!
//! Guarantees: [`backoff`] never exceeds its cap and is never zero; [`retry_after`] reads
//! both forms of the header (delta seconds and HTTP date, past dates meaning "now") and
//! ignores anything else.

use std::time::{Duration, SystemTime};

use rand::RngExt as _;

/// The delay before retry number `attempt` (0 for the first retry): `base · 2^attempt`,
/// capped at `cap`, then "equal jitter" (a uniform pick in its upper half), so that workers
/// that failed together do not retry together.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base
        .saturating_mul(2_u32.saturating_pow(attempt.min(20)))
        .min(cap)
        .max(Duration::from_millis(1));
    let half = exp / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
    (half + Duration::from_millis(jitter)).min(cap.max(Duration::from_millis(1)))
}

/// The wait a `Retry-After` header value asks for, relative to `now`: delta seconds
/// (`"120"`) or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, RFC 850 and asctime forms
/// too). A date in the past is a zero wait; anything unparsable is `None`.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..30 {
            let d = backoff(attempt, base, cap);
            assert!(d <= cap, "attempt {attempt}: {d:?}");
            assert!(d > Duration::ZERO);
            let full = base
                .saturating_mul(2_u32.saturating_pow(attempt.min(20)))
                .min(cap);
            assert!(
                d >= full / 2,
                "attempt {attempt}: {d:?} below half of {full:?}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("soon", now), None);
    }
}
