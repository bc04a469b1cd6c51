//! The behaviour every store must have, written once and run against each of them.
//!
//! Each case takes a fresh store (default branches, no products, no purchases) and panics when
//! the store misbehaves. [`conformance_suite!`](crate::conformance_suite) turns them into one
//! `#[tokio::test]` per case; an embedder's own store runs the same suite, in a test file:
//!
//! ```
//! icash_core::conformance_suite!(async { std::sync::Arc::new(icash_core::MemoryStore::new()) });
//! # fn main() {}
//! ```

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::TryStreamExt;
use futures::future::join_all;
use uuid::Uuid;

use crate::analytics::{CustomerPurchases, Filter, LoyalCustomers, LoyalQuery, TopCustomersQuery};
use crate::error::{Error, ValidationError};
use crate::id::{BranchId, CustomerId, CustomerRef, ProductId, PurchaseId};
use crate::idempotency::{IdempotencyKey, Recorded};
use crate::money::Money;
use crate::product::Product;
use crate::purchase::{NewPurchase, PricedPurchase, PurchaseLine};
use crate::store::Store;

/// Generates one `#[tokio::test]` per conformance case. `$make` is an expression evaluated
/// afresh for each test, a future whose output dereferences to the store under test.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            records_a_purchase_and_reads_it_back,
            keeps_a_known_customer_id,
            refuses_an_unknown_product_and_writes_nothing,
            refuses_an_unknown_branch_and_writes_nothing,
            an_unknown_purchase_is_not_found,
            a_price_change_leaves_past_purchases_alone,
            an_empty_store_has_empty_analytics,
            analytics_match_the_fixture,
            lists_page_by_cursor,
            the_loyal_stream_is_the_loyal_list,
            filters_by_branch_and_period,
            money_sums_are_exact,
            an_import_is_invisible_until_committed,
            an_import_runs_only_on_an_empty_store,
            concurrent_purchases_are_all_recorded,
            the_dashboard_gathers_every_analytic,
            a_repeated_key_replays_the_first_purchase,
            a_key_reused_for_another_purchase_is_a_conflict,
            racing_requests_with_one_key_record_one_purchase,
            a_refused_purchase_does_not_use_up_its_key,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 1, 12, 0, 0).unwrap() + Duration::days(n)
}

fn money(text: &str) -> Money {
    text.parse().expect("a valid amount")
}

fn branch(n: i32) -> BranchId {
    BranchId::new(n).unwrap()
}

fn customer(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(n))
}

const MILK: i32 = 1;
const BREAD: i32 = 2;
const EGGS: i32 = 3;
const GUM: i32 = 4;
const CANDY: i32 = 5;
const CAVIAR: i32 = 6;

fn catalog() -> Vec<Product> {
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

fn new_purchase(branch_id: i32, who: CustomerRef, items: &[i32], at: DateTime<Utc>) -> NewPurchase {
    let products = items
        .iter()
        .map(|&id| ProductId::new(id).unwrap())
        .collect();
    NewPurchase::new(branch(branch_id), who, products, at).expect("a valid purchase")
}

/// Customers of the fixture: C buys most, B and A tie on purchases (B spends more), D once.
const A: u128 = 1;
const B: u128 = 2;
const C: u128 = 3;
const D: u128 = 4;

/// The fixture's purchases, one a day from day 0: (branch, customer, items).
const FIXTURE: [(i32, u128, &[i32]); 11] = [
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

async fn load_fixture(store: &dyn Store) {
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

async fn assert_nothing_written(store: &dyn Store) {
    assert!(
        !store.has_purchases().await.unwrap(),
        "a refused purchase must write nothing"
    );
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 0);
}

/// A purchase is priced at the catalog's prices, gets an id and a minted customer, and reads
/// back whole.
pub async fn records_a_purchase_and_reads_it_back(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let recorded = store
        .record_purchase(new_purchase(2, CustomerRef::New, &[EGGS, MILK], day(0)))
        .await
        .unwrap();
    assert_eq!(recorded.total(), money("4.5"));
    let details = recorded.details();
    assert_eq!(details.branch(), branch(2));
    assert_eq!(details.at(), day(0));
    let lines: Vec<(i32, &str, Money)> = details
        .lines()
        .iter()
        .map(|l| (l.product().get(), l.name(), l.unit_price()))
        .collect();
    assert_eq!(
        lines,
        [(EGGS, "eggs", money("3")), (MILK, "milk", money("1.5"))]
    );
    assert_eq!(store.purchase(recorded.id()).await.unwrap(), recorded);

    let second = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[BREAD], day(1)))
        .await
        .unwrap();
    assert!(second.id() > recorded.id(), "ids grow in recording order");
    assert_ne!(
        second.details().customer(),
        details.customer(),
        "each \"new\" is a new customer"
    );
    assert!(store.has_purchases().await.unwrap());
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 2);
}

/// A customer id the till gives is kept, and a customer seen before counts once.
pub async fn keeps_a_known_customer_id(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for n in 0..2 {
        let recorded = store
            .record_purchase(new_purchase(
                1,
                CustomerRef::Known(customer(A)),
                &[MILK],
                day(n),
            ))
            .await
            .unwrap();
        assert_eq!(recorded.details().customer(), customer(A));
    }
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 1);
}

/// A purchase naming a product that does not exist is refused whole.
pub async fn refuses_an_unknown_product_and_writes_nothing(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let error = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK, 99], day(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Invalid(ValidationError::UnknownProduct(id)) if id.get() == 99),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "product 99 does not exist");
    assert_nothing_written(store).await;
}

/// A purchase at a branch the chain does not have is refused whole.
pub async fn refuses_an_unknown_branch_and_writes_nothing(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let error = store
        .record_purchase(new_purchase(9, CustomerRef::New, &[MILK], day(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Invalid(ValidationError::UnknownBranch(id)) if id.get() == 9),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "supermarket 9 does not exist");
    assert_nothing_written(store).await;
}

/// Reading a purchase that does not exist is a not-found error.
pub async fn an_unknown_purchase_is_not_found(store: &dyn Store) {
    let error = store
        .purchase(PurchaseId::new(42).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotFound {
                what: "purchase",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "purchase 42 was not found");
}

/// A price change applies to later purchases only: receipts and revenue keep the old price.
pub async fn a_price_change_leaves_past_purchases_alone(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let before = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK], day(0)))
        .await
        .unwrap();
    let dearer = Product::new(ProductId::new(MILK).unwrap(), "milk", money("2.25")).unwrap();
    store.put_products(&[dearer]).await.unwrap();
    let after = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK], day(1)))
        .await
        .unwrap();
    assert_eq!(
        store.purchase(before.id()).await.unwrap().total(),
        money("1.50")
    );
    assert_eq!(after.total(), money("2.25"));
    let products = store.products().await.unwrap();
    assert_eq!(products[0].price(), money("2.25"));
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("3.75"));
}

/// With no purchases, every figure is zero and every list empty; the branches still show.
pub async fn an_empty_store_has_empty_analytics(store: &dyn Store) {
    assert!(!store.has_purchases().await.unwrap());
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 0);
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!((loyal.count, loyal.customers.len()), (0, 0));
    assert!(
        store
            .top_products(&Filter::ALL, 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .top_customers(&TopCustomersQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (0, 0)
    );
    assert_eq!(statistics.total_revenue, Money::ZERO);
    let branches: Vec<(i32, u64)> = statistics
        .by_branch
        .iter()
        .map(|b| (b.branch.get(), b.purchase_count))
        .collect();
    assert_eq!(branches, [(1, 0), (2, 0), (3, 0)]);
    // The dashboard, whatever the filter's shape: its parts are empty together.
    for filter in [
        Filter::ALL,
        Filter::new(Some(branch(2)), None, None).unwrap(),
        Filter::new(None, Some(day(1)), Some(day(3))).unwrap(),
        Filter::new(Some(branch(2)), Some(day(1)), None).unwrap(),
    ] {
        let dashboard = store.dashboard(&filter).await.unwrap();
        assert_eq!(
            dashboard.statistics,
            store.statistics(&filter).await.unwrap()
        );
        assert_eq!(dashboard.statistics.total_purchases, 0);
        assert_eq!(dashboard.unique_customers, 0);
        assert_eq!(dashboard.loyal_customers.count, 0);
        assert!(dashboard.loyal_customers.customers.is_empty());
        assert!(dashboard.top_products.is_empty());
    }
}

/// Every analytic on the fixture, whose figures were worked out by hand.
pub async fn analytics_match_the_fixture(store: &dyn Store) {
    load_fixture(store).await;
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 4);

    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(loyal.count, 3);
    let entries: Vec<(CustomerId, u64, Money)> = loyal
        .customers
        .iter()
        .map(|e| (e.customer, e.purchase_count, e.total_spent))
        .collect();
    assert_eq!(
        entries,
        [
            (customer(C), 4, money("14")),
            (customer(B), 3, money("12.5")),
            (customer(A), 3, money("0.6"))
        ]
    );
    assert_eq!(
        (
            loyal.customers[0].first_purchase,
            loyal.customers[0].last_purchase
        ),
        (day(0), day(3))
    );

    let top: Vec<(i32, u64, u32)> = store
        .top_products(&Filter::ALL, 3)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.sales.product.get(), r.sales.units_sold, r.rank))
        .collect();
    assert_eq!(
        top,
        [(MILK, 5, 1), (BREAD, 5, 1), (EGGS, 3, 3), (CANDY, 3, 3)]
    );
    let sales = store.product_sales(&Filter::ALL).await.unwrap();
    assert!(
        sales.iter().all(|s| s.product.get() != CAVIAR),
        "caviar never sold"
    );
    assert!(
        sales
            .iter()
            .any(|s| s.product.get() == GUM && s.units_sold == 2 && s.name == "gum")
    );

    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (4, 11)
    );
    assert_eq!(statistics.total_revenue, money("27.30"));
    let branches: Vec<(i32, u64, Money)> = statistics
        .by_branch
        .iter()
        .map(|b| (b.branch.get(), b.purchase_count, b.revenue))
        .collect();
    assert_eq!(
        branches,
        [
            (1, 4, money("10.30")),
            (2, 4, money("6.80")),
            (3, 3, money("10.20"))
        ]
    );

    let top_customers = store
        .top_customers(&TopCustomersQuery::default())
        .await
        .unwrap();
    let counts: Vec<(CustomerId, u64)> = top_customers
        .iter()
        .map(|c| (c.customer, c.purchase_count))
        .collect();
    assert_eq!(
        counts,
        [
            (customer(C), 4),
            (customer(A), 3),
            (customer(B), 3),
            (customer(D), 1)
        ]
    );
}

/// The long lists page by cursor without gaps or overlaps; the loyal count stays whole.
pub async fn lists_page_by_cursor(store: &dyn Store) {
    load_fixture(store).await;
    let first = LoyalQuery {
        limit: Some(2),
        ..LoyalQuery::default()
    };
    let page = store.loyal_customers(&first).await.unwrap();
    assert_eq!(page.count, 3);
    let ids: Vec<CustomerId> = page.customers.iter().map(|e| e.customer).collect();
    assert_eq!(ids, [customer(C), customer(B)]);
    let next = LoyalQuery {
        after: Some(page.customers[1].cursor()),
        ..first
    };
    let page = store.loyal_customers(&next).await.unwrap();
    let ids: Vec<CustomerId> = page.customers.iter().map(|e| e.customer).collect();
    assert_eq!((page.count, ids), (3, vec![customer(A)]));

    let first = TopCustomersQuery {
        limit: 2,
        after: None,
    };
    let page = store.top_customers(&first).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.customer).collect::<Vec<_>>(),
        [customer(C), customer(A)]
    );
    let next = TopCustomersQuery {
        after: Some(page[1]),
        ..first
    };
    let page = store.top_customers(&next).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.customer).collect::<Vec<_>>(),
        [customer(B), customer(D)]
    );
    let after_last = TopCustomersQuery {
        after: Some(CustomerPurchases {
            customer: customer(D),
            purchase_count: 1,
        }),
        ..first
    };
    assert!(store.top_customers(&after_last).await.unwrap().is_empty());
}

/// The streamed loyal list is the gathered one, whatever the query: whole history or filtered,
/// from a cursor, paged, or empty.
pub async fn the_loyal_stream_is_the_loyal_list(store: &dyn Store) {
    load_fixture(store).await;
    let everyone = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    let queries = [
        LoyalQuery::default(),
        LoyalQuery {
            after: Some(everyone.customers[0].cursor()),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            limit: Some(2),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 1,
            filter: Filter::new(None, Some(day(4)), Some(day(7))).unwrap(),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 1,
            filter: Filter::new(Some(branch(2)), None, None).unwrap(),
            after: Some(everyone.customers[0].cursor()),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 100,
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 100,
            filter: Filter::new(Some(branch(2)), None, None).unwrap(),
            ..LoyalQuery::default()
        },
    ];
    for query in queries {
        let gathered = store.loyal_customers(&query).await.unwrap();
        let streamed = store.loyal_customers_stream(&query).await.unwrap();
        let count = streamed.count;
        let customers: Vec<_> = streamed.customers.try_collect().await.unwrap();
        assert_eq!(
            LoyalCustomers { count, customers },
            gathered,
            "streamed against gathered for {query:?}"
        );
    }
}

/// A branch or a period narrows every analytic; `from` is inclusive and `to` exclusive.
pub async fn filters_by_branch_and_period(store: &dyn Store) {
    load_fixture(store).await;
    let second_branch = Filter::new(Some(branch(2)), None, None).unwrap();
    let statistics = store.statistics(&second_branch).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (3, 4)
    );
    assert_eq!(statistics.total_revenue, money("6.80"));
    assert_eq!(statistics.by_branch.len(), 1);
    assert_eq!(store.unique_customers(&second_branch).await.unwrap(), 3);

    // Days 4, 5 and 6: B's three purchases.
    let period = Filter::new(None, Some(day(4)), Some(day(7))).unwrap();
    assert_eq!(store.unique_customers(&period).await.unwrap(), 1);
    let statistics = store.statistics(&period).await.unwrap();
    assert_eq!(
        (statistics.total_purchases, statistics.total_revenue),
        (3, money("12.50"))
    );
    let loyal = store
        .loyal_customers(&LoyalQuery {
            filter: period,
            ..LoyalQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        loyal
            .customers
            .iter()
            .map(|e| e.customer)
            .collect::<Vec<_>>(),
        [customer(B)]
    );
    let top: Vec<(i32, u32)> = store
        .top_products(&period, 3)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.sales.product.get(), r.rank))
        .collect();
    assert_eq!(top, [(EGGS, 1), (MILK, 2), (BREAD, 2)]);
}

/// Sums that binary floats get wrong are exact in every figure.
pub async fn money_sums_are_exact(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for n in 0..10 {
        store
            .record_purchase(new_purchase(
                1,
                CustomerRef::Known(customer(A)),
                &[GUM, CANDY],
                day(n),
            ))
            .await
            .unwrap();
    }
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("3.00"));
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(loyal.customers[0].total_spent, money("3"));
}

fn imported(who: u128, items: &[(i32, &str, &str)], at: DateTime<Utc>) -> PricedPurchase {
    let lines = items
        .iter()
        .map(|&(id, name, price)| {
            PurchaseLine::new(ProductId::new(id).unwrap(), name, money(price))
        })
        .collect();
    PricedPurchase::new(branch(1), customer(who), at, lines).unwrap()
}

/// Nothing an import session writes is visible before commit, nor kept if it is dropped.
pub async fn an_import_is_invisible_until_committed(store: &dyn Store) {
    let purchases = [
        imported(A, &[(MILK, "milk", "1.50")], day(0)),
        imported(B, &[(MILK, "milk", "1.50"), (EGGS, "eggs", "3.00")], day(1)),
    ];
    {
        let mut session = store
            .begin_import()
            .await
            .unwrap()
            .expect("an empty store imports");
        session.put_products(&catalog()).await.unwrap();
        session.write(purchases.to_vec()).await.unwrap();
        // Dropped without commit.
    }
    assert!(!store.has_purchases().await.unwrap());
    assert!(store.products().await.unwrap().is_empty());

    let mut session = store.begin_import().await.unwrap().expect("still empty");
    session.put_products(&catalog()).await.unwrap();
    session.write(purchases.to_vec()).await.unwrap();
    session.write(purchases[..1].to_vec()).await.unwrap();
    session.commit().await.unwrap();
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (2, 3)
    );
    assert_eq!(statistics.total_revenue, money("7.50"));
    assert_eq!(store.products().await.unwrap().len(), catalog().len());
    // Ids are not asserted: a store may leave gaps where a discarded load took some.
    let everyone = LoyalQuery {
        min_purchases: 1,
        ..LoyalQuery::default()
    };
    let activity = store.loyal_customers(&everyone).await.unwrap().customers;
    let a = activity
        .iter()
        .find(|e| e.customer == customer(A))
        .expect("A was imported");
    assert_eq!(
        (a.purchase_count, a.total_spent, a.first_purchase),
        (2, money("3.00"), day(0))
    );
}

/// A store that has purchases refuses a second import, so nothing is ever loaded twice.
pub async fn an_import_runs_only_on_an_empty_store(store: &dyn Store) {
    load_fixture(store).await;
    assert!(store.begin_import().await.unwrap().is_none());
}

/// Purchases recorded at once from many tills are all kept, each whole and under its own id.
pub async fn concurrent_purchases_are_all_recorded(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let tills: u32 = 16;
    let per_till: u32 = 10;
    let recorded = join_all((0..tills).map(|till| async move {
        let mut ids = Vec::new();
        for n in 0..per_till {
            let who = CustomerRef::Known(customer(u128::from(till) + 100));
            let purchase =
                new_purchase(1 + (till % 3) as i32, who, &[MILK, EGGS], day(i64::from(n)));
            ids.push(store.record_purchase(purchase).await.unwrap().id());
        }
        ids
    }))
    .await;
    let mut ids: Vec<PurchaseId> = recorded.into_iter().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        (tills * per_till) as usize,
        "every purchase has its own id"
    );
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_purchases, u64::from(tills * per_till));
    assert_eq!(statistics.total_revenue, money("720"));
    assert_eq!(statistics.unique_customers, u64::from(tills));
    let top = store.top_products(&Filter::ALL, 3).await.unwrap();
    assert!(
        top.iter()
            .all(|r| r.sales.units_sold == u64::from(tills * per_till))
    );
}

/// The dashboard is every analytic at once, with the first loyal customers only.
pub async fn the_dashboard_gathers_every_analytic(store: &dyn Store) {
    load_fixture(store).await;
    let dashboard = store.dashboard(&Filter::ALL).await.unwrap();
    assert_eq!(dashboard.unique_customers, 4);
    assert_eq!(
        dashboard.statistics,
        store.statistics(&Filter::ALL).await.unwrap()
    );
    assert_eq!(
        dashboard.top_products,
        store.top_products(&Filter::ALL, 3).await.unwrap()
    );
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(
        dashboard.loyal_customers, loyal,
        "fewer than ten loyal customers: all of them"
    );
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

async fn purchase_count(store: &dyn Store) -> u64 {
    store
        .statistics(&Filter::ALL)
        .await
        .unwrap()
        .total_purchases
}

/// A retry with the same key and request gets the first purchase back, minted customer
/// included, and records nothing more.
pub async fn a_repeated_key_replays_the_first_purchase(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let first = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(0)),
            Some(&key("till-1/0001")),
        )
        .await
        .unwrap();
    assert!(matches!(first, Recorded::Created(_)), "{first:?}");
    // The retry comes later, and its "new" customer must not mint another one.
    let retry = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(1)),
            Some(&key("till-1/0001")),
        )
        .await
        .unwrap();
    assert!(retry.is_replay());
    assert_eq!(
        retry.purchase(),
        first.purchase(),
        "the same id, customer, instant and lines"
    );
    assert_eq!(purchase_count(store).await, 1);
    let other = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(1)),
            Some(&key("till-1/0002")),
        )
        .await
        .unwrap();
    assert!(
        matches!(other, Recorded::Created(_)),
        "another key is another purchase"
    );
    assert_eq!(purchase_count(store).await, 2);
}

/// The same key with a different request is refused, and records nothing.
pub async fn a_key_reused_for_another_purchase_is_a_conflict(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let used = key("till-2/0001");
    store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK], day(0)),
            Some(&used),
        )
        .await
        .unwrap();
    for different in [
        new_purchase(2, CustomerRef::New, &[MILK], day(0)),
        new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(0)),
        new_purchase(1, CustomerRef::Known(customer(A)), &[MILK], day(0)),
    ] {
        let error = store.record(different, Some(&used)).await.unwrap_err();
        assert!(matches!(error, Error::Conflict(_)), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("already used for a different purchase"),
            "{error}"
        );
    }
    assert_eq!(purchase_count(store).await, 1);
}

/// Requests racing with one key record one purchase; every one of them answers with it.
pub async fn racing_requests_with_one_key_record_one_purchase(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let shared = key("till-3/0001");
    let outcomes = join_all((0..16).map(|_| {
        let shared = &shared;
        async move {
            store
                .record(
                    new_purchase(3, CustomerRef::New, &[BREAD, EGGS], day(0)),
                    Some(shared),
                )
                .await
                .unwrap()
        }
    }))
    .await;
    let created = outcomes
        .iter()
        .filter(|outcome| !outcome.is_replay())
        .count();
    assert_eq!(created, 1, "exactly one request records the purchase");
    assert!(
        outcomes
            .iter()
            .all(|outcome| outcome.purchase() == outcomes[0].purchase())
    );
    assert_eq!(purchase_count(store).await, 1);
}

/// A purchase refused for its content does not keep its key: the corrected retry records.
pub async fn a_refused_purchase_does_not_use_up_its_key(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let retried = key("till-4/0001");
    let error = store
        .record(
            new_purchase(1, CustomerRef::New, &[99], day(0)),
            Some(&retried),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    let corrected = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK], day(0)),
            Some(&retried),
        )
        .await
        .unwrap();
    assert!(matches!(corrected, Recorded::Created(_)), "{corrected:?}");
}
