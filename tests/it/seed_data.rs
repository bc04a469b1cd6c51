//! The old system's files load into both stores with exactly its reference figures (skipped,
//! saying so, where the files are not found: see `support::seed_dir`).

use std::fs;
use std::path::Path;

use icash::core::analytics::{LoyalQuery, TopCustomersQuery};
use icash::core::import::{ImportError, Policy};
use icash::core::{Filter, MemoryStore, Money, Store};
use icash::data::{DataError, PRODUCTS_FILE, PURCHASES_FILE, load_dir};
use icash::postgres::testing::TestDb;

use crate::support::seed_dir;

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

/// The figures of the contract's reference data.
async fn assert_reference_figures(store: &dyn Store) {
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_purchases, 2_183);
    assert_eq!(statistics.unique_customers, 1_762);
    assert_eq!(statistics.total_revenue, money("13608.90"));
    let branches: Vec<(i32, u64, Money)> = statistics
        .by_branch
        .iter()
        .map(|b| (b.branch.get(), b.purchase_count, b.revenue))
        .collect();
    assert_eq!(
        branches,
        [
            (1, 313, money("1936.20")),
            (2, 981, money("6152.70")),
            (3, 889, money("5520.00"))
        ]
    );

    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 1_762);
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!((loyal.count, loyal.customers.len()), (142, 142));
    assert!(loyal.customers.iter().all(|c| c.purchase_count >= 3));

    let top: Vec<(String, u64, u32)> = store
        .top_products(&Filter::ALL, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.sales.name, r.sales.units_sold, r.rank))
        .collect();
    assert_eq!(
        top,
        [
            ("milk".into(), 1_823, 1),
            ("eggs".into(), 1_812, 2),
            ("bread".into(), 1_777, 3)
        ]
    );

    let customers = store
        .top_customers(&TopCustomersQuery::default())
        .await
        .unwrap();
    assert_eq!(customers.len(), 20);
    assert_eq!(
        customers[0].purchase_count,
        loyal.customers[0].purchase_count
    );
    assert_eq!(store.products().await.unwrap().len(), 10);
}

/// Loads the reference files twice: the second load is skipped and changes nothing.
async fn load_twice_and_check(store: &dyn Store, seed: &Path) {
    let first = load_dir(store, seed, Policy::Strict).await.unwrap();
    assert_eq!(
        (first.skipped, first.products, first.purchases),
        (false, 10, 2_183)
    );
    assert_reference_figures(store).await;
    let second = load_dir(store, seed, Policy::Strict).await.unwrap();
    assert!(second.skipped);
    assert_reference_figures(store).await;
}

#[tokio::test]
async fn reference_figures_in_memory() {
    let Some(seed) = seed_dir() else { return };
    load_twice_and_check(&MemoryStore::new(), &seed).await;
}

#[tokio::test]
async fn reference_figures_on_postgres() {
    let Some(seed) = seed_dir() else { return };
    let db = TestDb::new().await;
    load_twice_and_check(db.store(), &seed).await;
    // A second process starting on the same database finds it loaded too.
    let restarted = icash::postgres::PgStore::connect(&db.url()).await.unwrap();
    assert!(
        load_dir(&restarted, &seed, Policy::Strict)
            .await
            .unwrap()
            .skipped
    );
    assert_reference_figures(&restarted).await;
}

/// A copy of the reference files whose middle purchase names a product the catalog lacks.
/// Returns the folder and the line of the bad row.
fn copy_with_a_bad_row(seed: &Path) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(seed.join(PRODUCTS_FILE), dir.path().join(PRODUCTS_FILE)).unwrap();
    let original = fs::read_to_string(seed.join(PURCHASES_FILE)).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    let middle = lines.len() / 2;
    lines[middle] = lines[middle]
        .replacen("milk", "caviar", 1)
        .replacen("eggs", "caviar", 1);
    assert!(
        lines[middle].contains("caviar"),
        "the middle row names milk or eggs: {}",
        lines[middle]
    );
    fs::write(dir.path().join(PURCHASES_FILE), lines.join("\n") + "\n").unwrap();
    (dir, middle as u64 + 1)
}

async fn a_bad_row_loads_nothing(store: &dyn Store, seed: &Path) {
    let (dir, bad_line) = copy_with_a_bad_row(seed);
    let error = load_dir(store, dir.path(), Policy::Strict)
        .await
        .unwrap_err();
    let DataError::Import(ImportError::Refused(bad)) = &error else {
        panic!("expected a refusal, got {error}")
    };
    assert_eq!(bad.count, 1);
    assert_eq!(bad.rows[0].line, bad_line);
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "purchases.csv, line {bad_line}: unknown product \"caviar\""
        )),
        "{message}"
    );
    assert!(!store.has_purchases().await.unwrap());
    assert!(store.products().await.unwrap().is_empty());

    // The lenient policy loads every other row.
    let report = load_dir(store, dir.path(), Policy::Lenient).await.unwrap();
    assert_eq!((report.purchases, report.rejected.count), (2_182, 1));
}

#[tokio::test]
async fn a_bad_row_in_the_middle_loads_nothing_in_memory() {
    let Some(seed) = seed_dir() else { return };
    a_bad_row_loads_nothing(&MemoryStore::new(), &seed).await;
}

#[tokio::test]
async fn a_bad_row_in_the_middle_loads_nothing_on_postgres() {
    let Some(seed) = seed_dir() else { return };
    a_bad_row_loads_nothing(TestDb::new().await.store(), &seed).await;
}

/// A reader that fails after `limit` bytes, as a disk or a network mount can.
struct FailingReader {
    inner: std::io::Cursor<Vec<u8>>,
    limit: u64,
}

impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.limit.saturating_sub(self.inner.position());
        if left == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let len = buf.len().min(left as usize);
        self.inner.read(&mut buf[..len])
    }
}

#[tokio::test]
async fn a_load_failing_halfway_leaves_postgres_as_it_was_and_the_next_completes() {
    let Some(seed) = seed_dir() else { return };
    let db = TestDb::new().await;
    let products = fs::read(seed.join(PRODUCTS_FILE)).unwrap();
    let purchases = fs::read(seed.join(PURCHASES_FILE)).unwrap();
    let halfway = FailingReader {
        inner: std::io::Cursor::new(purchases.clone()),
        limit: purchases.len() as u64 / 2,
    };
    let error = icash::core::import::load(
        db.store(),
        (std::io::Cursor::new(products.clone()), "products_list.csv"),
        (halfway, "purchases.csv"),
        Policy::Strict,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("the disk went away"), "{error}");
    let store: &dyn Store = db.store();
    assert!(!store.has_purchases().await.unwrap());
    assert!(store.products().await.unwrap().is_empty());

    let report = load_dir(db.store(), &seed, Policy::Strict).await.unwrap();
    assert_eq!(report.purchases, 2_183);
    assert_reference_figures(db.store()).await;
}
