//! The dashboard: the statistics, the first loyal page and the product sales, in one statement.

use chrono::{DateTime, Utc};
use icash_core::Result;
use icash_core::analytics::{LoyalCustomers, ProductSales};
use rust_decimal::Decimal;
use sqlx::FromRow;
use uuid::Uuid;

use super::count;
use super::loyal::ActivityRow;
use super::products::SalesRow;
use super::shape::ByShape;
use super::statistics::StatisticsColumns;

/// The dashboard in one row ([`DashboardRow`]): the
/// [`STATISTICS`](super::statistics::STATISTICS), the
/// [`LOYAL_CUSTOMERS`](super::loyal::LOYAL_CUSTOMERS) page and count, and the
/// [`PRODUCT_UNITS`](super::products::PRODUCT_UNITS), each of the same shape and each list as
/// arrays (the loyal page's in its order, without the row that only carries the count).
/// Parameters: the filter, then the loyal page's as in `LOYAL_CUSTOMERS`.
pub(super) const DASHBOARD: ByShape = ByShape {
    whole_history: include_str!("sql/dashboard/whole_history.sql"),
    branch_history: include_str!("sql/dashboard/branch_history.sql"),
    period_all_branches: include_str!("sql/dashboard/period_all_branches.sql"),
    period_one_branch: include_str!("sql/dashboard/period_one_branch.sql"),
};

/// The loyal customers' columns of [`DASHBOARD`].
#[derive(FromRow)]
pub(super) struct LoyalColumns {
    loyal_count: i64,
    loyal_ids: Vec<Uuid>,
    loyal_purchases: Vec<i64>,
    loyal_spent: Vec<Decimal>,
    loyal_first: Vec<DateTime<Utc>>,
    loyal_last: Vec<DateTime<Utc>>,
}

impl LoyalColumns {
    /// The loyal page and count, in the domain's types.
    pub(super) fn loyal_customers(self) -> Result<LoyalCustomers> {
        let customers = self
            .loyal_ids
            .into_iter()
            .zip(self.loyal_purchases)
            .zip(self.loyal_spent)
            .zip(self.loyal_first.into_iter().zip(self.loyal_last))
            .map(
                |(((customer_id, purchase_count), total_spent), (first, last))| {
                    ActivityRow {
                        customer_id,
                        purchase_count,
                        total_spent,
                        first_purchase: first,
                        last_purchase: last,
                    }
                    .entry()
                },
            )
            .collect::<Result<_>>()?;
        Ok(LoyalCustomers {
            count: count(self.loyal_count),
            customers,
        })
    }
}

/// The product units' columns of [`DASHBOARD`].
#[derive(FromRow)]
pub(super) struct UnitsColumns {
    product_ids: Vec<i32>,
    product_names: Vec<String>,
    product_units: Vec<i64>,
    product_returns: Vec<i64>,
}

impl UnitsColumns {
    /// The product sales, in the domain's types.
    pub(super) fn product_sales(self) -> Result<Vec<ProductSales>> {
        self.product_ids
            .into_iter()
            .zip(self.product_names)
            .zip(self.product_units.into_iter().zip(self.product_returns))
            .map(|((product_id, name), (units_sold, units_returned))| {
                SalesRow {
                    product_id,
                    name,
                    units_sold,
                    units_returned,
                }
                .sales()
            })
            .collect()
    }
}

/// The row of [`DASHBOARD`].
#[derive(FromRow)]
pub(super) struct DashboardRow {
    #[sqlx(flatten)]
    pub(super) statistics: StatisticsColumns,
    #[sqlx(flatten)]
    pub(super) loyal: LoyalColumns,
    #[sqlx(flatten)]
    pub(super) units: UnitsColumns,
}
