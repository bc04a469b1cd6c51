//! Loading the old system's CSV files: `products_list.csv` and `purchases.csv`.
//!
//! The parsers stream rows from any [`Read`] into domain records and check each row against the
//! catalog; [`load`] drives them into a store's [`ImportSession`](crate::ImportSession) in
//! bounded batches. Opening the files is the caller's business.
//!
//! A bad row is reported with its file, line and reason. Under [`Policy::Strict`] (the default)
//! one bad row refuses the whole load and nothing is written; under [`Policy::Lenient`] the good
//! rows are loaded and every bad one is reported.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;

use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::id::{BranchId, CustomerId, ProductId};
use crate::money::Money;
use crate::product::Product;
use crate::purchase::{PricedPurchase, PurchaseLine};
use crate::store::Store;

/// How many purchases are parsed, handed over and written at a time: large enough for a
/// store's bulk path, small enough to keep memory bounded whatever the file size.
pub const BATCH_SIZE: usize = 10_000;

/// How many bad rows a report keeps in detail; the rest are only counted.
pub const MAX_REPORTED_ROWS: usize = 1_000;

/// What to do with a file that has bad rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Refuse the whole load when any row is bad: nothing is written.
    #[default]
    Strict,
    /// Load the good rows and report every bad one.
    Lenient,
}

/// A row that cannot be loaded: where it is and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {problem}")]
pub struct RowError {
    /// The file's name as the caller gave it.
    pub file: String,
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// What is wrong with it.
    pub problem: RowProblem,
}

/// Why a row cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    /// The row is not well-formed CSV text (wrong number of fields, invalid UTF-8).
    #[error("the row cannot be read: {0}")]
    Unreadable(String),
    /// A product name that the catalog does not have.
    #[error("unknown product {0:?}")]
    UnknownProduct(String),
    /// A product named twice in one purchase, or twice in the products file.
    #[error("product {0:?} is named twice")]
    ProductNamedTwice(String),
    /// A purchase without products.
    #[error("the purchase has no products")]
    NoItems,
    /// A branch code that is malformed or names a branch the chain does not have.
    #[error("unknown branch code {0:?}")]
    UnknownBranch(String),
    /// A customer id that is not a UUID.
    #[error("malformed customer UUID {0:?}")]
    MalformedCustomerId(String),
    /// A timestamp that cannot be read.
    #[error("malformed timestamp {0:?}")]
    MalformedTimestamp(String),
    /// An amount that is not a valid amount of money.
    #[error("malformed amount {0:?}")]
    MalformedAmount(String),
    /// A product without a name.
    #[error("the product name is empty")]
    EmptyProductName,
    /// A total that is not the sum of the catalog's prices of the products.
    #[error(
        "total_amount {stated} disagrees with the catalog's prices, which add up to {computed}"
    )]
    TotalMismatch {
        /// The total the row states.
        stated: Money,
        /// The sum of the catalog's prices.
        computed: Money,
    },
}

/// Why a load failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file lacks a column it must have.
    #[error("{file}: the header has no column {column:?}")]
    MissingColumn {
        /// The file's name.
        file: String,
        /// The column that is missing.
        column: &'static str,
    },
    /// A file cannot be read.
    #[error("{file}: {source}")]
    Read {
        /// The file's name.
        file: String,
        /// What went wrong.
        source: csv::Error,
    },
    /// The files have bad rows and the policy refuses them: nothing was written.
    #[error("{0}")]
    Refused(BadRows),
    /// The store failed; nothing was committed.
    #[error("the store failed during the load: {0}")]
    Store(#[from] Error),
}

/// The bad rows found in a load: the first [`MAX_REPORTED_ROWS`] in detail, and how many in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BadRows {
    /// The bad rows, in file order, at most [`MAX_REPORTED_ROWS`] of them.
    pub rows: Vec<RowError>,
    /// How many rows were bad in all.
    pub count: u64,
}

impl BadRows {
    fn push(&mut self, error: RowError) {
        self.count += 1;
        if self.rows.len() < MAX_REPORTED_ROWS {
            self.rows.push(error);
        }
    }

    fn extend(&mut self, other: BadRows) {
        let room = MAX_REPORTED_ROWS.saturating_sub(self.rows.len());
        self.rows.extend(other.rows.into_iter().take(room));
        self.count += other.count;
    }

    /// Whether no row was bad.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for BadRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bad row(s), nothing was loaded", self.count)?;
        for row in &self.rows {
            write!(f, "\n  {row}")?;
        }
        if self.count > self.rows.len() as u64 {
            write!(
                f,
                "\n  ... and {} more",
                self.count - self.rows.len() as u64
            )?;
        }
        Ok(())
    }
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

/// Finds the index of each named column in a header, tolerating a byte-order mark and blanks.
fn column_indices<const N: usize>(
    file: &str,
    header: &csv::StringRecord,
    names: [&'static str; N],
) -> Result<[usize; N], ImportError> {
    let mut indices = [0; N];
    for (slot, name) in indices.iter_mut().zip(names) {
        *slot = header
            .iter()
            .position(|field| field.trim_start_matches('\u{feff}').trim() == name)
            .ok_or_else(|| ImportError::MissingColumn {
                file: file.to_owned(),
                column: name,
            })?;
    }
    Ok(indices)
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input)
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// Where parsed rows go: the good records and the bad rows, in file order.
pub trait RowSink<T> {
    /// Takes a good record.
    fn good(&mut self, record: T);
    /// Takes a bad row.
    fn bad(&mut self, error: RowError);
}

/// A sink that keeps everything.
#[derive(Debug)]
pub struct Collected<T> {
    /// The good records.
    pub good: Vec<T>,
    /// The bad rows.
    pub bad: BadRows,
}

impl<T> Default for Collected<T> {
    fn default() -> Collected<T> {
        Collected {
            good: Vec::new(),
            bad: BadRows::default(),
        }
    }
}

impl<T> RowSink<T> for Collected<T> {
    fn good(&mut self, record: T) {
        self.good.push(record);
    }

    fn bad(&mut self, error: RowError) {
        self.bad.push(error);
    }
}

/// Reads a whole CSV stream, turning each record into a `T` with `parse`. Only a failure to
/// read the stream itself ends it early; a bad row goes to the sink and reading goes on.
fn read_rows<T, R: Read, const N: usize>(
    input: R,
    file: &str,
    columns: [&'static str; N],
    mut parse: impl FnMut([&str; N]) -> Result<T, RowProblem>,
    sink: &mut impl RowSink<T>,
) -> Result<(), ImportError> {
    let read_error = |source| ImportError::Read {
        file: file.to_owned(),
        source,
    };
    let row_error = |line, problem| RowError {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut reader = csv_reader(input);
    let header = reader.headers().map_err(read_error)?.clone();
    let indices = column_indices(file, &header, columns)?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => match parse(indices.map(|i| record.get(i).unwrap_or(""))) {
                Ok(parsed) => sink.good(parsed),
                Err(problem) => sink.bad(row_error(line_of(&record), problem)),
            },
            Err(error) if error.is_io_error() => return Err(read_error(error)),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                sink.bad(row_error(line, RowProblem::Unreadable(error.to_string())));
            }
        }
    }
}

/// Parses `products_list.csv`: a `product_name,unit_price` header, ids given in file order
/// from 1. Any bad row refuses the whole catalog, whatever the policy: purchases are priced
/// against it.
pub fn parse_products(input: impl Read, file: &str) -> Result<Vec<Product>, ImportError> {
    let mut rows = 0;
    let mut names = HashSet::new();
    let mut collected = Collected::default();
    read_rows(
        input,
        file,
        ["product_name", "unit_price"],
        |[name, price]| {
            // Ids follow the file's rows, bad ones included, as the old system numbered them.
            rows += 1;
            let id = ProductId::new(rows).expect("ids count up from 1");
            let price: Money = price
                .parse()
                .map_err(|_| RowProblem::MalformedAmount(price.to_owned()))?;
            let product =
                Product::new(id, name, price).map_err(|_| RowProblem::EmptyProductName)?;
            if !names.insert(Product::name_key(name)) {
                return Err(RowProblem::ProductNamedTwice(name.trim().to_owned()));
            }
            Ok(product)
        },
        &mut collected,
    )?;
    if collected.bad.is_empty() {
        Ok(collected.good)
    } else {
        Err(ImportError::Refused(collected.bad))
    }
}

/// Turns the rows of `purchases.csv` into priced purchases, checked against a catalog and the
/// chain's branches.
pub struct PurchaseParser {
    file: String,
    products: HashMap<String, Product>,
    branches: HashSet<BranchId>,
}

impl PurchaseParser {
    /// A parser for the rows of `file`, pricing them with `products` and admitting the purchases
    /// made at `branches`.
    pub fn new(
        file: &str,
        products: &[Product],
        branches: impl IntoIterator<Item = BranchId>,
    ) -> PurchaseParser {
        PurchaseParser {
            file: file.to_owned(),
            products: products
                .iter()
                .map(|p| (Product::name_key(p.name()), p.clone()))
                .collect(),
            branches: branches.into_iter().collect(),
        }
    }

    /// Parses the whole stream into `sink`.
    pub fn parse(
        &self,
        input: impl Read,
        sink: &mut impl RowSink<PricedPurchase>,
    ) -> Result<(), ImportError> {
        read_rows(
            input,
            &self.file,
            [
                "supermarket_id",
                "timestamp",
                "user_id",
                "items_list",
                "total_amount",
            ],
            |[branch, at, customer, items, total]| {
                self.parse_row(branch, at, customer, items, total)
            },
            sink,
        )
    }

    fn parse_row(
        &self,
        branch: &str,
        at: &str,
        customer: &str,
        items: &str,
        total: &str,
    ) -> Result<PricedPurchase, RowProblem> {
        let unknown_branch = || RowProblem::UnknownBranch(branch.to_owned());
        let branch = BranchId::from_code(branch).map_err(|_| unknown_branch())?;
        if !self.branches.contains(&branch) {
            return Err(unknown_branch());
        }
        let at =
            parse_timestamp(at).ok_or_else(|| RowProblem::MalformedTimestamp(at.to_owned()))?;
        let customer: CustomerId = customer
            .parse()
            .map_err(|_| RowProblem::MalformedCustomerId(customer.to_owned()))?;
        let stated: Money = total
            .parse()
            .map_err(|_| RowProblem::MalformedAmount(total.to_owned()))?;

        let mut lines: Vec<PurchaseLine> = Vec::new();
        for name in items
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            // A name already in key form (the usual case) is looked up as it is, without
            // allocating its lowercase copy.
            let product = self
                .products
                .get(name)
                .or_else(|| self.products.get(&Product::name_key(name)))
                .ok_or_else(|| RowProblem::UnknownProduct(name.to_owned()))?;
            if lines.iter().any(|line| line.product() == product.id()) {
                return Err(RowProblem::ProductNamedTwice(name.to_owned()));
            }
            lines.push(PurchaseLine::new(
                product.id(),
                product.name(),
                product.price(),
            ));
        }
        if lines.is_empty() {
            return Err(RowProblem::NoItems);
        }
        let purchase = PricedPurchase::new(branch, customer, at, lines)
            .map_err(|error| RowProblem::Unreadable(error.to_string()))?;
        if purchase.total() != stated {
            return Err(RowProblem::TotalMismatch {
                stated,
                computed: purchase.total(),
            });
        }
        Ok(purchase)
    }
}

/// Reads an instant: a date and time without a zone, taken as UTC (the files' own form), or
/// RFC 3339 with a zone.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    [NAIVE_WITH_T, NAIVE_WITH_SPACE]
        .iter()
        .find_map(|items| {
            let mut parsed = chrono::format::Parsed::new();
            chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
            parsed.to_naive_datetime_with_offset(0).ok()
        })
        .map(|naive| naive.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|with_zone| with_zone.with_timezone(&Utc))
        })
}

/// `%Y-%m-%dT%H:%M:%S%.f` (`2025-05-26T19:51:00.539354`), as chrono's items: a format string
/// would be parsed again for each of millions of rows.
const NAIVE_WITH_T: [Item<'static>; 12] = naive_items(Item::Literal("T"));
/// `%Y-%m-%d %H:%M:%S%.f`.
const NAIVE_WITH_SPACE: [Item<'static>; 12] = naive_items(Item::Space(" "));

/// A date, `between`, and a time with optional fractional seconds.
const fn naive_items(between: Item<'static>) -> [Item<'static>; 12] {
    [
        Item::Numeric(Numeric::Year, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Month, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Day, Pad::Zero),
        between,
        Item::Numeric(Numeric::Hour, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Minute, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Second, Pad::Zero),
        Item::Fixed(Fixed::Nanosecond),
    ]
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
    let Some(mut session) = store.begin_import().await? else {
        return Ok(ImportReport {
            skipped: true,
            ..ImportReport::default()
        });
    };
    let branches: Vec<BranchId> = store.branches().await?.iter().map(|b| b.id()).collect();
    let (products, products_file) = (products.0, products.1.to_owned());
    let (purchases, purchases_file) = (purchases.0, purchases.1.to_owned());

    let (sender, mut receiver) = mpsc::channel::<Parsed>(2);
    let parser = tokio::task::spawn_blocking(move || -> Result<(), ImportError> {
        let catalog = parse_products(products, &products_file)?;
        let parser = PurchaseParser::new(&purchases_file, &catalog, branches);
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
                        session.write(batch).await?;
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
    use super::*;
    use crate::analytics::Filter;
    use crate::memory::MemoryStore;
    use crate::store::{Analytics, Catalog, Purchases};

    const PRODUCTS: &str =
        "\u{feff}product_name,unit_price\nmilk,1.5\nbread,2\neggs,3\nOrange Juice ,0.1\n";
    const HEADER: &str = "\u{feff}supermarket_id,timestamp,user_id,items_list,total_amount\n";
    #[test]
    fn timestamps_read_with_t_or_a_space_without_a_zone_and_in_rfc_3339_with_one() {
        let read = |text| parse_timestamp(text).map(|at| at.to_rfc3339());
        let expected = Some("2025-05-26T19:51:00.539354+00:00".to_owned());
        assert_eq!(read("2025-05-26T19:51:00.539354"), expected);
        assert_eq!(read(" 2025-05-26 19:51:00.539354 "), expected);
        assert_eq!(read("2025-05-26T21:51:00.539354+02:00"), expected);
        assert_eq!(
            read("2025-05-26T19:51:00"),
            Some("2025-05-26T19:51:00+00:00".to_owned())
        );
        for bad in [
            "2025-05-26",
            "2025-05-26T19:51",
            "2025-13-26T19:51:00",
            "26/05/2025 19:51:00",
            "2025-05-26T19:51:00 junk",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    const GOOD_ROW: &str = "SMKT003,2025-05-26T19:51:00.539354,01e1e159-8045-43c2-88dd-5682b18bd680,\"eggs,milk\",4.5\n";

    fn catalog() -> Vec<Product> {
        parse_products(PRODUCTS.as_bytes(), "products_list.csv").unwrap()
    }

    fn parse(rows: &str) -> Collected<PricedPurchase> {
        let parser = PurchaseParser::new(
            "purchases.csv",
            &catalog(),
            (1..=3).map(|n| BranchId::new(n).unwrap()),
        );
        let mut collected = Collected::default();
        parser
            .parse(format!("{HEADER}{rows}").as_bytes(), &mut collected)
            .unwrap();
        collected
    }

    fn problem(row: &str) -> RowProblem {
        let collected = parse(row);
        assert!(collected.good.is_empty(), "{row} should be refused");
        assert_eq!(collected.bad.count, 1);
        let error = collected.bad.rows[0].clone();
        assert_eq!((error.file.as_str(), error.line), ("purchases.csv", 2));
        error.problem
    }

    #[test]
    fn products_take_ids_in_file_order_despite_a_byte_order_mark() {
        let products = catalog();
        let summary: Vec<(i32, &str, String)> = products
            .iter()
            .map(|p| (p.id().get(), p.name(), p.price().to_string()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "milk", "1.50".into()),
                (2, "bread", "2.00".into()),
                (3, "eggs", "3.00".into()),
                (4, "Orange Juice", "0.10".into())
            ]
        );
    }

    #[test]
    fn a_bad_products_file_is_refused_with_its_lines() {
        let input = "product_name,unit_price\nmilk,1.5\n,2\nMILK,3\nbread,abc\n";
        let Err(ImportError::Refused(bad)) = parse_products(input.as_bytes(), "products_list.csv")
        else {
            panic!("a bad catalog must be refused");
        };
        let found: Vec<(u64, RowProblem)> = bad
            .rows
            .iter()
            .map(|r| (r.line, r.problem.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (3, RowProblem::EmptyProductName),
                (4, RowProblem::ProductNamedTwice("MILK".into())),
                (5, RowProblem::MalformedAmount("abc".into())),
            ]
        );
        let missing = parse_products("name,price\nmilk,1\n".as_bytes(), "p.csv").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "p.csv: the header has no column \"product_name\""
        );
    }

    #[test]
    fn a_good_row_becomes_a_priced_purchase() {
        let collected = parse(GOOD_ROW);
        assert!(collected.bad.is_empty(), "{}", collected.bad);
        let purchase = &collected.good[0];
        assert_eq!(purchase.branch().get(), 3);
        assert_eq!(
            purchase.at().to_rfc3339(),
            "2025-05-26T19:51:00.539354+00:00"
        );
        assert_eq!(
            purchase.customer().to_string(),
            "01e1e159-8045-43c2-88dd-5682b18bd680"
        );
        let names: Vec<&str> = purchase.lines().iter().map(PurchaseLine::name).collect();
        assert_eq!(names, ["eggs", "milk"]);
        assert_eq!(purchase.total(), "4.5".parse().unwrap());
    }

    #[test]
    fn names_match_trimmed_and_case_insensitively() {
        let collected = parse(
            "SMKT1,2025-01-02 03:04:05,01e1e159-8045-43c2-88dd-5682b18bd680,\" EGGS , orange juice\",3.10\n",
        );
        assert!(collected.bad.is_empty(), "{}", collected.bad);
        let names: Vec<&str> = collected.good[0]
            .lines()
            .iter()
            .map(PurchaseLine::name)
            .collect();
        assert_eq!(names, ["eggs", "Orange Juice"]);
    }

    #[test]
    fn timestamps_with_a_zone_are_converted_to_utc() {
        let collected = parse(
            "SMKT001,2025-01-02T03:04:05+02:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5\n",
        );
        assert_eq!(
            collected.good[0].at().to_rfc3339(),
            "2025-01-02T01:04:05+00:00"
        );
    }

    #[test]
    fn each_bad_row_names_its_reason() {
        let uuid = "01e1e159-8045-43c2-88dd-5682b18bd680";
        let at = "2025-05-26T19:51:00";
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"milk,caviar\",1.5\n")),
            RowProblem::UnknownProduct("caviar".into())
        );
        assert_eq!(
            problem(&format!("SMKT009,{at},{uuid},milk,1.5\n")),
            RowProblem::UnknownBranch("SMKT009".into())
        );
        assert_eq!(
            problem(&format!("STORE1,{at},{uuid},milk,1.5\n")),
            RowProblem::UnknownBranch("STORE1".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},not-a-uuid,milk,1.5\n")),
            RowProblem::MalformedCustomerId("not-a-uuid".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,yesterday,{uuid},milk,1.5\n")),
            RowProblem::MalformedTimestamp("yesterday".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"milk,MILK\",3\n")),
            RowProblem::ProductNamedTwice("MILK".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"\",0\n")),
            RowProblem::NoItems
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},milk,1.5x\n")),
            RowProblem::MalformedAmount("1.5x".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"eggs,milk\",4.4\n")),
            RowProblem::TotalMismatch {
                stated: "4.4".parse().unwrap(),
                computed: "4.5".parse().unwrap()
            }
        );
        assert!(matches!(
            problem(&format!("SMKT001,{at},{uuid},milk\n")),
            RowProblem::Unreadable(_)
        ));
        let message = RowError {
            file: "purchases.csv".into(),
            line: 7,
            problem: RowProblem::UnknownProduct("caviar".into()),
        };
        assert_eq!(
            message.to_string(),
            "purchases.csv, line 7: unknown product \"caviar\""
        );
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_not_a_failure() {
        let parser = PurchaseParser::new("purchases.csv", &catalog(), [BranchId::new(3).unwrap()]);
        let mut input = HEADER.as_bytes().to_vec();
        input.extend_from_slice(b"SMKT003,2025-05-26T19:51:00,\xff\xfe,milk,1.5\n");
        input.extend_from_slice(GOOD_ROW.as_bytes());
        let mut collected = Collected::default();
        parser.parse(input.as_slice(), &mut collected).unwrap();
        assert_eq!((collected.good.len(), collected.bad.count), (1, 1));
        assert_eq!(collected.bad.rows[0].line, 2);
    }

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
