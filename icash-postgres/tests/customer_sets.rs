//! Distinct customers, loyal lists, units sold and dashboards over periods on PostgreSQL, read
//! from the customer sets and their counts, the products' aggregates, the pending purchases and
//! the edges, against the in-memory store's recomputation from every purchase:
//! random purchases (sale times in any order, so many are late), voids, periods in instants and
//! business dates, with the rollup run at random points and the sets rebuilt at random points.
//! And the race that a rollup by watermark loses: a purchase committed after a later one.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use icash_core::analytics::{Filter, LoyalQuery};
use icash_core::memory::MemoryStore;
use icash_core::period::DatedFilter;
use icash_core::period::{self, Period};
use icash_core::product::Branch;
use icash_core::refund::{NewVoid, VoidReason};
use icash_core::sales::BinWidth;
use icash_core::{
    Analytics, BranchId, BusinessDates, CustomerId, CustomerRef, NewPurchase, Origin, Product,
    ProductId, PurchaseId, Purchases, Refunds, Store, TimeZone,
};
use icash_postgres::testing::TestDb;
use icash_postgres::{PgStore, RollUp};
use proptest::prelude::*;
use uuid::Uuid;

/// The first instant of the window the purchases fall in: two months and a half around the end
/// of May 2025, so that periods cross months, days and hours.
fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 20, 0, 0, 0).unwrap()
}

/// What a case does, in order.
#[derive(Clone, Debug)]
enum Step {
    /// A purchase at a branch (1 to 3) by a customer (0 to 11), so many minutes into the window.
    Buy {
        branch: i32,
        customer: u128,
        minute: i64,
    },
    /// A void of the purchase at this place among those made so far (modulo their number).
    Void(usize),
    /// One step of the rollup, or every step it has.
    RollUp { all: bool },
    /// A request to build the sets again, as a bulk load makes.
    Rebuild,
    /// Every filter's figures compared, as they stand: the server keeps the sums of the sets it
    /// reads, and the steps after must change what it keeps or leave it exact.
    Compare,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (1i32..=3, 0u128..12, 0i64..(75 * 24 * 60))
            .prop_map(|(branch, customer, minute)| Step::Buy { branch, customer, minute }),
        // Some in the same hour, so that a void meets another purchase of its hour.
        3 => (1i32..=3, 0u128..4, 0i64..120)
            .prop_map(|(branch, customer, minute)| Step::Buy { branch, customer, minute: 12 * 24 * 60 + minute }),
        2 => any::<usize>().prop_map(Step::Void),
        2 => any::<bool>().prop_map(|all| Step::RollUp { all }),
        1 => Just(Step::Rebuild),
        1 => Just(Step::Compare),
    ]
}

/// An instant in or around the window, to the minute, often on a boundary; or open.
fn bound() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    prop_oneof![
        1 => Just(None),
        3 => (-2i64..(80 * 24 * 60)).prop_map(|minute| Some(origin() + Duration::minutes(minute))),
        2 => (-2i64..80, -1i64..=1).prop_map(|(day, minute)| Some(origin() + Duration::days(day) + Duration::minutes(minute))),
        1 => (0i64..3).prop_map(|month| Some(Utc.with_ymd_and_hms(2025, 5 + month as u32, 1, 0, 0, 0).unwrap())),
    ]
}

/// A period of instants at one branch or every branch.
fn filter() -> impl Strategy<Value = Filter> {
    (prop::option::of(1i32..=3), bound(), bound()).prop_map(|(branch, a, b)| {
        let (from, to) = match (a, b) {
            (Some(a), Some(b)) if b < a => (Some(b), Some(a)),
            (Some(a), Some(b)) if a == b => (Some(a), Some(a + Duration::minutes(1))),
            other => other,
        };
        let from = if from.is_none() && to.is_none() {
            Some(origin())
        } else {
            from
        };
        Filter::new(branch.map(|b| BranchId::new(b).unwrap()), from, to).unwrap()
    })
}

/// Business dates at one branch or every branch.
fn dates() -> impl Strategy<Value = DatedFilter> {
    (prop::option::of(1i32..=3), 0i64..75, 0i64..40).prop_map(|(branch, first, length)| {
        let day = |n: i64| NaiveDate::from_ymd_opt(2025, 5, 20).unwrap() + Duration::days(n);
        DatedFilter {
            branch: branch.map(|b| BranchId::new(b).unwrap()),
            dates: BusinessDates::new(Some(day(first)), Some(day(first + length))).unwrap(),
        }
    })
}

/// The branches: one in UTC, one whose clocks change at the end of March and October, one half
/// an hour off the hour.
fn branches() -> Vec<Branch> {
    ["UTC", "Europe/Berlin", "Asia/Kolkata"]
        .into_iter()
        .enumerate()
        .map(|(n, zone)| {
            Branch::new(BranchId::new(n as i32 + 1).unwrap())
                .in_zone(zone.parse::<TimeZone>().unwrap())
        })
        .collect()
}

async fn prepare(store: &dyn Store) {
    let milk = Product::new(ProductId::new(1).unwrap(), "milk", "1.50".parse().unwrap()).unwrap();
    let bread = Product::new(ProductId::new(2).unwrap(), "bread", "2.25".parse().unwrap()).unwrap();
    store.put_products(&[milk, bread]).await.unwrap();
    store.put_branches(&branches()).await.unwrap();
}

/// A purchase of milk, or of bread on odd minutes, so that customers with as many purchases
/// may have spent different amounts.
fn purchase(branch: i32, customer: u128, at: DateTime<Utc>) -> NewPurchase {
    let product = 1 + (at.timestamp() / 60 % 2) as i32;
    NewPurchase::new(
        BranchId::new(branch).unwrap(),
        CustomerRef::Known(CustomerId::from_uuid(Uuid::from_u128(customer + 1))),
        vec![ProductId::new(product).unwrap()],
        at,
    )
    .unwrap()
}

/// Every loyal list of `filter` on both stores, equal: for one to four purchases, the count and
/// each page of two, walked by cursor to the end, and the whole list at once.
async fn assert_same_loyal_lists(memory: &MemoryStore, postgres: &PgStore, filter: &Filter) {
    for min_purchases in 1..=4 {
        let whole = LoyalQuery {
            min_purchases,
            filter: *filter,
            limit: None,
            after: None,
        };
        let expected = memory.loyal_customers(&whole).await.unwrap();
        assert_eq!(
            postgres.loyal_customers(&whole).await.unwrap(),
            expected,
            "loyal customers, at least {min_purchases}, {filter:?}"
        );
        let mut page = LoyalQuery {
            limit: Some(2),
            ..whole
        };
        let mut walked = Vec::new();
        loop {
            let on_pg = postgres.loyal_customers(&page).await.unwrap();
            assert_eq!(
                on_pg,
                memory.loyal_customers(&page).await.unwrap(),
                "a page of loyal customers, {page:?}"
            );
            assert_eq!(on_pg.count, expected.count);
            let Some(last) = on_pg.customers.last() else {
                break;
            };
            page.after = Some(last.cursor());
            walked.extend(on_pg.customers);
        }
        assert_eq!(walked, expected.customers, "the pages make the list");
    }
}

/// Asks the PostgreSQL store for its sets to be built again, as a bulk load does.
async fn want_rebuild(db: &TestDb) {
    sqlx::query("INSERT INTO customer_sets_rebuild DEFAULT VALUES ON CONFLICT DO NOTHING")
        .execute(db.store().pool())
        .await
        .unwrap();
}

async fn roll_up_all(store: &PgStore) {
    while store.roll_up().await.unwrap().more() {}
}

/// Every distinct count of `filters` and `dated` on both stores, equal.
async fn assert_same_counts(
    memory: &MemoryStore,
    postgres: &PgStore,
    filters: &[Filter],
    dated: &[DatedFilter],
) {
    for filter in filters {
        let expected = memory.unique_customers(filter).await.unwrap();
        assert_eq!(
            postgres.unique_customers(filter).await.unwrap(),
            expected,
            "unique customers, {filter:?}"
        );
        let statistics = postgres.statistics(filter).await.unwrap();
        assert_eq!(
            statistics,
            memory.statistics(filter).await.unwrap(),
            "statistics, {filter:?}"
        );
        assert_eq!(statistics.unique_customers, expected);
        let dashboard = postgres.dashboard(filter).await.unwrap();
        assert_eq!(
            dashboard,
            memory.dashboard(filter).await.unwrap(),
            "dashboard, {filter:?}"
        );
        assert_eq!(dashboard.unique_customers, expected);
        assert_same_loyal_lists(memory, postgres, filter).await;
        // The units sold: folded by the rollup, the pending purchases' lines added.
        assert_eq!(
            postgres.top_products(filter, 3).await.unwrap(),
            memory.top_products(filter, 3).await.unwrap(),
            "top products, {filter:?}"
        );
        assert_eq!(
            postgres.binned_sales(filter, BinWidth::HOUR).await.unwrap(),
            memory.binned_sales(filter, BinWidth::HOUR).await.unwrap(),
            "sales per hour, {filter:?}"
        );
    }
    for branch in [None, Some(BranchId::new(2).unwrap())] {
        let history = Filter::new(branch, None, None).unwrap();
        assert_same_loyal_lists(memory, postgres, &history).await;
    }
    for dated in dated {
        let dates = Period::Dates(*dated);
        assert_eq!(
            period::unique_customers(postgres, &dates).await.unwrap(),
            period::unique_customers(memory, &dates).await.unwrap(),
            "unique customers, {dated:?}"
        );
        assert_eq!(
            period::statistics(postgres, &dates)
                .await
                .unwrap()
                .unique_customers,
            period::statistics(memory, &dates)
                .await
                .unwrap()
                .unique_customers,
            "statistics, {dated:?}"
        );
    }
}

async fn run_case(steps: Vec<Step>, filters: Vec<Filter>, dated: Vec<DatedFilter>) {
    let db = TestDb::new().await;
    let postgres = db.store();
    let memory = MemoryStore::new();
    prepare(postgres).await;
    prepare(&memory).await;
    let mut bought: Vec<(PurchaseId, PurchaseId)> = Vec::new();
    let mut voided = std::collections::HashSet::new();
    for (n, step) in steps.into_iter().enumerate() {
        match step {
            Step::Buy {
                branch,
                customer,
                minute,
            } => {
                let at = origin() + Duration::minutes(minute) + Duration::seconds(n as i64 % 60);
                let on_pg = postgres
                    .record_purchase(purchase(branch, customer, at))
                    .await
                    .unwrap();
                let in_memory = memory
                    .record_purchase(purchase(branch, customer, at))
                    .await
                    .unwrap();
                bought.push((on_pg.id(), in_memory.id()));
            }
            Step::Void(place) if !bought.is_empty() => {
                let place = place % bought.len();
                if voided.insert(place) {
                    let (on_pg, in_memory) = bought[place];
                    let reason = VoidReason::new("rung up twice").unwrap();
                    let at = origin() + Duration::days(80);
                    postgres
                        .void(&NewVoid::new(on_pg, reason.clone(), at), &Origin::system())
                        .await
                        .unwrap();
                    memory
                        .void(&NewVoid::new(in_memory, reason, at), &Origin::system())
                        .await
                        .unwrap();
                }
            }
            Step::Void(_) => {}
            Step::RollUp { all: true } => roll_up_all(postgres).await,
            Step::RollUp { all: false } => {
                postgres.roll_up().await.unwrap();
            }
            Step::Rebuild => want_rebuild(&db).await,
            Step::Compare => assert_same_counts(&memory, postgres, &filters, &dated).await,
        }
    }
    // As the steps left it (some purchases folded, some pending, perhaps a rebuild wanted),
    // then with everything folded.
    assert_same_counts(&memory, postgres, &filters, &dated).await;
    roll_up_all(postgres).await;
    assert_same_counts(&memory, postgres, &filters, &dated).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn distinct_customers_over_any_period_equal_a_recomputation(
        steps in prop::collection::vec(step(), 1..60),
        filters in prop::collection::vec(filter(), 1..8),
        dated in prop::collection::vec(dates(), 1..3),
    ) {
        tokio::runtime::Runtime::new().unwrap().block_on(run_case(steps, filters, dated));
    }
}

/// The distinct customers of `filter`, counted from the purchases not voided.
async fn recount(store: &PgStore, filter: &Filter) -> i64 {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT p.customer_id) FROM purchases p
         WHERE p.purchased_at >= $1 AND p.purchased_at < $2
           AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)",
    )
    .bind(filter.from())
    .bind(filter.to())
    .fetch_one(store.pool())
    .await
    .unwrap();
    count
}

/// A purchase written in a transaction that stays open while a later purchase commits and the
/// rollup runs: a rollup that folded "every purchase up to the latest committed id" would pass
/// it for good. It is counted while it is in flight (not at all), once it commits (pending),
/// and after the next rollup (folded).
#[tokio::test]
async fn a_purchase_committed_after_a_later_one_is_never_skipped() {
    let db = TestDb::new().await;
    let store = db.store();
    prepare(store).await;
    let at = origin() + Duration::hours(5);
    let day = Filter::new(None, Some(origin()), Some(origin() + Duration::days(1))).unwrap();
    let insert = "WITH customer AS (INSERT INTO customers (id) VALUES ($1) RETURNING id)
                  INSERT INTO purchases (branch_id, customer_id, purchased_at, total)
                  SELECT 1, id, $2, 1.50 FROM customer RETURNING id";
    // The earlier id, in flight.
    let mut early = store.pool().begin().await.unwrap();
    let (early_id,): (i64,) = sqlx::query_as(insert)
        .bind(Uuid::from_u128(1001))
        .bind(at)
        .fetch_one(&mut *early)
        .await
        .unwrap();
    // A later id, committed.
    let (late_id,): (i64,) = sqlx::query_as(insert)
        .bind(Uuid::from_u128(1002))
        .bind(at)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(late_id > early_id);
    roll_up_all(store).await;
    assert_eq!(store.unique_customers(&day).await.unwrap(), 1);
    early.commit().await.unwrap();
    assert_eq!(
        store.unique_customers(&day).await.unwrap(),
        2,
        "pending, after its commit"
    );
    assert_eq!(recount(store, &day).await, 2);
    assert_eq!(store.roll_up().await.unwrap(), RollUp::Folded(1));
    assert_eq!(store.unique_customers(&day).await.unwrap(), 2, "folded");
    let (pending,): (i64,) = sqlx::query_as("SELECT count(*) FROM customer_set_pending")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(pending, 0);
}

/// Purchases and voids from several tasks while the rollup runs over and over: once they are
/// done, every period's count equals a recount of the purchases, before and after a last fold.
#[tokio::test]
async fn counts_stay_exact_while_purchases_voids_and_rollups_race() {
    let db = TestDb::new().await;
    let store = db.store().clone();
    prepare(&store).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rollup = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                store.roll_up().await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut tills = Vec::new();
    for till in 0..4u128 {
        let store = store.clone();
        tills.push(tokio::spawn(async move {
            for n in 0..40u128 {
                let at = origin() + Duration::minutes(((till * 40 + n) * 37 % 3000) as i64);
                let bought = store
                    .record_purchase(purchase((n % 3) as i32 + 1, (till * 7 + n) % 25, at))
                    .await
                    .unwrap();
                if n % 5 == 0 {
                    let reason = VoidReason::new("rung up twice").unwrap();
                    store
                        .void(
                            &NewVoid::new(bought.id(), reason, at + Duration::days(9)),
                            &Origin::system(),
                        )
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for till in tills {
        till.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    rollup.await.unwrap();
    let periods = [
        (0, 60),
        (0, 2 * 24 * 60),
        (61, 24 * 60 + 7),
        (90, 100),
        (0, 30 * 24 * 60),
    ];
    for (from, to) in periods {
        let filter = Filter::new(
            None,
            Some(origin() + Duration::minutes(from)),
            Some(origin() + Duration::minutes(to)),
        )
        .unwrap();
        let expected = recount(&store, &filter).await;
        assert_eq!(
            store.unique_customers(&filter).await.unwrap() as i64,
            expected
        );
        // The list from the counts (a page) against the one counted from the purchases (no
        // limit): equal.
        let counted = LoyalQuery {
            min_purchases: 2,
            filter,
            limit: None,
            after: None,
        };
        let loyal = store.loyal_customers(&counted).await.unwrap();
        let paged = LoyalQuery {
            limit: Some(1000),
            ..counted
        };
        assert_eq!(store.loyal_customers(&paged).await.unwrap(), loyal);
        roll_up_all(&store).await;
        assert_eq!(
            store.unique_customers(&filter).await.unwrap() as i64,
            expected
        );
        assert_eq!(store.loyal_customers(&paged).await.unwrap(), loyal);
    }
}
