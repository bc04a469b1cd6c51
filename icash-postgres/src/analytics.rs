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
//! The filter is always parameters `$1` (branch), `$2` (from, inclusive) and `$3` (to,
//! exclusive), so that its meaning is written once in SQL (the [`filtered!`] condition and
//! `icash_period`), as [`Filter::matches`](icash_core::Filter::matches) writes it in Rust.

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
use sqlx::{FromRow, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::store::PgStore;

/// A SQL text with the filter's condition on the purchases table aliased `p` between
/// `$before` and `$after`, taking the filter as parameters `$1` (branch), `$2` (from,
/// inclusive) and `$3` (to, exclusive). It comes in two texts, without and with a branch, so
/// that the plan PostgreSQL caches for each prepared statement can use the index on
/// `(branch_id, purchased_at)` (a generic plan of `$1 IS NULL OR p.branch_id = $1` cannot);
/// without a branch, that index is read one branch after the other (see the
/// `branch_period_index` migration), the branches asked once in a subquery rather than in a
/// condition that a sequential scan would call for every row. An open end of the period is an
/// infinite bound, so the period is always an index range.
macro_rules! filtered {
    ($before:literal, $after:literal) => {
        filtered!(@ $before,
            " p.purchased_at >= coalesce($2::timestamptz, '-infinity')
              AND p.purchased_at < coalesce($3::timestamptz, 'infinity') ",
            $after)
    };
    (@ $before:literal, $period:literal, $after:literal) => {
        Filtered {
            any_branch: concat!(
                $before,
                " $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[]) AND",
                $period,
                $after
            ),
            one_branch: concat!($before, " p.branch_id = $1 AND", $period, $after),
        }
    };
}

/// The two texts of a [`filtered!`] statement.
struct Filtered {
    any_branch: &'static str,
    one_branch: &'static str,
}

impl Filtered {
    /// The text for `filter`'s shape.
    fn text(&self, filter: &Filter) -> &'static str {
        match filter.branch() {
            Some(_) => self.one_branch,
            None => self.any_branch,
        }
    }
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

#[derive(FromRow)]
struct SalesRow {
    product_id: i32,
    name: String,
    units_sold: i64,
}

#[derive(FromRow)]
struct BranchRow {
    branch_id: i32,
    purchase_count: i64,
    revenue: Decimal,
}

#[derive(FromRow)]
struct CustomerRow {
    customer_id: Uuid,
    purchase_count: i64,
}

/// The loyal page over the whole history, from the maintained per-customer counters, in order
/// straight from their index. Parameters: `$1` the threshold, `$2`..`$4` the cursor, `$5` the
/// limit (none when null).
macro_rules! loyal_all_page {
    () => {
        "SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
         FROM customers
         WHERE purchases >= $1
           AND ($2::bigint IS NULL
                OR purchases < $2
                OR (purchases = $2 AND (spent < $3 OR (spent = $3 AND id > $4))))
         ORDER BY purchases DESC, spent DESC, id
         LIMIT $5"
    };
}

/// How many customers are loyal over the whole history. Parameter: `$1` the threshold.
macro_rules! loyal_all_count {
    () => {
        "SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= $1"
    };
}

/// The loyal page and the count of all loyal customers, in one statement (parameters as
/// [`loyal_all_page!`]).
const LOYAL_ALL: &str = concat!(
    "WITH page AS (",
    loyal_all_page!(),
    ") SELECT (",
    loyal_all_count!(),
    ") AS loyal_count, page.*
     FROM (SELECT) AS one LEFT JOIN page ON true
     ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id"
);

/// [`LOYAL_ALL`]'s count alone, for a streamed list.
const LOYAL_ALL_COUNT: &str = loyal_all_count!();

/// [`LOYAL_ALL`]'s page alone, for a streamed list: its rows come in the index's order as the
/// scan reads them, where [`LOYAL_ALL`]'s final sort would first read them all.
const LOYAL_ALL_PAGE: &str = loyal_all_page!();

/// The loyal page and count over the purchases a filter admits, counted from the purchases.
/// Parameters: the filter, then as [`LOYAL_ALL`] from `$4`.
const LOYAL_FILTERED: Filtered = filtered!(
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
);

/// The distinct customers among the purchases a filter admits. Parameters: the filter.
const UNIQUE_FILTERED: Filtered = filtered!(
    "SELECT count(*) FROM (SELECT DISTINCT p.customer_id FROM purchases p WHERE",
    ") AS customers"
);

/// Per branch, with zeros where nothing was sold: `icash_branch_sales` reads the totals for the
/// whole history, and days, hours and at most two partial hours of purchases for a period.
/// Parameters: the filter.
const BRANCH_SALES: &str = "
    SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
           coalesce(s.revenue, 0) AS revenue
    FROM branches b LEFT JOIN icash_branch_sales($1, $2, $3) s ON s.branch_id = b.id
    WHERE $1::integer IS NULL OR b.id = $1
    ORDER BY b.id";

/// Units per product, from `icash_product_units` (read as `icash_branch_sales`).
const PRODUCT_UNITS: &str = "
    SELECT u.product_id, pr.name, u.units AS units_sold
    FROM icash_product_units($1, $2, $3) u JOIN products pr ON pr.id = u.product_id";

/// Binds the threshold, the cursor and the limit of a loyal list, after the filter if any.
fn bind_loyal_page<'q, O>(
    statement: QueryAs<'q, Postgres, O, PgArguments>,
    query: &LoyalQuery,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let after = query.after;
    statement
        .bind(i64::from(query.min_purchases))
        .bind(after.map(|a| a.purchase_count as i64))
        .bind(after.map(|a| a.total_spent.amount()))
        .bind(after.map(|a| a.customer.uuid()))
        .bind(query.limit.map(i64::from))
}

/// The one statement that reads a loyal page and the count of all loyal customers, bound.
fn loyal_statement(query: &LoyalQuery) -> QueryAs<'static, Postgres, LoyalRow, PgArguments> {
    let statement = if query.filter == Filter::ALL {
        sqlx::query_as(LOYAL_ALL)
    } else {
        bind_filter(
            sqlx::query_as(LOYAL_FILTERED.text(&query.filter)),
            &query.filter,
        )
    };
    bind_loyal_page(statement, query)
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

/// How many distinct customers made the purchases `filter` admits, on `conn`.
async fn unique_customers_on(conn: &mut PgConnection, filter: &Filter) -> Result<u64> {
    let (unique,): (i64,) = if *filter == Filter::ALL {
        sqlx::query_as("SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0")
            .fetch_one(conn)
            .await
    } else if let (Some(branch), None, None) = (filter.branch(), filter.from(), filter.to()) {
        sqlx::query_as("SELECT coalesce(sum(customers), 0)::bigint FROM branch_customers WHERE branch_id = $1")
            .bind(branch.get())
            .fetch_one(conn)
            .await
    } else {
        // DISTINCT in a subquery may hash; count(DISTINCT) always sorts.
        let query = sqlx::query_as(UNIQUE_FILTERED.text(filter));
        bind_filter(query, filter).fetch_one(conn).await
    }
    .map_err(from_sqlx)?;
    Ok(count(unique))
}

/// The loyal customers that `query` asks for, on `conn`.
async fn loyal_customers_on(conn: &mut PgConnection, query: &LoyalQuery) -> Result<LoyalCustomers> {
    // One row per entry of the page, each carrying the count of all loyal customers; when
    // the page is empty, a single row with the count and no entry.
    let rows: Vec<LoyalRow> = loyal_statement(query)
        .fetch_all(conn)
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

/// Units sold per product over the purchases `filter` admits, on `conn`.
async fn product_sales_on(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<ProductSales>> {
    let rows: Vec<SalesRow> = bind_filter(sqlx::query_as(PRODUCT_UNITS), filter)
        .fetch_all(conn)
        .await
        .map_err(from_sqlx)?;
    rows.into_iter()
        .map(|row| {
            Ok(ProductSales {
                product: ProductId::new(row.product_id)?,
                name: row.name,
                units_sold: count(row.units_sold),
            })
        })
        .collect()
}

/// The figures of the purchases `filter` admits, on `conn`: two statements, which agree with
/// each other when `conn` is a [`PgStore::snapshot`].
async fn statistics_on(conn: &mut PgConnection, filter: &Filter) -> Result<Statistics> {
    let rows: Vec<BranchRow> = bind_filter(sqlx::query_as(BRANCH_SALES), filter)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let by_branch = rows
        .into_iter()
        .map(|row| {
            Ok(BranchStatistics {
                branch: BranchId::new(row.branch_id)?,
                purchase_count: count(row.purchase_count),
                revenue: Money::new(row.revenue)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Statistics {
        unique_customers: unique_customers_on(conn, filter).await?,
        total_purchases: by_branch.iter().map(|b| b.purchase_count).sum(),
        total_revenue: by_branch.iter().map(|b| b.revenue).sum(),
        by_branch,
    })
}

impl PgStore {
    /// A read-only transaction whose statements all see the same purchases: the analytics made
    /// of several statements read in one, so that a purchase committed meanwhile counts in all
    /// of them or in none. Dropping it ends it: its rollback goes with the pool's check of the
    /// returned connection, and loses nothing.
    async fn snapshot(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(from_sqlx)
    }
}

#[async_trait]
impl Analytics for PgStore {
    async fn unique_customers(&self, filter: &Filter) -> Result<u64> {
        unique_customers_on(&mut *self.connection().await?, filter).await
    }

    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers> {
        loyal_customers_on(&mut *self.connection().await?, query).await
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
        let mut snapshot = self.snapshot().await?;
        let (loyal_count,): (i64,) = sqlx::query_as(LOYAL_ALL_COUNT)
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
        product_sales_on(&mut *self.connection().await?, filter).await
    }

    async fn statistics(&self, filter: &Filter) -> Result<Statistics> {
        statistics_on(&mut *self.snapshot().await?, filter).await
    }

    async fn dashboard(&self, filter: &Filter) -> Result<Dashboard> {
        // Four statements on one connection, in one snapshot.
        let mut snapshot = self.snapshot().await?;
        Ok(Dashboard::from_parts(
            statistics_on(&mut snapshot, filter).await?,
            loyal_customers_on(&mut snapshot, &Dashboard::loyal_query(filter)).await?,
            product_sales_on(&mut snapshot, filter).await?,
        ))
    }

    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>> {
        let rows: Vec<CustomerRow> = sqlx::query_as(
            "SELECT id AS customer_id, purchases AS purchase_count
             FROM customers
             WHERE purchases > 0
               AND ($1::bigint IS NULL OR purchases < $1 OR (purchases = $1 AND id > $2))
             ORDER BY purchases DESC, id
             LIMIT $3",
        )
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
