//! Integration tests: the crates together, on both stores, PostgreSQL included.
//!
//! PostgreSQL comes from `ICASH_TEST_DATABASE_URL` or a container (see
//! `icash_postgres::testing`); the old system's files from `../shared/seed-data`, or the
//! folder `ICASH_SEED_DATA` names.

mod concurrency;
mod data_dir;
mod equivalence;
mod faults;
mod hostile;
mod http;
mod idempotency;
mod seed_data;
mod server;
mod support;
mod tills;
