//! The loyal customers: a page of them and how many there are, in one statement.

use chrono::{DateTime, Utc};
use icash_core::analytics::{CustomerActivity, LoyalQuery};
use icash_core::{CustomerId, Money, Result};
use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, Postgres};
use uuid::Uuid;

use super::count;
use super::shape::{ByShape, bind_filter};

/// The loyal page and the count of all loyal customers, in one statement: one row per entry of
/// the page ([`LoyalRow`]), each carrying the count; when the page is empty, a single row with
/// the count and no entry. Over the whole history, from the per-customer counters, the page in
/// order straight from their index; under any other filter, counted from the purchases it
/// admits (one text serves a branch's history and a branch's period: an open period is an
/// infinite range). Parameters: the filter, `$4` the threshold, `$5`..`$7` the cursor (the entry
/// the page comes after), `$8` the limit (none when null).
pub(super) const LOYAL_CUSTOMERS: ByShape = ByShape {
    whole_history: include_str!("sql/loyal_customers/whole_history.sql"),
    branch_history: include_str!("sql/loyal_customers/one_branch.sql"),
    period_all_branches: include_str!("sql/loyal_customers/period_all_branches.sql"),
    period_one_branch: include_str!("sql/loyal_customers/one_branch.sql"),
};

/// How many customers are loyal over the whole history, the count of
/// [`LOYAL_CUSTOMERS`]`.whole_history` alone, for a streamed list. Parameter: `$4` the threshold.
pub(super) const LOYAL_COUNT_WHOLE_HISTORY: &str =
    include_str!("sql/loyal_customers/whole_history_count.sql");

/// The page of [`LOYAL_CUSTOMERS`]`.whole_history` alone ([`ActivityRow`]), for a streamed list:
/// its rows come in the index's order as the scan reads them, where the whole statement's final
/// sort would first read them all. Parameters as [`LOYAL_CUSTOMERS`]'s.
pub(super) const LOYAL_PAGE_WHOLE_HISTORY: &str =
    include_str!("sql/loyal_customers/whole_history_page.sql");

/// A row of [`LOYAL_CUSTOMERS`].
#[derive(FromRow)]
pub(super) struct LoyalRow {
    pub(super) loyal_count: i64,
    customer_id: Option<Uuid>,
    purchase_count: Option<i64>,
    total_spent: Option<Decimal>,
    first_purchase: Option<DateTime<Utc>>,
    last_purchase: Option<DateTime<Utc>>,
}

impl LoyalRow {
    /// The page's entry this row carries; `None` for the row that only carries the count.
    pub(super) fn entry(self) -> Result<Option<CustomerActivity>> {
        let (Some(customer_id), Some(purchase_count), Some(total_spent), Some(first), Some(last)) = (
            self.customer_id,
            self.purchase_count,
            self.total_spent,
            self.first_purchase,
            self.last_purchase,
        ) else {
            return Ok(None);
        };
        ActivityRow {
            customer_id,
            purchase_count,
            total_spent,
            first_purchase: first,
            last_purchase: last,
        }
        .entry()
        .map(Some)
    }
}

/// One entry of the loyal list.
#[derive(FromRow)]
pub(super) struct ActivityRow {
    pub(super) customer_id: Uuid,
    pub(super) purchase_count: i64,
    pub(super) total_spent: Decimal,
    pub(super) first_purchase: DateTime<Utc>,
    pub(super) last_purchase: DateTime<Utc>,
}

impl ActivityRow {
    /// The entry, in the domain's types.
    pub(super) fn entry(self) -> Result<CustomerActivity> {
        Ok(CustomerActivity {
            customer: CustomerId::from_uuid(self.customer_id),
            purchase_count: count(self.purchase_count),
            total_spent: Money::new(self.total_spent)?,
            first_purchase: self.first_purchase,
            last_purchase: self.last_purchase,
        })
    }
}

/// Binds the threshold, the cursor and the limit of a loyal list as `$4` to `$8`, after the
/// filter.
pub(super) fn bind_loyal_page<'q, O>(
    statement: QueryAs<'q, Postgres, O, PgArguments>,
    query: &LoyalQuery,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let after = query.after;
    bind_filter(statement, &query.filter)
        .bind(i64::from(query.min_purchases))
        .bind(after.map(|a| a.purchase_count as i64))
        .bind(after.map(|a| a.total_spent.amount()))
        .bind(after.map(|a| a.customer.uuid()))
        .bind(query.limit.map(i64::from))
}

/// [`LOYAL_CUSTOMERS`] for `query`, bound.
pub(super) fn loyal_statement(
    query: &LoyalQuery,
) -> QueryAs<'static, Postgres, LoyalRow, PgArguments> {
    bind_loyal_page(sqlx::query_as(LOYAL_CUSTOMERS.text(&query.filter)), query)
}
