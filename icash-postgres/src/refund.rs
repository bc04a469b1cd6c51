//! Refunds and voids on PostgreSQL: each in one transaction with its audit entry (and its
//! idempotency key), after a lock of the purchase's row that makes a refund and a void of the
//! same purchase take turns. The aggregates follow by the refunds and voids migration's
//! triggers.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::audit::NewAuditEntry;
use icash_core::refund::key_reused_for_another_refund;
use icash_core::{
    Error, IdempotencyKey, KeyName, Money, NewRefund, NewVoid, Origin, ProductId, PurchaseId,
    PurchaseLine, PurchaseStatus, Receipt, Refund, RefundId, Refunded, Refunds, Result, Void,
    VoidReason,
};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::audit;
use crate::customer_sets;
use crate::error::{from_pool, from_sqlx, violated_constraint};
use crate::purchase;
use crate::store::PgStore;

/// Locks purchase `id`'s row until the transaction ends, so that refunds and voids of one
/// purchase take turns; [`Error::NotFound`] when there is no such purchase. The lock lets
/// purchases and foreign keys that only read the row go on.
async fn lock_purchase(conn: &mut PgConnection, id: PurchaseId) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM purchases WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id.get())
            .fetch_optional(conn)
            .await
            .map_err(from_sqlx)?;
    found.map(|_| ()).ok_or_else(|| Error::NotFound {
        what: "purchase",
        id: id.to_string(),
    })
}

#[derive(sqlx::FromRow)]
struct VoidRow {
    voided_at: DateTime<Utc>,
    voided_by: Option<String>,
    reason: String,
}

#[derive(sqlx::FromRow)]
struct RefundLineRow {
    id: i64,
    refunded_at: DateTime<Utc>,
    refunded_by: Option<String>,
    product_id: i32,
    name: String,
    unit_price: Decimal,
}

/// Refunds read back, one per id, from their lines in the order of `rows`.
fn refunds_from(purchase: PurchaseId, rows: Vec<RefundLineRow>) -> Result<Vec<Refund>> {
    // Each refund's first row, which names it, and its lines.
    let mut refunds: Vec<(RefundLineRow, Vec<PurchaseLine>)> = Vec::new();
    for row in rows {
        let line = PurchaseLine::new(
            ProductId::new(row.product_id)?,
            &row.name,
            Money::new(row.unit_price)?,
        );
        match refunds.last_mut() {
            Some((first, lines)) if first.id == row.id => lines.push(line),
            _ => refunds.push((row, vec![line])),
        }
    }
    refunds
        .into_iter()
        .map(|(first, lines)| {
            let by = first.refunded_by.as_deref().map(KeyName::new).transpose()?;
            Ok(Refund::new(
                RefundId::new(first.id)?,
                purchase,
                first.refunded_at,
                lines,
                by,
            ))
        })
        .collect()
}

/// The refunds of purchase `id` (`only` one of them, when given), oldest first.
async fn refunds_of(
    conn: &mut PgConnection,
    id: PurchaseId,
    only: Option<RefundId>,
) -> Result<Vec<Refund>> {
    let rows = refund_lines(conn, id, only).await.map_err(from_sqlx)?;
    refunds_from(id, rows)
}

/// The lines of purchase `id`'s refunds (of refund `only`, when given), in refund order.
async fn refund_lines(
    conn: &mut PgConnection,
    id: PurchaseId,
    only: Option<RefundId>,
) -> sqlx::Result<Vec<RefundLineRow>> {
    sqlx::query_as(
        "SELECT r.id, r.refunded_at, r.refunded_by, l.product_id, pr.name, l.unit_price
         FROM refunds r
         JOIN refund_lines l ON l.purchase_id = r.purchase_id AND l.refund_id = r.id
         JOIN products pr ON pr.id = l.product_id
         WHERE r.purchase_id = $1 AND ($2::bigint IS NULL OR r.id = $2)
         ORDER BY r.id, l.position",
    )
    .bind(id.get())
    .bind(only.map(RefundId::get))
    .fetch_all(conn)
    .await
}

/// What a receipt is made of, as read: the sale's rows, its void, and its refunds' lines.
struct ReceiptRows {
    sale: Vec<purchase::ReceiptRow>,
    void: Option<VoidRow>,
    refunds: Vec<RefundLineRow>,
}

/// The rows of purchase `id`'s receipt. Only reads, so that a standby may answer them and a
/// standby's failure stays an `sqlx::Error` that [`PgStore::read`] can retry elsewhere.
async fn receipt_rows(conn: &mut PgConnection, id: PurchaseId) -> sqlx::Result<ReceiptRows> {
    let sale = sqlx::query_as(purchase::RECEIPT)
        .bind(id.get())
        .fetch_all(&mut *conn)
        .await?;
    let void = sqlx::query_as(
        "SELECT voided_at, voided_by, reason FROM purchase_voids WHERE purchase_id = $1",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    let refunds = refund_lines(conn, id, None).await?;
    Ok(ReceiptRows {
        sale,
        void,
        refunds,
    })
}

/// The receipt of purchase `id` from its rows: the sale, its status and its refunds.
fn receipt_from(id: PurchaseId, rows: ReceiptRows) -> Result<Receipt> {
    let purchase = purchase::receipt_of(id, rows.sale)?;
    let status = match rows.void {
        None => PurchaseStatus::Completed,
        Some(row) => PurchaseStatus::Voided(Void {
            at: row.voided_at,
            voided_by: row.voided_by.as_deref().map(KeyName::new).transpose()?,
            reason: VoidReason::new(&row.reason)?,
        }),
    };
    let refunds = refunds_from(id, rows.refunds)?;
    Ok(Receipt {
        purchase,
        status,
        refunds,
    })
}

/// The receipt of purchase `id`, read on `conn`.
async fn receipt(conn: &mut PgConnection, id: PurchaseId) -> Result<Receipt> {
    let rows = receipt_rows(conn, id).await.map_err(from_sqlx)?;
    receipt_from(id, rows)
}

/// Claims a refund's idempotency key, as [`crate::idempotency::claim`] does a purchase's.
async fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
    ttl: Duration,
) -> Result<bool> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO refund_idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (scope, key) DO UPDATE
             SET fingerprint = excluded.fingerprint, refund_id = NULL, created_at = excluded.created_at
             WHERE refund_idempotency_keys.created_at < now() - make_interval(secs => $4)
         RETURNING true",
    )
    .bind(scope)
    .bind(key.as_str())
    .bind(fingerprint)
    .bind(ttl.as_secs_f64())
    .fetch_optional(conn)
    .await
    .map_err(from_sqlx)?;
    Ok(claimed.is_some())
}

/// The refund a live key names, or a conflict when it was claimed for another request.
async fn replay(
    conn: &mut PgConnection,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Refund> {
    let (seen, refund): (String, Option<i64>) = sqlx::query_as(
        "SELECT k.fingerprint, k.refund_id FROM refund_idempotency_keys k WHERE k.scope = $1 AND k.key = $2",
    )
    .bind(scope)
    .bind(key.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    if seen != fingerprint {
        return Err(key_reused_for_another_refund(key));
    }
    // A claim and its refund commit together, so a committed key always names its refund.
    let refund =
        refund.ok_or_else(|| Error::internal(format!("refund key {key} has no refund")))?;
    let purchase: i64 = sqlx::query_scalar("SELECT purchase_id FROM refunds WHERE id = $1")
        .bind(refund)
        .fetch_one(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let refund = RefundId::new(refund)?;
    refunds_of(conn, PurchaseId::new(purchase)?, Some(refund))
        .await?
        .pop()
        .ok_or_else(|| Error::internal(format!("refund {refund} has no lines")))
}

/// Writes `refund` of `lines`, with its lines, and returns it.
async fn insert_refund(
    conn: &mut PgConnection,
    refund: &NewRefund,
    lines: Vec<PurchaseLine>,
    by: Option<KeyName>,
) -> Result<Refund> {
    let amount: Money = lines.iter().map(PurchaseLine::unit_price).sum();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO refunds (purchase_id, branch_id, refunded_at, refunded_by, amount)
         SELECT id, branch_id, $2, $3, $4 FROM purchases WHERE id = $1
         RETURNING id",
    )
    .bind(refund.purchase().get())
    .bind(refund.at())
    .bind(by.as_ref().map(KeyName::as_str))
    .bind(amount.amount())
    .fetch_one(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let products: Vec<i32> = lines.iter().map(|line| line.product().get()).collect();
    let prices: Vec<Decimal> = lines.iter().map(|l| l.unit_price().amount()).collect();
    sqlx::query(
        "INSERT INTO refund_lines (purchase_id, product_id, refund_id, position, unit_price)
         SELECT $1, product_id, $2, position - 1, unit_price
         FROM unnest($3::integer[], $4::numeric[]) WITH ORDINALITY AS line (product_id, unit_price, position)
         ORDER BY product_id",
    )
    .bind(refund.purchase().get())
    .bind(id)
    .bind(&products)
    .bind(&prices)
    .execute(&mut *conn)
    .await
    .map_err(|error| match violated_constraint(&error) {
        // The purchase's lock makes this a second line of defence: a line refunded twice.
        Some("refund_lines_pkey") => Error::Conflict(format!(
            "an item of purchase {} was already refunded",
            refund.purchase()
        )),
        _ => from_sqlx(error),
    })?;
    Ok(Refund::new(
        RefundId::new(id)?,
        refund.purchase(),
        refund.at(),
        lines,
        by,
    ))
}

#[async_trait]
impl Refunds for PgStore {
    async fn receipt(&self, id: PurchaseId) -> Result<Receipt> {
        // A read, which a standby may answer (see `PgStore::read`), in one snapshot for the
        // sale, its status and its refunds.
        let rows = self
            .read(|pool| async move {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let rows = receipt_rows(&mut tx, id).await?;
                tx.commit().await?;
                Ok(rows)
            })
            .await?;
        receipt_from(id, rows)
    }

    async fn refund(
        &self,
        refund: &NewRefund,
        key: Option<&IdempotencyKey>,
        origin: &Origin,
    ) -> Result<Refunded> {
        let by = origin.by().map(|by| by.name);
        let scope = by.as_ref().map_or("", KeyName::as_str).to_owned();
        let scope = scope.as_str();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|error| from_pool(self.pool(), error))?;
        let fingerprint = refund.fingerprint();
        if let Some(key) = key
            && !claim(&mut tx, scope, key, &fingerprint, self.idempotency_ttl()).await?
        {
            let replayed = replay(&mut tx, scope, key, &fingerprint).await?;
            tx.rollback().await.map_err(from_sqlx)?;
            return Ok(Refunded::Replayed(replayed));
        }
        lock_purchase(&mut tx, refund.purchase()).await?;
        let lines = refund.lines(&receipt(&mut tx, refund.purchase()).await?)?;
        let recorded = insert_refund(&mut tx, refund, lines, by.clone()).await?;
        audit::record(
            &mut tx,
            &NewAuditEntry::purchase_refunded(&recorded, origin),
        )
        .await?;
        if let Some(key) = key {
            sqlx::query(
                "UPDATE refund_idempotency_keys SET refund_id = $3 WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key.as_str())
            .bind(recorded.id().get())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(Refunded::Created(recorded))
    }

    async fn void(&self, void: &NewVoid, origin: &Origin) -> Result<Receipt> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|error| from_pool(self.pool(), error))?;
        lock_purchase(&mut tx, void.purchase()).await?;
        receipt(&mut tx, void.purchase()).await?.check_void()?;
        customer_sets::keep_rollup_out(&mut tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query(
            "INSERT INTO purchase_voids (purchase_id, voided_at, voided_by, reason,
                                         branch_id, customer_id, purchased_at, total)
             SELECT id, $2, $3, $4, branch_id, customer_id, purchased_at, total
             FROM purchases WHERE id = $1",
        )
        .bind(void.purchase().get())
        .bind(void.at())
        .bind(origin.by().map(|by| by.name.as_str().to_owned()))
        .bind(void.reason().as_str())
        .execute(&mut *tx)
        .await
        .map_err(|error| match violated_constraint(&error) {
            // The purchase's lock makes this a second line of defence.
            Some("purchase_voids_pkey") => {
                Error::Conflict(format!("purchase {} was already voided", void.purchase()))
            }
            _ => from_sqlx(error),
        })?;
        customer_sets::uncount_void(&mut tx, void.purchase().get())
            .await
            .map_err(from_sqlx)?;
        audit::record(&mut tx, &NewAuditEntry::purchase_voided(void, origin)).await?;
        let receipt = receipt(&mut tx, void.purchase()).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(receipt)
    }
}
