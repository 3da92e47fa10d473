//! `mediawarm-api` entry point.
fn main() {}
