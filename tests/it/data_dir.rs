//! The generated files in `data/` are consistent: they load whole under the strict policy.

use icash::core::import::Policy;
use icash::core::{Analytics, Filter, MemoryStore};
use icash::data::load_dir;
use icash::postgres::testing::TestDb;

use crate::support::data_dir;

#[tokio::test]
async fn the_generated_data_loads_whole_on_both_stores() {
    let memory = MemoryStore::new();
    let in_memory = load_dir(&memory, &data_dir(), Policy::Strict)
        .await
        .unwrap();
    assert!(in_memory.purchases > 0 && in_memory.rejected.is_empty());

    let db = TestDb::new().await;
    let on_postgres = load_dir(db.store(), &data_dir(), Policy::Strict)
        .await
        .unwrap();
    assert_eq!(on_postgres, in_memory);
    assert_eq!(
        db.statistics(&Filter::ALL).await.unwrap(),
        memory.statistics(&Filter::ALL).await.unwrap(),
        "both stores agree on every figure"
    );
    assert_eq!(
        db.top_products(&Filter::ALL, 3).await.unwrap(),
        memory.top_products(&Filter::ALL, 3).await.unwrap()
    );
}

#[tokio::test]
async fn a_load_reports_its_progress_through_the_purchases_file() {
    let progress = std::sync::Arc::new(icash::data::LoadProgress::default());
    let store = MemoryStore::new();
    assert!(!progress.all_read(), "nothing is read before the load");
    let report =
        icash::data::load_dir_with_progress(&store, &data_dir(), Policy::Strict, progress.clone())
            .await
            .unwrap();
    assert!(report.purchases > 0);
    let size = std::fs::metadata(data_dir().join(icash::data::PURCHASES_FILE))
        .unwrap()
        .len();
    assert_eq!(progress.total_bytes(), size);
    assert_eq!(
        progress.bytes_read(),
        size,
        "the whole file was read and counted"
    );
    assert!(progress.all_read());
}

/// The foreign keys set aside by a bulk load come back enforced at once, and validated later.
#[tokio::test]
async fn a_bulk_load_leaves_its_foreign_keys_enforced_and_then_validated() {
    let db = TestDb::new().await;
    load_dir(db.store(), &data_dir(), Policy::Strict)
        .await
        .unwrap();
    let unvalidated = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated",
        )
        .fetch_one(db.store().pool())
        .await
        .unwrap()
    };
    let left = unvalidated().await;
    assert!(left > 0, "the load restores its foreign keys NOT VALID");

    let orphan = sqlx::query(
        "INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
         VALUES (-1, 1, 0, 1.00)",
    )
    .execute(db.store().pool())
    .await
    .expect_err("a line without its purchase is refused right after the load");
    assert!(orphan.to_string().contains("purchase_lines_purchase_fkey"));

    assert_eq!(
        db.store().validate_foreign_keys().await.unwrap(),
        u64::try_from(left).unwrap()
    );
    assert_eq!(unvalidated().await, 0);
    assert_eq!(db.store().validate_foreign_keys().await.unwrap(), 0);
}

/// A statement that runs past `PgConfig::statement_timeout` is cancelled by PostgreSQL (the
/// store maps that to unavailable); a bulk load, whose statements are exempt, still runs.
#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_and_loads_still_run() {
    use icash::core::{Error, StoreError};
    use icash::postgres::{PgConfig, PgStore};

    let db = TestDb::new().await;
    let config = PgConfig {
        statement_timeout: Some(std::time::Duration::from_millis(200)),
        ..PgConfig::default()
    };
    let store = PgStore::connect_with(db.url().parse().unwrap(), &config)
        .await
        .unwrap();
    let slow = sqlx::query("SELECT pg_sleep(2)")
        .execute(store.pool())
        .await
        .expect_err("cancelled after 200 ms");
    assert!(slow.to_string().contains("statement timeout"), "{slow}");

    // The load sets its own limit aside (it is small here, so this shows it still runs).
    load_dir(&store, &data_dir(), Policy::Strict).await.unwrap();
    let statistics = store.statistics(&Filter::ALL).await;
    assert!(
        !matches!(statistics, Err(Error::Store(StoreError::Unavailable(_)))),
        "{statistics:?}"
    );
    assert!(statistics.unwrap().total_purchases > 0);
}
