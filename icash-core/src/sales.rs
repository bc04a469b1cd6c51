//! What stretches of time sold, as the stores read it for the sales over time
//! ([`crate::series`]) and the day's report ([`crate::daily_report`]): figures per branch and
//! business date, per bin of time, and a day's purchases and refunds one by one.

use std::ops::Add;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::analytics::RefundTotals;
use crate::id::{BranchId, PurchaseId};
use crate::key::KeyName;
use crate::money::Money;

/// What a stretch of time sold: the purchases made in it and not voided, their revenue and
/// units, and the refunds made in it (by their own instant, as the statistics count them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SalesFigures {
    /// How many purchases.
    pub purchases: u64,
    /// The exact sum of their totals.
    pub revenue: Money,
    /// How many units they sold.
    pub units: u64,
    /// The refunds made.
    pub refunds: RefundTotals,
}

impl SalesFigures {
    /// Revenue minus the refunds' amount; negative when the refunds (of purchases made before)
    /// pay back more than was sold.
    pub fn net_revenue(&self) -> Decimal {
        self.revenue.amount() - self.refunds.amount.amount()
    }
}

impl Add for SalesFigures {
    type Output = SalesFigures;

    fn add(self, other: SalesFigures) -> SalesFigures {
        SalesFigures {
            purchases: self.purchases + other.purchases,
            revenue: self.revenue + other.revenue,
            units: self.units + other.units,
            refunds: self.refunds + other.refunds,
        }
    }
}

impl std::iter::Sum for SalesFigures {
    fn sum<I: Iterator<Item = SalesFigures>>(iter: I) -> SalesFigures {
        iter.fold(SalesFigures::default(), |sum, each| sum + each)
    }
}

/// What a branch, or every branch, sold on a business date (each branch's in its own zone from
/// its own start of day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaySales {
    /// The business date.
    pub date: NaiveDate,
    /// What it sold.
    pub figures: SalesFigures,
}

/// The width of the bins a stretch of time is cut into: a whole number of seconds that divides
/// an hour, the bins counted from the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BinWidth(u32);

impl BinWidth {
    /// Whole UTC hours.
    pub const HOUR: BinWidth = BinWidth(3600);

    /// The widest bins whose edges include every one of `edges`: bins of the greatest common
    /// divisor of an hour and each edge's seconds past the hour.
    pub fn fitting(edges: impl IntoIterator<Item = DateTime<Utc>>) -> BinWidth {
        fn gcd(a: i64, b: i64) -> i64 {
            if b == 0 { a } else { gcd(b, a % b) }
        }
        let width = edges.into_iter().fold(3600, |width, edge| {
            gcd(width, edge.timestamp().rem_euclid(3600))
        });
        BinWidth(u32::try_from(width).expect("a divisor of 3600"))
    }

    /// The width in seconds.
    pub fn seconds(self) -> u32 {
        self.0
    }

    /// The first instant of the bin that holds `at`.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let width = i64::from(self.0);
        let start = at.timestamp().div_euclid(width) * width;
        DateTime::from_timestamp(start, 0).expect("an earlier instant of the same range")
    }
}

/// A branch's figures over one bin of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinSales {
    /// The branch.
    pub branch: BranchId,
    /// The bin's first instant.
    pub start: DateTime<Utc>,
    /// What it sold.
    pub figures: SalesFigures,
}

/// One purchase, as the day's report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleRecord {
    /// The purchase.
    pub id: PurchaseId,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Its total.
    pub total: Money,
    /// How many units it sold.
    pub units: u64,
    /// The key that recorded it, if any.
    pub recorded_by: Option<KeyName>,
    /// Whether it was voided (then it counts in no figure but the voids).
    pub voided: bool,
}

/// One refund, as the day's report reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundRecord {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// What it paid back.
    pub amount: Money,
}

/// The purchases made under a filter (voided ones included) and the refunds made under it, each
/// in the order of its instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalesRecords {
    /// The purchases.
    pub sales: Vec<SaleRecord>,
    /// The refunds.
    pub refunds: Vec<RefundRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn bins_fit_every_edge() {
        let whole = [at("2025-05-01T22:00:00Z"), at("2025-05-02T03:00:00Z")];
        assert_eq!(BinWidth::fitting(whole), BinWidth::HOUR);
        let kolkata = [at("2025-04-30T18:30:00Z"), at("2025-05-01T18:30:00Z")];
        assert_eq!(BinWidth::fitting(kolkata).seconds(), 1800);
        let kathmandu = [at("2025-04-30T18:15:00Z"), at("2025-04-30T19:15:00Z")];
        assert_eq!(BinWidth::fitting(kathmandu).seconds(), 900);
        let odd = [at("2025-05-01T04:07:00Z")];
        assert_eq!(BinWidth::fitting(odd).seconds(), 60);
        assert_eq!(
            BinWidth::fitting(kathmandu).floor(at("2025-04-30T18:29:59Z")),
            at("2025-04-30T18:15:00Z")
        );
        assert_eq!(
            BinWidth::HOUR.floor(at("1969-12-31T23:30:00Z")),
            at("1969-12-31T23:00:00Z")
        );
    }
}
