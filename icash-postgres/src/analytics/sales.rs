//! Sales over time and the day's report: figures per branch and business date (the
//! `branch_business_days` aggregate of the `business_day_sales` migration), per bin of time, and
//! a day's purchases and refunds one by one.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use icash_core::analytics::RefundTotals;
use icash_core::sales::{
    BinSales, BinWidth, DaySales, RefundRecord, SaleRecord, SalesFigures, SalesRecords,
};
use icash_core::{BranchId, Filter, KeyName, Money, PurchaseId, Result};
use rust_decimal::Decimal;
use sqlx::FromRow;

use super::count;

/// The rows of the business days' aggregate over a range of dates, one branch's
/// (`branch_business_days`) or the chain's (`chain_business_days`, every branch's added up): at
/// most one per date and shard, as one row of arrays ([`DaysRow`]) that the server adds up per
/// date. PostgreSQL reads them in one pass without grouping or sorting them, and decoding a few
/// arrays costs the server far less than as many rows. Parameters: the branch (NULL for the
/// chain), the first and the last date.
pub(super) const BUSINESS_DAYS_ONE_BRANCH: &str =
    include_str!("sql/sales/business_days_one_branch.sql");
/// See [`BUSINESS_DAYS_ONE_BRANCH`].
pub(super) const BUSINESS_DAYS_ALL_BRANCHES: &str =
    include_str!("sql/sales/business_days_all_branches.sql");

/// What each branch sold per UTC hour, from the hourly aggregates (purchases and revenue, and
/// units) with the purchases the rollup has not folded yet, and the refunds' branch index.
/// Parameters: the filter, whose ends are whole hours.
pub(super) const HOURS: &str = include_str!("sql/sales/hours.sql");

/// What each branch sold per bin, from the purchases not voided (through their branch index)
/// and the refunds. Parameters: the filter, and the bins' width in seconds.
pub(super) const BINS: &str = include_str!("sql/sales/bins.sql");

/// The purchases under a filter, voided ones included, with their units. Parameters: the filter.
pub(super) const SALES_RECORDS: &str = include_str!("sql/sales/sales_records.sql");

/// The refunds under a filter. Parameters: the filter.
pub(super) const REFUND_RECORDS: &str = include_str!("sql/sales/refund_records.sql");

/// Whether the hourly aggregates answer `filter` in bins of `width`: whole hours, and ends
/// (if any) on whole hours.
pub(super) fn reads_hours(filter: &Filter, width: BinWidth) -> bool {
    let whole = |at: Option<DateTime<Utc>>| {
        at.is_none_or(|at| at.timestamp().rem_euclid(3600) == 0 && at.nanosecond() == 0)
    };
    width == BinWidth::HOUR && whole(filter.from()) && whole(filter.to())
}

/// Figures as the statements write them.
fn figures(
    purchases: i64,
    revenue: Decimal,
    units: i64,
    refunds: i64,
    refunded: Decimal,
) -> Result<SalesFigures> {
    Ok(SalesFigures {
        purchases: count(purchases),
        revenue: Money::new(revenue)?,
        units: count(units),
        refunds: RefundTotals {
            count: count(refunds),
            amount: Money::new(refunded)?,
        },
    })
}

/// The row of [`BUSINESS_DAYS_ONE_BRANCH`] and [`BUSINESS_DAYS_ALL_BRANCHES`]: a column per
/// figure, an entry per row of the aggregate (the arrays of one aggregation are in the same
/// order), amounts in whole cents, which decode as plain integers.
#[derive(FromRow)]
pub(super) struct DaysRow {
    dates: Vec<NaiveDate>,
    purchases: Vec<i64>,
    revenue_cents: Vec<i64>,
    units: Vec<i64>,
    refunds: Vec<i64>,
    refunded_cents: Vec<i64>,
}

impl DaysRow {
    /// Each date's figures, added up, in date order.
    pub(super) fn days(self) -> Result<Vec<DaySales>> {
        let columns = self
            .purchases
            .into_iter()
            .zip(self.revenue_cents)
            .zip(self.units)
            .zip(self.refunds)
            .zip(self.refunded_cents);
        // Added up before they are read as figures: a shard's row alone may be negative (a void
        // taken from the shard of its purchase, which a rebuild counted in shard 0).
        let mut days: BTreeMap<NaiveDate, [i64; 5]> = BTreeMap::new();
        for (date, ((((purchases, revenue), units), refunds), refunded)) in
            self.dates.into_iter().zip(columns)
        {
            let day = days.entry(date).or_default();
            for (sum, value) in day
                .iter_mut()
                .zip([purchases, revenue, units, refunds, refunded])
            {
                *sum += value;
            }
        }
        let cents = |cents: i64| Decimal::new(cents, 2);
        days.into_iter()
            .map(|(date, [purchases, revenue, units, refunds, refunded])| {
                Ok(DaySales {
                    date,
                    figures: figures(purchases, cents(revenue), units, refunds, cents(refunded))?,
                })
            })
            .collect()
    }
}

/// A row of [`HOURS`] or [`BINS`]: a branch's figures over a bin.
#[derive(FromRow)]
pub(super) struct BinRow {
    branch_id: i32,
    start_at: DateTime<Utc>,
    purchases: i64,
    revenue: Decimal,
    units: i64,
    refunds: i64,
    refunded: Decimal,
}

impl BinRow {
    /// The bin's figures.
    pub(super) fn bin(self) -> Result<BinSales> {
        Ok(BinSales {
            branch: BranchId::new(self.branch_id)?,
            start: self.start_at,
            figures: figures(
                self.purchases,
                self.revenue,
                self.units,
                self.refunds,
                self.refunded,
            )?,
        })
    }
}

/// A row of [`SALES_RECORDS`].
#[derive(FromRow)]
pub(super) struct SaleRow {
    id: i64,
    purchased_at: DateTime<Utc>,
    total: Decimal,
    recorded_by: Option<String>,
    units: i64,
    voided: bool,
}

/// A row of [`REFUND_RECORDS`].
#[derive(FromRow)]
pub(super) struct RefundRow {
    refunded_at: DateTime<Utc>,
    amount: Decimal,
}

/// The records, in the domain's types.
pub(super) fn records(sales: Vec<SaleRow>, refunds: Vec<RefundRow>) -> Result<SalesRecords> {
    Ok(SalesRecords {
        sales: sales
            .into_iter()
            .map(|row| {
                Ok(SaleRecord {
                    id: PurchaseId::new(row.id)?,
                    at: row.purchased_at,
                    total: Money::new(row.total)?,
                    units: count(row.units),
                    recorded_by: row.recorded_by.as_deref().map(KeyName::new).transpose()?,
                    voided: row.voided,
                })
            })
            .collect::<Result<_>>()?,
        refunds: refunds
            .into_iter()
            .map(|row| {
                Ok(RefundRecord {
                    at: row.refunded_at,
                    amount: Money::new(row.amount)?,
                })
            })
            .collect::<Result<_>>()?,
    })
}
