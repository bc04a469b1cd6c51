//! The analytics on PostgreSQL, read from the aggregates that triggers maintain with every
//! purchase (see the `aggregates` migration).
//!
//! - Over the whole history, or one branch: a few hundred aggregate rows (a branch's distinct
//!   customers: its shards in `branch_customers`).
//! - Over a period: monthly, daily and hourly aggregates, and the purchases of at most half an
//!   hour at each edge. Each edge is cut at the nearest UTC month, day and hour boundary, inward
//!   or outward, and what an outward cut takes in beyond the period is subtracted (the SQL
//!   functions `icash_period`, `icash_branch_sales` and `icash_product_units`, last written by
//!   the `branch_period_index` migration).
//! - Distinct customers under a filter cannot be added up across days: they are counted from
//!   the purchases with an index-only scan of the period, one range of the
//!   `(branch_id, purchased_at)` index per branch the filter covers.
//!
//! Every statement takes the filter as parameters `$1` (branch), `$2` (from, inclusive) and `$3`
//! (to, exclusive), whether it reads them or not, so that the filter's meaning is written once in
//! SQL (the [`filtered!`] condition and `icash_period`), as
//! [`Filter::matches`](icash_core::Filter::matches) writes it in Rust. An analytic made of
//! several parts (the statistics, the dashboard) is one statement, which PostgreSQL reads in one
//! snapshot: a purchase committed meanwhile counts in every part or in none, and the parts cost
//! one round trip.

use std::ops::DerefMut;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt, future};
use icash_core::analytics::{
    BranchStatistics, CustomerActivity, CustomerPurchases, Dashboard, LoyalCustomers, LoyalQuery,
    LoyalStream, ProductSales, Statistics, TopCustomersQuery,
};
use icash_core::{Analytics, BranchId, CustomerId, Filter, Money, ProductId, Result};
use rust_decimal::Decimal;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::store::PgStore;

/// The condition that a purchase aliased `p` is in the period `$2` (inclusive) to `$3`
/// (exclusive). An open end is an infinite bound, so that the period is always an index range.
macro_rules! period {
    () => {
        " p.purchased_at >= coalesce($2::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($3::timestamptz, 'infinity') "
    };
}

/// A SQL text with the filter's condition on the purchases table aliased `p` between `$before`
/// and `$after`, for a filter of the shape named first (see [`ByShape`]): with a branch, one
/// range of the index on `(branch_id, purchased_at)`; without one, that index read one branch
/// after the other (see the `branch_period_index` migration), the branches asked once in a
/// subquery rather than in a condition that a sequential scan would call for every row.
macro_rules! filtered {
    (any_branch, $before:literal, $after:literal) => {
        concat!(
            $before,
            " $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[]) AND",
            period!(),
            $after
        )
    };
    (branch, $before:literal, $after:literal) => {
        filtered!(one_branch, $before, $after)
    };
    (one_branch, $before:literal, $after:literal) => {
        concat!($before, " p.branch_id = $1 AND", period!(), $after)
    };
}

/// A statement's text for each shape of filter.
///
/// The texts differ so that the plan PostgreSQL caches for each prepared statement suits its
/// shape: a generic plan of `$1 IS NULL OR p.branch_id = $1` could not use the index on
/// `(branch_id, purchased_at)`, and the whole history, or a branch's, is read from aggregates
/// that a period cannot use.
struct ByShape {
    /// Every purchase.
    all: &'static str,
    /// One branch's purchases, over its whole history.
    branch: &'static str,
    /// A period, every branch.
    any_branch: &'static str,
    /// A period, one branch.
    one_branch: &'static str,
}

impl ByShape {
    /// The text for `filter`'s shape.
    fn text(&self, filter: &Filter) -> &'static str {
        let period = filter.from().is_some() || filter.to().is_some();
        match (filter.branch(), period) {
            (None, false) => self.all,
            (Some(_), false) => self.branch,
            (None, true) => self.any_branch,
            (Some(_), true) => self.one_branch,
        }
    }
}

/// The [`ByShape`] texts of a statement macro that takes the shape as its argument.
macro_rules! by_shape {
    ($statement:ident) => {
        ByShape {
            all: $statement!(all),
            branch: $statement!(branch),
            any_branch: $statement!(any_branch),
            one_branch: $statement!(one_branch),
        }
    };
}

/// Binds a filter as `$1`, `$2` and `$3`.
fn bind_filter<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    filter: &Filter,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(filter.branch().map(BranchId::get))
        .bind(filter.from())
        .bind(filter.to())
}

/// Converts a count from the database, which is never negative.
fn count(value: i64) -> u64 {
    u64::try_from(value).expect("counts are never negative")
}

/// How many distinct customers made the purchases the filter admits: over the whole history or
/// a branch's, from the counts of customers kept per number of purchases or per branch; over a
/// period, counted from the purchases (DISTINCT in a subquery may hash; count(DISTINCT) always
/// sorts).
macro_rules! unique_customers {
    (all) => {
        "SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0"
    };
    (branch) => {
        "SELECT coalesce(sum(customers), 0)::bigint FROM branch_customers WHERE branch_id = $1"
    };
    ($period:ident) => {
        filtered!(
            $period,
            "SELECT count(*) FROM (SELECT DISTINCT p.customer_id FROM purchases p WHERE",
            ") AS customers"
        )
    };
}

/// [`unique_customers!`] for each shape of filter.
const UNIQUE_CUSTOMERS: ByShape = by_shape!(unique_customers);

/// The loyal page over the whole history, from the maintained per-customer counters, in order
/// straight from their index. Parameters: `$4` the threshold, `$5`..`$7` the cursor, `$8` the
/// limit (none when null).
macro_rules! loyal_all_page {
    () => {
        "SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
         FROM customers
         WHERE purchases >= $4
           AND ($5::bigint IS NULL
                OR purchases < $5
                OR (purchases = $5 AND (spent < $6 OR (spent = $6 AND id > $7))))
         ORDER BY purchases DESC, spent DESC, id
         LIMIT $8"
    };
}

/// How many customers are loyal over the whole history. Parameter: `$4` the threshold.
macro_rules! loyal_all_count {
    () => {
        "SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= $4"
    };
}

/// The loyal page and the count of all loyal customers, in one statement: one row per entry of
/// the page, each carrying the count; when the page is empty, a single row with the count and
/// no entry. Over the whole history, from the per-customer counters; under any other filter,
/// counted from the purchases it admits. Parameters: the filter, `$4` the threshold, `$5`..`$7`
/// the cursor (the entry the page comes after), `$8` the limit (none when null).
macro_rules! loyal_customers {
    (all) => {
        concat!(
            "WITH page AS (",
            loyal_all_page!(),
            ") SELECT (",
            loyal_all_count!(),
            ") AS loyal_count, page.*
             FROM (SELECT) AS one LEFT JOIN page ON true
             ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id"
        )
    };
    ($filtered:ident) => {
        filtered!(
            $filtered,
            "WITH activity AS (
                 SELECT p.customer_id, count(*) AS purchase_count, sum(p.total) AS total_spent,
                        min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
                 FROM purchases p
                 WHERE",
            "GROUP BY p.customer_id
                 HAVING count(*) >= $4
             ),
             page AS (
                 SELECT * FROM activity
                 WHERE $5::bigint IS NULL
                    OR purchase_count < $5
                    OR (purchase_count = $5 AND (total_spent < $6 OR (total_spent = $6 AND customer_id > $7)))
                 ORDER BY purchase_count DESC, total_spent DESC, customer_id
                 LIMIT $8
             )
             SELECT (SELECT count(*) FROM activity) AS loyal_count, page.*
             FROM (SELECT) AS one LEFT JOIN page ON true
             ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id"
        )
    };
}

/// [`loyal_customers!`] for each shape of filter.
const LOYAL_CUSTOMERS: ByShape = by_shape!(loyal_customers);

/// [`loyal_customers!`]'s count alone over the whole history, for a streamed list.
const LOYAL_ALL_COUNT: &str = loyal_all_count!();

/// [`loyal_customers!`]'s page alone over the whole history, for a streamed list: its rows come
/// in the index's order as the scan reads them, where the whole statement's final sort would
/// first read them all.
const LOYAL_ALL_PAGE: &str = loyal_all_page!();

/// Per branch the filter admits, in id order, with zeros where nothing was sold:
/// `icash_branch_sales` reads the totals for the whole history, and months, days, hours and at
/// most two partial hours of purchases for a period.
macro_rules! branch_sales {
    () => {
        "SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
                coalesce(s.revenue, 0) AS revenue
         FROM branches b LEFT JOIN icash_branch_sales($1, $2, $3) s ON s.branch_id = b.id
         WHERE $1::integer IS NULL OR b.id = $1"
    };
}

/// Units per product that sold any, from `icash_product_units` (read as `icash_branch_sales`).
macro_rules! product_units {
    () => {
        "SELECT u.product_id, pr.name, u.units AS units_sold
         FROM icash_product_units($1, $2, $3) u JOIN products pr ON pr.id = u.product_id"
    };
}

/// [`product_units!`].
const PRODUCT_UNITS: &str = product_units!();

/// The statistics in one row ([`StatisticsColumns`]): the distinct customers, and the
/// [`branch_sales!`] as arrays in branch order. Parameters: the filter.
macro_rules! statistics {
    ($shape:ident) => {
        concat!(
            "SELECT (",
            unique_customers!($shape),
            ") AS unique_customers,
                coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
                coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
                coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues
             FROM (",
            branch_sales!(),
            ") AS s"
        )
    };
}

/// [`statistics!`] for each shape of filter.
const STATISTICS: ByShape = by_shape!(statistics);

/// One column of a [`loyal_customers!`] page aliased `l`, as an array `$name` in the page's
/// order, without the row that only carries the count.
macro_rules! loyal_array {
    ($column:literal, $name:literal) => {
        concat!(
            "coalesce(array_agg(l.",
            $column,
            " ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS ",
            $name
        )
    };
}

/// The dashboard in one row ([`DashboardRow`]): the [`statistics!`], the
/// [`loyal_customers!`] page and count, and the [`product_units!`], each list as arrays.
/// Parameters: the filter, then the loyal page's as in [`loyal_customers!`].
macro_rules! dashboard {
    ($shape:ident) => {
        concat!(
            "SELECT statistics.*, loyal.*, units.*
             FROM (",
            statistics!($shape),
            ") AS statistics,
             (SELECT coalesce(max(l.loyal_count), 0) AS loyal_count, ",
            loyal_array!("customer_id", "loyal_ids"),
            ", ",
            loyal_array!("purchase_count", "loyal_purchases"),
            ", ",
            loyal_array!("total_spent", "loyal_spent"),
            ", ",
            loyal_array!("first_purchase", "loyal_first"),
            ", ",
            loyal_array!("last_purchase", "loyal_last"),
            "
              FROM (",
            loyal_customers!($shape),
            ") AS l) AS loyal,
             (SELECT coalesce(array_agg(u.product_id), '{}') AS product_ids,
                     coalesce(array_agg(u.name), '{}') AS product_names,
                     coalesce(array_agg(u.units_sold), '{}') AS product_units
              FROM (",
            product_units!(),
            ") AS u) AS units"
        )
    };
}

/// [`dashboard!`] for each shape of filter.
const DASHBOARD: ByShape = by_shape!(dashboard);

/// A row of [`loyal_customers!`].
#[derive(FromRow)]
struct LoyalRow {
    loyal_count: i64,
    customer_id: Option<Uuid>,
    purchase_count: Option<i64>,
    total_spent: Option<Decimal>,
    first_purchase: Option<DateTime<Utc>>,
    last_purchase: Option<DateTime<Utc>>,
}

impl LoyalRow {
    /// The page's entry this row carries; `None` for the row that only carries the count.
    fn entry(self) -> Result<Option<CustomerActivity>> {
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
struct ActivityRow {
    customer_id: Uuid,
    purchase_count: i64,
    total_spent: Decimal,
    first_purchase: DateTime<Utc>,
    last_purchase: DateTime<Utc>,
}

impl ActivityRow {
    fn entry(self) -> Result<CustomerActivity> {
        Ok(CustomerActivity {
            customer: CustomerId::from_uuid(self.customer_id),
            purchase_count: count(self.purchase_count),
            total_spent: Money::new(self.total_spent)?,
            first_purchase: self.first_purchase,
            last_purchase: self.last_purchase,
        })
    }
}

/// A row of [`product_units!`].
#[derive(FromRow)]
struct SalesRow {
    product_id: i32,
    name: String,
    units_sold: i64,
}

impl SalesRow {
    fn sales(self) -> Result<ProductSales> {
        Ok(ProductSales {
            product: ProductId::new(self.product_id)?,
            name: self.name,
            units_sold: count(self.units_sold),
        })
    }
}

/// The customers with the most purchases, after the cursor `$1`, `$2`, at most `$3` of them.
const TOP_CUSTOMERS: &str = "
    SELECT id AS customer_id, purchases AS purchase_count
    FROM customers
    WHERE purchases > 0
      AND ($1::bigint IS NULL OR purchases < $1 OR (purchases = $1 AND id > $2))
    ORDER BY purchases DESC, id
    LIMIT $3";

/// A row of [`TOP_CUSTOMERS`].
#[derive(FromRow)]
struct CustomerRow {
    customer_id: Uuid,
    purchase_count: i64,
}

/// The row of [`statistics!`].
#[derive(FromRow)]
struct StatisticsColumns {
    unique_customers: i64,
    branch_ids: Vec<i32>,
    branch_purchases: Vec<i64>,
    branch_revenues: Vec<Decimal>,
}

impl StatisticsColumns {
    fn statistics(self) -> Result<Statistics> {
        let by_branch = self
            .branch_ids
            .into_iter()
            .zip(self.branch_purchases)
            .zip(self.branch_revenues)
            .map(|((branch, purchases), revenue)| {
                Ok(BranchStatistics {
                    branch: BranchId::new(branch)?,
                    purchase_count: count(purchases),
                    revenue: Money::new(revenue)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Statistics {
            unique_customers: count(self.unique_customers),
            total_purchases: by_branch.iter().map(|b| b.purchase_count).sum(),
            total_revenue: by_branch.iter().map(|b| b.revenue).sum(),
            by_branch,
        })
    }
}

/// The loyal customers' columns of [`dashboard!`].
#[derive(FromRow)]
struct LoyalColumns {
    loyal_count: i64,
    loyal_ids: Vec<Uuid>,
    loyal_purchases: Vec<i64>,
    loyal_spent: Vec<Decimal>,
    loyal_first: Vec<DateTime<Utc>>,
    loyal_last: Vec<DateTime<Utc>>,
}

impl LoyalColumns {
    fn loyal_customers(self) -> Result<LoyalCustomers> {
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

/// The product units' columns of [`dashboard!`].
#[derive(FromRow)]
struct UnitsColumns {
    product_ids: Vec<i32>,
    product_names: Vec<String>,
    product_units: Vec<i64>,
}

impl UnitsColumns {
    fn product_sales(self) -> Result<Vec<ProductSales>> {
        self.product_ids
            .into_iter()
            .zip(self.product_names)
            .zip(self.product_units)
            .map(|((product_id, name), units_sold)| {
                SalesRow {
                    product_id,
                    name,
                    units_sold,
                }
                .sales()
            })
            .collect()
    }
}

/// The row of [`dashboard!`].
#[derive(FromRow)]
struct DashboardRow {
    #[sqlx(flatten)]
    statistics: StatisticsColumns,
    #[sqlx(flatten)]
    loyal: LoyalColumns,
    #[sqlx(flatten)]
    units: UnitsColumns,
}

/// Binds the threshold, the cursor and the limit of a loyal list as `$4` to `$8`, after the
/// filter.
fn bind_loyal_page<'q, O>(
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

/// [`loyal_customers!`] for `query`, bound.
fn loyal_statement(query: &LoyalQuery) -> QueryAs<'static, Postgres, LoyalRow, PgArguments> {
    bind_loyal_page(sqlx::query_as(LOYAL_CUSTOMERS.text(&query.filter)), query)
}

/// The rows of `statement` as PostgreSQL sends them, on a connection (or a transaction) that the
/// stream holds until it ends or is dropped.
fn owned_rows<C, O>(
    mut conn: C,
    statement: QueryAs<'static, Postgres, O, PgArguments>,
) -> BoxStream<'static, Result<O>>
where
    C: DerefMut<Target = PgConnection> + Send + 'static,
    O: for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static,
{
    Box::pin(try_stream! {
        let mut rows = statement.fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(from_sqlx)? {
            yield row;
        }
    })
}

#[async_trait]
impl Analytics for PgStore {
    async fn unique_customers(&self, filter: &Filter) -> Result<u64> {
        let (unique,): (i64,) = bind_filter(sqlx::query_as(UNIQUE_CUSTOMERS.text(filter)), filter)
            .fetch_one(&mut *self.connection().await?)
            .await
            .map_err(from_sqlx)?;
        Ok(count(unique))
    }

    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers> {
        let rows: Vec<LoyalRow> = loyal_statement(query)
            .fetch_all(&mut *self.connection().await?)
            .await
            .map_err(from_sqlx)?;
        let loyal_count = rows.first().map_or(0, |row| count(row.loyal_count));
        let mut customers = Vec::with_capacity(rows.len());
        for row in rows {
            customers.extend(row.entry()?);
        }
        Ok(LoyalCustomers {
            count: loyal_count,
            customers,
        })
    }

    async fn loyal_customers_stream(&self, query: &LoyalQuery) -> Result<LoyalStream> {
        // Each path reads its first row before returning, so that a statement that fails to
        // start is an error here, answered with a status, rather than a body cut short.
        if query.filter != Filter::ALL {
            // The filtered list is aggregated and sorted before its first row either way: its
            // one statement carries the count on every row, as for a page.
            let mut rows = owned_rows(self.connection().await?, loyal_statement(query));
            let first = rows.try_next().await?;
            let loyal_count = first.as_ref().map_or(0, |row| count(row.loyal_count));
            let customers = stream::iter(first.map(Ok))
                .chain(rows)
                .try_filter_map(|row| future::ready(row.entry()));
            return Ok(LoyalStream {
                count: loyal_count,
                customers: customers.boxed(),
            });
        }
        // The count and the list from one snapshot (read-only: ending it without a commit
        // loses nothing), the list read as the index scan goes.
        let mut snapshot = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(from_sqlx)?;
        let (loyal_count,): (i64,) = bind_filter(sqlx::query_as(LOYAL_ALL_COUNT), &query.filter)
            .bind(i64::from(query.min_purchases))
            .fetch_one(&mut *snapshot)
            .await
            .map_err(from_sqlx)?;
        let statement = bind_loyal_page(sqlx::query_as(LOYAL_ALL_PAGE), query);
        let mut rows = owned_rows::<_, ActivityRow>(snapshot, statement);
        let first = rows.try_next().await?;
        let customers = stream::iter(first.map(Ok))
            .chain(rows)
            .and_then(|row| future::ready(row.entry()));
        Ok(LoyalStream {
            count: count(loyal_count),
            customers: customers.boxed(),
        })
    }

    async fn product_sales(&self, filter: &Filter) -> Result<Vec<ProductSales>> {
        let rows: Vec<SalesRow> = bind_filter(sqlx::query_as(PRODUCT_UNITS), filter)
            .fetch_all(&mut *self.connection().await?)
            .await
            .map_err(from_sqlx)?;
        rows.into_iter().map(SalesRow::sales).collect()
    }

    async fn statistics(&self, filter: &Filter) -> Result<Statistics> {
        let row: StatisticsColumns = bind_filter(sqlx::query_as(STATISTICS.text(filter)), filter)
            .fetch_one(&mut *self.connection().await?)
            .await
            .map_err(from_sqlx)?;
        row.statistics()
    }

    async fn dashboard(&self, filter: &Filter) -> Result<Dashboard> {
        let statement = sqlx::query_as(DASHBOARD.text(filter));
        let row: DashboardRow = bind_loyal_page(statement, &Dashboard::loyal_query(filter))
            .fetch_one(&mut *self.connection().await?)
            .await
            .map_err(from_sqlx)?;
        Ok(Dashboard::from_parts(
            row.statistics.statistics()?,
            row.loyal.loyal_customers()?,
            row.units.product_sales()?,
        ))
    }

    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>> {
        let rows: Vec<CustomerRow> = sqlx::query_as(TOP_CUSTOMERS)
            .bind(query.after.map(|a| a.purchase_count as i64))
            .bind(query.after.map(|a| a.customer.uuid()))
            .bind(i64::from(query.limit))
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|row| CustomerPurchases {
                customer: CustomerId::from_uuid(row.customer_id),
                purchase_count: count(row.purchase_count),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    //! The pgbench scripts in `bench/pgbench` are the benchmarks' ceilings: PostgreSQL alone
    //! running the statements the server sends. These tests keep them the same statements.

    use std::path::Path;

    use super::*;

    /// The filter's parameters over the whole history.
    const WHOLE: [&str; 3] = ["NULL::integer", "NULL::timestamptz", "NULL::timestamptz"];
    /// Over a period given to pgbench with `-D from=.. -D to=..`, every branch.
    const PERIOD: [&str; 3] = ["NULL::integer", ":from::timestamptz", ":to::timestamptz"];
    /// Over a period, the branch given with `-D branch=..`.
    const BRANCH_PERIOD: [&str; 3] = [":branch::integer", ":from::timestamptz", ":to::timestamptz"];

    /// A filter's parameters, then a first loyal page of `limit` entries, 3 purchases or more.
    fn first_loyal_page(filter: [&'static str; 3], limit: &'static str) -> Vec<&'static str> {
        let page = ["3", "NULL::bigint", "NULL::numeric", "NULL::uuid", limit];
        filter.into_iter().chain(page).collect()
    }

    /// `text` with its white space folded to single spaces.
    fn folded(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `statement` as a pgbench script: `$n` replaced by `parameters[n - 1]`.
    fn script(statement: &str, parameters: &[&str]) -> String {
        let mut text = statement.to_owned();
        // From the last, so that `$1` never replaces the start of `$10`.
        for (index, value) in parameters.iter().enumerate().rev() {
            text = text.replace(&format!("${}", index + 1), value);
        }
        format!("{};", text.trim())
    }

    /// The script `bench/pgbench/{name}` without its comment lines.
    fn read_script(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bench/pgbench")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        text.lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_pgbench_ceilings_send_the_servers_statements() {
        let cases: [(&str, &str, Vec<&str>); 12] = [
            ("analytics_unique.sql", UNIQUE_CUSTOMERS.all, WHOLE.to_vec()),
            (
                "analytics_unique_period.sql",
                UNIQUE_CUSTOMERS.any_branch,
                PERIOD.to_vec(),
            ),
            (
                "analytics_loyal_page.sql",
                LOYAL_CUSTOMERS.all,
                first_loyal_page(WHOLE, "100"),
            ),
            (
                "analytics_loyal_period.sql",
                LOYAL_CUSTOMERS.any_branch,
                first_loyal_page(PERIOD, "100"),
            ),
            ("analytics_top_products.sql", PRODUCT_UNITS, WHOLE.to_vec()),
            (
                "analytics_top_products_period.sql",
                PRODUCT_UNITS,
                PERIOD.to_vec(),
            ),
            ("analytics_statistics.sql", STATISTICS.all, WHOLE.to_vec()),
            (
                "analytics_statistics_period.sql",
                STATISTICS.any_branch,
                PERIOD.to_vec(),
            ),
            (
                "analytics_statistics_branch_period.sql",
                STATISTICS.one_branch,
                BRANCH_PERIOD.to_vec(),
            ),
            (
                "analytics_dashboard.sql",
                DASHBOARD.all,
                first_loyal_page(WHOLE, "10"),
            ),
            (
                "analytics_dashboard_period.sql",
                DASHBOARD.any_branch,
                first_loyal_page(PERIOD, "10"),
            ),
            (
                "analytics_customers.sql",
                TOP_CUSTOMERS,
                vec!["NULL::bigint", "NULL::uuid", "20"],
            ),
        ];
        for (name, statement, parameters) in cases {
            let expected = script(statement, &parameters);
            assert!(
                folded(&read_script(name)) == folded(&expected),
                "bench/pgbench/{name} no longer sends the server's statement; it should read:\n{expected}"
            );
        }
    }
}
