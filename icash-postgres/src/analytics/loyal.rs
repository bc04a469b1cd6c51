//! The loyal customers: a page of them and how many there are, in one statement, or, under a
//! filter, from the customers grouped by their purchases with what they spent
//! ([`loyal_from_ranking`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use icash_core::analytics::{CustomerActivity, LoyalCustomers, LoyalQuery};
use icash_core::{CustomerId, Money, Result};
use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres};
use uuid::Uuid;

use super::count;
use super::shape::{ByShape, bind_filter};
use crate::customer_sets::{Ranking, Seen};

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

/// The first and last purchase not voided under the filter of each customer numbered `$4` (an
/// array), with their id: two probes of the index of a customer's purchases each, whatever
/// the period's length (how many purchases they made there and what they spent come from the
/// customer sets).
const CANDIDATES: &str = include_str!("sql/loyal_customers/candidates.sql");

/// The most customers [`loyal_from_ranking`] reads the first and last purchases of for one
/// page: past it (a page in a run of thousands of customers who spent the same to the cent)
/// the statement that counts from the purchases costs less.
const CANDIDATES_MAX: usize = 10_000;

/// The loyal page and count under `query`'s filter from `ranking`, its customers grouped by
/// their purchases under it with what they spent
/// ([`customer_sets::ranking`](crate::customer_sets::ranking)): the count from the groups'
/// sizes; the page from the [`candidates`], with their first and last purchases ([`seen`]),
/// put in order here. `None` when the page would read more than [`CANDIDATES_MAX`] customers,
/// or the list has no limit. `conn` must read the snapshot `ranking` came from.
pub(super) async fn loyal_from_ranking(
    conn: &mut PgConnection,
    query: &LoyalQuery,
    ranking: &Ranking,
) -> std::result::Result<Option<LoyalCustomers>, sqlx::Error> {
    let Some(limit) = query.limit.map(|limit| limit as usize) else {
        return Ok(None);
    };
    let Some(candidates) = candidates(query, ranking, limit) else {
        return Ok(None);
    };
    let Some(seen) = seen(conn, query, ranking, candidates.keys().copied()).await? else {
        return Ok(None);
    };
    let mut page: Vec<CustomerActivity> = seen
        .into_iter()
        .map(|(number, found)| {
            let (count, spent) = candidates[&number];
            CustomerActivity {
                customer: CustomerId::from_uuid(found.id),
                purchase_count: u64::from(count),
                total_spent: Money::from_cents(spent),
                first_purchase: found.first,
                last_purchase: found.last,
            }
        })
        .filter(|entry| query.after.is_none_or(|after| after.precedes(entry)))
        .collect();
    page.sort_by(CustomerActivity::loyal_order);
    page.truncate(limit);
    Ok(Some(LoyalCustomers {
        count: ranking.at_least(u64::from(query.min_purchases)),
        customers: page,
    }))
}

/// The customers a page of `limit` after `query`'s cursor is made of, each with their purchases
/// and cents: the leaders ([`Ranking::leaders`]) of the groups at or below the cursor's count,
/// from the first, until they surely fill the page (a group's leaders all come after the
/// cursor, but for those who spent exactly what the cursor's customer did, whose ids decide).
/// `None` past [`CANDIDATES_MAX`].
fn candidates(
    query: &LoyalQuery,
    ranking: &Ranking,
    limit: usize,
) -> Option<HashMap<u32, (u32, u64)>> {
    let floor = u64::from(query.min_purchases);
    let ceiling = query.after.map_or(u64::MAX, |after| after.purchase_count);
    let mut candidates = HashMap::new();
    let mut sure = 0;
    for (count, group) in ranking.within(floor..=ceiling) {
        if sure >= limit {
            break;
        }
        let at_most = query
            .after
            .filter(|after| after.purchase_count == u64::from(count))
            .map(|after| u64::try_from(after.total_spent.cents()).unwrap_or(0));
        let leaders = ranking.leaders(group, at_most, (limit - sure) as u64);
        if candidates.len() + leaders.len() > CANDIDATES_MAX {
            return None;
        }
        sure += leaders
            .iter()
            .filter(|(_, spent)| Some(*spent) != at_most)
            .count();
        candidates.extend(
            leaders
                .into_iter()
                .map(|(number, spent)| (number, (count, spent))),
        );
    }
    Some(candidates)
}

/// The id and first and last purchase under `query`'s filter of each of `customers`: what
/// earlier pages of `ranking` read ([`Ranking::seen`]), and the others read now and remembered.
/// `None` when a customer has no purchase there after all (the sets and the purchases would
/// disagree: the caller counts from the purchases).
async fn seen(
    conn: &mut PgConnection,
    query: &LoyalQuery,
    ranking: &Ranking,
    customers: impl Iterator<Item = u32> + Clone,
) -> std::result::Result<Option<HashMap<u32, Seen>>, sqlx::Error> {
    let mut seen = ranking.seen(customers.clone());
    let numbers: Vec<i32> = customers
        .filter(|number| !seen.contains_key(number))
        .map(|number| i32::try_from(number).expect("customer numbers are integers"))
        .collect();
    if numbers.is_empty() {
        return Ok(Some(seen));
    }
    let rows: Vec<CandidateRow> = bind_filter(sqlx::query_as(CANDIDATES), &query.filter)
        .bind(&numbers)
        .fetch_all(&mut *conn)
        .await?;
    if rows.len() != numbers.len() {
        return Ok(None);
    }
    let read: Vec<(u32, Seen)> = rows.into_iter().map(CandidateRow::seen).collect();
    ranking.remember(read.iter().copied());
    seen.extend(read);
    Ok(Some(seen))
}

/// A row of [`CANDIDATES`].
#[derive(FromRow)]
struct CandidateRow {
    number: i32,
    customer_id: Uuid,
    first_purchase: DateTime<Utc>,
    last_purchase: DateTime<Utc>,
}

impl CandidateRow {
    /// The customer's number, and what the row says of them.
    fn seen(self) -> (u32, Seen) {
        let number = u32::try_from(self.number).expect("customer numbers are positive");
        let seen = Seen {
            id: self.customer_id,
            first: self.first_purchase,
            last: self.last_purchase,
        };
        (number, seen)
    }
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
