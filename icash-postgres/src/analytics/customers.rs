//! How many distinct customers a filter admits, and the customers with the most purchases.

use sqlx::FromRow;
use uuid::Uuid;

use super::shape::ByShape;

/// How many distinct customers made the purchases the filter admits (one column): over the
/// whole history or a branch's, from the counts of customers kept per number of purchases or
/// per branch; over a period, counted from the purchases (DISTINCT in a subquery may hash;
/// count(DISTINCT) always sorts).
pub(super) const UNIQUE_CUSTOMERS: ByShape = ByShape {
    whole_history: include_str!("sql/unique_customers/whole_history.sql"),
    branch_history: include_str!("sql/unique_customers/branch_history.sql"),
    period_all_branches: include_str!("sql/unique_customers/period_all_branches.sql"),
    period_one_branch: include_str!("sql/unique_customers/period_one_branch.sql"),
};

/// The customers with the most purchases, after the cursor `$1`, `$2`, at most `$3` of them,
/// in order straight from their index.
pub(super) const TOP_CUSTOMERS: &str = include_str!("sql/top_customers.sql");

/// A row of [`TOP_CUSTOMERS`].
#[derive(FromRow)]
pub(super) struct CustomerRow {
    pub(super) customer_id: Uuid,
    pub(super) purchase_count: i64,
}
