use chrono::DateTime;
use proptest::prelude::*;

use super::*;
use crate::domain::{Interval, Limit, SortKey, Timezone};

fn source_strategy() -> impl Strategy<Value = Option<SourceName>> {
    proptest::option::of("[a-z0-9][a-z0-9_-]{0,20}".prop_map(|s| SourceName::parse(&s).unwrap()))
}

fn tz_strategy() -> impl Strategy<Value = Timezone> {
    prop::sample::select(vec![
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Etc/GMT+5",
        "Pacific/Chatham",
    ])
    .prop_map(|n| Timezone::parse(n).unwrap())
}

fn view_strategy() -> impl Strategy<Value = View> {
    let latest = (
        1u32..=100,
        source_strategy(),
        0u8..3,
        any::<i64>(),
        any::<i64>(),
        any::<u64>(),
    )
        .prop_map(|(limit, source, mode, sort, id, offset)| {
            let page = match mode {
                0 => Page::First,
                1 => Page::After(SortKey {
                    sort_at_us: sort,
                    id,
                }),
                _ => Page::Offset(offset),
            };
            View::Latest(LatestQuery {
                limit: Limit::new(limit).unwrap(),
                source,
                page,
            })
        });
    let article = any::<i64>().prop_map(|id| View::Article(ArticleQuery { id }));
    let volume = (
        prop::bool::ANY,
        tz_strategy(),
        source_strategy(),
        prop::option::of((0i64..4_000_000_000, 0i64..2_000 * 3600)),
    )
        .prop_map(|(hourly, tz, source, bounds)| {
            let interval = if hourly {
                Interval::Hour
            } else {
                Interval::Day
            };
            let range = match bounds {
                None => VolumeRange::LastWeek,
                Some((from, len)) => VolumeRange::Between {
                    from: DateTime::from_timestamp(from, 0).unwrap(),
                    to: DateTime::from_timestamp(from + len / 2, 0).unwrap(),
                },
            };
            View::Volume(VolumeQuery::new(interval, tz, source, range).unwrap())
        });
    let simplified =
        source_strategy().prop_map(|source| View::Simplified(SimplifiedQuery { source }));
    prop_oneof![latest, article, volume, simplified]
}

proptest! {
    #[test]
    fn parse_of_key_gives_back_the_query(view in view_strategy()) {
        let key = view.key();
        prop_assert_eq!(View::parse(key.as_str()), Ok(view));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_keys(raw in "[a-z:=,._0-9-]{0,60}") {
        if let Ok(view) = View::parse(&raw) {
            let key = view.key();
            prop_assert_eq!(key.as_str(), raw.as_str());
        }
    }
}

#[test]
fn keys_have_the_documented_shapes() {
    let latest = View::Latest(LatestQuery {
        limit: Limit::DEFAULT,
        source: None,
        page: Page::First,
    });
    assert_eq!(
        latest.key().as_str(),
        "media:latest:limit=20,source=_,page=first"
    );
    let volume = View::Volume(
        VolumeQuery::new(Interval::Day, Timezone::UTC, None, VolumeRange::LastWeek).unwrap(),
    );
    assert_eq!(volume.key().as_str(), "volume:day:tz=UTC,source=_,range=7d");
    let simplified = View::Simplified(SimplifiedQuery { source: None });
    assert_eq!(simplified.key().as_str(), "simplified:score:source=_");
}

#[test]
fn keys_that_name_no_view_are_refused() {
    for bad in [
        "",
        "volume",
        "volume:day",
        "foo:bar:x=1",
        "media:latest:limit=0,source=_,page=first",
        "media:latest:limit=20,source=_,page=sideways",
        "media:latest:limit=20,source=Bad,page=first",
        "media:latest:source=_,limit=20,page=first",
        "media:latest:limit=20,source=_,page=first,extra=1",
        "volume:week:tz=UTC,source=_,range=7d",
        "volume:day:tz=Mars/Base,source=_,range=7d",
        "volume:day:tz=UTC,source=_,range=30d",
        "simplified:score:source=_,x=y",
    ] {
        assert!(View::parse(bad).is_err(), "{bad:?} should name no view");
    }
}

#[test]
fn non_canonical_volume_keys_are_refused() {
    assert!(View::parse("volume:day:tz=UTC,source=_,from=1767225600,to=1767398400").is_ok());
    assert!(View::parse("volume:day:tz=UTC,source=_,from=1767225601,to=1767398400").is_err());
}

#[test]
fn from_after_to_is_refused() {
    let from = DateTime::from_timestamp(2_000, 0).unwrap();
    let to = DateTime::from_timestamp(1_000, 0).unwrap();
    let err = VolumeQuery::new(
        Interval::Day,
        Timezone::UTC,
        None,
        VolumeRange::Between { from, to },
    );
    assert!(matches!(err, Err(volume::VolumeError::FromAfterTo { .. })));
}

#[test]
fn more_than_max_buckets_is_refused() {
    let from = DateTime::from_timestamp(0, 0).unwrap();
    let to = DateTime::from_timestamp(3600 * 2_001, 0).unwrap();
    let err = VolumeQuery::new(
        Interval::Hour,
        Timezone::UTC,
        None,
        VolumeRange::Between { from, to },
    );
    assert!(matches!(err, Err(volume::VolumeError::TooManyBuckets(_))));
    let to = DateTime::from_timestamp(3600 * 2_000, 0).unwrap();
    assert!(
        VolumeQuery::new(
            Interval::Hour,
            Timezone::UTC,
            None,
            VolumeRange::Between { from, to }
        )
        .is_ok()
    );
}

#[test]
fn day_buckets_follow_local_midnight_across_a_dst_change() {
    let paris = Timezone::parse("Europe/Paris").unwrap();
    let from = paris.parse_bound("2026-03-28", false).unwrap();
    let to = paris.parse_bound("2026-03-30", true).unwrap();
    let starts = volume::bucket_starts(Interval::Day, paris, from, to, 10);
    let rendered: Vec<_> = starts
        .iter()
        .map(|s| s.with_timezone(&paris.tz()).to_rfc3339())
        .collect();
    assert_eq!(
        rendered,
        [
            "2026-03-28T00:00:00+01:00",
            "2026-03-29T00:00:00+01:00",
            "2026-03-30T00:00:00+02:00"
        ]
    );
}

#[test]
fn hour_buckets_align_on_the_local_half_hour_in_india() {
    let kolkata = Timezone::parse("Asia/Kolkata").unwrap();
    let t = DateTime::parse_from_rfc3339("2026-01-01T10:10:00Z")
        .unwrap()
        .to_utc();
    let aligned = volume::align(Interval::Hour, kolkata, t).unwrap();
    assert_eq!(aligned.to_rfc3339(), "2026-01-01T09:30:00+00:00");
}

#[test]
fn to_is_rounded_up_to_the_end_of_its_bucket_before_it_makes_a_key() {
    let from = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let to = DateTime::from_timestamp(1_767_225_600 + 86_400 + 1, 0).unwrap();
    let view = View::Volume(
        VolumeQuery::new(
            Interval::Day,
            Timezone::UTC,
            None,
            VolumeRange::Between { from, to },
        )
        .unwrap(),
    );
    assert_eq!(
        view.key().as_str(),
        "volume:day:tz=UTC,source=_,from=1767225600,to=1767398400"
    );
    let within_the_hour = View::Volume(
        VolumeQuery::new(
            Interval::Hour,
            Timezone::UTC,
            None,
            VolumeRange::Between {
                from,
                to: from + chrono::Duration::milliseconds(1),
            },
        )
        .unwrap(),
    );
    assert_eq!(
        within_the_hour.key().as_str(),
        "volume:hour:tz=UTC,source=_,from=1767225600,to=1767229200"
    );
    assert!(View::parse("volume:day:tz=UTC,source=_,from=1767225600,to=1767398401").is_err());
}

#[test]
fn bounds_outside_the_supported_years_are_refused_from_keys_too() {
    for key in [
        "volume:hour:tz=UTC,source=_,from=-9223372036854775808,to=0",
        "volume:day:tz=UTC,source=_,from=-62135596801,to=0",
        "volume:day:tz=Pacific/Kiritimati,source=_,from=253402300000,to=253402300800",
        "volume:hour:tz=UTC,source=_,from=8210298412799,to=8210298412799",
    ] {
        assert!(View::parse(key).is_err(), "{key}");
    }
    let last = DateTime::from_timestamp(253_402_214_400, 0).unwrap();
    let err = VolumeQuery::new(
        Interval::Day,
        Timezone::UTC,
        None,
        VolumeRange::Between {
            from: last,
            to: last + chrono::Duration::hours(1),
        },
    );
    assert!(err.is_err(), "the last day's end falls in the year 10000");
}
