//! The audit trail on PostgreSQL: entries written inside the transaction of the change they
//! record, and read back a page at a time.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::audit::{AuditActor, NewAuditEntry};
use icash_core::{Audit, AuditEntry, AuditId, AuditQuery, Error, KeyId, KeyName, Result};
use sqlx::PgConnection;

use crate::error::from_sqlx;
use crate::store::PgStore;

/// Writes `entry` on `conn`, which is inside the transaction of the change it records.
///
/// Every change that is not a sale writes its entry, so this is where such a change gets its
/// consistency token (see [`crate::consistency`]), in the same statement: the answer to the
/// change carries it only once the transaction has committed, as the HTTP layer sends it with
/// a successful answer alone.
pub(crate) async fn record(conn: &mut PgConnection, entry: &NewAuditEntry) -> Result<()> {
    let by = entry.origin.by();
    let (wal, xact): (String, Option<String>) = sqlx::query_as(
        "INSERT INTO audit_log (actor_key_id, actor_name, kind, target, details, client_addr)
         VALUES ($1, $2, $3, $4, $5, $6::inet)
         RETURNING pg_current_wal_insert_lsn()::text, pg_current_xact_id_if_assigned()::text",
    )
    .bind(by.as_ref().map(|by| by.key.get()))
    .bind(by.as_ref().map(|by| by.name.as_str()))
    .bind(entry.kind.as_str())
    .bind(&entry.target)
    .bind(&entry.details)
    .bind(entry.origin.client.map(|client| client.to_string()))
    .fetch_one(conn)
    .await
    .map_err(from_sqlx)?;
    icash_core::consistency::wrote(crate::consistency::token(&wal, xact.as_deref()));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    at: DateTime<Utc>,
    actor_key_id: Option<i64>,
    actor_name: Option<String>,
    kind: String,
    target: String,
    details: String,
    client_addr: Option<String>,
}

impl EntryRow {
    /// Rows were checked on the way in, so a row that does not convert means the database was
    /// changed behind our back.
    fn into_entry(self) -> Result<AuditEntry> {
        let actor = match (self.actor_key_id, self.actor_name) {
            (Some(key), Some(name)) => Some(AuditActor {
                key: KeyId::new(key)?,
                name: KeyName::new(&name)?,
            }),
            _ => None,
        };
        let client = self
            .client_addr
            .map(|addr| addr.parse::<IpAddr>().map_err(Error::internal))
            .transpose()?;
        Ok(AuditEntry {
            id: AuditId::new(self.id)?,
            at: self.at,
            actor,
            kind: self.kind.parse()?,
            target: self.target,
            details: self.details,
            client,
        })
    }
}

#[async_trait]
impl Audit for PgStore {
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        sqlx::query_as::<_, EntryRow>(
            "SELECT id, at, actor_key_id, actor_name, kind, target, details,
                    host(client_addr) AS client_addr
             FROM audit_log
             WHERE $1::bigint IS NULL OR id < $1
             ORDER BY id DESC
             LIMIT $2",
        )
        .bind(query.after.map(AuditId::get))
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .into_iter()
        .map(EntryRow::into_entry)
        .collect()
    }
}
