//! Refunds and voids: nothing refunded twice, voids only of purchases without refunds, and
//! every figure equal to a naive recomputation of the records under every filter.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::actor::{Actor, Role};
use crate::analytics::{
    BranchStatistics, CustomerActivity, CustomerPurchases, Filter, LoyalQuery, ProductSales,
    RefundTotals, TopCustomersQuery,
};
use crate::audit::{AuditKind, AuditQuery, Origin};
use crate::error::Error;
use crate::id::{CustomerRef, KeyId, ProductId, PurchaseId};
use crate::idempotency::IdempotencyKey;
use crate::key::KeyName;
use crate::money::Money;
use crate::purchase::Purchase;
use crate::refund::{NewRefund, NewVoid, PurchaseStatus, Refunded, VoidReason};
use crate::store::Store;

use super::fixture::*;

fn manager() -> Origin {
    let actor = Actor::new(
        KeyId::new(7).unwrap(),
        KeyName::new("manager-1").unwrap(),
        Role::Manager,
        Some(branch(1)),
    )
    .unwrap();
    Origin::actor(actor, Some("192.0.2.9".parse().unwrap()))
}

fn products(items: &[i32]) -> Vec<ProductId> {
    items.iter().map(|&id| ProductId::new(id).unwrap()).collect()
}

fn refund_of(purchase: PurchaseId, items: Option<&[i32]>, at: DateTime<Utc>) -> NewRefund {
    NewRefund::new(purchase, items.map(products), at).unwrap()
}

fn void_of(purchase: PurchaseId, at: DateTime<Utc>) -> NewVoid {
    NewVoid::new(purchase, VoidReason::new("rung up twice").unwrap(), at)
}

async fn buy(store: &dyn Store, branch_id: i32, who: u128, items: &[i32], n: i64) -> Purchase {
    store
        .record_purchase(new_purchase(
            branch_id,
            CustomerRef::Known(customer(who)),
            items,
            day(n),
        ))
        .await
        .unwrap()
}

fn conflict<T: std::fmt::Debug>(result: crate::Result<T>) -> String {
    match result {
        Err(Error::Conflict(sentence)) => sentence,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn refunded_products(receipt: &crate::refund::Receipt) -> Vec<i32> {
    let mut products: Vec<i32> = receipt.refunded_products().map(ProductId::get).collect();
    products.sort_unstable();
    products
}

/// A refund takes back the lines asked for at the prices sold, names its key, and shows on the
/// receipt; the purchase itself is unchanged. A second refund takes more lines.
pub async fn a_refund_shows_on_the_receipt_at_the_prices_sold(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 1, A, &[MILK, EGGS, GUM], 0).await;
    // A later price change does not change what is paid back.
    let mut dearer = catalog();
    dearer[0] = crate::Product::new(ProductId::new(MILK).unwrap(), "milk", money("9")).unwrap();
    store.put_products(&dearer).await.unwrap();

    let first = store
        .refund(
            &refund_of(sold.id(), Some(&[EGGS, MILK]), day(1)),
            None,
            &manager(),
        )
        .await
        .unwrap();
    assert!(!first.is_replay());
    let first = first.refund().clone();
    assert_eq!(first.purchase(), sold.id());
    assert_eq!(first.amount(), money("4.50"));
    let lines: Vec<(i32, Money)> = first
        .lines()
        .iter()
        .map(|l| (l.product().get(), l.unit_price()))
        .collect();
    assert_eq!(
        lines,
        [(MILK, money("1.5")), (EGGS, money("3"))],
        "the purchase's order"
    );
    assert_eq!(first.at(), day(1));
    assert_eq!(first.refunded_by().map(KeyName::as_str), Some("manager-1"));

    let receipt = store.receipt(sold.id()).await.unwrap();
    assert_eq!(receipt.purchase, sold, "the purchase is never edited");
    assert_eq!(receipt.status, PurchaseStatus::Completed);
    assert_eq!(receipt.refunds, [first.clone()]);

    let second = store
        .refund(
            &refund_of(sold.id(), Some(&[GUM]), day(2)),
            None,
            &Origin::system(),
        )
        .await
        .unwrap()
        .refund()
        .clone();
    assert_ne!(second.id(), first.id());
    assert_eq!(second.amount(), money("0.1"));
    assert_eq!(second.refunded_by(), None);
    let receipt = store.receipt(sold.id()).await.unwrap();
    assert_eq!(receipt.refunds, [first, second]);
    assert_eq!(store.purchase(sold.id()).await.unwrap(), sold);
}

/// Without items a refund takes every line not yet refunded; then nothing is left, and a
/// refund of everything is a conflict.
pub async fn a_refund_without_items_takes_every_line_left(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 2, B, &[BREAD, EGGS, CANDY], 0).await;
    store
        .refund(
            &refund_of(sold.id(), Some(&[EGGS]), day(1)),
            None,
            &manager(),
        )
        .await
        .unwrap();
    let rest = store
        .refund(&refund_of(sold.id(), None, day(2)), None, &manager())
        .await
        .unwrap();
    let products: Vec<i32> = rest
        .refund()
        .lines()
        .iter()
        .map(|l| l.product().get())
        .collect();
    assert_eq!(products, [BREAD, CANDY]);
    assert_eq!(rest.refund().amount(), money("2.2"));
    let sentence = conflict(
        store
            .refund(&refund_of(sold.id(), None, day(3)), None, &manager())
            .await,
    );
    assert_eq!(
        sentence,
        format!("every item of purchase {} was already refunded", sold.id())
    );
    let receipt = store.receipt(sold.id()).await.unwrap();
    assert_eq!(refunded_products(&receipt), [BREAD, EGGS, CANDY]);
}

/// A line already refunded, or a product not on the purchase, is a conflict with a sentence,
/// and nothing is written (no refund, no audit entry); an unknown purchase is not found.
pub async fn a_line_is_never_refunded_twice(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 1, A, &[MILK, EGGS], 0).await;
    store
        .refund(
            &refund_of(sold.id(), Some(&[MILK]), day(1)),
            None,
            &manager(),
        )
        .await
        .unwrap();
    let entries = audit_count(store).await;
    let twice = conflict(
        store
            .refund(
                &refund_of(sold.id(), Some(&[EGGS, MILK]), day(2)),
                None,
                &manager(),
            )
            .await,
    );
    assert_eq!(
        twice,
        format!("product 1 of purchase {} was already refunded", sold.id())
    );
    let absent = conflict(
        store
            .refund(
                &refund_of(sold.id(), Some(&[CAVIAR]), day(2)),
                None,
                &manager(),
            )
            .await,
    );
    assert_eq!(absent, format!("product 6 is not on purchase {}", sold.id()));
    let missing = store
        .refund(
            &refund_of(PurchaseId::new(999).unwrap(), None, day(2)),
            None,
            &manager(),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    let receipt = store.receipt(sold.id()).await.unwrap();
    assert_eq!(refunded_products(&receipt), [MILK], "eggs were not refunded");
    assert_eq!(audit_count(store).await, entries);
    assert!(matches!(
        store.receipt(PurchaseId::new(999).unwrap()).await,
        Err(Error::NotFound { .. })
    ));
}

async fn audit_count(store: &dyn Store) -> usize {
    store
        .audit_entries(&AuditQuery::new(crate::audit::MAX_PAGE, None).unwrap())
        .await
        .unwrap()
        .len()
}

/// A void keeps the purchase on record with who, when and why, and takes it out of every
/// figure; a second void, and a refund of a voided purchase, are conflicts that write nothing.
pub async fn a_void_keeps_the_purchase_and_counts_it_nowhere(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let kept = buy(store, 1, A, &[MILK], 0).await;
    let voided = buy(store, 2, B, &[EGGS, CAVIAR], 1).await;
    let receipt = store
        .void(&void_of(voided.id(), day(2)), &manager())
        .await
        .unwrap();
    assert_eq!(receipt.purchase, voided);
    let PurchaseStatus::Voided(void) = &receipt.status else {
        panic!("expected a voided purchase, got {:?}", receipt.status);
    };
    assert_eq!(void.at, day(2));
    assert_eq!(void.voided_by.as_ref().map(KeyName::as_str), Some("manager-1"));
    assert_eq!(void.reason.as_str(), "rung up twice");
    assert_eq!(store.receipt(voided.id()).await.unwrap(), receipt);

    let entries = audit_count(store).await;
    let again = conflict(
        store
            .void(&void_of(voided.id(), day(3)), &manager())
            .await,
    );
    assert!(again.contains("already voided"), "{again}");
    let refund = conflict(
        store
            .refund(&refund_of(voided.id(), None, day(3)), None, &manager())
            .await,
    );
    assert!(refund.contains("cannot be refunded"), "{refund}");
    assert_eq!(audit_count(store).await, entries);

    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.total_purchases, statistics.total_revenue),
        (1, money("1.5"))
    );
    assert_eq!(statistics.unique_customers, 1);
    let branch_two = &statistics.by_branch[1];
    assert_eq!((branch_two.purchase_count, branch_two.revenue), (0, Money::ZERO));
    let top = store.top_products(&Filter::ALL, 3).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].sales.product.get(), MILK);
    let customers = store
        .top_customers(&TopCustomersQuery::default())
        .await
        .unwrap();
    assert_eq!(
        customers,
        [CustomerPurchases {
            customer: customer(A),
            purchase_count: 1
        }]
    );
    assert_eq!(
        store
            .unique_customers(&Filter::new(Some(branch(2)), None, None).unwrap())
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.purchase(kept.id()).await.unwrap(), kept);
}

/// A purchase with a refund cannot be voided.
pub async fn a_refunded_purchase_cannot_be_voided(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 3, C, &[MILK, BREAD], 0).await;
    store
        .refund(
            &refund_of(sold.id(), Some(&[BREAD]), day(1)),
            None,
            &manager(),
        )
        .await
        .unwrap();
    let sentence = conflict(store.void(&void_of(sold.id(), day(2)), &manager()).await);
    assert_eq!(
        sentence,
        format!(
            "purchase {} has refunds: a purchase with a refund cannot be voided",
            sold.id()
        )
    );
    assert_eq!(
        store.receipt(sold.id()).await.unwrap().status,
        PurchaseStatus::Completed
    );
    let missing = store
        .void(&void_of(PurchaseId::new(999).unwrap(), day(2)), &manager())
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
}

/// Every refund and void is in the audit trail, with its actor, address and particulars.
pub async fn refunds_and_voids_are_audited(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let refunded = buy(store, 1, A, &[MILK, EGGS], 0).await;
    let voided = buy(store, 1, B, &[GUM], 1).await;
    let refund = store
        .refund(&refund_of(refunded.id(), None, day(2)), None, &manager())
        .await
        .unwrap();
    store
        .void(&void_of(voided.id(), day(2)), &manager())
        .await
        .unwrap();
    let entries = store
        .audit_entries(&AuditQuery::default())
        .await
        .unwrap();
    let kinds: Vec<AuditKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AuditKind::PurchaseVoided, AuditKind::PurchaseRefunded]
    );
    assert_eq!(entries[0].target, format!("purchase {}", voided.id()));
    assert_eq!(entries[0].details, "reason: rung up twice");
    assert_eq!(entries[1].target, format!("purchase {}", refunded.id()));
    assert_eq!(
        entries[1].details,
        format!("refund {}: products 1, 3, amount 4.50", refund.refund().id())
    );
    for entry in &entries {
        assert_eq!(
            entry.actor.as_ref().map(|a| a.name.as_str()),
            Some("manager-1")
        );
        assert_eq!(entry.client, Some("192.0.2.9".parse().unwrap()));
    }
}

/// A refund retried with its idempotency key answers the first refund and refunds nothing
/// more; the key with another refund is a conflict; keys are scoped to their sender.
pub async fn a_repeated_refund_key_replays_the_first_refund(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 1, A, &[MILK, EGGS, GUM], 0).await;
    let key = IdempotencyKey::new("refund-0001").unwrap();
    let first = store
        .refund(
            &refund_of(sold.id(), Some(&[MILK]), day(1)),
            Some(&key),
            &manager(),
        )
        .await
        .unwrap();
    assert!(matches!(first, Refunded::Created(_)));
    let retry = store
        .refund(
            &refund_of(sold.id(), Some(&[MILK]), day(2)),
            Some(&key),
            &manager(),
        )
        .await
        .unwrap();
    assert!(retry.is_replay());
    assert_eq!(retry.refund(), first.refund());
    let other = conflict(
        store
            .refund(
                &refund_of(sold.id(), Some(&[EGGS]), day(2)),
                Some(&key),
                &manager(),
            )
            .await,
    );
    assert!(other.contains("already used for a different refund"), "{other}");
    // The same value from another sender is its own key.
    let elsewhere = store
        .refund(
            &refund_of(sold.id(), Some(&[EGGS]), day(2)),
            Some(&key),
            &Origin::system(),
        )
        .await
        .unwrap();
    assert!(!elsewhere.is_replay());
    let receipt = store.receipt(sold.id()).await.unwrap();
    assert_eq!(receipt.refunds.len(), 2);
    // A refused refund does not use its key up.
    let retried = IdempotencyKey::new("refund-0002").unwrap();
    conflict(
        store
            .refund(
                &refund_of(sold.id(), Some(&[MILK]), day(3)),
                Some(&retried),
                &manager(),
            )
            .await,
    );
    let corrected = store
        .refund(
            &refund_of(sold.id(), Some(&[GUM]), day(3)),
            Some(&retried),
            &manager(),
        )
        .await
        .unwrap();
    assert!(!corrected.is_replay());
}

/// Sixteen refunds of the same line at once: exactly one refunds it, the others are conflicts.
pub async fn racing_refunds_of_one_line_refund_it_once(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sold = buy(store, 2, C, &[MILK, BREAD], 0).await.id();
    let outcomes = join_all((0..16).map(|n| async move {
        let items: &[i32] = if n % 2 == 0 { &[BREAD] } else { &[BREAD, MILK] };
        store
            .refund(&refund_of(sold, Some(items), day(1)), None, &manager())
            .await
    }))
    .await;
    let refunded: Vec<&Refunded> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(refunded.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Err(error) = outcome {
            assert!(matches!(error, Error::Conflict(_)), "{error:?}");
        }
    }
    let receipt = store.receipt(sold).await.unwrap();
    assert_eq!(receipt.refunds.len(), 1);
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.refunds.count, 1);
    assert_eq!(statistics.refunds.amount, refunded[0].refund().amount());
}

/// A void racing refunds of the same purchase: either the void wins and no refund is made, or
/// a refund wins and the void is refused; never both.
pub async fn a_void_racing_a_refund_lets_one_win(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for round in 0..8 {
        let sold = buy(store, 1, D, &[MILK, EGGS], round).await;
        let void = async {
            store
                .void(&void_of(sold.id(), day(round + 1)), &manager())
                .await
                .map(|_| ())
        };
        let refund = async {
            store
                .refund(
                    &refund_of(sold.id(), Some(&[EGGS]), day(round + 1)),
                    None,
                    &manager(),
                )
                .await
                .map(|_| ())
        };
        let (voided, refunded) = futures::join!(void, refund);
        assert!(
            voided.is_ok() != refunded.is_ok(),
            "exactly one wins: {voided:?} {refunded:?}"
        );
        let receipt = store.receipt(sold.id()).await.unwrap();
        let is_voided = matches!(receipt.status, PurchaseStatus::Voided(_));
        assert_eq!(is_voided, voided.is_ok());
        assert_eq!(receipt.refunds.is_empty(), is_voided);
    }
}

// The naive recomputation: what the records say, computed the simplest way.

/// A purchase as the test made it, with what happened to it since.
#[derive(Clone, Debug)]
struct Sale {
    purchase: Purchase,
    voided: bool,
    /// The products refunded, each with the refund's instant and its number among the
    /// refunds.
    refunds: Vec<(DateTime<Utc>, u64, Vec<(ProductId, Money)>)>,
}

/// Every purchase, refund and void made so far.
#[derive(Debug, Default)]
struct Ledger {
    sales: Vec<Sale>,
    refunds_made: u64,
}

impl Ledger {
    fn live<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = &'a Purchase> + 'a {
        self.sales
            .iter()
            .filter(|s| !s.voided)
            .map(|s| &s.purchase)
            .filter(|p| filter.matches(p.details().branch(), p.details().at()))
    }

    /// Each refund the filter admits (by its own instant, at its purchase's branch).
    fn refunds<'a>(
        &'a self,
        filter: &'a Filter,
    ) -> impl Iterator<Item = (crate::BranchId, &'a [(ProductId, Money)])> + 'a {
        self.sales.iter().flat_map(move |sale| {
            let branch = sale.purchase.details().branch();
            sale.refunds
                .iter()
                .filter(move |(at, _, _)| filter.matches(branch, *at))
                .map(move |(_, _, lines)| (branch, lines.as_slice()))
        })
    }

    fn unique(&self, filter: &Filter) -> u64 {
        let customers: HashSet<_> = self.live(filter).map(|p| p.details().customer()).collect();
        customers.len() as u64
    }

    fn by_branch(&self, filter: &Filter) -> Vec<BranchStatistics> {
        (1..=3)
            .map(branch)
            .filter(|b| filter.branch().is_none_or(|wanted| wanted == *b))
            .map(|b| {
                let sold: Vec<&Purchase> = self
                    .live(filter)
                    .filter(|p| p.details().branch() == b)
                    .collect();
                let refunds: Vec<Money> = self
                    .refunds(filter)
                    .filter(|(at, _)| *at == b)
                    .map(|(_, lines)| lines.iter().map(|(_, price)| *price).sum())
                    .collect();
                BranchStatistics {
                    branch: b,
                    purchase_count: sold.len() as u64,
                    revenue: sold.iter().map(|p| p.total()).sum(),
                    refunds: RefundTotals {
                        count: refunds.len() as u64,
                        amount: refunds.into_iter().sum(),
                    },
                }
            })
            .collect()
    }

    fn product_sales(&self, filter: &Filter) -> Vec<ProductSales> {
        let mut units: BTreeMap<ProductId, (u64, u64)> = BTreeMap::new();
        for purchase in self.live(filter) {
            for line in purchase.details().lines() {
                units.entry(line.product()).or_default().0 += 1;
            }
        }
        for (_, lines) in self.refunds(filter) {
            for (product, _) in lines {
                units.entry(*product).or_default().1 += 1;
            }
        }
        let names: HashMap<ProductId, String> = catalog()
            .into_iter()
            .map(|p| (p.id(), p.name().to_owned()))
            .collect();
        units
            .into_iter()
            .map(|(product, (units_sold, units_returned))| ProductSales {
                product,
                name: names[&product].clone(),
                units_sold,
                units_returned,
            })
            .collect()
    }

    fn activity(&self, filter: &Filter) -> Vec<CustomerActivity> {
        let mut by_customer: BTreeMap<_, Vec<&Purchase>> = BTreeMap::new();
        for purchase in self.live(filter) {
            by_customer
                .entry(purchase.details().customer())
                .or_default()
                .push(purchase);
        }
        let mut activity: Vec<CustomerActivity> = by_customer
            .into_iter()
            .map(|(customer, purchases)| CustomerActivity {
                customer,
                purchase_count: purchases.len() as u64,
                total_spent: purchases.iter().map(|p| p.total()).sum(),
                first_purchase: purchases.iter().map(|p| p.details().at()).min().unwrap(),
                last_purchase: purchases.iter().map(|p| p.details().at()).max().unwrap(),
            })
            .collect();
        activity.sort_by(CustomerActivity::loyal_order);
        activity
    }

    /// The filters every figure is checked under: the whole history, each branch, and periods
    /// cut inside hours and days, open at either end, of every branch and of one.
    fn filters() -> Vec<Filter> {
        let at = |days: i64, minutes: i64| day(days) + Duration::minutes(minutes);
        let mut filters = vec![Filter::ALL];
        for b in 1..=3 {
            filters.push(Filter::new(Some(branch(b)), None, None).unwrap());
        }
        for (from, to) in [
            (Some(at(0, 17)), Some(at(3, 95))),
            (Some(at(1, -30)), Some(at(1, 40))),
            (Some(at(2, 0)), None),
            (None, Some(at(4, 5))),
            (Some(at(-40, 0)), Some(at(60, 0))),
        ] {
            filters.push(Filter::new(None, from, to).unwrap());
            filters.push(Filter::new(Some(branch(2)), from, to).unwrap());
        }
        filters
    }

    /// Asserts that every figure of `store` equals the recomputation, under every filter.
    async fn assert_figures(&self, store: &dyn Store) {
        for filter in Ledger::filters() {
            let statistics = store.statistics(&filter).await.unwrap();
            let by_branch = self.by_branch(&filter);
            assert_eq!(statistics.by_branch, by_branch, "{filter:?}");
            assert_eq!(statistics.unique_customers, self.unique(&filter), "{filter:?}");
            assert_eq!(
                statistics.total_purchases,
                by_branch.iter().map(|b| b.purchase_count).sum::<u64>()
            );
            assert_eq!(
                statistics.refunds,
                by_branch.iter().map(|b| b.refunds).sum::<RefundTotals>()
            );
            assert_eq!(
                store.unique_customers(&filter).await.unwrap(),
                self.unique(&filter),
                "{filter:?}"
            );
            let mut sales = store.product_sales(&filter).await.unwrap();
            sales.sort_by_key(|s| s.product);
            assert_eq!(sales, self.product_sales(&filter), "{filter:?}");
            let activity = self.activity(&filter);
            for min_purchases in [1, 2] {
                let loyal = store
                    .loyal_customers(&LoyalQuery {
                        min_purchases,
                        filter,
                        limit: None,
                        after: None,
                    })
                    .await
                    .unwrap();
                let expected: Vec<CustomerActivity> = activity
                    .iter()
                    .filter(|a| a.purchase_count >= u64::from(min_purchases))
                    .cloned()
                    .collect();
                assert_eq!(loyal.count, expected.len() as u64, "{filter:?}");
                assert_eq!(loyal.customers, expected, "{filter:?} {min_purchases}");
            }
            let dashboard = store.dashboard(&filter).await.unwrap();
            assert_eq!(dashboard.statistics, statistics, "{filter:?}");
            assert_eq!(
                dashboard.top_products,
                crate::analytics::rank_top_products(self.product_sales(&filter), 3),
                "{filter:?}"
            );
        }
        let mut top: Vec<CustomerPurchases> = self
            .activity(&Filter::ALL)
            .iter()
            .map(|a| CustomerPurchases {
                customer: a.customer,
                purchase_count: a.purchase_count,
            })
            .collect();
        top.sort_by(CustomerPurchases::top_order);
        let listed = store
            .top_customers(&TopCustomersQuery {
                limit: 1000,
                after: None,
            })
            .await
            .unwrap();
        assert_eq!(listed, top);
    }

    /// Applies `operation` to the store and to the ledger, and asserts that the store accepts
    /// or refuses it as the ledger's own rules say.
    async fn apply(&mut self, store: &dyn Store, operation: &Operation) {
        match operation {
            Operation::Purchase {
                branch_id,
                who,
                items,
                minutes,
            } => {
                let at = day(0) + Duration::minutes(*minutes);
                let purchase = store
                    .record_purchase(new_purchase(
                        *branch_id,
                        CustomerRef::Known(customer(*who)),
                        items,
                        at,
                    ))
                    .await
                    .unwrap();
                self.sales.push(Sale {
                    purchase,
                    voided: false,
                    refunds: Vec::new(),
                });
            }
            Operation::Refund {
                sale,
                items,
                minutes,
            } => {
                let Some(index) = self.pick(*sale) else {
                    return;
                };
                let at = day(0) + Duration::minutes(*minutes);
                let target = &self.sales[index];
                let id = target.purchase.id();
                let sold: Vec<(ProductId, Money)> = target
                    .purchase
                    .details()
                    .lines()
                    .iter()
                    .map(|l| (l.product(), l.unit_price()))
                    .collect();
                let taken: BTreeSet<ProductId> = target
                    .refunds
                    .iter()
                    .flat_map(|(_, _, lines)| lines.iter().map(|(p, _)| *p))
                    .collect();
                let wanted: Vec<(ProductId, Money)> = match items {
                    None => sold.iter().filter(|(p, _)| !taken.contains(p)).cloned().collect(),
                    Some(items) => products(items)
                        .into_iter()
                        .map(|p| (p, sold.iter().find(|(s, _)| *s == p).map(|(_, m)| *m)))
                        .map(|(p, price)| (p, price.unwrap_or(Money::ZERO)))
                        .collect(),
                };
                let allowed = !target.voided
                    && !wanted.is_empty()
                    && wanted.iter().all(|(p, _)| {
                        sold.iter().any(|(s, _)| s == p) && !taken.contains(p)
                    });
                let result = store
                    .refund(&refund_of(id, items.as_deref(), at), None, &manager())
                    .await;
                match result {
                    Ok(refund) => {
                        assert!(allowed, "refund {items:?} of {target:?} should be refused");
                        self.refunds_made += 1;
                        let mut lines = wanted;
                        lines.sort_by_key(|(p, _)| {
                            sold.iter().position(|(s, _)| s == p).unwrap_or(usize::MAX)
                        });
                        let got: Vec<(ProductId, Money)> = refund
                            .refund()
                            .lines()
                            .iter()
                            .map(|l| (l.product(), l.unit_price()))
                            .collect();
                        assert_eq!(got, lines);
                        let made = self.refunds_made;
                        self.sales[index].refunds.push((refund.refund().at(), made, lines));
                    }
                    Err(Error::Conflict(_)) => {
                        assert!(!allowed, "refund {items:?} of {target:?} should be allowed");
                    }
                    Err(other) => panic!("{other:?}"),
                }
            }
            Operation::Void { sale, minutes } => {
                let Some(index) = self.pick(*sale) else {
                    return;
                };
                let at = day(0) + Duration::minutes(*minutes);
                let target = &self.sales[index];
                let allowed = !target.voided && target.refunds.is_empty();
                match store
                    .void(&void_of(target.purchase.id(), at), &manager())
                    .await
                {
                    Ok(_) => {
                        assert!(allowed, "void of {target:?} should be refused");
                        self.sales[index].voided = true;
                    }
                    Err(Error::Conflict(_)) => {
                        assert!(!allowed, "void of {target:?} should be allowed");
                    }
                    Err(other) => panic!("{other:?}"),
                }
            }
        }
    }

    /// A sale picked by a random number; none before the first purchase.
    fn pick(&self, random: usize) -> Option<usize> {
        (!self.sales.is_empty()).then(|| random % self.sales.len())
    }
}

/// One step of a random interleaving.
#[derive(Clone, Debug)]
enum Operation {
    Purchase {
        branch_id: i32,
        who: u128,
        items: Vec<i32>,
        minutes: i64,
    },
    Refund {
        sale: usize,
        items: Option<Vec<i32>>,
        minutes: i64,
    },
    Void {
        sale: usize,
        minutes: i64,
    },
}

/// Instants over five days, so that periods cut hours and days with something on each side.
fn minutes() -> impl Strategy<Value = i64> {
    -600..(5 * 24 * 60_i64)
}

fn operation() -> impl Strategy<Value = Operation> {
    let items = proptest::sample::subsequence(vec![MILK, BREAD, EGGS, GUM, CANDY, CAVIAR], 1..4);
    prop_oneof![
        4 => (1..=3_i32, 1..=5_u128, items.clone(), minutes()).prop_map(
            |(branch_id, who, items, minutes)| Operation::Purchase { branch_id, who, items, minutes }
        ),
        3 => (any::<usize>(), proptest::option::of(items), minutes())
            .prop_map(|(sale, items, minutes)| Operation::Refund { sale, items, minutes }),
        1 => (any::<usize>(), minutes()).prop_map(|(sale, minutes)| Operation::Void { sale, minutes }),
    ]
}

/// The figures after a few hand-made refunds and voids equal the recomputation, under every
/// filter.
pub async fn analytics_after_refunds_and_voids_equal_a_recomputation(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let mut ledger = Ledger::default();
    let steps = [
        Operation::Purchase { branch_id: 1, who: A, items: vec![MILK, EGGS], minutes: 30 },
        Operation::Purchase { branch_id: 2, who: A, items: vec![BREAD], minutes: 24 * 60 + 10 },
        Operation::Purchase { branch_id: 2, who: B, items: vec![CAVIAR, GUM], minutes: 24 * 60 + 20 },
        Operation::Purchase { branch_id: 3, who: B, items: vec![MILK], minutes: 2 * 24 * 60 },
        Operation::Purchase { branch_id: 2, who: A, items: vec![EGGS, CANDY], minutes: 3 * 24 * 60 + 90 },
        Operation::Refund { sale: 0, items: Some(vec![EGGS]), minutes: 3 * 24 * 60 },
        Operation::Refund { sale: 2, items: None, minutes: 24 * 60 + 25 },
        Operation::Void { sale: 1, minutes: 2 * 24 * 60 },
        Operation::Void { sale: 4, minutes: 4 * 24 * 60 },
        Operation::Void { sale: 0, minutes: 4 * 24 * 60 },
        Operation::Refund { sale: 1, items: None, minutes: 4 * 24 * 60 },
    ];
    for step in &steps {
        ledger.apply(store, step).await;
    }
    assert_eq!(ledger.sales.iter().filter(|s| s.voided).count(), 2);
    ledger.assert_figures(store).await;
}

/// Random interleavings of purchases, refunds and voids (proptest's strategies, a fixed seed):
/// after each batch, every figure under every filter equals the recomputation, and every
/// refusal is one the rules call for.
pub async fn random_refunds_and_voids_keep_every_figure_a_recomputation(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[20; 32]),
    );
    let batches = proptest::collection::vec(operation(), 10..25);
    let mut ledger = Ledger::default();
    for _ in 0..6 {
        let batch = batches.new_tree(&mut runner).unwrap().current();
        for operation in &batch {
            ledger.apply(store, operation).await;
        }
        ledger.assert_figures(store).await;
    }
    assert!(ledger.refunds_made > 0 && ledger.sales.iter().any(|s| s.voided));
}
