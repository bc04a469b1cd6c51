//! What the store measures of its two connection pools, through the [`metrics`] facade: the
//! connections in use and idle (sampled when asked, by [`PgStore::record_pool_metrics`]), and
//! the requests that had to wait for one (counted as they happen).
//!
//! The crate installs no recorder: without one every call is a no-op. The wait counters' handles
//! are taken from the recorder on first use and kept, so that taking a connection costs two
//! clock reads, and an atomic addition only when it had to wait.

use std::future::Future;
use std::sync::{LazyLock, Once};
use std::time::{Duration, Instant};

use icash_core::NodeRole;
use metrics::{Counter, Unit};

use crate::PgStore;

/// Connections of each `pool` (`main`, or `till`: see [`PgStore::from_pool`]) by `state`:
/// `in_use` or `idle`.
pub const POOL_CONNECTIONS: &str = "icash_db_pool_connections";
/// The most connections each `pool` opens.
pub const POOL_MAX_CONNECTIONS: &str = "icash_db_pool_max_connections";
/// Requests waiting for a till connection now (the main pool does not tell).
pub const POOL_WAITING: &str = "icash_db_pool_waiting";
/// Connections taken from each `pool` that were not handed out at once: the pool had none idle,
/// so the request waited for one to come back or to be opened.
pub const POOL_WAITS: &str = "icash_db_pool_waits_total";
/// The time those requests waited, in microseconds, by `pool`.
pub const POOL_WAIT_MICROSECONDS: &str = "icash_db_pool_wait_microseconds_total";
/// Each database server's role, by `node` (`host:port`) and `role` (`primary`, `standby` or
/// `down`): 1 for the role it has now, 0 for the others.
pub const NODE_ROLE: &str = "icash_db_node_role";
/// How far each standby's data is behind the primary's, in seconds, by `node` (0 for the
/// primary); absent while it cannot be told.
pub const NODE_LAG: &str = "icash_db_node_lag_seconds";
/// Whether the store sends a server reads (1) or not (0), by `node`.
pub const NODE_READS: &str = "icash_db_node_reads";
/// The reads each server answered (analytics, dashboards, customer lists, receipts), by `node`:
/// how the reads spread over the standbys and the primary.
pub const NODE_READS_ANSWERED: &str = "icash_db_reads_total";

/// Counts a read `node` answered.
pub(crate) fn read_answered(node: &str) {
    metrics::counter!(NODE_READS_ANSWERED, "node" => node.to_owned()).increment(1);
}

/// A connection handed out within this was idle in the pool; one that took longer was waited
/// for. Handing out an idle connection takes microseconds, opening one or waiting for one to be
/// handed back takes at least a round trip to the database.
const WAITED: Duration = Duration::from_millis(1);

/// One of the store's pools.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pool {
    /// The main pool: analytics, idempotent purchases, the catalog.
    Main,
    /// The till connections: purchases without an idempotency key.
    Till,
}

impl Pool {
    fn label(self) -> &'static str {
        match self {
            Pool::Main => "main",
            Pool::Till => "till",
        }
    }
}

/// The wait counters of one pool.
struct Waits {
    count: Counter,
    microseconds: Counter,
}

impl Waits {
    fn new(pool: Pool) -> Waits {
        Waits {
            count: metrics::counter!(POOL_WAITS, "pool" => pool.label()),
            microseconds: metrics::counter!(POOL_WAIT_MICROSECONDS, "pool" => pool.label()),
        }
    }
}

/// The main pool's and the till pool's wait counters.
static WAITS: LazyLock<[Waits; 2]> = LazyLock::new(|| {
    metrics::describe_counter!(
        POOL_WAITS,
        "Connections taken from a pool that were not idle in it: the request waited for one"
    );
    metrics::describe_counter!(
        POOL_WAIT_MICROSECONDS,
        Unit::Microseconds,
        "Time requests waited for a connection that was not idle in the pool"
    );
    [Waits::new(Pool::Main), Waits::new(Pool::Till)]
});

/// Takes a connection from `pool` with `acquire`, counting the wait when there was one.
pub(crate) async fn acquire<T>(pool: Pool, acquire: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let connection = acquire.await;
    let waited = started.elapsed();
    if waited > WAITED {
        let waits = &WAITS[pool as usize];
        waits.count.increment(1);
        waits
            .microseconds
            .increment(u64::try_from(waited.as_micros()).unwrap_or(u64::MAX));
    }
    connection
}

impl PgStore {
    /// Sets the pools' gauges (connections in use, idle, the most, and requests waiting for a
    /// till connection) in the installed `metrics` recorder, as they are now: for a host to
    /// call when its metrics are read. Without a recorder it does nothing.
    pub fn record_pool_metrics(&self) {
        static DESCRIBED: Once = Once::new();
        DESCRIBED.call_once(|| {
            metrics::describe_gauge!(
                POOL_CONNECTIONS,
                "Connections of a pool (main, or till for purchases without an idempotency key), by state: in_use or idle"
            );
            metrics::describe_gauge!(POOL_MAX_CONNECTIONS, "The most connections a pool opens");
            metrics::describe_gauge!(POOL_WAITING, "Requests waiting for a till connection");
            metrics::describe_gauge!(
                NODE_ROLE,
                "Each database server's role (primary, standby or down): 1 for its role now"
            );
            metrics::describe_gauge!(
                NODE_LAG,
                Unit::Seconds,
                "How far a database server's data is behind the primary's"
            );
            metrics::describe_gauge!(NODE_READS, "Whether the store sends a server reads now");
            metrics::describe_counter!(NODE_READS_ANSWERED, "Reads each database server answered");
        });
        let main = self.pool();
        let (size, idle) = (main.size() as usize, main.num_idle());
        set_pool(
            Pool::Main,
            size.saturating_sub(idle),
            idle,
            main.options().get_max_connections() as usize,
        );
        let tills = self.tills().status();
        set_pool(
            Pool::Till,
            tills.size.saturating_sub(tills.available),
            tills.available,
            tills.max_size,
        );
        metrics::gauge!(POOL_WAITING, "pool" => Pool::Till.label()).set(tills.waiting as f64);
        for node in self.topology().nodes() {
            for role in [NodeRole::Primary, NodeRole::Standby, NodeRole::Down] {
                metrics::gauge!(NODE_ROLE, "node" => node.name.clone(), "role" => role.as_str())
                    .set(if node.role == role { 1.0 } else { 0.0 });
            }
            if let Some(lag) = node.lag {
                metrics::gauge!(NODE_LAG, "node" => node.name.clone()).set(lag.as_secs_f64());
            }
            metrics::gauge!(NODE_READS, "node" => node.name.clone()).set(if node.reads {
                1.0
            } else {
                0.0
            });
        }
    }
}

fn set_pool(pool: Pool, in_use: usize, idle: usize, max: usize) {
    let label = pool.label();
    metrics::gauge!(POOL_CONNECTIONS, "pool" => label, "state" => "in_use").set(in_use as f64);
    metrics::gauge!(POOL_CONNECTIONS, "pool" => label, "state" => "idle").set(idle as f64);
    metrics::gauge!(POOL_MAX_CONNECTIONS, "pool" => label).set(max as f64);
}
