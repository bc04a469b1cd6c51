//! Integration tests: the crates together, on both stores, PostgreSQL included.
//!
//! PostgreSQL comes from `ICASH_TEST_DATABASE_URL` or a container (see
//! `icash_postgres::testing`); the old system's files from the folder `ICASH_SEED_DATA` names,
//! else `../shared/seed-data`. The tests comparing with those files say on one line that they
//! were skipped when neither is there (see `support::seed_dir`); `.ci/run` always provides them.
//! The tests that run the example server as a process share `harness`.

mod admin;
mod api;
mod auth;
mod batch;
mod branches;
mod browser;
mod business_dates;
mod cluster;
mod concurrency;
mod connections;
mod data_dir;
mod driver;
mod equivalence;
mod export;
mod faults;
mod harness;
mod hostile;
mod http;
mod idempotency;
mod limits;
mod metrics;
mod old_page;
mod prices;
mod pricing;
mod probes;
mod refunds;
mod replicas;
mod sales;
mod secrets;
mod seed_data;
mod server;
mod server_auth;
mod serving_role;
mod support;
mod tills;
