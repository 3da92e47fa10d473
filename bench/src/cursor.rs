//! Row 3: keyset cursor against SQL `OFFSET` at several depths, measured at the store level
//! (`Store::latest_after` against `Store::latest_offset`) on the large PostgreSQL data set,
//! with both query plans checked. Through HTTP the second read of any page is a cache hit,
//! so the store is where the two strategies differ.

use std::time::Instant;

use anyhow::Context as _;
use mediawarm_shared::domain::SortKey;
use mediawarm_shared::store::{Store, StoreConfig};
use sqlx::Connection as _;

use crate::Bench;
use crate::report::{Report, Row};

fn p50(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Measures p50 of `reps` calls of `f`, in milliseconds.
async fn time<F, Fut, T>(reps: usize, mut f: F) -> anyhow::Result<(f64, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut samples = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let started = Instant::now();
        last = Some(f().await?);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((p50(samples), last.context("no sample")?))
}

/// Row 3 (and the plans, as notes).
pub(crate) async fn cursor_vs_offset(
    bench: &Bench,
    report: &mut Report,
    pg_url: &str,
    articles: u64,
) -> anyhow::Result<()> {
    let store = Store::connect(&StoreConfig {
        database_url: Some(pg_url.to_owned()),
        max_connections: 2,
        ..StoreConfig::default()
    })
    .await?;
    let mut conn = sqlx::PgConnection::connect(pg_url).await?;
    let (cursor_reps, offset_reps) = if bench.quick { (11, 3) } else { (51, 9) };
    let (first_ms, _) = time(cursor_reps, || async {
        Ok(store.latest_after(None, None, 20).await?)
    })
    .await?;
    let mut deepest = None;
    for depth in [1_000_u64, 100_000, 900_000] {
        if depth >= articles {
            report.push(Row::skipped(
                format!(
                    "cursor vs offset at depth {}",
                    crate::wrk::thousands(depth as f64)
                ),
                "",
                &format!("the data set has only {articles} articles"),
            ));
            continue;
        }
        let (sort_at, id): (chrono::DateTime<chrono::Utc>, i64) = sqlx::query_as(
            "select sort_at, id from articles order by sort_at desc, id desc offset $1 limit 1",
        )
        .bind(i64::try_from(depth - 1)?)
        .fetch_one(&mut conn)
        .await?;
        let key = SortKey {
            sort_at_us: sort_at.timestamp_micros(),
            id,
        };
        let (cursor_ms, by_cursor) = time(cursor_reps, || async {
            Ok(store.latest_after(None, Some(key), 20).await?)
        })
        .await?;
        let (offset_ms, by_offset) = time(offset_reps, || async {
            Ok(store.latest_offset(None, depth, 20).await?)
        })
        .await?;
        let same = by_cursor
            .iter()
            .map(|a| a.id)
            .eq(by_offset.iter().map(|a| a.id));
        let x = offset_ms / cursor_ms.max(1e-9);
        let is_deepest = depth == 900_000;
        report.push(Row::measured(
            format!(
                "cursor vs offset at depth {} of {} (PostgreSQL, store): offset p50 / cursor p50",
                crate::wrk::thousands(depth as f64),
                crate::wrk::thousands(articles as f64)
            ),
            format!("{x:.0}×"),
            if is_deepest {
                "≥ 100× at 900,000"
            } else {
                ""
            },
            is_deepest.then_some(x >= 100.0),
            format!(
                "cursor {cursor_ms:.3} ms, offset {offset_ms:.3} ms{}",
                if same {
                    " (same 20 rows)"
                } else {
                    " (**rows differ**)"
                }
            ),
        ));
        if is_deepest {
            deepest = Some((key, cursor_ms));
        }
    }
    if let Some((key, cursor_ms)) = deepest {
        let x = cursor_ms / first_ms.max(1e-9);
        report.push(Row::measured(
            "cursor flat with depth: p50 at 900,000 / p50 of page one",
            format!("{x:.2}×"),
            "≤ 2×",
            Some(x <= 2.0),
            format!("page one {first_ms:.3} ms, depth 900,000 {cursor_ms:.3} ms"),
        ));
        let plan = store.explain_latest_after(None, Some(key), 20).await?;
        let index = plan
            .iter()
            .any(|l| l.contains("Index Scan") || l.contains("Index Only Scan"));
        let sort = plan
            .iter()
            .any(|l| l.trim_start().starts_with("Sort") || l.contains("-> Sort"));
        let offset_plan: Vec<String> = sqlx::query_scalar(
            "explain select id, source, url, title, author, published_at, summary, sort_at \
             from articles order by sort_at desc, id desc limit 20 offset 900000",
        )
        .fetch_all(&mut conn)
        .await?;
        report.note(
            "Query plans (cursor vs offset)",
            format!(
                "Cursor at depth 900,000 — {}:\n\n```\n{}\n```\n\nOffset 900,000 (it walks \
                 the same index but reads and discards 900,000 rows first):\n\n```\n{}\n```",
                if index && !sort {
                    "checked: an index scan, no sort"
                } else {
                    "**check failed: expected an index scan and no sort**"
                },
                plan.join("\n"),
                offset_plan.join("\n")
            ),
        );
    }
    report.note(
        "Method",
        format!(
            "Cursor vs offset: `Store::latest_after` (keyset on `(sort_at, id)`) against \
             `Store::latest_offset` for a page of 20 at each depth, sequentially on one \
             connection, p50 of {cursor_reps} and {offset_reps} calls. The cursor's key is the \
             row at that depth, so both return the same page (checked)."
        ),
    );
    Ok(())
}
