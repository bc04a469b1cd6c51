//! The four shapes of a filter, and a statement's text for each.
//!
//! A statement that reads purchases under a filter has one text per shape, so that the plan
//! PostgreSQL caches for each prepared statement suits its shape: a generic plan of
//! `$1 IS NULL OR p.branch_id = $1` could not use the index on `(branch_id, purchased_at)`, and
//! the whole history, or a branch's, is read from aggregates that a period cannot use.
//!
//! Every text takes the filter as parameters `$1` (branch), `$2` (from, inclusive) and `$3` (to,
//! exclusive), whether it reads them or not. A text over a period reads the purchases aliased
//! `p` under the same condition, as [`Filter::matches`] writes it in Rust:
//! - one branch: `p.branch_id = $1`, one range of the index on `(branch_id, purchased_at)`;
//! - every branch: `p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])`, that index
//!   read one branch after the other, the branches asked once in a subquery rather than in a
//!   condition that a sequential scan would call for every row;
//! - and the period, `p.purchased_at >= coalesce($2::timestamptz, '-infinity') AND
//!   p.purchased_at < coalesce($3::timestamptz, 'infinity')`: an open end is an infinite bound,
//!   so that the period is always an index range.

use icash_core::{BranchId, Filter};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;

/// A statement's text for each shape of filter.
pub(super) struct ByShape {
    /// No branch, no period: every purchase ever made.
    pub(super) whole_history: &'static str,
    /// One branch, no period: the branch's purchases ever made.
    pub(super) branch_history: &'static str,
    /// A period (one end may be open), every branch.
    pub(super) period_all_branches: &'static str,
    /// A period (one end may be open), one branch.
    pub(super) period_one_branch: &'static str,
}

impl ByShape {
    /// The text for `filter`'s shape.
    pub(super) fn text(&self, filter: &Filter) -> &'static str {
        match (filter.branch(), has_period(filter)) {
            (None, false) => self.whole_history,
            (Some(_), false) => self.branch_history,
            (None, true) => self.period_all_branches,
            (Some(_), true) => self.period_one_branch,
        }
    }
}

/// Whether `filter` has a period (one end may be open).
pub(super) fn has_period(filter: &Filter) -> bool {
    filter.from().is_some() || filter.to().is_some()
}

/// Binds a filter as `$1`, `$2` and `$3`.
pub(super) fn bind_filter<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    filter: &Filter,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(filter.branch().map(BranchId::get))
        .bind(filter.from())
        .bind(filter.to())
}
