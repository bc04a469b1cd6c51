//! The icash domain: exact money, the catalog, purchases and the owner's analytics, behind
//! async store traits. It knows nothing of SQL or HTTP.
//!
//! - [`money`], [`id`], [`product`], [`purchase`]: the types, valid once constructed;
//! - [`analytics`]: what each figure means, and the ranking and orderings written once;
//! - [`idempotency`]: keys that make a retried purchase safe;
//! - [`refund`]: refunds and voids, the rules of what may be taken back;
//! - [`price`]: prices over time, and the rule that prices a sale at its sale time;
//! - [`offline`]: sales handed in late by tills that were offline, alone or in batches;
//! - [`business_day`], [`period`]: a branch's time zone and the time its business day starts,
//!   and the analytics over business dates, each branch's in its own zone;
//! - [`actor`], [`access`]: who is acting (a key's [`Role`] over its branches) and what each role
//!   may do ([`Actor::may`]), written once;
//! - [`key`], [`audit`]: API keys, kept as hashes, and the trail of every change that is not a
//!   sale;
//! - [`store`]: the ports a store implements ([`Catalog`], [`Purchases`], [`Analytics`],
//!   [`Keys`], [`Audit`], [`Refunds`]);
//! - [`consistency`], [`node`]: read-your-writes across a store's copies, and the servers
//!   behind a store;
//! - [`memory`]: [`MemoryStore`], a complete store in memory;
//! - [`import`]: the old system's CSV files, streamed into a store;
//! - [`error`]: errors split by who is at fault.
//!
//! ```
//! use icash_core::{BranchId, CustomerRef, Filter, MemoryStore, NewPurchase, Product, ProductId};
//! use icash_core::store::{Analytics, Catalog, Purchases};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> icash_core::Result<()> {
//! let store = MemoryStore::new();
//! let milk = Product::new(ProductId::new(1)?, "milk", "1.50".parse()?)?;
//! let eggs = Product::new(ProductId::new(2)?, "eggs", "3".parse()?)?;
//! store.put_products(&[milk, eggs]).await?;
//!
//! let items = vec![ProductId::new(1)?, ProductId::new(2)?];
//! let purchase = NewPurchase::new(BranchId::new(1)?, CustomerRef::New, items, chrono::Utc::now())?;
//! let recorded = store.record_purchase(purchase).await?;
//! assert_eq!(recorded.total().to_string(), "4.50");
//!
//! let statistics = store.statistics(&Filter::ALL).await?;
//! assert_eq!(statistics.total_purchases, 1);
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod actor;
pub mod analytics;
pub mod audit;
pub mod business_day;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod consistency;
pub mod daily_report;
pub mod error;
pub mod id;
pub mod idempotency;
pub mod import;
pub mod key;
pub mod memory;
pub mod money;
pub mod node;
pub mod offline;
pub mod period;
pub mod price;
pub mod product;
pub mod purchase;
pub mod refund;
pub mod sales;
pub mod series;
pub mod store;

pub use access::{Action, Forbidden};
pub use actor::{Actor, Role, Scope};
pub use analytics::Filter;
pub use audit::{AuditEntry, AuditKind, AuditQuery, Origin};
pub use business_day::{BusinessDates, DayStart, TimeZone};
pub use consistency::Consistency;
pub use error::{Error, Result, StoreError, ValidationError};
pub use id::{
    AuditId, BranchId, ClientId, CustomerId, CustomerRef, KeyId, ProductId, PurchaseId, RefundId,
};
pub use idempotency::{IdempotencyKey, Recorded};
pub use key::{ApiKeySecret, KeyHash, KeyInfo, KeyName, NewKey};
pub use memory::MemoryStore;
pub use money::Money;
pub use node::{Node, NodeRole};
pub use offline::{BatchOutcome, OfflineWindow};
pub use price::{NewProduct, PriceChange, PriceHistory, PricePoint, ProductAtSale};
pub use product::{Branch, Product};
pub use purchase::{NewPurchase, PricedPurchase, Purchase, PurchaseLine};
pub use refund::{NewRefund, NewVoid, PurchaseStatus, Receipt, Refund, Refunded, Void, VoidReason};
pub use store::{Analytics, Audit, Catalog, ImportSession, Keys, Purchases, Refunds, Store};
