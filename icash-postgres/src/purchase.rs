//! Recording and reading purchases on PostgreSQL, and starting bulk loads (see [`crate::import`]).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::{
    BranchId, CustomerId, Error, IdempotencyKey, ImportSession, KeyName, Money, NewPurchase,
    PricedPurchase, Product, ProductId, Purchase, PurchaseId, PurchaseLine, Purchases, Recorded,
    Result, ValidationError,
};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{from_pool, from_sqlx, violated_constraint};
use crate::idempotency;
use crate::import::PgImport;
use crate::store::PgStore;

/// The key of the advisory lock that lets one bulk load run at a time ("icash" in ASCII).
const IMPORT_LOCK: i64 = 0x0069_6361_7368;

async fn begin(store: &PgStore) -> Result<Transaction<'static, Postgres>> {
    store
        .pool()
        .begin()
        .await
        .map_err(|error| from_pool(store.pool(), error))
}

/// Records one purchase in one statement: it prices the items at the catalog's prices as the
/// statement runs (the moment of sale), and writes the customer, the purchase and its lines only
/// when every product exists. It returns the catalog rows it priced with, so that the pricing
/// rule itself stays in [`NewPurchase::price`].
const RECORD_ONE: &str = "
    WITH wanted AS (
        SELECT id, position - 1 AS position
        FROM unnest($4::integer[]) WITH ORDINALITY AS wanted (id, position)
    ),
    priced AS (
        SELECT wanted.position, products.id, products.name, products.price
        FROM wanted JOIN products ON products.id = wanted.id
    ),
    purchase AS (
        INSERT INTO purchases (branch_id, customer_id, purchased_at, total, recorded_by)
        SELECT $1, $2, $3, sum(price), $5 FROM priced
        HAVING count(*) = cardinality($4::integer[])
        RETURNING id
    ),
    customer AS (
        INSERT INTO customers (id) SELECT $2 FROM purchase ON CONFLICT DO NOTHING
    ),
    lines AS (
        INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
        SELECT purchase.id, priced.id, priced.position, priced.price FROM purchase, priced
    )
    SELECT (SELECT id FROM purchase) AS purchase_id, priced.id, priced.name, priced.price
    FROM priced
    ORDER BY priced.position";

#[derive(sqlx::FromRow)]
struct PricedRow {
    purchase_id: Option<i64>,
    id: i32,
    name: String,
    price: Decimal,
}

async fn insert_one(
    conn: &mut PgConnection,
    purchase: &NewPurchase,
    customer: CustomerId,
) -> Result<Purchase> {
    let wanted: Vec<i32> = purchase.products().iter().map(|id| id.get()).collect();
    let rows: Vec<PricedRow> = sqlx::query_as(RECORD_ONE)
        .bind(purchase.branch().get())
        .bind(customer.uuid())
        .bind(purchase.at())
        .bind(&wanted)
        .bind(purchase.recorder().map(KeyName::as_str))
        .fetch_all(conn)
        .await
        .map_err(|error| match violated_constraint(&error) {
            Some("purchases_branch_fkey") => {
                ValidationError::UnknownBranch(purchase.branch()).into()
            }
            _ => from_sqlx(error),
        })?;
    let catalog = rows
        .iter()
        .map(|row| {
            Ok((
                ProductId::new(row.id)?,
                Product::new(ProductId::new(row.id)?, &row.name, Money::new(row.price)?)?,
            ))
        })
        .collect::<Result<HashMap<ProductId, Product>>>()?;
    // Refuses an unknown product; the statement wrote nothing then.
    let priced = purchase.price(customer, |id| catalog.get(&id))?;
    let id = rows
        .first()
        .and_then(|row| row.purchase_id)
        .ok_or_else(|| Error::internal("every product exists but the purchase was not written"))?;
    Ok(Purchase::new(PurchaseId::new(id)?, priced))
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    branch_id: i32,
    customer_id: Uuid,
    purchased_at: DateTime<Utc>,
    product_id: i32,
    name: String,
    unit_price: Decimal,
    recorded_by: Option<String>,
}

/// The receipt of purchase `id`, as it was recorded.
pub(crate) async fn receipt(conn: &mut PgConnection, id: PurchaseId) -> Result<Purchase> {
    let rows: Vec<ReceiptRow> = sqlx::query_as(
        "SELECT p.branch_id, p.customer_id, p.purchased_at, l.product_id, pr.name, l.unit_price,
                p.recorded_by
         FROM purchases p
         JOIN purchase_lines l ON l.purchase_id = p.id
         JOIN products pr ON pr.id = l.product_id
         WHERE p.id = $1
         ORDER BY l.position",
    )
    .bind(id.get())
    .fetch_all(conn)
    .await
    .map_err(from_sqlx)?;
    let Some(first) = rows.first() else {
        return Err(Error::NotFound {
            what: "purchase",
            id: id.to_string(),
        });
    };
    let (branch, customer, at) = (
        BranchId::new(first.branch_id)?,
        CustomerId::from_uuid(first.customer_id),
        first.purchased_at,
    );
    let recorder = first.recorded_by.as_deref().map(KeyName::new).transpose()?;
    let lines = rows
        .iter()
        .map(|row| {
            Ok(PurchaseLine::new(
                ProductId::new(row.product_id)?,
                &row.name,
                Money::new(row.unit_price)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Purchase::new(
        id,
        PricedPurchase::new(branch, customer, at, lines)?.recorded_by(recorder),
    ))
}

#[async_trait]
impl Purchases for PgStore {
    async fn record(
        &self,
        purchase: NewPurchase,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded> {
        let customer = purchase.customer().resolve();
        let Some(key) = key else {
            // A single statement is its own transaction: no BEGIN or COMMIT round trips.
            let mut till = self.till().await?;
            let recorded = insert_one(till.exchange(), &purchase, customer).await?;
            till.settle();
            return Ok(Recorded::Created(recorded));
        };
        // On a till connection too, so that analytics holding the main pool cannot starve it.
        // Until `settle`, the pool takes the exchange as cut short: a transaction dropped
        // before its end left a ROLLBACK to flush, which the pool's check sends.
        let mut till = self.till().await?;
        let mut tx = till.exchange().begin().await.map_err(from_sqlx)?;
        let fingerprint = purchase.fingerprint();
        let scope = purchase.idempotency_scope();
        if !idempotency::claim(&mut tx, scope, key, &fingerprint, self.idempotency_ttl()).await? {
            let (seen_fingerprint, recorded) = idempotency::seen(&mut tx, scope, key).await?;
            if seen_fingerprint != fingerprint {
                return Err(key.reused());
            }
            let replayed = receipt(&mut tx, PurchaseId::new(recorded)?).await?;
            tx.rollback().await.map_err(from_sqlx)?;
            till.settle();
            return Ok(Recorded::Replayed(replayed));
        }
        let recorded = insert_one(&mut tx, &purchase, customer).await?;
        idempotency::attach(&mut tx, scope, key, recorded.id().get()).await?;
        tx.commit().await.map_err(from_sqlx)?;
        till.settle();
        Ok(Recorded::Created(recorded))
    }

    async fn purchase(&self, id: PurchaseId) -> Result<Purchase> {
        receipt(&mut *self.connection().await?, id).await
    }

    async fn has_purchases(&self) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM purchases)")
            .fetch_one(self.pool())
            .await
            .map_err(|error| from_pool(self.pool(), error))
    }

    async fn begin_import(&self) -> Result<Option<Box<dyn ImportSession + '_>>> {
        let mut tx = begin(self).await?;
        // A load takes as long as its files do: no statement timeout applies to it.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        // Held until the transaction ends: a second load waits here, then finds purchases.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(IMPORT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let loaded: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM purchases)")
            .fetch_one(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        if loaded {
            return Ok(None);
        }
        let branches: Vec<i32> = sqlx::query_scalar("SELECT id FROM branches")
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let products: Vec<i32> = sqlx::query_scalar("SELECT id FROM products")
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        Ok(Some(Box::new(PgImport::new(
            tx,
            branches,
            products,
            self.load_customer_sums(),
            self.load_purchases_per_copy(),
        ))))
    }
}
