//! The ports every store implements: the catalog, the purchases, the analytics, the API keys,
//! the audit trail, and refunds and voids.
//!
//! Each method is one unit of work of the store: atomic, and never spanning two calls. The
//! analytics methods return aggregates (one row per customer, product or branch), computed where
//! the data is; no method hands every purchase to the caller (the day's report reads one
//! branch's day of purchases, [`Analytics::sales_records`]).

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::actor::Actor;
use crate::analytics::{
    CustomerPurchases, Dashboard, Filter, LoyalCustomers, LoyalQuery, LoyalStream, ProductSales,
    RankedProduct, Statistics, TopCustomersQuery, rank_top_products,
};
use crate::audit::{AuditEntry, AuditQuery, Origin};
use crate::error::Result;
use crate::id::{BranchId, ProductId, PurchaseId};
use crate::idempotency::{IdempotencyKey, Recorded};
use crate::key::{ApiKeySecret, KeyHash, KeyInfo, KeyName, NewKey};
use crate::node::Node;
use crate::offline::BatchOutcome;
use crate::price::{NewProduct, PriceChange, PriceHistory};
use crate::product::{Branch, Product};
use crate::purchase::{NewPurchase, PricedPurchase, Purchase};
use crate::refund::{NewRefund, NewVoid, Receipt, Refunded};
use crate::sales::{BinSales, BinWidth, DaySales, SalesRecords};

/// The products and branches.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The products on sale now (not retired), each at the price in force now, in id order.
    async fn products(&self) -> Result<Vec<Product>>;

    /// Sets the catalog as the data files give it: adds products, or renames and reprices
    /// those whose id exists, each price in force from the start of the history (it replaces
    /// the product's price history). Purchases already recorded keep their prices. Prices that
    /// change over time go through [`Catalog::change_price`].
    async fn put_products(&self, products: &[Product]) -> Result<()>;

    /// Adds a product under the next free id, its price in force from now on, and its
    /// `product.added` audit entry naming `origin`, atomically.
    ///
    /// Fails with [`Error::Conflict`](crate::Error::Conflict) when a product on sale has the
    /// same name (trimmed, in any case); nothing is written then.
    async fn add_product(&self, product: &NewProduct, origin: &Origin) -> Result<Product>;

    /// Gives `product` the price of `change` from its `effective_from` on (replacing a price
    /// set for the same instant), with its `price.changed` audit entry, atomically; returns
    /// the product's history as it is now. Purchases already recorded keep their prices.
    ///
    /// Fails with [`Error::NotFound`](crate::Error::NotFound) for an unknown product, and as
    /// [`PriceHistory::check_change`] says; nothing is written then.
    async fn change_price(
        &self,
        product: ProductId,
        change: &PriceChange,
        origin: &Origin,
    ) -> Result<PriceHistory>;

    /// Retires `product` from now on: it is no longer sold, while its history and the
    /// analytics of its past sales stay. Writes its `product.retired` audit entry atomically.
    /// Idempotent: a product already retired is returned unchanged, and nothing is written.
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown product.
    async fn retire_product(&self, product: ProductId, origin: &Origin) -> Result<PriceHistory>;

    /// The product's prices over time; [`Error::NotFound`](crate::Error::NotFound) for an
    /// unknown product.
    async fn price_history(&self, product: ProductId) -> Result<PriceHistory>;

    /// Every branch, in id order.
    async fn branches(&self) -> Result<Vec<Branch>>;

    /// Adds the branches that do not exist yet, with their settings; existing ones are left
    /// as they are.
    async fn put_branches(&self, branches: &[Branch]) -> Result<()>;

    /// Sets an existing branch's name, time zone and start of its business day to `branch`'s,
    /// and writes its `branch.changed` audit entry naming `origin`, atomically; returns the
    /// branch as it is now. Purchases keep their instants: only how their days are reckoned
    /// changes. Fails with [`Error::NotFound`](crate::Error::NotFound) when the chain has no
    /// such branch, and then writes nothing.
    async fn update_branch(&self, branch: &Branch, origin: &Origin) -> Result<Branch>;

    /// Checks that the store can serve requests now; fails with
    /// [`StoreError::Unavailable`](crate::error::StoreError::Unavailable) when it cannot.
    async fn ping(&self) -> Result<()>;

    /// How many of the schema changes this build needs the store still lacks: `0` when its
    /// schema is complete (a store without a schema, such as the in-memory one, always is).
    /// Fails as [`Catalog::ping`] does when the store cannot be asked.
    async fn missing_migrations(&self) -> Result<usize>;

    /// The database servers behind the store, the primary first: their roles, their lag, and
    /// which take writes and reads now. Read from what the store already knows, without asking
    /// the servers, so that a probe costs nothing.
    async fn nodes(&self) -> Result<Vec<Node>>;
}

/// Recording and reading purchases.
#[async_trait]
pub trait Purchases: Send + Sync {
    /// Records a purchase atomically: prices it at the prices in force at its sale time
    /// ([`NewPurchase::price`]), adds its customer if new, and stores it whole, or stores
    /// nothing.
    ///
    /// A purchase with a [`client_id`](NewPurchase::client_id) that its recording key (or, with
    /// no key, any unauthenticated request) has recorded before returns [`Recorded::Resent`]
    /// with the purchase recorded then, whatever the time since, and records nothing; two
    /// calls racing with the same pair record one purchase.
    ///
    /// With a `key`, the key is stored in the same atomic operation; a later call with the same
    /// key and the same request ([`NewPurchase::fingerprint`]) returns
    /// [`Recorded::Replayed`] with the purchase recorded then, and records nothing. A call
    /// that races one still in flight with the same key waits for it. The same key with
    /// another request fails with [`Error::Conflict`](crate::Error::Conflict).
    ///
    /// Fails with [`Error::Invalid`](crate::Error::Invalid) when the branch or a product does
    /// not exist.
    async fn record(&self, purchase: NewPurchase, key: Option<&IdempotencyKey>)
    -> Result<Recorded>;

    /// Records purchases handed in together by a till that was offline, each as
    /// [`Purchases::record`] would without an idempotency key, and each standing or falling
    /// alone: the outcomes come back one per purchase, in order. A purchase whose client id
    /// was recorded before (in an earlier call, earlier in the same batch, or by a call racing
    /// this one) is [`BatchOutcome::AlreadyRecorded`] with that purchase's id.
    async fn record_batch(&self, purchases: Vec<NewPurchase>) -> Result<Vec<BatchOutcome>>;

    /// Records a purchase without an idempotency key (see [`Purchases::record`]).
    async fn record_purchase(&self, purchase: NewPurchase) -> Result<Purchase> {
        Ok(self.record(purchase, None).await?.into_purchase())
    }

    /// A recorded purchase with its lines; [`Error::NotFound`](crate::Error::NotFound) when
    /// there is none with that id.
    async fn purchase(&self, id: PurchaseId) -> Result<Purchase>;

    /// Whether at least one purchase is recorded.
    async fn has_purchases(&self) -> Result<bool>;

    /// Starts a bulk load into a store that has no purchases yet.
    ///
    /// Returns `None` when the store already has purchases, so that loading the same files
    /// twice, or at every start, never duplicates anything. Nothing the session writes is
    /// visible, nor kept, until [`ImportSession::commit`]; dropping the session discards it.
    /// Two sessions never run at once: the second waits for the first to end.
    async fn begin_import(&self) -> Result<Option<Box<dyn ImportSession + '_>>>;
}

/// A bulk load in progress (see [`Purchases::begin_import`]).
#[async_trait]
pub trait ImportSession: Send {
    /// Adds products or changes existing ones, as [`Catalog::put_products`] does.
    async fn put_products(&mut self, products: &[Product]) -> Result<()>;

    /// Writes a batch of priced purchases (whose products were put first), adding their
    /// customers.
    async fn write(&mut self, purchases: Vec<PricedPurchase>) -> Result<()>;

    /// Makes everything written visible at once.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// The owner's analytics, aggregated by the store.
#[async_trait]
pub trait Analytics: Send + Sync {
    /// How many distinct customers made a purchase.
    async fn unique_customers(&self, filter: &Filter) -> Result<u64>;

    /// The customers with at least `query.min_purchases` purchases, in
    /// [`CustomerActivity::loyal_order`](crate::analytics::CustomerActivity::loyal_order).
    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers>;

    /// The same list as [`Analytics::loyal_customers`], as a stream, for lists too long to
    /// gather (a whole chain's loyal customers): the count and the first entry are read before
    /// it returns, so that a failure to start is an error here; a failure later ends the stream
    /// with an error. The default gathers the list first; a store that can read its entries
    /// one by one overrides it.
    async fn loyal_customers_stream(&self, query: &LoyalQuery) -> Result<LoyalStream> {
        Ok(LoyalStream::gathered(self.loyal_customers(query).await?))
    }

    /// Units sold per product, for every product that sold at least one unit (any order).
    async fn product_sales(&self, filter: &Filter) -> Result<Vec<ProductSales>>;

    /// The chain's purchase count, revenue and customers, in all and per branch.
    async fn statistics(&self, filter: &Filter) -> Result<Statistics>;

    /// The customers with the most purchases, in
    /// [`CustomerPurchases::top_order`](crate::analytics::CustomerPurchases::top_order).
    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>>;

    /// The best-selling products, ranked by [`rank_top_products`].
    async fn top_products(&self, filter: &Filter, max_rank: u32) -> Result<Vec<RankedProduct>> {
        Ok(rank_top_products(
            self.product_sales(filter).await?,
            max_rank,
        ))
    }

    /// Every part of the dashboard over `filter`, read over the same purchases: a purchase
    /// recorded meanwhile counts in every part or in none. [`Dashboard::from_parts`] puts them
    /// together.
    async fn dashboard(&self, filter: &Filter) -> Result<Dashboard>;

    /// What `branch` (or, when `None`, every branch, added up) sold on each business date from
    /// `from` to `to` (both inclusive), in date order, each branch's dates reckoned in its zone
    /// from its start of day ([`business_date`](crate::business_day::business_date)): the
    /// purchases made that day and not voided, and the refunds made that day. A date that sold
    /// and refunded nothing may be left out.
    async fn business_day_sales(
        &self,
        branch: Option<BranchId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySales>>;

    /// What each branch sold under `filter` per bin of `width` ([`BinWidth::floor`] of each
    /// purchase's and refund's instant), counted as [`Analytics::business_day_sales`] counts.
    /// A bin that sold and refunded nothing may be left out.
    async fn binned_sales(&self, filter: &Filter, width: BinWidth) -> Result<Vec<BinSales>>;

    /// Each purchase made under `filter`, voided ones included, and each refund made under it
    /// (of a purchase of the filter's branch), each list in the order of the instants.
    async fn sales_records(&self, filter: &Filter) -> Result<SalesRecords>;
}

/// The API keys: created, listed, revoked, and looked up by the hash of a presented secret.
///
/// The caller decides whether the origin's actor may manage keys
/// ([`Action::ManageKeys`](crate::Action::ManageKeys)); a store records what it is asked to,
/// with its audit entry ([`NewAuditEntry`](crate::audit::NewAuditEntry)) in the same atomic
/// operation. A store never sees a secret, only its [`KeyHash`].
#[async_trait]
pub trait Keys: Send + Sync {
    /// Adds the key whose secret hashes to `hash`, and its `key.created` entry in the audit
    /// trail naming `origin`, atomically.
    ///
    /// Fails with [`Error::Conflict`](crate::Error::Conflict) when a key (revoked ones
    /// included: names are never reused) has the name, or the hash;
    /// [`Error::Invalid`](crate::Error::Invalid) when the key's branch does not exist. Either
    /// way nothing is written, the audit entry included.
    async fn add_key(&self, key: &NewKey, hash: &KeyHash, origin: &Origin) -> Result<KeyInfo>;

    /// Creates a key with a new random secret (see [`Keys::add_key`] for the rest): the secret
    /// is returned here once, and kept nowhere.
    async fn create_key(&self, key: &NewKey, origin: &Origin) -> Result<(KeyInfo, ApiKeySecret)> {
        let secret = ApiKeySecret::generate();
        let info = self.add_key(key, &secret.hash(), origin).await?;
        Ok((info, secret))
    }

    /// Every key, revoked ones included, in id (creation) order.
    async fn keys(&self) -> Result<Vec<KeyInfo>>;

    /// Revokes the key named `name`, and writes its `key.revoked` entry naming `origin`,
    /// atomically; returns the key as it is now.
    ///
    /// Revoking is idempotent: a key already revoked is returned unchanged (with the time of
    /// its first revocation), and nothing is written. Fails with
    /// [`Error::NotFound`](crate::Error::NotFound) when no key has the name.
    async fn revoke_key(&self, name: &KeyName, origin: &Origin) -> Result<KeyInfo>;

    /// Who the key whose secret hashes to `hash` authenticates, or `None` when no key has that
    /// hash or the key is revoked.
    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Actor>>;

    /// Whether the store has any key, revoked ones included: a server creates the first
    /// administrator key only in a store that never had one.
    async fn has_keys(&self) -> Result<bool>;
}

/// Reading the audit trail, which each store writes with the changes it records.
#[async_trait]
pub trait Audit: Send + Sync {
    /// A page of the trail, newest entries first, starting after `query.after`.
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// A sale's life after it was made: its receipt, refunds and voids (see [`crate::refund`]).
///
/// The caller decides whether the origin's actor may refund or void the purchase
/// ([`Action::RefundPurchase`](crate::Action::RefundPurchase),
/// [`Action::VoidPurchase`](crate::Action::VoidPurchase)); a store writes what it is asked to,
/// with its audit entry, in one atomic operation, after applying the rules of
/// [`crate::refund`] under a lock on the purchase, so that two racing requests take turns.
#[async_trait]
pub trait Refunds: Send + Sync {
    /// The purchase `id` with its status and refunds; [`Error::NotFound`](crate::Error::NotFound)
    /// when there is none.
    async fn receipt(&self, id: PurchaseId) -> Result<Receipt>;

    /// Records `refund` and its `purchase.refunded` audit entry naming `origin`, atomically;
    /// the refund names `origin`'s key.
    ///
    /// With a `key` (scoped to `origin`'s key, as a purchase's), a later call with the same key
    /// and request ([`NewRefund::fingerprint`]) returns [`Refunded::Replayed`] with the refund
    /// recorded then; the same key with another request is a conflict. Fails with
    /// [`Error::NotFound`](crate::Error::NotFound) when the purchase does not exist and with
    /// [`Error::Conflict`](crate::Error::Conflict) as [`NewRefund::lines`] says; either way
    /// nothing is written.
    async fn refund(
        &self,
        refund: &NewRefund,
        key: Option<&IdempotencyKey>,
        origin: &Origin,
    ) -> Result<Refunded>;

    /// Voids a purchase and writes its `purchase.voided` audit entry naming `origin`,
    /// atomically, and returns the receipt as it is now. Fails with
    /// [`Error::NotFound`](crate::Error::NotFound) when the purchase does not exist and with
    /// [`Error::Conflict`](crate::Error::Conflict) as [`Receipt::check_void`] says (voiding
    /// twice included); either way nothing is written.
    async fn void(&self, void: &NewVoid, origin: &Origin) -> Result<Receipt>;
}

/// Everything icash needs of a store; implemented by every type that has the six ports, and
/// usable as `Arc<dyn Store>`.
pub trait Store: Catalog + Purchases + Analytics + Keys + Audit + Refunds {}

impl<T: Catalog + Purchases + Analytics + Keys + Audit + Refunds + ?Sized> Store for T {}
