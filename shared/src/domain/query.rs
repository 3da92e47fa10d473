//! Small query parameters shared by the read views: page size, interval, time zone, dates.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use crate::error::DomainError;

/// A page size from 1 to 100; 20 when the client gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit(u32);

impl Limit {
    /// The largest page a client may ask for.
    pub const MAX: u32 = 100;
    /// The page size when the client gives none.
    pub const DEFAULT: Limit = Limit(20);

    /// Parses a client-supplied limit.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.parse::<u32>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(DomainError::InvalidLimit(raw.chars().take(40).collect())),
        }
    }

    /// Builds a limit from a number already known to be in range.
    pub fn new(n: u32) -> Result<Self, DomainError> {
        Self::parse(&n.to_string())
    }

    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Parses a client-supplied offset: a whole number from 0 to `i64::MAX` (what the databases
/// can skip).
pub fn parse_offset(raw: &str) -> Result<u64, DomainError> {
    raw.parse::<i64>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| DomainError::InvalidOffset(raw.chars().take(40).collect()))
}

/// The years (in UTC) a client-supplied date may fall in: what both databases store and
/// what every time zone can align buckets in, with room for a few weeks of arithmetic on
/// either side.
pub const SUPPORTED_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Whether `t` falls in [`SUPPORTED_YEARS`].
pub fn in_supported_range(t: DateTime<Utc>) -> bool {
    SUPPORTED_YEARS.contains(&t.year())
}

/// The width of a volume bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    /// One bucket per clock hour in the requested time zone.
    Hour,
    /// One bucket per calendar day in the requested time zone.
    Day,
}

impl Interval {
    /// `hour` or `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

impl FromStr for Interval {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            other => Err(DomainError::InvalidInterval(
                other.chars().take(40).collect(),
            )),
        }
    }
}

/// An IANA time zone (`Europe/Paris`), UTC by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    /// Coordinated Universal Time.
    pub const UTC: Timezone = Timezone(chrono_tz::UTC);

    /// Parses an IANA name.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| DomainError::InvalidTimezone(raw.chars().take(64).collect()))
    }

    /// The zone itself.
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Parses a `from`/`to` bound: RFC 3339, or `YYYY-MM-DD` meaning that day's first instant
    /// in this zone (or, with `end_of_day`, the first instant of the next day).
    ///
    /// The instant returned is always within [`SUPPORTED_YEARS`] (in UTC), so a caller may
    /// add or subtract weeks from it without overflow; any other date, however well formed,
    /// is refused with [`DomainError::DateOutOfRange`].
    pub fn parse_bound(self, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, DomainError> {
        let shown = || raw.chars().take(64).collect::<String>();
        let out_of_range = || DomainError::DateOutOfRange(shown());
        let t = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            t.with_timezone(&Utc)
        } else {
            let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| DomainError::InvalidDate(shown()))?;
            if !SUPPORTED_YEARS.contains(&date.year()) {
                return Err(out_of_range());
            }
            let date = if end_of_day {
                date.succ_opt().ok_or_else(out_of_range)?
            } else {
                date
            };
            self.start_of_day(date).ok_or_else(out_of_range)?
        };
        if in_supported_range(t) {
            Ok(t)
        } else {
            Err(out_of_range())
        }
    }

    /// The first instant of `date` in this zone (midnight, or the first valid time after a
    /// gap when midnight does not exist that day); `None` when that instant cannot be
    /// represented.
    pub fn start_of_day(self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let midnight = date.and_hms_opt(0, 0, 0)?;
        (0..=4 * 24)
            .map_while(|q| midnight.checked_add_signed(chrono::Duration::minutes(15 * q)))
            .find_map(|t| self.0.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_accepts_1_to_100() {
        assert_eq!(Limit::parse("1").map(Limit::get), Ok(1));
        assert_eq!(Limit::parse("100").map(Limit::get), Ok(100));
    }

    #[test]
    fn limit_refuses_0_101_negative_and_text() {
        for bad in ["0", "101", "-1", "abc", "", "1.5", "99999999999"] {
            assert!(Limit::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn offset_refuses_negative_and_text() {
        assert_eq!(parse_offset("0"), Ok(0));
        assert!(parse_offset("-1").is_err());
        assert!(parse_offset("x").is_err());
        assert_eq!(parse_offset("9223372036854775807"), Ok(i64::MAX as u64));
        assert!(parse_offset("9223372036854775808").is_err());
    }

    #[test]
    fn interval_is_hour_or_day() {
        assert_eq!("hour".parse::<Interval>(), Ok(Interval::Hour));
        assert_eq!("day".parse::<Interval>(), Ok(Interval::Day));
        assert!("week".parse::<Interval>().is_err());
    }

    #[test]
    fn timezone_accepts_iana_names_only() {
        assert_eq!(
            Timezone::parse("Europe/Paris").map(Timezone::name),
            Ok("Europe/Paris")
        );
        assert!(Timezone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn a_date_bound_is_midnight_in_the_zone() {
        let paris = Timezone::parse("Europe/Paris").unwrap();
        let from = paris.parse_bound("2026-01-10", false).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-01-09T23:00:00+00:00");
        let to = paris.parse_bound("2026-01-10", true).unwrap();
        assert_eq!(to.to_rfc3339(), "2026-01-10T23:00:00+00:00");
    }

    #[test]
    fn an_rfc3339_bound_keeps_its_instant() {
        let t = Timezone::UTC
            .parse_bound("2026-01-10T05:30:00+02:00", false)
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-10T03:30:00+00:00");
    }

    #[test]
    fn dates_outside_the_supported_years_are_refused_not_overflowed() {
        let paris = Timezone::parse("Pacific/Kiritimati").unwrap();
        for raw in [
            "+262142-12-31",
            "-262143-01-01",
            "0000-01-01",
            "10000-01-01",
            "9999-12-31",
            "+262143-12-31T23:59:59Z",
        ] {
            for end_of_day in [false, true] {
                for tz in [Timezone::UTC, paris] {
                    let parsed = tz.parse_bound(raw, end_of_day);
                    if let Ok(t) = parsed {
                        assert!(in_supported_range(t), "{raw:?} gave {t}");
                    } else {
                        assert!(
                            matches!(
                                parsed,
                                Err(DomainError::DateOutOfRange(_) | DomainError::InvalidDate(_))
                            ),
                            "{raw:?}: {parsed:?}"
                        );
                    }
                }
            }
        }
        assert!(matches!(
            Timezone::UTC.parse_bound("+262142-12-31", false),
            Err(DomainError::DateOutOfRange(_))
        ));
        assert!(Timezone::UTC.parse_bound("0001-01-01", false).is_ok());
    }

    #[test]
    fn the_start_of_the_last_representable_day_does_not_overflow() {
        let last = NaiveDate::MAX;
        let _ = Timezone::parse("Pacific/Kiritimati")
            .unwrap()
            .start_of_day(last);
        let _ = Timezone::UTC.start_of_day(NaiveDate::MIN);
    }

    #[test]
    fn unparsable_dates_are_refused() {
        for bad in ["yesterday", "2026-13-01", "2026-01-10T25:00:00Z", ""] {
            assert!(Timezone::UTC.parse_bound(bad, false).is_err(), "{bad:?}");
        }
    }
}
