//! HTTP routes, one module per resource, merged into one router by [`crate::build_app`].

pub(crate) mod cache;
pub(crate) mod cached;
pub(crate) mod dashboard;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod media;
pub(crate) mod metrics;
pub(crate) mod openapi;
pub(crate) mod params;
pub(crate) mod queue;
pub(crate) mod sources;
pub(crate) mod views;
