//! The analytics on PostgreSQL: one aggregate query per figure, computed in the database.
//!
//! Every query takes the filter as its first three parameters (branch, from, to) through
//! [`filtered!`], so the filter's meaning is written once in SQL, as
//! [`Filter::matches`](icash_core::Filter::matches) writes it in Rust.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::analytics::{
    BranchStatistics, CustomerActivity, CustomerPurchases, LoyalCustomers, LoyalQuery,
    ProductSales, Statistics, TopCustomersQuery,
};
use icash_core::{Analytics, BranchId, CustomerId, Filter, Money, ProductId, Result};
use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, Postgres};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::store::PgStore;

/// A SQL text with the filter's condition on the purchases table aliased `p`, taking the
/// filter as parameters `$1` (branch), `$2` (from, inclusive) and `$3` (to, exclusive).
macro_rules! filtered {
    ($before:literal, $after:literal) => {
        concat!(
            $before,
            " ($1::integer IS NULL OR p.branch_id = $1)
              AND ($2::timestamptz IS NULL OR p.purchased_at >= $2)
              AND ($3::timestamptz IS NULL OR p.purchased_at < $3) ",
            $after
        )
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
        let (Some(customer), Some(purchases), Some(spent), Some(first), Some(last)) = (
            self.customer_id,
            self.purchase_count,
            self.total_spent,
            self.first_purchase,
            self.last_purchase,
        ) else {
            return Ok(None);
        };
        Ok(Some(CustomerActivity {
            customer: CustomerId::from_uuid(customer),
            purchase_count: count(purchases),
            total_spent: Money::new(spent)?,
            first_purchase: first,
            last_purchase: last,
        }))
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

#[async_trait]
impl Analytics for PgStore {
    async fn unique_customers(&self, filter: &Filter) -> Result<u64> {
        let query = sqlx::query_as(filtered!(
            "SELECT count(DISTINCT p.customer_id) FROM purchases p WHERE",
            ""
        ));
        let (unique,): (i64,) = bind_filter(query, filter)
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(count(unique))
    }

    async fn loyal_customers(&self, query: &LoyalQuery) -> Result<LoyalCustomers> {
        // One row per entry of the page, each carrying the count of all loyal customers; when
        // the page is empty, a single row with the count and no entry.
        let sql = filtered!(
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
        let after = query.after;
        let rows: Vec<LoyalRow> = bind_filter(sqlx::query_as(sql), &query.filter)
            .bind(i64::from(query.min_purchases))
            .bind(after.map(|a| a.purchase_count as i64))
            .bind(after.map(|a| a.total_spent.amount()))
            .bind(after.map(|a| a.customer.uuid()))
            .bind(query.limit.map(i64::from))
            .fetch_all(self.pool())
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

    async fn product_sales(&self, filter: &Filter) -> Result<Vec<ProductSales>> {
        let sql = filtered!(
            "SELECT l.product_id, pr.name, count(*) AS units_sold
             FROM purchase_lines l
             JOIN purchases p ON p.id = l.purchase_id
             JOIN products pr ON pr.id = l.product_id
             WHERE",
            "GROUP BY l.product_id, pr.name"
        );
        let rows: Vec<SalesRow> = bind_filter(sqlx::query_as(sql), filter)
            .fetch_all(self.pool())
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

    async fn statistics(&self, filter: &Filter) -> Result<Statistics> {
        // Every branch the filter admits, with zeros where nothing was sold.
        let sql = filtered!(
            "SELECT b.id AS branch_id, count(p.id) AS purchase_count, coalesce(sum(p.total), 0) AS revenue
             FROM branches b
             LEFT JOIN purchases p ON p.branch_id = b.id AND",
            "WHERE $1::integer IS NULL OR b.id = $1
             GROUP BY b.id
             ORDER BY b.id"
        );
        let rows: Vec<BranchRow> = bind_filter(sqlx::query_as(sql), filter)
            .fetch_all(self.pool())
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
            unique_customers: self.unique_customers(filter).await?,
            total_purchases: by_branch.iter().map(|b| b.purchase_count).sum(),
            total_revenue: by_branch.iter().map(|b| b.revenue).sum(),
            by_branch,
        })
    }

    async fn top_customers(&self, query: &TopCustomersQuery) -> Result<Vec<CustomerPurchases>> {
        let rows: Vec<CustomerRow> = sqlx::query_as(
            "SELECT customer_id, count(*) AS purchase_count
             FROM purchases
             GROUP BY customer_id
             HAVING $1::bigint IS NULL OR count(*) < $1 OR (count(*) = $1 AND customer_id > $2)
             ORDER BY purchase_count DESC, customer_id
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
