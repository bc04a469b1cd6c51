//! What the integration tests share: where the data is, and the stores under test.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of the old system's reference files: the one `ICASH_SEED_DATA` names, else
/// `../shared/seed-data` beside the repository. `None`, after saying so on one line, when the
/// default folder is not there: the test calling it is then skipped. A folder named in
/// `ICASH_SEED_DATA` must hold the files, so a wrong setting fails instead of skipping.
#[must_use]
pub fn seed_dir() -> Option<PathBuf> {
    const FILES: [&str; 2] = [icash::data::PRODUCTS_FILE, icash::data::PURCHASES_FILE];
    let holds_the_files = |dir: &Path| FILES.iter().all(|file| dir.join(file).is_file());
    if let Some(dir) = std::env::var_os("ICASH_SEED_DATA").map(PathBuf::from) {
        assert!(
            holds_the_files(&dir),
            "ICASH_SEED_DATA names {}, which does not hold the old system's {FILES:?}",
            dir.display()
        );
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-data");
    if holds_the_files(&dir) {
        return Some(dir);
    }
    // Written to the stderr handle rather than with eprintln!, which the test harness captures
    // and shows only for a failing test: a skip is said even when every test passes.
    // The test harness names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(
        std::io::stderr(),
        "{test} skipped: the old system's files are not in {} (set ICASH_SEED_DATA)",
        dir.display()
    );
    None
}

/// The receipt of a purchase nothing has happened to since its answer `purchase`: the answer's
/// fields, completed, with no void and no refunds.
pub fn untouched_receipt(purchase: &serde_json::Value) -> serde_json::Value {
    let mut receipt = purchase.clone();
    receipt["status"] = serde_json::json!("completed");
    receipt["void"] = serde_json::Value::Null;
    receipt["refunds"] = serde_json::json!([]);
    receipt
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
