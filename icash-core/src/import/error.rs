//! What can go wrong in a load: a bad row, with where and why, and a load that fails whole.

use std::fmt;

use crate::error::Error;
use crate::money::Money;

/// How many bad rows a report keeps in detail; the rest are only counted.
pub const MAX_REPORTED_ROWS: usize = 1_000;

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
    /// A time without a zone that the branch's clocks skipped (when they went forward), so
    /// that it names no instant.
    #[error(
        "timestamp {at:?} never happened in the branch's time zone {zone}: its clocks skipped it"
    )]
    SkippedLocalTime {
        /// The timestamp as the file has it.
        at: String,
        /// The branch's zone.
        zone: String,
    },
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
    pub(super) fn push(&mut self, error: RowError) {
        self.count += 1;
        if self.rows.len() < MAX_REPORTED_ROWS {
            self.rows.push(error);
        }
    }

    pub(super) fn extend(&mut self, other: BadRows) {
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
