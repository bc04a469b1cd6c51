//! The icash store on PostgreSQL.
//!
//! [`PgStore`] implements every port of [`icash_core::store`] with sqlx: the schema is embedded
//! and applied at connect ([`MIGRATOR`]); recording a purchase is one statement; each
//! analytic reads aggregates that triggers keep with every purchase; a bulk load is one
//! transaction of binary COPYs that builds indexes and aggregates once at its end, and leaves
//! the foreign keys for [`PgStore::validate_foreign_keys`] to prove afterwards.
//!
//! The schema is six migrations (in `migrations/`), one per concern:
//! - `schema`: the catalog, the customers with their counters, the purchases and their lines;
//! - `idempotency`: the idempotency keys of purchases;
//! - `aggregates`: the tables that statement-level triggers keep with every purchase (per
//!   customer, per branch and per product, in all and per UTC month, day and hour);
//! - `period_functions`: the SQL functions that sum a period from those aggregates and the
//!   purchases at its edges;
//! - `bulk_load`: the functions a bulk load begins and ends with, and the one that validates its
//!   foreign keys afterwards;
//! - `keys_and_audit`: the API keys, kept as hashes of their secrets, and the audit trail,
//!   written in the transaction of each change it records.
//!
//! ```no_run
//! use icash_core::{Analytics, Filter};
//! use icash_postgres::PgStore;
//!
//! # async fn run() -> icash_core::Result<()> {
//! let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/icash").await?;
//! let statistics = store.statistics(&Filter::ALL).await?;
//! println!("{} purchases, {} in revenue", statistics.total_purchases, statistics.total_revenue);
//! # Ok(())
//! # }
//! ```
//!
//! With the `testing` feature, `testing::TestDb` gives each test a fresh, migrated database.

mod analytics;
mod audit;
mod catalog;
mod error;
mod idempotency;
mod import;
mod keys;
pub mod pool_metrics;
mod purchase;
mod refund;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod till;

pub use store::{MIGRATOR, PgConfig, PgStore};
