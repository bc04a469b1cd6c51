//! icash runs a supermarket chain's cash registers and its owner's analytics, on PostgreSQL or
//! in memory.
//!
//! # Layout
//! - [`core`] (`icash-core`): the domain (exact money, purchases, analytics) behind async store
//!   traits, the CSV import, and [`MemoryStore`](core::MemoryStore);
//! - [`postgres`] (`icash-postgres`): [`PgStore`](postgres::PgStore), the same traits on
//!   PostgreSQL with sqlx;
//! - [`http`] (`icash-http`): the HTTP contract as warp filters over any store;
//! - [`data`]: loading a directory of CSV files into a store;
//! - `server` (with the default `server` feature): the server's start-up, its configuration
//!   and its logs, as `cargo run --example server` and the Docker image run it.
//!
//! # Embedding
//! ```
//! use std::sync::Arc;
//!
//! use icash::core::{Analytics, Catalog, Filter, MemoryStore, Store};
//! use icash::core::import::Policy;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any store will do: `icash::postgres::PgStore::connect(url).await?` for PostgreSQL.
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
//! let report = icash::data::load_dir(store.as_ref(), &dir, Policy::Strict).await?;
//! assert!(report.purchases > 0);
//!
//! let statistics = store.statistics(&Filter::ALL).await?;
//! assert_eq!(statistics.total_purchases, report.purchases);
//! assert_eq!(store.products().await?.len(), report.products);
//! # Ok(())
//! # }
//! ```

pub mod data;
#[cfg(feature = "server")]
pub mod server;

pub use icash_core as core;
pub use icash_http as http;
pub use icash_postgres as postgres;

// The README's Rust examples compile and run as doc tests, so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
