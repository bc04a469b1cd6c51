//! The catalog on PostgreSQL: products, branches, the health check and the schema's state.

use async_trait::async_trait;
use icash_core::{
    Branch, BranchId, Catalog, Money, NewProduct, Node, Origin, PriceChange, PriceHistory, Product,
    ProductId, Result,
};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::error::{from_pool, from_sqlx};
use crate::prices;
use crate::store::{MIGRATOR, PgStore};

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i32,
    name: String,
    price: Decimal,
}

impl ProductRow {
    /// Rows were checked on the way in (constraints mirror the domain's rules), so a row that
    /// does not convert means the database was changed behind our back.
    fn into_product(self) -> Result<Product> {
        let id = ProductId::new(self.id)?;
        Ok(Product::new(id, &self.name, Money::new(self.price)?)?)
    }
}

/// Sets products as the data files give them, in one statement: adds them or renames and
/// reprices them, each with its one price in force from the start of the history (the points
/// of a product's history other than that one are forgotten).
pub(crate) async fn upsert_products(conn: &mut PgConnection, products: &[Product]) -> Result<()> {
    let ids: Vec<i32> = products.iter().map(|p| p.id().get()).collect();
    let names: Vec<&str> = products.iter().map(Product::name).collect();
    let prices: Vec<Decimal> = products.iter().map(|p| p.price().amount()).collect();
    sqlx::query(
        "WITH given AS (
             SELECT * FROM unnest($1::integer[], $2::text[], $3::numeric[]) AS given (id, name, price)
         ),
         product AS (
             INSERT INTO products (id, name, price)
             SELECT id, name, price FROM given
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, price = excluded.price, added_at = NULL
         ),
         forgotten AS (
             DELETE FROM product_prices
             WHERE product_id IN (SELECT id FROM given) AND effective_from <> '-infinity'
         )
         INSERT INTO product_prices (product_id, effective_from, price)
         SELECT id, '-infinity', price FROM given
         ON CONFLICT (product_id, effective_from) DO UPDATE SET price = excluded.price",
    )
    .bind(ids)
    .bind(names)
    .bind(prices)
    .execute(conn)
    .await
    .map_err(from_sqlx)?;
    Ok(())
}

#[async_trait]
impl Catalog for PgStore {
    async fn products(&self) -> Result<Vec<Product>> {
        // The products on sale, each at its latest price in force now.
        sqlx::query_as::<_, ProductRow>(
            "SELECT products.id, products.name, current.price
             FROM products
             CROSS JOIN LATERAL (
                 SELECT price FROM product_prices
                 WHERE product_id = products.id AND effective_from <= now()
                 ORDER BY effective_from DESC LIMIT 1
             ) AS current
             WHERE products.retired_at IS NULL OR products.retired_at > now()
             ORDER BY products.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|error| from_pool(self.pool(), error))?
        .into_iter()
        .map(ProductRow::into_product)
        .collect()
    }

    async fn put_products(&self, products: &[Product]) -> Result<()> {
        upsert_products(&mut *self.connection().await?, products).await
    }

    async fn add_product(&self, product: &NewProduct, origin: &Origin) -> Result<Product> {
        prices::add(&mut *self.connection().await?, product, origin).await
    }

    async fn change_price(
        &self,
        product: ProductId,
        change: &PriceChange,
        origin: &Origin,
    ) -> Result<PriceHistory> {
        prices::change(&mut *self.connection().await?, product, change, origin).await
    }

    async fn retire_product(&self, product: ProductId, origin: &Origin) -> Result<PriceHistory> {
        prices::retire(&mut *self.connection().await?, product, origin).await
    }

    async fn price_history(&self, product: ProductId) -> Result<PriceHistory> {
        prices::read(&mut *self.connection().await?, product).await
    }

    async fn branches(&self) -> Result<Vec<Branch>> {
        let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM branches ORDER BY id")
            .fetch_all(self.pool())
            .await
            .map_err(|error| from_pool(self.pool(), error))?;
        ids.into_iter()
            .map(|id| Ok(Branch::new(BranchId::new(id)?)))
            .collect()
    }

    async fn put_branches(&self, branches: &[Branch]) -> Result<()> {
        let ids: Vec<i32> = branches.iter().map(|b| b.id().get()).collect();
        sqlx::query(
            "INSERT INTO branches (id) SELECT unnest($1::integer[]) ON CONFLICT DO NOTHING",
        )
        .bind(ids)
        .execute(self.pool())
        .await
        .map_err(|error| from_pool(self.pool(), error))?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(self.pool())
            .await
            .map_err(|error| from_pool(self.pool(), error))?;
        Ok(())
    }

    async fn missing_migrations(&self) -> Result<usize> {
        // sqlx records each applied migration with its checksum; one that is absent, failed
        // or changed since is still to apply.
        let applied: Vec<(i64, Vec<u8>)> =
            match sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(self.pool())
                .await
            {
                Ok(applied) => applied,
                Err(sqlx::Error::Database(error))
                    if error.code().as_deref() == Some(UNDEFINED_TABLE) =>
                {
                    Vec::new()
                }
                Err(error) => return Err(from_sqlx(error)),
            };
        Ok(MIGRATOR
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .filter(|migration| {
                !applied.iter().any(|(version, checksum)| {
                    *version == migration.version && checksum[..] == migration.checksum[..]
                })
            })
            .count())
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        Ok(self.topology().nodes())
    }
}

/// The SQLSTATE of a query on a table that does not exist: a database never migrated.
const UNDEFINED_TABLE: &str = "42P01";
