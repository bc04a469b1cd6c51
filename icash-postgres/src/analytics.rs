//! The analytics on PostgreSQL, read from the aggregates that triggers maintain with every
//! purchase (see the `aggregates` migration).
//!
//! - Over the whole history, or one branch: a few hundred aggregate rows (a branch's distinct
//!   customers: its shards in `branch_customers`).
//! - Over a period: monthly, daily and hourly aggregates, and the purchases of at most half an
//!   hour at each edge. Each edge is cut at the nearest UTC month, day and hour boundary, inward
//!   or outward, and what an outward cut takes in beyond the period is subtracted (the SQL
//!   functions `icash_period`, `icash_branch_sales` and `icash_product_units` of the
//!   `period_functions` migration).
//! - Distinct customers under a filter cannot be added up across days: they are counted from
//!   the purchases with an index-only scan of the period, one range of the
//!   `(branch_id, purchased_at)` index per branch the filter covers.
//! - Sales over time ([`sales`]): per business date from `branch_business_days` (the
//!   `business_day_sales` migration), per hour from the hourly aggregates, or per finer bin from
//!   the purchases; the day's report reads one branch's day of purchases and refunds.
//!
//! Each statement is a whole SQL text in `analytics/sql`, one file per statement and shape of
//! filter ([`shape`]), as PostgreSQL receives it; the pgbench scripts in `bench/pgbench` send the
//! same texts (the tests keep them so). Every statement takes the filter as parameters `$1`
//! (branch), `$2` (from, inclusive) and `$3` (to, exclusive), whether it reads them or not. An
//! analytic made of several parts (the statistics, the dashboard) is one statement, which
//! PostgreSQL reads in one snapshot: a purchase committed meanwhile counts in every part or in
//! none, and the parts cost one round trip.

mod customers;
mod dashboard;
mod loyal;
mod products;
mod sales;
mod shape;
mod statistics;
#[cfg(test)]
mod tests;

use std::ops::DerefMut;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::NaiveDate;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt, future};
use icash_core::analytics::{
    CustomerPurchases, Dashboard, LoyalCustomers, LoyalQuery, LoyalStream, ProductSales,
    Statistics, TopCustomersQuery,
};
use icash_core::sales::{BinSales, BinWidth, DaySales, SalesRecords};
use icash_core::{Analytics, BranchId, CustomerId, Filter, Result};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, PgPool, Postgres};

use self::customers::{CustomerRow, TOP_CUSTOMERS, UNIQUE_CUSTOMERS};
use self::dashboard::{DASHBOARD, DashboardRow};
use self::loyal::{
    ActivityRow, LOYAL_COUNT_WHOLE_HISTORY, LOYAL_PAGE_WHOLE_HISTORY, LoyalRow, bind_loyal_page,
    loyal_from_ranking, loyal_statement,
};
use self::products::{PRODUCT_UNITS, SalesRow};
use self::sales::{
    BINS, BUSINESS_DAYS_ALL_BRANCHES, BUSINESS_DAYS_ONE_BRANCH, BinRow, DaysRow, HOURS,
    REFUND_RECORDS, RefundRow, SALES_RECORDS, SaleRow, reads_hours, records,
};
use self::shape::{bind_filter, has_period};
use self::statistics::{PeriodStatisticsRow, STATISTICS, StatisticsColumns};
use crate::customer_sets::{self, Sums};
use crate::error::from_sqlx;
use crate::store::PgStore;

/// A read-only transaction whose statements all read one snapshot (ending it without a commit
/// loses nothing).
const SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// How many distinct customers made the purchases of `filter`'s period: from the customer sets
/// (see [`customer_sets::count`]), or from the purchases while the sets are being built again.
async fn unique_in_period(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
) -> std::result::Result<i64, sqlx::Error> {
    if let Some(unique) = customer_sets::count(conn, sums, filter).await? {
        return Ok(i64::try_from(unique).expect("fewer customers than i64::MAX"));
    }
    let (unique,): (i64,) = bind_filter(sqlx::query_as(UNIQUE_CUSTOMERS.text(filter)), filter)
        .fetch_one(conn)
        .await?;
    Ok(unique)
}

/// [`STATISTICS`] over `filter`'s period, with what the customer sets say of it.
fn period_statistics_statement(
    filter: &Filter,
) -> QueryAs<'static, Postgres, PeriodStatisticsRow, PgArguments> {
    bind_filter(sqlx::query_as(STATISTICS.text(filter)), filter).bind(customer_sets::bounds(filter))
}

/// The statistics over `filter`'s period: one statement reads them with what the customer sets
/// say of the period, and the server counts its distinct customers from the sums it keeps
/// ([`customer_sets::count_of`]); while the sets are being built again or change under the
/// read, the count and the statistics are read again in one snapshot.
async fn period_statistics(
    pool: &PgPool,
    sums: &Sums,
    filter: &Filter,
) -> std::result::Result<StatisticsColumns, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let row = period_statistics_statement(filter)
        .fetch_one(&mut *conn)
        .await?;
    let mut statistics = row.statistics;
    if let Some(unique) = customer_sets::count_of(&mut conn, sums, filter, row.sets).await? {
        statistics.unique_customers = Some(i64::try_from(unique).expect("under i64::MAX"));
        return Ok(statistics);
    }
    drop(conn);
    let mut snapshot = pool.begin_with(SNAPSHOT).await?;
    let unique = unique_in_period(&mut snapshot, sums, filter).await?;
    let mut statistics = period_statistics_statement(filter)
        .fetch_one(&mut *snapshot)
        .await?
        .statistics;
    statistics.unique_customers = Some(unique);
    Ok(statistics)
}

/// The dashboard as read: the one statement's row, or, over a period with the customers'
/// counts at hand, the statistics, the loyal count and page, and the product sales apart.
enum DashboardParts {
    Row(DashboardRow),
    Separate(StatisticsColumns, LoyalCustomers, Vec<SalesRow>),
}

/// Converts a count from the database, which is never negative.
fn count(value: i64) -> u64 {
    u64::try_from(value).expect("counts are never negative")
}

/// The rows of `statement` as PostgreSQL sends them, on a connection (or a transaction) that the
/// stream holds until it ends or is dropped.
fn owned_rows<C, O>(
    mut conn: C,
    statement: QueryAs<'static, Postgres, O, PgArguments>,
) -> BoxStream<'static, std::result::Result<O, sqlx::Error>>
where
    C: DerefMut<Target = PgConnection> + Send + 'static,
    O: for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static,
{
    Box::pin(try_stream! {
        let mut rows = statement.fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    })
}

/// Each analytic is a read: the store asks a standby when one may answer (see
/// [`PgStore::read`]), else the primary.
#[async_trait]
impl Analytics for PgStore {
    async fn unique_customers(&self, filter: &Filter) -> Result<u64> {
        let unique = self
            .read(|pool| async move {
                if has_period(filter) {
                    return unique_in_period(&mut *pool.acquire().await?, self.sums(), filter)
                        .await;
                }
                let (unique,): (i64,) =
                    bind_filter(sqlx::query_as(UNIQUE_CUSTOMERS.text(filter)), filter)
                        .fetch_one(&pool)
                        .await?;
                Ok(unique)
            })
            .await?;
        Ok(count(unique))
    }

    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers> {
        self.read(|pool| async move {
            // A list without a limit reads every loyal customer's purchases either way.
            if query.filter != Filter::ALL && query.limit.is_some() {
                let mut snapshot = pool.begin_with(SNAPSHOT).await?;
                if let Some(ranking) =
                    customer_sets::ranking(&mut snapshot, self.sums(), &query.filter).await?
                    && let Some(page) = loyal_from_ranking(&mut snapshot, query, &ranking).await?
                {
                    return Ok(page);
                }
            }
            let rows: Vec<LoyalRow> = loyal_statement(query).fetch_all(&pool).await?;
            Ok(LoyalCustomers {
                count: rows.first().map_or(0, |row| count(row.loyal_count)),
                customers: rows
                    .into_iter()
                    .filter_map(LoyalRow::activity)
                    .map(ActivityRow::decoded)
                    .collect::<std::result::Result<_, _>>()?,
            })
        })
        .await
    }

    async fn loyal_customers_stream(&self, query: &LoyalQuery) -> Result<LoyalStream> {
        // Each path reads its first row before returning, so that a statement that fails to
        // start is an error here, answered with a status (or asked of another server), rather
        // than a body cut short.
        if query.filter != Filter::ALL {
            // The filtered list is aggregated and sorted before its first row either way: its
            // one statement carries the count on every row, as for a page.
            let (first, rows) = self
                .read(|pool| async move {
                    let mut rows = owned_rows(pool.acquire().await?, loyal_statement(query));
                    let first = rows.try_next().await?;
                    Ok((first, rows))
                })
                .await?;
            let loyal_count = first.as_ref().map_or(0, |row| count(row.loyal_count));
            let customers = stream::iter(first.map(Ok))
                .chain(rows.map_err(from_sqlx))
                .try_filter_map(|row| future::ready(row.entry()));
            return Ok(LoyalStream {
                count: loyal_count,
                customers: customers.boxed(),
            });
        }
        // The count and the list from one snapshot (read-only: ending it without a commit
        // loses nothing), the list read as the index scan goes.
        let (loyal_count, first, rows) = self
            .read(|pool| async move {
                let mut snapshot = pool.begin_with(SNAPSHOT).await?;
                let (loyal_count,): (i64,) =
                    bind_filter(sqlx::query_as(LOYAL_COUNT_WHOLE_HISTORY), &query.filter)
                        .bind(i64::from(query.min_purchases))
                        .fetch_one(&mut *snapshot)
                        .await?;
                let statement = bind_loyal_page(sqlx::query_as(LOYAL_PAGE_WHOLE_HISTORY), query);
                let mut rows = owned_rows::<_, ActivityRow>(snapshot, statement);
                let first = rows.try_next().await?;
                Ok((loyal_count, first, rows))
            })
            .await?;
        let customers = stream::iter(first.map(Ok))
            .chain(rows.map_err(from_sqlx))
            .and_then(|row| future::ready(row.entry()));
        Ok(LoyalStream {
            count: count(loyal_count),
            customers: customers.boxed(),
        })
    }

    async fn product_sales(&self, filter: &Filter) -> Result<Vec<ProductSales>> {
        let rows: Vec<SalesRow> = self
            .read(|pool| async move {
                bind_filter(sqlx::query_as(PRODUCT_UNITS), filter)
                    .fetch_all(&pool)
                    .await
            })
            .await?;
        rows.into_iter().map(SalesRow::sales).collect()
    }

    async fn statistics(&self, filter: &Filter) -> Result<Statistics> {
        let row: StatisticsColumns = self
            .read(|pool| async move {
                if !has_period(filter) {
                    return bind_filter(sqlx::query_as(STATISTICS.text(filter)), filter)
                        .fetch_one(&pool)
                        .await;
                }
                period_statistics(&pool, self.sums(), filter).await
            })
            .await?;
        row.statistics()
    }

    async fn dashboard(&self, filter: &Filter) -> Result<Dashboard> {
        let parts = self
            .read(|pool| async move {
                let statement = sqlx::query_as(DASHBOARD.text(filter));
                let loyal_query = Dashboard::loyal_query(filter);
                let statement = bind_loyal_page(statement, &loyal_query);
                if !has_period(filter) {
                    return statement.fetch_one(&pool).await.map(DashboardParts::Row);
                }
                let mut snapshot = pool.begin_with(SNAPSHOT).await?;
                let row = period_statistics_statement(filter)
                    .fetch_one(&mut *snapshot)
                    .await?;
                let ranking =
                    customer_sets::ranking_of(&mut snapshot, self.sums(), filter, row.sets).await?;
                let loyal = match &ranking {
                    Some(ranking) => {
                        loyal_from_ranking(&mut snapshot, &loyal_query, ranking).await?
                    }
                    None => None,
                };
                let unique = match &ranking {
                    Some(ranking) => i64::try_from(ranking.customers()).expect("under i64::MAX"),
                    None => unique_in_period(&mut snapshot, self.sums(), filter).await?,
                };
                let Some(loyal) = loyal else {
                    let row = statement.bind(unique).fetch_one(&mut *snapshot).await?;
                    return Ok(DashboardParts::Row(row));
                };
                let mut statistics = row.statistics;
                statistics.unique_customers = Some(unique);
                let units: Vec<SalesRow> = bind_filter(sqlx::query_as(PRODUCT_UNITS), filter)
                    .fetch_all(&mut *snapshot)
                    .await?;
                Ok(DashboardParts::Separate(statistics, loyal, units))
            })
            .await?;
        match parts {
            DashboardParts::Row(row) => Ok(Dashboard::from_parts(
                row.statistics.statistics()?,
                row.loyal.loyal_customers()?,
                row.units.product_sales()?,
            )),
            DashboardParts::Separate(statistics, loyal, units) => Ok(Dashboard::from_parts(
                statistics.statistics()?,
                loyal,
                units
                    .into_iter()
                    .map(SalesRow::sales)
                    .collect::<Result<_>>()?,
            )),
        }
    }

    async fn business_day_sales(
        &self,
        branch: Option<BranchId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySales>> {
        let text = match branch {
            Some(_) => BUSINESS_DAYS_ONE_BRANCH,
            None => BUSINESS_DAYS_ALL_BRANCHES,
        };
        let row: DaysRow = self
            .read(|pool| async move {
                sqlx::query_as(text)
                    .bind(branch.map(BranchId::get))
                    .bind(from)
                    .bind(to)
                    .fetch_one(&pool)
                    .await
            })
            .await?;
        row.days()
    }

    async fn binned_sales(&self, filter: &Filter, width: BinWidth) -> Result<Vec<BinSales>> {
        let rows: Vec<BinRow> = self
            .read(|pool| async move {
                if reads_hours(filter, width) {
                    bind_filter(sqlx::query_as(HOURS), filter)
                        .fetch_all(&pool)
                        .await
                } else {
                    bind_filter(sqlx::query_as(BINS), filter)
                        .bind(f64::from(width.seconds()))
                        .fetch_all(&pool)
                        .await
                }
            })
            .await?;
        rows.into_iter().map(BinRow::bin).collect()
    }

    async fn sales_records(&self, filter: &Filter) -> Result<SalesRecords> {
        let (sales, refunds) = self
            .read(|pool| async move {
                // One snapshot: a refund made meanwhile is in both lists or in neither.
                let mut snapshot = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                let sales: Vec<SaleRow> = bind_filter(sqlx::query_as(SALES_RECORDS), filter)
                    .fetch_all(&mut *snapshot)
                    .await?;
                let refunds: Vec<RefundRow> = bind_filter(sqlx::query_as(REFUND_RECORDS), filter)
                    .fetch_all(&mut *snapshot)
                    .await?;
                Ok((sales, refunds))
            })
            .await?;
        records(sales, refunds)
    }

    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>> {
        let rows: Vec<CustomerRow> = self
            .read(|pool| async move {
                sqlx::query_as(TOP_CUSTOMERS)
                    .bind(query.after.map(|a| a.purchase_count as i64))
                    .bind(query.after.map(|a| a.customer.uuid()))
                    .bind(i64::from(query.limit))
                    .fetch_all(&pool)
                    .await
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| CustomerPurchases {
                customer: CustomerId::from_uuid(row.customer_id),
                purchase_count: count(row.purchase_count),
            })
            .collect())
    }
}
