//! The day's report: what one branch did on one business day, in all, per product, per hour and
//! per till, with its voids, refunds and first and last sale. Its parts add up to the
//! statistics of the same branch and day.
//!
//! It reads the day's purchases and refunds one by one
//! ([`Analytics::sales_records`](crate::Analytics::sales_records)): a branch's day is a few
//! thousand purchases at most.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::analytics::{Filter, ProductSales, RefundTotals};
use crate::business_day::BusinessDates;
use crate::error::{Error, Result, ValidationError};
use crate::id::BranchId;
use crate::key::KeyName;
use crate::money::Money;
use crate::product::Branch;
use crate::sales::{SalesFigures, SalesRecords};
use crate::series::hour_starts;
use crate::store::Store;

/// One hour of the day, from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourLine {
    /// Its first instant, at the branch's offset then.
    pub start: DateTime<FixedOffset>,
    /// What it sold and refunded.
    pub figures: SalesFigures,
}

/// What one till (the key that recorded the purchases) sold that day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TillLine {
    /// The key's name; `None` for the purchases recorded without one.
    pub recorded_by: Option<KeyName>,
    /// Its purchases, revenue and units (refunds are not a till's).
    pub figures: SalesFigures,
    /// Its first sale.
    pub first_sale: DateTime<Utc>,
    /// Its last sale.
    pub last_sale: DateTime<Utc>,
}

/// The report of one branch's business day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyReport {
    /// The branch, with the zone and start of day the day is reckoned in.
    pub branch: Branch,
    /// The business date.
    pub date: NaiveDate,
    /// The day's first instant.
    pub starts_at: DateTime<Utc>,
    /// The next day's first instant.
    pub ends_at: DateTime<Utc>,
    /// The day's purchases not voided, their revenue and units, and the refunds made that day.
    pub figures: SalesFigures,
    /// The day's purchases that were voided (whenever), and their totals.
    pub voids: RefundTotals,
    /// The first purchase not voided, if any.
    pub first_sale: Option<DateTime<Utc>>,
    /// The last purchase not voided, if any.
    pub last_sale: Option<DateTime<Utc>>,
    /// Units sold and returned per product that sold or returned any, in product id order.
    pub products: Vec<ProductSales>,
    /// Every hour of the day in order: 24, or 23 and 25 when the clocks change.
    pub hours: Vec<HourLine>,
    /// Per till, the purchases without a key first, then by key name.
    pub tills: Vec<TillLine>,
}

/// The report of `branch`'s business day `date`. Fails with
/// [`Error::NotFound`](crate::Error::NotFound) when the chain has no such branch, and as
/// [`ValidationError::SkippedDates`] when the branch's clocks skipped the date.
pub async fn daily_report(
    store: &dyn Store,
    branch: BranchId,
    date: NaiveDate,
) -> Result<DailyReport> {
    let branch = store
        .branches()
        .await?
        .into_iter()
        .find(|each| each.id() == branch)
        .ok_or_else(|| Error::NotFound {
            what: "supermarket",
            id: branch.to_string(),
        })?;
    let day = BusinessDates::day(date);
    let (Some(starts_at), Some(ends_at)) = day.instants(&branch) else {
        unreachable!("a day has both ends")
    };
    let filter = Filter::new(Some(branch.id()), Some(starts_at), Some(ends_at))
        .map_err(|_| ValidationError::SkippedDates(branch.id()))?;
    let records = store.sales_records(&filter).await?;
    let mut products = store.product_sales(&filter).await?;
    products.sort_by_key(|sales| sales.product);
    let hours = hour_starts(&branch, &day);
    Ok(DailyReport {
        figures: total(&records),
        voids: records
            .sales
            .iter()
            .filter(|sale| sale.voided)
            .map(|sale| RefundTotals {
                count: 1,
                amount: sale.total,
            })
            .sum(),
        first_sale: sold(&records).map(|sale| sale.at).min(),
        last_sale: sold(&records).map(|sale| sale.at).max(),
        products,
        hours: per_hour(&records, &hours, &branch),
        tills: per_till(&records),
        branch,
        date,
        starts_at,
        ends_at,
    })
}

/// The purchases not voided.
fn sold(records: &SalesRecords) -> impl Iterator<Item = &crate::sales::SaleRecord> {
    records.sales.iter().filter(|sale| !sale.voided)
}

/// A purchase's figures.
fn sale_figures(total: Money, units: u64) -> SalesFigures {
    SalesFigures {
        purchases: 1,
        revenue: total,
        units,
        refunds: RefundTotals::default(),
    }
}

/// A refund's figures.
fn refund_figures(amount: Money) -> SalesFigures {
    SalesFigures {
        refunds: RefundTotals { count: 1, amount },
        ..SalesFigures::default()
    }
}

fn total(records: &SalesRecords) -> SalesFigures {
    sold(records)
        .map(|sale| sale_figures(sale.total, sale.units))
        .chain(
            records
                .refunds
                .iter()
                .map(|refund| refund_figures(refund.amount)),
        )
        .sum()
}

fn per_hour(records: &SalesRecords, starts: &[DateTime<Utc>], branch: &Branch) -> Vec<HourLine> {
    let mut figures = vec![SalesFigures::default(); starts.len()];
    let mut add = |at: DateTime<Utc>, more: SalesFigures| {
        let hour = starts.partition_point(|start| *start <= at);
        if let Some(slot) = hour.checked_sub(1).and_then(|hour| figures.get_mut(hour)) {
            *slot = *slot + more;
        }
    };
    for sale in sold(records) {
        add(sale.at, sale_figures(sale.total, sale.units));
    }
    for refund in &records.refunds {
        add(refund.at, refund_figures(refund.amount));
    }
    let zone = branch.time_zone().tz();
    starts
        .iter()
        .zip(figures)
        .map(|(start, figures)| HourLine {
            start: start.with_timezone(&zone).fixed_offset(),
            figures,
        })
        .collect()
}

fn per_till(records: &SalesRecords) -> Vec<TillLine> {
    let mut tills: BTreeMap<Option<KeyName>, TillLine> = BTreeMap::new();
    for sale in sold(records) {
        let figures = sale_figures(sale.total, sale.units);
        tills
            .entry(sale.recorded_by.clone())
            .and_modify(|till| {
                till.figures = till.figures + figures;
                till.first_sale = till.first_sale.min(sale.at);
                till.last_sale = till.last_sale.max(sale.at);
            })
            .or_insert_with(|| TillLine {
                recorded_by: sale.recorded_by.clone(),
                figures,
                first_sale: sale.at,
                last_sale: sale.at,
            });
    }
    tills.into_values().collect()
}
