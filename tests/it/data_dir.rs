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
}
