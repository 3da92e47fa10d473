//! A description of the machine a run measured: CPU count and model, memory, kernel, rustc.

use std::process::Command;

/// What BENCHMARKS.md says about the machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// `nproc`.
    pub(crate) nproc: String,
    /// `model name` of /proc/cpuinfo.
    pub(crate) cpu: String,
    /// `MemTotal` of /proc/meminfo.
    pub(crate) memory: String,
    /// `uname -sr`.
    pub(crate) kernel: String,
    /// `rustc --version`.
    pub(crate) rustc: String,
    /// `redis-server --version` and the PostgreSQL server version (filled in later).
    pub(crate) services: Vec<String>,
}

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Machine {
    /// Reads the description of this machine.
    pub(crate) fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".to_owned());
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        Self {
            nproc: command("nproc", &[]),
            cpu,
            memory,
            kernel: command("uname", &["-sr"]),
            rustc: command(&rustc, &["--version"]),
            services: vec![command("redis-server", &["--version"])],
        }
    }
}

/// Peak resident set size of a process (`VmHWM` of /proc/PID/status), in MiB.
pub(crate) fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
