//! The till connections: a pool of their own for recording purchases without an idempotency
//! key, the statement a till sends most.
//!
//! Why not sqlx's pool: it sends a round trip (a `Sync`) on every connection handed back to it,
//! to flush whatever a cancelled exchange left behind. A keyless purchase is one statement, so
//! that doubles its round trips, and each one wakes the server and a backend on a machine where
//! PostgreSQL already uses most of the CPU (BENCHMARKS.md gives its cost). Here a connection is
//! checked only when it needs it: when its last exchange did not finish (the request was
//! cancelled, or failed), or when it has not been handed out for over a second.
//!
//! A pool of their own also keeps the tills selling while long analytics hold every connection
//! of the store's main pool. Like the main pool, it closes connections left unused for the main
//! pool's idle timeout (sqlx's default: 10 minutes).

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{
    self, Metrics, Object, PoolError, RecycleError, RecycleResult, TimeoutType, WeakPool,
};
use icash_core::{Error, Result};
use sqlx::{Connection, PgConnection};

use crate::error::from_sqlx;
use crate::store::CHECK_IDLE_AFTER;
use crate::topology::Writer;

/// The pool of till connections.
pub(crate) type TillPool = managed::Pool<TillManager>;

/// Opens till connections to the store's writer, and checks them when they need it.
pub(crate) struct TillManager {
    writer: Arc<Writer>,
}

/// Not derived: the options' own `Debug` shows the database password, and a store's `Debug`
/// shows its pools.
impl std::fmt::Debug for TillManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options = self.writer.options();
        f.debug_struct("TillManager")
            .field("host", &options.get_host())
            .field("database", &options.get_database())
            .finish_non_exhaustive()
    }
}

/// A till connection, whether its last exchange finished, and the writer's generation it was
/// opened in.
#[derive(Debug)]
pub(crate) struct TillConnection {
    conn: PgConnection,
    settled: bool,
    generation: u64,
}

/// A till connection handed out by the pool; back to the pool when dropped.
pub(crate) type Till = Object<TillManager>;

impl TillConnection {
    /// The connection, for one exchange: until [`TillConnection::settle`] is called, the pool
    /// assumes that the exchange was cut short and flushes the connection before reusing it.
    pub(crate) fn exchange(&mut self) -> &mut PgConnection {
        self.settled = false;
        &mut self.conn
    }

    /// Marks the last exchange as finished: every answer to it was read.
    pub(crate) fn settle(&mut self) {
        self.settled = true;
    }
}

impl managed::Manager for TillManager {
    type Type = TillConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> std::result::Result<TillConnection, sqlx::Error> {
        let generation = self.writer.generation();
        Ok(TillConnection {
            conn: PgConnection::connect_with(&self.writer.options()).await?,
            settled: true,
            generation,
        })
    }

    async fn recycle(
        &self,
        till: &mut TillConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        // A connection to a former writer would refuse the purchase (a standby) or lose it (a
        // primary cut off from the others).
        if till.generation != self.writer.generation() {
            return Err(RecycleError::message("opened to a former writer"));
        }
        // `last_used` counts from when the connection was last handed out, so it is never
        // shorter than the time it sat idle: it errs towards checking.
        if !till.settled || metrics.last_used() > CHECK_IDLE_AFTER {
            // A ping reads every answer still owed to a cut-short exchange, so the next
            // statement reads its own; a connection that fails it is dropped.
            till.conn.ping().await?;
            till.settled = true;
        }
        Ok(())
    }
}

/// A pool of at most `size` till connections opened to `writer`, whose requests wait at most
/// `wait` for one, and which closes a connection left unused for `idle` (never, if `None`).
///
/// The closing is a task on the current Tokio runtime, which ends with the pool; outside a
/// runtime nothing is closed.
pub(crate) fn pool(
    writer: Arc<Writer>,
    size: usize,
    wait: Duration,
    idle: Option<Duration>,
) -> TillPool {
    let pool = managed::Pool::builder(TillManager { writer })
        .max_size(size.max(1))
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a pool with a runtime and timeouts builds");
    if let (Some(idle), Ok(runtime)) = (idle, tokio::runtime::Handle::try_current()) {
        runtime.spawn(close_idle(pool.weak(), idle));
    }
    pool
}

/// Closes the connections of `pool` unused for `idle`, every half of it, until the pool is
/// dropped: a till that sold at noon should not hold a PostgreSQL backend all night.
async fn close_idle(pool: WeakPool<TillManager>, idle: Duration) {
    let period = (idle / 2).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        // `last_used` counts from when the connection was last handed out.
        let closed = pool.retain(|_, metrics| metrics.last_used() < idle).removed;
        drop(pool);
        for till in closed {
            // Says goodbye, so that PostgreSQL does not log a lost client.
            let _ = till.conn.close().await;
        }
    }
}

/// A till connection from `pool`, or unavailable after the pool's wait.
pub(crate) async fn get(pool: &TillPool) -> Result<Till> {
    pool.get().await.map_err(|error| match error {
        PoolError::Backend(error) => from_sqlx(error),
        // Every till connection is open and in use: busy, not down.
        PoolError::Timeout(TimeoutType::Wait) => Error::busy(error),
        PoolError::Timeout(_) | PoolError::Closed => Error::unavailable(error),
        other => Error::internal(other),
    })
}
