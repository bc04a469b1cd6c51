//! The one mapping from `sqlx::Error` to the domain's errors.

use icash_core::Error;

/// SQLSTATE classes and codes that mean the database cannot serve us now, whatever the query:
/// connection exceptions (class 08), too many connections, and a server shutting down or
/// starting up.
const UNAVAILABLE_STATES: [&str; 6] = ["08", "53300", "57P01", "57P02", "57P03", "57014"];

/// Maps a database failure to [`Error::Store`]: unavailable when the database cannot be
/// reached or is going away, internal otherwise. Callers that expect a constraint violation
/// (see [`violated_constraint`]) map it to a client's error first.
pub(crate) fn from_sqlx(error: sqlx::Error) -> Error {
    let unavailable = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            UNAVAILABLE_STATES
                .iter()
                .any(|state| code.starts_with(state))
        }),
        _ => false,
    };
    if unavailable {
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
