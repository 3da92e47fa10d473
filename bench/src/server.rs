//! The real `mediawarm-api` / `mediawarm-worker` release binaries as child processes: each
//! on a free loopback port, with its own data directory, cache prefix and queue namespace,
//! stopped (SIGTERM, then SIGKILL) when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// What a child process needs to know about the deployment it joins.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    /// `DATABASE_URL`; `None` for the embedded SQLite file in `data_dir`.
    pub(crate) database_url: Option<String>,
    /// `REDIS_URL`; `None` for the memory cache and the SQLite queue.
    pub(crate) redis_url: Option<String>,
    /// `DATA_DIR` (also the working directory, so no stray `.env` is read).
    pub(crate) data_dir: PathBuf,
    /// `CACHE_PREFIX`: isolates this run's Redis keys.
    pub(crate) cache_prefix: String,
    /// `QUEUE_NAMESPACE`: isolates this run's queues.
    pub(crate) queue_namespace: String,
    /// Where stdout and stderr go.
    pub(crate) log: PathBuf,
}

/// The operator token every child gets.
pub(crate) const OPERATOR_TOKEN: &str = "bench-operator-token";

/// A running child; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Child {
    child: tokio::process::Child,
    /// Its process id (for /proc/PID/status).
    pub(crate) pid: u32,
    /// `http://127.0.0.1:PORT` for an API; empty for a worker.
    pub(crate) base: String,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn command(bin: &Path, d: &Deployment) -> anyhow::Result<tokio::process::Command> {
    std::fs::create_dir_all(&d.data_dir)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&d.log)
        .with_context(|| format!("opening {}", d.log.display()))?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.current_dir(&d.data_dir)
        .env("DATA_DIR", &d.data_dir)
        .env("CACHE_PREFIX", &d.cache_prefix)
        .env("QUEUE_NAMESPACE", &d.queue_namespace)
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("RUST_LOG", "warn")
        .env("SCRAPE_ALLOW_LOOPBACK", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    match &d.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    match &d.redis_url {
        Some(url) => cmd.env("REDIS_URL", url),
        None => cmd.env_remove("REDIS_URL"),
    };
    Ok(cmd)
}

/// Runs `mediawarm-api import FILE` to completion.
pub(crate) async fn import(bin: &Path, d: &Deployment, file: &Path) -> anyhow::Result<()> {
    let status = command(bin, d)?
        .env("RUST_LOG", "info")
        .arg("import")
        .arg(file)
        .status()
        .await
        .context("running mediawarm-api import")?;
    if !status.success() {
        bail!("import failed ({status}); see {}", d.log.display());
    }
    Ok(())
}

impl Child {
    /// Starts `mediawarm-api serve` and waits until `/healthz` answers.
    pub(crate) async fn api(
        bin: &Path,
        d: &Deployment,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut cmd = command(bin, d)?;
        cmd.env("BIND", format!("127.0.0.1:{port}"));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("child pid")?;
        let mut me = Self {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", me.base)).send().await
                && r.status().is_success()
            {
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                bail!("mediawarm-api exited ({status}); see {}", d.log.display());
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "mediawarm-api did not answer /healthz within 120 s; see {}",
                    d.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `mediawarm-worker` with `args` and the `extra` environment.
    pub(crate) fn worker(
        bin: &Path,
        d: &Deployment,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let child = command(bin, d)?
            .args(args)
            .envs(extra.iter().copied())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("child pid")?;
        Ok(Self {
            child,
            pid,
            base: String::new(),
        })
    }

    /// Whether the process has exited.
    pub(crate) fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Peak RSS so far, in MiB.
    pub(crate) fn peak_rss_mib(&self) -> Option<f64> {
        crate::machine::peak_rss_mib(self.pid)
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub(crate) async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
