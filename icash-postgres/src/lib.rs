//! The icash store on PostgreSQL.
//!
//! [`PgStore`] implements every port of [`icash_core::store`] with sqlx: the schema is embedded
//! and applied at connect ([`MIGRATOR`]); recording a purchase is one statement; each
//! analytic reads aggregates that triggers keep with every purchase; a bulk load is one
//! transaction of binary COPYs that builds indexes and aggregates once at its end, and leaves
//! the foreign keys for [`PgStore::validate_foreign_keys`] to prove afterwards.
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
mod catalog;
mod error;
mod idempotency;
mod import;
mod purchase;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod till;

pub use store::{MIGRATOR, PgConfig, PgStore};
