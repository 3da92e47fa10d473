//! The API's integration tests: one binary, one module per resource, every test run against
//! both stacks (embedded: SQLite + memory cache; production: PostgreSQL + Redis from
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL`, each test in its own database and key prefix).

mod helpers;

mod cache;
mod dashboard;
mod health;
mod hostile;
mod jobs;
mod media;
mod metrics;
mod queue;
mod secrets;
mod sources;
mod views;
