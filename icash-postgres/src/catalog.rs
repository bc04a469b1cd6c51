//! The catalog on PostgreSQL: products, branches with their business days, the health check
//! and the schema's state.

use async_trait::async_trait;
use chrono::NaiveTime;
use icash_core::audit::NewAuditEntry;
use icash_core::{
    Branch, BranchId, Catalog, DayStart, Error, Money, NewProduct, Node, Origin, PriceChange,
    PriceHistory, Product, ProductId, Result, TimeZone, ValidationError,
};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::audit;
use crate::error::{from_pool, from_sqlx};
use crate::prices;
use crate::store::{MIGRATOR, PgStore};

/// PostgreSQL's error code for a parameter it does not know, such as a time zone's name.
const INVALID_PARAMETER_VALUE: &str = "22023";

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

#[derive(sqlx::FromRow)]
struct BranchRow {
    id: i32,
    name: String,
    time_zone: String,
    day_starts_at: NaiveTime,
}

impl BranchRow {
    /// Rows were checked on the way in, so a row that does not convert (a zone this build's
    /// zone database lacks, say) means the database was changed behind our back.
    fn into_branch(self) -> Result<Branch> {
        Ok(Branch::with_settings(
            BranchId::new(self.id)?,
            &self.name,
            self.time_zone.parse::<TimeZone>()?,
            DayStart::new(self.day_starts_at)?,
        )?)
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
        sqlx::query_as::<_, BranchRow>(
            "SELECT id, name, time_zone, day_starts_at FROM branches ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|error| from_pool(self.pool(), error))?
        .into_iter()
        .map(BranchRow::into_branch)
        .collect()
    }

    async fn put_branches(&self, branches: &[Branch]) -> Result<()> {
        let ids: Vec<i32> = branches.iter().map(|b| b.id().get()).collect();
        let names: Vec<&str> = branches.iter().map(Branch::name).collect();
        let zones: Vec<&str> = branches.iter().map(|b| b.time_zone().name()).collect();
        let starts: Vec<NaiveTime> = branches.iter().map(|b| b.day_starts_at().time()).collect();
        sqlx::query(
            "INSERT INTO branches (id, name, time_zone, day_starts_at)
             SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::time[])
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(ids)
        .bind(names)
        .bind(zones)
        .bind(starts)
        .execute(self.pool())
        .await
        .map_err(|error| from_pool(self.pool(), error))?;
        Ok(())
    }

    async fn update_branch(&self, branch: &Branch, origin: &Origin) -> Result<Branch> {
        // PostgreSQL reckons the business days of the aggregates in the zone: one that its zone
        // database lacks (older than the server's) is refused before anything is written.
        let zone = branch.time_zone().name();
        match sqlx::query("SELECT now() AT TIME ZONE $1")
            .bind(zone)
            .execute(self.pool())
            .await
        {
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some(INVALID_PARAMETER_VALUE) =>
            {
                return Err(ValidationError::UnknownTimeZone(zone.to_owned()).into());
            }
            other => other.map_err(|error| from_pool(self.pool(), error))?,
        };
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|error| from_pool(self.pool(), error))?;
        // NO KEY: purchases of the branch check their foreign key with a KEY SHARE lock of its
        // row, and the lock below waits for them.
        let reckoned: Option<(String, NaiveTime)> = sqlx::query_as(
            "SELECT time_zone, day_starts_at FROM branches WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(branch.id().get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let settings = (zone.to_owned(), branch.day_starts_at().time());
        let reckoned_anew = reckoned.is_some_and(|reckoned| reckoned != settings);
        if reckoned_anew {
            // The purchases', refunds' and voids' triggers reckon business dates with the
            // settings they read: none is written while the branch's days are rebuilt with the
            // new ones, and those in flight are waited for.
            sqlx::query("LOCK TABLE purchases, refunds, purchase_voids IN SHARE MODE")
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        let updated = sqlx::query_as::<_, BranchRow>(
            "UPDATE branches SET name = $2, time_zone = $3, day_starts_at = $4
             WHERE id = $1
             RETURNING id, name, time_zone, day_starts_at",
        )
        .bind(branch.id().get())
        .bind(branch.name())
        .bind(branch.time_zone().name())
        .bind(branch.day_starts_at().time())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?
        .ok_or_else(|| Error::NotFound {
            what: "supermarket",
            id: branch.id().to_string(),
        })?
        .into_branch()?;
        if reckoned_anew {
            sqlx::query("SELECT icash_rebuild_business_days($1)")
                .bind(branch.id().get())
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        audit::record(&mut tx, &NewAuditEntry::branch_changed(&updated, origin)).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(updated)
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
