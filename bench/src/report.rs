//! The table: one row per comparison, its ratio, the target, and the absolute figures
//! behind it; rendered as Markdown on stdout and into BENCHMARKS.md with the machine.

use crate::machine::Machine;

/// Whether a row met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Met the target.
    Met,
    /// Missed it.
    Missed,
    /// No target, or not measured.
    None,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// What is compared.
    pub(crate) name: String,
    /// The ratio (or `skipped: reason`).
    pub(crate) ratio: String,
    /// The target.
    pub(crate) target: String,
    /// Met or missed.
    pub(crate) verdict: Verdict,
    /// The absolute figures behind the ratio.
    pub(crate) figures: String,
}

impl Row {
    /// The row as a line of the Markdown table.
    pub(crate) fn line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::None => "",
        };
        format!(
            "| {} | {} | {} | {} | {} |",
            self.name, self.ratio, self.target, verdict, self.figures
        )
    }

    /// A measured row; `met` decides the verdict.
    pub(crate) fn measured(
        name: impl Into<String>,
        ratio: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
        figures: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            ratio: ratio.into(),
            target: target.into(),
            verdict: match met {
                Some(true) => Verdict::Met,
                Some(false) => Verdict::Missed,
                None => Verdict::None,
            },
            figures: figures.into(),
        }
    }

    /// A row that was not measured, and why.
    pub(crate) fn skipped(
        name: impl Into<String>,
        target: impl Into<String>,
        reason: &str,
    ) -> Self {
        Self {
            name: name.into(),
            ratio: format!("skipped: {reason}"),
            target: target.into(),
            verdict: Verdict::None,
            figures: String::new(),
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The table, in order.
    pub(crate) rows: Vec<Row>,
    /// Details per section (query plans, data sets, settings), in order.
    pub(crate) notes: Vec<(String, String)>,
}

impl Report {
    /// Adds a row and echoes it to stderr as it is measured.
    pub(crate) fn push(&mut self, row: Row) {
        eprintln!("bench: {} → {} ({})", row.name, row.ratio, row.figures);
        self.rows.push(row);
    }

    /// Adds a note under `section`.
    pub(crate) fn note(&mut self, section: &str, text: impl Into<String>) {
        self.notes.push((section.to_owned(), text.into()));
    }

    /// The table in Markdown.
    pub(crate) fn table(&self) -> String {
        let mut out = String::from(
            "| row | ratio (same run) | target | verdict | absolute figures |\n| --- | --- | --- | --- | --- |\n",
        );
        for r in &self.rows {
            out.push_str(&r.line());
            out.push('\n');
        }
        out
    }

    /// The notes of `section`, each once, as Markdown paragraphs under its heading.
    fn section(&self, section: &str) -> String {
        let mut out = format!("## {section}\n\n");
        let mut written: Vec<&str> = Vec::new();
        for (_, text) in self.notes.iter().filter(|(s, _)| s == section) {
            if !written.contains(&text.as_str()) {
                out.push_str(text);
                out.push_str("\n\n");
                written.push(text);
            }
        }
        out
    }

    /// `old` (a BENCHMARKS.md written by a full run) with this run's rows and sections put in,
    /// for a run of some rows only: the rows of `old` whose names start with `prefix` are
    /// replaced by this run's rows (new ones go before the peak RSS rows, or at the table's
    /// end), each of this run's sections replaces the one of the same heading (or is
    /// appended), and a line under the first paragraph says which command measured them.
    /// Everything else (the machine, the other rows and sections) stays as it was.
    pub(crate) fn merged_into(
        &self,
        old: &str,
        prefix: &str,
        command: &str,
        started: &str,
        secs: f64,
    ) -> String {
        let mut lines: Vec<String> = old.lines().map(str::to_owned).collect();
        let row_start = format!("| {prefix}");
        if let Some(results) = lines.iter().position(|l| l == "## Results") {
            let first = lines[results..]
                .iter()
                .position(|l| l.starts_with('|'))
                .map_or(lines.len(), |i| results + i);
            let end = lines[first..]
                .iter()
                .position(|l| !l.starts_with('|'))
                .map_or(lines.len(), |i| first + i);
            let body = first + 2;
            let mut at = None;
            let mut kept: Vec<String> = Vec::new();
            for (i, line) in lines[body.min(end)..end].iter().enumerate() {
                if line.starts_with(&row_start) {
                    at.get_or_insert(i);
                } else {
                    kept.push(line.clone());
                }
            }
            let at = at
                .or_else(|| kept.iter().position(|l| l.starts_with("| peak RSS")))
                .unwrap_or(kept.len())
                .min(kept.len());
            let new: Vec<String> = self.rows.iter().map(Row::line).collect();
            kept.splice(at..at, new);
            lines.splice(body.min(end)..end, kept);
        }
        let stamp = format!(
            "Rows whose names start with “{prefix}” were measured by `{command}` on {started} in {secs:.0} s; the rest by the command above."
        );
        let mut text = String::new();
        let mut stamped = false;
        let mut after_stamp = false;
        for line in &lines {
            if line.starts_with("Rows whose names start with") {
                after_stamp = true;
                continue;
            }
            if std::mem::take(&mut after_stamp) && line.is_empty() {
                continue;
            }
            text.push_str(line);
            text.push('\n');
            if !stamped && line.starts_with("Generated by") {
                text.push('\n');
                text.push_str(&stamp);
                text.push('\n');
                stamped = true;
            }
        }
        let mut sections: Vec<&str> = Vec::new();
        for (s, _) in &self.notes {
            if !sections.contains(&s.as_str()) {
                sections.push(s);
            }
        }
        for section in sections {
            let heading = format!("\n## {section}\n");
            let new = self.section(section);
            match text.find(&heading) {
                Some(start) => {
                    let from = start + 1;
                    let to = text[from + heading.len() - 1..]
                        .find("\n## ")
                        .map_or(text.len(), |i| from + heading.len() - 1 + i + 1);
                    text.replace_range(from..to, &new);
                }
                None => {
                    text.push('\n');
                    text.push_str(&new);
                }
            }
        }
        text
    }

    /// The whole BENCHMARKS.md.
    pub(crate) fn markdown(
        &self,
        machine: &Machine,
        command: &str,
        started: &str,
        secs: f64,
    ) -> String {
        let mut out = String::new();
        out.push_str("# mediawarm benchmarks\n\n");
        out.push_str(&format!(
            "Generated by `{command}` on {started} in {secs:.0} s. Every ratio compares two \
             figures measured side by side in this run, on this machine; rerun the command to \
             reproduce (see `bench/README.md`).\n\n"
        ));
        out.push_str("## Machine\n\n");
        out.push_str(&format!(
            "- `nproc`: {}\n- CPU: {}\n- memory: {}\n- kernel: {}\n- {}\n",
            machine.nproc, machine.cpu, machine.memory, machine.kernel, machine.rustc
        ));
        for s in &machine.services {
            out.push_str(&format!("- {s}\n"));
        }
        out.push_str(
            "\nThe load generator, the server under test, Redis and PostgreSQL all share these \
             cores: absolute figures are a floor, ratios are the point.\n\n",
        );
        out.push_str("## Results\n\n");
        out.push_str(&self.table());
        let mut sections: Vec<&str> = Vec::new();
        for (s, _) in &self.notes {
            if !sections.contains(&s.as_str()) {
                sections.push(s);
            }
        }
        for section in sections {
            out.push('\n');
            out.push_str(&self.section(section));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Report, Row};

    const OLD: &str = "# mediawarm benchmarks\n\nGenerated by `x` on d in 1 s.\n\n## Results\n\n| row | ratio (same run) | target | verdict | absolute figures |\n| --- | --- | --- | --- | --- |\n| queue | 1× |  |  | q |\n| jobs old | 2× |  |  | o |\n| peak RSS (VmHWM), API | 1 MiB |  |  | r |\n\n## Method\n\nM.\n\n## Job path\n\nOld note.\n\n## Near cache\n\nN.\n";

    #[test]
    fn a_partial_run_replaces_its_rows_and_section_only() {
        let mut report = Report::default();
        report.push(Row::measured("jobs new", "3×", "t", Some(true), "n"));
        report.note("Job path", "New note.");
        let merged = report.merged_into(OLD, "jobs", "cmd", "when", 2.0);
        assert!(
            merged
                .contains("| queue | 1× |  |  | q |\n| jobs new | 3× | t | met | n |\n| peak RSS")
        );
        assert!(!merged.contains("jobs old"));
        assert!(merged.contains("## Job path\n\nNew note.\n\n## Near cache\n\nN.\n"));
        assert!(!merged.contains("Old note."));
        assert!(merged.contains("## Method\n\nM.\n"));
        assert!(merged.contains("Rows whose names start with “jobs” were measured by `cmd`"));
        let again = report.merged_into(&merged, "jobs", "cmd", "when", 2.0);
        assert_eq!(again, merged, "merging twice changes nothing more");
    }

    #[test]
    fn a_new_section_is_appended() {
        let mut report = Report::default();
        report.push(Row::measured("jobs new", "3×", "", None, "n"));
        report.note("Other", "X.");
        let merged = report.merged_into(OLD, "jobs", "cmd", "when", 2.0);
        assert!(merged.ends_with("## Other\n\nX.\n\n"));
    }
}
