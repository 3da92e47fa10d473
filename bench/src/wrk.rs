//! The load generator: `wrk` (Debian package `wrk`), found on `PATH`, installed with
//! `apt-get` when missing and running as root, else named in a clear error.
//!
//! Every run uses one Lua script: an optional request generator, plus counters of the
//! `x-cache` header (so a "hit" row can prove its answers were hits) and a `done` hook that
//! prints one `WRKJSON {…}` line with the totals and percentiles, which [`run`] parses.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// Finds `wrk`, or installs it with `apt-get install -y wrk` when running as root.
pub(crate) fn ensure_installed() -> anyhow::Result<PathBuf> {
    if let Some(path) = which("wrk") {
        return Ok(path);
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root && which("apt-get").is_some() {
        eprintln!("bench: wrk not found; running `apt-get install -y wrk`");
        let status = std::process::Command::new("apt-get")
            .args(["install", "-y", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .context("running apt-get")?;
        if status.success()
            && let Some(path) = which("wrk")
        {
            return Ok(path);
        }
    }
    bail!(
        "the load generator `wrk` is not installed. Install it with `sudo apt-get install -y wrk` \
         (Debian/Ubuntu), `brew install wrk` (macOS) or from https://github.com/wg/wrk, then rerun"
    )
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Load shape: threads, connections and duration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// `-t`.
    pub(crate) threads: u32,
    /// `-c`.
    pub(crate) connections: u32,
    /// `-d`, in seconds.
    pub(crate) seconds: u32,
}

/// What one wrk run measured.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WrkResult {
    /// Completed requests.
    pub(crate) requests: u64,
    /// Wall time of the run, in microseconds.
    pub(crate) duration_us: u64,
    /// Socket errors (connect, read, write, timeout).
    pub(crate) errors: u64,
    /// Answers with a status of 400 or more.
    pub(crate) bad_status: u64,
    /// Latency percentiles, in microseconds.
    pub(crate) p50_us: u64,
    /// 75th percentile.
    pub(crate) p75_us: u64,
    /// 99th percentile.
    pub(crate) p99_us: u64,
    /// Answers with `x-cache: hit`.
    pub(crate) hits: u64,
    /// Answers with `x-cache: miss`.
    pub(crate) misses: u64,
}

impl WrkResult {
    /// Requests per second.
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    /// The median latency, in milliseconds.
    pub(crate) fn p50_ms(&self) -> f64 {
        self.p50_us as f64 / 1000.0
    }

    /// The 99th percentile, in milliseconds.
    pub(crate) fn p99_ms(&self) -> f64 {
        self.p99_us as f64 / 1000.0
    }

    /// `"12,345 req/s, p50 0.41 ms, p99 2.10 ms"`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} req/s, p50 {:.3} ms, p99 {:.3} ms",
            thousands(self.rps()),
            self.p50_ms(),
            self.p99_ms()
        )
    }
}

/// `12345.6` → `"12,346"`.
pub(crate) fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

const COUNTERS: &str = r#"
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  hits = 0
  misses = 0
end
function response(status, headers, body)
  local c = headers["x-cache"] or headers["X-Cache"]
  if c == "hit" then hits = hits + 1 elseif c == "miss" then misses = misses + 1 end
end
function done(summary, latency, requests)
  local h, m = 0, 0
  for _, t in ipairs(threads) do
    h = h + t:get("hits")
    m = m + t:get("misses")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"bad_status":%d,"p50_us":%d,"p75_us":%d,"p99_us":%d,"hits":%d,"misses":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(75), latency:percentile(99), h, m))
end
"#;

/// Runs wrk against `base` + `path` with `generator` (Lua defining `request()`, or empty for
/// a fixed path); `script_dir` receives the script.
pub(crate) async fn run(
    wrk: &Path,
    script_dir: &Path,
    base: &str,
    path: &str,
    generator: &str,
    load: Load,
) -> anyhow::Result<WrkResult> {
    std::fs::create_dir_all(script_dir)?;
    let script = script_dir.join(format!("run-{}.lua", ulid::Ulid::generate()));
    std::fs::write(&script, format!("{generator}\n{COUNTERS}"))?;
    let output = tokio::process::Command::new(wrk)
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script)
        .arg(format!("{base}{path}"))
        .output()
        .await
        .context("running wrk")?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("WRKJSON ")) else {
        bail!(
            "wrk gave no result for {path}: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let result: WrkResult = serde_json::from_str(line).context("parsing wrk's result")?;
    if result.requests == 0 {
        bail!("wrk completed no request against {path}");
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(12_345.6), "12,346");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
        assert_eq!(thousands(-4_321.0), "-4,321");
    }

    #[test]
    fn a_wrk_result_line_parses_and_gives_rates() {
        let line = r#"{"requests":1000,"duration_us":2000000,"errors":0,"bad_status":0,"p50_us":410,"p75_us":600,"p99_us":2100,"hits":1000,"misses":0}"#;
        let r: WrkResult = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.rps(), 500.0);
        assert_eq!(r.p50_ms(), 0.41);
        assert_eq!(r.summary(), "500 req/s, p50 0.410 ms, p99 2.100 ms");
    }
}
