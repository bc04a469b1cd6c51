//! API keys on PostgreSQL: each change in one transaction with its audit entry, and a presented
//! key looked up by its hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use icash_core::audit::NewAuditEntry;
use icash_core::{
    Actor, BranchId, KeyHash, KeyId, KeyInfo, KeyName, Keys, NewKey, Origin, Result,
    ValidationError,
};
use sqlx::PgConnection;

use crate::audit;
use crate::error::{from_sqlx, violated_constraint};
use crate::store::PgStore;

/// The columns a [`KeyRow`] reads.
const KEY_COLUMNS: &str = "id, name, role, branch_id, created_at, revoked_at";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    name: String,
    role: String,
    branch_id: Option<i32>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl KeyRow {
    /// Rows were checked on the way in (constraints mirror the domain's rules), so a row that
    /// does not convert means the database was changed behind our back.
    fn into_info(self) -> Result<KeyInfo> {
        let role: icash_core::Role = self.role.parse()?;
        let branch = self.branch_id.map(BranchId::new).transpose()?;
        Ok(KeyInfo {
            id: KeyId::new(self.id)?,
            name: KeyName::new(&self.name)?,
            role,
            scope: role.scope(branch)?,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

async fn insert(conn: &mut PgConnection, key: &NewKey, hash: &KeyHash) -> Result<KeyInfo> {
    let branch = key.scope().branch();
    let row: KeyRow = sqlx::query_as(&format!(
        "INSERT INTO api_keys (name, secret_hash, role, branch_id) VALUES ($1, $2, $3, $4)
         RETURNING {KEY_COLUMNS}"
    ))
    .bind(key.name().as_str())
    .bind(&hash.as_bytes()[..])
    .bind(key.role().as_str())
    .bind(branch.map(BranchId::get))
    .fetch_one(conn)
    .await
    .map_err(|error| match (violated_constraint(&error), branch) {
        (Some("api_keys_name_key"), _) => key.name_taken(),
        (Some("api_keys_secret_hash_key"), _) => KeyHash::taken(),
        (Some("api_keys_branch_fkey"), Some(branch)) => {
            ValidationError::UnknownBranch(branch).into()
        }
        _ => from_sqlx(error),
    })?;
    row.into_info()
}

#[async_trait]
impl Keys for PgStore {
    async fn add_key(&self, key: &NewKey, hash: &KeyHash, origin: &Origin) -> Result<KeyInfo> {
        let mut tx = self.pool().begin().await.map_err(from_sqlx)?;
        let info = insert(&mut tx, key, hash).await?;
        audit::record(&mut tx, &NewAuditEntry::key_created(key, origin)).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(info)
    }

    async fn keys(&self) -> Result<Vec<KeyInfo>> {
        sqlx::query_as::<_, KeyRow>(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .into_iter()
            .map(KeyRow::into_info)
            .collect()
    }

    async fn revoke_key(&self, name: &KeyName, origin: &Origin) -> Result<KeyInfo> {
        let mut tx = self.pool().begin().await.map_err(from_sqlx)?;
        // A revocation racing this one waits on the row's lock, then finds it revoked.
        let revoked: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        if let Some(row) = revoked {
            audit::record(&mut tx, &NewAuditEntry::key_revoked(name, origin)).await?;
            tx.commit().await.map_err(from_sqlx)?;
            return row.into_info();
        }
        // Unknown, or revoked already: nothing to write.
        let existing: Option<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE name = $1"
        ))
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        existing.ok_or_else(|| name.unknown())?.into_info()
    }

    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Actor>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(&hash.as_bytes()[..])
        .fetch_optional(self.pool())
        .await
        .map_err(from_sqlx)?;
        Ok(row
            .map(KeyRow::into_info)
            .transpose()?
            .map(|info| info.actor()))
    }

    async fn has_keys(&self) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys)")
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)
    }
}
