//! The README's tours, run as written: the ```sh blocks marked `<!-- tour: NAME -->` in
//! README.md, in order, in one bash script against the debug binaries, in an empty directory.
//!
//! Only what must differ from a newcomer's machine is replaced, each replacement checked to
//! still be in the README (so a reworded tour fails here instead of running something else):
//! the build (the test's binaries are already built), the binaries' paths, the API's port, the
//! production URLs (the test's own database and Redis prefix), and the demo's publishing
//! interval with the wait for it (shorter, the wait still longer than the interval). The
//! assertions are what the README's comments promise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Production, free_port};

/// The longest a tour may run before it is stopped and reported.
const TOUR_TIMEOUT: Duration = Duration::from_secs(180);

/// The README's build command; the test runs the binaries cargo built for it instead.
const README_BUILD: &str = "cargo build --release -p mediawarm-api -p mediawarm-worker";
/// The README's publishing interval of the demo.
const README_INTERVAL: &str = "DEMO_PUBLISH_SECS=10";
/// The README's wait for the next story, longer than its interval.
const README_WAIT: &str = "sleep 12";
/// The test's shorter interval.
const TEST_INTERVAL: &str = "DEMO_PUBLISH_SECS=2";
/// The test's wait, still longer than its interval.
const TEST_WAIT: &str = "sleep 3";

/// The ```sh blocks of README.md marked for `tour`, in document order. Panics when a marker
/// is not followed by a ```sh block or when the tour has no block.
fn tour_blocks(readme: &str, tour: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(names) = line
            .trim()
            .strip_prefix("<!-- tour:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let fence = lines.by_ref().find(|l| !l.trim().is_empty());
        assert_eq!(
            fence.map(str::trim),
            Some("```sh"),
            "README.md: `{line}` is not followed by a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        if names.split_whitespace().any(|name| name == tour) {
            blocks.push(block.join("\n"));
        }
    }
    assert!(
        !blocks.is_empty(),
        "README.md has no block for the tour `{tour}`"
    );
    blocks
}

/// `script` with each `(from, to)` replaced; panics naming a `from` the script lacks.
fn substitute(mut script: String, replacements: &[(&str, String)]) -> String {
    for (from, to) in replacements {
        assert!(
            script.contains(from),
            "the README's tour no longer contains `{from}`: update this test's replacements"
        );
        script = script.replace(from, to);
    }
    script
}

/// Panics unless `program version_arg` runs: the tours call `program`.
fn require(program: &str, version_arg: &str) {
    let found = Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the README's tours need `{program}`, which is not installed"
    );
}

/// A tour's bash process and everything it started (one process group); the whole group is
/// killed when dropped, however the test ends.
struct TourProcess(Child);

impl Drop for TourProcess {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// What a finished tour printed (stdout and stderr together, in order).
struct Transcript {
    text: String,
    dir: PathBuf,
}

impl Transcript {
    /// The lines of the transcript that are JSON objects starting with `prefix`, parsed.
    fn json_lines(&self, prefix: &str) -> Vec<serde_json::Value> {
        self.text
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", self.report()))
            })
            .collect()
    }

    /// The finished scrape jobs the tour printed, in order.
    fn scrape_jobs(&self) -> Vec<serde_json::Value> {
        self.json_lines("{")
            .into_iter()
            .filter(|j| j["kind"] == "scrape")
            .collect()
    }

    /// The `x-cache` values and the volume totals the tour's view reads printed, in order.
    fn view_reads(&self) -> (Vec<String>, Vec<u64>) {
        let mut caches = Vec::new();
        let mut totals = Vec::new();
        for line in self.text.lines() {
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("x-cache: ") {
                caches.push(value.trim().to_owned());
            } else if let Some(total) = line.strip_prefix("\"total\":") {
                totals.push(total.trim().parse().unwrap());
            }
        }
        (caches, totals)
    }

    /// The transcript and the servers' logs, for a failure message.
    fn report(&self) -> String {
        let log = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- transcript\n{}\n--- api.log\n{}\n--- worker.log\n{}",
            self.text,
            log("api.log"),
            log("worker.log")
        )
    }
}

/// Runs `script` with bash in `dir` with `env` (and none of the variables that would change
/// what the README's commands do), waits for it and returns what it printed; panics with the
/// transcript when it fails or outlives [`TOUR_TIMEOUT`].
fn run_tour(script: &str, dir: &Path, env: &[(&str, String)]) -> Transcript {
    use std::os::unix::process::CommandExt as _;

    let output_path = dir.join("tour.out");
    let output = std::fs::File::create(&output_path).unwrap();
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\n\
             trap 'echo \"tour: line $LINENO failed: $BASH_COMMAND\" >&2' ERR\n\
             {script}\n"
        ))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .process_group(0);
    for variable in [
        "DATABASE_URL",
        "REDIS_URL",
        "QUEUE_REDIS_URL",
        "OPERATOR_TOKEN",
        "NO_CRON",
        "DEMO_PUBLISH_SECS",
        "SCRAPE_ALLOW_LOOPBACK",
        "CACHE_PREFIX",
        "QUEUE_NAMESPACE",
        "DATA_DIR",
        "BIND",
        "RUST_LOG",
        "LOG_FORMAT",
    ] {
        command.env_remove(variable);
    }
    for (variable, value) in env {
        command.env(variable, value);
    }
    let mut tour = TourProcess(command.spawn().expect("spawning bash"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = tour.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TOUR_TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let transcript = Transcript {
        text: std::fs::read_to_string(&output_path).unwrap(),
        dir: dir.to_owned(),
    };
    match status {
        Some(status) => assert!(
            status.success(),
            "the tour failed ({status})\n{}",
            transcript.report()
        ),
        None => panic!(
            "the tour ran longer than {TOUR_TIMEOUT:?}\n{}",
            transcript.report()
        ),
    }
    drop(tour);
    transcript
}

/// The replacements both tours need, for an API on `port`.
fn common_replacements(port: u16) -> Vec<(&'static str, String)> {
    vec![
        (README_BUILD, ":".to_owned()),
        (
            "target/release/mediawarm-api",
            env!("CARGO_BIN_EXE_mediawarm-api").to_owned(),
        ),
        ("127.0.0.1:8001", format!("127.0.0.1:{port}")),
        (README_INTERVAL, TEST_INTERVAL.to_owned()),
        (README_WAIT, TEST_WAIT.to_owned()),
    ]
}

/// The repository's README.md.
fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// Asserts what both tours promise about their two scrapes and the view read around them:
/// both jobs done, the first storing the demo's stories; the view a miss, then a hit, and
/// after the second scrape (which found the new story and rewarmed) still a hit with a
/// larger total.
fn assert_scrapes_rewarm_the_view(transcript: &Transcript) {
    let report = || transcript.report();
    let jobs = transcript.scrape_jobs();
    assert_eq!(jobs.len(), 2, "two scrapes printed\n{}", report());
    for job in &jobs {
        assert_eq!(job["status"], "done", "{job}\n{}", report());
    }
    assert!(
        jobs[0]["result"]["articles_new"].as_u64() >= Some(8),
        "the first scrape stored the demo's stories: {}\n{}",
        jobs[0],
        report()
    );
    assert!(
        jobs[1]["result"]["articles_new"].as_u64() >= Some(1),
        "the second scrape found the story published meanwhile: {}\n{}",
        jobs[1],
        report()
    );
    assert!(
        jobs[1]["result"]["hot_keys_rewarmed"].as_u64() >= Some(1),
        "the second scrape rewarmed the view read before it: {}\n{}",
        jobs[1],
        report()
    );
    let (caches, totals) = transcript.view_reads();
    assert_eq!(caches, ["miss", "hit", "hit"], "{}", report());
    assert_eq!(totals.len(), 3, "{}", report());
    assert_eq!(totals[0], totals[1], "{}", report());
    assert!(
        totals[2] > totals[1],
        "after the tour's scrape the view is a hit with a new total: {totals:?}\n{}",
        report()
    );
}

#[test]
fn the_readme_embedded_tour_runs_as_written() {
    require("curl", "--version");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let script = substitute(
        tour_blocks(&readme(), "embedded").join("\n"),
        &common_replacements(port),
    );
    let transcript = run_tour(
        &script,
        dir.path(),
        &[("BIND", format!("127.0.0.1:{port}"))],
    );
    let report = || transcript.report();
    assert_scrapes_rewarm_the_view(&transcript);
    let pages = transcript.json_lines("{\"items\"");
    assert_eq!(pages.len(), 3, "{}", report());
    let items = |page: &serde_json::Value| page["items"].as_array().unwrap().clone();
    assert!(
        items(&pages[0]).len() == 3 && items(&pages[0]).iter().all(|a| a["source"] == "demo"),
        "the newest articles are the demo's: {}\n{}",
        pages[0],
        report()
    );
    let sources = transcript.json_lines("{\"name\":\"demo\"");
    assert_eq!(sources.len(), 1, "{}", report());
    assert!(
        !sources[0]["runs"].as_array().unwrap().is_empty(),
        "the source lists its runs: {}",
        sources[0]
    );
    assert!(
        transcript.text.contains("500 new"),
        "the import's count\n{}",
        report()
    );
    let (first, next) = (items(&pages[1]), items(&pages[2]));
    assert_eq!((first.len(), next.len()), (3, 3), "{}", report());
    assert!(
        next.iter().all(|a| !first.contains(a)),
        "the cursor's page follows the first\n{}",
        report()
    );
    let cleared = transcript.json_lines("{\"deleted\"");
    assert_eq!(cleared.len(), 1, "the cache was cleared\n{}", report());
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn the_readme_production_tour_runs_as_written() {
    require("curl", "--version");
    require("openssl", "version");
    let worker = Path::new(env!("CARGO_BIN_EXE_mediawarm-api")).with_file_name("mediawarm-worker");
    assert!(
        worker.exists(),
        "{} is missing: `cargo build -p mediawarm-worker` (or `cargo test --workspace`) builds it",
        worker.display()
    );
    let production = Production::create().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut replacements = common_replacements(port);
    replacements.extend([
        (
            "target/release/mediawarm-worker",
            worker.display().to_string(),
        ),
        (
            "export DATABASE_URL=postgres://mediawarm:mediawarm@127.0.0.1:5432/mediawarm",
            format!("export DATABASE_URL={}", production.database_url()),
        ),
        (
            "export REDIS_URL=redis://127.0.0.1:6379/0",
            format!("export REDIS_URL={}", production.redis().url),
        ),
    ]);
    let script = substitute(
        tour_blocks(&readme(), "production").join("\n"),
        &replacements,
    );
    let transcript = run_tour(
        &script,
        dir.path(),
        &[
            ("BIND", format!("127.0.0.1:{port}")),
            ("CACHE_PREFIX", production.redis().prefix.clone()),
            ("QUEUE_NAMESPACE", production.redis().namespace()),
        ],
    );
    assert_scrapes_rewarm_the_view(&transcript);
}
