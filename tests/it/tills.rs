//! The till connections of `PgStore`: purchases without an idempotency key have a pool of their
//! own, which checks a connection only when its last exchange did not finish or it sat idle.

use std::time::Duration;

use chrono::Utc;
use icash::core::{
    BranchId, CustomerRef, Error, NewPurchase, ProductId, Purchase, Purchases, StoreError,
};
use icash::postgres::testing::TestDb;
use icash::postgres::{PgConfig, PgStore};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

use crate::http::put_catalog;

/// A store on `db` whose pools hold one connection each, and give up waiting after 500 ms.
async fn one_connection_store(db: &TestDb) -> PgStore {
    let config = PgConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        ..PgConfig::default()
    };
    let store = PgStore::connect_with(db.url().parse().unwrap(), &config)
        .await
        .unwrap();
    put_catalog(&store).await;
    store
}

/// A new customer's purchase of `products` at branch 2.
fn purchase(products: &[i32]) -> NewPurchase {
    NewPurchase::new(
        BranchId::new(2).unwrap(),
        CustomerRef::New,
        products
            .iter()
            .map(|&id| ProductId::new(id).unwrap())
            .collect(),
        Utc::now(),
    )
    .unwrap()
}

/// The products of a receipt, in the till's order.
fn products(receipt: &Purchase) -> Vec<i32> {
    receipt
        .details()
        .lines()
        .iter()
        .map(|line| line.product().get())
        .collect()
}

/// Long analytics may hold every connection of the main pool: the tills still sell.
#[tokio::test]
async fn purchases_are_recorded_while_the_main_pool_is_exhausted() {
    let db = TestDb::new().await;
    let store = one_connection_store(&db).await;
    let held = store.pool().acquire().await.unwrap();

    let receipt = store.record_purchase(purchase(&[1, 3])).await.unwrap();
    assert_eq!(products(&receipt), [1, 3]);
    drop(held);
    assert_eq!(store.purchase(receipt.id()).await.unwrap(), receipt);
}

/// A purchase whose request is cut short once its statement was sent is still recorded whole:
/// PostgreSQL runs a statement it received to its end (a till that must not record twice when
/// it retries sends an idempotency key). The next purchase on the same till connection reads
/// its own answer, not the one left unread.
#[tokio::test]
async fn a_purchase_cut_short_leaves_its_till_connection_clean_for_the_next() {
    let db = TestDb::new().await;
    let store = one_connection_store(&db).await;
    // The till's statement is prepared by its first purchase; after that, a purchase is sent in
    // one write.
    store.record_purchase(purchase(&[4])).await.unwrap();
    let mut locker = PgConnection::connect(&db.url()).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE purchases IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        store.record_purchase(purchase(&[1, 2, 3])),
    )
    .await;
    assert!(cut.is_err(), "the purchase waits for the lock: {cut:?}");
    lock.commit().await.unwrap();

    let next = store.record_purchase(purchase(&[4])).await.unwrap();
    assert_eq!(products(&next), [4]);
    assert_eq!(store.purchase(next.id()).await.unwrap(), next);
    let mut conn = PgConnection::connect(&db.url()).await.unwrap();
    let (purchases, lines): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM purchases), (SELECT count(*) FROM purchase_lines)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (purchases, lines),
        (3, 5),
        "the cut-short purchase ran, whole"
    );
}

/// A till connection whose backend went away fails the purchase that finds it so (as
/// unavailable), and is replaced at the next one, however soon that comes.
#[tokio::test]
async fn a_till_connection_that_died_is_replaced_at_the_next_purchase() {
    let db = TestDb::new().await;
    let store = one_connection_store(&db).await;
    store.record_purchase(purchase(&[1])).await.unwrap();
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    // Found by the start of the purchase statement: pg_stat_activity keeps only the start of a
    // long one.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE '%INSERT INTO purchases (branch_id%'
           AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "one till connection had recorded");

    // The first purchase after may find the connection dead; the next ones, sent at once, must
    // not: a till is not checked when it was handed out less than a second ago, unless its last
    // exchange failed.
    let first = store.record_purchase(purchase(&[2])).await;
    if let Err(error) = &first {
        assert!(
            matches!(error, Error::Store(StoreError::Unavailable(_))),
            "{error:?}"
        );
    }
    for products_bought in [[3], [4]] {
        let receipt = store.record_purchase(purchase(&products_bought)).await;
        assert_eq!(products(&receipt.unwrap()), products_bought);
    }
}

/// The till connections close when left unused for the main pool's idle timeout, as the main
/// pool's do, and the next purchase opens one again.
#[tokio::test]
async fn idle_till_connections_are_closed_after_the_pools_idle_timeout() {
    let db = TestDb::new().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .idle_timeout(Duration::from_millis(500))
        .connect(&db.url())
        .await
        .unwrap();
    let store = PgStore::from_pool(pool);
    put_catalog(&store).await;
    store.record_purchase(purchase(&[1])).await.unwrap();
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    let tills = async |admin: &mut PgConnection| -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE '%INSERT INTO purchases (branch_id%'
               AND pid <> pg_backend_pid()",
        )
        .fetch_one(admin)
        .await
        .unwrap()
    };
    assert_eq!(tills(&mut admin).await, 1, "the purchase's till connection");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tills(&mut admin).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle till connection was still open after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let next = store.record_purchase(purchase(&[2])).await.unwrap();
    assert_eq!(products(&next), [2]);
    assert_eq!(tills(&mut admin).await, 1, "a till connection opened again");
}
