//! The one mapping from `sqlx::Error` to the domain's errors.

use icash_core::Error;
use sqlx::PgPool;

/// SQLSTATE classes and codes that mean the database cannot serve us now, whatever the query:
/// connection exceptions (class 08), too many connections, a server shutting down or starting
/// up, and a write sent to a server in recovery (a former primary, until the store finds the
/// new one).
const UNAVAILABLE_STATES: [&str; 6] = ["08", "53300", "57P01", "57P02", "57P03", "25006"];

/// SQLSTATEs of a standby cancelling a read that conflicts with its recovery: a serialization
/// failure, or a deadlock with the startup process.
const RECOVERY_CONFLICT_STATES: [&str; 2] = ["40001", "40P01"];

/// The SQLSTATE of a statement cancelled, by the statement timeout in the store's sessions.
const QUERY_CANCELED: &str = "57014";

/// Maps a failure of an operation on `pool` (a wait for one of its connections included): a
/// wait that ran out while every connection of the pool is open is the pool being busy; one
/// that ran out with room left in the pool is a database that cannot be reached (the pool
/// kept failing to open a connection). Anything else as [`from_sqlx`].
pub(crate) fn from_pool(pool: &PgPool, error: sqlx::Error) -> Error {
    let saturated = pool.size() >= pool.options().get_max_connections();
    match error {
        sqlx::Error::PoolTimedOut if saturated => Error::busy(error),
        error => from_sqlx(error),
    }
}

/// Maps a database failure to [`Error::Store`]: unavailable when the database cannot be
/// reached or is going away, timed out when the statement timeout cancelled the statement,
/// internal otherwise. Callers that expect a constraint violation (see [`violated_constraint`])
/// map it to a client's error first.
pub(crate) fn from_sqlx(error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &error
        && db.code().as_deref() == Some(QUERY_CANCELED)
    {
        return Error::timed_out(error);
    }
    if is_unreachable(&error) {
        Error::unavailable(error)
    } else {
        Error::internal(error)
    }
}

/// The name of the constraint a database error violated, if it is a constraint violation.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Whether a read that failed on a standby with `error` is to be asked of another server: the
/// standby cancelled it for a conflict with its recovery, or could not be reached. A statement
/// timeout is not: the read would be as slow elsewhere.
pub(crate) fn retry_elsewhere(error: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(db) = error
        && db
            .code()
            .is_some_and(|code| RECOVERY_CONFLICT_STATES.contains(&code.as_ref()))
    {
        return true;
    }
    is_unreachable(error)
}

/// Whether `error` says the server could not be reached or is going away.
pub(crate) fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    ) || matches!(error, sqlx::Error::Database(db) if db.code().is_some_and(|code| {
        UNAVAILABLE_STATES.iter().any(|state| code.starts_with(state))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// The error PostgreSQL sends for an exception raised with SQLSTATE `state`.
    async fn raised(db: &TestDb, state: &str) -> sqlx::Error {
        let statement =
            format!("DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{state}'; END $$");
        sqlx::query(&statement)
            .execute(db.pool())
            .await
            .expect_err("the block raises")
    }

    #[tokio::test]
    async fn a_standby_cancelling_a_read_is_asked_elsewhere_and_a_timeout_is_not() {
        let db = TestDb::new().await;
        // A conflict with recovery, a deadlock with the startup process, a server going away,
        // a write on a server in recovery: another server may answer.
        for state in ["40001", "40P01", "57P01", "25006"] {
            assert!(retry_elsewhere(&raised(&db, state).await), "{state}");
        }
        // A statement timeout, a constraint, a missing table: the same elsewhere.
        for state in ["57014", "23505", "42P01"] {
            assert!(!retry_elsewhere(&raised(&db, state).await), "{state}");
        }
        assert!(matches!(
            from_sqlx(raised(&db, "25006").await),
            Error::Store(icash_core::StoreError::Unavailable(_))
        ));
    }
}
