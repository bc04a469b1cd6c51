//! [`MemoryStore`]: every port in memory, for the embedded server and as a test double.

mod prices;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::actor::Actor;
use crate::analytics::{
    BranchStatistics, CustomerActivity, CustomerPurchases, Dashboard, Filter, LoyalCustomers,
    LoyalQuery, ProductSales, RefundTotals, Statistics, TopCustomersQuery,
};
use crate::audit::{AuditEntry, AuditQuery, NewAuditEntry, Origin};
use crate::business_day::{TimeZone, business_date};
use crate::error::{Error, Result, ValidationError};
use crate::id::{AuditId, BranchId, ClientId, CustomerId, KeyId, ProductId, PurchaseId, RefundId};
use crate::idempotency::{DEFAULT_TTL, IdempotencyKey, Recorded};
use crate::key::{KeyHash, KeyInfo, KeyName, NewKey};
use crate::money::Money;
use crate::node::Node;
use crate::offline::BatchOutcome;
use crate::price::{NewProduct, PriceChange, PriceHistory};
use crate::product::{Branch, Product};
use crate::purchase::{NewPurchase, PricedPurchase, Purchase, PurchaseLine};
use crate::refund::{
    NewRefund, NewVoid, PurchaseStatus, Receipt, Refund, Refunded, Void,
    key_reused_for_another_refund,
};
use crate::sales::{
    BinSales, BinWidth, DaySales, RefundRecord, SaleRecord, SalesFigures, SalesRecords,
};
use crate::store::{Analytics, Audit, Catalog, ImportSession, Keys, Purchases, Refunds};

/// A complete store in memory, safe to share between tasks (`Arc<MemoryStore>`).
///
/// Nothing is kept when the process ends. Analytics scan every purchase, which is fine for
/// tests and small shops; PostgreSQL is the store for a chain's history.
#[derive(Debug)]
pub struct MemoryStore {
    state: RwLock<State>,
    import: Arc<Mutex<()>>,
    idempotency_ttl: Duration,
}

/// What a store remembers of an idempotency key.
#[derive(Debug)]
struct KeyRecord {
    fingerprint: String,
    purchase: PurchaseId,
    at: Instant,
}

/// An idempotency key in its sender's scope.
type ScopedKey = (String, IdempotencyKey);

#[derive(Debug, Default)]
struct State {
    /// Every product with its price history, retired ones included.
    prices: prices::PriceBook,
    branches: BTreeMap<BranchId, Branch>,
    customers: HashSet<CustomerId>,
    /// Purchase `n` is at index `n - 1`.
    purchases: Vec<Purchase>,
    /// The idempotency keys, each in its scope ([`NewPurchase::idempotency_scope`]).
    keys: HashMap<ScopedKey, KeyRecord>,
    /// The keys in the order they were stored, so that the expired ones are found first.
    key_order: VecDeque<(Instant, ScopedKey)>,
    /// API key `n` is at index `n - 1`, with its hash.
    api_keys: Vec<(KeyInfo, KeyHash)>,
    /// Audit entry `n` is at index `n - 1`.
    audit: Vec<AuditEntry>,

    // Refunds and voids (`crate::refund`).
    /// Refund `n` is at index `n - 1`.
    refunds: Vec<Refund>,
    /// The voided purchases, each with its void.
    voids: HashMap<PurchaseId, Void>,
    /// The refunds' idempotency keys, each in its scope: the fingerprint, the refund, and
    /// when it was stored.
    refund_keys: HashMap<ScopedKey, (String, RefundId, Instant)>,
    // Tills that were offline.
    /// The purchases recorded with a till's own id, by recording key (none without
    /// authentication) and client id, kept for good.
    client_ids: HashMap<(Option<KeyName>, ClientId), PurchaseId>,
}

impl State {
    fn put_products(&mut self, products: &[Product]) {
        for product in products {
            self.prices.put(product);
        }
    }

    fn push(&mut self, purchase: PricedPurchase) -> Purchase {
        let id = PurchaseId::new(self.purchases.len() as i64 + 1).expect("ids count up from 1");
        self.customers.insert(purchase.customer());
        if let Some(client_id) = purchase.client_id() {
            self.client_ids
                .insert((purchase.recorder().cloned(), client_id), id);
        }
        let purchase = Purchase::new(id, purchase);
        self.purchases.push(purchase.clone());
        purchase
    }

    fn get(&self, id: PurchaseId) -> Option<&Purchase> {
        self.purchases.get(usize::try_from(id.get() - 1).ok()?)
    }

    // Tills that were offline.

    /// The purchase recorded before under `purchase`'s recording key and client id, if any.
    fn recorded_before(&self, purchase: &NewPurchase) -> Option<PurchaseId> {
        let client_id = purchase.client_id()?;
        self.client_ids
            .get(&(purchase.recorder().cloned(), client_id))
            .copied()
    }

    /// Prices and records `purchase` (without an idempotency key), or refuses it.
    fn record_new(&mut self, purchase: &NewPurchase) -> Result<Recorded> {
        if let Some(before) = self.recorded_before(purchase) {
            let recorded = self
                .get(before)
                .expect("a client id names a recorded purchase");
            return Ok(Recorded::Resent(recorded.clone()));
        }
        if !self.branches.contains_key(&purchase.branch()) {
            return Err(ValidationError::UnknownBranch(purchase.branch()).into());
        }
        let priced = purchase.price(purchase.customer().resolve(), |id| {
            self.prices.at_sale(id, purchase.at())
        })?;
        Ok(Recorded::Created(self.push(priced)))
    }

    /// Forgets the keys older than `ttl`.
    fn expire_keys(&mut self, ttl: Duration, now: Instant) {
        while let Some((stored, _)) = self.key_order.front() {
            if now.duration_since(*stored) < ttl {
                break;
            }
            let (stored, key) = self.key_order.pop_front().expect("a front entry");
            // A key stored again after it expired has a newer record: keep that one.
            if self
                .keys
                .get(&key)
                .is_some_and(|record| record.at == stored)
            {
                self.keys.remove(&key);
            }
        }
    }

    fn remember(
        &mut self,
        key: &ScopedKey,
        fingerprint: String,
        purchase: PurchaseId,
        now: Instant,
    ) {
        self.keys.insert(
            key.clone(),
            KeyRecord {
                fingerprint,
                purchase,
                at: now,
            },
        );
        self.key_order.push_back((now, key.clone()));
    }

    fn api_key(&self, name: &KeyName) -> Option<&(KeyInfo, KeyHash)> {
        self.api_keys.iter().find(|(info, _)| info.name == *name)
    }

    fn write_audit(&mut self, entry: NewAuditEntry) {
        let id = AuditId::new(self.audit.len() as i64 + 1).expect("ids count up from 1");
        self.audit.push(AuditEntry {
            id,
            at: chrono::Utc::now(),
            actor: entry.origin.by(),
            kind: entry.kind,
            target: entry.target,
            details: entry.details,
            client: entry.origin.client,
        });
    }

    /// The purchases not voided that `filter` admits.
    fn matching<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = &'a PricedPurchase> + 'a {
        self.purchases
            .iter()
            .filter(|p| !self.voids.contains_key(&p.id()))
            .map(Purchase::details)
            .filter(|p| filter.matches(p.branch(), p.at()))
    }

    /// The refunds that `filter` admits, each with the branch of its purchase: a refund counts
    /// at its own instant.
    fn matching_refunds<'a>(
        &'a self,
        filter: &'a Filter,
    ) -> impl Iterator<Item = (BranchId, &'a Refund)> + 'a {
        self.refunds.iter().filter_map(move |refund| {
            let branch = self.get(refund.purchase())?.details().branch();
            filter
                .matches(branch, refund.at())
                .then_some((branch, refund))
        })
    }

    /// Each purchase not voided and each refund that `filter` admits, with its instant, its
    /// branch and its figures.
    fn sales_figures<'a>(
        &'a self,
        filter: &'a Filter,
    ) -> impl Iterator<Item = (DateTime<Utc>, (BranchId, SalesFigures))> + 'a {
        let sold = self.matching(filter).map(|purchase| {
            let figures = SalesFigures {
                purchases: 1,
                revenue: purchase.total(),
                units: units(purchase.lines()),
                refunds: RefundTotals::default(),
            };
            (purchase.at(), (purchase.branch(), figures))
        });
        let refunded = self.matching_refunds(filter).map(|(branch, refund)| {
            let figures = SalesFigures {
                refunds: RefundTotals {
                    count: 1,
                    amount: refund.amount(),
                },
                ..SalesFigures::default()
            };
            (refund.at(), (branch, figures))
        });
        sold.chain(refunded)
    }

    /// The receipt of purchase `id`.
    fn receipt(&self, id: PurchaseId) -> Result<Receipt> {
        let purchase = self.get(id).cloned().ok_or_else(|| Error::NotFound {
            what: "purchase",
            id: id.to_string(),
        })?;
        let status = self
            .voids
            .get(&id)
            .map_or(PurchaseStatus::Completed, |void| {
                PurchaseStatus::Voided(void.clone())
            });
        let refunds = self
            .refunds
            .iter()
            .filter(|refund| refund.purchase() == id)
            .cloned()
            .collect();
        Ok(Receipt {
            purchase,
            status,
            refunds,
        })
    }

    fn activity(&self, filter: &Filter) -> HashMap<CustomerId, CustomerActivity> {
        let mut activity: HashMap<CustomerId, CustomerActivity> = HashMap::new();
        for purchase in self.matching(filter) {
            activity
                .entry(purchase.customer())
                .and_modify(|entry| {
                    entry.purchase_count += 1;
                    entry.total_spent = entry.total_spent + purchase.total();
                    entry.first_purchase = entry.first_purchase.min(purchase.at());
                    entry.last_purchase = entry.last_purchase.max(purchase.at());
                })
                .or_insert_with(|| CustomerActivity {
                    customer: purchase.customer(),
                    purchase_count: 1,
                    total_spent: purchase.total(),
                    first_purchase: purchase.at(),
                    last_purchase: purchase.at(),
                });
        }
        activity
    }

    /// The loyal customers that `query` asks for.
    fn loyal_customers(&self, query: &LoyalQuery) -> LoyalCustomers {
        query.select(self.activity(&query.filter).into_values())
    }

    /// Units sold per product over the purchases `filter` admits, and units returned by the
    /// refunds it admits.
    fn product_sales(&self, filter: &Filter) -> Vec<ProductSales> {
        let mut units: HashMap<ProductId, (u64, u64)> = HashMap::new();
        for line in self.matching(filter).flat_map(PricedPurchase::lines) {
            units.entry(line.product()).or_default().0 += u64::from(line.quantity());
        }
        for (_, refund) in self.matching_refunds(filter) {
            for line in refund.lines() {
                units.entry(line.product()).or_default().1 += u64::from(line.quantity());
            }
        }
        units
            .into_iter()
            .map(|(product, (units_sold, units_returned))| ProductSales {
                product,
                name: self
                    .prices
                    .name(product)
                    .map_or_else(String::new, str::to_owned),
                units_sold,
                units_returned,
            })
            .collect()
    }

    /// The figures of the purchases `filter` admits.
    fn statistics(&self, filter: &Filter) -> Statistics {
        let mut by_branch: BTreeMap<BranchId, BranchStatistics> = self
            .branches
            .keys()
            .filter(|&&branch| filter.branch().is_none_or(|wanted| wanted == branch))
            .map(|&branch| {
                (
                    branch,
                    BranchStatistics {
                        branch,
                        purchase_count: 0,
                        revenue: Money::ZERO,
                        refunds: RefundTotals::default(),
                    },
                )
            })
            .collect();
        let mut customers = HashSet::new();
        for purchase in self.matching(filter) {
            customers.insert(purchase.customer());
            if let Some(entry) = by_branch.get_mut(&purchase.branch()) {
                entry.purchase_count += 1;
                entry.revenue = entry.revenue + purchase.total();
            }
        }
        for (branch, refund) in self.matching_refunds(filter) {
            if let Some(entry) = by_branch.get_mut(&branch) {
                entry.refunds = entry.refunds
                    + RefundTotals {
                        count: 1,
                        amount: refund.amount(),
                    };
            }
        }
        Statistics::from_branches(customers.len() as u64, by_branch.into_values().collect())
    }
}

/// How many units `lines` hold.
fn units(lines: &[PurchaseLine]) -> u64 {
    lines.iter().map(|line| u64::from(line.quantity())).sum()
}

/// Branches by id.
fn branch_map(branches: Vec<Branch>) -> BTreeMap<BranchId, Branch> {
    branches
        .into_iter()
        .map(|branch| (branch.id(), branch))
        .collect()
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store with the chain's default branches ([`Branch::defaults`]) and no products.
    pub fn new() -> MemoryStore {
        let state = State {
            branches: branch_map(Branch::defaults()),
            ..State::default()
        };
        MemoryStore {
            state: RwLock::new(state),
            import: Arc::default(),
            idempotency_ttl: DEFAULT_TTL,
        }
    }

    /// The same store, its default branches' business days in `zone` rather than UTC: for a
    /// store made before anything is recorded, as a server makes it at start.
    pub fn with_time_zone(self, zone: TimeZone) -> MemoryStore {
        self.write().branches = branch_map(Branch::defaults_in(zone));
        self
    }

    /// The same store, keeping idempotency keys for `ttl` instead of [`DEFAULT_TTL`].
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> MemoryStore {
        self.idempotency_ttl = ttl;
        self
    }

    // A panic while the lock is held cannot leave the state half-changed (no change spans a
    // call that can panic), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Catalog for MemoryStore {
    async fn products(&self) -> Result<Vec<Product>> {
        Ok(self.read().prices.listed(prices::now()))
    }

    async fn put_products(&self, products: &[Product]) -> Result<()> {
        self.write().put_products(products);
        Ok(())
    }

    async fn add_product(&self, product: &NewProduct, origin: &Origin) -> Result<Product> {
        let mut state = self.write();
        let added = state.prices.add(product, prices::now())?;
        state.write_audit(NewAuditEntry::product_added(added.id(), product, origin));
        Ok(added)
    }

    async fn change_price(
        &self,
        product: ProductId,
        change: &PriceChange,
        origin: &Origin,
    ) -> Result<PriceHistory> {
        let mut state = self.write();
        let history = state.prices.change(product, change)?;
        state.write_audit(NewAuditEntry::price_changed(product, change, origin));
        Ok(history)
    }

    async fn retire_product(&self, product: ProductId, origin: &Origin) -> Result<PriceHistory> {
        let mut state = self.write();
        let (history, changed) = state.prices.retire(product, prices::now())?;
        if changed {
            state.write_audit(NewAuditEntry::product_retired(product, origin));
        }
        Ok(history)
    }

    async fn price_history(&self, product: ProductId) -> Result<PriceHistory> {
        self.read().prices.history(product)
    }

    async fn branches(&self) -> Result<Vec<Branch>> {
        Ok(self.read().branches.values().cloned().collect())
    }

    async fn put_branches(&self, branches: &[Branch]) -> Result<()> {
        let mut state = self.write();
        for branch in branches {
            state
                .branches
                .entry(branch.id())
                .or_insert_with(|| branch.clone());
        }
        Ok(())
    }

    async fn update_branch(&self, branch: &Branch, origin: &Origin) -> Result<Branch> {
        let mut state = self.write();
        let Some(kept) = state.branches.get_mut(&branch.id()) else {
            return Err(Error::NotFound {
                what: "supermarket",
                id: branch.id().to_string(),
            });
        };
        *kept = branch.clone();
        state.write_audit(NewAuditEntry::branch_changed(branch, origin));
        Ok(branch.clone())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn missing_migrations(&self) -> Result<usize> {
        Ok(0)
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        Ok(vec![Node::single("memory")])
    }
}

#[async_trait]
impl Purchases for MemoryStore {
    async fn record(
        &self,
        purchase: NewPurchase,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded> {
        let now = Instant::now();
        let mut state = self.write();
        let key = key.map(|key| (purchase.idempotency_scope().to_owned(), key.clone()));
        if let Some(key) = &key {
            state.expire_keys(self.idempotency_ttl, now);
            if let Some(seen) = state.keys.get(key) {
                if seen.fingerprint != purchase.fingerprint() {
                    return Err(key.1.reused());
                }
                let recorded = state
                    .get(seen.purchase)
                    .expect("a key names a recorded purchase");
                return Ok(Recorded::Replayed(recorded.clone()));
            }
        }
        let recorded = state.record_new(&purchase)?;
        if let Some(key) = &key {
            state.remember(key, purchase.fingerprint(), recorded.purchase().id(), now);
        }
        Ok(recorded)
    }

    async fn record_batch(&self, purchases: Vec<NewPurchase>) -> Result<Vec<BatchOutcome>> {
        let mut state = self.write();
        Ok(purchases
            .iter()
            .map(|purchase| match state.record_new(purchase) {
                Ok(Recorded::Created(recorded)) => BatchOutcome::Recorded(recorded.id()),
                Ok(recorded) => BatchOutcome::AlreadyRecorded(recorded.purchase().id()),
                Err(error) => BatchOutcome::Refused(error),
            })
            .collect())
    }

    async fn purchase(&self, id: PurchaseId) -> Result<Purchase> {
        let index = usize::try_from(id.get() - 1).expect("ids are positive");
        self.read()
            .purchases
            .get(index)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "purchase",
                id: id.to_string(),
            })
    }

    async fn has_purchases(&self) -> Result<bool> {
        Ok(!self.read().purchases.is_empty())
    }

    async fn begin_import(&self) -> Result<Option<Box<dyn ImportSession + '_>>> {
        let guard = Arc::clone(&self.import).lock_owned().await;
        if self.has_purchases().await? {
            return Ok(None);
        }
        Ok(Some(Box::new(MemoryImport {
            store: self,
            _guard: guard,
            products: Vec::new(),
            purchases: Vec::new(),
        })))
    }
}

/// A load into a [`MemoryStore`]: buffered, and applied in one step at commit.
struct MemoryImport<'a> {
    store: &'a MemoryStore,
    _guard: OwnedMutexGuard<()>,
    products: Vec<Product>,
    purchases: Vec<PricedPurchase>,
}

#[async_trait]
impl ImportSession for MemoryImport<'_> {
    async fn put_products(&mut self, products: &[Product]) -> Result<()> {
        self.products.extend_from_slice(products);
        Ok(())
    }

    async fn write(&mut self, purchases: Vec<PricedPurchase>) -> Result<()> {
        self.purchases.extend(purchases);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let MemoryImport {
            store,
            products,
            purchases,
            ..
        } = *self;
        let mut state = store.write();
        state.put_products(&products);
        for purchase in purchases {
            state.push(purchase);
        }
        Ok(())
    }
}

#[async_trait]
impl Analytics for MemoryStore {
    async fn unique_customers(&self, filter: &Filter) -> Result<u64> {
        let state = self.read();
        let customers: HashSet<CustomerId> = state
            .matching(filter)
            .map(PricedPurchase::customer)
            .collect();
        Ok(customers.len() as u64)
    }

    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers> {
        Ok(self.read().loyal_customers(query))
    }

    async fn product_sales(&self, filter: &Filter) -> Result<Vec<ProductSales>> {
        Ok(self.read().product_sales(filter))
    }

    async fn statistics(&self, filter: &Filter) -> Result<Statistics> {
        Ok(self.read().statistics(filter))
    }

    async fn dashboard(&self, filter: &Filter) -> Result<Dashboard> {
        // Under one lock: no purchase lands between the parts.
        let state = self.read();
        Ok(Dashboard::from_parts(
            state.statistics(filter),
            state.loyal_customers(&Dashboard::loyal_query(filter)),
            state.product_sales(filter),
        ))
    }

    async fn business_day_sales(
        &self,
        branch: Option<BranchId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySales>> {
        let state = self.read();
        let day = |branch: BranchId, at| {
            let settings = state
                .branches
                .get(&branch)
                .cloned()
                .unwrap_or_else(|| Branch::new(branch));
            let date = business_date(&settings, at);
            (from <= date && date <= to).then_some(date)
        };
        let filter = Filter::new(branch, None, None).expect("no period");
        let mut days: BTreeMap<NaiveDate, SalesFigures> = BTreeMap::new();
        for (at, (branch, figures)) in state.sales_figures(&filter) {
            if let Some(date) = day(branch, at) {
                let kept = days.entry(date).or_default();
                *kept = *kept + figures;
            }
        }
        Ok(days
            .into_iter()
            .map(|(date, figures)| DaySales { date, figures })
            .collect())
    }

    async fn binned_sales(&self, filter: &Filter, width: BinWidth) -> Result<Vec<BinSales>> {
        let state = self.read();
        let mut bins: BTreeMap<(BranchId, DateTime<Utc>), SalesFigures> = BTreeMap::new();
        for (at, (branch, figures)) in state.sales_figures(filter) {
            let kept = bins.entry((branch, width.floor(at))).or_default();
            *kept = *kept + figures;
        }
        Ok(bins
            .into_iter()
            .map(|((branch, start), figures)| BinSales {
                branch,
                start,
                figures,
            })
            .collect())
    }

    async fn sales_records(&self, filter: &Filter) -> Result<SalesRecords> {
        let state = self.read();
        let sales = state
            .purchases
            .iter()
            .filter(|p| filter.matches(p.details().branch(), p.details().at()))
            .map(|p| SaleRecord {
                id: p.id(),
                at: p.details().at(),
                total: p.total(),
                units: units(p.details().lines()),
                recorded_by: p.details().recorder().cloned(),
                voided: state.voids.contains_key(&p.id()),
            })
            .collect::<Vec<_>>();
        let refunds = state
            .matching_refunds(filter)
            .map(|(_, refund)| RefundRecord {
                at: refund.at(),
                amount: refund.amount(),
            })
            .collect::<Vec<_>>();
        let mut records = SalesRecords { sales, refunds };
        records.sales.sort_by_key(|sale| (sale.at, sale.id));
        records.refunds.sort_by_key(|refund| refund.at);
        Ok(records)
    }

    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>> {
        let mut counts: Vec<CustomerPurchases> = self
            .read()
            .activity(&Filter::ALL)
            .into_values()
            .map(|entry| CustomerPurchases {
                customer: entry.customer,
                purchase_count: entry.purchase_count,
            })
            .collect();
        counts.sort_by(CustomerPurchases::top_order);
        Ok(counts
            .into_iter()
            .filter(|entry| {
                query
                    .after
                    .is_none_or(|after| after.top_order(entry).is_lt())
            })
            .take(query.limit as usize)
            .collect())
    }
}

#[async_trait]
impl Keys for MemoryStore {
    async fn add_key(&self, key: &NewKey, hash: &KeyHash, origin: &Origin) -> Result<KeyInfo> {
        let mut state = self.write();
        if state.api_key(key.name()).is_some() {
            return Err(key.name_taken());
        }
        if state.api_keys.iter().any(|(_, held)| held == hash) {
            return Err(KeyHash::taken());
        }
        if let Some(branch) = key.scope().branch()
            && !state.branches.contains_key(&branch)
        {
            return Err(ValidationError::UnknownBranch(branch).into());
        }
        let info = KeyInfo {
            id: KeyId::new(state.api_keys.len() as i64 + 1).expect("ids count up from 1"),
            name: key.name().clone(),
            role: key.role(),
            scope: key.scope(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        };
        state.api_keys.push((info.clone(), *hash));
        state.write_audit(NewAuditEntry::key_created(key, origin));
        Ok(info)
    }

    async fn keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .read()
            .api_keys
            .iter()
            .map(|(info, _)| info.clone())
            .collect())
    }

    async fn revoke_key(&self, name: &KeyName, origin: &Origin) -> Result<KeyInfo> {
        let mut state = self.write();
        let index = state
            .api_keys
            .iter()
            .position(|(info, _)| info.name == *name)
            .ok_or_else(|| name.unknown())?;
        let info = &mut state.api_keys[index].0;
        if info.revoked_at.is_some() {
            return Ok(info.clone());
        }
        info.revoked_at = Some(chrono::Utc::now());
        let info = info.clone();
        state.write_audit(NewAuditEntry::key_revoked(name, origin));
        Ok(info)
    }

    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Actor>> {
        Ok(self
            .read()
            .api_keys
            .iter()
            .find(|(info, held)| held == hash && info.is_active())
            .map(|(info, _)| info.actor()))
    }

    async fn has_keys(&self) -> Result<bool> {
        Ok(!self.read().api_keys.is_empty())
    }
}

#[async_trait]
impl Audit for MemoryStore {
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Ok(self
            .read()
            .audit
            .iter()
            .rev()
            .filter(|entry| query.admits(entry.id))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }
}

// Refunds and voids: the rules of `crate::refund`, applied under the store's one write lock, so
// that two racing requests take turns.
#[async_trait]
impl Refunds for MemoryStore {
    async fn receipt(&self, id: PurchaseId) -> Result<Receipt> {
        self.read().receipt(id)
    }

    async fn refund(
        &self,
        refund: &NewRefund,
        key: Option<&IdempotencyKey>,
        origin: &Origin,
    ) -> Result<Refunded> {
        let now = Instant::now();
        let by = origin.by().map(|by| by.name);
        let mut state = self.write();
        let key = key.map(|key| {
            let scope = by.as_ref().map_or("", KeyName::as_str).to_owned();
            (scope, key.clone())
        });
        if let Some(key) = &key
            && let Some((fingerprint, id, at)) = state.refund_keys.get(key)
            && now.duration_since(*at) < self.idempotency_ttl
        {
            if *fingerprint != refund.fingerprint() {
                return Err(key_reused_for_another_refund(&key.1));
            }
            let index = usize::try_from(id.get() - 1).expect("ids are positive");
            return Ok(Refunded::Replayed(state.refunds[index].clone()));
        }
        let lines = refund.lines(&state.receipt(refund.purchase())?)?;
        let id = RefundId::new(state.refunds.len() as i64 + 1).expect("ids count up from 1");
        let recorded = Refund::new(id, refund.purchase(), refund.at(), lines, by);
        state.refunds.push(recorded.clone());
        state.write_audit(NewAuditEntry::purchase_refunded(&recorded, origin));
        if let Some(key) = key {
            state
                .refund_keys
                .insert(key, (refund.fingerprint(), id, now));
        }
        Ok(Refunded::Created(recorded))
    }

    async fn void(&self, void: &NewVoid, origin: &Origin) -> Result<Receipt> {
        let mut state = self.write();
        state.receipt(void.purchase())?.check_void()?;
        state.voids.insert(
            void.purchase(),
            Void {
                at: void.at(),
                voided_by: origin.by().map(|by| by.name),
                reason: void.reason().clone(),
            },
        );
        state.write_audit(NewAuditEntry::purchase_voided(void, origin));
        state.receipt(void.purchase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::CustomerRef;

    #[tokio::test]
    async fn an_expired_key_is_as_good_as_new() {
        let store = MemoryStore::new().with_idempotency_ttl(Duration::ZERO);
        let milk =
            Product::new(ProductId::new(1).unwrap(), "milk", "1.5".parse().unwrap()).unwrap();
        store.put_products(&[milk]).await.unwrap();
        let key = IdempotencyKey::new("k").unwrap();
        let purchase = || {
            NewPurchase::new(
                BranchId::new(1).unwrap(),
                CustomerRef::New,
                vec![ProductId::new(1).unwrap()],
                chrono::Utc::now(),
            )
            .unwrap()
        };
        let first = store.record(purchase(), Some(&key)).await.unwrap();
        let second = store.record(purchase(), Some(&key)).await.unwrap();
        assert!(!first.is_replay() && !second.is_replay());
        assert_ne!(first.purchase().id(), second.purchase().id());
        assert_eq!(store.read().keys.len(), 1, "the expired record was dropped");
    }

    #[tokio::test]
    async fn the_default_branches_take_the_stores_zone() {
        let zone: TimeZone = "Asia/Jerusalem".parse().unwrap();
        let store = MemoryStore::new().with_time_zone(zone);
        let branches = store.branches().await.unwrap();
        assert_eq!(branches, Branch::defaults_in(zone));
        assert!(branches.iter().all(|branch| branch.time_zone() == zone));
    }
}
