//! The schema's owner at work: the `migrate` command applies the migrations (and lets a serving
//! role use the database), so that servers can run with `ICASH_MIGRATIONS=check` under a role
//! that cannot change the schema.

use icash_core::Catalog;
use icash_postgres::PgStore;

use super::StartError;
use super::config::{Config, Migrations};

/// Applies the migrations the database `config` names lacks and, with `grant`, lets that role
/// serve from it.
pub(super) async fn run(config: &Config, grant: Option<&str>) -> Result<(), StartError> {
    // Connected without migrating, then migrated once below, whatever ICASH_MIGRATIONS says:
    // applying them is this command's purpose.
    let connect = Config {
        migrations: Migrations::Check,
        ..config.clone()
    };
    let Some(store) = connect.pg_store().await? else {
        return Err(StartError::MigrateInMemory);
    };
    store.migrate().await.map_err(StartError::Database)?;
    println!("the database has every migration of this server");
    if let Some(role) = grant {
        store
            .grant_serving_role(role)
            .await
            .map_err(StartError::Database)?;
        println!("{role} may serve from it: read and write its data, never change its schema");
    }
    Ok(())
}

/// Refuses a database that lacks migrations of this server, whose schema the server may not
/// change.
pub(super) async fn check(store: &PgStore) -> Result<(), StartError> {
    match store
        .missing_migrations()
        .await
        .map_err(StartError::Database)?
    {
        0 => Ok(()),
        missing => Err(StartError::MissingMigrations(missing)),
    }
}
