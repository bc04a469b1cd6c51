//! Loading the old system's CSV files: `products_list.csv` and `purchases.csv`.
//!
//! The parsers stream rows from any [`Read`] into domain records and check each row against the
//! catalog; [`load`] drives them into a store's [`ImportSession`](crate::ImportSession) in
//! bounded batches. Opening the files is the caller's business.
//!
//! A bad row is reported with its file, line and reason. Under [`Policy::Strict`] (the default)
//! one bad row refuses the whole load and nothing is written; under [`Policy::Lenient`] the good
//! rows are loaded and every bad one is reported.
//!
//! The parts: `rows` reads a CSV stream into a [`RowSink`]; `products` and `purchases` turn the
//! rows of each file into domain records, with `timestamp` for the files' instants; `error`
//! says what went wrong and where; this module drives the whole load.

mod error;
mod products;
mod purchases;
mod rows;
#[cfg(test)]
mod samples;
mod timestamp;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::error::Error;
use crate::product::Product;
use crate::purchase::PricedPurchase;
use crate::store::Store;

pub use error::{BadRows, ImportError, MAX_REPORTED_ROWS, RowError, RowProblem};
pub use products::parse_products;
pub use purchases::PurchaseParser;
pub use rows::{Collected, RowSink};

/// How many purchases are parsed, handed over and written at a time: large enough for a
/// store's bulk path, small enough to keep memory bounded whatever the file size.
pub const BATCH_SIZE: usize = 10_000;

/// What to do with a file that has bad rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Refuse the whole load when any row is bad: nothing is written.
    #[default]
    Strict,
    /// Load the good rows and report every bad one.
    Lenient,
}

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Whether the store already had purchases, so nothing was loaded.
    pub skipped: bool,
    /// How many products were put in the catalog.
    pub products: usize,
    /// How many purchases were loaded.
    pub purchases: u64,
    /// The rows left out (under [`Policy::Lenient`]; a strict load with bad rows fails).
    pub rejected: BadRows,
}

/// What the parsing thread hands to the writer.
enum Parsed {
    Products(Vec<Product>),
    Batch(Vec<PricedPurchase>, BadRows),
}

/// Groups parsed purchases into batches of [`BATCH_SIZE`] and sends them, with the bad rows
/// found since the last batch, to the writer.
struct Batcher {
    sender: mpsc::Sender<Parsed>,
    batch: Vec<PricedPurchase>,
    bad: BadRows,
}

impl Batcher {
    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_SIZE));
        // A closed channel means the writer gave up; its error is the one reported.
        let _ = self
            .sender
            .blocking_send(Parsed::Batch(batch, std::mem::take(&mut self.bad)));
    }
}

impl RowSink<PricedPurchase> for Batcher {
    fn good(&mut self, purchase: PricedPurchase) {
        self.batch.push(purchase);
        if self.batch.len() == BATCH_SIZE {
            self.send();
        }
    }

    fn bad(&mut self, error: RowError) {
        self.bad.push(error);
    }
}

/// Loads a products file and a purchases file into a store that has no purchases yet.
///
/// Parsing runs on a blocking thread and hands batches of [`BATCH_SIZE`] purchases to the
/// store's [`ImportSession`](crate::ImportSession), so memory stays bounded whatever the size
/// of the files. Nothing is visible until the whole load commits; a failure, or bad rows under
/// [`Policy::Strict`], leave the store as it was. A store that already has purchases is left
/// alone and the report says `skipped`: loading at every start, or twice, never duplicates
/// anything.
pub async fn load<P, Q>(
    store: &dyn Store,
    products: (P, &str),
    purchases: (Q, &str),
    policy: Policy,
) -> Result<ImportReport, ImportError>
where
    P: Read + Send + 'static,
    Q: Read + Send + 'static,
{
    load_counting(store, products, purchases, policy, &AtomicU64::new(0)).await
}

/// [`load`], adding to `loaded` the purchases handed to the store as it goes, for a host that
/// shows a long load's progress (they are visible only once the whole load commits).
pub async fn load_counting<P, Q>(
    store: &dyn Store,
    products: (P, &str),
    purchases: (Q, &str),
    policy: Policy,
    loaded: &AtomicU64,
) -> Result<ImportReport, ImportError>
where
    P: Read + Send + 'static,
    Q: Read + Send + 'static,
{
    let Some(mut session) = store.begin_import().await? else {
        return Ok(ImportReport {
            skipped: true,
            ..ImportReport::default()
        });
    };
    let branches = store.branches().await?;
    let (products, products_file) = (products.0, products.1.to_owned());
    let (purchases, purchases_file) = (purchases.0, purchases.1.to_owned());

    let (sender, mut receiver) = mpsc::channel::<Parsed>(2);
    let parser = tokio::task::spawn_blocking(move || -> Result<(), ImportError> {
        let catalog = parse_products(products, &products_file)?;
        let parser = PurchaseParser::new(&purchases_file, &catalog, &branches);
        let _ = sender.blocking_send(Parsed::Products(catalog));
        let mut batcher = Batcher {
            sender,
            batch: Vec::with_capacity(BATCH_SIZE),
            bad: BadRows::default(),
        };
        parser.parse(purchases, &mut batcher)?;
        batcher.send();
        Ok(())
    });

    let mut report = ImportReport::default();
    let written = async {
        while let Some(parsed) = receiver.recv().await {
            match parsed {
                Parsed::Products(catalog) => {
                    session.put_products(&catalog).await?;
                    report.products = catalog.len();
                }
                Parsed::Batch(batch, bad) => {
                    report.rejected.extend(bad);
                    let refusing = policy == Policy::Strict && !report.rejected.is_empty();
                    if !refusing && !batch.is_empty() {
                        report.purchases += batch.len() as u64;
                        let rows = batch.len() as u64;
                        session.write(batch).await?;
                        loaded.fetch_add(rows, Ordering::Relaxed);
                    }
                }
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    // Dropping the receiver unblocks the parser if the writer stopped early.
    drop(receiver);
    let parsed = parser.await.map_err(Error::internal)?;
    written?;
    parsed?;
    if policy == Policy::Strict && !report.rejected.is_empty() {
        return Err(ImportError::Refused(report.rejected));
    }
    session.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::samples::{GOOD_ROW, HEADER, PRODUCTS};
    use super::*;
    use crate::analytics::Filter;
    use crate::memory::MemoryStore;
    use crate::store::{Analytics, Catalog, Purchases};

    fn purchases_file(rows: usize, bad_line: Option<usize>) -> String {
        let mut file = HEADER.to_owned();
        for line in 2..rows + 2 {
            if Some(line) == bad_line {
                file.push_str("SMKT003,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,\"eggs,caviar\",4.5\n");
            } else {
                file.push_str(GOOD_ROW);
            }
        }
        file
    }

    async fn load_into(
        store: &MemoryStore,
        purchases: String,
        policy: Policy,
    ) -> Result<ImportReport, ImportError> {
        load(
            store,
            (PRODUCTS.as_bytes(), "products_list.csv"),
            (
                std::io::Cursor::new(purchases.into_bytes()),
                "purchases.csv",
            ),
            policy,
        )
        .await
    }

    #[tokio::test]
    async fn a_strict_load_with_one_bad_row_loads_nothing_and_names_the_line() {
        let store = MemoryStore::new();
        // More rows than a batch, so that good batches were written before the bad row is met.
        let rows = BATCH_SIZE * 2 + 5;
        let error = load_into(
            &store,
            purchases_file(rows, Some(BATCH_SIZE + 100)),
            Policy::Strict,
        )
        .await
        .unwrap_err();
        let ImportError::Refused(bad) = &error else {
            panic!("expected a refusal, got {error}")
        };
        assert_eq!(bad.count, 1);
        assert_eq!(bad.rows[0].line, BATCH_SIZE as u64 + 100);
        assert!(
            error.to_string().contains(&format!(
                "purchases.csv, line {}: unknown product \"caviar\"",
                BATCH_SIZE + 100
            )),
            "{error}"
        );
        assert!(!store.has_purchases().await.unwrap());
        assert!(
            store.products().await.unwrap().is_empty(),
            "the catalog is part of the load"
        );
    }

    #[tokio::test]
    async fn a_lenient_load_keeps_the_good_rows_and_reports_the_bad() {
        let store = MemoryStore::new();
        let report = load_into(&store, purchases_file(10, Some(4)), Policy::Lenient)
            .await
            .unwrap();
        assert_eq!(
            (report.products, report.purchases, report.rejected.count),
            (4, 9, 1)
        );
        assert_eq!(report.rejected.rows[0].line, 4);
        assert_eq!(
            store
                .statistics(&Filter::ALL)
                .await
                .unwrap()
                .total_purchases,
            9
        );
    }

    #[tokio::test]
    async fn a_second_load_changes_nothing() {
        let store = MemoryStore::new();
        let first = load_into(&store, purchases_file(3, None), Policy::Strict)
            .await
            .unwrap();
        assert_eq!((first.skipped, first.purchases), (false, 3));
        let second = load_into(&store, purchases_file(3, None), Policy::Strict)
            .await
            .unwrap();
        assert!(second.skipped);
        assert_eq!(
            store
                .statistics(&Filter::ALL)
                .await
                .unwrap()
                .total_purchases,
            3
        );
    }

    /// A reader that fails partway, as a disk or a network mount can.
    struct FailingReader {
        data: std::io::Cursor<Vec<u8>>,
        fail_at: u64,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.data.position() >= self.fail_at {
                return Err(std::io::Error::other("the disk went away"));
            }
            let room = (self.fail_at - self.data.position()) as usize;
            let len = buf.len().min(room);
            self.data.read(&mut buf[..len])
        }
    }

    #[tokio::test]
    async fn a_load_interrupted_halfway_leaves_the_store_as_it_was() {
        let store = MemoryStore::new();
        let file = purchases_file(BATCH_SIZE * 3, None);
        let half = file.len() as u64 / 2;
        let reader = FailingReader {
            data: std::io::Cursor::new(file.clone().into_bytes()),
            fail_at: half,
        };
        let error = load(
            &store,
            (PRODUCTS.as_bytes(), "products_list.csv"),
            (reader, "purchases.csv"),
            Policy::Strict,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("the disk went away"), "{error}");
        assert!(!store.has_purchases().await.unwrap());
        // The next run completes it.
        let report = load_into(&store, file, Policy::Strict).await.unwrap();
        assert_eq!(report.purchases, BATCH_SIZE as u64 * 3);
    }
}
