//! The loyal customers: a page of them and how many there are, in one statement, or, under a
//! filter, from the customers grouped by their purchases ([`loyal_from_ranking`]).

use chrono::{DateTime, Utc};
use icash_core::analytics::{CustomerActivity, LoyalCustomers, LoyalQuery};
use icash_core::{CustomerId, Money, Result};
use roaring::RoaringBitmap;
use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres};
use uuid::Uuid;

use super::count;
use super::shape::{ByShape, bind_filter};
use crate::customer_sets::Ranking;

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

/// The activity of the customers numbered `$4` (an array) under the filter: one row for each
/// with a purchase not voided there. Each customer's purchases are one range of their index,
/// read without looking for voids unless the customer has one there (their voids are a range
/// of the voids' index by customer, nearly always empty).
const CANDIDATES: &str = include_str!("sql/loyal_customers/candidates.sql");

/// The most customers [`loyal_from_counts`] reads the purchases of for one page. Past it (a
/// page deep in a long run of customers with equal counts, or a list without a limit) the
/// statement that counts from the purchases costs less.
const CANDIDATES_MAX: u64 = 10_000;

/// [`loyal_from_counts`] reads the purchases of the customers it ranks first only while they
/// are at most this share of the period's purchases (as the counts tell): past it (a page of
/// customers tied at one purchase in a day), reading the period's purchases costs less.
const CANDIDATES_SHARE: u64 = 4;

/// The loyal page and count under `query`'s filter from `ranking`, its customers grouped by
/// their purchases under it ([`customer_sets::ranking`](crate::customer_sets::ranking)): the
/// count from the groups' sizes; the page from the purchases of the customers of the first
/// groups, read by customer and put in order here. `None` when the page would read more than
/// [`CANDIDATES_MAX`] customers or a share of the period's purchases over
/// [`CANDIDATES_SHARE`], or has no limit. `conn` must read the snapshot `ranking` came from.
pub(super) async fn loyal_from_ranking(
    conn: &mut PgConnection,
    query: &LoyalQuery,
    ranking: &Ranking,
) -> std::result::Result<Option<LoyalCustomers>, sqlx::Error> {
    let floor = u64::from(query.min_purchases);
    let Some(limit) = query.limit.map(|limit| limit as usize) else {
        return Ok(None);
    };
    // The page comes after the cursor: its customers made no more purchases than the cursor's.
    let ceiling = query.after.map_or(u64::MAX, |after| after.purchase_count);
    let mut groups = ranking.within(floor..=ceiling).peekable();
    let total = ranking.total();
    let mut page: Vec<CustomerActivity> = Vec::new();
    while page.len() < limit && groups.peek().is_some() {
        let wanted = limit - page.len();
        // The customers with the most purchases left, ties included: the page's next entries
        // are among them, ordered by what they spent.
        let mut candidates = RoaringBitmap::new();
        let mut purchases = 0;
        while candidates.len() < wanted as u64
            && let Some((count, group)) = groups.next()
        {
            candidates |= group;
            purchases += u64::from(count) * group.len();
        }
        if candidates.len() > CANDIDATES_MAX || purchases * CANDIDATES_SHARE > total {
            return Ok(None);
        }
        let numbers: Vec<i32> = candidates
            .iter()
            .map(|number| i32::try_from(number).expect("customer numbers are integers"))
            .collect();
        let rows: Vec<ActivityRow> = bind_filter(sqlx::query_as(CANDIDATES), &query.filter)
            .bind(numbers)
            .fetch_all(&mut *conn)
            .await?;
        let mut entries = rows
            .into_iter()
            .map(ActivityRow::decoded)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        entries.retain(|entry| query.after.is_none_or(|after| after.precedes(entry)));
        entries.sort_by(CustomerActivity::loyal_order);
        page.extend(entries.into_iter().take(wanted));
    }
    Ok(Some(LoyalCustomers {
        count: ranking.at_least(floor),
        customers: page,
    }))
}

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
    pub(super) fn activity(self) -> Option<ActivityRow> {
        Some(ActivityRow {
            customer_id: self.customer_id?,
            purchase_count: self.purchase_count?,
            total_spent: self.total_spent?,
            first_purchase: self.first_purchase?,
            last_purchase: self.last_purchase?,
        })
    }

    /// The page's entry this row carries, in the domain's types.
    pub(super) fn entry(self) -> Result<Option<CustomerActivity>> {
        self.activity().map(ActivityRow::entry).transpose()
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
    /// The entry, with a value the domain refuses reported as a column that cannot be read
    /// (for work inside a read, whose errors are sqlx's).
    pub(super) fn decoded(self) -> std::result::Result<CustomerActivity, sqlx::Error> {
        self.entry()
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))
    }

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
