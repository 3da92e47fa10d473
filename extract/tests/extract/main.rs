//! The extractor's public API, tested as a caller uses it: one small handwritten page per
//! rule (`rules`) and the never-panics properties (`no_panic`).

mod no_panic;
mod rules;
