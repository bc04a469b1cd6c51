//! Prices over time on PostgreSQL: products added, repriced and retired, each change with its
//! audit entry in one transaction, and a product's history read back.
//!
//! The rules (a retired product's prices do not change, a price does not take effect before
//! its product was added) are the domain's ([`PriceHistory::check_change`]), asked under the
//! product row's lock, so that two changes of one product never interleave. The lock is
//! `FOR NO KEY UPDATE`, which purchases' foreign-key checks on the product do not wait for.

use chrono::{DateTime, Utc};
use icash_core::audit::NewAuditEntry;
use icash_core::price::unknown_product;
use icash_core::{
    Money, NewProduct, Origin, PriceChange, PriceHistory, PricePoint, Product, ProductId, Result,
};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};

use crate::audit;
use crate::error::from_sqlx;

/// The key of the advisory lock that numbers added products one at a time ("prod" in ASCII).
const ADD_PRODUCT_LOCK: i64 = 0x7072_6f64;

#[derive(sqlx::FromRow)]
struct HistoryRow {
    name: String,
    added_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
    price: Decimal,
    effective_from: Option<DateTime<Utc>>,
}

/// The product's history, its row locked against other changes when `lock` is set.
async fn history(conn: &mut PgConnection, id: ProductId, lock: bool) -> Result<PriceHistory> {
    if lock {
        sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id.get())
            .execute(&mut *conn)
            .await
            .map_err(from_sqlx)?;
    }
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT products.name, products.added_at, products.retired_at, product_prices.price,
                NULLIF(product_prices.effective_from, '-infinity') AS effective_from
         FROM products JOIN product_prices ON product_prices.product_id = products.id
         WHERE products.id = $1
         ORDER BY product_prices.effective_from",
    )
    .bind(id.get())
    .fetch_all(conn)
    .await
    .map_err(from_sqlx)?;
    let first = rows.first().ok_or_else(|| unknown_product(id))?;
    Ok(PriceHistory {
        product: id,
        name: first.name.clone(),
        added_at: first.added_at,
        retired_at: first.retired_at,
        prices: rows
            .iter()
            .map(|row| {
                Ok(PricePoint {
                    price: Money::new(row.price)?,
                    effective_from: row.effective_from,
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// The product's history.
pub(crate) async fn read(conn: &mut PgConnection, id: ProductId) -> Result<PriceHistory> {
    history(conn, id, false).await
}

/// Adds `product` under the next id, priced from the transaction's start on, with its audit
/// entry.
pub(crate) async fn add(
    conn: &mut PgConnection,
    product: &NewProduct,
    origin: &Origin,
) -> Result<Product> {
    let mut tx = conn.begin().await.map_err(from_sqlx)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADD_PRODUCT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
    let on_sale: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM products WHERE retired_at IS NULL OR retired_at > now()",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(from_sqlx)?;
    let key = Product::name_key(product.name());
    if on_sale.iter().any(|name| Product::name_key(name) == key) {
        return Err(product.name_taken());
    }
    let id: i32 = sqlx::query_scalar(
        "WITH product AS (
             INSERT INTO products (id, name, price, added_at)
             SELECT coalesce(max(id), 0) + 1, $1, $2, now() FROM products
             RETURNING id, price, added_at
         ),
         price AS (
             INSERT INTO product_prices (product_id, effective_from, price)
             SELECT id, added_at, price FROM product
         )
         SELECT id FROM product",
    )
    .bind(product.name())
    .bind(product.price().amount())
    .fetch_one(&mut *tx)
    .await
    .map_err(from_sqlx)?;
    let id = ProductId::new(id)?;
    audit::record(&mut tx, &NewAuditEntry::product_added(id, product, origin)).await?;
    tx.commit().await.map_err(from_sqlx)?;
    Ok(Product::new(id, product.name(), product.price())?)
}

/// Gives `id` the price of `change`, once the domain allows it, with its audit entry.
pub(crate) async fn change(
    conn: &mut PgConnection,
    id: ProductId,
    change: &PriceChange,
    origin: &Origin,
) -> Result<PriceHistory> {
    let mut tx = conn.begin().await.map_err(from_sqlx)?;
    let mut history = history(&mut tx, id, true).await?;
    history.check_change(change)?;
    sqlx::query(
        "WITH point AS (
             INSERT INTO product_prices (product_id, effective_from, price) VALUES ($1, $2, $3)
             ON CONFLICT (product_id, effective_from) DO UPDATE SET price = excluded.price
         )
         -- products.price keeps the latest point's price (see the migration).
         UPDATE products SET price = $3
         WHERE id = $1
           AND NOT EXISTS (SELECT 1 FROM product_prices WHERE product_id = $1 AND effective_from > $2)",
    )
    .bind(id.get())
    .bind(change.effective_from)
    .bind(change.price.amount())
    .execute(&mut *tx)
    .await
    .map_err(from_sqlx)?;
    audit::record(&mut tx, &NewAuditEntry::price_changed(id, change, origin)).await?;
    tx.commit().await.map_err(from_sqlx)?;
    history.apply(change);
    Ok(history)
}

/// Retires `id` at the transaction's start, unless it was already, with its audit entry.
pub(crate) async fn retire(
    conn: &mut PgConnection,
    id: ProductId,
    origin: &Origin,
) -> Result<PriceHistory> {
    let mut tx = conn.begin().await.map_err(from_sqlx)?;
    let mut history = history(&mut tx, id, true).await?;
    if history.retired_at.is_some() {
        return Ok(history);
    }
    let retired_at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE products SET retired_at = now() WHERE id = $1 RETURNING retired_at",
    )
    .bind(id.get())
    .fetch_one(&mut *tx)
    .await
    .map_err(from_sqlx)?;
    audit::record(&mut tx, &NewAuditEntry::product_retired(id, origin)).await?;
    tx.commit().await.map_err(from_sqlx)?;
    history.retired_at = Some(retired_at);
    Ok(history)
}
