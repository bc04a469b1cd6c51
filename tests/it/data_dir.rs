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
