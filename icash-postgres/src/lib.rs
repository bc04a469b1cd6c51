//! The icash store on PostgreSQL.
//!
//! [`PgStore`] implements every port of [`icash_core::store`] with sqlx: the schema is embedded
//! and applied at connect ([`MIGRATOR`]); recording a purchase is one statement; each
//! analytic reads aggregates that triggers keep with every purchase; a bulk load is one
//! transaction of binary COPYs that builds indexes and aggregates once at its end, and leaves
//! the foreign keys for [`PgStore::validate_foreign_keys`] to prove afterwards.
//!
//! The schema is its migrations (in `migrations/`), one per concern:
//! - `schema`: the catalog, the customers with their counters, the purchases and their lines;
//! - `idempotency`: the idempotency keys of purchases;
//! - `aggregates`: the tables that statement-level triggers keep with every purchase (per
//!   customer, per branch and per product, in all and per UTC month, day and hour);
//! - `period_functions`: the SQL functions that sum a period from those aggregates and the
//!   purchases at its edges;
//! - `bulk_load`: the functions a bulk load begins and ends with, and the one that validates its
//!   foreign keys afterwards;
//! - `keys_and_audit`: the API keys, kept as hashes of their secrets, and the audit trail,
//!   written in the transaction of each change it records;
//! - `recorded_by`: who recorded each purchase, and idempotency keys scoped to their sender;
//! - `serving_role`: what a role that serves but may not change the schema is granted;
//! - `prices_and_offline`: each product's prices over time, added and retired products, and
//!   the till's own id kept with each purchase it hands in;
//! - `refunds_and_voids`: refunds and voids as records of their own, the triggers that move
//!   every aggregate by them, and the period functions that skip voided purchases;
//! - `business_day`: each branch's name, time zone and start of its business day;
//! - `customer_sets`: customer numbers, the sets of customers per branch and UTC hour, day and
//!   month, and the pending purchases the rollup ([`PgStore::roll_up`]) folds into them.
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
//! With more than one server ([`PgStore::connect_to`], or a URL naming several hosts:
//! [`hosts`]), the writes go to the server not in recovery and follow a promotion, and the reads
//! go to standbys within a staleness bound, honouring a session's consistency token
//! ([`icash_core::consistency`]).
//!
//! With the `testing` feature, `testing::TestDb` gives each test a fresh, migrated database.

mod analytics;
mod audit;
mod catalog;
mod consistency;
mod customer_sets;
mod error;
pub mod hosts;
mod idempotency;
mod import;
mod keys;
mod offline;
pub mod pool_metrics;
mod prices;
mod purchase;
mod refund;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod till;
mod topology;

pub use customer_sets::RollUp;
pub use store::{MIGRATOR, PgConfig, PgStore};
