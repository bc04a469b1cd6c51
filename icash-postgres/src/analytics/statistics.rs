//! The statistics: distinct customers, and purchases and revenue per branch.

use icash_core::analytics::{BranchStatistics, RefundTotals, Statistics};
use icash_core::{BranchId, Money, Result};
use rust_decimal::Decimal;
use sqlx::FromRow;

use super::count;
use super::shape::ByShape;
use crate::customer_sets::SetColumns;

/// The statistics in one row ([`StatisticsColumns`]): the distinct customers (as
/// [`UNIQUE_CUSTOMERS`](super::customers::UNIQUE_CUSTOMERS) counts them), and per branch the
/// filter admits, in id order, with zeros where nothing was sold, its purchases, revenue and
/// refunds as arrays: `icash_branch_sales` reads the totals for the whole history, and months,
/// days, hours and at most two partial hours of purchases (less the voided ones) for a period
/// (see the `period_functions` and `refunds_and_voids` migrations); `icash_branch_refunds`
/// reads the refunds' totals, or the refunds made in the period. Parameters: the filter. Over a
/// period the distinct customers are left out (NULL), and the row also carries what the
/// customer sets say of the period ([`PeriodStatisticsRow`]): `$4` the bounds of its cover
/// ([`customer_sets::bounds`](crate::customer_sets::bounds)).
pub(super) const STATISTICS: ByShape = ByShape {
    whole_history: include_str!("sql/statistics/whole_history.sql"),
    branch_history: include_str!("sql/statistics/branch_history.sql"),
    // One text serves every branch and one: the branch condition is on `branches`, a few rows.
    period_all_branches: include_str!("sql/statistics/period.sql"),
    period_one_branch: include_str!("sql/statistics/period.sql"),
};

/// The row of [`STATISTICS`] over the whole history or a branch's, and the statistics part of
/// the other rows that carry them.
#[derive(FromRow)]
pub(super) struct StatisticsColumns {
    /// `None` where the server counts them (over a period).
    pub(super) unique_customers: Option<i64>,
    branch_ids: Vec<i32>,
    branch_purchases: Vec<i64>,
    branch_revenues: Vec<Decimal>,
    branch_refunds: Vec<i64>,
    branch_refund_amounts: Vec<Decimal>,
}

impl StatisticsColumns {
    /// The statistics, in the domain's types.
    pub(super) fn statistics(self) -> Result<Statistics> {
        let refunds = self
            .branch_refunds
            .into_iter()
            .zip(self.branch_refund_amounts);
        let by_branch = self
            .branch_ids
            .into_iter()
            .zip(self.branch_purchases)
            .zip(self.branch_revenues)
            .zip(refunds)
            .map(|(((branch, purchases), revenue), (refunds, amount))| {
                Ok(BranchStatistics {
                    branch: BranchId::new(branch)?,
                    purchase_count: count(purchases),
                    revenue: Money::new(revenue)?,
                    refunds: RefundTotals {
                        count: count(refunds),
                        amount: Money::new(amount)?,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let unique = self
            .unique_customers
            .expect("a period's distinct customers are counted before its statistics are read");
        Ok(Statistics::from_branches(count(unique), by_branch))
    }
}

/// The row of [`STATISTICS`] over a period: the statistics, and what the customer sets say of
/// the period, for the server to count its distinct customers.
#[derive(FromRow)]
pub(super) struct PeriodStatisticsRow {
    #[sqlx(flatten)]
    pub(super) statistics: StatisticsColumns,
    #[sqlx(flatten)]
    pub(super) sets: SetColumns,
}
