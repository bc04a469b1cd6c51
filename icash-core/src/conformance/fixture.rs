//! The catalog, customers and purchases the cases share, and their helpers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::analytics::Filter;
use crate::id::{BranchId, CustomerId, CustomerRef, ProductId};
use crate::money::Money;
use crate::product::Product;
use crate::purchase::NewPurchase;
use crate::store::Store;

pub(super) fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 1, 12, 0, 0).unwrap() + Duration::days(n)
}

pub(super) fn money(text: &str) -> Money {
    text.parse().expect("a valid amount")
}

pub(super) fn branch(n: i32) -> BranchId {
    BranchId::new(n).unwrap()
}

pub(super) fn customer(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(n))
}

pub(super) const MILK: i32 = 1;
pub(super) const BREAD: i32 = 2;
pub(super) const EGGS: i32 = 3;
pub(super) const GUM: i32 = 4;
pub(super) const CANDY: i32 = 5;
pub(super) const CAVIAR: i32 = 6;

pub(super) fn catalog() -> Vec<Product> {
    [
        ("milk", "1.50"),
        ("bread", "2"),
        ("eggs", "3.00"),
        ("gum", "0.1"),
        ("candy", "0.2"),
        ("caviar", "99.99"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, price))| {
        Product::new(ProductId::new(i as i32 + 1).unwrap(), name, money(price)).unwrap()
    })
    .collect()
}

pub(super) fn new_purchase(
    branch_id: i32,
    who: CustomerRef,
    items: &[i32],
    at: DateTime<Utc>,
) -> NewPurchase {
    let products = items
        .iter()
        .map(|&id| ProductId::new(id).unwrap())
        .collect();
    NewPurchase::new(branch(branch_id), who, products, at).expect("a valid purchase")
}

/// Customers of the fixture: C buys most, B and A tie on purchases (B spends more), D once.
pub(super) const A: u128 = 1;
pub(super) const B: u128 = 2;
pub(super) const C: u128 = 3;
pub(super) const D: u128 = 4;

/// The fixture's purchases, one a day from day 0: (branch, customer, items).
pub(super) const FIXTURE: [(i32, u128, &[i32]); 11] = [
    (1, C, &[MILK, BREAD]),
    (1, C, &[MILK, BREAD]),
    (2, C, &[MILK, BREAD]),
    (3, C, &[MILK, BREAD]),
    (3, B, &[MILK, BREAD, EGGS]),
    (2, B, &[EGGS]),
    (1, B, &[EGGS]),
    (1, A, &[GUM, CANDY]),
    (2, A, &[GUM]),
    (2, A, &[CANDY]),
    (3, D, &[CANDY]),
];

pub(super) async fn load_fixture(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for (n, (branch_id, who, items)) in FIXTURE.iter().enumerate() {
        let purchase = new_purchase(
            *branch_id,
            CustomerRef::Known(customer(*who)),
            items,
            day(n as i64),
        );
        store.record_purchase(purchase).await.unwrap();
    }
}

/// How many purchases the store counts.
pub(super) async fn purchase_count(store: &dyn Store) -> u64 {
    store
        .statistics(&Filter::ALL)
        .await
        .unwrap()
        .total_purchases
}

pub(super) async fn assert_nothing_written(store: &dyn Store) {
    assert!(
        !store.has_purchases().await.unwrap(),
        "a refused purchase must write nothing"
    );
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 0);
}

/// The catalog's prices, by product id.
pub(super) fn prices() -> std::collections::HashMap<i32, Money> {
    catalog()
        .iter()
        .map(|p| (p.id().get(), p.price()))
        .collect()
}

/// A runner of random values that draws the same ones for the same `seed`, every run.
pub(super) fn seeded(seed: u8) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// Gives branches 1, 2, ... the zone and start of day of each of `settings`, in turn.
pub(super) async fn set_branches(store: &dyn Store, settings: &[(&str, &str)]) {
    for (index, (zone, start)) in settings.iter().enumerate() {
        let id = branch(index as i32 + 1);
        let branch = crate::product::Branch::with_settings(
            id,
            &id.code(),
            zone.parse().unwrap(),
            start.parse().unwrap(),
        )
        .unwrap();
        store
            .update_branch(&branch, &crate::audit::Origin::system())
            .await
            .unwrap();
    }
}

/// The scan's business date of `at` at `branch`: its local date less the start of day (which
/// the cases keep away from the hours the clocks change at).
pub(super) fn local_business_date(
    branch: &crate::product::Branch,
    at: DateTime<Utc>,
) -> chrono::NaiveDate {
    let local = branch.time_zone().local_of_instant(at);
    (local - (branch.day_starts_at().time() - chrono::NaiveTime::MIN)).date()
}
