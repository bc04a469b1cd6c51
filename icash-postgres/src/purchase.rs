//! Recording and reading purchases on PostgreSQL, and starting bulk loads (see [`crate::import`]).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::{
    BatchOutcome, BranchId, ClientId, Consistency, CustomerId, Error, IdempotencyKey,
    ImportSession, KeyName, Money, NewPurchase, PricedPurchase, ProductAtSale, ProductId, Purchase,
    PurchaseId, PurchaseLine, Purchases, Recorded, Result, ValidationError,
};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::consistency;
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

/// Records one purchase in one statement: it prices each item at the product's latest price
/// in force at the sale time (`$3`), and writes the customer, the purchase and its lines only
/// when every product exists, has a price then, and was not retired by then. A purchase whose
/// client id (`$6`) its recording key has recorded before is not written again (the unique
/// index on the pair, which a racing statement waits on). It returns what it priced with, so
/// that the pricing rule itself stays in [`NewPurchase::price`], and where the purchase is in the
/// WAL with its transaction, for the answer's consistency token (see [`crate::consistency`]).
/// A customer already there is not inserted again: an insert that ends in a conflict would still
/// take a number from the customers' sequence, and the customer sets want numbers dense.
const RECORD_ONE: &str = "
    WITH wanted AS (
        SELECT id, position - 1 AS position
        FROM unnest($4::integer[]) WITH ORDINALITY AS wanted (id, position)
    ),
    priced AS (
        SELECT wanted.position, products.id, products.name, price.price,
               products.added_at, products.retired_at
        FROM wanted
        JOIN products ON products.id = wanted.id
        LEFT JOIN LATERAL (
            SELECT product_prices.price FROM product_prices
            WHERE product_prices.product_id = products.id AND product_prices.effective_from <= $3
            ORDER BY product_prices.effective_from DESC
            LIMIT 1
        ) AS price ON true
    ),
    purchase AS (
        INSERT INTO purchases (branch_id, customer_id, purchased_at, total, recorded_by, client_id)
        SELECT $1, $2, $3, sum(price), $5, $6 FROM priced
        HAVING count(price) = cardinality($4::integer[])
           AND count(*) FILTER (WHERE retired_at <= $3) = 0
        ON CONFLICT ((coalesce(recorded_by, '')), client_id) WHERE client_id IS NOT NULL DO NOTHING
        RETURNING id
    ),
    customer AS (
        INSERT INTO customers (id) SELECT $2 FROM purchase
        WHERE NOT EXISTS (SELECT 1 FROM customers WHERE id = $2)
        ON CONFLICT DO NOTHING
    ),
    lines AS (
        INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
        SELECT purchase.id, priced.id, priced.position, priced.price FROM purchase, priced
    )
    SELECT (SELECT id FROM purchase) AS purchase_id, priced.id, priced.name, priced.price,
           priced.added_at, priced.retired_at,
           pg_current_wal_insert_lsn()::text AS wal, pg_current_xact_id_if_assigned()::text AS xact
    FROM priced
    ORDER BY priced.position";

/// What the catalog says of a product for a sale, as a pricing statement reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct SaleRow {
    pub(crate) id: i32,
    pub(crate) name: String,
    pub(crate) price: Option<Decimal>,
    pub(crate) added_at: Option<DateTime<Utc>>,
    pub(crate) retired_at: Option<DateTime<Utc>>,
}

impl SaleRow {
    /// The product as [`NewPurchase::price`] takes it.
    pub(crate) fn at_sale(&self) -> Result<(ProductId, ProductAtSale)> {
        let product = ProductId::new(self.id)?;
        Ok((
            product,
            ProductAtSale {
                product,
                name: self.name.clone(),
                price: self.price.map(Money::new).transpose()?,
                added_at: self.added_at,
                retired_at: self.retired_at,
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
struct PricedRow {
    purchase_id: Option<i64>,
    #[sqlx(flatten)]
    product: SaleRow,
    wal: String,
    xact: Option<String>,
}

/// What inserting one purchase did: recorded it (with where it is in the WAL), or found its
/// client id recorded before.
enum Inserted {
    New(Purchase, Consistency),
    Before(PurchaseId),
}

/// Records `purchase` ([`RECORD_ONE`]); returns it with the token of its write.
async fn insert_one(
    conn: &mut PgConnection,
    purchase: &NewPurchase,
    customer: CustomerId,
) -> Result<Inserted> {
    let wanted: Vec<i32> = purchase.products().iter().map(|id| id.get()).collect();
    let rows: Vec<PricedRow> = sqlx::query_as(RECORD_ONE)
        .bind(purchase.branch().get())
        .bind(customer.uuid())
        .bind(purchase.at())
        .bind(&wanted)
        .bind(purchase.recorder().map(KeyName::as_str))
        .bind(purchase.client_id().map(ClientId::uuid))
        .fetch_all(&mut *conn)
        .await
        .map_err(|error| match violated_constraint(&error) {
            Some("purchases_branch_fkey") => {
                ValidationError::UnknownBranch(purchase.branch()).into()
            }
            _ => from_sqlx(error),
        })?;
    let catalog = rows
        .iter()
        .map(|row| row.product.at_sale())
        .collect::<Result<HashMap<ProductId, ProductAtSale>>>()?;
    // Refuses a product that cannot be sold then; the statement wrote nothing.
    let priced = purchase.price(customer, |id| catalog.get(&id).cloned())?;
    match rows.first().and_then(|row| Some((row.purchase_id?, row))) {
        Some((id, row)) => Ok(Inserted::New(
            Purchase::new(PurchaseId::new(id)?, priced),
            consistency::token(&row.wal, row.xact.as_deref()),
        )),
        None => match purchase.client_id() {
            Some(client_id) => Ok(Inserted::Before(
                recorded_before(conn, purchase.recorder(), client_id)
                    .await?
                    .ok_or_else(|| Error::internal("a client id conflicted with no purchase"))?,
            )),
            None => Err(Error::internal(
                "every product is for sale but the purchase was not written",
            )),
        },
    }
}

/// The purchase recorded under `client_id` by the key named `recorder` (none: without a key).
pub(crate) async fn recorded_before(
    conn: &mut PgConnection,
    recorder: Option<&KeyName>,
    client_id: ClientId,
) -> Result<Option<PurchaseId>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM purchases
         WHERE coalesce(recorded_by, '') = $1 AND client_id = $2 AND client_id IS NOT NULL",
    )
    .bind(recorder.map_or("", KeyName::as_str))
    .bind(client_id.uuid())
    .fetch_optional(conn)
    .await
    .map_err(from_sqlx)?;
    id.map(PurchaseId::new).transpose().map_err(Error::from)
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReceiptRow {
    branch_id: i32,
    customer_id: Uuid,
    purchased_at: DateTime<Utc>,
    product_id: i32,
    name: String,
    unit_price: Decimal,
    recorded_by: Option<String>,
    client_id: Option<Uuid>,
}

/// The lines of purchase `id` with the purchase's columns, in its order.
pub(crate) const RECEIPT: &str = "
    SELECT p.branch_id, p.customer_id, p.purchased_at, l.product_id, pr.name, l.unit_price,
           p.recorded_by, p.client_id
    FROM purchases p
    JOIN purchase_lines l ON l.purchase_id = p.id
    JOIN products pr ON pr.id = l.product_id
    WHERE p.id = $1
    ORDER BY l.position";

/// The receipt of purchase `id`, as it was recorded.
pub(crate) async fn receipt(conn: &mut PgConnection, id: PurchaseId) -> Result<Purchase> {
    let rows: Vec<ReceiptRow> = sqlx::query_as(RECEIPT)
        .bind(id.get())
        .fetch_all(conn)
        .await
        .map_err(from_sqlx)?;
    receipt_of(id, rows)
}

/// The receipt of purchase `id` from its [`RECEIPT`] rows; not found when there are none.
pub(crate) fn receipt_of(id: PurchaseId, rows: Vec<ReceiptRow>) -> Result<Purchase> {
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
        PricedPurchase::new(branch, customer, at, lines)?
            .recorded_by(recorder)
            .with_client_id(first.client_id.map(ClientId::from_uuid)),
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
            let recorded = match insert_one(till.exchange(), &purchase, customer).await? {
                Inserted::New(recorded, written) => {
                    icash_core::consistency::wrote(written);
                    Recorded::Created(recorded)
                }
                Inserted::Before(id) => Recorded::Resent(receipt(till.exchange(), id).await?),
            };
            till.settle();
            return Ok(recorded);
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
            // The purchase committed before this transaction began: the WAL's end now is past
            // it, for a read that must see it.
            let now: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
                .fetch_one(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            tx.rollback().await.map_err(from_sqlx)?;
            till.settle();
            icash_core::consistency::wrote(consistency::token(&now, None));
            return Ok(Recorded::Replayed(replayed));
        }
        let (recorded, written) = match insert_one(&mut tx, &purchase, customer).await? {
            Inserted::New(recorded, written) => (Recorded::Created(recorded), Some(written)),
            Inserted::Before(id) => (Recorded::Resent(receipt(&mut tx, id).await?), None),
        };
        idempotency::attach(&mut tx, scope, key, recorded.purchase().id().get()).await?;
        tx.commit().await.map_err(from_sqlx)?;
        till.settle();
        if let Some(written) = written {
            icash_core::consistency::wrote(written);
        }
        Ok(recorded)
    }

    async fn record_batch(&self, purchases: Vec<NewPurchase>) -> Result<Vec<BatchOutcome>> {
        let mut till = self.till().await?;
        let outcomes = crate::offline::record_batch(till.exchange(), &purchases).await?;
        till.settle();
        Ok(outcomes)
    }

    async fn purchase(&self, id: PurchaseId) -> Result<Purchase> {
        // A receipt is a read: a standby may answer it (see `PgStore::read`).
        let rows: Vec<ReceiptRow> = self
            .read(|pool| async move {
                sqlx::query_as(RECEIPT)
                    .bind(id.get())
                    .fetch_all(&pool)
                    .await
            })
            .await?;
        receipt_of(id, rows)
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
