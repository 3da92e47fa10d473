//! `mediawarm-worker extract`, run as an operator runs it: one page's article as JSON on
//! stdout (and nothing else there), and `--labels` scoring a labelled folder, with a progress
//! bar only on a terminal.

use std::process::Command;

const PAGE: &str = r#"<!doctype html><html><head>
<meta charset="utf-8"><title>Budget passes | The Gazette</title>
<meta property="og:title" content="Budget passes">
<meta name="author" content="Ada Reporter">
<meta property="article:published_time" content="2026-03-04T09:30:00+01:00">
</head><body><article><h1>Budget passes</h1><p>The vote was close.</p></article></body></html>"#;

fn worker() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mediawarm-worker"));
    command.env("RUST_LOG", "info");
    command
}

/// A labelled folder in the corpus' format with two pages.
fn labelled_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pages")).unwrap();
    std::fs::write(dir.path().join("pages/a.html"), PAGE).unwrap();
    std::fs::write(
        dir.path().join("pages/b.html"),
        PAGE.replace("Budget passes", "Rain tomorrow"),
    )
    .unwrap();
    let labels = [
        r#"{"file": "a.html", "url": "https://gazette.example/a", "origin": "synthetic", "title": "Budget passes", "author": "Ada Reporter", "date": "2026-03-04"}"#,
        r#"{"file": "b.html", "url": "https://gazette.example/b", "origin": "synthetic", "title": "Rain tomorrow", "author": "Someone Else", "date": "2026-03-04"}"#,
    ];
    std::fs::write(dir.path().join("labels.jsonl"), labels.join("\n")).unwrap();
    dir
}

#[test]
fn one_page_prints_its_article_as_json_on_stdout_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, PAGE).unwrap();
    let output = worker()
        .args(["extract", "--url", "https://gazette.example/budget"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let article: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(article["title"], "Budget passes");
    assert_eq!(article["author"], "Ada Reporter");
    assert_eq!(
        article["published_at"], "2026-03-04T09:30:00+01:00",
        "the page's own offset is kept"
    );
}

#[test]
fn labels_are_scored_per_field_and_predictions_written() {
    let dir = labelled_folder();
    let predictions = dir.path().join("predictions.jsonl");
    let output = worker()
        .args(["extract", "--labels"])
        .arg(dir.path())
        .arg("--predictions")
        .arg(&predictions)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("title=1.000")
            && stdout.contains("author=0.500")
            && stdout.contains("date=1.000"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("extract ["), "no bar in a pipe: {stderr}");
    let lines = std::fs::read_to_string(&predictions).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

#[test]
fn several_folders_are_scored_each_with_rules_and_a_split_keeps_one_half() {
    let (one, two) = (labelled_folder(), labelled_folder());
    let output = worker()
        .args(["extract", "--labels"])
        .arg(one.path())
        .arg(two.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("== ").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("rules (").count(), 2, "{stdout}");
    assert!(stdout.contains("date metadata: decided"), "{stdout}");
    assert!(stdout.contains("time per page: p50"), "{stdout}");
    let pages = |half: &str| {
        let output = worker()
            .args(["extract", "--split", half, "--labels"])
            .arg(one.path())
            .output()
            .unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(' '))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{stdout}"))
    };
    assert_eq!(pages("A") + pages("B"), 2, "the halves share out the pages");
}

#[test]
fn scoring_draws_a_progress_bar_on_a_terminal() {
    // util-linux `script` runs the command on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = labelled_folder();
    let command = format!(
        "{} extract --labels {}",
        env!("CARGO_BIN_EXE_mediawarm-worker"),
        dir.path().display()
    );
    let output = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("extract ["), "a bar on a terminal: {out}");
    assert!(out.contains("title=1.000"), "{out}");
}

#[test]
fn a_page_it_cannot_use_fails_on_stderr_and_leaves_stdout_empty() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.html");
    std::fs::write(
        &bare,
        "<html><body><p>No headline anywhere.</p></body></html>",
    )
    .unwrap();
    let missing = dir.path().join("missing.html");
    for (file, says) in [(&bare, "has no title"), (&missing, "reading")] {
        let output = worker().arg("extract").arg(file).output().unwrap();
        assert!(!output.status.success(), "{}", file.display());
        assert!(output.stdout.is_empty(), "{}", file.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(says) && stderr.contains(&*file.file_name().unwrap().to_string_lossy()),
            "{stderr}"
        );
    }
}
