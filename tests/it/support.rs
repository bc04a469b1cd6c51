//! What the integration tests share: where the data is, and the stores under test.

use std::path::{Path, PathBuf};

/// The folder of the old system's reference files.
pub fn seed_dir() -> PathBuf {
    let dir = std::env::var_os("ICASH_SEED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-data"));
    assert!(
        dir.join("purchases.csv").is_file(),
        "the reference files are not in {}: put the old system's seed-data folder beside the \
         repository, or name it in ICASH_SEED_DATA",
        dir.display()
    );
    dir
}

/// The project's own generated data.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Generates, for each case `async fn case(store: SharedStore)` of the calling module, a test in
/// `memory` that runs it on a fresh in-memory store and one in `postgres` that runs it on a fresh
/// PostgreSQL database.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(icash::core::MemoryStore::new())).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = icash::postgres::testing::TestDb::new().await;
                    super::$case(std::sync::Arc::new(db.store().clone())).await;
                }
            )*
        }
    };
}

pub(crate) use on_both_stores;
