//! Progress bars for the long commands (`import`, `extract --labels`, the benchmarks), drawn
//! on stderr and only when stderr is a terminal: in a pipe, a log file or CI they draw
//! nothing, and the commands' plain summary lines are all that is written.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars are drawn (stderr is a terminal).
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar over `len` units named by `unit` (`bytes` shows sizes), prefixed with `what`; hidden
/// unless [`enabled`].
pub fn bar(what: &str, len: u64, unit: &str) -> ProgressBar {
    let target = if enabled() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let counts = if unit == "bytes" {
        "{bytes}/{total_bytes}"
    } else {
        "{pos}/{len} "
    };
    let template = format!(
        "{{prefix}} [{{bar:30}}] {counts}{}{{msg}} ({{elapsed}}, eta {{eta}})",
        if unit == "bytes" { " " } else { unit }
    );
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), target).with_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A spinner with a message, for steps of unknown length; hidden unless [`enabled`].
pub fn spinner(what: &str) -> ProgressBar {
    let target = if enabled() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, target).with_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
