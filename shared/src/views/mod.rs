//! The view catalogue.
