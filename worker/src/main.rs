//! `mediawarm-worker` entry point.

fn main() {}
