//! PostgreSQL's aggregate-backed analytics equal the in-memory store's full recomputation from
//! every purchase, over the whole history and under many random filters (branches, periods
//! with partial first and last days, periods inside one day), on the generated sample data as
//! bulk-loaded, then with purchases recorded one at a time at random instants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use icash::core::analytics::{LoyalQuery, TopCustomersQuery};
use icash::core::import::Policy;
use icash::core::{
    Analytics, BranchId, CustomerId, CustomerRef, Filter, MemoryStore, NewPurchase, ProductId,
    Purchases, Store,
};
use icash::data::load_dir;
use icash::postgres::PgStore;
use icash::postgres::testing::TestDb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::data_dir;

async fn assert_same(filter: &Filter, postgres: &dyn Store, memory: &dyn Store) {
    let context = format!("{filter:?}");
    assert_eq!(
        postgres.statistics(filter).await.unwrap(),
        memory.statistics(filter).await.unwrap(),
        "{context}"
    );
    assert_eq!(
        postgres.unique_customers(filter).await.unwrap(),
        memory.unique_customers(filter).await.unwrap(),
        "{context}"
    );
    assert_eq!(
        postgres.top_products(filter, 30).await.unwrap(),
        memory.top_products(filter, 30).await.unwrap(),
        "{context}"
    );
    for min_purchases in [1, 3, 7] {
        let query = LoyalQuery {
            min_purchases,
            filter: *filter,
            limit: Some(25),
            after: None,
        };
        let (from_postgres, from_memory) = (
            postgres.loyal_customers(&query).await.unwrap(),
            memory.loyal_customers(&query).await.unwrap(),
        );
        assert_eq!(
            from_postgres, from_memory,
            "{context}, at least {min_purchases}"
        );
        if let Some(last) = from_memory.customers.last() {
            let next = LoyalQuery {
                after: Some(last.cursor()),
                ..query
            };
            assert_eq!(
                postgres.loyal_customers(&next).await.unwrap(),
                memory.loyal_customers(&next).await.unwrap(),
                "{context}"
            );
        }
    }
    assert_eq!(
        postgres.dashboard(filter).await.unwrap(),
        memory.dashboard(filter).await.unwrap(),
        "{context}"
    );
}

/// Loads the sample data into `store`, and into an in-memory store that it returns.
async fn load_sample(store: &dyn Store) -> MemoryStore {
    let memory = MemoryStore::new();
    for store in [store, &memory as &dyn Store] {
        load_dir(store, &data_dir(), Policy::Strict).await.unwrap();
    }
    memory
}

async fn assert_same_top_customers(postgres: &dyn Store, memory: &dyn Store) {
    let top = TopCustomersQuery {
        limit: 100,
        after: None,
    };
    assert_eq!(
        postgres.top_customers(&top).await.unwrap(),
        memory.top_customers(&top).await.unwrap()
    );
}

fn instant(rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2024, 12, 25, 0, 0, 0).unwrap();
    start + Duration::seconds(rng.random_range(0..380 * 24 * 3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_equal_a_full_recomputation_under_any_filter() {
    let db = TestDb::new().await;
    let memory = load_sample(db.store()).await;
    assert_same(&Filter::ALL, db.store(), &memory).await;
    assert_same_top_customers(db.store(), &memory).await;

    let mut rng = ChaCha8Rng::seed_from_u64(2025);
    let midnight = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let mut filters = vec![
        Filter::new(Some(BranchId::new(2).unwrap()), None, None).unwrap(),
        Filter::new(None, Some(midnight), None).unwrap(),
        Filter::new(None, None, Some(midnight)).unwrap(),
        Filter::new(None, Some(midnight), Some(midnight + Duration::days(7))).unwrap(),
        Filter::new(
            None,
            Some(midnight + Duration::hours(9)),
            Some(midnight + Duration::hours(17)),
        )
        .unwrap(),
        Filter::new(
            Some(BranchId::new(1).unwrap()),
            Some(midnight - Duration::minutes(1)),
            Some(midnight + Duration::minutes(1)),
        )
        .unwrap(),
        // Whole months exactly, then months with partial days and hours at both edges.
        Filter::new(
            None,
            Some(midnight),
            Some(Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap()),
        )
        .unwrap(),
        Filter::new(
            Some(BranchId::new(3).unwrap()),
            Some(midnight - Duration::minutes(30)),
            Some(Utc.with_ymd_and_hms(2025, 4, 1, 0, 30, 0).unwrap()),
        )
        .unwrap(),
        // Edges just before a month's, a day's and an hour's end: every level is cut outward
        // and what lies beyond the period is subtracted, down to the purchases of 23:50-24:00.
        Filter::new(
            None,
            Some(Utc.with_ymd_and_hms(2025, 1, 31, 23, 50, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2025, 4, 30, 23, 50, 0).unwrap()),
        )
        .unwrap(),
        // Two partial hours, each cut outward to the nearer boundary.
        Filter::new(
            Some(BranchId::new(2).unwrap()),
            Some(midnight + Duration::minutes(10 * 60 + 29)),
            Some(midnight + Duration::minutes(11 * 60 + 31)),
        )
        .unwrap(),
    ];
    for _ in 0..30 {
        let (a, b) = (instant(&mut rng), instant(&mut rng));
        let (from, to) = if a < b {
            (a, b)
        } else {
            (b, a + Duration::seconds(1))
        };
        let branch = rng
            .random_bool(0.4)
            .then(|| BranchId::new(rng.random_range(1..=3)).unwrap());
        let from = rng.random_bool(0.85).then_some(from);
        let to = rng.random_bool(0.85).then_some(to);
        filters.push(Filter::new(branch, from, to).unwrap());
    }
    for filter in &filters {
        assert_same(filter, db.store(), &memory).await;
    }

    // The bulk load built the aggregates in one pass; purchases recorded one at a time go
    // through the triggers instead (hourly, daily, per customer, per branch). Both must agree.
    let customers: Vec<CustomerId> = memory
        .top_customers(&TopCustomersQuery {
            limit: 50,
            after: None,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.customer)
        .collect();
    for _ in 0..200 {
        let customer = if rng.random_bool(0.7) {
            customers[rng.random_range(0..customers.len())]
        } else {
            CustomerId::from_uuid(uuid::Uuid::from_u128(rng.random()))
        };
        let mut products: Vec<ProductId> = (1..=10).map(|id| ProductId::new(id).unwrap()).collect();
        products.truncate(rng.random_range(1..=4));
        let purchase = NewPurchase::new(
            BranchId::new(rng.random_range(1..=3)).unwrap(),
            CustomerRef::Known(customer),
            products,
            instant(&mut rng),
        )
        .unwrap();
        db.record_purchase(purchase.clone()).await.unwrap();
        memory.record_purchase(purchase).await.unwrap();
    }
    assert_same(&Filter::ALL, db.store(), &memory).await;
    for filter in &filters {
        assert_same(filter, db.store(), &memory).await;
    }
}

/// A load whose customers outnumber what the loader sums in memory hands its sums over in
/// parts, so customers have several partial rows; one whose purchases outnumber a COPY sends
/// a COPY in the background while it encodes the next purchases, and hands sums over only once
/// that COPY is done. Every figure still equals the full recomputation.
#[tokio::test]
async fn a_load_in_several_copies_with_its_sums_in_parts_comes_out_the_same() {
    let db = TestDb::new().await;
    // About 20 hand-overs for the sample's thousands of customers and pairs, and a COPY for
    // each of its two batches of 10,000 purchases.
    let store = db
        .store()
        .clone()
        .with_load_customer_sums(500)
        .with_load_purchases_per_copy(5_000);
    let memory = load_sample(&store).await;
    let branch = Filter::new(Some(BranchId::new(2).unwrap()), None, None).unwrap();
    for filter in [Filter::ALL, branch] {
        assert_same(&filter, &store, &memory).await;
    }
    assert_same_top_customers(&store, &memory).await;
}

/// A customer already in a store without purchases (a row written by hand: the store only
/// makes customers with their purchases) is counted with its loaded purchases.
#[tokio::test]
async fn a_load_adds_its_purchases_to_a_customer_already_there() {
    let db = TestDb::new().await;
    // The first customer of the data files.
    let early = "fc4ff1be-42d7-45c8-ae94-09104a6cecd5";
    sqlx::query("INSERT INTO customers (id) VALUES ($1::uuid)")
        .bind(early)
        .execute(db.store().pool())
        .await
        .unwrap();
    let memory = load_sample(db.store()).await;
    assert_same(&Filter::ALL, db.store(), &memory).await;
    let (counted, loaded): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT purchases FROM customers WHERE id = $1::uuid), \
                (SELECT count(*) FROM purchases WHERE customer_id = $1::uuid)",
    )
    .bind(early)
    .fetch_one(db.store().pool())
    .await
    .unwrap();
    assert!(loaded > 0, "the early customer bought in the data files");
    assert_eq!(
        counted, loaded,
        "the early customer's row counts its loaded purchases"
    );
}

/// A host that makes its own pool gets the store's session settings from
/// `PgStore::session_options`, and the store answers over that pool.
#[tokio::test]
async fn a_pool_made_with_the_session_options_has_the_stores_settings() {
    let db = TestDb::new().await;
    let options = PgStore::session_options(db.url().parse().unwrap());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let (jit, work_mem): (String, String) =
        sqlx::query_as("SELECT current_setting('jit'), current_setting('work_mem')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((jit.as_str(), work_mem.as_str()), ("off", "64MB"));
    let store = PgStore::from_pool(pool);
    let memory = load_sample(&store).await;
    assert_same(&Filter::ALL, &store, &memory).await;
}

/// The period functions plan their query once per session (a setting of each function, in the
/// `period_functions` migration): a later migration that restates one of them with
/// `CREATE OR REPLACE` drops the setting unless it restates it too, and this test says so.
#[tokio::test]
async fn the_period_functions_plan_their_query_once_per_session() {
    let db = TestDb::new().await;
    let settings: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT proname::text, coalesce(proconfig, '{}') FROM pg_proc
         WHERE proname IN ('icash_branch_sales', 'icash_product_units') ORDER BY proname",
    )
    .fetch_all(db.store().pool())
    .await
    .unwrap();
    assert_eq!(settings.len(), 2);
    for (function, settings) in settings {
        assert!(
            settings
                .iter()
                .any(|s| s == "plan_cache_mode=force_generic_plan"),
            "{function} runs with {settings:?}"
        );
    }
}

/// A period is cut into months, days and hours in UTC whatever the session's time zone: on a
/// session in Paris, the day after 2025-03-30 (when clocks go forward) still starts at 00:00 UTC.
#[tokio::test]
async fn periods_are_cut_in_utc_whatever_the_session_time_zone() {
    let db = TestDb::new().await;
    let mut conn = db.store().pool().acquire().await.unwrap();
    sqlx::query("SET timezone = 'Europe/Paris'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (day_lo, month_lo): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT day_lo, month_lo FROM icash_period('2025-03-30T16:00:00Z', '2025-06-15T10:00:00Z')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(day_lo, Utc.with_ymd_and_hms(2025, 3, 31, 0, 0, 0).unwrap());
    assert_eq!(month_lo, Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap());
}

/// `icash_period`'s points for [from, to), in the order they telescope: hour_lo, day_lo,
/// month_lo, month_hi, day_hi, hour_hi.
async fn cut(db: &TestDb, from: &str, to: &str) -> [DateTime<Utc>; 6] {
    sqlx::query_as::<_, (_, _, _, _, _, _)>(
        "SELECT hour_lo, day_lo, month_lo, month_hi, day_hi, hour_hi \
         FROM icash_period($1::timestamptz, $2::timestamptz)",
    )
    .bind(from)
    .bind(to)
    .fetch_one(db.store().pool())
    .await
    .map(<[DateTime<Utc>; 6]>::from)
    .unwrap()
}

/// Each edge of a period is cut at the nearest boundary of each level, and a level is used only
/// where it saves rows: a year from 10:00 is twelve months (minus the first morning's hours,
/// plus the last's), and ten minutes inside an hour are read from the purchases alone.
#[tokio::test]
async fn a_period_is_cut_at_the_nearest_boundaries() {
    let db = TestDb::new().await;
    let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    // Twelve months; the days' pieces are empty, the hours' are 00:00-10:00 at each end.
    assert_eq!(
        cut(&db, "2025-01-01T10:00:00Z", "2026-01-01T10:00:00Z").await,
        [
            at("2025-01-01T10:00:00Z"),
            at("2025-01-01T00:00:00Z"),
            at("2025-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T10:00:00Z"),
        ]
    );
    // 10:29 and 11:31 round outward to 10:00 and 12:00: two hours' rows, minus 58 minutes of
    // purchases instead of 62 minutes of them. No day or month.
    assert_eq!(
        cut(&db, "2025-03-05T10:29:00Z", "2025-03-05T11:31:00Z").await,
        [
            at("2025-03-05T10:00:00Z"),
            at("2025-03-05T12:00:00Z"),
            at("2025-03-05T12:00:00Z"),
            at("2025-03-05T12:00:00Z"),
            at("2025-03-05T12:00:00Z"),
            at("2025-03-05T12:00:00Z"),
        ]
    );
    // Four days cut at the nearest months would be January minus 27 days: the days alone.
    let day = |d: u32| Utc.with_ymd_and_hms(2025, 1, d, 0, 0, 0).unwrap();
    assert_eq!(
        cut(&db, "2025-01-14T00:00:00Z", "2025-01-18T00:00:00Z").await,
        [day(14), day(14), day(18), day(18), day(18), day(18)]
    );
    // 10:20 to 10:50 cut at 10:00 and 11:00 leaves as many purchases to read as the period
    // holds: the purchases alone.
    let end = at("2025-03-05T10:50:00Z");
    assert_eq!(
        cut(&db, "2025-03-05T10:20:00Z", "2025-03-05T10:50:00Z").await,
        [end; 6]
    );
    // Ten minutes inside an hour: no level at all, every point at the period's end.
    assert_eq!(
        cut(&db, "2025-03-05T10:40:00Z", "2025-03-05T10:50:00Z").await,
        [end; 6]
    );
}
