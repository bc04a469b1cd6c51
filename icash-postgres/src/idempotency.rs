//! Idempotency keys on PostgreSQL: claimed, attached to their purchase, and read back, all
//! inside the transaction that records the purchase.

use std::time::Duration;

use icash_core::{IdempotencyKey, Result};
use sqlx::PgConnection;

use crate::error::{from_pool, from_sqlx};
use crate::store::PgStore;

/// Claims `key` for a request with `fingerprint`, unless it is held by a key younger than
/// `ttl`. Returns whether this transaction now owns the key.
///
/// While another transaction holds an uncommitted claim on the same key, this waits for it to
/// end: a concurrent retry sees the first request's outcome instead of racing it.
pub(crate) async fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
    ttl: Duration,
) -> Result<bool> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($4, $1, $2, now())
         ON CONFLICT (scope, key) DO UPDATE
             SET fingerprint = excluded.fingerprint, purchase_id = NULL, created_at = excluded.created_at
             WHERE idempotency_keys.created_at < now() - make_interval(secs => $3)
         RETURNING true",
    )
    .bind(key.as_str())
    .bind(fingerprint)
    .bind(ttl.as_secs_f64())
    .bind(scope)
    .fetch_optional(conn)
    .await
    .map_err(from_sqlx)?;
    Ok(claimed.is_some())
}

/// The fingerprint and purchase a live key was stored with.
pub(crate) async fn seen(
    conn: &mut PgConnection,
    scope: &str,
    key: &IdempotencyKey,
) -> Result<(String, i64)> {
    let (fingerprint, purchase): (String, Option<i64>) = sqlx::query_as(
        "SELECT fingerprint, purchase_id FROM idempotency_keys WHERE scope = $2 AND key = $1",
    )
    .bind(key.as_str())
    .bind(scope)
    .fetch_one(conn)
    .await
    .map_err(from_sqlx)?;
    // A claim and its purchase commit together, so a committed key always names its purchase.
    let purchase = purchase.ok_or_else(|| {
        icash_core::Error::internal(format!("idempotency key {key} has no purchase"))
    })?;
    Ok((fingerprint, purchase))
}

/// Attaches the recorded purchase to the claimed key.
pub(crate) async fn attach(
    conn: &mut PgConnection,
    scope: &str,
    key: &IdempotencyKey,
    purchase: i64,
) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET purchase_id = $2 WHERE scope = $3 AND key = $1")
        .bind(key.as_str())
        .bind(purchase)
        .bind(scope)
        .execute(conn)
        .await
        .map_err(from_sqlx)?;
    Ok(())
}

impl PgStore {
    /// Deletes the keys older than the configured time to live, returning how many. Expired
    /// keys are already ignored; this only keeps the table small. A server calls it now and
    /// then.
    pub async fn purge_expired_keys(&self) -> Result<u64> {
        let deleted = sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(self.idempotency_ttl().as_secs_f64())
        .execute(self.pool())
        .await
        .map_err(|error| from_pool(self.pool(), error))?;
        Ok(deleted.rows_affected())
    }
}
