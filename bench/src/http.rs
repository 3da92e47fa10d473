//! Rows measured through HTTP on the real API binary with wrk: the hit path against
//! `/healthz` (throughput at the same concurrency) and hits against misses (latency at
//! concurrency 1).

use chrono::{DateTime, Utc};

use crate::Bench;
use crate::report::{Report, Row};
use crate::server::{Child, OPERATOR_TOKEN};
use crate::wrk::{self, Load, WrkResult};

const LATEST: &str = "/api/v1/media/latest";
const VOLUME: &str = "/api/v1/volume";
const SIMPLIFIED: &str = "/api/v1/simplified";

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.2}×")
    }
}

async fn warm(bench: &Bench, api: &Child, path: &str) -> anyhow::Result<()> {
    let load = Load {
        threads: 1,
        connections: 1,
        seconds: 1,
    };
    wrk::run(&bench.wrk, &bench.work, &api.base, path, "", load).await?;
    Ok(())
}

fn hit_share(r: &WrkResult) -> String {
    format!(
        "{:.1} % hits",
        100.0 * r.hits as f64 / r.requests.max(1) as f64
    )
}

/// Cache hits served by the near cache, and all hits, from the API's `/metrics`.
async fn near_share(api: &Child) -> Option<(f64, f64)> {
    let text = reqwest::get(format!("{}/metrics", api.base))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let (mut near, mut all) = (0.0, 0.0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("mediawarm_cache_hits_total{"))
    {
        let value: f64 = line.rsplit_once(' ')?.1.parse().ok()?;
        all += value;
        if line.contains("backend=\"near\"") {
            near += value;
        }
    }
    Some((near, all))
}

/// Row 1 for one stack: cached latest and volume against `/healthz`, same wrk settings.
pub(crate) async fn hit_path(
    bench: &Bench,
    report: &mut Report,
    stack: &str,
    api: &Child,
) -> anyhow::Result<()> {
    for path in [LATEST, VOLUME] {
        warm(bench, api, path).await?;
    }
    let load = bench.throughput_load();
    let health = wrk::run(&bench.wrk, &bench.work, &api.base, "/healthz", "", load).await?;
    let latest = wrk::run(&bench.wrk, &bench.work, &api.base, LATEST, "", load).await?;
    let volume = wrk::run(&bench.wrk, &bench.work, &api.base, VOLUME, "", load).await?;
    for (what, r) in [("latest", &latest), ("volume", &volume)] {
        let x = r.rps() / health.rps();
        report.push(Row::measured(
            format!("hit path, {stack}: cached {what} / `/healthz` (req/s)"),
            ratio(x),
            "≥ 0.5× (goal 0.8×)",
            Some(x >= 0.5),
            format!(
                "{what}: {} ({}, {} errors); healthz: {}",
                r.summary(),
                hit_share(r),
                r.errors + r.bad_status,
                health.summary()
            ),
        ));
    }
    let near = if stack.contains("Redis") {
        near_share(api).await
    } else {
        None
    };
    if let Some((near, all)) = near {
        report.note(
            "Near cache",
            format!(
                "Hit path ({stack}): {} of {} hits during these runs were served by the API's \
                 near cache (`mediawarm_cache_hits_total{{backend=\"near\"}}`), the rest by \
                 Redis (the first read of each key after an invalidation or a lapsed lease).",
                wrk::thousands(near),
                wrk::thousands(all)
            ),
        );
    }
    let worst = latest.rps().min(volume.rps()) / health.rps();
    if stack.contains("Redis") && worst < 0.5 {
        report.note(
            "What bounds the missed targets",
            format!(
                "Hit path on Redis: a hit that the near cache does not answer is one round \
                 trip to Redis (one `EVALSHA` reading the category's generation and the value \
                 together), where `/healthz` touches nothing; with wrk, Redis and the API \
                 sharing {} cores, the Redis process takes CPU the API would otherwise use. \
                 The memory stack reaches {:.2}× on the same machine.",
                std::thread::available_parallelism().map_or(0, usize::from),
                bench_memory_hint(report)
            ),
        );
    }
    report.note(
        "Method",
        format!(
            "Hit path ({stack}): `wrk -t{} -c{} -d{}s` on `GET /healthz`, `GET {LATEST}` and \
             `GET {VOLUME}` (default parameters: first page of 20; last 7 days by day), one \
             after the other on the same API process, after a 1 s warm-up that fills the cache. \
             The x-cache header of every answer is counted to show the reads were hits.",
            load.threads, load.connections, load.seconds
        ),
    );
    Ok(())
}

/// The best ratio the memory stack reached earlier in this run (0 when it did not run).
fn bench_memory_hint(report: &Report) -> f64 {
    report
        .rows
        .iter()
        .filter(|r| r.name.contains("memory + SQLite") && r.name.starts_with("hit path"))
        .filter_map(|r| r.ratio.trim_end_matches('×').parse::<f64>().ok())
        .fold(0.0, f64::max)
}

/// The window the hit-vs-miss volume requests ask for: the 7 days before the newest data.
pub(crate) fn volume_window(newest: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = newest
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(newest);
    (to - chrono::Duration::days(7), to)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Row 2: p50 of hits against misses for volume and simplified, at concurrency 1.
pub(crate) async fn hit_vs_miss(
    bench: &Bench,
    report: &mut Report,
    api: &Child,
    newest: DateTime<Utc>,
    articles: u64,
) -> anyhow::Result<()> {
    let load = Load {
        threads: 1,
        connections: 1,
        seconds: bench.latency_secs(),
    };
    let (from, to) = volume_window(newest);
    let fixed = format!("{VOLUME}?interval=hour&from={}&to={}", rfc(from), rfc(to));
    warm(bench, api, &fixed).await?;
    let vol_hit = wrk::run(&bench.wrk, &bench.work, &api.base, &fixed, "", load).await?;
    let distinct = format!(
        r#"
local n = 0
local from0 = {from0}
local zones = {{"UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata", "Africa/Cairo"}}
function request()
  n = n + 1
  local from = os.date("!%Y-%m-%dT%H:%M:%SZ", from0 - (n % 1800) * 3600)
  local tz = zones[(math.floor(n / 1800) + (tid or 0)) % #zones + 1]
  return wrk.format("GET", "{VOLUME}?interval=hour&tz=" .. tz .. "&from=" .. from .. "&to={to}")
end
"#,
        from0 = from.timestamp(),
        to = rfc(to),
    );
    let vol_miss = wrk::run(&bench.wrk, &bench.work, &api.base, VOLUME, &distinct, load).await?;
    let x = vol_miss.p50_ms() / vol_hit.p50_ms().max(1e-9);
    report.push(Row::measured(
        format!("hit vs miss, volume (PostgreSQL, {} articles): miss p50 / hit p50", wrk::thousands(articles as f64)),
        ratio(x),
        "≥ 20× (hit ≤ 1/20 of miss)",
        Some(x >= 20.0),
        format!(
            "hit: p50 {:.3} ms, p99 {:.3} ms ({}); miss: p50 {:.3} ms, p99 {:.3} ms ({} of {} answers were misses)",
            vol_hit.p50_ms(), vol_hit.p99_ms(), hit_share(&vol_hit),
            vol_miss.p50_ms(), vol_miss.p99_ms(), vol_miss.misses, vol_miss.requests
        ),
    ));

    warm(bench, api, SIMPLIFIED).await?;
    let simp_hit = wrk::run(&bench.wrk, &bench.work, &api.base, SIMPLIFIED, "", load).await?;
    let clear_only = format!(
        r#"
function request()
  return wrk.format("DELETE", "/api/v1/media/cache/clear?pattern=simplified:*", {{["Authorization"] = "Bearer {OPERATOR_TOKEN}"}})
end
"#
    );
    let clears = wrk::run(&bench.wrk, &bench.work, &api.base, "/", &clear_only, load).await?;
    let alternate = format!(
        r#"
local n = 0
function request()
  n = n + 1
  if n % 2 == 1 then
    return wrk.format("DELETE", "/api/v1/media/cache/clear?pattern=simplified:*", {{["Authorization"] = "Bearer {OPERATOR_TOKEN}"}})
  end
  return wrk.format("GET", "{SIMPLIFIED}")
end
"#
    );
    let mixed = wrk::run(&bench.wrk, &bench.work, &api.base, "/", &alternate, load).await?;
    let miss_p50_ms = mixed.p75_us as f64 / 1000.0;
    let clean = clears.p99_us <= mixed.p50_us;
    let x = miss_p50_ms / simp_hit.p50_ms().max(1e-9);
    report.push(Row::measured(
        format!("hit vs miss, simplified (PostgreSQL, {} articles): miss p50 / hit p50", wrk::thousands(articles as f64)),
        ratio(x),
        "≥ 20× (hit ≤ 1/20 of miss)",
        Some(x >= 20.0),
        format!(
            "hit: p50 {:.3} ms ({}); miss: p50 {:.3} ms ({} misses among {} answers, every GET a miss; clear alone p50 {:.3} ms, p99 {:.3} ms{})",
            simp_hit.p50_ms(), hit_share(&simp_hit), miss_p50_ms, mixed.misses, mixed.requests,
            clears.p50_ms(), clears.p99_ms(),
            if clean { "" } else { "; clears overlap misses: figure approximate" }
        ),
    ));
    report.note(
        "Method",
        format!(
            "Hit vs miss: `wrk -t1 -c1 -d{}s` (latency, not throughput). Volume (by hour): a \
             hit is the same `from`/`to` (the 7 days up to the newest article) every time; a \
             miss moves `from` one hour earlier per request (buckets are aligned, so a second \
             would give the same key), so every request is a new key computed from the \
             database over 7 days and a few hours (the run counts the `x-cache: miss` answers). Simplified has one key \
             per source, so a miss is made by alternating `DELETE /api/v1/media/cache/clear?\
             pattern=simplified:*` and `GET {SIMPLIFIED}` on one connection; clears are faster \
             than misses (clear-only run shown), so the upper half of that run's latencies are \
             the misses and the miss p50 is the run's p75.",
            load.seconds
        ),
    );
    Ok(())
}
